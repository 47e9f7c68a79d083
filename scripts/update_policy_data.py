"""Regenerate src/airflow_trigger_compat/_policy.json, the data `python -m airflow_trigger_compat policy`
reports from, so an installed copy needs neither the network nor a checkout:

* ``first_release``: copied from constraints/releases.toml (scripts/update_release_dates.py refreshes it);
* ``provider``: the apache-airflow-providers-standard sdist named in releases.toml (downloaded once into
  ``--cache``, its sha256 checked against the index), counted per candidate minimum by
  ``_policy.provider_figures``;
* ``trace``: the unit tests run under a profiler (pytest in this process): for each test case, the
  registry rows it resolved and the package functions it ran;
* ``evidence``: results/behaviour-<release>.json (read with tests/results.py) summarised (strategy,
  outcomes, declared differences).

    python scripts/update_policy_data.py [--cache DIR] [--results DIR]

Run by ``nox -s policy``, which also draws docs/policy-timeline.svg.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import tomllib

from airflow_trigger_compat import _policy
from airflow_trigger_compat._policy import DATA_FILE, PACKAGE_DIR, candidate_minimums, code_lines
from airflow_trigger_compat._runtime import _registry

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "apache-airflow-providers-standard"
#: Where a version flag reaches: the operator, the rest of the provider, the tests (first match wins).
GROUPS = {
    "operator": r"^operators/trigger_dagrun\.py$",
    "operator tests": r"^tests/operators/test_trigger_dagrun\.py$",
    "rest of the provider": r"^(?!tests/)",
    "rest of the tests": ".",
}


def _short(member: str) -> str:
    """``<sdist>/src/airflow/providers/standard/x.py`` -> ``x.py``; ``<sdist>/tests/unit/standard/y.py`` ->
    ``tests/y.py``."""
    path = member.split("/", 1)[1]
    if path.startswith("tests/"):
        return "tests/" + re.sub(r"^tests/(unit/standard/|unit/)?", "", path)
    return path.removeprefix("src/airflow/providers/standard/")


def provider(version: str, cache: Path) -> dict[str, Any]:
    index = f"https://pypi.org/pypi/{DISTRIBUTION}/json"
    with urllib.request.urlopen(index, timeout=60) as r:
        (sdist,) = [u for u in json.load(r)["releases"][version] if u["packagetype"] == "sdist"]
    path = cache / sdist["filename"]
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(urllib.parse.urljoin(index, sdist["url"]), timeout=120) as r:
            path.write_bytes(r.read())
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    if sha256 != sdist["digests"]["sha256"]:
        raise SystemExit(f"{path}: sha256 {sha256} is not the index's {sdist['digests']['sha256']}")
    sources, requires = {}, None
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            name = member.name.split("/", 1)[-1]
            if name == "pyproject.toml":
                text = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
                deps = tomllib.loads(text)["project"]["dependencies"]
                requires = next(d for d in deps if re.match(r"apache-airflow\s*[><=]", d))
            elif member.isfile() and name.endswith(".py") and name.startswith(("src/", "tests/")):
                sources[_short(member.name)] = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
    assert requires, "no apache-airflow requirement in the sdist's pyproject.toml"
    floor = _policy._release(requires)
    minimums = {}
    for minimum in candidate_minimums():
        if minimum > floor:
            groups = _policy.provider_figures(sources, minimum, GROUPS)
            minimums[_policy._fmt(minimum)] = {name: g._asdict() for name, g in groups.items()}
    return {
        "distribution": DISTRIBUTION,
        "version": version,
        "requires_airflow": requires.removeprefix("apache-airflow").strip(),
        "sdist": sdist["filename"],
        "sha256": sha256,
        "minimums": minimums,
    }


# -- the unit-test trace -------------------------------------------------------------------------------


def _qualnames(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Qualified name (as ``co_qualname`` spells it) -> the (first, last) line of each def and class."""
    found: dict[str, tuple[int, int]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + node.name
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                found[name] = (start, node.end_lineno or node.lineno)
                inner = "." if isinstance(node, ast.ClassDef) else ".<locals>."
                visit(node.body, name + inner)
            else:  # defs inside an if, a try, a with
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, field, None) or [], prefix)

    visit(tree.body, "")
    return found


class Tracer:
    """A pytest plugin: per test, the registry rows resolved and the package functions run."""

    def __init__(self) -> None:
        self.cases: dict[str, tuple[set[str], set[str]]] = {}
        self.calls: set[tuple[str, str]] = set()  # (caller, callee), package functions both
        self.package = str(PACKAGE_DIR) + "/"

    def _name(self, code: Any) -> str | None:
        if not code.co_filename.startswith(self.package) or code.co_qualname.rsplit(".", 1)[-1][0] == "<":
            return None
        return f"{code.co_filename.removeprefix(self.package)}:{code.co_qualname}"

    def _profile(self, rows: set[str], ran: set[str]) -> Any:
        def profile(frame: Any, event: str, arg: Any) -> None:
            if not frame.f_code.co_filename.startswith(self.package):
                return
            if event == "call" and (name := self._name(frame.f_code)):
                ran.add(name)
                caller = frame.f_back
                while caller is not None and caller.f_code.co_filename.startswith(self.package):
                    if found := self._name(caller.f_code):  # the nearest def, past lambdas and genexprs
                        self.calls.add((found, name))
                        break
                    caller = caller.f_back
            elif event == "return" and isinstance(arg, _registry.Selection):
                rows.add(str(arg.entry.airflow))

        return profile

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        rows: set[str] = set()
        ran: set[str] = set()
        sys.setprofile(self._profile(rows, ran))
        try:
            yield
        finally:
            sys.setprofile(None)
        self.cases[item.nodeid] = (rows, ran)


def trace() -> dict[str, Any]:
    tracer = Tracer()
    status = pytest.main(["-q", "-p", "no:cacheprovider", "tests/unit"], plugins=[tracer])
    if status != 0:  # a failing test still ran what it ran; the data says so
        print(f"warning: the unit tests exited {status}; recorded in the trace", file=sys.stderr)
    spans: dict[str, dict[str, tuple[int, int]]] = {}
    texts: dict[str, str] = {}

    def lines(path: Path, qualname: str) -> int:
        key = str(path)
        if key not in spans:
            texts[key] = path.read_text()
            spans[key] = _qualnames(ast.parse(texts[key]))
        first, last = spans[key][qualname]
        return code_lines(texts[key], range(first, last + 1))

    functions: dict[str, int] = {}
    tests: dict[str, Any] = {}
    for nodeid, (rows, ran) in tracer.cases.items():
        file, *names = nodeid.split("[")[0].split("::")
        test = tests.setdefault(
            "::".join([Path(file).name, *names]), {"lines": lines(ROOT / file, ".".join(names)), "cases": []}
        )
        index = [functions.setdefault(f, len(functions)) for f in sorted(ran)]
        test["cases"].append([sorted(rows), index])
    table = []
    for name in functions:
        module, qualname = name.split(":")
        callers = sorted(functions[c] for c, callee in tracer.calls if callee == name and c in functions)
        table.append({"name": name, "lines": lines(PACKAGE_DIR / module, qualname), "callers": callers})
    return {"commit": _commit(), "pytest_exit_status": int(status), "tests": tests, "functions": table}


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


# -- behavioural evidence ------------------------------------------------------------------------------


def evidence(results: Path) -> dict[str, Any]:
    """The release matrix's behavioural results (results documents of run "releases"), summarised."""
    releases, left_out = {}, []
    sys.path.insert(0, str(ROOT))  # the results schema: tests/results.py
    from tests import results as schema

    docs = schema.select(schema.load(results), "releases") if results.is_dir() else []
    for doc in docs:
        if doc["exitstatus"] != 0:  # a failing or interrupted session is no evidence
            left_out.append(f"behaviour-{doc['airflow']}.json (session exit {doc['exitstatus']})")
            continue
        outcomes = {o: n for o, n in doc["summary"]["outcomes"].items() if n}
        releases[doc["airflow"]] = {
            "strategy": doc["environment"]["strategy"],
            "provider_standard": doc["environment"]["provider_standard"],
            "outcomes": dict(sorted(outcomes.items())),
            "declared": doc["summary"]["declared"],
            "measured": doc["written_at"][:10],
        }
    names = ", ".join(releases) or "none"
    return {
        "source": f"the passing sessions in results/behaviour-<release>.json ({names}), summarised at "
        f"{_commit()[:12]}"
        + (f"; left out: {', '.join(left_out)}" if left_out else "")
        + "; a release without one shows its declared differences instead",
        "releases": releases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "airflow-trigger-compat")
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    matrix = tomllib.loads((ROOT / "constraints" / "releases.toml").read_text())
    data = {
        "generated_by": "scripts/update_policy_data.py",
        "generated_at": dt.date.today().isoformat(),
        "first_release": matrix["first_release"],
        "prereleases": matrix.get("prereleases", []),
        "provider": provider(matrix["provider_standard"], args.cache),
        "evidence": evidence(args.results),
        "trace": {"commit": "", "tests": {}, "functions": []},
    }
    # Written twice: the unit tests (traced next) read the file, so a first run needs one without a trace.
    if DATA_FILE.is_file():
        data["trace"] = json.loads(DATA_FILE.read_text())["trace"]
    write(data)
    data["trace"] = trace()
    write(data)


def write(data: dict[str, Any]) -> None:
    """Indented, with each innermost list on one line (the trace is mostly lists of numbers)."""
    text = json.dumps(data, indent=1)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m[1]) + "]", text)
    DATA_FILE.write_text(text + "\n")
    print(f"wrote {DATA_FILE.relative_to(ROOT)} ({DATA_FILE.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()

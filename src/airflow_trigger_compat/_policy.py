"""When Airflow's rule lets the provider raise its minimum Airflow, and what each minimum would remove.

Every figure comes from data, each source named in the report:

* **The rule** (Airflow's PROVIDERS.rst, "Upgrading Minimum supported version of Airflow"): providers
  raise their minimum Airflow to the next MINOR once 12 months have passed since the first release of the
  current minimum's MINOR. A minimum is allowed once every minor it drops has had its 12 months
  (:func:`allowed_from`), so the order is by version, not by date: 2.11.0 came out after 3.0.0.
* **The provider**: version-gated branches (``AIRFLOW_V_3_0_PLUS`` and its siblings), the functions only
  they call, and tests that a minimum always skips, counted with :func:`provider_figures` over the
  apache-airflow-providers-standard sdist by ``scripts/update_policy_data.py``.
* **This package**: strategies no row selects any more, and the modules only they import, from the
  registry and the import graph (:func:`dead_code`); functions and unit tests from a trace of the unit
  tests, which records the registry rows each test resolved and the package functions it ran
  (:func:`traced`).
* **The evidence**: the behavioural results summarised per release; a release without one shows its
  registry row and declared differences instead, labelled as such.

The provider figures, the trace, the evidence and the first-release dates (constraints/releases.toml) are
shipped in ``_policy.json``, so an installed copy needs neither the network nor a checkout.
"""

from __future__ import annotations

import ast
import calendar
import datetime
import functools
import io
import itertools
import json
import re
import tokenize
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ._differences import HOW
from ._runtime._registry import (
    REGISTRY,
    SUPPORTED,
    Entry,
    Feature,
    Release,
    VersionRange,
    parse_airflow_version,
)

__all__ = [
    "DATA_FILE",
    "PolicyReport",
    "add_months",
    "allowed_from",
    "candidate_minimums",
    "code_lines",
    "dead_code",
    "import_graph",
    "load_data",
    "parse_minimum",
    "policy",
    "provider_figures",
    "settled",
    "traced",
]

#: What a minimum can remove code from: the runtime, what a provider vendors.
PACKAGE_DIR = Path(__file__).parent / "_runtime"
#: The modules a user (or Airflow) imports directly; everything else is reached from them or a strategy.
ENTRY_POINTS = ("__init__.py",)
#: Written by scripts/update_policy_data.py.
DATA_FILE = Path(__file__).parent / "_policy.json"
#: Months a minor keeps its place as the providers' minimum (PROVIDERS.rst).
SUPPORT_MONTHS = 12
_SKIP_TOKENS = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
)


def _fmt(release: Release) -> str:
    return f"{release[0]}.{release[1]}" if release[2] == 0 else ".".join(map(str, release))


def _release(value: str) -> Release:
    major, minor, micro = [*(int(p) for p in re.findall(r"\d+", value)[:3]), 0, 0, 0][:3]
    return major, minor, micro


@functools.cache
def load_data(path: Path = DATA_FILE) -> dict[str, Any]:
    """The shipped figures (``_policy.json``)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- the rule ------------------------------------------------------------------------------------------


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus calendar months; a day the target month lacks becomes its last day.

    >>> add_months(datetime.date(2024, 2, 29), 12)
    datetime.date(2025, 2, 28)
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def allowed_from(
    minimum: Release, current: Release, first_release: Mapping[str, datetime.date]
) -> tuple[datetime.date, str] | None:
    """The first day the rule allows requiring ``minimum`` instead of ``current``, and the dropped minor
    that sets it (the one released last); ``None`` when nothing is dropped."""
    dropped = [m for m in first_release if current <= _release(m) < minimum]
    if not dropped:
        return None
    last = max(dropped, key=lambda m: first_release[m])
    return add_months(first_release[last], SUPPORT_MONTHS), last


# -- counting ------------------------------------------------------------------------------------------


def code_lines(text: str, lines: Iterable[int] | None = None) -> int:
    """Count non-blank, non-comment lines of ``text`` (1-based ``lines`` limits the count to those).

    >>> code_lines('x = 1  # one\\n\\n# note\\ny = 2\\n')
    2
    """
    seen: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in _SKIP_TOKENS or token.type == tokenize.ENDMARKER:
            continue
        seen.update(range(token.start[0], token.end[0] + 1))
    return len(seen if lines is None else seen & set(lines))


# -- the provider: version flags -----------------------------------------------------------------------

#: ``AIRFLOW_V_3_1_PLUS`` (>= 3.1.0), ``AIRFLOW_V_3_1_3_PLUS`` (>= 3.1.3), ``AIRFLOW_V_3_0_1`` (== 3.0.1).
_FLAG = re.compile(r"AIRFLOW_V_(\d+)_(\d+)(?:_(\d+))?(_PLUS)?")


def _flag(name: str, minimum: Release) -> bool | None:
    match = _FLAG.fullmatch(name)
    if not match:
        return None
    release = (int(match[1]), int(match[2]), int(match[3] or 0))
    if match[4]:
        return True if minimum >= release else None
    return False if minimum > release else None


def settled(test: ast.expr, minimum: Release) -> bool | None:
    """What ``test`` is on every Airflow >= ``minimum``, when its version flags decide it; else ``None``.

    >>> settled(ast.parse("x and not AIRFLOW_V_3_2_PLUS", mode="eval").body, (3, 2, 0))
    False
    """
    if isinstance(test, ast.Name):
        return _flag(test.id, minimum)
    if isinstance(test, ast.Attribute):
        return _flag(test.attr, minimum)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        value = settled(test.operand, minimum)
        return None if value is None else not value
    if isinstance(test, ast.BoolOp):
        values = [settled(v, minimum) for v in test.values]
        decisive = isinstance(test.op, ast.Or)  # True decides an `or`, False an `and`
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    return None


def _start(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _skipif(decorator: ast.expr) -> ast.expr | None:
    """The condition of ``@pytest.mark.skipif(condition, ...)``."""
    call = decorator if isinstance(decorator, ast.Call) else None
    if call and isinstance(call.func, ast.Attribute) and call.func.attr == "skipif" and call.args:
        return call.args[0]
    return None


def _gated(tree: ast.Module, minimum: Release) -> tuple[set[int], int]:
    """The lines no Airflow >= ``minimum`` runs (branches, code after a settled early return, tests it
    always skips), and how many branches, skip markers and conditional expressions it settles."""
    dead: set[int] = set()
    sites = 0

    def drop(nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            dead.update(range(_start(node), (node.end_lineno or node.lineno) + 1))

    def block(stmts: list[Any]) -> None:
        nonlocal sites
        for i, node in enumerate(stmts):
            if isinstance(node, ast.If) and (value := settled(node.test, minimum)) is not None:
                sites += 1
                live, gone = (node.body, node.orelse) if value else (node.orelse, node.body)
                drop(gone)
                block(live)
                if live and isinstance(live[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break)):
                    drop(stmts[i + 1 :])  # `if AIRFLOW_V_3_0_PLUS: return ...` ends the block
                    return
                continue
            skips = [settled(c, minimum) for d in getattr(node, "decorator_list", []) if (c := _skipif(d))]
            sites += sum(s is not None for s in skips)
            if True in skips:
                drop([node])
                continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                block(getattr(node, field, None) or [])

    block(tree.body)
    sites += sum(
        isinstance(n, ast.IfExp) and n.lineno not in dead and settled(n.test, minimum) is not None
        for n in ast.walk(tree)
    )
    return dead, sites


def _private_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        and n.name.startswith("_")
        and not n.name.startswith("__")
    ]


def _uses(tree: ast.Module) -> dict[str, list[int]]:
    """Name -> the lines a bare name or an attribute of that name appears on."""
    found: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            found.setdefault(name, []).append(node.lineno)
    return found


class Gated(NamedTuple):
    """What a minimum removes from a group of provider files."""

    lines: int  # code lines no Airflow >= the minimum runs
    total: int  # code lines of the group
    sites: int  # branches, skip markers and conditional expressions the minimum settles
    files: dict[str, int]  # file -> its lines counted above (files with none left out)
    functions: list[str]  # private functions only called from those lines


def provider_figures(
    sources: Mapping[str, str], minimum: Release, groups: Mapping[str, str]
) -> dict[str, Gated]:
    """Per group (a name -> a regular expression searched in each path; a path goes to the first that
    matches), what ``minimum`` removes from the provider's ``sources`` (path -> text).

    A private function counts when every use of its name, in every file, is in dead lines or in itself;
    found repeatedly, so a helper of a dead helper counts too.
    """
    trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
    gated = {path: _gated(tree, minimum) for path, tree in trees.items()}
    dead = {path: lines for path, (lines, _) in gated.items()}
    uses = {path: _uses(tree) for path, tree in trees.items()}
    functions: dict[str, list[str]] = {path: [] for path in trees}
    changed = True
    while changed:
        changed = False
        for path, tree in trees.items():
            for func in _private_functions(tree):
                own = range(_start(func), (func.end_lineno or func.lineno) + 1)
                if func.lineno in dead[path]:
                    continue
                others = [
                    (p, line)
                    for p in trees
                    for line in uses[p].get(func.name, [])
                    if p != path or line not in own
                ]
                if others and all(line in dead[p] for p, line in others):
                    dead[path].update(own)
                    functions[path].append(func.name)
                    changed = True
    group = {path: next((n for n, g in groups.items() if re.search(g, path)), None) for path in trees}
    result: dict[str, Gated] = {}
    for name in groups:
        paths = [p for p in trees if group[p] == name]
        per_file = {p: code_lines(sources[p], dead[p]) for p in paths}
        result[name] = Gated(
            lines=sum(per_file.values()),
            total=sum(code_lines(sources[p]) for p in paths),
            sites=sum(gated[p][1] for p in paths),
            files={p: n for p, n in sorted(per_file.items()) if n},
            functions=sorted(f"{p}::{f}" for p in paths for f in functions[p]),
        )
    return result


# -- this package: strategies and modules, from the registry -------------------------------------------


def _modules(package_dir: Path) -> dict[str, Path]:
    """Package modules by their posix path relative to the package (``_strategies/accessor.py``)."""
    return {
        p.relative_to(package_dir).as_posix(): p
        for p in sorted(package_dir.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _resolve(target: list[str], known: Mapping[str, Path]) -> str | None:
    for candidate in ("/".join(target) + ".py", "/".join([*target, "__init__.py"])):
        if candidate in known:
            return candidate
    return None


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """For each module, the package modules it imports with a relative import (anywhere in the file but
    under ``if TYPE_CHECKING:``, which only type checkers run)."""
    known = _modules(package_dir)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        here = name.split("/")[:-1]
        edges: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level == 0 or id(node) in typing_only:
                continue
            base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
            target = [*base, *(node.module.split(".") if node.module else [])]
            for alias in node.names:  # `from . import runner_exception` imports a submodule
                found = _resolve([*target, alias.name], known)
                if found:
                    edges.add(found)
            found = _resolve(target, known)
            if found and node.module:
                edges.add(found)
        graph[name] = edges - {name}
    return graph


def _reachable(graph: Mapping[str, set[str]], starts: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = [s for s in starts if s in graph]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module] - seen)
    return seen


def _paths(rows: Iterable[Entry]) -> set[str]:
    """The strategies ``rows`` route to, with durable=True or without (``durable``, ``accessor``: any row)."""
    return {name for e in rows for name in (e.path, "durable", "accessor")}


#: Every strategy the registry routes to.
_STRATEGIES = tuple(sorted(_paths(REGISTRY)))


def _strategy_module(name: str) -> str:
    return f"_strategies/{name}.py"


class DeadCode(NamedTuple):
    """The modules that go with some dropped strategies, and their line counts."""

    modules: dict[str, int]
    #: dropped strategy -> the live modules that still import it (its module then stays)
    kept: dict[str, list[str]]

    @property
    def lines(self) -> int:
        return sum(self.modules.values())


def dead_code(dropped: Iterable[str], package_dir: Path = PACKAGE_DIR) -> DeadCode:
    """The modules (with their code lines) that only the ``dropped`` strategies import."""
    dropped = set(dropped)
    graph = import_graph(package_dir)
    live = _reachable(graph, [*ENTRY_POINTS, *(_strategy_module(s) for s in _STRATEGIES if s not in dropped)])
    dead = _reachable(graph, (_strategy_module(s) for s in dropped)) - live
    kept = {
        s: sorted(m for m in live if _strategy_module(s) in graph[m])
        for s in dropped
        if _strategy_module(s) in live
    }
    modules = {m: code_lines((package_dir / m).read_text(encoding="utf-8")) for m in sorted(dead)}
    return DeadCode(modules, kept)


# -- this package: functions and unit tests, from the trace --------------------------------------------


class Traced(NamedTuple):
    """What the unit-test trace attributes to a minimum."""

    #: package function ("_contract.py:run_with_derived_id") -> code lines: run only by the tests below
    functions: dict[str, int]
    #: test -> why it goes ("every case" or "3 of 8 cases")
    tests: dict[str, str]
    #: code lines of the tests all of whose cases go
    test_lines: int


def traced(minimum: Release, trace: Mapping[str, Any], skip_modules: Iterable[str] = ()) -> Traced:
    """Attribute the traced unit tests and the package functions they ran to ``minimum``.

    A test case goes with the minimum when every registry row it resolved lies below it; a case that
    resolved none is version-independent and stays. A function goes when only cases that go ran it and
    either a kept case ran its caller without reaching it (``accessor.execute`` on 3.3 never calls
    ``run_with_derived_id``), or all its callers go. A function only tests call is left alone: the unit tests
    may simply not run it on the kept versions. Functions of ``skip_modules`` (counted as whole modules)
    go, and are not listed.
    """
    below = {str(e.airflow) for e in REGISTRY if e.airflow.high <= minimum}
    ran_live: set[int] = set()
    ran_dead: set[int] = set()
    tests: dict[str, str] = {}
    lines = 0
    for name, test in trace["tests"].items():
        gone = [bool(rows and set(rows) <= below) for rows, _ in test["cases"]]
        for (_, ran), goes in zip(test["cases"], gone, strict=True):
            (ran_dead if goes else ran_live).update(ran)
        if all(gone):
            tests[name] = "every case" if len(gone) > 1 else "its one case"
            lines += test["lines"]
        elif any(gone):
            tests[name] = f"{sum(gone)} of {len(gone)} cases"
    table, skip = trace["functions"], set(skip_modules)
    dead: set[int] = {i for i, f in enumerate(table) if f["name"].split(":")[0] in skip}
    candidates = ran_dead - ran_live
    dead |= {i for i in candidates if set(table[i]["callers"]) & ran_live}
    while grown := {i for i in candidates - dead if table[i]["callers"] and set(table[i]["callers"]) <= dead}:
        dead |= grown
    listed = sorted(i for i in dead if table[i]["name"].split(":")[0] not in skip)
    return Traced({table[i]["name"]: table[i]["lines"] for i in listed}, tests, lines)


# -- the report ----------------------------------------------------------------------------------------


def parse_minimum(value: str) -> Release:
    """``"3.2"`` -> ``(3, 2, 0)``; raises ``ValueError`` naming the supported range otherwise."""
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", value.strip())
    if not match:
        raise ValueError(f"--min-airflow {value!r} is not a version like '3.2'")
    release = (int(match[1]), int(match[2]), int(match[3] or 0))
    if release not in SUPPORTED:
        raise ValueError(f"--min-airflow {value!r} is outside the supported range {SUPPORTED}")
    return release


def candidate_minimums() -> list[Release]:
    """Every minor from the oldest supported to the newest row: row starts, and the minors between two
    rows of one major."""
    lows = sorted({e.airflow.low[:2] for e in REGISTRY})
    minors = set(lows)
    for (major, minor), (next_major, next_minor) in itertools.pairwise(lows):
        if major == next_major:
            minors.update((major, m) for m in range(minor, next_minor))
    return [(major, minor, 0) for major, minor in sorted(minors)]


def _everywhere(rows: Iterable[Any]) -> set[Feature]:
    rows = list(rows)
    return {f for f in Feature if all(e.supports(f) for e in rows)}


def _evidence(row: VersionRange, evidence: Mapping[str, Any]) -> dict[str, Any]:
    """The measured behavioural results of the releases in ``row``; without any, the declared
    differences from the standard operator there (labelled: nothing measured is shipped for it)."""
    measured = {r: e for r, e in evidence["releases"].items() if _release(r) in row}
    if measured:
        return {"measured": measured}
    from ._differences import DIFFERENCES

    return {"measured": {}, "declared_differences": sorted(d.id for d in DIFFERENCES if row.low in d.airflow)}


class PolicyReport(NamedTuple):
    """Requiring Airflow >= ``minimum``: when the rule allows it, and what it removes."""

    minimum: str
    as_of: str
    dropped_versions: str | None
    allowed_from: str | None
    limited_by: str | None  # the dropped minor, released last, whose 12 months set allowed_from
    allowed: bool
    provider: dict[str, Any]
    dead_strategies: list[str]
    kept_strategies: dict[str, list[str]]
    dead_modules: dict[str, int]
    code_lines: int
    dead_functions: dict[str, int]
    test_lines: int
    test_items: dict[str, str]
    features_gained: dict[str, dict[str, list[str]]]
    features_everywhere: list[str]
    features_still_missing: dict[str, list[str]]
    users_lose: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return self._asdict()


def policy(
    minimum: Release, as_of: datetime.date, data: Mapping[str, Any], package_dir: Path = PACKAGE_DIR
) -> PolicyReport:
    """What requiring Airflow >= ``minimum`` does, and whether the rule allows it on ``as_of``."""
    provider = data["provider"]
    first = {m: datetime.date.fromisoformat(d) for m, d in data["first_release"].items()}
    rule = allowed_from(minimum, _release(provider["requires_airflow"]), first)
    rows = [e for e in REGISTRY if e.airflow.high > minimum]
    dropped_rows = [e for e in REGISTRY if e.airflow.low < minimum]
    dropped = sorted(_paths(dropped_rows) - _paths(rows))
    code = dead_code(dropped, package_dir)
    trace = traced(minimum, data["trace"], code.modules)
    before, after = _everywhere(REGISTRY), _everywhere(rows)
    gained: dict[str, dict[str, list[str]]] = {}
    for feature in (f for f in Feature if f in after - before):
        for entry in (e for e in dropped_rows if feature in e.gaps):  # reason -> the ranges it applied to
            gained.setdefault(str(feature), {}).setdefault(entry.gaps[feature], []).append(str(entry.airflow))
    users_lose = []
    for entry in reversed(dropped_rows):
        cut = VersionRange(entry.airflow.low, min(entry.airflow.high, minimum))
        users_lose.append(
            {
                "airflow": str(cut),
                "strategy": entry.path,
                "how": HOW[entry.path],
                "gaps": {str(f): reason for f, reason in entry.gaps.items()},
                **_evidence(cut, data["evidence"]),
            }
        )
    figures = provider["minimums"].get(_fmt(minimum)) if dropped_rows else None
    return PolicyReport(
        minimum=_fmt(minimum),
        as_of=as_of.isoformat(),
        dropped_versions=str(VersionRange(SUPPORTED.low, minimum)) if dropped_rows else None,
        allowed_from=rule[0].isoformat() if rule else None,
        limited_by=rule[1] if rule else None,
        allowed=rule is None or as_of >= rule[0],
        provider={k: provider[k] for k in ("distribution", "version", "requires_airflow")}
        | {"removes": figures},
        dead_strategies=dropped,
        kept_strategies=code.kept,
        dead_modules=code.modules,
        code_lines=code.lines,
        dead_functions=trace.functions,
        test_lines=trace.test_lines,
        test_items=trace.tests,
        features_gained=gained,
        features_everywhere=sorted(map(str, after)),
        features_still_missing={
            str(f): [str(e.airflow) for e in rows if not e.supports(f)] for f in Feature if f not in after
        },
        users_lose=users_lose,
    )


# -- Markdown, for the dev list ------------------------------------------------------------------------

#: How many names a Markdown list shows before "and N more" (the JSON has them all).
_SHOWN = 8


def _names(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(f"`{i}`" for i in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _pair(removes: Mapping[str, Any] | None, code: str, tests: str) -> str:
    return "-" if not removes else f"{removes[code]['lines']} + {removes[tests]['lines']} lines"


def _status(r: PolicyReport) -> str:
    if r.allowed_from is None:
        return "current minimum"
    days = (datetime.date.fromisoformat(r.as_of) - datetime.date.fromisoformat(r.allowed_from)).days
    return f"allowed for {days} days" if r.allowed else f"not yet: {-days} days to go"


def _provider_lines(r: PolicyReport) -> list[str]:
    removes = r.provider["removes"]
    if removes is None:
        return []
    lines = [f"In the provider ({r.provider['distribution']} {r.provider['version']}, its sdist):"]
    for name, g in removes.items():
        lines.append(
            f"- {name}: {g['lines']} of {g['total']} code lines, in {g['sites']} version checks it settles"
        )
        if len(g["files"]) > 1:
            lines[-1] += f", across {len(g['files'])} files: " + _names(
                f"{p} ({n})" for p, n in g["files"].items()
            )
        if g["functions"]:
            lines.append(f"  - functions only those lines call: {_names(g['functions'])}")
    return lines


def _package_lines(r: PolicyReport) -> list[str]:
    lines = ["In this package:"]
    for name in r.dead_strategies:
        if name in r.kept_strategies:
            lines.append(
                f"- Strategy `{name}` is no longer selected; its module stays, imported by "
                f"{_names(r.kept_strategies[name])}."
            )
        else:
            lines.append(f"- Strategy `{name}` is dead.")
    if r.dead_modules:
        lines.append(
            f"- Modules only it uses: {r.code_lines} lines in "
            + _names(f"{m} ({n})" for m, n in r.dead_modules.items())
            + "."
        )
    if r.dead_functions:
        total = sum(r.dead_functions.values())
        lines.append(
            f"- Functions in live modules that only the dropped versions' tests run: {total} lines in "
            + _names(f"{f} ({n})" for f, n in r.dead_functions.items())
            + "."
        )
    whole = [t for t, why in r.test_items.items() if "of" not in why]
    part = [f"{t} ({why})" for t, why in r.test_items.items() if "of" in why]
    lines.append(
        f"- Unit tests that only exercise the dropped versions: {r.test_lines} lines in {len(whole)} tests"
        + (f": {_names(whole)}" if whole else "")
    )
    if part:
        lines.append(f"- Parametrised tests that lose cases: {_names(part)}")
    for feature in r.features_gained:
        lines.append(f"- `{feature}` becomes available on every supported version.")
    for feature, where in r.features_still_missing.items():
        lines.append(f"- `{feature}` is still missing on {_names(where)}.")
    return lines


def _users_lines(r: PolicyReport) -> list[str]:
    lines = [
        "Users on the dropped versions keep the provider releases they have, and get no new ones. "
        "Today they run:"
    ]
    for lost in r.users_lose:
        text = f"- Airflow `{lost['airflow']}`: the `{lost['strategy']}` path"
        if lost["gaps"]:
            text += f" (declared gaps: {', '.join(f'`{g}`' for g in lost['gaps'])})"
        measured = [
            f"{release}: {', '.join(f'{n} {outcome}' for outcome, n in sorted(m['outcomes'].items()))} "
            f"of {sum(m['outcomes'].values())} scenarios ({m['measured']})"
            for release, m in lost["measured"].items()
        ]
        if measured:
            text += "; behavioural suite " + "; ".join(measured)
        else:
            text += (
                "; no behavioural result shipped for it (from the registry: declared differences "
                + _names(lost["declared_differences"])
                + ")"
            )
        lines.append(text + ".")
    return lines


#: The first apache-airflow-task-sdk release with ``ti.trigger_dag_run()`` (apache/airflow#69135), the
#: accessor ``durable=True`` triggers through where a Task SDK has it; ``None`` while no release has it.
ACCESSOR_FLOOR: str | None = None


def _accessor_line() -> str:
    """Where the accessor stands: the Task SDK release it needs, or "proposed"."""
    if ACCESSOR_FLOOR is None:
        where = (
            "proposed (apache/airflow#69135), in no Task SDK release yet: durable=True uses it only where a "
            "Task SDK has it (`nox -s accessor` builds one)"
        )
    else:
        where = f"from apache-airflow-task-sdk {ACCESSOR_FLOOR}, where durable=True triggers through it"
    return f"The accessor `ti.trigger_dag_run()`: {where}; no minimum below depends on it."


def _prerelease_lines(prereleases: list[str]) -> list[str]:
    """The pre-releases the matrix tests: no first release yet, so no rule date, and no minimum to offer."""
    lines = []
    for raw in prereleases:
        version = parse_airflow_version(raw)
        row = next((e for e in REGISTRY if version.release in e.airflow), None)
        where = f"the `{row.airflow}` row's paths" if row else "no registry row"
        minor = ".".join(map(str, version.release[:2]))
        lines.append(
            f"Pre-release in the matrix: Airflow {raw} (tests({raw})). {minor} has no final release yet, so "
            f"no first-release date and no rule date; it runs {where}, and changes no minimum below."
        )
    return [*lines, ""] if lines else []


def markdown(reports: list[PolicyReport], data: Mapping[str, Any]) -> str:
    """The report as a dev-list post: the rule with its dates, a table, then each minimum in detail."""
    provider, first = data["provider"], data["first_release"]
    as_of = reports[0].as_of
    floor = _release(provider["requires_airflow"])
    dates = {m: datetime.date.fromisoformat(d) for m, d in first.items()}
    rule = {_fmt(m): allowed_from(m, floor, dates) for m in candidate_minimums() if m >= floor}
    allowed = [(m, d) for m, d in rule.items() if d is None or d[0].isoformat() <= as_of]
    upcoming = next(((m, d) for m, d in rule.items() if d is not None and d[0].isoformat() > as_of), None)
    lines = [
        f"## Raising the minimum Airflow of {provider['distribution']}: where the rule stands on {as_of}",
        "",
        'Airflow\'s PROVIDERS.rst ("Upgrading Minimum supported version of Airflow"): providers raise their '
        "minimum Airflow to the next MINOR once 12 months have passed since the first release of the current "
        "minimum's MINOR (it notes that the policy was written for Airflow 2 and is not yet final for "
        "Airflow 3). "
        "A minimum is allowed once every minor it drops has had its 12 months, so the order is by version, "
        "not by date. First releases: "
        + ", ".join(f"{m}.0 {d}" for m, d in sorted(first.items(), key=lambda i: i[1]))
        + ".",
        "",
        f"{provider['distribution']} {provider['version']} requires "
        f"`apache-airflow{provider['requires_airflow']}`. "
        f"On {as_of} the rule allows `>={allowed[-1][0]}`"
        + (f" (since {allowed[-1][1][0]})" if allowed[-1][1] else "")
        + (f"; `>={upcoming[0]}` from {upcoming[1][0]}." if upcoming and upcoming[1] else "."),
        "",
        *_prerelease_lines(data.get("prereleases", [])),
        _accessor_line(),
        "",
        "Lines are code lines a minimum makes dead (code + tests); details below.",
        "",
        f"| Minimum | Drops | Allowed from | On {as_of} | Provider operator | Rest of the provider "
        "| This package |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        removes = r.provider["removes"]
        own = r.code_lines + sum(r.dead_functions.values())
        since = f"{r.allowed_from} ({r.limited_by} + 12 months)" if r.allowed_from else "-"
        lines.append(
            f"| {r.minimum} | {r.dropped_versions or '-'} | {since} | {_status(r)} "
            f"| {_pair(removes, 'operator', 'operator tests')} "
            f"| {_pair(removes, 'rest of the provider', 'rest of the tests')} "
            f"| {own} + {r.test_lines} lines |"
        )
    for r in reports:
        lines += ["", f"### Airflow >= {r.minimum}", ""]
        if r.dropped_versions is None:
            lines.append("The current minimum: nothing is dropped.")
            continue
        lines += [
            f"Drops Airflow `{r.dropped_versions}`. Allowed from {r.allowed_from}: 12 months after "
            f"{r.limited_by}.0 ({first[r.limited_by]}), the last of the dropped minors to come out.",
            "",
            *_provider_lines(r),
            "",
            *_package_lines(r),
            "",
            *_users_lines(r),
        ]
    trace, evidence = data["trace"], data["evidence"]
    lines += [
        "",
        "Sources: first releases are upload dates on the package index; provider figures are counted from "
        f"the {provider['distribution']} {provider['version']} sdist (sha256 {provider['sha256'][:12]}) by "
        "its `AIRFLOW_V_*` flags; this package's from its registry, its import graph and a trace of its unit "
        f"tests at {trace['commit'][:12]}; behavioural results {evidence['source']}. Generated by "
        f"`python -m airflow_trigger_compat policy --as-of {as_of}`.",
    ]
    return "\n".join(lines) + "\n"

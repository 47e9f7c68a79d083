"""What raising a provider's minimum Airflow would do, computed from the registry and the code itself.

No figure here is typed in; each comes from one of three places:

* **The registry** (``REGISTRY``, ``STRATEGIES``): which rows a minimum drops, which strategies no row
  selects any more, which features then have no gap left on any remaining row.
* **The source** (:func:`dead_code`). Lines are non-blank, non-comment lines (docstrings count). The
  code that goes with a set of strategies is their modules plus every package module only they import:
  reachable through relative imports (including imports inside functions) from a dropped strategy
  module, and reachable neither from the package's entry points (``__init__``, ``__main__``) nor from a
  strategy that is still selected. A dropped strategy whose module a live one still imports stays.
* **The unit tests** (:func:`dead_tests`). A test counts toward the dead code when

  1. its file mirrors a dead module (``test_durable.py`` for ``_durable.py``): the whole file;
  2. a test function uses a name imported from a dead module, or names one in a string
     (``monkeypatch.setattr("pkg._accessor.f", ...)``): that function, decorators included;
  3. a test function's release literals (full ``"2.11.2"``-style strings, decorators included) all lie
     in the supported range and below the new minimum: that function. A function that also names an
     unsupported release tests the range check itself, so it stays.

Shared modules may also branch on the release (``version.release < (3, 0, 0)``); such comparisons
that every remaining version decides the same way are listed (``version_checks``), not counted.

Behavioural results (``results/behaviour-<release>.json``) are read defensively: a missing or malformed
file is reported as such, never guessed at.
"""

from __future__ import annotations

import ast
import functools
import io
import itertools
import json
import re
import tokenize
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ._registry import REGISTRY, STRATEGIES, SUPPORTED, Entry, Feature, Release, VersionRange

__all__ = [
    "MatrixResult",
    "PolicyReport",
    "candidate_minimums",
    "code_lines",
    "dead_code",
    "dead_tests",
    "import_graph",
    "load_results",
    "parse_minimum",
    "policy",
    "version_checks",
]

#: The modules a user (or Airflow) imports directly; everything else is reached from them or a strategy.
ENTRY_POINTS = ("__init__.py", "__main__.py")
PACKAGE_DIR = Path(__file__).parent
_RELEASE_LITERAL = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:(?:a|b|rc|\.dev|\.post|\+)[\w.]*)?$")
_SKIP_TOKENS = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
)


# -- counting ------------------------------------------------------------------------------------------


def code_lines(text: str, lines: range | None = None) -> int:
    """Count non-blank, non-comment lines of ``text`` (1-based ``lines`` limits the count to a span).

    >>> code_lines('x = 1  # one\\n\\n# note\\ny = 2\\n')
    2
    """
    seen: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in _SKIP_TOKENS or token.type == tokenize.ENDMARKER:
            continue
        seen.update(range(token.start[0], token.end[0] + 1))
    return len(seen if lines is None else seen & set(lines))


def _read(path: Path) -> tuple[str, ast.Module]:
    stat = path.stat()
    return _parse(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _parse(path: str, mtime_ns: int, size: int) -> tuple[str, ast.Module]:
    # Keyed on the file's stat, so an edited file is read again (the report follows the code).
    text = Path(path).read_text(encoding="utf-8")
    return text, ast.parse(text, filename=path)


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
    """For each module, the package modules it imports with a relative import (anywhere in the file)."""
    known = _modules(package_dir)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        here = name.split("/")[:-1]
        edges: set[str] = set()
        for node in ast.walk(_read(path)[1]):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
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


def _strategy_module(name: str) -> str:
    return f"_strategies/{STRATEGIES[name].module}.py"


class DeadCode(NamedTuple):
    """The modules that go with some dropped strategies, and their line counts."""

    modules: dict[str, int]
    #: dropped strategy -> the live modules that still import it (its module then stays)
    kept: dict[str, list[str]]

    @property
    def lines(self) -> int:
        return sum(self.modules.values())


def dead_code(dropped: Iterable[str], package_dir: Path = PACKAGE_DIR) -> DeadCode:
    """The modules (with their code lines) that only the ``dropped`` strategies use."""
    dropped = set(dropped)
    graph = import_graph(package_dir)
    live_roots = [*ENTRY_POINTS, *(_strategy_module(s) for s in STRATEGIES if s not in dropped)]
    live = _reachable(graph, live_roots)
    dead = _reachable(graph, (_strategy_module(s) for s in dropped)) - live
    kept = {
        s: sorted(m for m in live if _strategy_module(s) in graph[m])
        for s in dropped
        if _strategy_module(s) in live
    }
    modules = {m: code_lines(_read(package_dir / m)[0]) for m in sorted(dead)}
    return DeadCode(modules, kept)


def version_checks(minimum: Release, package_dir: Path = PACKAGE_DIR, skip: Iterable[str] = ()) -> list[str]:
    """Release comparisons in the package (``release < (3, 0, 0)``) that every version from ``minimum``
    on decides the same way, but the current range does not: branches a minimum bump makes dead."""
    lowest, skip = REGISTRY[-1].airflow.low, set(skip)
    found = []
    for name, path in _modules(package_dir).items():
        if name in skip:
            continue
        text, tree = _read(path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            for operand in (node.left, *node.comparators):
                release = _release_tuple(operand)
                if release is not None and lowest < release <= minimum:
                    found.append(f"{name}:{node.lineno}: {ast.get_source_segment(text, node)}")
                    break
    return found


def _release_tuple(node: ast.expr) -> Release | None:
    if not isinstance(node, ast.Tuple) or not 2 <= len(node.elts) <= 3:
        return None
    parts = [e.value for e in node.elts if isinstance(e, ast.Constant) and type(e.value) is int]
    return (parts[0], parts[1], parts[2] if len(parts) == 3 else 0) if len(parts) == len(node.elts) else None


# -- tests ---------------------------------------------------------------------------------------------


class TestLines(NamedTuple):
    """Unit-test lines attributable to dead modules or dropped versions, and why (one item per rule hit)."""

    lines: int
    items: list[str]


def _module_of(dotted: str, package: str, known: Mapping[str, Path]) -> str | None:
    parts = dotted.split(".")
    if parts[0] != package or len(parts) < 2:
        return None
    for end in range(len(parts), 1, -1):  # "pkg._accessor.trigger_dag_run" -> _accessor.py
        found = _resolve(parts[1:end], known)
        if found:
            return found
    return None


def _release_literals(node: ast.AST) -> list[Release]:
    found = []
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            match = _RELEASE_LITERAL.match(child.value)
            if match:
                found.append((int(match[1]), int(match[2]), int(match[3])))
    return found


def _test_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    found = []
    for node in tree.body:
        bodies = node.body if isinstance(node, ast.ClassDef) and node.name.startswith("Test") else [node]
        found += [f for f in bodies if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return [f for f in found if f.name.startswith("test")]


def _mirrored(test_file: str, known: Mapping[str, Path]) -> str | None:
    stem = test_file.removeprefix("test_").removesuffix(".py")
    return next((m for m in (f"_{stem}.py", f"{stem}.py", f"_strategies/{stem}.py") if m in known), None)


def dead_tests(
    dead_modules: Iterable[str],
    minimum: Release,
    tests_dir: Path,
    package_dir: Path = PACKAGE_DIR,
    package: str = "airflow_trigger_compat",
) -> TestLines:
    """Unit-test lines that go with ``dead_modules`` or with versions below ``minimum`` (rules above)."""
    dead = set(dead_modules)
    known = _modules(package_dir)
    total, items = 0, []
    for path in sorted(tests_dir.glob("test_*.py")):
        text, tree = _read(path)
        if _mirrored(path.name, known) in dead:
            total += code_lines(text)
            items.append(f"{path.name} (mirrors {_mirrored(path.name, known)})")
            continue
        # Names bound by an import from a dead module, anywhere in the file.
        tainted: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if _module_of(node.module, package, known) in dead:
                    tainted.update(a.asname or a.name for a in node.names)
                else:
                    tainted.update(
                        a.asname or a.name
                        for a in node.names
                        if _module_of(f"{node.module}.{a.name}", package, known) in dead
                    )
            elif isinstance(node, ast.Import):
                tainted.update(
                    a.asname or a.name
                    for a in node.names
                    if a.asname and _module_of(a.name, package, known) in dead
                )
        for func in _test_functions(tree):
            start = min([func.lineno, *(d.lineno for d in func.decorator_list)])
            span = range(start, (func.end_lineno or func.lineno) + 1)
            why = _why_dead(func, tainted, dead, minimum, package, known)
            if why:
                total += code_lines(text, span)
                items.append(f"{path.name}::{func.name} ({why})")
    return TestLines(total, items)


def _why_dead(
    func: ast.AST,
    tainted: set[str],
    dead: set[str],
    minimum: Release,
    package: str,
    known: Mapping[str, Path],
) -> str | None:
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id in tainted:
            return f"uses {node.id}"
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _module_of(node.value, package, known) in dead
        ):
            return f"names {node.value}"
    releases = _release_literals(func)
    if releases and all(r in SUPPORTED and r < minimum for r in releases):
        return f"only Airflow {', '.join(sorted({_fmt(r) for r in releases}))}"
    return None


# -- behavioural results -------------------------------------------------------------------------------


class MatrixResult(NamedTuple):
    """One ``results/behaviour-<release>.json``, summarised; ``problem`` says why it could not be read."""

    minor: str
    airflow: str | None
    strategy: str | None
    outcomes: dict[str, int]
    passed: list[str]
    problem: str | None = None


def _scenarios(raw: Any) -> dict[str, str]:
    """Scenario -> outcome, from ``{name: {"outcome": ...}}``, ``{name: outcome}`` or a list of
    ``{"name": ..., "outcome": ...}``; anything else has no scenarios."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        items = raw.items()
    elif isinstance(raw, list):
        items = [(s.get("name", s.get("id", str(i))), s) for i, s in enumerate(raw) if isinstance(s, Mapping)]
    else:
        return {}
    return {str(k): str(v.get("outcome", "unknown") if isinstance(v, Mapping) else v) for k, v in items}


def load_results(results_dir: Path) -> dict[str, MatrixResult]:
    """Read every ``behaviour-<release>.json`` (or ``-<minor>``) under ``results_dir`` (none: none)."""
    found: dict[str, MatrixResult] = {}
    for path in sorted(results_dir.glob("behaviour-*.json")) if results_dir.is_dir() else []:
        minor = path.stem.removeprefix("behaviour-")
        if not re.fullmatch(r"\d+\.\d+(\.\d+)?", minor):  # a release ("3.1.8") or a minor ("3.1")
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, Mapping):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        except (OSError, ValueError) as err:
            found[minor] = MatrixResult(minor, None, None, {}, [], f"unreadable {path.name}: {err}")
            continue
        scenarios = _scenarios(data.get("scenarios"))
        found[minor] = MatrixResult(
            minor,
            _str_or_none(data.get("airflow", data.get("version"))),
            _str_or_none(data.get("strategy")),
            dict(sorted(Counter(scenarios.values()).items())),
            sorted(name for name, outcome in scenarios.items() if outcome == "passed"),
            None if scenarios else f"{path.name} lists no scenarios",
        )
    return found


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# -- the policy ----------------------------------------------------------------------------------------


def _fmt(release: Release) -> str:
    return f"{release[0]}.{release[1]}" if release[2] == 0 else ".".join(map(str, release))


def parse_minimum(value: str) -> Release:
    """``"3.2"`` -> ``(3, 2, 0)``; raises ``ValueError`` naming the supported range otherwise."""
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", value.strip())
    if not match:
        raise ValueError(f"--min-airflow {value!r} is not a version like '3.2'")
    release = (int(match[1]), int(match[2]), int(match[3] or 0))
    if release not in SUPPORTED:
        raise ValueError(f"--min-airflow {value!r} is outside the supported range {SUPPORTED}")
    return release


def _minor(value: str) -> Release | None:
    try:
        return parse_minimum(value)
    except ValueError:
        return None


def candidate_minimums(extra: Iterable[str] = ()) -> list[Release]:
    """Every minor from the oldest supported to the newest row: row starts, the minors between them
    within one major, and any minor that has results (``extra``)."""
    lows = sorted({e.airflow.low[:2] for e in REGISTRY})
    minors = set(lows)
    for (major, minor), (next_major, next_minor) in itertools.pairwise(lows):
        if major == next_major:
            minors.update((major, m) for m in range(minor, next_minor))
    for value in extra:
        release = _minor(value)
        if release is not None and release <= REGISTRY[0].airflow.low:
            minors.add(release[:2])
    return [(major, minor, 0) for major, minor in sorted(minors)]


def _rows_from(minimum: Release) -> list[Entry]:
    return [e for e in REGISTRY if e.airflow.high > minimum]


def _everywhere(rows: Iterable[Entry]) -> set[Feature]:
    rows = list(rows)
    return {f for f in Feature if all(e.supports(f) for e in rows)}


class PolicyReport(NamedTuple):
    """What requiring Airflow >= ``minimum`` would do."""

    minimum: str
    dropped_versions: str | None
    dead_strategies: list[str]
    kept_strategies: dict[str, list[str]]
    dead_modules: dict[str, int]
    code_lines: int
    test_lines: int | None
    test_items: list[str]
    version_checks: list[str]
    features_gained: dict[str, dict[str, list[str]]]
    features_everywhere: list[str]
    features_still_missing: dict[str, list[str]]
    users_lose: list[dict[str, Any]]
    matrix: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return self._asdict()


def policy(
    minimum: Release,
    *,
    package_dir: Path = PACKAGE_DIR,
    tests_dir: Path | None = None,
    results: Mapping[str, MatrixResult] | None = None,
) -> PolicyReport:
    """The consequences of requiring Airflow >= ``minimum`` (see the module docstring for the rules)."""
    rows = _rows_from(minimum)
    lowest = REGISTRY[-1].airflow.low
    dropped_rows = [e for e in REGISTRY if e.airflow.low < minimum]
    live = {e.strategy for e in rows}
    dropped = sorted({e.strategy for e in dropped_rows} - live)
    code = dead_code(dropped, package_dir)
    tests = (
        dead_tests(code.modules, minimum, tests_dir, package_dir)
        if tests_dir is not None and tests_dir.is_dir()
        else None
    )
    before, after = _everywhere(REGISTRY), _everywhere(rows)
    gained: dict[str, dict[str, list[str]]] = {}
    for feature in (f for f in Feature if f in after - before):
        for entry in (e for e in dropped_rows if feature in e.gaps):  # reason -> the ranges it applied to
            gained.setdefault(str(feature), {}).setdefault(entry.gaps[feature], []).append(str(entry.airflow))
    missing = {str(f): [str(e.airflow) for e in rows if not e.supports(f)] for f in Feature if f not in after}
    results = results or {}
    users_lose = []
    for entry in dropped_rows:
        cut = VersionRange(entry.airflow.low, min(entry.airflow.high, minimum))
        here = [r for m, r in results.items() if _minor(m) in cut]
        users_lose.append(
            {
                "airflow": str(cut),
                "strategy": entry.strategy,
                "how": STRATEGIES[entry.strategy].summary,
                "features": sorted(map(str, entry.features)),
                "scenarios_passed": sorted({name for r in here for name in r.passed}),
            }
        )
    matrix = []
    for minor in sorted(results, key=lambda m: _minor(m) or (0, 0, 0)):
        release = _minor(minor)
        if release is None or release[:2] < minimum[:2]:
            continue
        result = results[minor]
        row = next((e for e in REGISTRY if release in e.airflow), None)
        matrix.append(
            {
                "minor": minor,
                "airflow": result.airflow,
                "strategy": result.strategy,
                "registry_strategy": row.strategy if row else None,
                "outcomes": result.outcomes,
                "problem": result.problem,
            }
        )
    return PolicyReport(
        minimum=_fmt(minimum),
        dropped_versions=str(VersionRange(lowest, minimum)) if minimum > lowest else None,
        dead_strategies=dropped,
        kept_strategies=code.kept,
        dead_modules=code.modules,
        code_lines=code.lines,
        test_lines=None if tests is None else tests.lines,
        test_items=[] if tests is None else tests.items,
        version_checks=version_checks(minimum, package_dir, skip=code.modules) if minimum > lowest else [],
        features_gained=gained,
        features_everywhere=sorted(map(str, after)),
        features_still_missing=missing,
        users_lose=users_lose,
        matrix=matrix,
    )

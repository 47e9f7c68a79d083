"""The policy report: the rule's date arithmetic, the provider's version flags, and the attribution of this
package's code and unit tests, each checked on inputs whose answer is worked out by hand."""

from __future__ import annotations

import ast
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_trigger_compat import _policy
from airflow_trigger_compat._policy import (
    DATA_FILE,
    PACKAGE_DIR,
    add_months,
    allowed_from,
    candidate_minimums,
    dead_code,
    import_graph,
    load_data,
    markdown,
    policy,
    provider_figures,
    settled,
    traced,
)
from airflow_trigger_compat._runtime._registry import REGISTRY

D = datetime.date
FIRST = {"2.11": D(2025, 5, 20), "3.0": D(2025, 4, 22), "3.1": D(2025, 9, 25), "3.2": D(2026, 4, 7)}
RELEASES_TOML = Path(__file__).parents[2] / "constraints" / "releases.toml"


# -- the rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2025, 5, 20), 12, D(2026, 5, 20)),
        (D(2025, 11, 30), 3, D(2026, 2, 28)),  # across a year end, into a short month
        (D(2025, 12, 15), 1, D(2026, 1, 15)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),  # a leap day a year on
        (D(2023, 3, 31), 11, D(2024, 2, 29)),  # into a leap February
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
    ],
)
def test_add_months(day: D, months: int, expected: D) -> None:
    assert add_months(day, months) == expected


def test_a_minimum_waits_for_every_minor_it_drops() -> None:
    # PROVIDERS.rst's own example: 3.0.0 came out before 2.11.0, so providers go straight from 2.11 to 3.1
    # once 2.11 has had its 12 months (20 May 2026), although 3.0's ran out in April.
    assert allowed_from((3, 1, 0), (2, 11, 0), FIRST) == (D(2026, 5, 20), "2.11")
    assert allowed_from((3, 0, 0), (2, 11, 0), FIRST) == (D(2026, 5, 20), "2.11")
    assert allowed_from((3, 1, 0), (3, 0, 0), FIRST) == (D(2026, 4, 22), "3.0")
    assert allowed_from((3, 3, 0), (2, 11, 0), FIRST) == (D(2027, 4, 7), "3.2")
    assert allowed_from((2, 11, 0), (2, 11, 0), FIRST) is None


def _data(**overrides: Any) -> dict[str, Any]:
    data = {
        "first_release": {m: d.isoformat() for m, d in FIRST.items()},
        "provider": {
            "distribution": "apache-airflow-providers-standard",
            "version": "1.21.0",
            "requires_airflow": ">=2.11.0",
            "sha256": "0" * 64,
            "minimums": {},
        },
        "trace": {"commit": "0" * 40, "tests": {}, "functions": []},
        "evidence": {"source": "none", "releases": {}},
    }
    return data | overrides


@pytest.mark.parametrize(("as_of", "allowed"), [(D(2026, 9, 24), False), (D(2026, 9, 25), True)])
def test_the_rule_allows_a_minimum_from_its_day_on(as_of: D, allowed: bool) -> None:
    report = policy((3, 2, 0), as_of, _data())
    assert (report.allowed_from, report.limited_by, report.allowed) == ("2026-09-25", "3.1", allowed)


def test_the_provider_minimum_is_where_the_rule_starts() -> None:
    data = _data()
    data["provider"]["requires_airflow"] = ">=3.0.0"  # 2.11 already dropped: only 3.0's date counts
    assert policy((3, 1, 0), D(2026, 5, 1), data).allowed_from == "2026-04-22"


# -- the provider: version flags -----------------------------------------------------------------------


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


@pytest.mark.parametrize(
    ("test", "minimum", "expected"),
    [
        ("AIRFLOW_V_3_0_PLUS", (3, 0, 0), True),
        ("AIRFLOW_V_3_0_PLUS", (2, 11, 0), None),
        ("not AIRFLOW_V_3_0_PLUS", (3, 1, 0), False),
        ("version_compat.AIRFLOW_V_3_2_PLUS", (3, 2, 0), True),
        ("AIRFLOW_V_3_1_3_PLUS", (3, 1, 0), None),  # a patch-level flag: 3.1.0 to 3.1.2 lack it
        ("AIRFLOW_V_3_1_3_PLUS", (3, 2, 0), True),
        ("AIRFLOW_V_3_0_1", (3, 0, 0), None),  # exactly 3.0.1
        ("AIRFLOW_V_3_0_1", (3, 1, 0), False),
        ("paused and AIRFLOW_V_3_0_PLUS", (3, 0, 0), None),
        ("paused and AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_2_PLUS", (3, 2, 0), False),
        ("paused or AIRFLOW_V_3_0_PLUS", (3, 0, 0), True),
        ("not (AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_2_PLUS)", (3, 0, 0), None),
        ("AIRFLOW_HOME", (3, 3, 0), None),
    ],
)
def test_settled(test: str, minimum: tuple[int, int, int], expected: bool | None) -> None:
    assert settled(_expr(test), minimum) is expected


OPERATOR = """\
class Operator:
    def execute(self, context):
        if AIRFLOW_V_3_0_PLUS:
            self._af_3(context)
        else:
            self._af_2(context)

    def _af_3(self, context):
        return 3

    def _af_2(self, context):
        return _orm_helper(context)

    def link(self):
        if AIRFLOW_V_3_0_PLUS:
            return "new"
        query = "old"
        return query


def _orm_helper(context):
    return context


def _shared():
    return 1


x = 1 if AIRFLOW_V_3_0_PLUS else _shared()
y = _shared()
"""

TESTS = """\
import pytest


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 2 only")
def test_af2():
    assert True


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 3 only")
def test_af3():
    assert True
"""


def test_provider_figures_count_branches_helpers_and_skipped_tests() -> None:
    sources = {"operators/trigger_dagrun.py": OPERATOR, "tests/test_trigger_dagrun.py": TESTS}
    groups = {"operator": "^operators/", "tests": "^tests/"}
    figures = provider_figures(sources, (3, 0, 0), groups)
    operator, tests = figures["operator"], figures["tests"]
    # else branch (2 lines: `else:` is not counted, its body is 1), _af_2 (2), _orm_helper (2) and the two
    # lines after link's settled early return; _shared stays (y uses it).
    assert operator.functions == [
        "operators/trigger_dagrun.py::_af_2",
        "operators/trigger_dagrun.py::_orm_helper",
    ]
    assert operator.lines == 1 + 2 + 2 + 2
    assert operator.sites == 3  # two ifs and a conditional expression
    assert (tests.lines, tests.sites) == (3, 2)  # test_af2 with its decorator; test_af3's marker goes
    assert provider_figures(sources, (2, 11, 0), groups)["operator"].lines == 0


# -- this package: the registry and the trace ----------------------------------------------------------


def test_dead_modules_are_imported_by_no_live_module() -> None:
    graph = import_graph(PACKAGE_DIR)
    for minimum in candidate_minimums():
        paths = {e.airflow: {e.path, "durable"} for e in REGISTRY}  # stock's path, and durable on every row
        live = set().union(*(p for r, p in paths.items() if r.high > minimum))
        code = dead_code(set().union(*paths.values()) - live)
        for module in code.modules:
            importers = {m for m, imports in graph.items() if module in imports}
            assert importers <= set(code.modules), (minimum, module, importers)
        for strategy, importers in code.kept.items():  # kept: a live module still imports it
            assert importers and f"_strategies/{strategy}.py" not in code.modules


def _row(low: tuple[int, int, int]) -> str:
    return str(next(e.airflow for e in REGISTRY if e.airflow.low == low))


def test_tests_and_functions_are_attributed_by_the_rows_they_resolved() -> None:
    af2, af30, af33 = _row((2, 11, 0)), _row((3, 0, 0)), _row((3, 3, 0))
    trace = {
        "functions": [
            {"name": "_durable.py:run", "lines": 5, "callers": []},  # 0: every case
            {"name": "_durable.py:without_store", "lines": 20, "callers": [0]},  # 1: old cases only
            {"name": "_durable.py:helper", "lines": 4, "callers": [1]},  # 2: only without_store calls it
            {"name": "_execute.py:entry", "lines": 9, "callers": []},  # 3: old cases, called by tests only
            {"name": "_orm.py:trigger", "lines": 10, "callers": [3]},  # 4: a module the minimum drops
            {"name": "_version.py:parse", "lines": 5, "callers": []},  # 5: a case that resolved no row
        ],
        "tests": {
            "test_a.py::test_old": {"lines": 7, "cases": [[[af2], [0, 1, 2, 3, 4]], [[af30], [0, 1, 2, 5]]]},
            "test_a.py::test_new": {"lines": 9, "cases": [[[af2, af33], [0]]]},
            "test_a.py::test_param": {"lines": 4, "cases": [[[af2], [0]], [[af33], [0]]]},
            "test_b.py::test_no_row": {"lines": 3, "cases": [[[], [5]]]},
        },
    }
    found = traced((3, 2, 0), trace, skip_modules={"_orm.py"})
    # run goes on kept versions without reaching without_store; helper goes with it; entry is only
    # called by tests, so the trace cannot say whether kept versions need it.
    assert found.functions == {"_durable.py:without_store": 20, "_durable.py:helper": 4}
    assert found.tests == {"test_a.py::test_old": "every case", "test_a.py::test_param": "1 of 2 cases"}
    assert found.test_lines == 7
    # Below 3.0 only the 2.11 cases go, and without_store still runs in test_old's 3.0 case.
    at_3_0 = traced((3, 0, 0), trace)
    assert at_3_0.tests == {"test_a.py::test_old": "1 of 2 cases", "test_a.py::test_param": "1 of 2 cases"}
    assert (at_3_0.functions, at_3_0.test_lines) == ({}, 0)


# -- the shipped data and the report -------------------------------------------------------------------


def test_the_shipped_dates_and_provider_are_those_of_releases_toml() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    matrix = tomllib.loads(RELEASES_TOML.read_text())
    data = json.loads(DATA_FILE.read_text())
    assert data["first_release"] == matrix["first_release"]
    assert data["provider"]["version"] == matrix["provider_standard"]


def test_the_report_for_3_3_removes_what_only_older_versions_run() -> None:
    data = load_data()
    report = policy((3, 3, 0), D(2026, 12, 2), data)
    assert not report.allowed and report.allowed_from == "2027-04-07"
    # 3.3's row keeps runner_exception (stock's path) and durable (on every row): only airflow2 goes.
    assert set(report.dead_strategies) == {"airflow2"}
    operator = report.provider["removes"]["operator"]
    assert operator["lines"] > 0 and any("_trigger_dag_af_2" in f for f in operator["functions"])
    assert report.users_lose[0]["airflow"] == str(REGISTRY[-1].airflow)  # oldest first


def test_every_dropped_version_has_evidence_or_its_declared_differences() -> None:
    for minimum in candidate_minimums()[1:]:
        for lost in policy(minimum, D(2026, 12, 2), load_data()).users_lose:
            assert lost["measured"] or lost["declared_differences"], lost


def test_markdown_names_the_rule_the_dates_and_the_command() -> None:
    data = load_data()
    reports = [policy(m, D(2026, 12, 2), data) for m in candidate_minimums()]
    text = markdown(reports, data)
    assert "12 months" in text and "2.11.0 2025-05-20" in text
    assert "On 2026-12-02 the rule allows `>=3.2` (since 2026-09-25); `>=3.3` from 2027-04-07." in text
    assert "`python -m airflow_trigger_compat policy --as-of 2026-12-02`" in text
    assert "n/a" not in text
    assert json.loads(json.dumps([r.as_json() for r in reports]))


def test_markdown_names_the_accessors_floor_once_a_task_sdk_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_data()
    reports = [policy(m, D(2026, 12, 2), data) for m in candidate_minimums()]
    assert "The accessor `ti.trigger_dag_run()`: proposed (apache/airflow#69135)" in markdown(reports, data)
    monkeypatch.setattr(_policy, "ACCESSOR_FLOOR", "1.5.0")
    assert "`ti.trigger_dag_run()`: from apache-airflow-task-sdk 1.5.0" in markdown(reports, data)


def test_policy_module_imports_nothing_from_airflow() -> None:
    tree = ast.parse((PACKAGE_DIR.parent / "_policy.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.split(".")[0] == "airflow"]

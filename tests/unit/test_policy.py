"""The policy report's figures come from the registry and the code, and follow the code when it changes."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

import airflow_trigger_compat
from airflow_trigger_compat._policy import (
    PACKAGE_DIR,
    candidate_minimums,
    code_lines,
    dead_code,
    dead_tests,
    import_graph,
    load_results,
    parse_minimum,
    policy,
    version_checks,
)
from airflow_trigger_compat._registry import REGISTRY, STRATEGIES, Feature

UNIT_TESTS = Path(__file__).parent


def test_code_lines_skip_blanks_and_comments_but_count_docstrings() -> None:
    text = '"""Doc."""\n\n# a comment\nx = (\n    1,  # trailing\n)\n\n    \n'
    assert code_lines(text) == 4
    assert code_lines(text, range(4, 5)) == 1


def test_import_graph_sees_relative_imports_inside_functions_and_submodule_imports() -> None:
    graph = import_graph(PACKAGE_DIR)
    assert "_durable.py" in graph["_strategies/accessor.py"]  # imported inside execute()
    assert "_strategies/runner_exception.py" in graph["_strategies/accessor.py"]  # `from . import x`
    assert "_accessor.py" in graph["_strategies/accessor.py"]  # `from .. import _accessor`
    assert "_operator.py" in graph["__init__.py"]  # the lazy __getattr__ import


def test_candidates_span_the_registry_minor_by_minor() -> None:
    minimums = candidate_minimums()
    assert minimums[0] == REGISTRY[-1].airflow.low
    assert minimums[-1] == REGISTRY[0].airflow.low
    assert (3, 1, 0) in minimums  # between two rows of one major
    assert minimums == sorted(set(minimums))


@pytest.mark.parametrize("value", ["3", "three.two", "2.10", "4.0"])
def test_parse_minimum_rejects_what_is_not_a_supported_minor(value: str) -> None:
    with pytest.raises(ValueError, match="min-airflow"):
        parse_minimum(value)


def test_current_minimum_changes_nothing() -> None:
    report = policy(REGISTRY[-1].airflow.low, tests_dir=UNIT_TESTS)
    assert report.dropped_versions is None
    assert (report.dead_strategies, report.code_lines, report.test_lines, report.features_gained) == (
        [],
        0,
        0,
        {},
    )


def test_each_minimum_follows_the_registry() -> None:
    for minimum in candidate_minimums():
        report = policy(minimum, tests_dir=UNIT_TESTS)
        remaining = [e for e in REGISTRY if e.airflow.high > minimum]
        assert set(report.dead_strategies).isdisjoint(e.strategy for e in remaining)
        for feature in report.features_everywhere:
            assert all(e.supports(Feature(feature)) for e in remaining)
        for feature, where in report.features_still_missing.items():
            assert where == [str(e.airflow) for e in remaining if not e.supports(Feature(feature))]


def test_dead_strategy_lines_are_its_module_and_the_modules_only_it_uses() -> None:
    airflow2 = dead_code(["airflow2"])
    module = PACKAGE_DIR / "_strategies" / f"{STRATEGIES['airflow2'].module}.py"
    # airflow2 and the ORM seam only its durable port uses.
    assert airflow2.modules == {
        "_strategies/airflow2.py": code_lines(module.read_text()),
        "_orm.py": code_lines((PACKAGE_DIR / "_orm.py").read_text()),
    }
    # runner_exception's durable path is accessor's, so neither can go alone.
    accessor = dead_code(["accessor"])
    assert accessor.modules == {}
    assert accessor.kept == {"accessor": ["_strategies/runner_exception.py"]}


def test_a_strategy_a_live_one_imports_is_kept_not_counted() -> None:
    code = dead_code(["runner_exception"])
    assert code.modules == {}
    assert code.kept == {"runner_exception": ["_strategies/accessor.py"]}


def test_release_checks_that_a_minimum_settles_are_listed(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "_probe.py").write_text("def f(v):\n    return v.release < (3, 1, 0) or v.release >= (3, 3)\n")
    assert not [c for c in version_checks((3, 0, 0), package) if c.startswith("_probe.py")]
    settled = [c for c in version_checks((3, 1, 0), package) if c.startswith("_probe.py")]
    assert settled == ["_probe.py:2: v.release < (3, 1, 0)"]


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    package, tests = tmp_path / "airflow_trigger_compat", tmp_path / "tests"
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(UNIT_TESTS, tests, ignore=shutil.ignore_patterns("__pycache__"))
    return package, tests


def test_figures_follow_the_code(tmp_path: Path) -> None:
    package, tests = _copy(tmp_path)
    before = policy((3, 0, 0), package_dir=package, tests_dir=tests)

    strategy = package / "_strategies" / "airflow2.py"
    strategy.write_text(strategy.read_text() + "\nEXTRA = 1  # one more line of code\n\n# and a comment\n")
    (tests / "test_airflow2.py").write_text("def test_mirrors_the_module():\n    assert True\n")
    (tests / "test_more.py").write_text(
        "from airflow_trigger_compat._strategies.airflow2 import OrmPort\n\n\n"
        "def test_uses_it():\n    assert OrmPort\n\n\n"
        "def test_other():\n    assert True\n"
    )
    after = policy((3, 0, 0), package_dir=package, tests_dir=tests)

    assert after.code_lines == before.code_lines + 1
    assert after.test_lines == before.test_lines + 2 + 2
    assert "test_airflow2.py (mirrors _strategies/airflow2.py)" in after.test_items
    assert "test_more.py::test_uses_it (uses OrmPort)" in after.test_items


def test_test_rules_release_literals(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\n\n"
        '@pytest.mark.parametrize("v", ["2.11.2", "3.0.6"])\n'
        "def test_old(v):\n    assert v\n\n\n"
        'def test_mixed():\n    assert "2.11.2" and "3.3.2"\n\n\n'
        'def test_range_check():\n    assert "2.10.5" and "2.11.0"\n\n\n'
        'def test_message():\n    assert "2.11" in ">=2.11"\n'
    )
    found = dead_tests([], (3, 1, 0), tmp_path)
    assert found.items == ["test_x.py::test_old (only Airflow 2.11.2, 3.0.6)"]
    assert found.lines == 3


def test_results_are_read_defensively(tmp_path: Path) -> None:
    (tmp_path / "behaviour-3.3.json").write_text(
        json.dumps(
            {
                "airflow": "3.3.2",
                "strategy": "accessor",
                "scenarios": {"a": {"outcome": "passed"}, "b": {"outcome": "not_applicable"}, "c": "failed"},
            }
        )
    )
    (tmp_path / "behaviour-3.2.json").write_text("{not json")
    (tmp_path / "behaviour-3.1.json").write_text(
        json.dumps({"version": "3.1.8", "scenarios": [{"name": "a", "outcome": "passed"}]})
    )
    (tmp_path / "behaviour-3.1.0.json").write_text(
        json.dumps({"airflow": "3.1.0", "scenarios": {"a": {"outcome": "passed"}}})
    )
    (tmp_path / "behaviour-latest.json").write_text("{}")
    results = load_results(tmp_path)
    assert sorted(results) == ["3.1", "3.1.0", "3.2", "3.3"]
    assert results["3.3"].outcomes == {"failed": 1, "not_applicable": 1, "passed": 1}
    assert results["3.3"].passed == ["a"]
    assert results["3.2"].problem and "unreadable" in results["3.2"].problem
    assert results["3.1"].airflow == "3.1.8"
    assert load_results(tmp_path / "missing") == {}

    report = policy((3, 2, 0), results=results)
    assert [m["minor"] for m in report.matrix] == ["3.2", "3.3"]
    rows = {m["minor"]: m["airflow"] for m in policy((3, 0, 0), results=results).matrix}
    assert (rows["3.1.0"], rows["3.1"]) == ("3.1.0", "3.1.8")  # a release's results, beside a minor's
    lost = {u["airflow"]: u for u in report.users_lose}
    assert lost[">=3.0.3,<3.2"]["scenarios_passed"] == ["a"]  # 3.1.8 and 3.1.0 ran there
    assert lost[">=3.0,<3.0.3"]["scenarios_passed"] == []


def test_policy_module_imports_nothing_from_airflow() -> None:
    for name in ("_policy.py", "_cli.py", "__main__.py"):
        tree = ast.parse((PACKAGE_DIR / name).read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.split(".")[0] == "airflow"], name


def test_report_is_json_serialisable() -> None:
    report = policy((3, 3, 0), tests_dir=UNIT_TESTS)
    assert json.loads(json.dumps(report.as_json()))["minimum"] == "3.3"
    assert airflow_trigger_compat.__version__

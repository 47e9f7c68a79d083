"""The results schema (``_results``): what every writer writes validates, any other shape is refused with
the file named, and the tables say what the documents hold."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import results as _results
from tests.results import ResultsError

ROOT = Path(__file__).resolve().parents[2]
#: Files written by real runs of the writers: `nox -s "tests(2.11.2)"`, `nox -s "bench(3.3)"`.
DATA = Path(__file__).parent / "data"


def _fields(cls: str, path: str) -> dict[str, Any]:
    """The fields of a live harness's result dataclass with their defaults, read from its source (the
    harness needs psutil and a running Airflow; the unit tests have neither)."""
    tree = ast.parse((ROOT / path).read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    fields: dict[str, Any] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            value = stmt.value
            if isinstance(value, ast.Call):  # field(default_factory=list)
                fields[stmt.target.id] = []
            else:
                fields[stmt.target.id] = ast.literal_eval(value) if value is not None else None
    return fields


def case_row(case: str, **values: Any) -> dict[str, Any]:
    """A row as the LocalExecutor harness writes it: asdict(CaseResult)."""
    variant, kill, _ = case.split("__")
    row = _fields("CaseResult", "tests/live/local_cases.py")
    row.update(case=case, variant=variant, kill=kill, parent_dag_id="p", parent_run_id="r", outcome="ok")
    return {**row, **values}


def parent_row(case: str, **values: Any) -> dict[str, Any]:
    """A row as the CeleryExecutor harness writes it: asdict(ParentResult), its kind as ``kill``."""
    variant, kind, _ = case.split("__")
    row = _fields("ParentResult", "tests/live/celery_cases.py")
    row.update(case=case, variant=variant, kind=kind, parent_dag_id="p", parent_run_id="r", map_indices=[-1])
    row.update(values)
    return {"kill": row["kind"], **row}


def behaviour(airflow: str, rows: dict[str, str], strategy: str = "airflow2", **extra: Any) -> dict[str, Any]:
    """A behavioural document: scenario -> outcome (``ok=<difference>``: passed showing that difference)."""
    out = []
    for name, outcome in rows.items():
        row: dict[str, Any] = {"name": name, "duration_s": 0.1, "outcome": outcome.split("=")[0]}
        if "=" in outcome:
            row.update(outcome="passed", declared=[outcome.split("=")[1]])
        if row["outcome"] != "passed":
            row["reason"] = f"why {name}"
        out.append(row)
    environment = {
        "python": "3.11.7",
        "package": "airflow_trigger_compat._runtime",
        "provider_standard": "1.21.0",
    }
    environment.update(executor=None, strategy=strategy)
    fields = {"suite": "behaviour", "run": "releases", "airflow": airflow, "environment": environment}
    return _results.document(**{**fields, "exitstatus": 0, "rows": out, **extra})


def live(airflow: str, rows: list[dict[str, Any]], run: str = "local", **extra: Any) -> dict[str, Any]:
    executor = "CeleryExecutor" if run == "celery" else "LocalExecutor"
    environment = {"python": "3.11.7", "package": "airflow_trigger_compat", "provider_standard": "1.21.0"}
    environment.update(executor=executor, strategy=None)
    fields = {"suite": "live", "run": run, "airflow": airflow, "environment": environment, "rows": rows}
    return _results.document(**{**fields, **extra})


def test_real_behaviour_and_bench_files_validate_and_render(tmp_path: Path) -> None:
    docs = _results.load(DATA)
    assert [(d["suite"], d["run"]) for d in docs] == [("behaviour", "releases"), ("bench", "bench")]
    (matrix, bench) = docs
    text, status = _results.matrix_table(docs)
    assert status == 0
    rows = matrix["rows"]
    passed = sum(r["outcome"] == "passed" for r in rows)
    na = sum(r["outcome"] == "not_applicable" for r in rows)
    seen = {d for r in rows for d in r.get("declared") or []}
    summary = text.splitlines()[2].split()
    strategy = matrix["environment"]["strategy"]
    assert summary[:6] == [matrix["airflow"], strategy, str(passed), str(na), "0", str(len(seen))]
    for row in rows:  # every scenario has its line, and a not_applicable one its reason below
        assert any(line.startswith(row["name"] + " ") for line in text.splitlines()), row["name"]
        if row["outcome"] == "not_applicable":
            assert f"{matrix['airflow']} {row['name']}: not_applicable: {row['reason']}" in text
    lines = "\n".join(_results.bench_lines(bench))
    for r in bench["rows"]:
        assert f"whole trigger, {r['case']:<16} shim {r['shim_us']:>8} us" in lines
    assert f"{bench['summary']['import_ms_median']} ms median" in lines
    # what write() writes, load() reads back unchanged
    again = _results.write(tmp_path / "again.json", **{k: v for k, v in matrix.items() if k != "schema"})
    assert _results.load(tmp_path / "again.json") == [again]


def test_an_older_shape_is_refused_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    shutil.copy(DATA / "behaviour-2.11.2.json", tmp_path)
    old = {
        "airflow": "3.3.2",
        "strategy": "accessor",
        "exitstatus": 0,
        "scenarios": {"a": {"outcome": "passed"}},
    }
    (tmp_path / "behaviour-3.3.2.json").write_text(json.dumps(old))
    with pytest.raises(ResultsError) as err:
        _results.load(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "behaviour-3.3.2.json") in message
    assert "schema is None" in message and "run the session that writes it again" in message
    # the script says the same and fails
    script = [sys.executable, str(ROOT / "scripts" / "results_table.py"), str(tmp_path)]
    done = subprocess.run(script, capture_output=True, text=True)
    assert done.returncode == 1 and "behaviour-3.3.2.json" in done.stderr, done


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(suite="e2e"), "suite is 'e2e'"),
        (lambda d: d.update(run="local"), "run is 'local'"),
        (lambda d: d["rows"][0].pop("outcome"), "rows[0] has no 'outcome'"),
        (lambda d: d["rows"][0].update(outcome="xfail"), "rows[0]['outcome'] is 'xfail'"),
        (lambda d: d["summary"]["outcomes"].update(passed=99), "summary does not match the rows"),
        (lambda d: d.update(scenarios={}), "unknown fields ['scenarios']"),
        (lambda d: d["environment"].pop("python"), "environment has no 'python'"),
        (lambda d: d.update(exitstatus=True), "['exitstatus'] is True"),
    ],
)
def test_a_wrong_document_is_refused(tmp_path: Path, change: Any, complaint: str) -> None:
    doc = behaviour("3.3.2", {"a": "passed", "b": "not_applicable"})
    change(doc)
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=str(path)) as err:
        _results.load(path)
    assert complaint in str(err.value)


def test_write_refuses_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "e2e-3.3.json"
    rows = [{"case": "stock__midwait__1", "variant": "stock"}]
    with pytest.raises(ResultsError, match="rows\\[0\\] has no 'kill'"):
        _results.write(path, **_live_fields(rows))
    assert not path.exists()


def _live_fields(rows: list[dict[str, Any]]) -> dict[str, Any]:
    environment = {
        "python": "3.11.7",
        "package": None,
        "provider_standard": None,
        "executor": "LocalExecutor",
    }
    environment["strategy"] = None
    return {"suite": "live", "run": "local", "airflow": "3.3.2", "environment": environment, "rows": rows}


def test_matrix_merges_identical_patch_releases_and_fails_on_a_failure() -> None:
    same = {"a": "passed", "b": "ok=invalid-input-fails-early", "c": "not_applicable"}
    docs = [
        behaviour("3.1.0", same, "runner_exception"),
        behaviour("3.1.8", same, "runner_exception"),
        behaviour("3.2.0", {**same, "c": "passed"}, "runner_exception"),
        behaviour("3.2.2", {**same, "a": "failed"}, "runner_exception", exitstatus=1),
    ]
    text, status = _results.matrix_table(docs, markdown=True)
    assert status == 1
    head = next(line for line in text.splitlines() if line.startswith("| scenario"))
    assert head.split(" | ")[1:] == [
        "3.1.0-3.1.8 (runner_exception)",
        "3.2.0 (runner_exception)",
        "3.2.2 (runner_exception) |",
    ]
    assert "| b | ok ≠[1] | ok ≠[1] | ok ≠[1] |" in text
    assert "| a | ok | ok | FAIL |" in text
    assert "≠[1]: declared difference `invalid-input-fails-early`" in text
    assert "3.2.2 a: failed: why a" in text
    assert "| 3.2.2 | runner_exception | 1 | 1 | 1 | 1 | - |" in text


def test_matrix_shows_declared_gaps_with_the_crash_test_that_runs_instead() -> None:
    declared = {"unavailable": {"3.0.3": "yanked"}, "behaviour_unavailable": {"3.0.0": "no runner"}}
    rows = [case_row("stock__midwait__1", child_runs=2), case_row("shim_durable__midwait__1", error="boom")]
    docs = [behaviour("2.11.2", {"a": "passed"}), live("3.0.0", rows)]
    text, _ = _results.matrix_table(docs, declared)
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["2.11.2", "3.0.0", "3.0.3"]
    assert (
        "no behavioural suite (declared): no runner; live crash test instead: 2 cases, 1 with an error"
        in text
    )
    assert "not installable (declared): yanked" in text


def test_crash_table_folds_repeats_and_lists_what_did_not_run() -> None:
    rows = [
        case_row(
            "stock__midwait__1", child_runs=2, parent_state="success", try_number=2, kill_to_new_child_s=4.0
        ),
        *(
            case_row(f"shim_durable__midwait__{i}", child_runs=1, parent_state="success", try_number=2)
            | {"kill_to_reconnect_s": s}
            for i, s in ((1, 3.0), (2, 5.0), (3, 10.0))
        ),
        case_row(
            "shim_durable__mapped__1", child_runs=3, children_per_index=[1, 1, 1], parent_state="success"
        ),
    ]
    not_run = [
        {
            "case": "shim_durable__winbefore",
            "variant": "shim_durable",
            "kill": "winbefore",
            "reason": "no store",
        }
    ]
    doc = live("3.1.8", rows, not_run=not_run)
    assert doc["summary"] == {"cases": 5, "errors": 0}
    text, status = _results.crash_table([doc])
    assert status == 0
    body = [line.split(" | ") for line in text.splitlines()[2:]]
    assert [(r[1], r[3], r[5]) for r in body] == [
        ("stock provider operator", "2", "4.0 |"),
        ("shim durable=True", "1+1+1", "- |"),
        ("shim durable=True", "1 / 1 / 1", "5.0 |"),  # median of 3, 5, 10
        ("shim durable=True", "not run here: no store", "- |"),
    ]
    run = _results.run_table(doc)
    assert "| shim durable=True #3 " in run and "not run here: no store" in run
    failing = live("3.1.8", [case_row("stock__clear__1", error="RuntimeError: x")])
    assert _results.crash_table([failing])[1] == 1
    assert "RuntimeError: x" in _results.run_table(failing)


def test_celery_tables_render_the_groups_and_the_load_case() -> None:
    group = {
        "case": "sigkill",
        "variant": "shim_durable",
        "child_runs_per_ti": [1],
        "parent_states": ["success"],
        "max_try": 2,
        "worker_try1": ["w1"],
        "worker_retry": ["w2"],
        "kill_to_reconnect_median_s": 12.5,
        "kill_to_retrigger_median_s": None,
    }
    load_group = group | {"case": "load", "variant": "stock", "child_runs_per_ti": [1, 2, 1, 1, 2]}
    load = {"throughput_per_min": {"stock": 3.1, "shim_durable": 3.0}, "ratio_durable_over_stock": 0.97}
    load |= {"kills": [1, 2, 3], "seed": 7}
    rows = [parent_row("shim_durable__sigkill__1", child_runs=1, parent_state="success")]
    doc = live(
        "3.3.2", rows, "celery", summary={"groups": [group, load_group], "load": load}, duration_s=400.0
    )
    text, status = _results.celery_table([doc])
    assert status == 0
    sigkill = "| 3.3.2 | 1. SIGKILL of the worker running the parent | shim durable=True | 1 |"
    assert sigkill + " success (max try 2) | w1 -> w2 | 12.5 | - |" in text
    assert "| 1 x3, 2 x2 |" in text and "| w1 and w2 |" in text
    assert "| 3.3.2 | 3.1 / 3.0 | 0.97 | - / - | - / - | - / - | 3 (seed 7) | 400.0 |" in text
    assert "durable/stock 0.97 (seed 7, 3 worker kills)" in _results.run_table(doc)
    failed = live("3.3.2", rows, "celery", summary={"groups": [], "load": {}}, error="TimeoutError: t")
    text, status = _results.celery_table([failed])
    assert status == 1 and text.endswith("ERROR 3.3.2: TimeoutError: t")


def test_it_needs_only_the_stdlib_and_no_relative_import() -> None:
    """Writers load tests/results.py by file path, in environments without this package (the providers')."""
    tree = ast.parse((ROOT / "tests" / "results.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports: writers load it by file path"
            assert node.module and node.module.split(".")[0] in sys.stdlib_module_names
        elif isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] in sys.stdlib_module_names for a in node.names)

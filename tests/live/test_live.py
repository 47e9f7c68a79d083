"""Live crash tests: kill the worker of a waiting TriggerDagRunOperator, count the child runs.

For the installed Airflow, one real deployment per executor, one after the other on one PostgreSQL
(``harness.py``): ``nox -s "live(3.3)"``, ``-- -m local`` or ``-- -m celery`` for one executor.

LocalExecutor (``local``, ``local_cases.py``: every case at once on one scheduler): ``expected()`` is what
each case must end with, stock's duplicate included (one child run per try: durability is opt-in);
``durable=True`` makes 1 child run in every kill case. Only the selected tests' cases run (``-k
durable``). Results: ``results/e2e-<minor>.json`` (or ``E2E_RESULTS``); ``E2E_SHIM_PACKAGE`` /
``E2E_SHIM_OPERATOR`` run the shim cases through a provider's vendored copy (see the DAG file).

CeleryExecutor (``celery``, ``celery_cases.py``: Redis, two workers, four cases one after the other):
``test_celery_case``; results in ``results/celery-<minor>.json`` (or ``CELERY_RESULTS``).
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import celery_cases
import harness
import local_cases

pytestmark = pytest.mark.e2e

MINOR = os.environ.get("E2E_AIRFLOW_MINOR") or ".".join(
    importlib.metadata.version("apache-airflow").split(".")[:2]
)
REPEATS = int(os.environ.get("E2E_REPEATS", "3"))
VERSION = tuple(int(x) for x in MINOR.split("."))
# One test per (variant, kill) any version runs; one this version lacks is skipped (local_cases.NOT_RUN).
GROUPS = local_cases.groups()
CELERY_GROUPS = [(k, v) for k in celery_cases.KILL_KINDS for v in celery_cases.VARIANTS]
CELERY_GROUPS += [("load", v) for v in celery_cases.LOAD_VARIANTS]
#: case -> (worker that ran try 1, worker that ran the retry); see CeleryRun.run
WORKER_CASES = {"sigkill": ("w1", "w2"), "sigterm": ("w2", "w1")}


@pytest.fixture(scope="session")
def postgres() -> Iterator[harness.Postgres]:
    """One PostgreSQL for both executors' runs, migrated once (started when a run needs it)."""
    pg = harness.Postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest, postgres: harness.Postgres) -> dict[str, Any]:
    selected = [
        (item.callspec.params["variant"], item.callspec.params["kill"])
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_crash_case"
    ]
    shim = harness.shim_installed()
    every = local_cases.cases(MINOR, shim, REPEATS)
    cases = {c: s for c, s in every.items() if tuple(c.split("__")[:2]) in selected}
    if not cases:
        pytest.fail(f"none of {sorted(selected)} can run here: is {harness.SHIM_PACKAGE} importable?")
    out = harness.REPO / os.environ.get("E2E_RESULTS", f"results/e2e-{MINOR}.json")
    not_run = local_cases.absences(MINOR, selected)
    return harness.run_version("local", MINOR, cases, out, postgres, not_run=not_run)


@pytest.fixture(scope="module")
def celery_report(postgres: harness.Postgres) -> dict[str, Any]:
    if (reason := celery_cases.not_run_reason()) is not None:
        pytest.skip(f"not run on this Airflow release: {reason}")
    if not harness.shim_installed():
        pytest.fail("airflow_trigger_compat is not importable in this environment")
    out = harness.REPO / os.environ.get("CELERY_RESULTS", f"results/celery-{MINOR}.json")
    return harness.run_version("celery", MINOR, celery_cases.cases(), out, postgres)


def _task_sdk_has_accessor() -> bool:
    """Whether the installed Task SDK has ``ti.trigger_dag_run()`` (apache/airflow#69135; nox -s accessor).

    Read from the Task SDK's protocol file, without importing Airflow into the test process."""
    try:
        types = importlib.metadata.distribution("apache-airflow-task-sdk").locate_file("airflow/sdk/types.py")
        return "def trigger_dag_run(" in Path(str(types)).read_text()
    except (importlib.metadata.PackageNotFoundError, OSError):  # Airflow 2: no Task SDK
        return False


ACCESSOR = _task_sdk_has_accessor()
#: Kills after which try 1 has polled its child run (the harness acts once the try's log shows a poll).
POLLED_IN_TRY1 = {
    "midwait",
    "workerkill",
    "doublekill",
    "mapped",
    "childfail",
    "clear",
    "clearwait",
    "recreate",
}


def check_who_waited(variant: str, kill: str, case: dict[str, Any]) -> None:
    """With the accessor, durable=True's try 1 triggers and waits in execute() (the operator's own poll
    lines, no DagRunTriggerException, none of the runner's poll lines); stock and durable=False take the
    runner's path there, as on every released Task SDK. ``clear`` and ``recreate``: a clean try 1."""
    seen = case["try1_log"]
    if variant == "shim_durable":
        assert (seen["runner_polls"], seen["DagRunTriggerException"]) == (0, 0), (case["case"], seen)
        assert seen["operator_polls"] >= (1 if kill in POLLED_IN_TRY1 else 0), (case["case"], seen)
    elif kill in POLLED_IN_TRY1:
        assert seen["runner_polls"] >= 1 and seen["operator_polls"] == 0, (case["case"], seen)


#: Task processes each kind SIGKILLs (2.11 fails each through one zombie callback).
KILLS = {"midwait": 1, "winbefore": 1, "winafter": 1, "doublekill": 2, "mapped": 2}


def expected(variant: str, kill: str) -> tuple[str, int, int]:
    """(parent state, try number, child runs) after the kill, for this Airflow."""
    if MINOR == "3.0" and kill == "midwait":
        # Airflow 3.0's supervisor reports a SIGKILLed task process as failed, ignoring retries
        # (task-sdk 1.0.6 final_state; 3.1 added up_for_retry): no try 2, so no duplicate either.
        return ("failed", 1, 1)
    if kill == "mapped":  # index 0 (killed); the per-index counts are asserted in test_crash_case
        return ("success", 2, 3 if variant == "shim_durable" else 5)
    if kill == "clearwait":
        # Whether Airflow raised max_tries for this clear decides it; see clearwait_children().
        return ("success", 2, 2)
    if kill == "clear":
        return ("success", 2, 2)  # the cleared task triggers a fresh child, durable or not
    if kill == "recreate":
        return ("success", 1, 2)  # the recreated run's task triggers its own child, durable or not
    if kill == "childfail":
        if (3, 0) <= VERSION < (3, 3):
            # the 3.0-3.2 runner fails the parent without retry; durable=True's try 1 is the runner's too
            return ("failed", 1, 1)
        return ("success", 2, 2)
    tries = 3 if kill == "doublekill" else 2
    if variant == "shim_durable":
        return ("success", tries, 1)  # every retry reconnects (or triggers the run_id try 1 meant)
    return ("success", tries, tries)  # stock and durable=False: each retry triggers a duplicate


def durable_decision(kill: str) -> str | None:
    """What a durable=True retry's task log must show it did (harness.RECONNECT_EVENTS), or None: not
    checked. Every kill after the trigger (the runner's wait in try 1, its trigger in winafter) leaves a run
    try 2 reconnects to and waits on; ``doublekill``'s try 3 then reconnects to the same run. ``winbefore``:
    nothing was triggered, so try 2 triggers the kept run_id (2.11 logs no line for that)."""
    if kill in ("midwait", "workerkill", "winafter", "doublekill", "mapped"):
        return "reconnect"
    if kill == "winbefore" and VERSION >= (3, 0):
        return "triggered"
    return None


def clearwait_children(variant: str, case: dict[str, Any]) -> int:
    """Child runs after a clear while the task waits: durable reads max_tries as the clear marker. 2.11
    keeps it (RESTARTING, a retry): durable reconnects (declared: durable-clear-while-waiting-reconnects).
    3.x raises it when the scheduler sees RESTARTING with the executor's SUCCESS before the task's failure
    report (scheduler_job_runner, "cleared and successfully terminated"), a race: then 2 children, as stock.
    """
    before, after = case["max_tries_before_clear"], case["max_tries_after_clear"]
    assert before is not None and after is not None, case
    if VERSION < (3, 0):
        assert after == before, f"2.11 raised max_tries for a running task's clear: {case}"
    if variant == "shim_durable" and after == before:
        return 1
    return 2


@pytest.mark.local
@pytest.mark.parametrize(("variant", "kill"), GROUPS, ids=[f"{v}-{k}" for v, k in GROUPS])
def test_crash_case(request: pytest.FixtureRequest, variant: str, kill: str) -> None:
    reason = local_cases.not_run_reason(MINOR, variant, kill)
    if reason is not None:
        pytest.skip(f"not run on Airflow {MINOR}: {reason}")
    report: dict[str, Any] = request.getfixturevalue("report")
    assert report["shim_installed"], f"{harness.SHIM_PACKAGE} is not installed in this environment"
    cases = [c for c in report["cases"] if c["variant"] == variant and c["kill"] == kill]
    assert cases, f"no {variant} {kill} case ran"
    state, try_number, child_runs = expected(variant, kill)
    for case in cases:
        assert case["error"] is None, case
        if kill == "clearwait":
            child_runs = clearwait_children(variant, case)
        assert case["child_runs"] == child_runs, (
            f"{case['case']}: {case['child_runs']} child runs for parent run {case['parent_run_id']}, "
            f"expected {child_runs}: {case['child_run_ids']}"
        )
        if VERSION < (3, 0):
            assert case["zombie_detections"] == KILLS.get(kill, 0), (
                f"{case['case']}: Airflow 2.11 sent {case['zombie_detections']} zombie callbacks for "
                f"{KILLS.get(kill, 0)} kill(s); each extra one fails a later try (apache/airflow#42553): "
                "raise the harness's ZOMBIE_DETECTION_INTERVAL_S"
            )
        assert (case["parent_state"], case["try_number"]) == (state, try_number), (
            f"{case['case']}: parent {case['parent_state']} on try {case['try_number']}, expected {state} "
            f"on try {try_number}; the last try's log ends:\n" + "\n".join(case["last_try_log_tail"])
        )
        if kill == "mapped":
            per_index = [1, 1, 1] if variant == "shim_durable" else [2, 2, 1]
            assert case["children_per_index"] == per_index, case
            assert case["tries_per_index"] == [2, 2, 1], case
        if variant == "shim_durable":
            # A generated run_id: durable works on every version, so it never warns.
            assert case["durable_warning_logged"] is False, case
            # What the retry did with the run try 1 kept (its task log; DECISIONS)
            if (want := durable_decision(kill)) is not None:
                assert case["durable_decision"] == want, (
                    f"{case['case']}: try 2 decided {case['durable_decision']!r}, expected {want!r}"
                )
        if ACCESSOR:
            check_who_waited(variant, kill, case)
        if case["window_child_run_id"]:
            # The one child run is the run_id try 1 stored (window a) or triggered (window b).
            assert case["child_run_ids"] == [case["window_child_run_id"]], case


@pytest.mark.celery
def test_every_celery_case_ran(celery_report: dict[str, Any]) -> None:
    assert celery_report["error"] is None, celery_report["error"]
    assert {(p["kind"], p["variant"]) for p in celery_report["parents"]} == set(CELERY_GROUPS)


@pytest.mark.celery
@pytest.mark.parametrize(("kind", "variant"), CELERY_GROUPS, ids=[f"{k}-{v}" for k, v in CELERY_GROUPS])
def test_celery_case(celery_report: dict[str, Any], kind: str, variant: str) -> None:
    parents = [p for p in celery_report["parents"] if p["kind"] == kind and p["variant"] == variant]
    assert parents, f"no {variant} parent ran the {kind} case: {celery_report['error']}"
    for p in parents:
        assert p["error"] is None, p
        assert p["parent_state"] == "success", p
        # no hang: final within child + heartbeat timeout + 2 retries of the (last) kill
        assert p["final_after_kill_s"] is not None and p["final_after_kill_s"] <= p["bound_s"], p
        if variant == "shim_durable":
            assert p["child_runs_per_index"] == [1] * len(p["map_indices"]), p
        # every execution a worker logged is a try or a stuck-in-queued requeue, never a message the
        # broker delivered again (acks_late: a killed worker's messages wait for the visibility timeout)
        tries = sum(t or 0 for t in p["tries_per_index"])
        assert p["deliveries"] <= tries + (p["stuck_in_queued_parent"] or 0), p
        if kind in WORKER_CASES:
            assert (p["worker_try1"], p["worker_retry"]) == WORKER_CASES[kind], p
            assert p["tries_per_index"] == [2], p
            # stock and durable=False trigger once per try: the retry's child is the duplicate
            assert p["child_runs"] == (1 if variant == "shim_durable" else 2), p
        elif kind == "schedkill":
            # no task died: the restarted scheduler adopts the running try, nothing is triggered twice
            assert (p["tries_per_index"], p["child_runs"]) == ([1], 1), p
        elif variant != "shim_durable":  # load, stock: one child per try at most (a try may die first)
            for n, tries in zip(p["child_runs_per_index"], p["tries_per_index"], strict=True):
                assert 1 <= n <= (tries or 0), p
    if kind == "load":
        tries = [t or 0 for p in parents for t in p["tries_per_index"]]
        assert max(tries) >= 2, f"no {variant} load parent was ever killed: {tries}"
        if variant == "stock":
            dupes = sum(1 for p in parents for n in p["child_runs_per_index"] if n > 1)
            assert dupes > 0, "the faults never hit a waiting stock parent after its trigger"

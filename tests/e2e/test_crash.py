"""Live crash test: SIGKILL the task process of a waiting TriggerDagRunOperator, count the child runs.

Starts one real Airflow (scheduler + LocalExecutor) for the installed version and runs every case
against it concurrently (see ``harness.py``). Run through nox: ``nox -s "e2e(3.3)"``.

Expected, and asserted:

* stock provider operator: 2 child runs for one parent run (the duplicate this package fixes);
* shim ``durable=False``: the same 2 (durability is opt-in);
* shim ``durable=True`` on every version: exactly 1 child run in every kill case, whether the worker
  dies mid-wait, right after the trigger call, (3.3) after the run_id was stored but before the trigger
  call, or in try 1 and again in try 2 (stock: 3);
* a child that fails on its first run only: the durable parent retries and succeeds with a fresh child
  (2 child runs) on every version; stock does the same except on 3.0-3.2, whose runner fails the parent;
* a mapped parent (3 indices, each with its own conf; indices 0 and 1 killed mid-wait): durable makes
  one child run per index, stock 2 for each killed index;
* a task cleared while it waits (not on 3.0, whose cleared running task did not rerun): stock's rerun
  triggers a second child; durable reconnects (1 child run, the declared difference
  ``durable-clear-while-waiting-reconnects``) on 2.11 and 3.3, where the clear keeps ``max_tries``, and
  triggers a second child as stock on 3.1 and 3.2, where it raises it;
* a task cleared (REST API; the CLI on 2.11) after it succeeded triggers again: 2 child runs, as stock;
* a parent run that succeeded, deleted (REST API; the ORM on 2.11) and triggered again under the same
  run_id: the new run triggers its own child (2 child runs, the new run's try 1), as stock;
* Airflow 3.0 with only the task process killed: no retry at all (its supervisor's own behaviour).

Only the cases of the selected tests run (``-k durable``: the durable cases alone). The table is printed
and written to ``results/e2e-<minor>.json``, or to ``E2E_RESULTS``. ``E2E_SHIM_PACKAGE`` and
``E2E_SHIM_OPERATOR`` run the shim cases through a provider's vendored copy (see the DAG file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

pytestmark = pytest.mark.e2e


def _minor() -> str:
    minor = os.environ.get("E2E_AIRFLOW_MINOR")
    if minor:
        return minor
    major, min_, *_ = harness.airflow_version(sys.executable).split(".")
    return f"{major}.{min_}"


MINOR = _minor()
REPEATS = int(os.environ.get("E2E_REPEATS", "3"))
VERSION = tuple(int(x) for x in MINOR.split("."))
# One test per (variant, kill) any version runs. One this version lacks is skipped with the reason declared
# in harness.NOT_RUN: pytest counts it as skipped, never as passed, and the results JSON lists it under
# "not_run" (scripts/results_table.py: "not run here: <reason>").
GROUPS = harness.groups()


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    selected = [
        (item.callspec.params["variant"], item.callspec.params["kill"])
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_crash_case"
    ]
    shim = harness.shim_installed(sys.executable)
    cases = [c for c in harness.case_ids(MINOR, REPEATS, shim) if tuple(c.split("__")[:2]) in selected]
    if not cases:
        pytest.fail(f"none of {sorted(selected)} can run here: is {harness.SHIM_PACKAGE} importable?")
    out = harness.REPO / os.environ.get("E2E_RESULTS", f"results/e2e-{MINOR}.json")
    not_run = harness.absences(MINOR, selected)
    return harness.run_version(MINOR, repeats=REPEATS, out=out, only=cases, not_run=not_run)


#: Task processes each kind SIGKILLs (2.11 fails each through one zombie callback).
KILLS = {"midwait": 1, "winafter": 1, "doublekill": 2, "mapped": 2}


def expected(variant: str, kill: str) -> tuple[str, int, int]:
    """(parent state, try number, child runs) after the kill, for this Airflow."""
    if not harness.retry_expected(MINOR, kill):
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
        if variant != "shim_durable" and (3, 0) <= VERSION < (3, 3):
            return ("failed", 1, 1)  # the 3.0-3.2 runner fails the parent without retry
        return ("success", 2, 2)
    tries = 3 if kill == "doublekill" else 2
    if variant == "shim_durable":
        return ("success", tries, 1)  # every retry reconnects (or triggers the run_id try 1 meant)
    return ("success", tries, tries)  # stock and durable=False: each retry triggers a duplicate


def clearwait_children(variant: str, case: dict[str, Any]) -> int:
    """Child runs after a clear while the task waits: durable reads max_tries as the clear marker.

    2.11 always keeps max_tries for a running task's clear (RESTARTING, then a retry), so durable
    reconnects (declared: durable-clear-while-waiting-reconnects). On 3.x it is a race inside Airflow:
    the scheduler raises max_tries when it sees RESTARTING with the executor's SUCCESS first
    (scheduler_job_runner, "cleared and successfully terminated"); the task's own failure report first
    keeps it. Raised, durable triggers a second child, as stock does; kept, it reconnects.
    """
    before, after = case["max_tries_before_clear"], case["max_tries_after_clear"]
    assert before is not None and after is not None, case
    if VERSION < (3, 0):
        assert after == before, f"2.11 raised max_tries for a running task's clear: {case}"
    if variant == "shim_durable" and after == before:
        return 1
    return 2


@pytest.mark.parametrize(("variant", "kill"), GROUPS, ids=[f"{v}-{k}" for v, k in GROUPS])
def test_crash_case(request: pytest.FixtureRequest, variant: str, kill: str) -> None:
    reason = harness.not_run_reason(MINOR, variant, kill)
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
        if case["window_child_run_id"]:
            # The one child run is the run_id try 1 stored (window a) or triggered (window b).
            assert case["child_run_ids"] == [case["window_child_run_id"]], case

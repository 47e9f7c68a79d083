"""Crash test on CeleryExecutor: workers and the scheduler killed while parents wait; child runs counted.

Starts one real distributed Airflow (PostgreSQL, Redis, scheduler, two Celery workers; see
``celery_harness.py``) and runs the four cases one after the other. Run through nox:
``nox -s "celery(3.3)"``. The table is printed and written to ``results/celery-<minor>.json`` (or
``CELERY_RESULTS``).

Expected, and asserted, on every version:

* ``durable=True``: exactly one child run per parent (per map index) in every case;
* the worker cases (SIGKILL, and SIGTERM followed by SIGKILL after the grace period): try 1 ran on the
  killed worker, the retry (try 2) on the other one; the stock operator and ``durable=False`` trigger one
  child per try, so 2 (the duplicate); ``durable=True`` reconnects, 1;
* the scheduler's SIGKILL and restart kills no task: the restarted scheduler adopts the running task
  instances, no try is lost and every operator has one child run;
* the load case: every parent succeeds and ``durable=True`` has one child per task instance while the
  workers die every 10-20 s; the stock operator has at most one child per try, and at least one
  duplicate (otherwise the faults never hit a waiting parent and the case proved nothing);
* no hang: every parent reaches a final state within child duration + heartbeat timeout + two retries
  of its (last) kill;
* no redelivery: every execution the workers logged for a parent is one of its tries or a requeue by
  Airflow's stuck-in-queued check.

The throughput of the load case (parents finished per minute, durable over stock) is a reported figure,
not an assertion.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import celery_harness as ch

pytestmark = pytest.mark.e2e

MINOR = os.environ.get("E2E_AIRFLOW_MINOR") or ".".join(ch.h.airflow_version(sys.executable).split(".")[:2])
GROUPS = [(k, v) for k in ch.KILL_KINDS for v in ch.VARIANTS] + [("load", v) for v in ch.LOAD_VARIANTS]
#: case -> (worker that ran try 1, worker that ran the retry); see CeleryRun.run
WORKER_CASES = {"sigkill": ("w1", "w2"), "sigterm": ("w2", "w1")}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if not ch.h.shim_installed(sys.executable):
        pytest.fail("airflow_trigger_compat is not importable in this environment")
    out = ch.h.REPO / os.environ.get("CELERY_RESULTS", f"results/celery-{MINOR}.json")
    return ch.run_version(MINOR, out)


def _parents(report: dict[str, Any], kind: str, variant: str) -> list[dict[str, Any]]:
    return [p for p in report["parents"] if p["kind"] == kind and p["variant"] == variant]


def test_every_case_ran(report: dict[str, Any]) -> None:
    assert report["error"] is None, report["error"]
    ran = {(p["kind"], p["variant"]) for p in report["parents"]}
    assert ran == set(GROUPS)


@pytest.mark.parametrize(("kind", "variant"), GROUPS, ids=[f"{k}-{v}" for k, v in GROUPS])
def test_case(report: dict[str, Any], kind: str, variant: str) -> None:
    parents = _parents(report, kind, variant)
    assert parents, f"no {variant} parent ran the {kind} case: {report['error']}"
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
            first, retry = WORKER_CASES[kind]
            assert (p["worker_try1"], p["worker_retry"]) == (first, retry), p
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

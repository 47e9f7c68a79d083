"""Decisions of the durable job. With Airflow 3.3+ installed the real ``ResumableJobMixin`` drives the
job; without it, ``_mixin_contract`` replays the mixin's documented contract (Airflow's side, faked)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_trigger_compat._durable import STATE_KEY, DagRunJob, run_durable
from airflow_trigger_compat._request import build_request

from .conftest import Failed, FakeOperator, FakePort, FakeStore, Skipped, selection_for


def _has_real_mixin() -> bool:
    try:
        from airflow.sdk import ResumableJobMixin  # noqa: F401
    except ImportError:
        return False
    return True


def _mixin_contract(job: DagRunJob, store: FakeStore) -> Any:
    """ResumableJobMixin.execute_resumable as documented in Airflow 3.3 (durable=True)."""
    external_id = store.get(job.external_id_key)
    if external_id:
        status = job.get_job_status(external_id, {})
        if job.is_job_active(status):
            return job.poll_until_complete(external_id, {})
        if job.is_job_succeeded(status):
            return job.get_job_result(external_id, {})
    external_id = job.submit_job({})
    store.set(job.external_id_key, external_id)
    job.poll_until_complete(external_id, {})
    return job.get_job_result(external_id, {})


def run(port: FakePort, store: FakeStore, **overrides: Any) -> None:
    overrides.setdefault("poke_interval", 1)
    overrides.setdefault("wait_for_completion", True)
    overrides.setdefault("durable", True)
    request = build_request(FakeOperator(**overrides), selection_for("3.3.2"))
    if _has_real_mixin():
        run_durable(request, port, {"task_state_store": store})
    else:
        _mixin_contract(DagRunJob(request, port, store), store)


def test_first_try_stores_run_id_before_triggering() -> None:
    port, store = FakePort(), FakeStore()
    order: list[str] = []
    original_set = store.set

    def recording_set(key: str, value: Any) -> None:
        order.append(f"store:{value}")
        original_set(key, value)

    store.set = recording_set  # type: ignore[method-assign]
    port.events = order
    port.script = ["running", "success"]
    run(port, store, trigger_run_id="r1")
    assert order[:2] == ["store:r1", "trigger:r1"]
    assert store.data[STATE_KEY] == "r1"
    assert port.triggered == [("r1", False)]
    assert port.xcoms == ["r1"]


def test_retry_reconnects_to_an_active_run_without_triggering() -> None:
    port = FakePort(existing={"old": "running"})
    port.script = ["running", "running", "success"]
    store = FakeStore({STATE_KEY: "old"})
    run(port, store)
    assert port.triggered == []
    assert port.xcoms == ["old"]
    assert len(port.slept) == 2


def test_retry_after_success_returns_at_once() -> None:
    port = FakePort(existing={"old": "success"})
    store = FakeStore({STATE_KEY: "old"})
    run(port, store)
    assert port.triggered == []
    assert port.slept == []
    assert port.xcoms == ["old"]


def test_retry_after_failed_run_triggers_fresh_run_id() -> None:
    port = FakePort(existing={"old": "failed"})
    port.script = ["failed", "success"]  # first poll: the status check of "old"
    store = FakeStore({STATE_KEY: "old"})
    run(port, store)
    ((new_id, reset),) = port.triggered
    assert new_id != "old" and new_id.startswith("manual__")
    assert not reset
    assert store.data[STATE_KEY] == new_id


def test_stored_run_that_was_never_created_is_triggered_with_the_stored_run_id() -> None:
    port = FakePort()
    port.script = []
    store = FakeStore({STATE_KEY: "stored-but-never-triggered"})
    run(port, store, allowed_states=["queued"])
    assert port.triggered == [("stored-but-never-triggered", False)]


def test_already_exists_for_own_stored_run_id_reconnects() -> None:
    """The store said the run was absent, but it appeared before the trigger (a race): it is ours."""

    class RacingPort(FakePort):
        def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
            if not self.triggered and run_id not in self.runs:
                self.runs[run_id] = "running"  # appears right after the status check
                return None
            return super().dagrun_state(dag_id, run_id)

    port = RacingPort()
    port.script = ["success"]
    store = FakeStore({STATE_KEY: "mine"})
    run(port, store)
    assert port.triggered == []
    assert port.xcoms == ["mine"]


def test_conflict_with_a_run_this_task_did_not_store_clears_the_store_and_fails() -> None:
    port = FakePort(existing={"r1": "success"})
    store = FakeStore()
    with pytest.raises(Failed, match="already exists") as info:
        run(port, store, trigger_run_id="r1")
    assert not info.value.retry
    assert STATE_KEY not in store.data  # a retry must not adopt someone else's run


def test_conflict_with_skip_when_already_exists_skips() -> None:
    port = FakePort(existing={"r1": "success"})
    store = FakeStore()
    with pytest.raises(Skipped):
        run(port, store, trigger_run_id="r1", skip_when_already_exists=True)
    assert STATE_KEY not in store.data


def test_fixed_run_id_after_failure_needs_reset() -> None:
    port = FakePort(existing={"r1": "failed"})
    store = FakeStore({STATE_KEY: "r1"})
    with pytest.raises(Failed, match="reset_dag_run=True") as info:
        run(port, store, trigger_run_id="r1")
    assert not info.value.retry
    assert port.triggered == []


def test_fixed_run_id_after_failure_with_reset_reruns_it() -> None:
    port = FakePort(existing={"r1": "failed"})
    port.script = ["failed", "success"]
    store = FakeStore({STATE_KEY: "r1"})
    run(port, store, trigger_run_id="r1", reset_dag_run=True)
    assert port.triggered == [("r1", True)]


def test_fire_and_forget_durable_does_not_poll() -> None:
    port, store = FakePort(), FakeStore()
    run(port, store, wait_for_completion=False, trigger_run_id="r1")
    assert port.slept == []
    assert store.data[STATE_KEY] == "r1"

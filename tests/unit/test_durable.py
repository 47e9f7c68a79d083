"""Decisions of the durable job. With Airflow 3.3+ installed the real ``ResumableJobMixin`` drives the
job; without it, ``_mixin_contract`` replays the mixin's documented contract (Airflow's side, faked)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from airflow_trigger_compat._runtime import _airflow
from airflow_trigger_compat._runtime._contract import derived_run_id, run_with_derived_id
from airflow_trigger_compat._runtime._execute import route
from airflow_trigger_compat._runtime._registry import Feature
from airflow_trigger_compat._runtime._strategies import accessor
from airflow_trigger_compat._runtime._strategies.accessor import (
    _ABSENT,
    STATE_KEY,
    DagRunJob,
    SupervisorPort,
    state_key,
)

from .conftest import (
    Failed,
    FakeOperator,
    FakePort,
    FakeStore,
    Paused,
    RunNotFound,
    Skipped,
    _Log,
    request_for,
    selection_for,
)

#: The key for FakePort's parent (max_tries=1) triggering "child".
KEY = state_key("child", 1)


def _mixin() -> type:
    try:
        from airflow.sdk import ResumableJobMixin
    except ImportError:
        return _ContractMixin
    return ResumableJobMixin  # type: ignore[no-any-return]


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


class _ContractMixin:
    """Stands in for ``ResumableJobMixin`` where Airflow 3.3 is not installed."""

    def execute_resumable(self, context: Any) -> Any:
        return _mixin_contract(self, context["task_state_store"])  # type: ignore[arg-type]


def run(port: FakePort, store: FakeStore, **overrides: Any) -> None:
    """The accessor path as on Airflow 3.3 (with its task_state_store), over ``port``."""
    overrides.setdefault("poke_interval", 1)
    overrides.setdefault("wait_for_completion", True)
    overrides.setdefault("durable", True)
    request = request_for("3.3.2", **overrides)
    job = type("Job", (DagRunJob, _mixin()), {})(request, port, store)
    job.execute_resumable({"task_state_store": store})


def test_first_try_stores_run_id_before_triggering() -> None:
    port, store = FakePort(), FakeStore()
    order: list[str] = []
    original_set = store.set

    def recording_set(key: str, value: Any) -> None:
        order.append(f"store:{key}={value}")
        original_set(key, value)

    store.set = recording_set  # type: ignore[method-assign]
    port.events = order
    port.script = ["running", "success"]
    run(port, store, trigger_run_id="r1")
    # The link names the run before the trigger is sent, as stock's; the run_id XCom once it exists.
    assert order[:4] == [f"store:{KEY}=r1", "link:r1", "trigger:r1", "xcom:r1"]
    assert store.data[KEY] == "r1"
    assert port.triggered == [("r1", False)]
    assert port.xcoms == ["r1"]
    assert port.links == ["r1"]


def test_retry_reconnects_to_an_active_run_without_triggering() -> None:
    port = FakePort(existing={"old": "running"})
    # The mixin's status check, the reconnect's "does it exist?", then the polls.
    port.script = ["running", "running", "running", "success"]
    store = FakeStore({KEY: "old"})
    run(port, store)
    assert port.triggered == []
    assert port.xcoms == ["old"]
    assert port.links == ["old"]  # the link names the run reconnected to
    assert len(port.slept) == 2


def test_retry_after_success_returns_at_once() -> None:
    port = FakePort(existing={"old": "success"})
    store = FakeStore({KEY: "old"})
    run(port, store)
    assert port.triggered == []
    assert port.slept == []
    assert port.xcoms == ["old"]
    assert port.links == ["old"]


def test_retry_after_failed_run_triggers_fresh_run_id() -> None:
    port = FakePort(existing={"old": "failed"})
    port.script = ["failed", "success"]  # first poll: the status check of "old"
    store = FakeStore({KEY: "old"})
    run(port, store)
    ((new_id, reset),) = port.triggered
    assert new_id != "old" and new_id.startswith("manual__")
    assert not reset
    assert store.data[KEY] == new_id
    assert port.xcoms == port.links == [new_id]


def test_stored_run_that_was_never_created_is_triggered_with_the_stored_run_id() -> None:
    port = FakePort()
    port.script = []
    store = FakeStore({KEY: "stored-but-never-triggered"})
    run(port, store, allowed_states=["queued"])
    assert port.triggered == [("stored-but-never-triggered", False)]
    # The status checks ask with missing_ok (the run is absent, not an error); the wait does not.
    name = "stored-but-never-triggered"
    assert port.events[:4] == [f"state:{name}", f"state:{name}", f"link:{name}", f"trigger:{name}"]


def test_status_of_an_absent_stored_run_is_absent_and_counts_as_active() -> None:
    port = FakePort()
    job = DagRunJob(request_for(durable=True), port, FakeStore())
    assert job.get_job_status("gone", {}) == _ABSENT
    assert port.triggered == [] and port.xcoms == []  # a status query changes nothing
    assert job.is_job_active(_ABSENT)
    assert not job.is_job_succeeded(_ABSENT)
    with pytest.raises(RunNotFound):  # only the status lookup may find nothing
        port.dagrun_state("child", "gone")


def test_a_run_deleted_during_the_wait_raises_airflows_own_error() -> None:
    class VanishingPort(FakePort):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if len(self.slept) == 2:
                self.runs.clear()  # deleted between two polls

    port = VanishingPort()
    port.script = ["running"]
    with pytest.raises(RunNotFound):  # the task fails, retries apply; it never waits on a run that is gone
        run(port, FakeStore(), trigger_run_id="r1")
    assert port.triggered == [("r1", False)]


def test_paused_dag_fails_before_the_link_and_the_trigger() -> None:
    port, store = FakePort(paused=True), FakeStore()
    with pytest.raises(Paused):
        run(port, store, trigger_run_id="r1", fail_when_dag_is_paused=True)
    assert port.triggered == port.links == port.xcoms == []
    run(FakePort(paused=True), FakeStore(), wait_for_completion=False)  # only checked when asked


def test_conflict_with_reset_reruns_it_even_with_skip() -> None:
    port = FakePort(existing={"r1": "success"})
    port.script = ["success"]
    store = FakeStore()
    run(port, store, trigger_run_id="r1", reset_dag_run=True, skip_when_already_exists=True)
    assert port.triggered == [("r1", True)]
    assert store.data[KEY] == "r1"


def test_already_exists_for_own_stored_run_id_reconnects() -> None:
    """The store said the run was absent, but it appeared before the trigger (a race): it is ours."""

    class RacingPort(FakePort):
        def trigger(self, request: Any, run_id: str, *, reset: bool) -> bool:
            self.runs.setdefault(run_id, "running")  # appeared between the status checks and the trigger
            return super().trigger(request, run_id, reset=reset)

    port = RacingPort()
    port.script = ["success"]
    store = FakeStore({KEY: "mine"})
    run(port, store)
    assert port.triggered == []
    assert port.events.count("trigger:mine") == 1  # tried, found it already existed: reconnected
    assert port.xcoms == ["mine"]


def test_conflict_with_a_run_this_task_did_not_store_clears_the_store_and_fails() -> None:
    port = FakePort(existing={"r1": "success"})
    store = FakeStore()
    with pytest.raises(Failed, match="already exists") as info:
        run(port, store, trigger_run_id="r1")
    assert not info.value.retry
    assert KEY not in store.data  # a retry must not adopt someone else's run


def test_conflict_with_skip_when_already_exists_skips() -> None:
    port = FakePort(existing={"r1": "success"})
    store = FakeStore()
    with pytest.raises(Skipped):
        run(port, store, trigger_run_id="r1", skip_when_already_exists=True)
    assert KEY not in store.data


def test_fixed_run_id_after_failure_needs_reset() -> None:
    port = FakePort(existing={"r1": "failed"})
    store = FakeStore({KEY: "r1"})
    with pytest.raises(Failed, match="reset_dag_run=True") as info:
        run(port, store, trigger_run_id="r1")
    assert not info.value.retry
    assert port.triggered == []


def test_fixed_run_id_after_failure_with_reset_reruns_it() -> None:
    port = FakePort(existing={"r1": "failed"})
    port.script = ["failed", "success"]
    store = FakeStore({KEY: "r1"})
    run(port, store, trigger_run_id="r1", reset_dag_run=True)
    assert port.triggered == [("r1", True)]


def test_fire_and_forget_durable_does_not_poll() -> None:
    port, store = FakePort(), FakeStore()
    run(port, store, wait_for_completion=False, trigger_run_id="r1")
    assert port.slept == []
    assert store.data[KEY] == "r1"


def test_reconnect_to_a_run_in_a_state_in_both_lists_does_not_succeed() -> None:
    port = FakePort(existing={"old": "success"})
    port.script = ["success", "success"]  # the status check of "old", then the fresh run's first poll
    store = FakeStore({KEY: "old"})
    with pytest.raises(Failed, match="failed state success"):  # as a first try's wait would end
        run(port, store, allowed_states=["success"], failed_states=["success"])


# -- a user's clear, and the key (issue 12) --------------------------------------------------------------


def test_key_carries_the_child_dag_and_the_clear() -> None:
    assert state_key("child", 1) == f"{STATE_KEY}@1:child"
    assert len({state_key("child", 1), state_key("child", 2), state_key("other", 1)}) == 3


def test_a_cleared_task_triggers_fresh_although_the_store_kept_the_old_run() -> None:
    # Airflow 3.3.x keeps task_state_store on clear; the clear raised max_tries from 1 to 3.
    port, store = FakePort(existing={"old": "success"}, max_tries=3), FakeStore({KEY: "old"})
    port.script = ["success"]
    run(port, store)
    [(new_id, reset)] = port.triggered
    assert new_id != "old" and not reset
    assert store.data[state_key("child", 3)] == new_id
    assert store.data[KEY] == "old"  # another clear's key: never read again


def test_a_cleared_task_with_skip_when_already_exists_skips_as_stock() -> None:
    port = FakePort(existing={"r1": "success"}, max_tries=3)
    with pytest.raises(Skipped):
        run(port, FakeStore({KEY: "r1"}), trigger_run_id="r1", skip_when_already_exists=True)
    assert port.triggered == []


def test_a_cleared_task_with_reset_resets_its_fixed_run_as_stock() -> None:
    port = FakePort(existing={"r1": "success"}, max_tries=3)
    port.script = ["success"]
    run(port, FakeStore({KEY: "r1"}), trigger_run_id="r1", reset_dag_run=True)
    assert port.triggered == [("r1", True)]


def test_an_edited_trigger_dag_id_never_reads_the_old_dags_run() -> None:
    port, store = FakePort(), FakeStore({state_key("old_child", 1): "old"})
    port.script = ["success"]
    run(port, store)
    assert [r for r, _ in port.triggered] != ["old"] and len(port.triggered) == 1


def test_generated_run_id_that_already_exists_on_first_try_is_this_tries_own() -> None:
    # apache/airflow#66905: the client retried the POST and got 409 for the run it created.
    port, store = FakePort(), FakeStore()
    original = port.trigger

    def ambiguous(request: Any, run_id: str, *, reset: bool) -> bool:
        original(request, run_id, reset=reset)
        return False  # created, then "already exists" on the client's retry

    port.trigger = ambiguous  # type: ignore[method-assign]
    port.script = ["success"]
    run(port, store)
    assert len(port.runs) == 1 and port.xcoms[-1] in port.runs


def test_a_fixed_run_id_that_already_exists_on_first_try_is_not_adopted() -> None:
    port = FakePort(existing={"r1": "running"})
    with pytest.raises(Failed, match="already exists"):
        run(port, FakeStore(), trigger_run_id="r1")


# -- without a store (Airflow 2.11, 3.0-3.2) --------------------------------------------------------------


def bare(port: FakePort, **overrides: Any) -> None:
    overrides.setdefault("poke_interval", 1)
    overrides.setdefault("wait_for_completion", True)
    run_with_derived_id(request_for("3.2.2", durable=True, **overrides), port)


def test_without_store_the_run_id_is_derived_from_the_parent() -> None:
    port = FakePort()
    port.script = ["success"]
    bare(port)
    expected = derived_run_id(port.parent_key(), "child", 1)
    assert port.triggered == [(expected, False)] and port.xcoms == [expected]
    assert expected.startswith("manual__durable-") and expected.endswith("-1")


def test_without_store_a_retry_reconnects_to_the_lost_tries_run() -> None:
    port = FakePort()
    first = derived_run_id(port.parent_key(), "child", 1)
    port.runs[first] = "running"
    port.script = ["running", "success"]  # the lookup after "already exists", then the poll
    bare(port)
    assert port.triggered == [] and port.xcoms == [first]


def test_without_store_a_retry_after_success_returns_at_once() -> None:
    port = FakePort()
    first = derived_run_id(port.parent_key(), "child", 1)
    port.runs[first] = "success"
    bare(port)
    assert port.triggered == [] and port.slept == [] and port.xcoms == [first]


def test_without_store_a_failed_child_makes_the_next_generation() -> None:
    port = FakePort()
    first = derived_run_id(port.parent_key(), "child", 1)
    port.runs[first] = "failed"
    port.script = ["failed", "success"]  # the lookup of the first run, then the new run's poll
    bare(port)
    second = derived_run_id(port.parent_key(), "child", 2)
    assert port.triggered == [(second, False)] and port.xcoms == [second]


def test_without_store_fire_and_forget_never_triggers_twice() -> None:
    port = FakePort()
    first = derived_run_id(port.parent_key(), "child", 1)
    port.runs[first] = "failed"
    bare(port, wait_for_completion=False)
    assert port.triggered == [] and port.xcoms == [first]


def test_without_store_a_clear_derives_a_new_run_id() -> None:
    cleared = FakePort(max_tries=3)
    assert derived_run_id(cleared.parent_key(), "child", 1) != derived_run_id(
        FakePort().parent_key(), "child", 1
    )
    assert derived_run_id(FakePort().parent_key(), "other", 1) != derived_run_id(
        FakePort().parent_key(), "child", 1
    )


def test_without_store_a_recreated_parent_run_derives_a_new_run_id() -> None:
    # The parent DAG run was deleted and created again under the same run_id: its child is not ours.
    old = derived_run_id(FakePort(dag_run="id=1").parent_key(), "child", 1)
    port = FakePort(existing={old: "running"}, dag_run="id=7")
    port.script = ["success"]
    bare(port)
    new = derived_run_id(port.parent_key(), "child", 1)
    assert new != old and port.triggered == [(new, False)] and port.xcoms == [new]


def test_without_store_a_failed_child_fails_the_try_with_retries() -> None:
    port = FakePort()
    port.script = ["failed"]
    with pytest.raises(Failed) as err:
        bare(port)
    assert err.value.retry


def test_without_store_each_map_index_has_its_own_run_id() -> None:
    key = FakePort().parent_key()
    ids = {derived_run_id(key._replace(map_index=i), "child", 1) for i in (-1, 0, 1, 2)}
    assert len(ids) == 4


@pytest.mark.parametrize("version", ["3.1.8", "3.2.2", "3.3.2"])
@pytest.mark.parametrize("fixed", [False, True], ids=["generated", "fixed"])
def test_the_accessor_path_keeps_the_run_id_in_the_store_where_the_route_has_one(
    version: str, fixed: bool, fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``accessor.execute`` over the supervisor channel: a ``DagRunJob`` on ``task_state_store``, driven by
    Airflow's ``ResumableJobMixin``, where the route says ``store``; else the run_id derived from the
    parent."""
    calls: list[tuple[str, Any]] = []

    class ResumableJobMixin:
        def execute_resumable(self, context: Any) -> None:
            calls.append(("store", self))

    monkeypatch.setattr(fake_airflow, "ResumableJobMixin", ResumableJobMixin, raising=False)
    monkeypatch.setitem(_airflow.IMPORT_PATHS, "ResumableJobMixin", (fake_airflow.__name__,))
    monkeypatch.setattr(
        accessor, "run_with_derived_id", lambda request, port: calls.append(("derived", port))
    )
    selection = selection_for(version)
    request = request_for(selection, durable=True, trigger_run_id="fixed" if fixed else None)
    chosen = route(selection, request)
    if not chosen.durable:  # a fixed run_id without a store: the route runs stock's path, not this one
        assert fixed and not selection.supports(Feature.TASK_STATE_STORE)
        return
    ti = types.SimpleNamespace(
        dag_id="parent", run_id="manual__run", task_id="trigger", map_index=-1, max_tries=1
    )
    store = FakeStore()
    context = {
        "ti": ti,
        "task_instance": ti,
        "task_state_store": store,
        "dag_run": types.SimpleNamespace(start_date=None),
    }
    accessor.execute(FakeOperator(log=_Log()), context, request, chosen)
    ((kind, used),) = calls
    assert kind == ("store" if selection.supports(Feature.TASK_STATE_STORE) else "derived")
    if kind == "store":
        assert isinstance(used, DagRunJob) and isinstance(used, ResumableJobMixin)
        assert isinstance(used.port, SupervisorPort) and used.store is store
        assert used.external_id_key == state_key("child", 1)
    else:
        assert isinstance(used, SupervisorPort) and used.context is context

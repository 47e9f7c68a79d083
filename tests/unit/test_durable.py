"""``durable=True`` (``_strategies/durable.py``): the keeper names the run this task instance may already
have; the try reconnects to it, waits for it, or hands a run_id to stock's path, which triggers it.

Stock's path is replaced by ``FakePath`` (its ``Port`` is a ``FakePort``, its ``execute`` a recorder), so
these tests see exactly what ``durable.execute`` hands it; the last tests run the real ``runner_exception``
module over a fake ``RuntimeTaskInstance``."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from airflow_trigger_compat._runtime._contract import ParentKey, Route, derived_run_id
from airflow_trigger_compat._runtime._execute import route
from airflow_trigger_compat._runtime._registry import Feature
from airflow_trigger_compat._runtime._request import TriggerRequest
from airflow_trigger_compat._runtime._strategies import durable
from airflow_trigger_compat._runtime._strategies.durable import (
    KEEPERS,
    STATE_KEY,
    DerivedKeeper,
    StoreKeeper,
)

from .conftest import (
    RUN_ID_PATTERN,
    AirflowException,
    AirflowFailException,
    DagIsPaused,
    DagRunTriggerException,
    FakeOperator,
    FakePort,
    FakeStore,
    RunNotFound,
    TriggerDagRunLink,
    _Log,
    build_airflow_dagrun_url,
    request_for,
    selection_for,
)

pytestmark = pytest.mark.usefixtures("fake_airflow")  # the outcomes are Airflow's exceptions (faked)

#: The store key of FakePort's parent (max_tries=1) triggering "child".
KEY = f"{STATE_KEY}@1:child"
#: What FakePath.execute returns: durable.execute returns what stock's path returns (or raises).
TRIGGERED = object()
#: One release per row: where the run_id is kept, and whether a failed child leaves the try its retries.
STORE, DERIVED = ["3.3.2"], ["3.2.2", "3.1.8", "3.0.6", "2.11.2"]


class Call(NamedTuple):
    """One call of stock's path: the request, the store and the operator's run_id when it was called."""

    request: TriggerRequest
    stored: dict[str, Any] | None
    operator_run_id: str | None
    route: Route


class FakePath:
    """Stands in for stock's path module (``runner_exception``, ``airflow2``): ``Port`` and ``execute``."""

    def __init__(self, port: FakePort) -> None:
        self.port = port
        self.calls: list[Call] = []
        self.store: FakeStore | None = None

    def Port(self, operator: Any, context: Any) -> FakePort:  # the module attribute's name
        return self.port

    def execute(self, operator: Any, context: Any, request: TriggerRequest, chosen: Route) -> Any:
        stored = None if self.store is None else dict(self.store.data)
        self.calls.append(Call(request, stored, operator.trigger_run_id, chosen))
        return TRIGGERED


class Outcome(NamedTuple):
    result: Any
    request: TriggerRequest
    route: Route
    path: FakePath
    operator: FakeOperator
    imported: list[str]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Outcome]:
    """``durable.execute`` on ``version`` over ``port`` (and ``store``, where given), stock's path faked."""

    def run(version: str, port: FakePort, store: FakeStore | None = None, **overrides: Any) -> Outcome:
        overrides.setdefault("durable", True)
        overrides.setdefault("wait_for_completion", True)
        overrides.setdefault("poke_interval", 1)
        selection = selection_for(version)
        request = request_for(selection, **overrides)
        chosen = route(selection, request)
        assert chosen.leaf == "durable" and chosen.keep == selection.entry.keep, chosen
        path, imported = FakePath(port), []
        path.store = store

        def import_module(name: str) -> FakePath:
            imported.append(name)
            return path

        monkeypatch.setattr(durable, "importlib", types.SimpleNamespace(import_module=import_module))
        operator = FakeOperator(log=port.log, **overrides)
        context = {} if store is None else {"task_state_store": store}  # a derived keeper reads no store
        result = durable.execute(operator, context, request, chosen)
        return Outcome(result, request, chosen, path, operator, imported)

    return run


def kept(version: str, port: FakePort, generation: int = 1) -> str:
    """The run_id an earlier try of ``port``'s task instance kept: the store's (seeded) or the derived one."""
    return "old" if version in STORE else derived_run_id(port.parent_key(), "child", generation)


def store_for(version: str, run_id: str | None = None) -> FakeStore | None:
    """The task_state_store on a row that has one (holding ``run_id`` under KEY when given), else None."""
    if version not in STORE:
        return None
    return FakeStore({KEY: run_id} if run_id else {})


RECONNECT = "Reconnecting to DAG run {} ({}), triggered by an earlier try of this task"


# -- a first try: keep, then stock's path ----------------------------------------------------------------


def test_first_try_keeps_the_run_id_in_the_store_before_stocks_path_is_called(run: Callable) -> None:
    port, store = FakePort(), FakeStore()
    out = run("3.3.2", port, store)
    run_id = out.request.run_id
    assert out.request.run_id_generated and run_id.startswith("manual__")
    ((call,),) = [out.path.calls]
    assert call.stored == {KEY: run_id}  # written before the path triggered anything
    assert store.writes == [(KEY, run_id)]
    assert call.request == out.request and call.route == out.route  # the request as it is, the same route
    assert call.operator_run_id == out.operator.trigger_run_id == run_id  # what listeners read
    assert out.result is TRIGGERED  # on Airflow 3 the path raises for the runner: whatever it does, stands
    # Stock's path: its Port, then (no Task SDK here has ti.trigger_dag_run()) its execute.
    assert out.imported == ["airflow_trigger_compat._runtime._strategies.runner_exception"] * 2
    assert port.events == []  # a generated run_id is this try's own: nothing asked, nothing pushed yet
    assert port.xcoms == port.links == port.log.lines == []


@pytest.mark.parametrize("version", DERIVED)
def test_first_try_below_3_3_triggers_generation_1_of_the_derived_run_id(version: str, run: Callable) -> None:
    port = FakePort()
    out = run(version, port)
    first = derived_run_id(port.parent_key(), "child", 1)
    assert first.startswith("manual__durable-") and first.endswith("-1")
    ((call,),) = [out.path.calls]
    assert call.request == out.request._replace(run_id=first)  # only the run_id differs
    assert call.operator_run_id == first
    assert port.events == [f"state:{first}"]  # asked whether it exists, then handed to the path
    path = "airflow2" if version.startswith("2.") else "runner_exception"
    assert out.imported == [f"airflow_trigger_compat._runtime._strategies.{path}"] * 2
    assert port.xcoms == port.links == []


def test_a_fixed_run_id_that_does_not_exist_yet_is_kept(run: Callable) -> None:
    port, store = FakePort(), FakeStore()
    out = run("3.3.2", port, store, trigger_run_id="r1")
    assert [c.request.run_id for c in out.path.calls] == ["r1"]
    assert out.path.calls[0].stored == {KEY: "r1"}
    assert port.events == ["state:r1"]


@pytest.mark.parametrize("state", ["queued", "running", "success", "failed"])
@pytest.mark.parametrize("extra", [{}, {"skip_when_already_exists": True}], ids=["plain", "skip"])
def test_a_fixed_run_id_that_exists_on_a_first_try_is_not_kept_and_the_path_decides(
    state: str, extra: dict[str, Any], run: Callable
) -> None:
    # Someone else's run (or an older clear's): not adopted. Stock's path triggers it and ends the try as
    # stock would (already exists: failed, or skipped).
    port, store = FakePort(existing={"r1": state}), FakeStore()
    out = run("3.3.2", port, store, trigger_run_id="r1", **extra)
    assert [c.request.run_id for c in out.path.calls] == ["r1"]
    assert store.writes == []  # a retry must never reconnect to a run this task did not make
    assert port.xcoms == port.links == port.slept == []


def test_a_fixed_run_id_that_exists_with_reset_dag_run_is_kept(run: Callable) -> None:
    port, store = FakePort(existing={"r1": "success"}), FakeStore()
    out = run("3.3.2", port, store, trigger_run_id="r1", reset_dag_run=True)
    assert out.path.calls[0].request.run_id == "r1" and out.path.calls[0].stored == {KEY: "r1"}


# -- a retry: the kept run decides -------------------------------------------------------------------------


@pytest.mark.parametrize("version", STORE + DERIVED)
@pytest.mark.parametrize("state", ["queued", "running"])
def test_a_retry_reconnects_to_the_kept_run_while_it_is_active(
    version: str, state: str, run: Callable
) -> None:
    port = FakePort()
    run_id = kept(version, port)
    port.runs[run_id] = state
    port.script = ["running", "success"]
    store = store_for(version, run_id)
    out = run(version, port, store)
    assert out.result is None and out.path.calls == []  # nothing triggered
    assert port.links == port.xcoms == [run_id]  # the link XCom and the trigger_run_id XCom, as stock's
    assert port.events == [f"state:{run_id}", f"link:{run_id}", f"xcom:{run_id}", *[f"poll:{run_id}"] * 2]
    assert port.slept == [1, 1]  # waits inside execute(), polling every poke_interval
    assert port.log.lines[0] == RECONNECT.format(run_id, state)
    assert port.log.lines[-1] == "child finished with allowed state success"
    assert store is None or store.writes == []


@pytest.mark.parametrize("version", STORE + DERIVED)
def test_a_retry_whose_kept_run_succeeded_returns_without_waiting(version: str, run: Callable) -> None:
    port = FakePort()
    run_id = kept(version, port)
    port.runs[run_id] = "success"
    out = run(version, port, store_for(version, run_id))
    assert out.result is None and out.path.calls == []
    assert port.slept == [] and not [e for e in port.events if e.startswith("poll:")]
    assert port.links == port.xcoms == [run_id]
    assert port.log.lines == [RECONNECT.format(run_id, "success")]


def test_a_retry_whose_kept_run_failed_triggers_the_requests_fresh_run_and_keeps_it(run: Callable) -> None:
    port, store = FakePort(existing={"old": "failed"}), FakeStore({KEY: "old"})
    out = run("3.3.2", port, store)
    fresh = out.request.run_id
    assert fresh != "old" and out.request.run_id_generated
    assert [c.request.run_id for c in out.path.calls] == [fresh]
    assert out.path.calls[0].stored == {KEY: fresh}  # kept before the path is called, as on a first try
    assert store.writes == [(KEY, fresh)]
    assert port.log.lines == ["DAG run old of child, triggered by an earlier try, ended failed"]
    assert port.xcoms == port.links == port.slept == []  # nothing of the old run is pushed


@pytest.mark.parametrize("version", DERIVED)
def test_below_3_3_a_failed_kept_run_makes_the_next_generation(version: str, run: Callable) -> None:
    port = FakePort()
    first, second, third = (kept(version, port, n) for n in (1, 2, 3))
    port.runs[first] = "failed"
    out = run(version, port)
    assert [c.request.run_id for c in out.path.calls] == [second]
    assert port.events == [f"state:{first}", f"state:{second}"]
    # Two failed generations: the third.
    port = FakePort(existing={first: "failed", second: "failed"})
    assert [c.request.run_id for c in run(version, port).path.calls] == [third]
    assert len({first, second, third}) == 3


@pytest.mark.parametrize("version", DERIVED)
def test_below_3_3_a_retry_reconnects_to_a_later_generation_that_is_still_running(
    version: str, run: Callable
) -> None:
    port = FakePort()
    first, second = kept(version, port, 1), kept(version, port, 2)
    port.runs.update({first: "failed", second: "success"})
    out = run(version, port)
    assert out.path.calls == [] and port.xcoms == [second]


def test_a_kept_run_that_was_never_created_is_triggered_with_the_kept_run_id(run: Callable) -> None:
    # The try died between keeping the run_id and triggering it.
    port, store = FakePort(), FakeStore({KEY: "kept-never-triggered"})
    out = run("3.3.2", port, store)
    assert [c.request.run_id for c in out.path.calls] == ["kept-never-triggered"]
    assert out.request.run_id != "kept-never-triggered"  # not this try's own fresh one
    assert store.writes == []  # already kept
    assert port.events == ["state:kept-never-triggered"]
    assert port.xcoms == port.links == []


def test_a_kept_fixed_run_that_failed_is_handed_to_the_path_as_stocks_retry(run: Callable) -> None:
    # The fresh run is the request's own: a fixed run_id names the failed run itself, and stock's retry
    # gets "already exists" for it (reset_dag_run=True reruns it): the path decides, as for stock.
    port, store = FakePort(existing={"r1": "failed"}), FakeStore({KEY: "r1"})
    out = run("3.3.2", port, store, trigger_run_id="r1")
    assert [c.request.run_id for c in out.path.calls] == ["r1"] and store.writes == []
    port, store = FakePort(existing={"r1": "failed"}), FakeStore({KEY: "r1"})
    out = run("3.3.2", port, store, trigger_run_id="r1", reset_dag_run=True)
    assert [c.request.run_id for c in out.path.calls] == ["r1"] and store.writes == [(KEY, "r1")]


@pytest.mark.parametrize(
    ("version", "error", "retry"),
    [
        ("3.3.2", AirflowException, True),  # the 3.3 runner retries a parent whose child failed
        ("2.11.2", AirflowException, True),  # Airflow 2: stock raises AirflowException, retries apply
        ("3.2.2", AirflowFailException, False),  # 3.0-3.2: the runner fails it without retries
        ("3.1.8", AirflowFailException, False),
        ("3.0.6", AirflowFailException, False),
    ],
)
def test_a_reconnected_wait_ends_on_a_failed_child_as_the_installed_runner_would(
    version: str, error: type[Exception], retry: bool, run: Callable
) -> None:
    port = FakePort()
    run_id = kept(version, port)
    port.runs[run_id] = "running"
    port.script = ["running", "failed"]
    assert selection_for(version).supports(Feature.RETRY_ON_FAILED_CHILD) is retry
    with pytest.raises(error, match=r"^child failed with failed state failed$") as info:
        run(version, port, store_for(version, run_id))
    if retry:
        assert not isinstance(info.value, AirflowFailException)
    assert port.failed_retry == [retry]
    assert port.log.lines[-1] == "DagRun finished with failed state."
    assert port.xcoms == [run_id]


def test_a_run_deleted_during_a_reconnected_wait_raises_airflows_own_error(run: Callable) -> None:
    class VanishingPort(FakePort):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if len(self.slept) == 2:
                self.runs.clear()  # deleted between two polls

    port = VanishingPort(existing={"old": "running"})
    with pytest.raises(RunNotFound):  # retries apply; it never waits on a run that is gone
        run("3.3.2", port, FakeStore({KEY: "old"}))


# -- a state in both lists; fire-and-forget ------------------------------------------------------------------


def test_a_kept_run_ended_in_a_state_in_both_lists_is_failed_so_a_fresh_run_is_triggered(
    run: Callable,
) -> None:
    # failed_states first, as stock's wait: the try that saw it failed; its retry triggers anew.
    port, store = FakePort(existing={"old": "success"}), FakeStore({KEY: "old"})
    out = run("3.3.2", port, store, allowed_states=["success"], failed_states=["success"])
    assert [c.request.run_id for c in out.path.calls] == [out.request.run_id]
    assert port.xcoms == []


def test_a_reconnected_wait_that_reaches_a_state_in_both_lists_fails(run: Callable) -> None:
    port, store = FakePort(existing={"old": "running"}), FakeStore({KEY: "old"})
    port.script = ["success"]
    with pytest.raises(AirflowException, match="failed state success"):
        run("3.3.2", port, store, allowed_states=["success"], failed_states=["success"])
    assert port.failed_retry == [True]


@pytest.mark.parametrize("version", STORE + DERIVED)
@pytest.mark.parametrize("state", ["running", "success", "failed"])
def test_fire_and_forget_reconnects_whatever_the_kept_run_became(
    version: str, state: str, run: Callable
) -> None:
    # Without a wait a failed child never failed the task: a retry must not trigger a second run.
    port = FakePort()
    run_id = kept(version, port)
    port.runs[run_id] = state
    out = run(version, port, store_for(version, run_id), wait_for_completion=False)
    assert out.path.calls == [] and port.slept == []
    assert port.xcoms == port.links == [run_id]
    assert port.log.lines == [RECONNECT.format(run_id, state)]


def test_fire_and_forget_first_try_keeps_then_triggers(run: Callable) -> None:
    store = FakeStore()
    out = run("3.3.2", FakePort(), store, wait_for_completion=False)
    assert out.path.calls[0].stored == {KEY: out.request.run_id}


# -- one key per clear and per child DAG; one derived run_id per parent task instance --------------------


def test_the_store_key_carries_the_child_dag_and_the_clear() -> None:
    request = request_for("3.3.2", durable=True)

    def key(max_tries: int, dag_id: str = "child") -> str:
        parent = FakePort(max_tries=max_tries).parent_key()
        return StoreKeeper(parent, request._replace(trigger_dag_id=dag_id), {"task_state_store": None}).key

    assert key(1) == KEY == "airflow_trigger_compat.trigger_run_id@1:child"
    assert len({key(1), key(3), key(1, "other")}) == 3
    assert dict(KEEPERS) == {"store": StoreKeeper, "derived": DerivedKeeper}


def test_a_cleared_task_triggers_fresh_although_the_store_kept_the_old_run(run: Callable) -> None:
    # The store survives a clear; the clear raised max_tries from 1 to 3.
    port, store = FakePort(existing={"old": "running"}, max_tries=3), FakeStore({KEY: "old"})
    out = run("3.3.2", port, store)
    fresh = out.request.run_id
    assert [c.request.run_id for c in out.path.calls] == [fresh] and fresh != "old"
    assert store.writes == [(f"{STATE_KEY}@3:child", fresh)]
    assert store.data[KEY] == "old"  # another clear's key: never read again
    assert port.xcoms == []


def test_an_edited_trigger_dag_id_never_reads_the_old_dags_run(run: Callable) -> None:
    port, store = FakePort(existing={"old": "running"}), FakeStore({f"{STATE_KEY}@1:old_child": "old"})
    out = run("3.3.2", port, store)
    assert [c.request.run_id for c in out.path.calls] == [out.request.run_id]
    assert store.writes == [(KEY, out.request.run_id)]


def test_derived_run_ids_differ_per_map_index_parent_run_clear_child_and_generation() -> None:
    key = FakePort().parent_key()
    variants = [
        *(key._replace(map_index=i) for i in (-1, 0, 1, 2)),
        key._replace(dag_run="id=7"),  # the parent DAG run deleted and created again under its run_id
        key._replace(max_tries=3),  # a user's clear
    ]
    ids = {derived_run_id(k, "child", 1) for k in variants}
    ids |= {derived_run_id(key, "other", 1), derived_run_id(key, "child", 2)}
    assert len(ids) == len(variants) + 2
    assert all(RUN_ID_PATTERN.match(i) and i.startswith("manual__durable-") for i in ids)
    assert derived_run_id(key, "child", 1) == derived_run_id(FakePort().parent_key(), "child", 1)  # stable


@pytest.mark.parametrize(
    "changed", [{"map_index": 2}, {"dag_run": "id=7"}, {"max_tries": 3}], ids=["map", "recreated", "clear"]
)
def test_below_3_3_another_parent_task_instance_never_reconnects_to_the_first_ones_run(
    changed: dict[str, Any], run: Callable
) -> None:
    old = derived_run_id(FakePort().parent_key(), "child", 1)
    port = FakePort(existing={old: "running"}, **changed)
    out = run("3.1.8", port)
    new = derived_run_id(port.parent_key(), "child", 1)
    assert new != old
    assert [c.request.run_id for c in out.path.calls] == [new] and port.xcoms == []


def test_the_derived_keeper_reads_and_writes_no_store() -> None:
    parent = ParentKey("parent", "manual__run", "id=1", "trigger", -1, 1)
    keeper = DerivedKeeper(parent, request_for("3.1.8", durable=True), {})  # no task_state_store at all
    assert keeper.first() == derived_run_id(parent, "child", 1)
    keeper.keep("anything")
    assert keeper.after_failed() == derived_run_id(parent, "child", 2)
    assert keeper.first() == derived_run_id(parent, "child", 2)


# -- the real runner_exception path over a fake RuntimeTaskInstance -----------------------------------------


class Ti:
    """``RuntimeTaskInstance``'s public accessors (the Task SDK), with a state script for polls."""

    def __init__(self, runs: dict[str, str] | None = None, *, paused: bool = False) -> None:
        self.runs = dict(runs or {})
        self.script: list[str] = []
        self.pushed: list[tuple[str, Any]] = []
        self.paused = paused
        self.dag_id, self.run_id, self.task_id, self.map_index, self.max_tries = (
            "parent", "manual__run", "trigger", -1, 1,
        )  # fmt: skip

    def get_dr_count(self, dag_id: str, *, run_ids: list[str]) -> int:
        return sum(r in self.runs for r in run_ids)

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        if run_id not in self.runs:
            raise RunNotFound(run_id)
        if self.script:
            self.runs[run_id] = self.script.pop(0)
        return self.runs[run_id]

    def get_dag(self, dag_id: str) -> Any:
        return types.SimpleNamespace(is_paused=self.paused)

    def xcom_push(self, *, key: str, value: Any) -> None:
        self.pushed.append((key, value))


def real(version: str, ti: Ti, store: FakeStore | None, **overrides: Any) -> Any:
    """``durable.execute`` with stock's real path module, its real TaskPort, over ``ti``."""
    overrides = {"durable": True, "wait_for_completion": True, "poke_interval": 0, **overrides}
    selection = selection_for(version)
    request = request_for(selection, **overrides)
    context: dict[str, Any] = {
        "ti": ti,
        "task_instance": ti,
        "dag_run": types.SimpleNamespace(start_date=None),
    }
    if store is not None:
        context["task_state_store"] = store
    operator = FakeOperator(log=_Log(), **overrides)
    return durable.execute(operator, context, request, route(selection, request))


def link(run_id: str) -> tuple[str, str]:
    return (TriggerDagRunLink.xcom_key, build_airflow_dagrun_url(dag_id="child", run_id=run_id))


def test_on_airflow_3_3_a_first_try_keeps_then_raises_for_the_runner() -> None:
    ti, store = Ti(), FakeStore()
    with pytest.raises(DagRunTriggerException) as info:
        real("3.3.2", ti, store, trigger_run_id="r1")
    assert info.value.kwargs["dag_run_id"] == "r1" and info.value.kwargs["wait_for_completion"]
    assert store.data == {KEY: "r1"}
    assert ti.pushed == [link("r1")]  # stock's path pushed the link; the runner pushes the run_id XCom


def test_on_airflow_3_1_a_first_try_raises_for_the_runner_with_the_derived_run_id() -> None:
    ti = Ti()
    with pytest.raises(DagRunTriggerException) as info:
        real("3.1.8", ti, None)
    run_id = info.value.kwargs["dag_run_id"]
    assert run_id.startswith("manual__durable-") and run_id.endswith("-1")
    assert ti.pushed == [link(run_id)]


def test_on_airflow_3_3_a_retry_reconnects_through_the_task_sdk_and_waits() -> None:
    ti, store = Ti({"old": "running"}), FakeStore({KEY: "old"})
    ti.script = ["running", "running", "success"]  # the existence check, then two polls
    assert real("3.3.2", ti, store) is None  # nothing raised: no second trigger
    assert ti.pushed == [link("old"), ("trigger_run_id", "old")]
    assert ti.runs == {"old": "success"} and store.writes == []


def test_on_airflow_3_1_a_reconnected_wait_fails_without_retries_as_the_runner() -> None:
    parent = ParentKey("parent", "manual__run", "started=None", "trigger", -1, 1)
    run_id = derived_run_id(parent, "child", 1)
    ti = Ti({run_id: "running"})
    ti.script = ["running", "failed"]  # each get_dagrun_state advances it: the existence check, then a poll
    with pytest.raises(AirflowFailException, match="failed state failed"):
        real("3.1.8", ti, None)
    assert ti.pushed == [link(run_id), ("trigger_run_id", run_id)]


def test_a_paused_child_dag_is_refused_by_stocks_path_on_a_first_try() -> None:
    ti, store = Ti(paused=True), FakeStore()
    with pytest.raises(DagIsPaused):
        real("3.3.2", ti, store, trigger_run_id="r1", fail_when_dag_is_paused=True)
    assert ti.pushed == []  # no link to a run that was never triggered

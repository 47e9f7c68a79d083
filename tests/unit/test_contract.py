"""The shared rules every path keeps (the wait, the paused check) and the ports that read Airflow: the Task
SDK's public accessors (``TaskPort``) and the ORM (``airflow2.OrmPort``); the durable flow over them is
``test_durable.py``."""

from __future__ import annotations

import contextlib
import datetime
import types
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_trigger_compat._runtime import _airflow
from airflow_trigger_compat._runtime._contract import ParentKey, TaskPort, check_not_paused, wait_for_run
from airflow_trigger_compat._runtime._strategies import airflow2

from .conftest import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    DagIsPaused,
    DagRunState,
    FakeOperator,
    FakePort,
    Paused,
    RunNotFound,
    _Log,
    request_for,
)

pytestmark = pytest.mark.usefixtures("fake_airflow")  # the outcomes are Airflow's exceptions (faked)


def request(**overrides: Any):
    overrides.setdefault("trigger_run_id", "r1")
    overrides.setdefault("poke_interval", 5)
    overrides.setdefault("wait_for_completion", True)
    return request_for("3.3.2", **overrides)


def running_port(*script: str) -> FakePort:
    port = FakePort(existing={"r1": "queued"})
    port.script = list(script)
    return port


# -- wait_for_run ---------------------------------------------------------------------------------------


def test_wait_until_allowed_state_polling_every_poke_interval() -> None:
    port = running_port("queued", "running", "success")
    assert wait_for_run(request(), port, "r1") == "success"
    assert port.slept == [5, 5, 5]  # sleeps before each poll, as the task runner does
    assert port.log.lines[0] == "Waiting for child on r1 to reach an allowed state ['success']"
    assert port.log.lines[-1] == "child finished with allowed state success"
    assert port.events == ["poll:r1"] * 3


def test_a_failed_child_ends_the_try_as_the_3_3_runner_does_by_default() -> None:
    port = running_port("running", "failed")
    with pytest.raises(AirflowException, match=r"^child failed with failed state failed$") as info:
        wait_for_run(request(), port, "r1")
    assert not isinstance(info.value, AirflowFailException)  # retries apply
    assert port.failed_retry == [True]
    assert port.log.lines[-1] == "DagRun finished with failed state."  # the runner's own line


def test_a_failed_child_without_retry_fails_as_the_3_0_runner_does() -> None:
    port = running_port("failed")
    with pytest.raises(AirflowFailException, match=r"^child failed with failed state failed$"):
        wait_for_run(request(), port, "r1", retry=False)
    assert port.failed_retry == [False]
    assert port.log.lines[-1] == "DagRun finished with failed state."


def test_custom_states_are_respected() -> None:
    custom = request(allowed_states=["failed"], failed_states=["success"])
    assert wait_for_run(custom, running_port("running", "failed"), "r1") == "failed"
    with pytest.raises(AirflowException, match="failed state success"):
        wait_for_run(custom, running_port("success"), "r1")


def test_a_state_in_both_lists_fails() -> None:
    """As the runner: failed_states is checked first."""
    both = request(allowed_states=["success"], failed_states=["success"])
    with pytest.raises(AirflowException, match="failed state success"):
        wait_for_run(both, running_port("success"), "r1")


def test_zero_poke_interval_polls_without_pausing() -> None:
    port = running_port("running", "success")
    wait_for_run(request(poke_interval=0), port, "r1")
    assert port.slept == [0, 0]


def test_a_missing_run_raises_airflows_own_error() -> None:
    port = FakePort()
    with pytest.raises(RunNotFound):  # never treated as "not yet there", never waited on
        wait_for_run(request(), port, "r1")
    assert port.slept == [5]


def test_paused_dag_is_refused_only_when_asked() -> None:
    with pytest.raises(Paused, match="child"):
        check_not_paused(request(fail_when_dag_is_paused=True), FakePort(paused=True))
    check_not_paused(request(), FakePort(paused=True))
    check_not_paused(request(fail_when_dag_is_paused=True), FakePort(paused=False))


# -- TaskPort: the Task SDK's public API (RuntimeTaskInstance), nothing else --------------------------------


class Ti:
    """The ``RuntimeTaskInstance`` accessors TaskPort uses; any other attribute access fails the test."""

    def __init__(self, runs: dict[str, Any] | None = None, *, max_tries: int = 2, map_index: int = 3) -> None:
        self.runs = dict(runs or {})
        self.pushed: list[tuple[str, Any]] = []
        self.calls: list[str] = []
        self.dag_id, self.run_id, self.task_id = "parent", "manual__run", "trigger"
        self.max_tries, self.map_index = max_tries, map_index

    def get_dr_count(self, dag_id: str, *, run_ids: list[str] | None = None, **kwargs: Any) -> int:
        assert not kwargs, kwargs
        self.calls.append(f"count:{dag_id}:{run_ids}")
        return sum(run_id in self.runs for run_id in run_ids or [])

    def get_dagrun_state(self, dag_id: str, run_id: str) -> Any:
        self.calls.append(f"state:{dag_id}:{run_id}")
        if run_id not in self.runs:
            raise RunNotFound(run_id)  # the execution API answers 404, the SDK raises
        return self.runs[run_id]

    def xcom_push(self, *, key: str, value: Any) -> None:
        self.pushed.append((key, value))

    def get_dag(self, dag_id: str) -> Any:
        return types.SimpleNamespace(is_paused=True)


def task_port(ti: Ti, **context: Any) -> TaskPort:
    operator = FakeOperator(log=_Log(), trigger_run_id="generated")
    return TaskPort(operator, {"ti": ti, "task_instance": ti, **context})


def test_run_state_asks_get_dr_count_first_and_reads_no_404() -> None:
    ti = Ti({"old": DagRunState.RUNNING})
    port = task_port(ti)
    assert port.run_state("child", "never") is None
    assert ti.calls == ["count:child:['never']"]  # no state asked for a run that does not exist
    assert port.run_state("child", "old") == "running"  # the enum's value, as the contract compares
    assert ti.calls[1:] == ["count:child:['old']", "state:child:old"]


def test_dagrun_state_raises_airflows_error_for_a_missing_run() -> None:
    port = task_port(Ti({"r1": "success"}))
    assert port.dagrun_state("child", "r1") == "success"
    with pytest.raises(RunNotFound):
        port.dagrun_state("child", "gone")


def test_parent_key_is_read_from_the_task_instance_and_its_dag_run() -> None:
    started = datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)
    port = task_port(Ti(), dag_run=types.SimpleNamespace(start_date=started))
    assert port.parent_key() == ParentKey(
        "parent", "manual__run", f"started={started.isoformat()}", "trigger", 3, 2
    )
    ti = Ti(max_tries=0)
    ti.map_index = None  # type: ignore[assignment]
    unmapped = task_port(ti, dag_run=types.SimpleNamespace(start_date=None)).parent_key()
    assert (unmapped.dag_run, unmapped.map_index, unmapped.max_tries) == ("started=None", -1, 0)


def test_push_run_id_sets_the_xcom_and_the_attribute_listeners_read(fake_airflow: types.ModuleType) -> None:
    ti = Ti()
    port = task_port(ti)
    port.push_run_id("reconnected")
    # The key is the operator module's own XCOM_RUN_ID (the fake's: "trigger_run_id"); the link reads it.
    assert ti.pushed == [(fake_airflow.XCOM_RUN_ID, "reconnected")]
    assert port.operator.trigger_run_id == "reconnected"


def test_outcomes_are_airflows_exceptions() -> None:
    port = task_port(Ti())
    assert port.dag_is_paused("child")  # task-sdk 1.2's get_dag
    with pytest.raises(DagIsPaused) as paused:
        port.paused("child")
    assert paused.value.dag_id == "child"
    with pytest.raises(AirflowFailException, match=r"^child failed with failed state failed$"):
        port.child_failed("child", "failed", retry=False)
    with pytest.raises(AirflowException) as info:
        port.child_failed("child", "failed", retry=True)
    assert not isinstance(info.value, AirflowFailException)
    assert port.log.lines == ["DagRun finished with failed state."] * 2


# -- OrmPort: Airflow 2.11's ORM ----------------------------------------------------------------------------


class _Column:
    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, value: object) -> Any:  # type: ignore[override]
        return (self.name, value)


class NoResultFound(Exception):
    pass


@pytest.fixture
def orm(fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], Any]:
    """``DagRun`` and ``create_session``, faked: the rows by (dag_id, run_id)."""
    rows: dict[tuple[str, str], Any] = {}

    class Query:
        def filter(self, *conditions: tuple[str, str]) -> Query:
            self.where = dict(conditions)
            return self

        def one_or_none(self) -> Any:
            state = rows.get((self.where["dag_id"], self.where["run_id"]))
            return None if state is None else (state,)

        def one(self) -> Any:
            row = self.one_or_none()
            if row is None:
                raise NoResultFound("No row was found when one was required")
            return row

    @contextlib.contextmanager
    def create_session() -> Iterator[Any]:
        yield types.SimpleNamespace(query=lambda column: Query())

    dag_run = types.SimpleNamespace(
        dag_id=_Column("dag_id"), run_id=_Column("run_id"), state=_Column("state")
    )
    for name, value in {"DagRun": dag_run, "create_session": create_session}.items():
        monkeypatch.setattr(fake_airflow, name, value, raising=False)
        monkeypatch.setitem(_airflow.IMPORT_PATHS, name, (fake_airflow.__name__,))
    return rows


def test_orm_port_tells_a_missing_run_from_an_existing_one(orm: dict[tuple[str, str], Any]) -> None:
    orm[("child", "r1")] = DagRunState.RUNNING
    port = airflow2.OrmPort(FakeOperator(log=_Log()), {})
    assert port.run_state("child", "r1") == "running"
    assert port.run_state("child", "never") is None
    assert port.run_state("other", "r1") is None
    assert port.dagrun_state("child", "r1") == "running"
    with pytest.raises(NoResultFound):  # the wait's read: a deleted run raises, as stock's refresh_from_db
        port.dagrun_state("child", "never")


def test_orm_port_leaves_retries_to_a_failed_child_whatever_the_route_says() -> None:
    port = airflow2.OrmPort(FakeOperator(log=_Log()), {})
    for retry in (True, False):
        with pytest.raises(AirflowException, match=r"^child failed with failed states failed$") as info:
            port.child_failed("child", "failed", retry=retry)
        assert not isinstance(info.value, AirflowFailException)  # stock 2.11's outcome: retries apply
    assert port.log.lines == []  # Airflow 2's stock logs no runner line
    assert airflow2.Port is airflow2.OrmPort


class DagRunAlreadyExists(Exception):
    def __init__(self, dag_run: Any) -> None:
        super().__init__(f"run {dag_run.run_id} already exists")
        self.dag_run = dag_run


@pytest.fixture
def trigger_dag(fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Airflow 2's ``trigger_dag`` over existing runs by run_id; what ``clear`` was called with."""
    runs: dict[str, Any] = {}
    cleared: list[dict[str, Any]] = []

    def trigger(
        *, dag_id: str, run_id: str, conf: Any, execution_date: Any, replace_microseconds: bool
    ) -> Any:
        assert replace_microseconds is False  # as stock's _trigger_dag_af_2
        if run_id in runs:
            raise DagRunAlreadyExists(runs[run_id])
        runs[run_id] = types.SimpleNamespace(run_id=run_id, logical_date=execution_date, conf=conf)
        return runs[run_id]

    dag = types.SimpleNamespace(clear=lambda **window: cleared.append(window))
    names = {
        "trigger_dag": trigger,
        "DagRunAlreadyExists": DagRunAlreadyExists,
        "DagModel": types.SimpleNamespace(get_current=lambda dag_id: object()),
        "SerializedDagModel": types.SimpleNamespace(get_dag=lambda dag_id: dag),
        "DagNotFound": LookupError,
    }
    for name, value in names.items():
        monkeypatch.setattr(fake_airflow, name, value, raising=False)
        monkeypatch.setitem(_airflow.IMPORT_PATHS, name, (fake_airflow.__name__,))
    return {"runs": runs, "cleared": cleared}


def orm_request(**overrides: Any):
    return request_for("2.11.2", trigger_run_id="r1", **overrides)


def test_orm_port_trigger_returns_the_dag_run_it_created(trigger_dag: dict[str, Any]) -> None:
    port = airflow2.OrmPort(FakeOperator(log=_Log()), {})
    dag_run = port.trigger(orm_request(conf={"a": 1}))
    assert dag_run is trigger_dag["runs"]["r1"] and dag_run.conf == {"a": 1}
    assert port.asked == "r1" and port.log.lines == []


def test_orm_port_trigger_raises_or_skips_for_an_existing_run_as_stock(trigger_dag: dict[str, Any]) -> None:
    port = airflow2.OrmPort(FakeOperator(log=_Log()), {})
    port.trigger(orm_request())
    with pytest.raises(DagRunAlreadyExists):  # re-raised: retries apply, as stock 2.11
        port.trigger(orm_request())
    with pytest.raises(AirflowSkipException, match="skip_when_already_exists is set to True"):
        port.trigger(orm_request(skip_when_already_exists=True))
    assert trigger_dag["cleared"] == []


def test_orm_port_trigger_with_reset_clears_the_existing_run_and_returns_it(
    trigger_dag: dict[str, Any],
) -> None:
    port = airflow2.OrmPort(FakeOperator(log=_Log()), {})
    first = port.trigger(orm_request())
    assert port.trigger(orm_request(reset_dag_run=True, skip_when_already_exists=True)) is first
    assert trigger_dag["cleared"] == [{"start_date": first.logical_date, "end_date": first.logical_date}]
    assert port.log.lines == ["Clearing child on r1"]

"""``_strategies/accessor.py`` and its probe: a Task SDK with ``ti.trigger_dag_run()`` (apache/airflow#69135).

No released Task SDK has the accessor; ``nox -s accessor`` runs the real one, built from
``patches/apache-airflow-task-sdk-1.4.0b2-accessor.patch``. Here a fake ``RuntimeTaskInstance`` has it."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from airflow_trigger_compat._runtime import _airflow
from airflow_trigger_compat._runtime._execute import route
from airflow_trigger_compat._runtime._strategies import accessor

from .conftest import (
    NOW,
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    FakeOperator,
    FakeStore,
    _Log,
    request_for,
    selection_for,
)
from .test_durable import KEY, Ti, link, real as run

pytestmark = pytest.mark.usefixtures("fake_airflow")


class AccessorTi(Ti):
    """A ``RuntimeTaskInstance`` with the accessor: ``trigger_dag_run`` creates the run, or finds it."""

    def __init__(self, runs: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(runs, **kwargs)
        self.triggered: list[dict[str, Any]] = []

    def trigger_dag_run(self, dag_id: str, run_id: str, **kwargs: Any) -> bool:
        self.triggered.append({"dag_id": dag_id, "run_id": run_id, **kwargs})
        if run_id in self.runs and not kwargs["reset_dag_run"]:
            return False
        self.runs[run_id] = "queued"
        return True


@pytest.fixture
def sdk_with_accessor(monkeypatch: pytest.MonkeyPatch) -> None:
    """``airflow.sdk.types.RuntimeTaskInstanceProtocol`` with ``trigger_dag_run``, as the patch adds it."""
    module = types.ModuleType("_fake_sdk_types")
    module.RuntimeTaskInstanceProtocol = type("P", (), {"trigger_dag_run": None})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(_airflow.IMPORT_PATHS, "RuntimeTaskInstanceProtocol", (module.__name__,))
    _airflow.has_trigger_accessor.cache_clear()


def test_the_probe_reads_the_public_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("_fake_sdk_types")
    module.RuntimeTaskInstanceProtocol = type("P", (), {"get_dagrun_state": None})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(_airflow.IMPORT_PATHS, "RuntimeTaskInstanceProtocol", (module.__name__,))
    _airflow.has_trigger_accessor.cache_clear()
    assert _airflow.has_trigger_accessor() is False  # every released Task SDK
    monkeypatch.setattr(module.RuntimeTaskInstanceProtocol, "trigger_dag_run", None, raising=False)
    _airflow.has_trigger_accessor.cache_clear()
    assert _airflow.has_trigger_accessor() is True
    _airflow.has_trigger_accessor.cache_clear()


@pytest.mark.usefixtures("sdk_with_accessor")
@pytest.mark.parametrize(
    ("version", "overrides", "trigger"),
    [
        ("3.3.2", {"durable": True}, "accessor"),
        ("3.1.8", {"durable": True}, "accessor"),  # a derived run_id: the accessor triggers it
        ("3.3.2", {}, "runner_exception"),  # without durable=True: stock's path, as the standard operator
        ("3.3.2", {"durable": True, "wait_for_completion": True, "deferrable": True}, "runner_exception"),
        ("2.11.2", {"durable": True}, "airflow2"),
    ],
)
def test_the_route_triggers_through_the_accessor_only_for_a_kept_run_id(
    version: str, overrides: dict[str, Any], trigger: str
) -> None:
    selection = selection_for(version)
    assert route(selection, request_for(selection, **overrides)).trigger == trigger


def test_without_the_accessor_durable_triggers_through_stocks_path() -> None:
    assert _airflow.has_trigger_accessor() is False  # no airflow.sdk.types here
    selection = selection_for("3.3.2")
    assert route(selection, request_for(selection, durable=True)).trigger == "runner_exception"


@pytest.mark.usefixtures("sdk_with_accessor")
def test_a_first_try_keeps_then_triggers_and_waits_itself() -> None:
    ti, store = AccessorTi(), FakeStore()
    ti.script = ["running", "success"]
    assert run("3.3.2", ti, store, trigger_run_id="r1", conf={"a": 1}) is None  # no DagRunTriggerException
    assert store.writes == [(KEY, "r1")]
    assert ti.triggered == [
        {"dag_id": "child", "run_id": "r1", "reset_dag_run": False, "conf": {"a": 1}, "logical_date": NOW}
    ]
    assert ti.pushed == [link("r1"), ("trigger_run_id", "r1")]  # the runner's XComs, in its order
    assert ti.runs == {"r1": "success"}


@pytest.mark.usefixtures("sdk_with_accessor")
def test_a_retry_reconnects_without_triggering() -> None:
    ti, store = AccessorTi({"old": "running"}), FakeStore({KEY: "old"})
    ti.script = ["running", "success"]
    assert run("3.3.2", ti, store) is None
    assert ti.triggered == [] and ti.runs == {"old": "success"}


@pytest.mark.usefixtures("sdk_with_accessor")
@pytest.mark.parametrize(("version", "error"), [("3.3.2", AirflowException), ("3.1.8", AirflowFailException)])
def test_a_failed_child_ends_the_try_as_the_installed_runner(version: str, error: type) -> None:
    ti = AccessorTi()
    ti.script = ["failed"]
    with pytest.raises(error, match="failed with failed state failed") as info:
        run(version, ti, FakeStore() if version == "3.3.2" else None)
    assert (type(info.value) is AirflowFailException) == (error is AirflowFailException)


@pytest.mark.usefixtures("sdk_with_accessor")
@pytest.mark.parametrize(
    ("skip", "error", "line"),
    [
        (True, AirflowSkipException, "Dag Run already exists, skipping task"),
        (False, AirflowFailException, "Dag Run already exists, marking task as failed."),
    ],
)
def test_already_exists_skips_or_fails_as_the_runner(skip: bool, error: type, line: str) -> None:
    # A run_id this task did not make (a fixed one, taken by another run): answered as the runner answers.
    ti = AccessorTi({"r1": "success"})
    log = _Log()
    selection = selection_for("3.3.2")
    overrides = {"durable": True, "trigger_run_id": "r1", "skip_when_already_exists": skip}
    request = request_for(selection, **overrides)
    context = {"ti": ti, "task_instance": ti}
    with pytest.raises(error):
        accessor.execute(FakeOperator(log=log, **overrides), context, request, route(selection, request))
    assert any(entry.startswith(line) for entry in log.lines)
    assert ti.pushed == [link("r1")]  # the link first, as stock; no run_id XCom for a run it did not make


@pytest.mark.usefixtures("sdk_with_accessor")
def test_fire_and_forget_triggers_and_returns() -> None:
    ti = AccessorTi()
    assert run("3.3.2", ti, FakeStore(), wait_for_completion=False) is None
    assert len(ti.triggered) == 1 and ti.script == []

"""The shared rules of the paths where the operator owns its execution (``durable=True``); the whole
trigger-and-wait flow over them is ``test_durable.py``."""

from __future__ import annotations

import types
from typing import Any

import pytest

from airflow_trigger_compat._runtime._contract import check_not_paused, wait_for_run
from airflow_trigger_compat._runtime._strategies.accessor import SupervisorPort

from .conftest import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    DagIsPaused,
    Failed,
    FakePort,
    Paused,
    RunNotFound,
    Skipped,
    request_for,
)


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


def test_failed_state_fails_with_retry() -> None:
    port = running_port("running", "failed")
    with pytest.raises(Failed, match=r"^child failed with failed state failed$") as info:
        wait_for_run(request(), port, "r1")
    assert info.value.retry


def test_custom_states_are_respected() -> None:
    custom = request(allowed_states=["failed"], failed_states=["success"])
    assert wait_for_run(custom, running_port("running", "failed"), "r1") == "failed"
    with pytest.raises(Failed, match="failed state success"):
        wait_for_run(custom, running_port("success"), "r1")


def test_a_state_in_both_lists_fails() -> None:
    """As the runner: failed_states is checked first."""
    both = request(allowed_states=["success"], failed_states=["success"])
    with pytest.raises(Failed, match="failed state success"):
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


# -- the other rules --------------------------------------------------------------------------------------


def test_existing_run_fails_without_retry_and_names_the_fixes() -> None:
    port = FakePort()
    with pytest.raises(Failed, match="'r1' of 'child' already exists") as info:
        port.existing_run(request(), "r1")
    assert not info.value.retry
    assert "reset_dag_run=True" in str(info.value)
    assert "skip_when_already_exists=True" in str(info.value)
    assert port.log.lines == ["Dag Run already exists, marking task as failed."]


def test_existing_run_skips_when_asked() -> None:
    port = FakePort()
    with pytest.raises(Skipped, match="skip_when_already_exists=True"):
        port.existing_run(request(skip_when_already_exists=True), "r1")
    assert "skipping task" in port.log.lines[0]


def test_paused_dag_is_refused_only_when_asked() -> None:
    with pytest.raises(Paused, match="child"):
        check_not_paused(request(fail_when_dag_is_paused=True), FakePort(paused=True))
    check_not_paused(request(), FakePort(paused=True))
    check_not_paused(request(fail_when_dag_is_paused=True), FakePort(paused=False))


# -- the ports: outcomes are Airflow's own exceptions ------------------------------------------------------


class Ti:
    def __init__(self) -> None:
        self.pushed: list[tuple[str, Any]] = []

    def xcom_push(self, *, key: str, value: Any) -> None:
        self.pushed.append((key, value))


def base_port() -> SupervisorPort:
    operator = types.SimpleNamespace(trigger_run_id="generated", log=None)
    return SupervisorPort(operator, {"ti": Ti()})


def test_push_run_id_sets_the_xcom_and_the_attribute_listeners_read(fake_airflow: types.ModuleType) -> None:
    port = base_port()
    port.push_run_id("reconnected")
    # The key is the operator module's own XCOM_RUN_ID (the fake's: "trigger_run_id"); the link reads it.
    assert port.ti.pushed == [(fake_airflow.XCOM_RUN_ID, "reconnected")]
    assert port.operator.trigger_run_id == "reconnected"


def test_outcomes_are_airflows_exceptions(fake_airflow: types.ModuleType) -> None:
    port = base_port()
    with pytest.raises(AirflowSkipException, match="skip me"):
        port.skip("skip me")
    with pytest.raises(AirflowFailException, match="no retry"):
        port.fail("no retry", retry=False)
    with pytest.raises(AirflowException, match="retry") as info:
        port.fail("retry", retry=True)
    assert not isinstance(info.value, AirflowFailException)  # retries apply
    with pytest.raises(DagIsPaused) as paused:
        port.paused("child")
    assert paused.value.dag_id == "child"

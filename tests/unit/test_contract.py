from __future__ import annotations

import pytest

from airflow_trigger_compat._contract import trigger_and_wait
from airflow_trigger_compat._request import build_request

from .conftest import Deferred, Failed, FakeOperator, FakePort, Paused, Skipped, selection_for


def request(**overrides):
    overrides.setdefault("trigger_run_id", "r1")
    overrides.setdefault("poke_interval", 5)
    return build_request(FakeOperator(**overrides), selection_for("3.3.2"))


def test_fire_and_forget_triggers_pushes_and_returns() -> None:
    port = FakePort()
    trigger_and_wait(request(), port)
    assert port.triggered == [("r1", False)]
    assert port.xcoms == ["r1"]
    assert port.slept == []


def test_wait_until_allowed_state_polling_every_poke_interval() -> None:
    port = FakePort()
    port.script = ["queued", "running", "success"]
    trigger_and_wait(request(wait_for_completion=True), port)
    assert port.slept == [5.0, 5.0, 5.0]  # sleeps before each poll, as the task runner does


def test_failed_state_fails_with_retry() -> None:
    port = FakePort()
    port.script = ["running", "failed"]
    with pytest.raises(Failed, match="child failed with failed state failed") as info:
        trigger_and_wait(request(wait_for_completion=True), port)
    assert info.value.retry


def test_custom_states_are_respected() -> None:
    port = FakePort()
    port.script = ["running", "failed"]
    trigger_and_wait(
        request(wait_for_completion=True, allowed_states=["failed"], failed_states=["success"]), port
    )
    port = FakePort()
    port.script = ["success"]
    with pytest.raises(Failed, match="failed state success"):
        trigger_and_wait(
            request(wait_for_completion=True, allowed_states=["failed"], failed_states=["success"]), port
        )


def test_swapped_states_would_be_caught() -> None:
    """Guards the contract itself: a child that succeeds must never fail the parent by default."""
    port = FakePort()
    port.script = ["success"]
    trigger_and_wait(request(wait_for_completion=True), port)
    assert port.runs["r1"] == "success"


def test_existing_run_fails_without_retry_and_names_the_fixes() -> None:
    port = FakePort(existing={"r1": "success"})
    with pytest.raises(Failed, match="already exists") as info:
        trigger_and_wait(request(), port)
    assert not info.value.retry
    assert "reset_dag_run=True" in str(info.value)
    assert "skip_when_already_exists=True" in str(info.value)
    assert port.xcoms == []


def test_existing_run_skips_when_asked() -> None:
    port = FakePort(existing={"r1": "success"})
    with pytest.raises(Skipped, match="skip_when_already_exists"):
        trigger_and_wait(request(skip_when_already_exists=True), port)


def test_existing_run_is_reset_when_asked_and_reset_wins_over_skip() -> None:
    port = FakePort(existing={"r1": "failed"})
    trigger_and_wait(request(reset_dag_run=True, skip_when_already_exists=True), port)
    assert port.triggered == [("r1", True)]
    assert port.xcoms == ["r1"]


def test_deferrable_wait_defers_after_pushing() -> None:
    port = FakePort()
    with pytest.raises(Deferred):
        trigger_and_wait(request(wait_for_completion=True, deferrable=True), port)
    assert port.xcoms == ["r1"]


def test_paused_dag_fails_before_triggering() -> None:
    port = FakePort(paused=True)
    with pytest.raises(Paused):
        trigger_and_wait(request(fail_when_dag_is_paused=True), port)
    assert port.triggered == []
    trigger_and_wait(request(), FakePort(paused=True))  # only checked when asked

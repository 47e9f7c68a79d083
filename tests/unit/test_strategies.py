from __future__ import annotations

import datetime

import pytest

from airflow_trigger_compat import DurableUnavailableWarning, RetryUnavailableWarning
from airflow_trigger_compat._execute import warn_about_gaps, warn_if_not_durable
from airflow_trigger_compat._registry import resolve
from airflow_trigger_compat._request import build_request
from airflow_trigger_compat._strategies.runner_exception import runner_kwargs
from airflow_trigger_compat._version import parse_airflow_version

from .conftest import FakeOperator, selection_for

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
BASE = frozenset(
    {
        "self", "trigger_dag_id", "dag_run_id", "conf", "logical_date", "reset_dag_run",
        "skip_when_already_exists", "wait_for_completion", "allowed_states", "failed_states",
        "poke_interval", "deferrable",
    }
)  # fmt: skip


def test_runner_kwargs_carry_the_request() -> None:
    request = build_request(
        FakeOperator(trigger_run_id="r", conf={"a": 1}, logical_date=NOW), selection_for("3.1.8")
    )
    kwargs = runner_kwargs(request, BASE)
    assert kwargs["dag_run_id"] == "r"
    assert kwargs["conf"] == {"a": 1}
    assert kwargs["allowed_states"] == ["success"]
    assert kwargs["failed_states"] == ["failed"]
    assert set(kwargs) <= BASE


@pytest.mark.parametrize(
    ("accepted", "expected"),
    [
        (BASE, set()),  # Airflow 3.0/3.1
        (BASE | {"note"}, {"note"}),  # Airflow 3.2
        (BASE | {"note", "run_after"}, {"note", "run_after"}),  # Airflow 3.3
    ],
)
def test_runner_kwargs_only_pass_what_the_signature_accepts(
    accepted: frozenset[str], expected: set[str]
) -> None:
    request = build_request(FakeOperator(note="n", run_after=NOW), selection_for("3.3.2"))
    assert set(runner_kwargs(request, accepted)) - BASE == expected


@pytest.mark.parametrize(
    ("version", "overrides", "forced", "reason"),
    [
        ("3.1.8", {}, None, "ResumableJobMixin"),
        ("2.11.2", {}, None, "ResumableJobMixin"),
        ("3.3.2", {"deferrable": True, "wait_for_completion": True}, None, "triggerer"),
        ("3.3.2", {}, "runner_exception", "ResumableJobMixin"),
    ],
)
def test_durable_where_it_cannot_work_warns_with_version_and_reason(
    version: str, overrides: dict, forced: str | None, reason: str
) -> None:
    selection = resolve(parse_airflow_version(version), forced)
    request = build_request(FakeOperator(durable=True, **overrides), selection)
    with pytest.warns(DurableUnavailableWarning, match=rf"Airflow {version}.*{reason}"):
        warn_if_not_durable(selection, request)


@pytest.mark.parametrize(
    "overrides", [{"durable": True}, {"durable": False}, {"durable": False, "deferrable": True}]
)
def test_no_warning_where_durable_works_or_is_off(overrides: dict, recwarn: pytest.WarningsRecorder) -> None:
    selection = selection_for("3.3.2") if overrides["durable"] else selection_for("3.0.6")
    warn_if_not_durable(selection, build_request(FakeOperator(**overrides), selection))
    assert not recwarn.list


@pytest.mark.parametrize("version", ["3.0.6", "3.1.8", "3.2.2"])
def test_retries_that_a_failed_child_cannot_trigger_warn(version: str) -> None:
    selection = selection_for(version)
    request = build_request(FakeOperator(wait_for_completion=True), selection)
    with pytest.warns(RetryUnavailableWarning, match=rf"retries=2 .* Airflow {version}.*62970"):
        warn_about_gaps(selection, request, retries=2)


@pytest.mark.parametrize(
    ("version", "overrides", "retries"),
    [
        ("3.3.2", {"wait_for_completion": True}, 2),  # the 3.3 runner and the accessor path retry
        ("2.11.2", {"wait_for_completion": True}, 2),
        ("3.1.8", {"wait_for_completion": True, "deferrable": True}, 2),  # execute_complete raises
        ("3.1.8", {"wait_for_completion": False}, 2),  # nothing to wait for
        ("3.1.8", {"wait_for_completion": True}, 0),  # no retries asked for
    ],
)
def test_no_retry_warning_where_retries_apply(
    version: str, overrides: dict, retries: int, recwarn: pytest.WarningsRecorder
) -> None:
    selection = selection_for(version)
    warn_about_gaps(selection, build_request(FakeOperator(**overrides), selection), retries)
    assert not recwarn.list

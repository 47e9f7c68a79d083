"""The entry point: bad input fails the task without retries, as a failure that is also stock's error."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from airflow_trigger_compat import (
    FeatureNotSupported,
    FlagIgnoredWarning,
    TriggerArgumentError,
    UnverifiedAirflowWarning,
)
from airflow_trigger_compat._runtime import _execute, _request
from airflow_trigger_compat._runtime._contract import Route
from airflow_trigger_compat._runtime._errors import task_failure
from airflow_trigger_compat._runtime._execute import execute_trigger
from airflow_trigger_compat._runtime._request import check_arguments
from airflow_trigger_compat._runtime._strategies import runner_exception

from .conftest import AF3_HELPERS, AirflowFailException, FakeOperator, selection_for


class ParserError(ValueError):
    """pendulum's: what stock raises for a date it cannot parse."""


# -- task_failure ---------------------------------------------------------------------------------------


def test_task_failure_is_a_no_retry_failure_and_the_argument_error(fake_airflow: types.ModuleType) -> None:
    error = TriggerArgumentError("poke_interval=-1 must be ...", airflow_version="3.1.8")
    failure = task_failure(error)
    assert isinstance(failure, AirflowFailException)  # no retries: retrying cannot fix an argument
    assert isinstance(failure, TriggerArgumentError)
    assert isinstance(failure, ValueError) and isinstance(failure, TypeError)  # stock's types for bad input
    assert str(failure) == "poke_interval=-1 must be ..."
    assert failure.args == ("poke_interval=-1 must be ...",)
    assert failure.airflow_version == "3.1.8"  # type: ignore[attr-defined]
    assert failure.stock_type is None  # type: ignore[attr-defined]
    assert type(task_failure(TriggerArgumentError("other"))) is type(failure)  # one class per combination


def test_task_failure_is_also_stocks_narrower_type(fake_airflow: types.ModuleType) -> None:
    failure = task_failure(TriggerArgumentError("bad date", stock_type=ParserError))
    assert isinstance(failure, ParserError)
    assert isinstance(failure, AirflowFailException) and isinstance(failure, TriggerArgumentError)
    assert failure.stock_type is ParserError  # type: ignore[attr-defined]
    # A type the error already is adds nothing.
    assert type(task_failure(TriggerArgumentError("x", stock_type=ValueError))) is type(
        task_failure(TriggerArgumentError("y"))
    )


def test_task_failure_drops_a_stock_type_that_cannot_combine(fake_airflow: types.ModuleType) -> None:
    class Reversed(TypeError, ValueError):
        """Its MRO orders TypeError before ValueError; TriggerArgumentError's the other way round."""

    failure = task_failure(TriggerArgumentError("x", stock_type=Reversed))
    assert not isinstance(failure, Reversed)
    assert isinstance(failure, AirflowFailException) and isinstance(failure, TriggerArgumentError)


# -- execute_trigger --------------------------------------------------------------------------------------


@pytest.fixture
def on_airflow(fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Airflow 3.1.8 with the fake helpers; the strategy's execute records what it was called with."""
    monkeypatch.setattr(_execute, "select_row", lambda: selection_for("3.1.8"))
    monkeypatch.setattr(_request, "airflow_helpers", lambda: AF3_HELPERS)
    calls: list[Any] = []

    def execute(operator: Any, context: Any, request: Any, route: Route) -> str:
        assert route == _execute.route(selection_for("3.1.8"), request)  # the route is decided once, before
        calls.append((operator, context, request, operator.trigger_run_id))
        return "executed"

    monkeypatch.setattr(runner_exception, "execute", execute)
    return calls


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"poke_interval": -1, "wait_for_completion": True}, "poke_interval=-1"),  # build_request
        ({"trigger_run_id": "a b"}, "trigger_run_id='a b'"),
    ],
)
def test_bad_input_fails_the_task_before_the_strategy_runs(
    on_airflow: list[Any], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(AirflowFailException, match=message) as info:
        execute_trigger(FakeOperator(**overrides), {})
    assert isinstance(info.value, TriggerArgumentError)
    assert type(info.value.__cause__) is TriggerArgumentError  # raised from the argument error
    assert str(info.value) == str(info.value.__cause__)
    assert on_airflow == []  # no child run was triggered


def test_an_unparseable_date_fails_as_the_parsers_type_too(
    on_airflow: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(value: str) -> Any:
        raise ParserError(value)

    monkeypatch.setattr(_request, "airflow_helpers", lambda: AF3_HELPERS._replace(parse=parse))
    with pytest.raises(ParserError, match="logical_date='soon'") as info:
        execute_trigger(FakeOperator(logical_date="soon"), {})
    assert isinstance(info.value, AirflowFailException)
    assert on_airflow == []


def test_good_input_runs_the_strategy_with_the_run_id_set_for_listeners(on_airflow: list[Any]) -> None:
    operator = FakeOperator(conf='{"a": 1}')
    context = {"ti": object()}
    assert execute_trigger(operator, context) == "executed"
    ((called_operator, called_context, request, run_id_seen),) = on_airflow
    assert (called_operator, called_context) == (operator, context)
    assert run_id_seen == request.run_id == operator.trigger_run_id
    assert request.conf == operator.conf == {"a": 1}


def test_flags_this_airflow_drops_warn_at_execute(on_airflow: list[Any]) -> None:
    with pytest.warns(FlagIgnoredWarning, match="note= is ignored on Airflow 3.1.8"):
        execute_trigger(FakeOperator(note="hi"), {})
    assert on_airflow[0][2].note is None


def test_openlineage_parent_info_is_added_to_conf(
    on_airflow: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("airflow.providers.standard.utils.openlineage")
    module.safe_inject_openlineage_properties_into_dagrun_conf = (  # type: ignore[attr-defined]
        lambda dr_conf, ti: {**(dr_conf or {}), "openlineage": ti}
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    operator = FakeOperator(conf={"a": 1}, openlineage_inject_parent_info=True)
    execute_trigger(operator, {"ti": "the-ti"})
    assert on_airflow[0][2].conf == operator.conf == {"a": 1, "openlineage": "the-ti"}
    execute_trigger(FakeOperator(conf={"a": 1}), {"ti": "the-ti"})  # only when asked
    assert on_airflow[1][2].conf == {"a": 1}


def test_check_arguments_checks_against_the_running_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_request, "select_row", lambda: selection_for("3.1.8"))
    with pytest.raises(FeatureNotSupported, match=r"requires Airflow 3\.2\.0"):
        check_arguments({"trigger_dag_id": "child", "fail_when_dag_is_paused": True})
    with pytest.raises(TriggerArgumentError, match="durable='yes'"):
        check_arguments({"trigger_dag_id": "child", "durable": "yes"})
    check_arguments({"trigger_dag_id": "child", "durable": True, "note": "dropped later, not refused"})


def test_check_arguments_on_an_airflow_newer_than_every_row_warns_and_does_not_raise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At parse time, a DAG on an Airflow no row covers yet loads: it takes the newest row, with a warning."""
    airflow = types.ModuleType("airflow")
    airflow.__version__ = "4.0.0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow", airflow)
    with pytest.warns(UnverifiedAirflowWarning, match=r"Airflow 4\.0\.0 is newer than every release"):
        check_arguments({"trigger_dag_id": "child", "durable": True, "fail_when_dag_is_paused": True})

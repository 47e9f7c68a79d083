from __future__ import annotations

import datetime
import enum

import pytest

from airflow_trigger_compat import FeatureNotSupported, TriggerArgumentError
from airflow_trigger_compat._request import build_request, check_static_arguments

from .conftest import FakeOperator, selection_for

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
V33 = selection_for("3.3.2")


class NotSet:
    """Shaped like Airflow's NOTSET sentinel (class ArgNotSet)."""


ArgNotSet = type("ArgNotSet", (), {})
NOTSET = ArgNotSet()


def build(selection=V33, **overrides):
    return build_request(FakeOperator(**overrides), selection, now=NOW)


def test_defaults_match_the_standard_operator() -> None:
    request = build(logical_date=NOTSET, run_after=NOTSET)
    assert request.logical_date == NOW
    assert request.run_after is None
    assert request.run_id == f"manual__{NOW.isoformat()}"
    assert not request.run_id_given
    assert request.allowed_states == ("success",)
    assert request.failed_states == ("failed",)
    assert request.poke_interval == 60.0


def test_run_after_alone_means_no_logical_date_and_a_unique_run_id() -> None:
    after = NOW + datetime.timedelta(hours=1)
    first = build(logical_date=NOTSET, run_after=after)
    second = build(logical_date=NOTSET, run_after=after)
    assert first.logical_date is None
    assert first.run_after == after
    assert first.run_id.startswith(f"manual__{after.isoformat()}_")
    assert first.run_id != second.run_id  # Airflow 3 adds a random suffix without a logical date


def test_airflow2_run_id_has_no_suffix() -> None:
    request = build(selection_for("2.11.2"), logical_date=NOTSET, run_after=NOTSET)
    assert request.run_id == f"manual__{NOW.isoformat()}"


def test_given_run_id_and_string_dates() -> None:
    request = build(trigger_run_id="r1", logical_date="2026-05-01T00:00:00", conf='{"a": [1, 2]}')
    assert request.run_id == "r1"
    assert request.run_id_given
    assert request.logical_date == datetime.datetime(2026, 5, 1, tzinfo=datetime.timezone.utc)
    assert request.conf == {"a": [1, 2]}


class State(str, enum.Enum):
    SUCCESS = "success"
    FAILED = "failed"
    QUEUED = "queued"


def test_states_accept_enums_and_strings() -> None:
    request = build(allowed_states=[State.SUCCESS, "failed"], failed_states=[State.QUEUED])
    assert request.allowed_states == ("success", "failed")
    assert request.failed_states == ("queued",)
    assert build(failed_states=[]).failed_states == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trigger_dag_id": ""}, "trigger_dag_id=''"),
        ({"trigger_dag_id": "  "}, "trigger_dag_id='  '"),
        ({"trigger_dag_id": None}, "trigger_dag_id=None"),
        ({"conf": {"when": NOW}}, r"conf\['when'\]=datetime.datetime"),
        ({"conf": {"a": [1, {1, 2}]}}, r"conf\['a'\]\[1\]=\{1, 2\} \(set\)"),
        ({"conf": "{not json"}, "is a string but not valid JSON"),
        ({"conf": [1, 2]}, "must be a dict"),
        ({"allowed_states": ["succes"]}, "allowed_states contains 'succes'"),
        ({"failed_states": ["broken"]}, "failed_states contains 'broken'"),
        ({"allowed_states": "success"}, r"write allowed_states=\['success'\]"),
        ({"allowed_states": ["success"], "failed_states": ["success"]}, "share"),
        ({"logical_date": 20260101}, "logical_date=20260101 must be a datetime"),
        ({"logical_date": "yesterday"}, "logical_date='yesterday' is not an ISO 8601"),
        ({"run_after": 3.5}, "run_after=3.5 must be a datetime"),
        ({"poke_interval": 0}, "poke_interval=0 must be"),
        ({"poke_interval": -1}, "poke_interval=-1"),
        ({"poke_interval": "60"}, "poke_interval='60'"),
        ({"poke_interval": True}, "poke_interval=True"),
    ],
)
def test_bad_input_names_value_and_fix(overrides: dict, message: str) -> None:
    with pytest.raises(TriggerArgumentError, match=message):
        build(**overrides)


def test_argument_error_is_value_and_type_error() -> None:
    with pytest.raises(ValueError):
        build(poke_interval=0)
    with pytest.raises(TypeError):
        build(logical_date=1)


@pytest.mark.parametrize(
    ("version", "flag", "value"),
    [
        ("3.1.8", "fail_when_dag_is_paused", True),
        ("3.0.6", "note", "hello"),
        ("3.2.2", "run_after", NOW),
        ("2.11.2", "run_after", NOW),
    ],
)
def test_flag_the_version_cannot_honour(version: str, flag: str, value: object) -> None:
    with pytest.raises(FeatureNotSupported, match=f"{flag}=.* cannot work on Airflow {version}") as info:
        build(selection_for(version), **{flag: value})
    assert info.value.airflow_version == version
    with pytest.raises(NotImplementedError):  # what the standard operator raises for the same case
        check_static_arguments(selection_for(version), {flag: value})


def test_supported_flags_pass_and_durable_never_raises() -> None:
    request = build(note="n", run_after=NOW, fail_when_dag_is_paused=True, durable=True)
    assert request.note == "n"
    assert request.durable
    assert build(selection_for("3.0.6"), durable=True).durable  # warns later, never raises


def test_static_checks_run_at_construction() -> None:
    with pytest.raises(TriggerArgumentError, match="poke_interval=0"):
        check_static_arguments(V33, {"poke_interval": 0})
    with pytest.raises(TriggerArgumentError, match="'nope'"):
        check_static_arguments(V33, {"failed_states": ["nope"]})
    check_static_arguments(V33, {"run_after": NOTSET, "note": None})


def test_durable_must_be_a_bool() -> None:
    with pytest.raises(TriggerArgumentError, match="durable='yes' must be True or False"):
        check_static_arguments(V33, {"durable": "yes"})

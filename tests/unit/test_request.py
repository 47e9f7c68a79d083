from __future__ import annotations

import datetime
import math
import types
from typing import Any

import pytest

from airflow_trigger_compat import FeatureNotSupported, TriggerArgumentError
from airflow_trigger_compat._runtime import _airflow, _request
from airflow_trigger_compat._runtime._airflow import airflow_helpers
from airflow_trigger_compat._runtime._registry import Feature
from airflow_trigger_compat._runtime._request import build_request, check_arguments

from .conftest import (
    AF3_HELPERS,
    NOTSET,
    NOW,
    DagRunState,
    FakeOperator,
    request_for,
    selection_for,
)

V33 = selection_for("3.3.2")
LATER = NOW + datetime.timedelta(hours=1)


def build(selection: Any = "3.3.2", **overrides: Any) -> _request.TriggerRequest:
    return request_for(selection, **overrides)


# -- the values, as the standard operator computes them ---------------------------------------------------


def test_defaults_match_the_standard_operator() -> None:
    request = build()
    assert request.logical_date == NOW  # timezone.utcnow() when neither date is given
    assert request.run_after is None  # only passed on when given
    assert request.run_id == f"manual__{NOW.isoformat()}"
    assert request.run_id_generated
    assert request.allowed_states == ("success",)
    assert request.failed_states == ("failed",)
    assert request.poke_interval == 60
    assert request.note is None
    assert request.conf is None
    assert request.dropped == ()
    assert not (request.durable or request.deferrable or request.wait_for_completion)


def test_run_after_alone_means_no_logical_date_and_a_unique_run_id() -> None:
    first = build(run_after=LATER)
    second = build(run_after=LATER)
    assert first.logical_date is None
    assert first.run_after == LATER
    assert first.run_id.startswith(f"manual__{LATER.isoformat()}_")
    assert first.run_id != second.run_id  # Airflow 3 adds a random suffix without a logical date


def test_logical_date_none_means_no_logical_date_and_now_in_the_run_id() -> None:
    request = build(logical_date=None)
    assert request.logical_date is None
    assert request.run_after is None
    assert request.run_id.startswith(f"manual__{NOW.isoformat()}_")


def test_a_none_logical_date_still_makes_the_run_id_from_now() -> None:
    # Unset or None, nobody else can name the run, so durable can derive its own (providers-standard
    # before 0.4.0 has None as the unset default); a date, run_after or trigger_run_id fixes the run_id.
    assert build(logical_date=None).run_id_generated
    assert build("2.11.2", logical_date=None).run_id_generated
    assert not build(logical_date=NOW).run_id_generated
    assert not build(trigger_run_id="r1").run_id_generated


def test_airflow2_run_id_has_no_suffix() -> None:
    request = build("2.11.2")
    assert request.run_id == f"manual__{NOW.isoformat()}"
    assert build("2.11.2", logical_date=None).run_id == f"manual__{NOW.isoformat()}"


def test_given_run_id_and_string_dates() -> None:
    operator = FakeOperator(trigger_run_id="r1", logical_date="2026-05-01T00:00:00", conf='{"a": [1, 2]}')
    request = build_request(operator, V33, AF3_HELPERS)
    assert request.run_id == "r1"
    assert not request.run_id_generated
    assert request.logical_date == datetime.datetime(2026, 5, 1, tzinfo=datetime.timezone.utc)
    assert request.conf == {"a": [1, 2]}
    assert operator.conf == {"a": [1, 2]}  # written back, as stock does


def test_values_come_from_airflows_own_helpers() -> None:
    parsed = datetime.datetime(1999, 9, 9, tzinfo=datetime.timezone.utc)
    now = datetime.datetime(2030, 3, 3, tzinfo=datetime.timezone.utc)
    calls: list[tuple[Any, Any]] = []

    def generate_run_id(logical_date: Any, run_after: Any) -> str:
        calls.append((logical_date, run_after))
        return "generated"

    helpers = AF3_HELPERS._replace(
        parse=lambda value: parsed, utcnow=lambda: now, generate_run_id=generate_run_id
    )
    assert build(helpers=helpers, logical_date="anything").logical_date == parsed
    assert build(helpers=helpers, run_after="anything").run_after == parsed
    request = build(helpers=helpers)
    assert (request.logical_date, request.run_id) == (now, "generated")
    # run_after defaults to the logical date, and to "now" when both are None.
    assert calls == [(parsed, parsed), (None, parsed), (now, now)]
    build(helpers=helpers, logical_date=None)
    assert calls[-1] == (None, now)


def test_run_after_on_an_airflow_without_it_is_dropped_not_refused() -> None:
    request = build("3.2.2", run_after=LATER)
    assert request.run_after is None
    assert request.dropped == (Feature.RUN_AFTER,)
    assert request.logical_date is None  # as stock: a given run_after still means no logical date
    assert request.run_id.startswith(f"manual__{LATER.isoformat()}_")
    assert build("2.11.2", run_after=LATER).dropped == (Feature.RUN_AFTER,)
    assert build("3.2.2", run_after=None).dropped == ()  # nothing to drop


@pytest.mark.parametrize("version", ["3.0.6", "3.1.8", "2.11.2"])
def test_note_on_an_airflow_without_it_is_dropped_not_refused(version: str) -> None:
    request = build(version, note="hello")
    assert request.note is None
    assert request.dropped == (Feature.NOTE,)
    # A note that is not a string is dropped too: it is never sent where the Airflow has no note.
    assert build(version, note=5).dropped == (Feature.NOTE,)


def test_note_where_supported() -> None:
    assert build("3.2.2", note="n").note == "n"
    assert build(note="n").note == "n"
    assert build(note="").note is None  # stock sends no empty note
    assert build(note="").dropped == ()
    with pytest.raises(TriggerArgumentError, match=r"note=5 \(int\) must be a string.*write note='5'"):
        build(note=5)


def test_an_operator_without_run_after_or_note_attributes() -> None:
    """Older providers' operators have neither attribute: as if they were never given."""
    operator = FakeOperator()
    del operator.run_after, operator.note
    request = build_request(operator, V33, AF3_HELPERS)
    assert (request.logical_date, request.run_after, request.note, request.dropped) == (NOW, None, None, ())


def test_states_are_used_as_the_operator_holds_them() -> None:
    request = build(allowed_states=[DagRunState.SUCCESS, "failed"], failed_states=[DagRunState.QUEUED])
    assert request.allowed_states == ("success", "failed")
    assert request.failed_states == ("queued",)
    assert build(failed_states=[]).failed_states == ()


def test_overlapping_states_are_allowed() -> None:
    request = build(allowed_states=["success"], failed_states=["success", "failed"])
    assert request.allowed_states == ("success",)
    assert request.failed_states == ("success", "failed")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trigger_dag_id": ""}, "trigger_dag_id='' must be a non-empty DAG id"),
        ({"trigger_dag_id": "  "}, "trigger_dag_id='  '"),
        ({"trigger_dag_id": None}, "trigger_dag_id=None"),
        (
            {"conf": {"when": NOW}},
            r"^conf parameter should be JSON Serializable: .*conf\['when'\]=datetime.datetime",
        ),
        ({"conf": {"a": [1, {1, 2}]}}, r"JSON Serializable: .*conf\['a'\]\[1\]=\{1, 2\} \(set\)"),
        ({"conf": "{not json"}, r"JSON Serializable: \{not json \(a string, but not JSON"),
        (
            {"logical_date": 20260101},
            r"^Expected str, datetime.datetime, or None for parameter 'logical_date'. Got int "
            r"\(logical_date=20260101\)",
        ),
        ({"logical_date": "yesterday"}, "logical_date='yesterday' is not a date-time Airflow can parse"),
        ({"run_after": "tomorrow"}, "run_after='tomorrow' is not a date-time Airflow can parse"),
        ({"trigger_run_id": "a b"}, "trigger_run_id='a b' cannot name a DAG run: The run_id provided 'a b'"),
        ({"trigger_run_id": "x/y"}, "trigger_run_id='x/y' cannot name a DAG run"),
    ],
)
def test_bad_input_names_value_and_fix(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(TriggerArgumentError, match=message):
        build(**overrides)


def test_stock_errors_keep_stocks_types() -> None:
    with pytest.raises(TypeError, match="parameter 'logical_date'"):
        build(logical_date=1)
    with pytest.raises(ValueError, match="JSON Serializable"):
        build(conf={"s": {1}})


def test_a_parse_failure_keeps_the_parsers_exception_type() -> None:
    class ParserError(ValueError):
        """pendulum's."""

    def parse(value: str) -> datetime.datetime:
        raise ParserError(f"Unable to parse {value}")

    with pytest.raises(TriggerArgumentError, match=r"\(Unable to parse soon\)") as info:
        build(helpers=AF3_HELPERS._replace(parse=parse), logical_date="soon")
    assert info.value.stock_type is ParserError
    assert isinstance(info.value.__cause__, ParserError)
    with pytest.raises(TriggerArgumentError) as info:
        build(logical_date="soon")  # the default fake's ValueError
    assert info.value.stock_type is ValueError


def test_errors_that_are_not_parse_failures_have_no_stock_type() -> None:
    with pytest.raises(TriggerArgumentError) as info:
        build(trigger_dag_id="")
    assert info.value.stock_type is None


def test_a_given_run_id_is_checked_with_airflows_validator_and_a_generated_one_is_not() -> None:
    seen: list[str] = []

    def validate(run_id: str) -> None:
        seen.append(run_id)
        if run_id == "forbidden":
            raise ValueError("matches [scheduler] allowed_run_id_pattern: no")

    helpers = AF3_HELPERS._replace(validate_run_id=validate)
    assert build(helpers=helpers, trigger_run_id="fine").run_id == "fine"
    with pytest.raises(
        TriggerArgumentError, match=r"'forbidden' cannot name a DAG run: matches .*pattern: no"
    ):
        build(helpers=helpers, trigger_run_id="forbidden")
    build(helpers=helpers)
    assert seen == ["fine", "forbidden"]
    assert build(trigger_run_id=7).run_id == "7"  # stock: str(trigger_run_id)


@pytest.mark.parametrize(
    ("overrides", "checked"),
    [
        ({"wait_for_completion": True}, True),
        ({"wait_for_completion": True, "deferrable": True}, False),  # the triggerer waits
        ({"wait_for_completion": False}, False),  # nothing to wait for
    ],
)
@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, "60", None])
def test_poke_interval_is_checked_only_for_a_synchronous_wait(
    overrides: dict, checked: bool, bad: Any
) -> None:
    if checked:
        with pytest.raises(TriggerArgumentError, match=rf"poke_interval={bad!r} must be a number of seconds"):
            build(poke_interval=bad, **overrides)
    else:
        assert build(poke_interval=bad, **overrides).poke_interval is bad


@pytest.mark.parametrize("good", [0, 0.0, 1, 2.5])
def test_poke_interval_zero_and_up_pass(good: float) -> None:
    assert build(poke_interval=good, wait_for_completion=True).poke_interval == good


@pytest.mark.parametrize("conf", [None, {}, "", "{}", '{"a": 1}', {"a": {"b": [1, None, "x"]}}, [1, 2]])
def test_conf_stock_accepts_passes_here(conf: Any) -> None:
    """parse_conf is stock's check only: the conf's shape is each strategy's ``check``."""
    expected = {"{}": {}, '{"a": 1}': {"a": 1}}.get(conf, conf) if isinstance(conf, str) else conf
    assert build(conf=conf).conf == expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"fail_when_dag_is_paused": True},  # refused on 3.0/3.1 by the operator's __init__
        {"allowed_states": ["nope"], "failed_states": "failed"},  # DagRunState(s) in its __init__
        {"run_after": 3.5},  # _validate_datetime_param in its __init__, or check_arguments
    ],
)
def test_execute_trusts_the_checks_of_the_operators_init(overrides: dict[str, Any]) -> None:
    """What ``__init__`` checked (none of it a template field) is not checked again."""
    build("3.1.8", **{k: v for k, v in overrides.items() if k != "run_after"})
    if "run_after" in overrides:
        with pytest.raises(TypeError):  # not checked: it fails where it is used, as with stock
            build("3.3.2", **overrides)


def test_durable_is_carried_and_never_raises() -> None:
    assert build(durable=True).durable
    assert build("3.0.6", durable=True).durable  # warns later, never raises
    assert not build().durable


# -- construction ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"run_after": 3}, TypeError, "^Expected str, datetime.datetime, or None for parameter 'run_after'"),
        ({"durable": "yes"}, TypeError, "durable='yes' must be True or False"),
        ({"durable": 1}, ValueError, "durable=1 must be True or False"),
        ({"trigger_dag_id": ""}, ValueError, "trigger_dag_id=''"),
        ({"trigger_dag_id": " "}, ValueError, "trigger_dag_id=' '"),
    ],
)
def test_construction_refuses_what_stock_refuses_plus_durable_and_an_empty_dag_id(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(TriggerArgumentError, match=message) as info:
        check_arguments(kwargs, V33)
    assert isinstance(info.value, error)


@pytest.mark.parametrize("version", ["3.0.6", "3.1.8"])
def test_construction_refuses_fail_when_dag_is_paused_where_stock_does(version: str) -> None:
    with pytest.raises(
        FeatureNotSupported, match=r"Setting `fail_when_dag_is_paused` requires Airflow 3\.2\.0\+"
    ):
        check_arguments({"fail_when_dag_is_paused": True}, selection_for(version))
    check_arguments({"fail_when_dag_is_paused": False}, selection_for(version))
    check_arguments({"fail_when_dag_is_paused": 0}, selection_for(version))  # stock tests truthiness


@pytest.mark.parametrize(
    ("version", "kwargs"),
    [
        ("3.3.2", {"trigger_dag_id": "{{ params.child }}", "durable": True}),
        ("3.3.2", {"poke_interval": 0}),
        ("3.3.2", {"poke_interval": -1, "wait_for_completion": True}),
        ("3.3.2", {"conf": {"when": NOW}}),
        ("3.3.2", {"logical_date": "yesterday", "trigger_run_id": "a b"}),
        ("3.3.2", {"allowed_states": ["nope"], "failed_states": "failed"}),  # the operator's own checks
        ("3.3.2", {"run_after": NOTSET, "note": None}),
        ("3.3.2", {"note": 5}),
        ("3.0.6", {"note": "hello"}),
        ("3.2.2", {"run_after": NOW}),
        ("2.11.2", {"run_after": "2026-01-01", "note": "n", "fail_when_dag_is_paused": True}),
        ("3.2.2", {"fail_when_dag_is_paused": True}),
        ("3.3.2", {}),
    ],
)
def test_construction_leaves_the_rest_to_execute(version: str, kwargs: dict[str, Any]) -> None:
    check_arguments(kwargs, selection_for(version))


# -- airflow_helpers: the adapter over the installed Airflow ---------------------------------------------


def _fake_load(monkeypatch: pytest.MonkeyPatch, dag_run: Any, calls: list[Any]) -> types.SimpleNamespace:
    timezone = types.SimpleNamespace(parse=lambda value: ("parsed", value), utcnow=lambda: NOW)
    names = {"timezone": timezone, "DagRun": dag_run, "DagRunType": types.SimpleNamespace(MANUAL="manual")}
    monkeypatch.setattr(_airflow, "load", names.__getitem__)
    return timezone


def test_airflow_helpers_on_airflow_3(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    class DagRun:
        @staticmethod
        def generate_run_id(*, run_type: str, logical_date: Any, run_after: Any) -> str:
            calls.append((run_type, logical_date, run_after))
            return "id3"

        @staticmethod
        def validate_run_id(self: Any, key: str, run_id: str) -> str:
            calls.append(("validate", self, key, run_id))
            if run_id == "bad":
                raise ValueError("no")
            return run_id

    timezone = _fake_load(monkeypatch, DagRun, calls)
    helpers = airflow_helpers()
    assert helpers.generate_run_id(None, LATER) == "id3"
    helpers.validate_run_id("good")
    with pytest.raises(ValueError, match="no"):
        helpers.validate_run_id("bad")
    assert calls[:2] == [("manual", None, LATER), ("validate", None, "run_id", "good")]
    assert helpers.parse("2026") == ("parsed", "2026")
    assert helpers.utcnow() == NOW
    timezone.utcnow = lambda: LATER  # looked up at each call, as stock's own calls are
    assert helpers.utcnow() == LATER
    assert airflow_helpers() is helpers  # cached


def test_airflow_helpers_on_airflow_2(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    class DagRun:
        @staticmethod
        def generate_run_id(run_type: str, execution_date: Any) -> str:
            calls.append((run_type, execution_date))
            return "id2"

        validate_run_id = staticmethod(lambda self, key, run_id: run_id)

    _fake_load(monkeypatch, DagRun, calls)
    helpers = airflow_helpers()
    assert helpers.generate_run_id(LATER, NOW) == "id2"
    assert helpers.generate_run_id(None, LATER) == "id2"
    assert calls == [("manual", LATER), ("manual", NOW)]  # no logical date: timezone.utcnow()

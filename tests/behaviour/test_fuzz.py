"""A property-based differential fuzz of argument handling: what stock computes versus what the package does.

Hypothesis generates the arguments DAG authors write (conf shapes, dates in many forms under several
``[core] default_timezone``s, states as lists, tuples, sets, iterators, enums and strings, poke_interval,
trigger_run_id, note and flag values). Both operators are built and executed with the same arguments,
the same frozen clock and the same "random" run_id suffix, up to the point where the child run would be
created, and there compared:

* Airflow 3: the fields of the ``DagRunTriggerException`` each ``execute()`` raises (what the task runner
  would send), or the error each raised;
* Airflow 2: the arguments of the ``trigger_dag`` call each makes (the call is intercepted), or the error.

The package may refuse (without retries) only what the trigger itself would refuse once sent (the declared
``invalid-input-fails-early``): that is checked by sending stock's values through the same validation the
trigger would apply (the ``TriggerDagRun`` payload model on 3.x, ``trigger_dag``'s own checks on 2.11,
``DagRun.validate_run_id``, ``time.sleep`` of the poke interval). Anywhere else, the two must agree: equal
fields, or errors where the package's is an instance of stock's type and carries stock's message.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import json
import math
import time
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import _harness
import pytest
from _subject import (
    STOCK_LACKS,
    STOCK_STALE_FIXES,
    StockOperator,
    TriggerCompatWarning,
    TriggerDagRunOperator,
)
from hypothesis import HealthCheck, given, settings, strategies as st

pytestmark = pytest.mark.behaviour

UTC = datetime.timezone.utc
FROZEN = datetime.datetime(2030, 7, 14, 9, 30, 15, 123456, tzinfo=UTC)
RANDOM = "fuzzRAND"
EXAMPLES = 1000
TIMEZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Europe/Paris", "Australia/Adelaide"]


class _Stop(BaseException):
    """Raised in place of Airflow 2's trigger_dag once its arguments are recorded."""


class State(str, enum.Enum):  # a user's own str enum of DagRun states
    SUCCESS = "success"
    FAILED = "failed"


# -- what DAG authors write ------------------------------------------------------------------------------

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
not_json = st.sampled_from([datetime.datetime(2031, 1, 1, tzinfo=UTC), {1, 2}, object(), b"bytes", 1j])
confs = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=8), json_value, max_size=5),
    st.dictionaries(st.text(max_size=4), not_json, min_size=1, max_size=2),
    st.dictionaries(st.integers(0, 5), json_leaf, max_size=2),
    st.lists(json_leaf, max_size=3),
    st.builds(lambda d: json.dumps(d), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)),
    st.sampled_from(["", "{not json", "[1, 2]", "null", "{}", '{"a": NaN}']),
    st.builds(lambda n: {f"k{i}": list(range(20)) for i in range(n)}, st.integers(100, 400)),  # huge
)

_naive = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2099, 12, 31), allow_imaginary=False
)
_FORMATS = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M",
    "%Y%m%dT%H%M%S",  # {{ ts_nodash }}
    "%Y-%j",
    "%d %B %Y",
]
dates = st.one_of(
    st.none(),
    _naive,
    _naive.map(lambda d: d.replace(tzinfo=UTC)),
    st.builds(lambda d, tz: __import__("pendulum").instance(d, tz=tz), _naive, st.sampled_from(TIMEZONES)),
    st.builds(lambda d: d.replace(tzinfo=UTC).isoformat(), _naive),
    st.builds(lambda d, f: d.replace(tzinfo=UTC).strftime(f), _naive, st.sampled_from(_FORMATS)),
    st.sampled_from(["not a date", "", "2031-02-30T00:00:00", "2031-13-01", "tomorrow"]),
    st.integers(0, 10**10),
)
_VALID_STATES = ["success", "failed", "running", "queued", State.SUCCESS, State.FAILED]
_state = st.sampled_from(_VALID_STATES * 3 + ["succes"])  # mostly valid, so most examples reach the trigger
_state_lists = st.lists(_state, max_size=3)
states = st.one_of(
    st.none(),
    st.none(),
    _state_lists,
    _state_lists,
    _state_lists.map(tuple),
    _state_lists.map(set),
    _state_lists.map(lambda v: ("iterator", v)),  # made into an iterator per operator
    st.sampled_from(["success", "failed", ""]),  # a bare string
)
run_ids = st.one_of(
    st.none(),
    st.just(""),
    st.from_regex(r"\A[A-Za-z0-9_.~:+-]{1,30}\Z"),
    st.text(min_size=1, max_size=20),
    st.sampled_from(["a..b", "with space", "scheduled__2031-01-01T00:00:00+00:00"]),
)
notes = st.one_of(st.none(), st.just(""), st.text(max_size=20), st.integers(), st.just(["a list"]))
poke_intervals = st.one_of(
    st.integers(-5, 120), st.floats(-1, 100, allow_nan=False), st.booleans(), st.just("30")
)
NOTSET_MARK = "<NOTSET>"


@st.composite
def arguments(draw: Any) -> tuple[dict[str, Any], str]:
    kwargs: dict[str, Any] = {
        "conf": draw(confs),
        "trigger_run_id": draw(run_ids),
        "reset_dag_run": draw(st.booleans()),
        "skip_when_already_exists": draw(st.booleans()),
        "wait_for_completion": draw(st.booleans()),
        "deferrable": draw(st.booleans()),
        "poke_interval": draw(poke_intervals),
        "allowed_states": draw(states),
        "failed_states": draw(states),
        "note": draw(notes),
    }
    for name in ("logical_date", "run_after"):
        value = draw(st.one_of(st.just(NOTSET_MARK), dates))
        if value != NOTSET_MARK:
            kwargs[name] = value
    # Only what the installed provider's operator takes: stock refuses the rest outright (an older
    # provider; the parity scenarios show the declared difference for those).
    kwargs = {k: v for k, v in kwargs.items() if k not in STOCK_LACKS}
    return kwargs, draw(st.sampled_from(TIMEZONES))


# -- running both -----------------------------------------------------------------------------------------


class RecordingTI:
    """The task instance ``execute()`` sees: records XCom pushes."""

    def __init__(self) -> None:
        self.xcoms: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms.append((key, value))


def _fresh(kwargs: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "iterator":
            return iter(list(value[1]))
        return value

    return {k: one(v) for k, v in kwargs.items()}


def _error(exc: BaseException) -> dict[str, Any]:
    return {"types": [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__], "message": str(exc)}


@contextlib.contextmanager
def frozen(tz: str) -> Iterator[list[dict[str, Any]]]:
    """Freeze Airflow's clock and run_id suffix, set the default timezone, intercept 2.x's trigger_dag."""
    import importlib

    from airflow.models import dagrun

    stock_module = importlib.import_module(StockOperator.__module__)
    timezone_module = stock_module.timezone
    calls: list[dict[str, Any]] = []

    def trigger_dag(**kwargs: Any) -> Any:
        calls.append(kwargs)
        raise _Stop

    patches = [(timezone_module, "utcnow", lambda: FROZEN)]
    if hasattr(dagrun, "get_random_string"):
        patches.append((dagrun, "get_random_string", lambda *a, **k: RANDOM))
    if hasattr(stock_module, "trigger_dag"):  # Airflow 2: stock imports trigger_dag at module level
        patches.append((stock_module, "trigger_dag", trigger_dag))
        patches.append(
            (importlib.import_module("airflow.api.common.trigger_dag"), "trigger_dag", trigger_dag)
        )
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, value in patches:
        setattr(obj, name, value)
    try:
        with _harness.default_timezone(tz):
            yield calls
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


def outcome(operator_class: Any, kwargs: dict[str, Any], tz: str) -> dict[str, Any]:
    """Build and execute one operator; what it would have triggered, or the error, and what it pushed."""
    from _subject import compat

    exception_type = None
    with contextlib.suppress(ImportError):
        exception_type = compat._airflow.load("DagRunTriggerException")
    ti = RecordingTI()
    with frozen(tz) as calls, warnings.catch_warnings():
        warnings.simplefilter("ignore", TriggerCompatWarning)
        try:
            operator = operator_class(task_id="fuzz", trigger_dag_id=_harness.CHILD_DAG_ID, **_fresh(kwargs))
        except Exception as exc:
            return {"construct_error": _error(exc)}
        try:
            operator.execute({"ti": ti, "task_instance": ti})
        except _Stop:
            result: dict[str, Any] = {"trigger": calls[-1]}
        except Exception as exc:
            if exception_type is not None and isinstance(exc, exception_type):
                result = {"trigger": {k: v for k, v in vars(exc).items() if not k.startswith("_")}}
            else:
                result = {"execute_error": _error(exc)}
    result["xcoms"] = ti.xcoms
    result["operator"] = {"conf": getattr(operator, "conf", None), "trigger_run_id": operator.trigger_run_id}
    return result


# -- what the trigger itself would refuse --------------------------------------------------------------


def trigger_would_refuse(fields: dict[str, Any], kwargs: dict[str, Any]) -> str | None:
    """Why stock's values would fail once sent or waited on (retries apply then), or None.

    ``fields`` are what stock hands on (the exception's fields, or trigger_dag's arguments), ``kwargs``
    the operator's arguments (the wait's poke_interval is not among trigger_dag's arguments).
    """
    from airflow.models.dagrun import DagRun

    run_id = fields.get("dag_run_id", fields.get("run_id"))
    try:
        DagRun.validate_run_id(None, "run_id", run_id)
    except ValueError as err:
        return f"run_id: {err}"
    if kwargs.get("wait_for_completion") and not kwargs.get("deferrable"):
        try:
            _sleep_ok(kwargs["poke_interval"])
        except ValueError as err:
            return f"poke_interval: {err}"
    if "dag_run_id" in fields:  # Airflow 3: the TriggerDagRun payload the runner builds
        # The runner's own message (the runtime no longer loads it: the runner builds it from the exception).
        from airflow.sdk.execution_time.comms import TriggerDagRun as message

        accepted = set(message.model_fields)
        payload = {
            "dag_id": fields["trigger_dag_id"],
            "run_id": run_id,
            "logical_date": fields["logical_date"],
            "conf": fields["conf"],
            "reset_dag_run": fields["reset_dag_run"],
        }
        for optional in ("note", "run_after"):
            if optional in accepted and fields.get(optional) is not None:
                payload[optional] = fields[optional]
        try:
            message(**payload)
        except Exception as err:
            return f"TriggerDagRun payload: {type(err).__name__}"
        return None
    # Airflow 2: trigger_dag's own checks
    conf, date = fields.get("conf"), fields.get("execution_date")
    if conf and not isinstance(conf, dict):
        return "conf: trigger_dag json.loads() a non-dict"
    if date is not None and (date.tzinfo is None or date.utcoffset() is None):
        return "execution_date: should be localized"
    return None


def _sleep_ok(seconds: Any) -> None:
    """What ``time.sleep(poke_interval)`` in the synchronous wait accepts."""
    if not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"sleep length {seconds!r}")


def _normal(fields: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, list):
            return [one(v) for v in value]
        if isinstance(value, datetime.datetime):
            return (value.isoformat(), str(value.tzinfo) if value.tzinfo else None)
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, dict):
            return {k: one(v) for k, v in value.items()}
        return value

    return {k: one(v) for k, v in fields.items()}


def _bool_fields(fields: dict[str, Any]) -> dict[str, Any]:
    # Stock hands the flags on as given; the package as bools: the runner only tests their truth.
    flags = ("reset_dag_run", "skip_when_already_exists", "wait_for_completion", "deferrable")
    return {k: bool(v) if k in flags else v for k, v in fields.items()}


def _covers(stock: dict[str, Any], package: dict[str, Any] | None) -> bool:
    if package is None or stock["types"][0] not in package["types"]:
        return False
    if "conf-error-message" in STOCK_STALE_FIXES and stock["message"].startswith(
        "('conf parameter should be JSON Serializable %s'"
    ):  # an older provider's message (declared: older-provider-fixes); the package's names the conf
        return package["message"].startswith("conf parameter should be JSON Serializable: ")
    return stock["message"] in package["message"]


def _without_attribute(side: dict[str, Any], name: str) -> dict[str, Any]:
    return {**side, "operator": {k: v for k, v in side["operator"].items() if k != name}}


#: Airflow 3.0-3.2 (strategy runner_exception): a payload the task runner refuses is handed to it, after
#: the package logs why, so it refuses it as it refuses stock's (set from the selection by the test).
RUNNER_REFUSES_THE_PAYLOAD = False


def compare(stock: dict[str, Any], package: dict[str, Any], kwargs: dict[str, Any]) -> str | None:
    """None when the package behaves as stock, or as the declared difference allows; else the problem."""
    if "json-string-conf" in STOCK_STALE_FIXES and isinstance(kwargs.get("conf"), str):
        return None  # an older provider does not parse a JSON-string conf (declared: older-provider-fixes)
    if "construct_error" in stock:
        if _covers(stock["construct_error"], package.get("construct_error")):
            return None
        return f"stock refused at construction {stock['construct_error']}, the package: {package}"
    if "construct_error" in package:
        return f"the package refused at construction where stock did not: {package['construct_error']}"
    if "execute_error" in stock:
        if _covers(stock["execute_error"], package.get("execute_error")):
            return None
        return f"stock raised {stock['execute_error']}, the package: {package}"
    refusal = trigger_would_refuse(stock["trigger"], kwargs)
    if "execute_error" in package:
        if refusal is None:
            return f"the package refused what the trigger accepts: {package['execute_error']}"
        if "AirflowFailException" not in " ".join(package["execute_error"]["types"]):
            return f"the early refusal is not an AirflowFailException: {package['execute_error']}"
        return None  # the declared invalid-input-fails-early
    if refusal is not None and not RUNNER_REFUSES_THE_PAYLOAD:
        return f"stock's values would be refused ({refusal}) but the package sent them: {package['trigger']}"
    if _normal(_bool_fields(stock["trigger"])) != _normal(_bool_fields(package["trigger"])):
        return f"different trigger:\n  stock:   {stock['trigger']}\n  package: {package['trigger']}"
    if "link-xcom-at-trigger" in STOCK_STALE_FIXES:  # an older provider (declared: older-provider-fixes)
        package = {**package, "xcoms": [x for x in package["xcoms"] if not x[0].startswith("_link_")]}
    if stock["xcoms"] != package["xcoms"]:
        return f"different XComs: stock {stock['xcoms']}, package {package['xcoms']}"
    if "run-id-on-operator" in STOCK_STALE_FIXES:  # an older provider (declared: older-provider-fixes)
        stock, package = (
            _without_attribute(stock, "trigger_run_id"),
            _without_attribute(package, "trigger_run_id"),
        )
    if _normal(stock["operator"]) != _normal(package["operator"]):
        return f"different operator attributes: stock {stock['operator']}, package {package['operator']}"
    return None


class Tally:
    """What the property saw: examples run, and how stock's outcome was distributed."""

    examples = 0
    outcomes: ClassVar[dict[str, int]] = {}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(case=arguments())
def _fuzz(case: tuple[dict[str, Any], str]) -> None:
    kwargs, tz = case
    stock = outcome(StockOperator, kwargs, tz)
    package = outcome(TriggerDagRunOperator, kwargs, tz)
    Tally.examples += 1
    kind = next(k for k in ("construct_error", "execute_error", "trigger") if k in stock)
    kind += "/package-refused" if "execute_error" in package and kind == "trigger" else ""
    Tally.outcomes[kind] = Tally.outcomes.get(kind, 0) + 1
    problem = compare(stock, package, kwargs)
    assert problem is None, f"{problem}\n  arguments: {kwargs!r}, default_timezone={tz}"


def test_fuzz_argument_handling_against_stock(selection, record_property) -> None:
    global RUNNER_REFUSES_THE_PAYLOAD
    # Where the 3.x runner gives no retries in its trigger handling, the package hands it the payload.
    RUNNER_REFUSES_THE_PAYLOAD = selection.version.release >= (3, 0, 0) and not selection.supports(
        "retry_on_failed_child"
    )
    start = time.perf_counter()
    _fuzz()
    seconds = time.perf_counter() - start
    record_property(
        "fuzz",
        json.dumps({"examples": Tally.examples, "seconds": round(seconds, 2), "outcomes": Tally.outcomes}),
    )
    version = selection.version.raw
    print(f"fuzz: {Tally.examples} examples in {seconds:.1f} s on Airflow {version}: {Tally.outcomes}")
    assert Tally.examples >= EXAMPLES  # the property really ran

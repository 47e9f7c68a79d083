"""Turn an operator's rendered attributes into a validated :class:`TriggerRequest`."""
# The values are the ones stock's execute() computes, with the running Airflow's own helpers, in its
# order. Input the trigger would refuse later (after a child run exists) is refused here first, with the
# value and the fix (declared: ``invalid-input-fails-early``); nothing refused here runs with stock.

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from typing import Any, NamedTuple

from ._airflow import AirflowHelpers, airflow_helpers
from ._errors import FeatureNotSupported, TriggerArgumentError
from ._registry import REFUSE, WHEN_MISSING, Feature, Selection, select_row

#: Stands in for Airflow's NOTSET on an operator that has no ``run_after`` (older providers).
NOTSET = type("ArgNotSet", (), {})()


class TriggerRequest(NamedTuple):
    """What to trigger and how to wait: the values the standard operator would use."""

    trigger_dag_id: str
    run_id: str
    conf: Any
    logical_date: datetime.datetime | None
    run_after: datetime.datetime | None  # only when given and this Airflow takes it
    note: str | None  # None when empty, or where this Airflow cannot store it
    reset_dag_run: bool
    skip_when_already_exists: bool
    wait_for_completion: bool
    poke_interval: float
    allowed_states: tuple[str, ...]
    failed_states: tuple[str, ...]
    deferrable: bool
    fail_when_dag_is_paused: bool
    durable: bool
    #: Flags given that this Airflow drops, as stock drops them (each gets a warning).
    dropped: tuple[Feature, ...] = ()
    #: The run_id is made from "now" (no trigger_run_id, no run_after, logical_date unset or None): no other
    #: party can name it, so an "already exists" answer for it is this task's own run.
    run_id_generated: bool = False

    def payload(self) -> dict[str, Any]:
        """Return the trigger's values; note and run_after only where this Airflow takes them (held there)."""
        fields = {"conf": self.conf, "logical_date": self.logical_date}
        return fields | {k: v for k, v in (("note", self.note), ("run_after", self.run_after)) if v}


def is_notset(value: object) -> bool:  # Airflow's NOTSET (ArgNotSet), without importing Airflow
    return type(value).__name__ == "ArgNotSet"


def state_names(states: Iterable[Any]) -> tuple[str, ...]:
    """Return the operator's states as strings: its ``__init__`` (stock's) checked them."""
    return tuple(str(s.value if isinstance(s, Enum) else s) for s in states)


def check_trigger_dag_id(dag_id: Any) -> str:
    if not isinstance(dag_id, str) or not dag_id.strip():
        raise TriggerArgumentError(
            f"trigger_dag_id={dag_id!r} must be a non-empty DAG id; check the value or its template."
        )
    return dag_id


def _unserialisable(value: Any, path: str = "conf") -> Iterator[str]:
    """Where ``json.dumps`` fails in ``value``: each key or value it refuses, by its path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key is not None and not isinstance(key, (str, int, float, bool)):
                yield f"{path} key {key!r}"
            yield from _unserialisable(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _unserialisable(item, f"{path}[{index}]")
    else:
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            yield f"{path}={value!r} ({type(value).__name__})"


def parse_conf(conf: Any) -> Any:
    """Do to ``conf`` what stock does: a JSON string is loaded, the result must survive ``json.dumps``."""
    stock_message = f"conf parameter should be JSON Serializable: {conf}"
    try:
        if conf and isinstance(conf, str):
            conf = json.loads(conf)
        json.dumps(conf)
    except json.JSONDecodeError as err:
        raise TriggerArgumentError(
            f"{stock_message} (a string, but not JSON: {err}); pass a dict or a JSON object string."
        ) from err
    except (TypeError, ValueError) as err:
        raise TriggerArgumentError(
            f"{stock_message} ({next(_unserialisable(conf), err)}); convert it to str, int, float, bool, "
            "None, list or dict (dates with .isoformat())."
        ) from err
    return conf


def check_conf_shape(conf: Any, *, falsy_means_none: bool, str_keys: bool) -> None:
    """Refuse what the trigger refuses after stock's checks passed: not a JSON object, or a non-string key."""
    # The key only with ``str_keys`` (3.x's ``dict[str, Any]`` payload). NaN passes, as with stock.
    if conf is None or (falsy_means_none and not conf):
        return
    if not isinstance(conf, Mapping):
        raise TriggerArgumentError(
            f"conf={conf!r} must be a dict (a JSON object), got {type(conf).__name__}; "
            "the DAG run's conf is a JSON object."
        )
    bad_keys = [k for k in conf if not isinstance(k, str)] if str_keys else []
    if bad_keys:
        key = bad_keys[0]
        raise TriggerArgumentError(
            f"conf key {key!r} ({type(key).__name__}) must be a string: the DAG run's conf is a JSON "
            f"object; write {str(key)!r}."
        )


def check_datetime_type(name: str, value: Any) -> None:
    """Stock's ``_validate_datetime_param``: NOTSET, None, str or datetime."""
    if is_notset(value) or value is None or isinstance(value, (str, datetime.datetime)):
        return
    raise TriggerArgumentError(
        f"Expected str, datetime.datetime, or None for parameter '{name}'. Got {type(value).__name__} "
        f"({name}={value!r}); pass a timezone-aware datetime or an ISO 8601 string."
    )


def parse_datetime(name: str, value: str | datetime.datetime | None, helpers: AirflowHelpers) -> Any:
    """Stock's ``_parse_datetime_param``: Airflow's lenient parser; naive means [core] default_timezone."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    try:
        return helpers.parse(value)
    except Exception as err:  # pendulum's ParserError and friends: what stock raises, kept as stock_type
        raise TriggerArgumentError(
            f"{name}={value!r} is not a date-time Airflow can parse ({err}); use e.g. "
            "'2026-01-31T00:00:00+00:00' or a timezone-aware datetime.",
            stock_type=type(err),
        ) from err


def check_aware(name: str, value: datetime.datetime | None) -> None:
    # Airflow 3's TriggerDagRun payload takes AwareDatetime; Airflow 2's trigger_dag raises "should be
    # localized". Either way a naive datetime fails only once the trigger is sent.
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise TriggerArgumentError(
            f"{name}={value!r} is a naive datetime, which Airflow refuses for a DAG run; pass an aware one, "
            f"e.g. {name}=pendulum.datetime(...) or datetime(..., tzinfo=timezone.utc)."
        )


def check_trigger_payload(request: TriggerRequest) -> None:
    """Airflow 3: what the ``TriggerDagRun`` payload refuses (a pydantic model), on either 3.x path."""
    check_conf_shape(request.conf, falsy_means_none=False, str_keys=True)  # conf: dict[str, Any] | None
    check_aware("logical_date", request.logical_date)  # AwareDatetime | None
    check_aware("run_after", request.run_after)


def check_trigger_dag_call(request: TriggerRequest) -> None:
    """Airflow 2: what ``trigger_dag`` refuses once called: a truthy conf that is not a dict, a naive date."""
    check_conf_shape(request.conf, falsy_means_none=True, str_keys=False)  # falsy conf means None there
    check_aware("logical_date", request.logical_date)  # "The execution_date should be localized"


def check_features(selection: Selection, flags: Mapping[str, Any]) -> tuple[Feature, ...]:
    """Return the flags given (not None, not False) that this Airflow lacks and stock drops there."""
    # Raises FeatureNotSupported for one it refuses (``WHEN_MISSING``).
    dropped = []
    for feature, when_missing in WHEN_MISSING.items():
        value = flags.get(feature)
        if value is None or value is False or is_notset(value) or selection.supports(feature):
            continue
        if when_missing == REFUSE:
            raise FeatureNotSupported(
                f"{feature}={value!r} cannot work on Airflow {selection.version.raw} "
                f"(registry row {selection.entry.airflow}): {selection.gap(feature)}. Remove {feature}, or "
                "require a newer Airflow.",
                airflow_version=selection.version.raw,
            )
        dropped.append(feature)
    return tuple(dropped)


def check_arguments(kwargs: Mapping[str, Any], selection: Selection | None = None) -> None:
    """Check, in the operator's ``__init__``, the arguments given: only those the operator does not check."""
    # Each argument is checked once: the operator's ``__init__`` (stock's) checks the states, and on 3.0/3.1
    # refuses fail_when_dag_is_paused; execute() trusts it. Given here: ``durable``, a literal
    # ``trigger_dag_id`` (declared: an empty one fails at parse), and whatever an older provider's operator
    # lacks (``run_after``'s type, the paused flag). execute() checks only the templated values, as rendered.
    durable = kwargs.get("durable", False)
    if not isinstance(durable, bool):
        raise TriggerArgumentError(f"durable={durable!r} must be True or False, e.g. durable=True.")
    dag_id = kwargs.get("trigger_dag_id")
    if isinstance(dag_id, str):
        check_trigger_dag_id(dag_id)
    check_datetime_type("run_after", kwargs.get("run_after"))
    paused = kwargs.get("fail_when_dag_is_paused")
    if paused:  # stock refuses only a truthy flag (fail_when_dag_is_paused=0 is off)
        check_features(selection or select_row(), {"fail_when_dag_is_paused": paused})


def build_request(
    operator: Any, selection: Selection, helpers: AirflowHelpers | None = None
) -> TriggerRequest:
    """Return the request stock would compute from the operator's rendered attributes (sets its ``conf``)."""
    # Stock's values and checks; the flags this Airflow lacks, dropped or refused as stock does; what the
    # trigger would refuse later, refused here before any child run exists.
    helpers = helpers or airflow_helpers()
    values = _stock_values(operator, helpers)
    operator.conf = values["conf"]
    # A flag stock refuses was refused by the operator's __init__ (check_arguments); here, only dropped.
    flags: dict[str, Any] = {
        f: getattr(operator, f, None) for f, when in WHEN_MISSING.items() if when != REFUSE
    }
    dropped = check_features(selection, flags)
    if not selection.supports(Feature.NOTE):
        values["note"] = None
    if not selection.supports(Feature.RUN_AFTER):
        values["run_after"] = None
    allowed, failed = _check_before_trigger(operator, values, helpers)
    return TriggerRequest(
        **values,
        allowed_states=allowed,
        failed_states=failed,
        durable=bool(getattr(operator, "durable", False)),
        dropped=dropped,
    )


def _stock_values(operator: Any, helpers: AirflowHelpers) -> dict[str, Any]:
    """Compute what stock's ``execute()`` does, with its checks: logical_date's type, dates, conf, run_id."""
    logical_arg = operator.logical_date
    run_after_arg: Any = getattr(operator, "run_after", NOTSET)
    check_datetime_type("logical_date", logical_arg)  # a template field; run_after's, __init__ checked
    run_after_given = not is_notset(run_after_arg)
    if is_notset(logical_arg):
        logical_date = None if run_after_given else helpers.utcnow()
    else:
        logical_date = parse_datetime("logical_date", logical_arg, helpers)
    run_after = parse_datetime("run_after", run_after_arg, helpers) if run_after_given else logical_date
    if operator.trigger_run_id:
        run_id, generated = str(operator.trigger_run_id), False
    else:
        run_id = helpers.generate_run_id(logical_date, run_after or helpers.utcnow())
        # logical_date=None makes the run_id from "now" too: Airflow 2 triggers at now (trigger_dag fills
        # execution_date), Airflow 3 names the run from run_after=now with a random suffix.
        generated = (logical_arg is None or is_notset(logical_arg)) and not run_after_given
    return {
        "trigger_dag_id": operator.trigger_dag_id,
        "run_id": run_id,
        "conf": parse_conf(operator.conf),
        "logical_date": logical_date,
        "run_after": run_after if run_after_given and run_after else None,
        "note": getattr(operator, "note", None) or None,
        "reset_dag_run": bool(operator.reset_dag_run),
        "skip_when_already_exists": bool(operator.skip_when_already_exists),
        "wait_for_completion": bool(operator.wait_for_completion),
        "poke_interval": operator.poke_interval,
        "deferrable": bool(operator.deferrable),
        "fail_when_dag_is_paused": bool(getattr(operator, "fail_when_dag_is_paused", False)),
        "run_id_generated": generated,
    }


def _check_before_trigger(
    operator: Any, values: Mapping[str, Any], helpers: AirflowHelpers
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Refuse what the trigger or the wait would refuse once the child run exists; return the states."""
    check_trigger_dag_id(values["trigger_dag_id"])  # a template field: as rendered
    allowed, failed = state_names(operator.allowed_states), state_names(operator.failed_states)
    poke_interval, note = values["poke_interval"], values["note"]
    # The synchronous wait sleeps poke_interval between polls: time.sleep() refuses a negative number, NaN
    # or a non-number, after the child run was triggered. 0 polls without pausing, as stock does.
    if (
        values["wait_for_completion"]
        and not values["deferrable"]
        and not (isinstance(poke_interval, (int, float)) and poke_interval >= 0)
    ):
        raise TriggerArgumentError(
            f"poke_interval={poke_interval!r} must be a number of seconds, 0 or more, e.g. poke_interval=60 "
            "(the wait sleeps that long between polls)."
        )
    if note is not None and not isinstance(note, str):
        raise TriggerArgumentError(
            f"note={note!r} ({type(note).__name__}) must be a string: the DAG run's note is text; write "
            f"note={str(note)!r}."
        )
    if operator.trigger_run_id:
        try:
            helpers.validate_run_id(values["run_id"])
        except ValueError as err:
            raise TriggerArgumentError(
                f"trigger_run_id={values['run_id']!r} cannot name a DAG run: {err}. Use letters, digits and "
                "_ . ~ : + - only, or change [scheduler] allowed_run_id_pattern."
            ) from err
    return allowed, failed

"""Turn an operator's rendered attributes into a validated :class:`TriggerRequest`.

The values are the ones stock's ``execute()`` computes, with the running Airflow's own helpers, in its
order. Input the trigger would refuse later (after a child run exists) is refused here first, with the
value and the fix (declared: ``invalid-input-fails-early``); nothing refused here runs with stock.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import Enum
from typing import Any, NamedTuple

from ._airflow import load
from ._errors import FeatureNotSupported, TriggerArgumentError
from ._registry import REFUSED_WHEN_MISSING, Feature, Selection, select_strategy

DAGRUN_STATES = frozenset({"queued", "running", "success", "failed"})  # the same on 2.11 and 3.x
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


class AirflowHelpers(NamedTuple):
    """The running Airflow's own functions the standard operator computes a request with."""

    parse: Callable[[str], datetime.datetime]
    utcnow: Callable[[], datetime.datetime]
    #: ``(logical_date, run_after)`` -> the run_id ``DagRun.generate_run_id`` makes for a manual run.
    generate_run_id: Callable[[datetime.datetime | None, datetime.datetime], str]
    validate_run_id: Callable[[str], object]  # raises ValueError for a run_id Airflow refuses


@functools.cache
def airflow_helpers() -> AirflowHelpers:
    timezone, dag_run, manual = load("timezone"), load("DagRun"), load("DagRunType").MANUAL
    if "run_after" in inspect.signature(dag_run.generate_run_id).parameters:
        # Airflow 3: run_after is part of the id, and a run without a logical date gets a random suffix.
        def generate_run_id(logical_date: datetime.datetime | None, run_after: datetime.datetime) -> str:
            return str(
                dag_run.generate_run_id(run_type=manual, logical_date=logical_date, run_after=run_after)
            )
    else:
        # Airflow 2: DagRun.generate_run_id(run_type, execution_date), "now" when there is no date.
        def generate_run_id(logical_date: datetime.datetime | None, run_after: datetime.datetime) -> str:
            return str(dag_run.generate_run_id(manual, logical_date or timezone.utcnow()))

    # Looked up on the module at each call, as stock's own calls are. The run_id check is Airflow's own,
    # run when the child DagRun row is created (a @validates hook that does not use self).
    return AirflowHelpers(
        lambda value: timezone.parse(value),
        lambda: timezone.utcnow(),
        generate_run_id,
        lambda run_id: dag_run.validate_run_id(None, "run_id", run_id),
    )


def is_notset(value: object) -> bool:  # Airflow's NOTSET (ArgNotSet), without importing Airflow
    return type(value).__name__ == "ArgNotSet"


def _one_shot(values: object) -> bool:
    """An iterator (not a collection): reading it here would leave nothing for the operator to store."""
    try:
        return iter(values) is values  # type: ignore[call-overload]
    except TypeError:
        return False


def _states(name: str, values: Iterable[Any] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if values is None:
        return default
    if isinstance(values, (str, bytes)) and values:
        # Stock reads a string as its characters: DagRunState(values[0]) is what refuses it.
        raise TriggerArgumentError(
            f"{values[0]!r} is not a valid DagRunState: {name}={values!r} must be a list of DagRun states, "
            f"not a string; write {name}=[{values!r}]."
        )
    result = []
    for value in values:
        state = value.value if isinstance(value, Enum) else value
        if state not in DAGRUN_STATES:
            raise TriggerArgumentError(
                f"{value!r} is not a valid DagRunState: {name} contains {value!r}, which is not a DagRun "
                f"state; use only {sorted(DAGRUN_STATES)} (airflow.utils.state.DagRunState)."
            )
        result.append(str(state))
    return tuple(result)


def check_states(allowed_states: Any, failed_states: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The states as the operator holds them (its ``__init__``, stock's, already applied the defaults).

    A state in both lists is allowed, as with stock: a child in it fails the parent.
    """
    allowed = _states("allowed_states", allowed_states, ("success",))
    return allowed, _states("failed_states", failed_states, ("failed",))


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
    """What stock does to ``conf``: a JSON string is loaded, the result must survive ``json.dumps``."""
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
    """Refuse what the trigger refuses after stock's checks passed: not a JSON object, and (``str_keys``,
    3.x's ``dict[str, Any]`` payload) a key that is not a string. NaN passes, as with stock.
    """
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


def check_features(selection: Selection, **flags: Any) -> None:
    """Raise :class:`FeatureNotSupported` for a flag the standard operator refuses on this Airflow."""
    for name, value in flags.items():
        if not value or is_notset(value):
            continue
        reason = selection.gap(name)
        if reason is not None and Feature(name) in REFUSED_WHEN_MISSING:
            raise FeatureNotSupported(
                f"{name}={value!r} cannot work on Airflow {selection.version.raw} "
                f"(strategy {selection.name!r}): {reason}. Remove {name}, or require a newer Airflow.",
                airflow_version=selection.version.raw,
            )


def check_arguments(kwargs: Mapping[str, Any], selection: Selection | None = None) -> None:
    """Check constructor arguments at the end of the operator's ``__init__``, after stock's own checks:
    only what stock checks there too, plus ``durable`` (declared: a literal empty ``trigger_dag_id``).
    """
    selection = selection or select_strategy()
    durable = kwargs.get("durable", False)
    if not isinstance(durable, bool):
        raise TriggerArgumentError(f"durable={durable!r} must be True or False, e.g. durable=True.")
    dag_id = kwargs.get("trigger_dag_id")
    if isinstance(dag_id, str):
        check_trigger_dag_id(dag_id)
    allowed, failed = kwargs.get("allowed_states"), kwargs.get("failed_states")
    check_states(None if _one_shot(allowed) else allowed, None if _one_shot(failed) else failed)
    check_datetime_type("run_after", kwargs.get("run_after"))
    check_features(selection, fail_when_dag_is_paused=kwargs.get("fail_when_dag_is_paused"))


def build_request(
    operator: Any, selection: Selection, helpers: AirflowHelpers | None = None
) -> TriggerRequest:
    """The request stock would compute from the operator's rendered attributes; sets ``operator.conf``."""
    helpers = helpers or airflow_helpers()
    # 1. Stock's own checks, in stock's order: logical_date's type, the dates, conf.
    logical_arg = operator.logical_date
    run_after_arg: Any = getattr(operator, "run_after", NOTSET)
    check_datetime_type("logical_date", logical_arg)
    check_datetime_type("run_after", run_after_arg)
    run_after_given = not is_notset(run_after_arg)
    if is_notset(logical_arg):
        logical_date = None if run_after_given else helpers.utcnow()
    else:
        logical_date = parse_datetime("logical_date", logical_arg, helpers)
    run_after = parse_datetime("run_after", run_after_arg, helpers) if run_after_given else logical_date
    conf = parse_conf(operator.conf)
    operator.conf = conf

    # 2. What the trigger would refuse later; refused here, before any child run exists.
    dag_id = check_trigger_dag_id(operator.trigger_dag_id)
    allowed, failed = check_states(operator.allowed_states, operator.failed_states)
    poke_interval = operator.poke_interval
    deferrable = operator.deferrable
    # The synchronous wait sleeps poke_interval between polls: time.sleep() refuses a negative number, NaN
    # or a non-number, after the child run was triggered. 0 polls without pausing, as stock does.
    if (
        operator.wait_for_completion
        and not deferrable
        and not (isinstance(poke_interval, (int, float)) and poke_interval >= 0)
    ):
        raise TriggerArgumentError(
            f"poke_interval={poke_interval!r} must be a number of seconds, 0 or more, e.g. poke_interval=60 "
            "(the wait sleeps that long between polls)."
        )
    check_features(selection, fail_when_dag_is_paused=getattr(operator, "fail_when_dag_is_paused", False))
    dropped = []
    note = getattr(operator, "note", None)
    if note is not None and not selection.supports(Feature.NOTE):
        note = None
        dropped.append(Feature.NOTE)
    elif note and not isinstance(note, str):  # an empty note is not sent, as with stock
        raise TriggerArgumentError(
            f"note={note!r} ({type(note).__name__}) must be a string: the DAG run's note is text; "
            f"write note={str(note)!r}."
        )
    use_run_after = run_after_given and selection.supports(Feature.RUN_AFTER)
    if run_after_given and not use_run_after and run_after_arg is not None:
        dropped.append(Feature.RUN_AFTER)

    if operator.trigger_run_id:
        run_id = str(operator.trigger_run_id)
        try:
            helpers.validate_run_id(run_id)
        except ValueError as err:
            raise TriggerArgumentError(
                f"trigger_run_id={run_id!r} cannot name a DAG run: {err}. Use letters, digits and "
                "_ . ~ : + - only, or change [scheduler] allowed_run_id_pattern."
            ) from err
    else:
        run_id = helpers.generate_run_id(logical_date, run_after or helpers.utcnow())
    return TriggerRequest(
        trigger_dag_id=dag_id,
        run_id=run_id,
        conf=conf,
        logical_date=logical_date,
        run_after=run_after if use_run_after and run_after else None,
        note=note or None,
        reset_dag_run=bool(operator.reset_dag_run),
        skip_when_already_exists=bool(operator.skip_when_already_exists),
        wait_for_completion=bool(operator.wait_for_completion),
        poke_interval=poke_interval,
        allowed_states=allowed,
        failed_states=failed,
        deferrable=bool(deferrable),
        fail_when_dag_is_paused=bool(getattr(operator, "fail_when_dag_is_paused", False)),
        durable=bool(getattr(operator, "durable", False)),
        dropped=tuple(dropped),
        # logical_date=None makes the run_id from "now" too: Airflow 2 triggers at now (trigger_dag fills
        # execution_date), Airflow 3 names the run from run_after=now with a random suffix.
        run_id_generated=not operator.trigger_run_id
        and (logical_arg is None or is_notset(logical_arg))
        and not run_after_given,
    )

"""Turn an operator's (rendered) attributes into a validated :class:`TriggerRequest`.

Everything here runs before any child run is triggered, and needs no Airflow import: a bad value is
reported with its name, its value and the fix.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, NamedTuple

from ._errors import FeatureNotSupported, TriggerArgumentError
from ._registry import Feature, Selection

__all__ = ["DAGRUN_STATES", "TriggerRequest", "build_request", "check_static_arguments"]

#: Every DagRunState value, identical on Airflow 2.11 and 3.x.
DAGRUN_STATES = frozenset({"queued", "running", "success", "failed"})

_UTC = datetime.timezone.utc


class TriggerRequest(NamedTuple):
    """What to trigger and how to wait, validated and normalised (dates are UTC-aware)."""

    trigger_dag_id: str
    run_id: str
    run_id_given: bool
    conf: dict[str, Any] | None
    logical_date: datetime.datetime | None
    run_after: datetime.datetime | None
    note: str | None
    reset_dag_run: bool
    skip_when_already_exists: bool
    wait_for_completion: bool
    poke_interval: float
    allowed_states: tuple[str, ...]
    failed_states: tuple[str, ...]
    deferrable: bool
    fail_when_dag_is_paused: bool
    durable: bool


def _is_notset(value: object) -> bool:
    # airflow's NOTSET sentinel (ArgNotSet), recognised without importing Airflow.
    return type(value).__name__ == "ArgNotSet"


def _states(name: str, values: Iterable[Any] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if values is None:
        return default
    if isinstance(values, (str, bytes)):
        raise TriggerArgumentError(
            f"{name}={values!r} must be a list of DagRun states, not a string; write {name}=[{values!r}]."
        )
    result = []
    for value in values:
        state = value.value if isinstance(value, Enum) else value
        if state not in DAGRUN_STATES:
            raise TriggerArgumentError(
                f"{name} contains {value!r}, which is not a DagRun state; "
                f"use only {sorted(DAGRUN_STATES)} (airflow.utils.state.DagRunState)."
            )
        result.append(str(state))
    return tuple(result)


def check_states(allowed_states: Any, failed_states: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # The standard operator treats an empty allowed_states as the default; failed_states=[] means none.
    allowed = _states("allowed_states", allowed_states or None, ("success",))
    failed = _states("failed_states", failed_states, ("failed",))
    overlap = sorted(set(allowed) & set(failed))
    if overlap:
        raise TriggerArgumentError(
            f"allowed_states={list(allowed)!r} and failed_states={list(failed)!r} share {overlap!r}; "
            "a state can only be one of the two."
        )
    return allowed, failed


def check_poke_interval(poke_interval: Any) -> float:
    if (
        isinstance(poke_interval, bool)
        or not isinstance(poke_interval, (int, float))
        or not poke_interval > 0
    ):
        raise TriggerArgumentError(
            f"poke_interval={poke_interval!r} must be a number of seconds greater than 0, "
            "e.g. poke_interval=60."
        )
    return float(poke_interval)


def check_features(selection: Selection, **flags: Any) -> None:
    """Raise :class:`FeatureNotSupported` for a flag the running Airflow cannot honour."""
    for name, value in flags.items():
        if not value or _is_notset(value):
            continue
        reason = selection.gap(name)
        if reason is not None and Feature(name) is not Feature.DURABLE:  # durable warns instead
            raise FeatureNotSupported(
                f"{name}={value!r} cannot work on Airflow {selection.version.raw} "
                f"(strategy {selection.name!r}): {reason}. Remove {name}, or require a newer Airflow.",
                airflow_version=selection.version.raw,
            )


def check_static_arguments(selection: Selection, kwargs: Mapping[str, Any]) -> None:
    """Checks that need no rendering, run when the operator is constructed."""
    durable = kwargs.get("durable", False)
    if not isinstance(durable, bool):
        raise TriggerArgumentError(f"durable={durable!r} must be True or False, e.g. durable=True.")
    if "poke_interval" in kwargs:
        check_poke_interval(kwargs["poke_interval"])
    check_states(kwargs.get("allowed_states"), kwargs.get("failed_states"))
    check_features(
        selection,
        fail_when_dag_is_paused=kwargs.get("fail_when_dag_is_paused"),
        note=kwargs.get("note"),
        run_after=kwargs.get("run_after"),
    )


def _first_unserialisable(value: Any, path: str = "conf") -> str:
    import json

    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{path} key {key!r}"
            found = _first_unserialisable(item, f"{path}[{key!r}]")
            if found:
                return found
        return ""
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _first_unserialisable(item, f"{path}[{index}]")
            if found:
                return found
        return ""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return f"{path}={value!r} ({type(value).__name__})"
    return ""


def check_conf(conf: Any) -> dict[str, Any] | None:
    if conf is None:
        return None
    import json

    if isinstance(conf, str):
        try:
            conf = json.loads(conf)
        except json.JSONDecodeError as err:
            raise TriggerArgumentError(
                f"conf={conf!r} is a string but not valid JSON ({err}); pass a dict or a JSON object string."
            ) from err
    if not isinstance(conf, Mapping):
        raise TriggerArgumentError(
            f"conf={conf!r} must be a dict (a JSON object), got {type(conf).__name__}."
        )
    try:
        json.dumps(conf)
    except (TypeError, ValueError) as err:
        raise TriggerArgumentError(
            f"conf is not JSON-serialisable: {_first_unserialisable(conf) or err}; "
            "convert it to str, int, float, bool, None, list or dict (dates with .isoformat())."
        ) from err
    return dict(conf)


def check_datetime(name: str, value: Any) -> datetime.datetime | None:
    """Parse a ``logical_date`` / ``run_after`` the way the standard operator does (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as err:
            raise TriggerArgumentError(
                f"{name}={value!r} is not an ISO 8601 date-time; use e.g. '2026-01-31T00:00:00+00:00' "
                "or a timezone-aware datetime."
            ) from err
    else:
        raise TriggerArgumentError(
            f"{name}={value!r} must be a datetime, an ISO 8601 string or None, not {type(value).__name__}."
        )
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


def _random_suffix(length: int = 8) -> str:
    import secrets
    import string

    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def generate_run_id(logical_date: datetime.datetime | None, run_after: datetime.datetime) -> str:
    """The run_id Airflow's ``DagRun.generate_run_id(run_type=MANUAL, ...)`` would produce."""
    # Airflow 3 appends a random suffix when there is no logical date, so runs never collide.
    suffix = run_after.isoformat() if logical_date else f"{run_after.isoformat()}_{_random_suffix()}"
    return f"manual__{suffix}"


def build_request(
    operator: Any, selection: Selection, *, now: datetime.datetime | None = None
) -> TriggerRequest:
    """Validate the operator's rendered attributes and resolve defaults exactly as the standard operator."""
    dag_id = operator.trigger_dag_id
    if not isinstance(dag_id, str) or not dag_id.strip():
        raise TriggerArgumentError(
            f"trigger_dag_id={dag_id!r} must be a non-empty DAG id; check the value or its template."
        )
    conf = check_conf(operator.conf)
    allowed, failed = check_states(operator.allowed_states, operator.failed_states)
    poke_interval = check_poke_interval(operator.poke_interval)
    run_after_arg = getattr(operator, "run_after", None)
    logical_arg = operator.logical_date
    check_features(
        selection,
        fail_when_dag_is_paused=getattr(operator, "fail_when_dag_is_paused", False),
        note=getattr(operator, "note", None),
        run_after=run_after_arg,
    )
    now = now or datetime.datetime.now(tz=_UTC)
    run_after_given = not _is_notset(run_after_arg) and run_after_arg is not None
    if _is_notset(logical_arg):
        # Standard operator: no logical_date means "now", unless run_after alone was given (3.x).
        logical_date = None if run_after_given else now
    else:
        logical_date = check_datetime("logical_date", logical_arg)
    run_after = check_datetime("run_after", run_after_arg) if run_after_given else None

    run_id_given = bool(operator.trigger_run_id)
    if run_id_given:
        run_id = str(operator.trigger_run_id)
    elif selection.version.release < (3, 0, 0):
        # Airflow 2: DagRun.generate_run_id(MANUAL, execution_date) has no random suffix.
        run_id = f"manual__{(logical_date or now).isoformat()}"
    else:
        run_id = generate_run_id(logical_date, run_after or logical_date or now)
    return TriggerRequest(
        trigger_dag_id=dag_id,
        run_id=run_id,
        run_id_given=run_id_given,
        conf=conf,
        logical_date=logical_date,
        run_after=run_after,
        note=getattr(operator, "note", None),
        reset_dag_run=bool(operator.reset_dag_run),
        skip_when_already_exists=bool(operator.skip_when_already_exists),
        wait_for_completion=bool(operator.wait_for_completion),
        poke_interval=poke_interval,
        allowed_states=allowed,
        failed_states=failed,
        deferrable=bool(operator.deferrable),
        fail_when_dag_is_paused=bool(getattr(operator, "fail_when_dag_is_paused", False)),
        durable=bool(getattr(operator, "durable", False)),
    )

"""The trigger half of the execution API, as a task-side accessor.

Airflow exposes the poll half as ``ti.get_dagrun_state()``; upstream proposes the trigger half as
``ti.trigger_dag_run()`` (apache/airflow#69135). Until a release ships it, :func:`trigger_dag_run`
sends the same ``TriggerDagRun`` message through the task's own supervisor channel: the endpoint
and scoped token the task runner uses, and no database access from the task.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ._airflow import load

__all__ = ["dagrun_state", "trigger_dag_run"]


@functools.cache
def _accepted_fields(message_type: Any) -> frozenset[str]:
    # Pydantic model of the installed Airflow: 3.2 added note and partition_key, 3.3 run_after.
    return frozenset(message_type.model_fields)


def _already_exists(error: Any) -> bool:
    return bool(getattr(error, "error", None) == load("ErrorType").DAGRUN_ALREADY_EXISTS)


def _ask_supervisor(message: Any) -> Any:
    """Send ``message`` to the task's supervisor and return its answer.

    task-sdk 1.0.3 (Airflow 3.0.3) gave the channel ``send()``; 1.0.0-1.0.2 have ``send_request()`` then
    ``get_message()``, under the channel's lock, as their task runner does (the registry's 3.0.0-3.0.2 row).
    """
    comms = load("SUPERVISOR_COMMS")
    send = getattr(comms, "send", None)
    if send is not None:
        return send(message)
    import structlog  # Airflow 3's logger; send_request() logs with keyword arguments

    with comms.lock:
        comms.send_request(log=structlog.get_logger(logger_name="task"), msg=message)
        return comms.get_message()


def trigger_dag_run(
    ti: Any,
    *,
    dag_id: str,
    run_id: str,
    conf: dict[str, Any] | None,
    logical_date: Any,
    run_after: Any,
    note: str | None,
    reset_dag_run: bool,
) -> bool:
    """Create the run ``dag_id``/``run_id``; ``False`` when it already exists (and was not reset).

    With ``reset_dag_run=True`` an existing run is cleared and rerun, and the answer is ``True``.
    """
    fields: dict[str, Any] = {"conf": conf, "logical_date": logical_date, "reset_dag_run": reset_dag_run}
    if run_after is not None:
        fields["run_after"] = run_after
    if note is not None:
        fields["note"] = note
    runtime_error = load("AirflowRuntimeError")
    try:
        native = getattr(ti, "trigger_dag_run", None)
        if native is not None:  # a future Airflow with the upstream accessor
            accepted = inspect.signature(native).parameters
            response = native(
                dag_id=dag_id, run_id=run_id, **{k: v for k, v in fields.items() if k in accepted}
            )
        else:
            message_type = load("TriggerDagRun")
            accepted_fields = _accepted_fields(message_type)
            message = message_type(
                dag_id=dag_id, run_id=run_id, **{k: v for k, v in fields.items() if k in accepted_fields}
            )
            response = _ask_supervisor(message)
    except runtime_error as err:
        if _already_exists(err.error):
            return False
        raise
    if isinstance(response, load("ErrorResponse")):
        if _already_exists(response):
            return False
        raise runtime_error(response)
    return True


def dagrun_state(ti: Any, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
    """``ti.get_dagrun_state``; with ``missing_ok``, ``None`` for a run that does not exist (HTTP 404).

    Without it a missing run raises Airflow's own error, as the runner's poll does.
    """
    try:
        state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
    except load("AirflowRuntimeError") as err:
        # On a worker the supervisor turns the API's 404 into an ErrorResponse carrying the status.
        detail = getattr(err.error, "detail", None) or {}
        if missing_ok and isinstance(detail, dict) and detail.get("status_code") == 404:
            return None
        raise
    except load("ServerResponseError") as err:
        # Under dag.test() the in-process supervisor lets the API client's own error through.
        if missing_ok and getattr(err.response, "status_code", None) == 404:
            return None
        raise
    return str(getattr(state, "value", state))

"""Airflow 3.0 to 3.2 (and 3.3 without ``durable``): raise ``DagRunTriggerException`` for the runner.

Since AIP-72 a task has no ORM access; ``task_runner._handle_trigger_dag_run`` triggers, pushes the
XCom and polls. With ``durable=True`` the operator does that itself (``_ports.SupervisorPort``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from .._airflow import load
from .._errors import TriggerArgumentError
from .._ports import SupervisorPort as Port
from .._request import TriggerRequest, check_aware, check_conf_shape

__all__ = ["Port", "check", "execute", "refuse"]  # the StrategyModule protocol


def check(request: TriggerRequest) -> None:
    """What the runner's ``TriggerDagRun`` payload refuses (a pydantic model)."""
    check_conf_shape(request.conf, falsy_means_none=False, str_keys=True)  # conf: dict[str, Any] | None
    check_aware("logical_date", request.logical_date)  # AwareDatetime | None
    check_aware("run_after", request.run_after)


def refuse(
    operator: Any, context: Mapping[str, Any], request: TriggerRequest, error: TriggerArgumentError
) -> NoReturn:
    """Log what is wrong and the fix, then let the runner refuse the payload as it refuses stock's: its
    error escapes ``_handle_trigger_dag_run`` before anything is sent, failing the task without retries."""
    operator.log.error("%s", error)
    raise_for_runner(operator, context, request)


def raise_for_runner(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> NoReturn:
    """The standard operator's ``_trigger_dag_af_3``: the task runner triggers and waits."""
    if request.fail_when_dag_is_paused and context["ti"].get_dag(request.trigger_dag_id).is_paused:
        raise load("DagIsPaused")(dag_id=request.trigger_dag_id)
    Port(operator, context).push_link(request.run_id)
    raise load("DagRunTriggerException")(**runner_kwargs(request))


def runner_kwargs(request: TriggerRequest) -> dict[str, Any]:
    """The ``DagRunTriggerException`` keywords; ``note``, ``run_after`` only where this Airflow takes them."""
    state = load("DagRunState")
    kwargs: dict[str, Any] = {
        "trigger_dag_id": request.trigger_dag_id,
        "dag_run_id": request.run_id,
        "conf": request.conf,
        "logical_date": request.logical_date,
        "reset_dag_run": request.reset_dag_run,
        "skip_when_already_exists": request.skip_when_already_exists,
        "wait_for_completion": request.wait_for_completion,
        "allowed_states": [state(s) for s in request.allowed_states],
        "failed_states": [state(s) for s in request.failed_states],
        "poke_interval": request.poke_interval,
        "deferrable": request.deferrable,
    }
    kwargs.update((k, v) for k, v in (("note", request.note), ("run_after", request.run_after)) if v)
    return kwargs


execute = raise_for_runner  # the standard operator's path

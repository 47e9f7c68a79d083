"""Airflow 3.0 to 3.2 (and 3.3 without ``durable``): raise ``DagRunTriggerException`` for the runner.

Since AIP-72 (Airflow 3.0) a task has no ORM access; ``task_runner._handle_trigger_dag_run`` sends the
``TriggerDagRun`` message, pushes the ``trigger_run_id`` XCom and polls. This is the standard operator's
``_trigger_dag_af_3``. With ``durable=True`` the operator triggers and polls itself through the execution
API (``_ports.SupervisorPort``); with no ``task_state_store`` before 3.3 the child's run_id is derived
from the parent task instance (``_durable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from .._airflow import load
from .._errors import TriggerArgumentError
from .._ports import SupervisorPort as Port
from .._ports import push_link
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
    """Say what is wrong and how to fix it, then let the runner refuse the payload as it refuses stock's.

    The 3.0-3.2 runner refuses it before anything is sent, and its error escapes _handle_trigger_dag_run:
    the task fails at once, without retries, its link naming the run_id (durable or not).
    """
    operator.log.error("%s", error)
    raise_for_runner(operator, context, request)


def raise_for_runner(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> NoReturn:
    """The standard operator's ``_trigger_dag_af_3``: the task runner triggers and waits."""
    if request.fail_when_dag_is_paused and context["ti"].get_dag(request.trigger_dag_id).is_paused:
        raise load("DagIsPaused")(dag_id=request.trigger_dag_id)
    push_link(operator, context, request.run_id)
    raise load("DagRunTriggerException")(**runner_kwargs(request))


def runner_kwargs(request: TriggerRequest) -> dict[str, Any]:
    """The ``DagRunTriggerException`` keywords for ``request``.

    ``note`` and ``run_after`` only when set: the request carries them only where the registry says this
    Airflow takes them (task-sdk 1.2: note; 1.3: run_after).
    """
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

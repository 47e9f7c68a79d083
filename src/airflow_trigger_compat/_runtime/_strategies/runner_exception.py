"""Airflow 3, stock's path: ``execute()`` raises ``DagRunTriggerException`` for the task runner.

Since AIP-72 a task has no ORM access; ``task_runner._handle_trigger_dag_run`` triggers, pushes the XCom
and polls: this is the standard operator's ``_trigger_dag_af_3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from .._airflow import dagrun_states, load
from .._contract import Route, TaskPort, check_not_paused
from .._errors import TriggerArgumentError, refuse_early
from .._registry import Feature
from .._request import TriggerRequest
from .._request import check_trigger_payload as check

__all__ = ["check", "execute", "refuse"]  # the StrategyModule protocol


def refuse(
    operator: Any,
    context: Mapping[str, Any],
    request: TriggerRequest,
    error: TriggerArgumentError,
    route: Route,
) -> NoReturn:
    """Where the runner fails the task without retries when its trigger handling fails (3.0-3.2, the
    ``retry_on_failed_child`` gap), log what is wrong and the fix, then let it refuse the payload as it
    refuses stock's. Elsewhere fail at once, before the runner could retry it."""
    if route.selection.supports(Feature.RETRY_ON_FAILED_CHILD):
        refuse_early(operator, context, request, error, route)
    operator.log.error("%s", error)
    execute(operator, context, request, route)


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest, route: Route) -> NoReturn:
    port = TaskPort(operator, context)
    check_not_paused(request, port)
    port.push_link(request.run_id)
    raise load("DagRunTriggerException")(**runner_kwargs(request))


def runner_kwargs(request: TriggerRequest) -> dict[str, Any]:
    """The ``DagRunTriggerException`` keywords (``note``, ``run_after`` where this Airflow takes them)."""
    return {
        "trigger_dag_id": request.trigger_dag_id,
        "dag_run_id": request.run_id,
        **request.payload(),
        "reset_dag_run": request.reset_dag_run,
        "skip_when_already_exists": request.skip_when_already_exists,
        "wait_for_completion": request.wait_for_completion,
        "allowed_states": dagrun_states(request.allowed_states),
        "failed_states": dagrun_states(request.failed_states),
        "poke_interval": request.poke_interval,
        "deferrable": request.deferrable,
    }

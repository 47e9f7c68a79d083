"""Airflow 3, stock's path (``_trigger_dag_af_3``): ``execute()`` raises ``DagRunTriggerException``."""
# The task runner's ``_handle_trigger_dag_run`` triggers, pushes the XCom and polls (AIP-72: a task has
# no ORM). ``durable=True`` (the ``durable`` module) triggers through here too.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from .._airflow import dagrun_states, load
from .._contract import Route, TaskPort, check_not_paused
from .._errors import TriggerArgumentError, refuse_early
from .._registry import Feature
from .._request import TriggerRequest, check_trigger_payload as check

__all__ = ["Port", "check", "execute", "refuse"]  # the StrategyModule protocol


def refuse(
    operator: Any,
    context: Mapping[str, Any],
    request: TriggerRequest,
    error: TriggerArgumentError,
    route: Route,
) -> NoReturn:
    """Log the error and let the runner refuse the payload as it refuses stock's, or fail at once."""
    # The runner refuses it where its trigger handling gives no retries (3.0-3.2: ``retry_on_failed_child``);
    # elsewhere the task fails at once, without retries.
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
    """Return the ``DagRunTriggerException`` keywords: ``note``, ``run_after`` where this Airflow has them."""
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


Port = TaskPort  # the StrategyModule protocol: the port the ``durable`` module waits through on this path

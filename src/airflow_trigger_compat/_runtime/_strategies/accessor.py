"""A Task SDK with ``ti.trigger_dag_run()`` (apache/airflow#69135): the operator triggers and waits itself."""
# Taken by durable=True (not deferrable) for its kept run_id; the log lines, XComs and outcomes are the
# task runner's ``_handle_trigger_dag_run``'s, so only where the wait runs differs (in execute()).

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._airflow import load
from .._contract import TaskPort, check_not_paused, wait_for_run
from .._registry import Feature

if TYPE_CHECKING:
    from .._contract import Route
    from .._request import TriggerRequest

__all__ = ["execute"]


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest, route: Route) -> None:
    port = TaskPort(operator, context)
    dag_id, run_id, log = request.trigger_dag_id, request.run_id, port.log
    check_not_paused(request, port)
    port.push_link(run_id)
    log.info("Triggering Dag Run. trigger_dag_id=%s", dag_id)
    created = port.ti.trigger_dag_run(
        dag_id=dag_id, run_id=run_id, reset_dag_run=request.reset_dag_run, **request.payload()
    )
    if not created:
        if request.skip_when_already_exists:
            log.info("Dag Run already exists, skipping task as skip_when_already_exists is set to True.")
            raise load("AirflowSkipException")(f"Dag run {run_id} of {dag_id} already exists")
        log.error("Dag Run already exists, marking task as failed.")
        raise load("AirflowFailException")(f"Dag run {run_id} of {dag_id} already exists")
    log.info("Dag Run triggered successfully. trigger_dag_id=%s", dag_id)
    port.push_run_id(run_id)
    if request.wait_for_completion:
        wait_for_run(request, port, run_id, retry=route.selection.supports(Feature.RETRY_ON_FAILED_CHILD))

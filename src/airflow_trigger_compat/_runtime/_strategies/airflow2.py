"""Airflow 2.11: stock's ``_trigger_dag_af_2``, step for step, through ``_ports.OrmPort``.

The XCom, the poll and the deferral use the run that exists, which may have another run_id than the one
asked for (found by its logical date).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._airflow import load
from .._contract import XCOM_RUN_ID, check_not_paused, wait_for_run
from .._errors import refuse_early as refuse
from .._ports import OrmPort as Port
from .._request import TriggerRequest, check_aware, check_conf_shape

__all__ = ["Port", "check", "execute", "refuse"]  # the StrategyModule protocol


def check(request: TriggerRequest) -> None:
    """What ``trigger_dag`` refuses once called: a truthy conf that is not a dict, a naive date."""
    check_conf_shape(request.conf, falsy_means_none=True, str_keys=False)  # falsy conf means None there
    check_aware("logical_date", request.logical_date)  # "The execution_date should be localized"


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> None:
    port = Port(operator, context)
    check_not_paused(request, port)
    if not port.trigger(request, request.run_id, reset=request.reset_dag_run):
        port.existing_run(request, request.run_id)
    dag_run = port.dag_run
    context["task_instance"].xcom_push(key=XCOM_RUN_ID, value=dag_run.run_id)
    if not request.wait_for_completion:
        return
    if request.deferrable:
        state = load("DagRunState")
        operator.defer(
            trigger=load("DagStateTrigger")(
                dag_id=request.trigger_dag_id,
                states=[state(s) for s in request.allowed_states + request.failed_states],
                execution_dates=[dag_run.logical_date],
                run_ids=[request.run_id],
                poll_interval=request.poke_interval,
            ),
            method_name="execute_complete",
        )
    wait_for_run(request, port, dag_run.run_id)

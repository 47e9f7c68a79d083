"""Airflow 2.11: the task may use the ORM, so the operator triggers and polls by itself.

This is the standard operator's ``_trigger_dag_af_2``, step for step: ``trigger_dag`` through the ORM;
on "already exists" the run it found is cleared (``reset_dag_run``), skipped or the error re-raised; the
XCom, the poll and the deferral all use the run that exists (which may have another run_id than the one
asked for, when it was found by its logical date).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .._airflow import load
from .._request import TriggerRequest, check_aware, check_conf_shape

__all__ = ["check", "execute"]

XCOM_RUN_ID = "trigger_run_id"


def check(request: TriggerRequest) -> None:
    """What ``trigger_dag`` refuses once called: a truthy conf that is not a dict, a naive date."""
    check_conf_shape(
        request.conf, falsy_means_none=True, str_keys=False
    )  # trigger_dag treats a falsy conf as None
    check_aware("logical_date", request.logical_date)  # "The execution_date should be localized"


def _check_not_paused(dag_id: str) -> None:
    from airflow.models.dag import DagModel

    dag_model = DagModel.get_current(dag_id)
    if not dag_model:
        raise ValueError(f"Dag {dag_id} is not found")
    if dag_model.is_paused:
        raise load("DagIsPaused")(dag_id=dag_id)  # an AirflowException: "Dag <dag_id> is paused"


def _trigger(operator: Any, request: TriggerRequest) -> Any:
    """Create the run, or find the existing one and clear it (``reset_dag_run``); returns the DagRun."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.models.serialized_dag import SerializedDagModel

    try:
        return trigger_dag(
            dag_id=request.trigger_dag_id,
            run_id=request.run_id,
            conf=request.conf,
            execution_date=request.logical_date,
            replace_microseconds=False,
        )
    except load("DagRunAlreadyExists") as err:
        if not request.reset_dag_run:
            if request.skip_when_already_exists:
                raise load("AirflowSkipException")(
                    "Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists"
                ) from err
            raise  # DagRunAlreadyExists, as stock: retries apply
        dag_run = err.dag_run
        operator.log.info("Clearing %s on %s", request.trigger_dag_id, dag_run.run_id)
        if DagModel.get_current(request.trigger_dag_id) is None:
            raise load("DagNotFound")(f"Dag id {request.trigger_dag_id} not found in DagModel") from err
        dag = SerializedDagModel.get_dag(request.trigger_dag_id)
        dag.clear(start_date=dag_run.logical_date, end_date=dag_run.logical_date)
        return dag_run


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> None:
    if request.fail_when_dag_is_paused:
        _check_not_paused(request.trigger_dag_id)
    dag_run = _trigger(operator, request)
    context["task_instance"].xcom_push(key=XCOM_RUN_ID, value=dag_run.run_id)
    if not request.wait_for_completion:
        return
    state = load("DagRunState")
    allowed = [state(s) for s in request.allowed_states]
    failed = [state(s) for s in request.failed_states]
    if request.deferrable:
        operator.defer(
            trigger=load("DagStateTrigger")(
                dag_id=request.trigger_dag_id,
                states=allowed + failed,
                execution_dates=[dag_run.logical_date],
                run_ids=[request.run_id],
                poll_interval=request.poke_interval,
            ),
            method_name="execute_complete",
        )
    while True:
        operator.log.info(
            "Waiting for %s on %s to become allowed state %s ...",
            request.trigger_dag_id,
            request.run_id,
            allowed,
        )
        time.sleep(request.poke_interval)
        dag_run.refresh_from_db()  # NoResultFound when the run was deleted: the task fails, retries apply
        if dag_run.state in failed:
            raise load("AirflowException")(
                f"{request.trigger_dag_id} failed with failed states {dag_run.state}"
            )
        if dag_run.state in allowed:
            operator.log.info("%s finished with allowed state %s", request.trigger_dag_id, dag_run.state)
            return

"""Airflow 2.11: the task may use the ORM, so the operator triggers and polls by itself.

This is the standard operator's ``_trigger_dag_af_2``, step for step: ``trigger_dag`` through the ORM;
on "already exists" the run it found is cleared (``reset_dag_run``), skipped or the error re-raised; the
XCom, the poll and the deferral all use the run that exists (which may have another run_id than the one
asked for, when it was found by its logical date).

With ``durable=True`` (and no deferrable wait) the same trigger and poll run through :class:`OrmPort`
under :func:`.._durable.run_durable`: Airflow 2 has no ``task_state_store``, so the child's run_id is
derived from the parent task instance and the database's unique (dag_id, run_id) finds a lost try's run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NoReturn

from .. import _orm
from .._airflow import load
from .._contract import AirflowPortBase
from .._request import _NOTSET, TriggerRequest, _is_notset, check_aware, check_conf_shape

__all__ = ["OrmPort", "check", "execute"]

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


class OrmPort(AirflowPortBase):
    """:class:`.._contract.TaskPort` over Airflow 2's ORM, with stock 2.11's errors."""

    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        self.operator = operator
        self.ti = context["task_instance"]
        self.dag_run = context["dag_run"]
        self.log = operator.log

    def dag_run_identity(self) -> str:
        return f"id={self.dag_run.id}"  # the ORM row: a DagRun recreated under the same run_id is a new row

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        # Looked up on the module each call: it is the seam tests use to crash in the right place.
        return _orm.trigger_dag_run(
            self.ti,
            dag_id=request.trigger_dag_id,
            run_id=run_id,
            conf=request.conf,
            logical_date=request.logical_date,
            reset_dag_run=reset,
        )

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        return _orm.dagrun_state(self.ti, dag_id, run_id, missing_ok=missing_ok)

    def dag_is_paused(self, dag_id: str) -> bool:
        from airflow.models.dag import DagModel

        dag_model = DagModel.get_current(dag_id)
        if not dag_model:
            raise ValueError(f"Dag {dag_id} is not found")
        return bool(dag_model.is_paused)

    def push_link(self, run_id: str) -> None:
        pass  # Airflow 2's TriggerDagRunLink reads the trigger_run_id XCom

    def child_failed(self, dag_id: str, state: str) -> NoReturn:
        raise load("AirflowException")(f"{dag_id} failed with failed states {state}")  # stock 2.11's words

    def existing_run(self, request: TriggerRequest, run_id: str) -> NoReturn:
        # As stock 2.11: skip, or re-raise DagRunAlreadyExists (retries apply).
        error = _orm.already_exists_error(self.ti)
        if request.skip_when_already_exists:
            raise load("AirflowSkipException")(
                "Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists"
            ) from error
        if error is None:
            raise load("AirflowException")(f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists")
        raise error


def log_ignored_parameters(operator: Any) -> None:
    """Stock's ``_trigger_dag_af_2`` names in the task log what Airflow 2 ignores, given even as None."""
    ignored = [] if _is_notset(getattr(operator, "run_after", _NOTSET)) else ["run_after"]
    if getattr(operator, "note", None) is not None:
        ignored.append("note")
    if ignored:
        operator.log.warning(
            "The following parameters are not supported in Airflow 2.x and will be ignored: %s",
            ", ".join(ignored),
        )


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> None:
    if request.fail_when_dag_is_paused:
        _check_not_paused(request.trigger_dag_id)
    log_ignored_parameters(operator)  # as stock: after the paused check, before the trigger
    if request.durable_without_store:
        from .._durable import run_durable

        run_durable(request, OrmPort(operator, context), context)
        return
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

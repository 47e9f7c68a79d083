"""Airflow 2.11: the task may use the ORM, so the operator triggers and polls by itself.

Triggers with ``airflow.api.common.trigger_dag.trigger_dag`` (then sets the run's note, which that
function does not take), clears an existing run on
``reset_dag_run`` (``dag.clear`` on the serialized DAG, as the standard operator does), polls
``DagRun.refresh_from_db`` and defers with ``DagStateTrigger`` when deferrable. The rules themselves
are the shared contract (:mod:`.._contract`), the same the 3.3+ accessor path runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from .._airflow import load
from .._contract import AirflowPortBase, trigger_and_wait

if TYPE_CHECKING:
    from .._request import TriggerRequest

__all__ = ["OrmPort", "execute"]


class OrmPort(AirflowPortBase):
    """:class:`.._contract.TaskPort` over Airflow 2's ORM."""

    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        self.operator = operator
        self.ti = context["task_instance"]
        self.log = operator.log

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        from airflow.api.common.trigger_dag import trigger_dag
        from airflow.exceptions import DagRunAlreadyExists

        try:
            dag_run = trigger_dag(
                dag_id=request.trigger_dag_id,
                run_id=run_id,
                conf=request.conf,
                execution_date=request.logical_date,
                replace_microseconds=False,
            )
        except DagRunAlreadyExists as err:
            if not reset:
                return False
            self._clear(request, err.dag_run)
            return True
        if request.note is not None and dag_run is not None:
            self._set_note(dag_run, request.note)
        return True

    @staticmethod
    def _set_note(dag_run: Any, note: str) -> None:
        # trigger_dag() takes no note, but Airflow 2.5+ keeps one per run (DagRunNote), as 3.x does.
        from airflow.utils.session import create_session

        with create_session() as session:
            session.merge(dag_run).note = note

    @staticmethod
    def _clear(request: TriggerRequest, dag_run: Any) -> None:
        from airflow.models.serialized_dag import SerializedDagModel

        dag = SerializedDagModel.get_dag(request.trigger_dag_id)
        if dag is None:
            raise load("AirflowException")(
                f"DAG {request.trigger_dag_id!r} is not serialized; cannot reset it"
            )
        dag.clear(start_date=dag_run.logical_date, end_date=dag_run.logical_date)

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        from airflow.models.dagrun import DagRun

        runs = DagRun.find(dag_id=dag_id, run_id=run_id)
        return str(runs[0].state) if runs else None

    def dag_is_paused(self, dag_id: str) -> bool:
        from airflow.models.dag import DagModel

        dag_model = DagModel.get_current(dag_id)
        if dag_model is None:
            raise load("AirflowException")(f"DAG {dag_id!r} is not found")
        return bool(dag_model.is_paused)

    def defer(self, request: TriggerRequest, run_id: str) -> NoReturn:
        self.operator.defer(
            trigger=load("DagStateTrigger")(
                dag_id=request.trigger_dag_id,
                states=list(request.allowed_states + request.failed_states),
                execution_dates=[request.logical_date],
                run_ids=[run_id],
                poll_interval=request.poke_interval,
            ),
            method_name="execute_complete",
        )
        raise AssertionError("BaseOperator.defer() returned")  # pragma: no cover


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> None:
    trigger_and_wait(request, OrmPort(operator, context))

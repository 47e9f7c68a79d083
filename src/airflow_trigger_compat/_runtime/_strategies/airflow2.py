"""Airflow 2.11: trigger through the ORM and poll the child run, as stock's ``_trigger_dag_af_2`` does."""
# Step for step: the XCom, the poll and the deferral use the run that exists, which may have another
# run_id, found by its logical date; ``durable=True`` derives the child's run_id.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from .._airflow import dagrun_states, load
from .._contract import Route, TaskPort, check_not_paused, run_with_derived_id, wait_for_run
from .._errors import refuse_early as refuse
from .._registry import DROP, WHEN_MISSING
from .._request import NOTSET, TriggerRequest, check_trigger_dag_call as check, is_notset

__all__ = ["check", "execute", "refuse"]  # the StrategyModule protocol


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest, route: Route) -> None:
    port = OrmPort(operator, context)
    if route.durable:
        return run_with_derived_id(request, port)
    check_not_paused(request, port)
    if not port.trigger(request, request.run_id, reset=request.reset_dag_run):
        port.existing_run(request, request.run_id)
    dag_run = port.dag_run
    context["task_instance"].xcom_push(key=load("XCOM_RUN_ID"), value=dag_run.run_id)
    if not request.wait_for_completion:
        return
    if request.deferrable:
        operator.defer(
            trigger=load("DagStateTrigger")(
                dag_id=request.trigger_dag_id,
                states=dagrun_states(request.allowed_states + request.failed_states),
                execution_dates=[dag_run.logical_date],
                run_ids=[request.run_id],
                poll_interval=request.poke_interval,
            ),
            method_name="execute_complete",
        )
    wait_for_run(request, port, dag_run.run_id)


class OrmPort(TaskPort):
    """``trigger_dag`` and the ORM, as stock's ``_trigger_dag_af_2``, with its words."""

    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        super().__init__(operator, context)
        #: The run the last trigger created or reset (stock's ``dag_run``), and the run_id it asked for.
        self.dag_run: Any = None
        self.asked: str | None = None
        self._exists: BaseException | None = None  # the last DagRunAlreadyExists, re-raised as stock

    def dag_run_identity(self) -> str:
        return f"id={self.context['dag_run'].id}"  # the ORM row: a run recreated under a run_id is new

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """``trigger_dag`` as stock's ``_trigger_dag_af_2`` calls it (with ``reset``, stock's clear)."""
        self.asked = run_id
        ignored = self._ignored()
        if ignored:
            self.log.warning(
                "The following parameters are not supported in Airflow 2.x and will be ignored: %s",
                ", ".join(ignored),
            )
        try:
            self.dag_run = load("trigger_dag")(
                dag_id=request.trigger_dag_id,
                run_id=run_id,
                conf=request.conf,
                execution_date=request.logical_date,
                replace_microseconds=False,
            )
        except load("DagRunAlreadyExists") as err:
            if not reset:
                self._exists = err
                return False
            self.dag_run = err.dag_run
            self.log.info("Clearing %s on %s", request.trigger_dag_id, self.dag_run.run_id)
            if load("DagModel").get_current(request.trigger_dag_id) is None:
                raise load("DagNotFound")(f"Dag id {request.trigger_dag_id} not found in DagModel") from err
            load("SerializedDagModel").get_dag(request.trigger_dag_id).clear(
                start_date=self.dag_run.logical_date, end_date=self.dag_run.logical_date
            )
        return True

    def _ignored(self) -> list[str]:
        """Return what stock names in the task log as ignored by Airflow 2: each flag not at its default."""
        # Stock's own table where the operator has it; else the registry's (run_after given even as None).
        op = self.operator
        table = getattr(op, "attributes_not_supported_in_airflow_2", None)
        if table is not None:
            return [name for name, default in table.items() if getattr(op, name, default) is not default]
        given = {f.value: getattr(op, f.value, NOTSET) for f in WHEN_MISSING if WHEN_MISSING[f] == DROP}
        return [n for n, v in given.items() if not is_notset(v) and (v is not None or n == "run_after")]

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        """Return the run's state; a missing run raises ``NoResultFound`` (as stock's ``refresh_from_db``)."""
        dag_run = load("DagRun")
        with load("create_session")() as session:
            query = session.query(dag_run.state).filter(dag_run.dag_id == dag_id, dag_run.run_id == run_id)
            row = query.one_or_none() if missing_ok else query.one()
        return None if row is None else str(getattr(row[0], "value", row[0]))

    def dag_is_paused(self, dag_id: str) -> bool:
        dag_model = load("DagModel").get_current(dag_id)
        if not dag_model:
            raise ValueError(f"Dag {dag_id} is not found")
        return bool(dag_model.is_paused)

    def push_link(self, run_id: str) -> None:
        pass  # Airflow 2's TriggerDagRunLink reads the trigger_run_id XCom

    def log_waiting(self, request: TriggerRequest, run_id: str) -> None:
        self.log.info(
            "Waiting for %s on %s to become allowed state %s ...",
            request.trigger_dag_id,
            self.asked or run_id,  # stock names the run_id it asked for, also when it found another run
            dagrun_states(request.allowed_states),
        )

    def child_failed(self, dag_id: str, state: str) -> NoReturn:
        raise load("AirflowException")(f"{dag_id} failed with failed states {state}")

    def existing_run(self, request: TriggerRequest, run_id: str) -> NoReturn:
        # As stock 2.11: skip, or re-raise DagRunAlreadyExists (retries apply).
        if request.skip_when_already_exists:
            raise load("AirflowSkipException")(
                "Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists"
            ) from self._exists
        if self._exists is None:
            raise load("AirflowException")(f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists")
        raise self._exists

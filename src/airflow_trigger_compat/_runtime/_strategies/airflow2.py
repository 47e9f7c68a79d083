"""Airflow 2.11: trigger through the ORM and poll the child run, as stock's ``_trigger_dag_af_2`` does."""
# Step for step: the XCom, the poll and the deferral use the run that exists, which may have another
# run_id, found by its logical date. ``durable=True`` (the ``durable`` module) triggers through here too.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, cast

from .._airflow import dagrun_states, load
from .._contract import Route, TaskPort, check_not_paused, wait_for_run
from .._errors import refuse_early as refuse
from .._registry import DROP, WHEN_MISSING
from .._request import NOTSET, TriggerRequest, check_trigger_dag_call as check, is_notset

__all__ = ["Port", "check", "execute", "refuse"]  # the StrategyModule protocol


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest, route: Route) -> None:
    port = OrmPort(operator, context)
    check_not_paused(request, port)
    dag_run = port.trigger(request)
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
        self.asked: str | None = None  # the run_id the trigger asked for (stock's wait names it)

    def dag_run_identity(self) -> str:
        return f"id={self.context['dag_run'].id}"  # the ORM row: a run recreated under a run_id is new

    def trigger(self, request: TriggerRequest) -> Any:
        """Return the run ``trigger_dag`` created or (``reset_dag_run``) cleared, as ``_trigger_dag_af_2``."""
        self.asked = run_id = request.run_id
        ignored = self._ignored()
        if ignored:
            self.log.warning(
                "The following parameters are not supported in Airflow 2.x and will be ignored: %s",
                ", ".join(ignored),
            )
        try:
            return load("trigger_dag")(
                dag_id=request.trigger_dag_id,
                run_id=run_id,
                conf=request.conf,
                execution_date=request.logical_date,
                replace_microseconds=False,
            )
        except load("DagRunAlreadyExists") as err:
            if not request.reset_dag_run:
                if request.skip_when_already_exists:  # else re-raised, as stock (retries apply)
                    raise load("AirflowSkipException")(
                        "Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists"
                    ) from err
                raise
            dag_run = err.dag_run
            self.log.info("Clearing %s on %s", request.trigger_dag_id, dag_run.run_id)
            if load("DagModel").get_current(request.trigger_dag_id) is None:
                raise load("DagNotFound")(f"Dag id {request.trigger_dag_id} not found in DagModel") from err
            load("SerializedDagModel").get_dag(request.trigger_dag_id).clear(
                start_date=dag_run.logical_date, end_date=dag_run.logical_date
            )
            return dag_run

    def _ignored(self) -> list[str]:
        """Return what stock names in the task log as ignored by Airflow 2: each flag not at its default."""
        # Stock's own table where the operator has it; else the registry's (run_after given even as None).
        op = self.operator
        table = getattr(op, "attributes_not_supported_in_airflow_2", None)
        if table is not None:
            return [name for name, default in table.items() if getattr(op, name, default) is not default]
        given = {f.value: getattr(op, f.value, NOTSET) for f in WHEN_MISSING if WHEN_MISSING[f] == DROP}
        return [n for n, v in given.items() if not is_notset(v) and (v is not None or n == "run_after")]

    def dagrun_state(self, dag_id: str, run_id: str) -> str:
        """Return the run's state; a missing run raises ``NoResultFound`` (as stock's ``refresh_from_db``)."""
        return cast("str", self._query(dag_id, run_id, missing_ok=False))

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        return self._query(dag_id, run_id, missing_ok=True)

    def _query(self, dag_id: str, run_id: str, *, missing_ok: bool) -> str | None:
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

    def child_failed(self, dag_id: str, state: str, *, retry: bool) -> NoReturn:
        raise load("AirflowException")(f"{dag_id} failed with failed states {state}")  # retries apply


Port = OrmPort  # the StrategyModule protocol: the port the ``durable`` module waits through on this path

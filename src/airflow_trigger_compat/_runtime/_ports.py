"""How a task triggers and polls a DAG run on each Airflow (``trigger``: the crash tests' seam)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from typing_extensions import override

from ._airflow import load
from ._contract import TaskPort
from ._request import NOTSET, TriggerRequest, is_notset


class SupervisorPort(TaskPort):
    """Airflow 3: the execution API, through the task's own supervisor channel (no database access).

    The trigger is the ``TriggerDagRun`` message the task runner sends for stock (upstream proposes it as
    ``ti.trigger_dag_run()``, apache/airflow#69135); the poll is ``ti.get_dagrun_state()``.
    """

    @override
    def dag_run_identity(self) -> str:
        # The Task SDK's DagRun has no id (_contract.ParentKey says why start_date stands in for it).
        start_date = self.context["dag_run"].start_date
        return f"started={start_date.isoformat() if start_date else None}"

    @override
    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        fields: dict[str, Any] = {"conf": request.conf, "logical_date": request.logical_date}
        # The request carries note and run_after only where the registry says this Airflow takes them.
        fields.update((k, v) for k, v in (("note", request.note), ("run_after", request.run_after)) if v)
        message = load("TriggerDagRun")(
            dag_id=request.trigger_dag_id, run_id=run_id, reset_dag_run=reset, **fields
        )
        try:
            response = _ask_supervisor(message)
        except load("AirflowRuntimeError") as err:
            if _already_exists(err.error):
                return False
            raise
        if isinstance(response, load("ErrorResponse")):
            if _already_exists(response):
                return False
            raise load("AirflowRuntimeError")(response)
        return True

    @override
    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        try:
            state = self.ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        except load("AirflowRuntimeError") as err:
            # On a worker the supervisor turns the API's 404 into an ErrorResponse carrying the status.
            detail = getattr(err.error, "detail", None) or {}
            if missing_ok and isinstance(detail, dict) and detail.get("status_code") == 404:
                return None
            raise
        except load("ServerResponseError") as err:
            # Under dag.test() the in-process supervisor lets the API client's own error through.
            if missing_ok and getattr(err.response, "status_code", None) == 404:
                return None
            raise
        return str(getattr(state, "value", state))

    @override
    def dag_is_paused(self, dag_id: str) -> bool:
        return bool(self.ti.get_dag(dag_id).is_paused)

    @override
    def push_link(self, run_id: str) -> None:
        """Push the "Triggered DAG" link XCom, as the standard operator does on Airflow 3."""
        from airflow.utils import helpers

        build_airflow_dagrun_url = getattr(helpers, "build_airflow_dagrun_url", None)
        if build_airflow_dagrun_url is None or self.ti is None or not hasattr(self.ti, "xcom_push"):
            return  # not in every 3.x core; the link is a convenience
        try:
            self.ti.xcom_push(
                key=load("TriggerDagRunLink")().xcom_key,
                value=build_airflow_dagrun_url(dag_id=self.operator.trigger_dag_id, run_id=run_id),
            )
        except (AttributeError, KeyError, TypeError, AssertionError) as err:  # as stock: a partial context
            self.log.debug("Skipping TriggerDagRunLink XCom push due to mock or incomplete context: %s", err)


def _already_exists(error: Any) -> bool:
    return bool(getattr(error, "error", None) == load("ErrorType").DAGRUN_ALREADY_EXISTS)


def _ask_supervisor(message: Any) -> Any:
    """Send ``message`` to the supervisor: task-sdk 1.0.3 has ``send()``; before, two calls under a lock."""
    comms = load("SUPERVISOR_COMMS")
    send = getattr(comms, "send", None)
    if send is not None:
        return send(message)
    import structlog  # Airflow 3's logger; send_request() logs with keyword arguments

    with comms.lock:
        comms.send_request(log=structlog.get_logger(logger_name="task"), msg=message)
        return comms.get_message()


class OrmPort(TaskPort):
    """Airflow 2.11: ``trigger_dag`` and the ORM, as stock's ``_trigger_dag_af_2``, with its words."""

    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        super().__init__(operator, context)
        #: The run the last trigger created or reset (stock's ``dag_run``), and the run_id it asked for.
        self.dag_run: Any = None
        self.asked: str | None = None
        self._exists: BaseException | None = None  # the last DagRunAlreadyExists, re-raised as stock

    @override
    def dag_run_identity(self) -> str:
        return f"id={self.context['dag_run'].id}"  # the ORM row: a run recreated under a run_id is new

    @override
    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """``trigger_dag`` as stock's ``_trigger_dag_af_2`` calls it (with ``reset``, stock's clear)."""
        from airflow.api.common.trigger_dag import trigger_dag
        from airflow.models.dag import DagModel
        from airflow.models.serialized_dag import SerializedDagModel

        self.asked = run_id
        log_ignored_parameters(self.operator)
        try:
            self.dag_run = trigger_dag(
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
            if DagModel.get_current(request.trigger_dag_id) is None:
                raise load("DagNotFound")(f"Dag id {request.trigger_dag_id} not found in DagModel") from err
            SerializedDagModel.get_dag(request.trigger_dag_id).clear(
                start_date=self.dag_run.logical_date, end_date=self.dag_run.logical_date
            )
        return True

    @override
    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        """The run's state; a missing run raises ``NoResultFound`` (as stock's ``refresh_from_db``)."""
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            query = session.query(DagRun.state).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
            row = query.one_or_none() if missing_ok else query.one()
        return None if row is None else str(getattr(row[0], "value", row[0]))

    @override
    def dag_is_paused(self, dag_id: str) -> bool:
        from airflow.models.dag import DagModel

        dag_model = DagModel.get_current(dag_id)
        if not dag_model:
            raise ValueError(f"Dag {dag_id} is not found")
        return bool(dag_model.is_paused)

    @override
    def push_link(self, run_id: str) -> None:
        pass  # Airflow 2's TriggerDagRunLink reads the trigger_run_id XCom

    @override
    def log_waiting(self, request: TriggerRequest, run_id: str) -> None:
        state = load("DagRunState")
        self.log.info(
            "Waiting for %s on %s to become allowed state %s ...",
            request.trigger_dag_id,
            self.asked or run_id,  # stock names the run_id it asked for, also when it found another run
            [state(s) for s in request.allowed_states],
        )

    @override
    def child_failed(self, dag_id: str, state: str) -> NoReturn:
        raise load("AirflowException")(f"{dag_id} failed with failed states {state}")

    @override
    def existing_run(self, request: TriggerRequest, run_id: str) -> NoReturn:
        # As stock 2.11: skip, or re-raise DagRunAlreadyExists (retries apply).
        if request.skip_when_already_exists:
            raise load("AirflowSkipException")(
                "Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists"
            ) from self._exists
        if self._exists is None:
            raise load("AirflowException")(f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists")
        raise self._exists


def log_ignored_parameters(operator: Any) -> None:
    """Stock's ``_trigger_dag_af_2`` names in the task log what Airflow 2 ignores, given even as None."""
    ignored = [] if is_notset(getattr(operator, "run_after", NOTSET)) else ["run_after"]
    if getattr(operator, "note", None) is not None:
        ignored.append("note")
    if ignored:
        operator.log.warning(
            "The following parameters are not supported in Airflow 2.x and will be ignored: %s",
            ", ".join(ignored),
        )

"""Airflow 3, ``durable=True``: the operator triggers through the execution API and polls the child run."""
# So a retry after a lost worker finds the lost try's run_id: kept in ``task_state_store`` where the
# registry says there is one (DagRunJob), else derived from the parent task instance. The trigger is the
# runner's own ``TriggerDagRun`` message: no Task SDK release has the ``ti.trigger_dag_run()`` accessor
# apache/airflow#69135 proposes. docs/durable.md tells the whole story.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._airflow import ask_supervisor, is_not_found, load
from .._contract import Route, TaskPort, check_not_paused, run_with_derived_id, wait_for_run
from .._errors import refuse_early as refuse
from .._request import TriggerRequest, check_trigger_payload as check

__all__ = ["check", "execute", "refuse"]  # the StrategyModule protocol

#: The task_state_store key's prefix. Changing it breaks retries that are in flight during an upgrade.
STATE_KEY = "airflow_trigger_compat.trigger_run_id"
#: Status reported for a stored run_id whose run does not exist (a try died between store and trigger).
_ABSENT = "absent"


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest, route: Route) -> Any:
    port = SupervisorPort(operator, context)
    if not route.store:
        return run_with_derived_id(request, port)
    # Our hooks come first in the MRO; the mixin contributes execute_resumable() and its store logic.
    job_class = type("ResumableDagRunJob", (DagRunJob, load("ResumableJobMixin")), {"__module__": __name__})
    return job_class(request, port, context["task_state_store"]).execute_resumable(context)


class SupervisorPort(TaskPort):
    """The execution API, through the task's own supervisor channel (no database access)."""

    def dag_run_identity(self) -> str:
        # The Task SDK's DagRun has no id (_contract.ParentKey says why start_date stands in for it).
        start_date = self.context["dag_run"].start_date
        return f"started={start_date.isoformat() if start_date else None}"

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        message = load("TriggerDagRun")(
            dag_id=request.trigger_dag_id, run_id=run_id, reset_dag_run=reset, **request.payload()
        )
        exists = load("ErrorType").DAGRUN_ALREADY_EXISTS
        try:
            response = ask_supervisor(message)
        except load("AirflowRuntimeError") as err:
            if getattr(err.error, "error", None) == exists:
                return False
            raise
        if not isinstance(response, load("ErrorResponse")):
            return True
        if response.error == exists:
            return False
        raise load("AirflowRuntimeError")(response)

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        try:
            state = self.ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        except (load("AirflowRuntimeError"), load("ServerResponseError")) as err:
            if missing_ok and is_not_found(err):
                return None
            raise
        return str(getattr(state, "value", state))


def state_key(trigger_dag_id: str, max_tries: int) -> str:
    """Return the task_state_store key: one per (child DAG, clear) of the parent task instance."""
    return f"{STATE_KEY}@{max_tries}:{trigger_dag_id}"


class DagRunJob:
    """The child DAG run as a ``ResumableJobMixin`` job (3.3+): the run_id is stored *before* the trigger."""

    # So the mixin's window (a crash between submit and store) cannot lose a run.
    def __init__(self, request: TriggerRequest, port: TaskPort, store: Any) -> None:
        self.external_id_key = state_key(request.trigger_dag_id, port.parent_key().max_tries)
        self.durable = True
        self.request = request
        self.port = port
        self.store = store
        self.log = port.log
        self._triggered = self._pushed = self._linked = ""  # the run this try created; the XComs' runs

    def get_job_status(self, external_id: Any, context: Any) -> str:
        state = self.port.dagrun_state(self.request.trigger_dag_id, str(external_id), missing_ok=True)
        return _ABSENT if state is None else state

    def is_job_active(self, status: str) -> bool:
        # An absent run counts as active: its run_id is this task's, and poll_until_complete creates it.
        # (Reported as terminal, the mixin would log "resubmitting fresh", which is not what happens.)
        return status not in self.request.allowed_states + self.request.failed_states

    def is_job_succeeded(self, status: str) -> bool:
        # failed_states first, as in the wait: a state in both lists fails the task.
        return status in self.request.allowed_states and status not in self.request.failed_states

    def submit_job(self, context: Any) -> str:
        stored = self.store.get(self.external_id_key)  # a previous try's run, ended in failed_states
        prior = None if stored is None else str(stored)
        run_id, reset = self._next_run(prior)
        self.store.set(self.external_id_key, run_id)  # before the trigger: no crash can lose the run_id
        self._trigger(run_id, reset, stored_before=run_id == prior)
        return run_id

    def poll_until_complete(self, external_id: Any, context: Any) -> None:
        run_id = str(external_id)
        request = self.request
        if run_id != self._triggered and self.get_job_status(run_id, context) == _ABSENT:
            # A previous try stored this run_id and died before triggering it: trigger it now.
            self.log.info("Stored DAG run %s was never created; triggering it now", run_id)
            self._trigger(run_id, request.reset_dag_run, stored_before=True)
        self._push(run_id)
        if request.wait_for_completion:
            wait_for_run(request, self.port, run_id)

    def get_job_result(self, external_id: Any, context: Any) -> None:
        self._push(str(external_id))

    def _trigger(self, run_id: str, reset: bool, *, stored_before: bool) -> None:
        request = self.request
        check_not_paused(request, self.port)
        self._linked = run_id  # trigger_logged pushes the link first, as stock names the run before
        if self.port.trigger_logged(request, run_id, reset=reset):
            self._triggered = run_id
        elif stored_before:
            self.log.info("DAG run %s already exists: the one this task stored; reconnecting", run_id)
        elif request.run_id_generated and run_id == request.run_id:
            # apache/airflow#66905: the API client retried an ambiguous POST and got 409 for the run it
            # had just created. Only this task can name a run_id made from "now".
            self.log.info("DAG run %s already exists: this try's own trigger, retried; reconnecting", run_id)
        else:
            self.store.delete(self.external_id_key)  # a retry must never adopt someone else's run
            self.port.existing_run(request, run_id)
        self._push(run_id)

    def _next_run(self, prior: str | None) -> tuple[str, bool]:
        """Return the run_id to submit and whether to reset it: a first try, or after a prior run failed."""
        request = self.request
        if prior is None or request.run_id != prior:
            return request.run_id, request.reset_dag_run  # a first try, or a fresh run_id after a failure
        if request.reset_dag_run:
            return prior, True
        status = self.port.dagrun_state(request.trigger_dag_id, prior, missing_ok=True)
        self.port.fail_existing(  # as the runner, on a retry
            f"DAG run {prior!r} of {request.trigger_dag_id!r}, triggered by a previous try, ended "
            f"{status!r}, and its run_id is fixed, so no fresh run can be triggered. Set reset_dag_run=True "
            "to rerun it on retry, or leave trigger_run_id (and logical_date) unset for a fresh run_id."
        )

    def _push(self, run_id: str) -> None:
        """Both XComs name ``run_id``: on a reconnect, the run this task reconnected to."""
        if self._linked != run_id:
            self.port.push_link(run_id)
            self._linked = run_id
        if self._pushed != run_id:
            self.port.push_run_id(run_id)
            self._pushed = run_id

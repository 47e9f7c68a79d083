"""``durable=True``: a retry after a lost worker reconnects to the in-flight child run (docs/durable.md).

Airflow 3.3+ (:class:`DagRunJob`): ``ResumableJobMixin`` keeps the child's run_id in ``task_state_store``,
written *before* the trigger, so the mixin's window (a crash between submit and store) cannot lose a run.
Without a store (:func:`run_without_store`) the run_id is derived from the parent task instance, and
Airflow's unique (dag_id, run_id) turns a retry's trigger into "already exists" for the lost try's run.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._airflow import load
from ._contract import ParentKey, TaskPort, check_not_paused, handle_existing_run, wait_for_run

if TYPE_CHECKING:
    from ._request import TriggerRequest


#: The task_state_store key's prefix. Changing it breaks retries that are in flight during an upgrade.
STATE_KEY = "airflow_trigger_compat.trigger_run_id"
#: Status reported for a stored run_id whose run does not exist (a try died between store and trigger).
_ABSENT = "absent"


def state_key(trigger_dag_id: str, max_tries: int) -> str:
    """The task_state_store key: one per (child DAG, clear) of the parent task instance."""
    return f"{STATE_KEY}@{max_tries}:{trigger_dag_id}"


def derived_run_id(parent: ParentKey, trigger_dag_id: str, generation: int) -> str:
    """The child run_id without a store: the same on every try, new on every clear and ``generation``
    (the fresh runs a parent needs after its child failed: 1, 2, ...)."""
    identity = "\0".join(map(str, (*parent, trigger_dag_id)))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    return f"manual__durable-{digest}-{generation}"


def run_durable(request: TriggerRequest, port: TaskPort, context: Mapping[str, Any], *, store: bool) -> Any:
    """Trigger and wait under ``ResumableJobMixin`` where the registry says a ``task_state_store`` exists."""
    if not store:
        return run_without_store(request, port)
    job = _resumable_job_class()(request, port, context["task_state_store"])
    return job.execute_resumable(context)


class DagRunJob:
    """The child DAG run as a ``ResumableJobMixin`` job (combined with the mixin by :func:`run_durable`)."""

    def __init__(self, request: TriggerRequest, port: TaskPort, store: Any) -> None:
        self.external_id_key = state_key(request.trigger_dag_id, port.parent_key().max_tries)
        self.durable = True
        self.request = request
        self.port = port
        self.store = store
        self.log = port.log
        self._triggered: str | None = None  # the run this try created
        self._pushed: str | None = None
        self._linked: str | None = None

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
        self._link(run_id)  # as stock: the link names the run before the trigger is sent
        self.log.info("Triggering Dag Run. trigger_dag_id=%s run_id=%s", request.trigger_dag_id, run_id)
        if self.port.trigger(request, run_id, reset=reset):
            self._triggered = run_id
            self.log.info("Dag Run triggered successfully. trigger_dag_id=%s", request.trigger_dag_id)
        elif stored_before:
            self.log.info("DAG run %s already exists: the one this task stored; reconnecting", run_id)
        elif request.run_id_generated and run_id == request.run_id:
            # apache/airflow#66905: the API client retried an ambiguous POST and got 409 for the run it
            # had just created. Only this task can name a run_id made from "now".
            self.log.info("DAG run %s already exists: this try's own trigger, retried; reconnecting", run_id)
        else:
            self.store.delete(self.external_id_key)  # a retry must never adopt someone else's run
            handle_existing_run(request, self.port, run_id)
        self._push(run_id)

    def _next_run(self, prior: str | None) -> tuple[str, bool]:
        """The run_id to submit and whether to reset it: a first try, or after a prior run failed."""
        request = self.request
        if prior is None or request.run_id != prior:
            return request.run_id, request.reset_dag_run  # a first try, or a fresh run_id after a failure
        if request.reset_dag_run:
            return prior, True
        status = self.port.dagrun_state(request.trigger_dag_id, prior, missing_ok=True)
        self.log.error("Dag Run already exists, marking task as failed.")  # as the runner, on a retry
        self.port.fail(
            f"DAG run {prior!r} of {request.trigger_dag_id!r}, triggered by a previous try, ended "
            f"{status!r}, and its run_id is fixed, so no fresh run can be triggered. Set reset_dag_run=True "
            "to rerun it on retry, or leave trigger_run_id (and logical_date) unset for a fresh run_id.",
            retry=False,
        )

    def _push(self, run_id: str) -> None:
        """Both XComs name ``run_id``: on a reconnect, the run this task reconnected to."""
        self._link(run_id)
        if self._pushed != run_id:
            self.port.push_run_id(run_id)
            self._pushed = run_id

    def _link(self, run_id: str) -> None:
        if self._linked != run_id:
            self.port.push_link(run_id)
            self._linked = run_id


@functools.cache
def _resumable_job_class() -> type:
    mixin = load("ResumableJobMixin")
    # Our hooks come first in the MRO; the mixin contributes execute_resumable() and its store logic.
    return type("ResumableDagRunJob", (DagRunJob, mixin), {"__module__": __name__})


def run_without_store(request: TriggerRequest, port: TaskPort) -> None:
    """Durable without ``task_state_store`` (a generated run_id): every try names the child run
    :func:`derived_run_id`, so "already exists" is this task's own run (a lost try's, or its own POST
    retried by the API client, apache/airflow#66905); a run that ended in ``failed_states`` makes the next.
    """
    check_not_paused(request, port)
    parent = port.parent_key()
    for generation in itertools.count(1):
        run_id = derived_run_id(parent, request.trigger_dag_id, generation)
        port.push_link(run_id)
        port.log.info("Triggering Dag Run. trigger_dag_id=%s run_id=%s", request.trigger_dag_id, run_id)
        if port.trigger(request, run_id, reset=False):
            port.log.info("Dag Run triggered successfully. trigger_dag_id=%s", request.trigger_dag_id)
            port.push_run_id(run_id)
            if request.wait_for_completion:
                wait_for_run(request, port, run_id)
            return
        state = port.dagrun_state(request.trigger_dag_id, run_id)
        if request.wait_for_completion and state in request.failed_states:
            port.log.info("DAG run %s of this task ended %r; triggering a fresh run", run_id, state)
            continue
        port.log.info("Reconnecting to DAG run %s (%s): this task's own, triggered earlier", run_id, state)
        port.push_run_id(run_id)
        if request.wait_for_completion and state not in request.allowed_states:
            wait_for_run(request, port, run_id)
        return

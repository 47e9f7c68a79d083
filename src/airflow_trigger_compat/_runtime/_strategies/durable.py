"""``durable=True``: the child's run_id kept where a retry finds it, stock's path to trigger, a reconnect."""
# Every try asks first whether the run this task instance keeps exists, through public API only
# (``get_dr_count``, ``get_dagrun_state``; Airflow 2: the ORM). None yet (a first try, or a try that died
# between keeping and triggering): the run_id is kept, then stock's path triggers it and waits exactly as
# for the standard operator (Airflow 3: ``DagRunTriggerException``, the task runner's). Still running: the
# try reconnects and waits in execute(). Ended in an allowed state: it succeeds. Ended in a failed state: a
# fresh run, as stock's retry. docs/durable.md tells the whole story.

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._contract import derived_run_id, wait_for_run
from .._registry import Feature

if TYPE_CHECKING:
    from .._contract import ParentKey, Route, TaskPort
    from .._request import TriggerRequest

__all__ = ["KEEPERS", "STATE_KEY", "execute"]

#: The task_state_store key's prefix. Changing it breaks retries that are in flight during an upgrade.
STATE_KEY = "airflow_trigger_compat.trigger_run_id"


class StoreKeeper:
    """Airflow 3.3+ (task-sdk 1.3, apache/airflow#66160): the run_id in the task's ``task_state_store``."""

    # One key per child DAG and per clear (a clear raises max_tries; a retry keeps it): a cleared task
    # triggers a fresh run, as stock's. After a failed child the next run is the request's own run_id.
    def __init__(self, parent: ParentKey, request: TriggerRequest, context: Mapping[str, Any]) -> None:
        self.store = context["task_state_store"]
        self.key = f"{STATE_KEY}@{parent.max_tries}:{request.trigger_dag_id}"

    def first(self) -> str | None:
        kept = self.store.get(self.key)
        return None if kept is None else str(kept)

    def after_failed(self) -> None:
        return None

    def keep(self, run_id: str) -> None:
        self.store.set(self.key, run_id)


class DerivedKeeper:
    """Before Airflow 3.3 (no store): the run_id derived from the parent task instance (a generated one)."""

    # Nothing to write: every try derives the same run_id; after a failed child, the next generation's.
    def __init__(self, parent: ParentKey, request: TriggerRequest, context: Mapping[str, Any]) -> None:
        self.parent, self.dag_id, self.generation = parent, request.trigger_dag_id, 1

    def first(self) -> str:
        return derived_run_id(self.parent, self.dag_id, self.generation)

    def after_failed(self) -> str:
        self.generation += 1
        return self.first()

    def keep(self, run_id: str) -> None:
        pass  # nothing to write: every try derives it


#: ``Route.keep`` -> where the run_id is kept.
KEEPERS: Mapping[str, type[StoreKeeper | DerivedKeeper]] = {"store": StoreKeeper, "derived": DerivedKeeper}


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest, route: Route) -> Any:
    port: TaskPort = importlib.import_module(f"{__package__}.{route.path}").Port(operator, context)
    keeper = KEEPERS[str(route.keep)](port.parent_key(), request, context)  # the route sets keep for durable
    dag_id = request.trigger_dag_id
    run_id = keeper.first()
    while run_id is not None:
        state = port.run_state(dag_id, run_id)
        if state is None:  # kept, never triggered: a try died in between
            break
        if not (request.wait_for_completion and state in request.failed_states):
            return _reconnect(request, port, run_id, state, route)
        port.log.info("DAG run %s of %s, triggered by an earlier try, ended %s", run_id, dag_id, state)
        run_id = keeper.after_failed()
    if run_id is None:  # a fresh run: the request's run_id, kept unless it names a run this task did not make
        run_id = request.run_id
        if request.run_id_generated or request.reset_dag_run or port.run_state(dag_id, run_id) is None:
            keeper.keep(run_id)
    operator.trigger_run_id = run_id
    trigger = importlib.import_module(f"{__package__}.{route.trigger}")
    return trigger.execute(operator, context, request._replace(run_id=run_id), route)


def _reconnect(request: TriggerRequest, port: TaskPort, run_id: str, state: str, route: Route) -> None:
    """Take up the run an earlier try triggered: stock's XComs, then its wait (inside execute())."""
    port.log.info("Reconnecting to DAG run %s (%s), triggered by an earlier try of this task", run_id, state)
    port.push_link(run_id)
    port.push_run_id(run_id)
    if request.wait_for_completion and state not in request.allowed_states:
        # A child that fails ends the try as the runner would end it (3.0-3.2: without retrying).
        wait_for_run(request, port, run_id, retry=route.selection.supports(Feature.RETRY_ON_FAILED_CHILD))

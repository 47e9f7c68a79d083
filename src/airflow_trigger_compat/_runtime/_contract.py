"""The trigger-and-wait contract every path keeps, and the route one call takes."""
# The rules copy what stock's callers see (on 3.x the runner's ``_handle_trigger_dag_run``): the same log
# lines, XComs, outcomes and error types; each Airflow differs only in its TaskPort.

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from ._airflow import load

if TYPE_CHECKING:
    from ._registry import Selection
    from ._request import TriggerRequest


class Route(NamedTuple):
    """How one call runs, decided once by ``_execute.route``: all the call needs, nothing recomputed."""

    selection: Selection
    #: The ``_strategies`` module of stock's path on this Airflow (``airflow2``, ``runner_exception``): the
    #: path that triggers, also under durable=True.
    path: str
    #: Where durable=True keeps the child's run_id (``durable.KEEPERS``: ``store`` or ``derived``);
    #: ``None``: durable=True is off, or cannot apply here (then ``durable_gap`` says why).
    keep: str | None
    #: The ``_strategies`` module durable=True triggers the kept run_id through: ``path``, or ``accessor``
    #: where the Task SDK has ``ti.trigger_dag_run()`` (apache/airflow#69135).
    trigger: str
    durable_gap: str | None

    @property
    def leaf(self) -> str:
        """The ``_strategies`` module that runs the call: ``durable`` if a run_id is kept, else ``path``."""
        return "durable" if self.keep else self.path


class ParentKey(NamedTuple):
    """The parent task instance; ``dag_run`` tells apart two DAG runs under one run_id."""

    # max_tries tells a user's clear (which raises it) from a retry. Why each part is stable: docs/durable.md.
    dag_id: str
    run_id: str
    dag_run: str
    task_id: str
    map_index: int
    max_tries: int


class TaskPort:
    """What the contract needs from the running Airflow, seen from the task; outcomes are Airflow's errors."""

    # The Task SDK's public API (Airflow 3): ``RuntimeTaskInstance``'s accessors and the task's context;
    # ``airflow2.OrmPort`` overrides it with the ORM.
    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        self.operator = operator
        self.context = context
        self.ti: Any = context.get("task_instance") or context.get("ti")
        self.log: Any = operator.log

    def dagrun_state(self, dag_id: str, run_id: str) -> str:
        """Return the child run's state; a missing run raises Airflow's error, as in stock's wait."""
        state = self.ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        return str(getattr(state, "value", state))

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """Return the run's state, or ``None`` when no such run exists (``get_dr_count``: no 404 to read)."""
        if not self.ti.get_dr_count(dag_id=dag_id, run_ids=[run_id]):
            return None
        return self.dagrun_state(dag_id, run_id)

    def dag_run_identity(self) -> str:
        """Tell apart two DAG runs that share a run_id (ParentKey)."""
        # The Task SDK's DagRun has no id; its start_date stands in (docs/durable.md says why it is stable).
        start_date = self.context["dag_run"].start_date
        return f"started={start_date.isoformat() if start_date else None}"

    def dag_is_paused(self, dag_id: str) -> bool:  # task-sdk 1.2: GetDag
        return bool(self.ti.get_dag(dag_id).is_paused)

    def push_link(self, run_id: str) -> None:
        """Push the "Triggered DAG" link XCom, as the standard operator does on Airflow 3 (since 1.15.0)."""
        if self.ti is None or not hasattr(self.ti, "xcom_push"):
            return
        try:
            url = load("build_airflow_dagrun_url")(dag_id=self.operator.trigger_dag_id, run_id=run_id)
            self.ti.xcom_push(key=load("TriggerDagRunLink")().xcom_key, value=url)
        except (ImportError, AttributeError, KeyError, TypeError, AssertionError) as err:  # as stock
            self.log.debug("Skipping TriggerDagRunLink XCom push due to mock or incomplete context: %s", err)

    def parent_key(self) -> ParentKey:
        ti = self.ti
        map_index = getattr(ti, "map_index", None)
        return ParentKey(
            str(ti.dag_id),
            str(ti.run_id),
            self.dag_run_identity(),
            str(ti.task_id),
            -1 if map_index is None else int(map_index),
            int(getattr(ti, "max_tries", 0) or 0),
        )

    def push_run_id(self, run_id: str) -> None:
        # The XCom feeds the link, the attribute listeners; after a reconnect both name that run.
        self.ti.xcom_push(key=load("XCOM_RUN_ID"), value=run_id)
        self.operator.trigger_run_id = run_id

    def log_waiting(self, request: TriggerRequest, run_id: str) -> None:
        self.log.info(
            "Waiting for %s on %s to reach an allowed state %s",
            request.trigger_dag_id,
            run_id,
            list(request.allowed_states),
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def paused(self, dag_id: str) -> NoReturn:
        raise load("DagIsPaused")(dag_id=dag_id)

    def child_failed(self, dag_id: str, state: str, *, retry: bool) -> NoReturn:
        """Fail for a child run ended in ``failed_states``: the 3.x runner's log line, then its outcome."""
        # ``retry``: the runner's own (3.3+ retries, apache/airflow#68254; 3.0-3.2 fails without retrying).
        self.log.error("DagRun finished with failed state.")
        error = load("AirflowException" if retry else "AirflowFailException")
        raise error(f"{dag_id} failed with failed state {state}")


def check_not_paused(request: TriggerRequest, port: TaskPort) -> None:
    if request.fail_when_dag_is_paused and port.dag_is_paused(request.trigger_dag_id):
        port.paused(request.trigger_dag_id)


def wait_for_run(request: TriggerRequest, port: TaskPort, run_id: str, *, retry: bool = True) -> str:
    """Poll the child run until it reaches an allowed or a failed state (a deleted run raises, as stock)."""
    # ``retry``: whether a child ended in failed_states leaves the task its retries (TaskPort.child_failed).
    while True:
        port.log_waiting(request, run_id)
        port.sleep(request.poke_interval)
        state = port.dagrun_state(request.trigger_dag_id, run_id)
        # failed_states first, as stock: a state in both lists fails the task.
        if state in request.failed_states:
            port.child_failed(request.trigger_dag_id, str(state), retry=retry)
        if state in request.allowed_states:
            port.log.info("%s finished with allowed state %s", request.trigger_dag_id, state)
            return str(state)


def derived_run_id(parent: ParentKey, trigger_dag_id: str, generation: int) -> str:
    """Return the child run_id without a store: the same on every try, new per clear and ``generation``."""
    # ``generation``: the fresh runs a parent needs after its child failed (1, 2, ...).
    identity = "\0".join(map(str, (*parent, trigger_dag_id)))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    return f"manual__durable-{digest}-{generation}"

"""The trigger-and-wait contract every path keeps, and the route one call takes."""
# The rules copy what stock's callers see (on 3.x the runner's ``_handle_trigger_dag_run``): the same log
# lines, XComs, outcomes and error types; each Airflow differs only in its TaskPort.

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from ._airflow import load

if TYPE_CHECKING:
    from ._registry import Selection
    from ._request import TriggerRequest


class Route(NamedTuple):
    """How one call runs, decided once by ``_execute.route``: the ``_strategies`` module that runs it."""

    # Whether durable=True applies, keeping the child's run_id in ``task_state_store`` (``store``) or deriving
    # it (derived_run_id); and why durable=True asked for cannot apply (it then runs as stock).
    selection: Selection
    strategy: str
    durable: bool
    store: bool
    durable_gap: str | None


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

    # The defaults are the Task SDK's (Airflow 3); ``airflow2.OrmPort`` overrides them.
    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        self.operator = operator
        self.context = context
        self.ti: Any = context.get("task_instance") or context.get("ti")
        self.log: Any = operator.log

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """Create (or, with ``reset``, clear and rerun) the child run; ``False`` if it already exists."""
        raise NotImplementedError

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        """Return the child run's state; a missing run raises Airflow's error (``missing_ok``: ``None``)."""
        raise NotImplementedError

    def dag_run_identity(self) -> str:  # tells apart two DAG runs that share a run_id (ParentKey)
        raise NotImplementedError

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

    def skip(self, message: str) -> NoReturn:
        raise load("AirflowSkipException")(message)

    def fail(self, message: str, *, retry: bool) -> NoReturn:
        """Fail the task; ``retry=True`` lets retries and ``retry_policy`` apply."""
        raise load("AirflowException" if retry else "AirflowFailException")(message)

    def paused(self, dag_id: str) -> NoReturn:
        raise load("DagIsPaused")(dag_id=dag_id)

    def child_failed(self, dag_id: str, state: str) -> NoReturn:
        """Fail for a child run ended in ``failed_states``: the 3.x runner's log line, then its error."""
        self.log.error("DagRun finished with failed state.")
        self.fail(f"{dag_id} failed with failed state {state}", retry=True)

    def existing_run(self, request: TriggerRequest, run_id: str) -> NoReturn:
        """Skip, or fail without retry, as the 3.x runner: a run this task cannot claim holds ``run_id``."""
        if request.skip_when_already_exists:
            self.log.info("Dag Run already exists, skipping task as skip_when_already_exists is set to True.")
            self.skip(
                f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists; "
                "skipping because skip_when_already_exists=True."
            )
        self.fail_existing(
            f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists. Set reset_dag_run=True to "
            "clear and rerun it, skip_when_already_exists=True to skip, or leave trigger_run_id unset."
        )

    def fail_existing(self, message: str) -> NoReturn:
        self.log.error("Dag Run already exists, marking task as failed.")  # the runner's line
        self.fail(message, retry=False)

    def trigger_logged(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """:meth:`trigger` between the runner's log lines (and the link first, as stock's)."""
        self.push_link(run_id)
        self.log.info("Triggering Dag Run. trigger_dag_id=%s run_id=%s", request.trigger_dag_id, run_id)
        if not self.trigger(request, run_id, reset=reset):
            return False
        self.log.info("Dag Run triggered successfully. trigger_dag_id=%s", request.trigger_dag_id)
        return True


def check_not_paused(request: TriggerRequest, port: TaskPort) -> None:
    if request.fail_when_dag_is_paused and port.dag_is_paused(request.trigger_dag_id):
        port.paused(request.trigger_dag_id)


def wait_for_run(request: TriggerRequest, port: TaskPort, run_id: str) -> str:
    """Poll the child run until it reaches an allowed or a failed state (a deleted run raises, as stock)."""
    while True:
        port.log_waiting(request, run_id)
        port.sleep(request.poke_interval)
        state = port.dagrun_state(request.trigger_dag_id, run_id)
        # failed_states first, as stock: a state in both lists fails the task.
        if state in request.failed_states:
            port.child_failed(request.trigger_dag_id, str(state))
        if state in request.allowed_states:
            port.log.info("%s finished with allowed state %s", request.trigger_dag_id, state)
            return str(state)


def derived_run_id(parent: ParentKey, trigger_dag_id: str, generation: int) -> str:
    """Return the child run_id without a store: the same on every try, new per clear and ``generation``."""
    # ``generation``: the fresh runs a parent needs after its child failed (1, 2, ...).
    identity = "\0".join(map(str, (*parent, trigger_dag_id)))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    return f"manual__durable-{digest}-{generation}"


def run_with_derived_id(request: TriggerRequest, port: TaskPort) -> None:
    """Run durable=True without ``task_state_store``: every try names the child run :func:`derived_run_id`."""
    # With a generated run_id. So "already exists" is this task's own run (a lost try's, or its own POST
    # retried by the API client, apache/airflow#66905); a run that ended in ``failed_states`` makes the next.
    check_not_paused(request, port)
    parent = port.parent_key()
    for generation in itertools.count(1):
        run_id = derived_run_id(parent, request.trigger_dag_id, generation)
        if port.trigger_logged(request, run_id, reset=False):
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

"""The trigger-and-wait contract where the operator owns its execution (``durable=True``).

The rules copy what stock's callers see (on 3.x the runner's ``_handle_trigger_dag_run``): the same log
lines, XComs, outcomes and error types; each Airflow differs only in its :class:`TaskPort` (``_ports``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from ._airflow import load

if TYPE_CHECKING:
    from ._request import TriggerRequest


#: The XCom key the standard operator (and the runner) push the child's run_id under.
XCOM_RUN_ID = "trigger_run_id"


class ParentKey(NamedTuple):
    """The parent task instance; ``dag_run`` tells apart two DAG runs under one run_id, ``max_tries`` a
    user's clear (which raises it) from a retry. Why each part is stable: docs/durable.md.
    """

    dag_id: str
    run_id: str
    dag_run: str
    task_id: str
    map_index: int
    max_tries: int


class TaskPort:
    """What the contract needs from the running Airflow, seen from the task; outcomes are Airflow's errors."""

    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        self.operator = operator
        self.context = context
        self.ti: Any = context.get("task_instance") or context.get("ti")
        self.log: Any = operator.log

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """Create (or, with ``reset``, clear and rerun) the child run; ``False`` if it already exists."""
        raise NotImplementedError

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        """The child run's state; a missing run raises Airflow's own error (``None`` with ``missing_ok``)."""
        raise NotImplementedError

    def dag_is_paused(self, dag_id: str) -> bool:
        raise NotImplementedError

    def push_link(self, run_id: str) -> None:
        raise NotImplementedError

    def dag_run_identity(self) -> str:
        """Tells apart two DAG runs that share a run_id (:class:`ParentKey`)."""
        raise NotImplementedError

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
        # The XCom feeds the "Triggered DAG" link; the attribute is what listeners read. After a durable
        # reconnect both name the run the task reconnected to, not the run_id this try generated.
        self.ti.xcom_push(key=XCOM_RUN_ID, value=run_id)
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
        """The child run ended in ``failed_states``: the 3.x runner's log line, then its error."""
        self.log.error("DagRun finished with failed state.")
        self.fail(f"{dag_id} failed with failed state {state}", retry=True)

    def existing_run(self, request: TriggerRequest, run_id: str) -> NoReturn:
        """A run this task cannot claim holds ``run_id``: skip or fail as stock does on this Airflow."""
        handle_existing_run(request, self, run_id)


def check_not_paused(request: TriggerRequest, port: TaskPort) -> None:
    if request.fail_when_dag_is_paused and port.dag_is_paused(request.trigger_dag_id):
        port.paused(request.trigger_dag_id)


def handle_existing_run(request: TriggerRequest, port: TaskPort, run_id: str) -> NoReturn:
    """The run exists and ``reset_dag_run`` is off: skip, or fail without retry, as the 3.x runner does."""
    if request.skip_when_already_exists:
        port.log.info("Dag Run already exists, skipping task as skip_when_already_exists is set to True.")
        port.skip(
            f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists; "
            "skipping because skip_when_already_exists=True."
        )
    port.log.error("Dag Run already exists, marking task as failed.")
    port.fail(
        f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists. Set reset_dag_run=True to "
        "clear and rerun it, skip_when_already_exists=True to skip, or leave trigger_run_id unset.",
        retry=False,
    )


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

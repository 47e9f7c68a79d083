"""The trigger-and-wait contract, written once for every path where the operator owns execution.

The Airflow-3.3 accessor path and the Airflow-2.11 ORM path both run :func:`trigger_and_wait`; they
differ only in their :class:`TaskPort`, the thin adapter to what the running Airflow lets a task do.
On 3.0 to 3.2 the task runner owns this contract (``task_runner._handle_trigger_dag_run``); the rules
below copy its observable behaviour, so a parent task ends the same way on every version.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from ._airflow import load

if TYPE_CHECKING:
    from ._request import TriggerRequest

__all__ = [
    "AirflowPortBase",
    "TaskPort",
    "check_not_paused",
    "handle_existing_run",
    "trigger_and_wait",
    "wait_for_run",
]

#: The XCom key the standard operator (and the runner) push the child's run_id under.
XCOM_RUN_ID = "trigger_run_id"


class TaskPort(Protocol):
    """What a strategy needs from the running Airflow, as seen from inside the task."""

    log: Any

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """Create (or, with ``reset``, clear and rerun) the child run; ``False`` if it already exists."""

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        """The child run's state, or ``None`` if no such run exists."""

    def dag_is_paused(self, dag_id: str) -> bool: ...

    def push_run_id(self, run_id: str) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def skip(self, message: str) -> NoReturn: ...

    def fail(self, message: str, *, retry: bool) -> NoReturn:
        """Fail the task; ``retry=True`` lets retries and ``retry_policy`` apply."""

    def paused(self, dag_id: str) -> NoReturn: ...

    def defer(self, request: TriggerRequest, run_id: str) -> NoReturn: ...


class AirflowPortBase:
    """What every real port shares: outcomes are Airflow's own exceptions, the XCom is the standard one."""

    operator: Any
    ti: Any
    log: Any

    def push_run_id(self, run_id: str) -> None:
        # The XCom feeds the "Triggered DAG" link; the attribute is what listeners read. After a durable
        # reconnect both name the run the task reconnected to, not the run_id this try generated.
        self.ti.xcom_push(key=XCOM_RUN_ID, value=run_id)
        self.operator.trigger_run_id = run_id

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def skip(self, message: str) -> NoReturn:
        raise load("AirflowSkipException")(message)

    def fail(self, message: str, *, retry: bool) -> NoReturn:
        raise load("AirflowException" if retry else "AirflowFailException")(message)

    def paused(self, dag_id: str) -> NoReturn:
        raise load("DagIsPaused")(dag_id=dag_id)


def check_not_paused(request: TriggerRequest, port: TaskPort) -> None:
    if request.fail_when_dag_is_paused and port.dag_is_paused(request.trigger_dag_id):
        port.paused(request.trigger_dag_id)


def handle_existing_run(request: TriggerRequest, port: TaskPort, run_id: str) -> NoReturn:
    """The run already exists and ``reset_dag_run`` is off: skip or fail, as the task runner does."""
    if request.skip_when_already_exists:
        port.skip(
            f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists; "
            "skipping because skip_when_already_exists=True."
        )
    # Retrying cannot help while the run exists, so (like the runner) this failure does not retry.
    port.fail(
        f"DAG run {run_id!r} of {request.trigger_dag_id!r} already exists. Set reset_dag_run=True to "
        "clear and rerun it, skip_when_already_exists=True to skip, or leave trigger_run_id unset.",
        retry=False,
    )


def wait_for_run(request: TriggerRequest, port: TaskPort, run_id: str) -> str:
    """Poll the child run every ``poke_interval`` until it reaches an allowed or a failed state."""
    while True:
        port.log.info(
            "Waiting for %s on %s to reach an allowed state %s",
            request.trigger_dag_id,
            run_id,
            list(request.allowed_states),
        )
        port.sleep(request.poke_interval)
        state = port.dagrun_state(request.trigger_dag_id, run_id)
        if state in request.failed_states:
            port.fail(f"{request.trigger_dag_id} failed with failed state {state}", retry=True)
        if state in request.allowed_states:
            port.log.info("%s finished with allowed state %s", request.trigger_dag_id, state)
            return state


def trigger_and_wait(request: TriggerRequest, port: TaskPort) -> None:
    """Trigger the child run, push its run_id, and wait for it when asked to."""
    check_not_paused(request, port)
    if not port.trigger(request, request.run_id, reset=request.reset_dag_run):
        handle_existing_run(request, port, request.run_id)
    port.push_run_id(request.run_id)
    if not request.wait_for_completion:
        return
    if request.deferrable:
        port.defer(request, request.run_id)
    wait_for_run(request, port, request.run_id)

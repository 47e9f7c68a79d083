"""The trigger-and-wait contract, for the paths where the operator owns its execution (``durable=True``).

Each such path differs only in its :class:`TaskPort`, the thin adapter to what the running Airflow lets a
task do. The rules copy the observable behaviour of the task runner's ``_handle_trigger_dag_run`` (3.3),
which is what the standard operator's callers see: the same log lines, XComs, outcomes and error types.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from ._airflow import load

if TYPE_CHECKING:
    from ._request import TriggerRequest

__all__ = ["AirflowPortBase", "TaskPort", "check_not_paused", "handle_existing_run", "wait_for_run"]

#: The XCom key the standard operator (and the runner) push the child's run_id under.
XCOM_RUN_ID = "trigger_run_id"


class TaskPort(Protocol):
    """What the contract needs from the running Airflow, as seen from inside the task."""

    log: Any

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """Create (or, with ``reset``, clear and rerun) the child run; ``False`` if it already exists."""

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        """The child run's state; a missing run raises Airflow's own error (``None`` with ``missing_ok``)."""

    def dag_is_paused(self, dag_id: str) -> bool: ...

    def push_link(self, run_id: str) -> None: ...

    def push_run_id(self, run_id: str) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def skip(self, message: str) -> NoReturn: ...

    def fail(self, message: str, *, retry: bool) -> NoReturn:
        """Fail the task; ``retry=True`` lets retries and ``retry_policy`` apply."""

    def paused(self, dag_id: str) -> NoReturn: ...


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
    """The run exists and ``reset_dag_run`` is off: skip, or fail without retry, as the runner does."""
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
    """Poll the child run every ``poke_interval`` until it reaches an allowed or a failed state.

    A run deleted meanwhile raises Airflow's own "not found" error from the poll, as in the runner, so the
    task fails and retries apply (it never waits on a run that is gone).
    """
    while True:
        port.log.info(
            "Waiting for %s on %s to reach an allowed state %s",
            request.trigger_dag_id,
            run_id,
            list(request.allowed_states),
        )
        port.sleep(request.poke_interval)
        state = port.dagrun_state(request.trigger_dag_id, run_id)
        # failed_states first, as the runner: a state in both lists fails the task.
        if state in request.failed_states:
            port.fail(f"{request.trigger_dag_id} failed with failed state {state}", retry=True)
        if state in request.allowed_states:
            port.log.info("%s finished with allowed state %s", request.trigger_dag_id, state)
            return str(state)

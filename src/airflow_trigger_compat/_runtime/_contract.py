"""The trigger-and-wait contract, for the paths where the operator owns its execution (``durable=True``).

Each such path differs only in its :class:`TaskPort` (``_ports``), the thin adapter to what the running
Airflow lets a task do. The rules copy what the standard operator's callers see there (on 3.x the task
runner's ``_handle_trigger_dag_run``): the same log lines, XComs, outcomes and error types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, Protocol

if TYPE_CHECKING:
    from ._request import TriggerRequest


#: The XCom key the standard operator (and the runner) push the child's run_id under.
XCOM_RUN_ID = "trigger_run_id"


class ParentKey(NamedTuple):
    """The parent task instance, plus what tells its DAG run and a user's clear apart from a retry.

    ``dag_run``: which DAG run holds the task. A DAG run deleted and created again under the same run_id
    (the REST API, ``airflow dags test``, a re-run backfill) is another run, whose task triggers its own
    child. Airflow 2.11: the DagRun row's id (the old run's child row was made after it, so SQLite cannot
    hand that id out again while the child exists). 3.0-3.2: the run's ``start_date``, the only per-run
    value the Task SDK's ``DagRun`` carries: set when the scheduler starts the run, kept while it runs (a
    clear resets it only for a finished run, which raises ``max_tries`` too); ``dag.test()`` sets it to the
    logical date (``_differences``: ``durable-recreated-by-dag-test``).

    ``max_tries``: Airflow's ``clear_task_instances`` sets it to ``try_number + retries`` for every task it
    clears that is not running (2.11 and every 3.x), so it changes on each clear; a retry leaves it alone.
    A task cleared *while running* keeps it: its rerun is a retry here
    (``_differences``: ``durable-clear-while-waiting-reconnects``).
    """

    dag_id: str
    run_id: str
    dag_run: str
    task_id: str
    map_index: int
    max_tries: int


class TaskPort(Protocol):
    """What the contract needs from the running Airflow, as seen from inside the task."""

    log: Any

    def parent_key(self) -> ParentKey: ...

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        """Create (or, with ``reset``, clear and rerun) the child run; ``False`` if it already exists."""

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        """The child run's state; a missing run raises Airflow's own error (``None`` with ``missing_ok``)."""

    def dag_is_paused(self, dag_id: str) -> bool: ...

    def push_link(self, run_id: str) -> None: ...

    def push_run_id(self, run_id: str) -> None: ...

    def log_waiting(self, request: TriggerRequest, run_id: str) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def skip(self, message: str) -> NoReturn: ...

    def fail(self, message: str, *, retry: bool) -> NoReturn:
        """Fail the task; ``retry=True`` lets retries and ``retry_policy`` apply."""

    def paused(self, dag_id: str) -> NoReturn: ...

    def child_failed(self, dag_id: str, state: str) -> NoReturn:
        """The child run ended in ``failed_states``: fail the try (retries apply) as stock does here."""

    def existing_run(self, request: TriggerRequest, run_id: str) -> NoReturn:
        """A run this task cannot claim holds ``run_id``: skip or fail as stock does on this Airflow."""


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
    """Poll the child run every ``poke_interval`` until it reaches an allowed or a failed state.

    A run deleted meanwhile raises Airflow's own "not found" error from the poll, as stock's wait does, so
    the task fails and retries apply (it never waits on a run that is gone).
    """
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

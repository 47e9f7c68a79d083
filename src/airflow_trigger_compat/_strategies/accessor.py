"""Airflow 3.3+: with ``durable=True`` the operator owns its execution.

It triggers through the execution API (:mod:`.._accessor`), polls with ``ti.get_dagrun_state`` and runs
under Airflow's ``ResumableJobMixin`` (:mod:`.._durable`). Without ``durable``, and for a deferrable wait
(the triggerer already survives a worker's loss), it takes the standard operator's own path on 3.3:
``DagRunTriggerException``, with the runner waiting outside ``execute()`` (so ``execution_timeout`` bounds
the trigger only, never the wait).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _accessor
from .._contract import AirflowPortBase
from . import runner_exception

if TYPE_CHECKING:
    from .._request import TriggerRequest

__all__ = ["SupervisorPort", "check", "execute", "execute_durable"]

check = runner_exception.check_payload  # 3.3's runner retries a refused payload: refuse it before


class SupervisorPort(AirflowPortBase):
    """:class:`.._contract.TaskPort` over the task's supervisor channel (no database access)."""

    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        self.operator = operator
        self.context = context
        self.ti = context.get("task_instance") or context.get("ti")
        self.log = operator.log

    def dag_run_identity(self) -> str:
        # The Task SDK's DagRun has no id (_contract.ParentKey says why start_date stands in for it).
        start_date = self.context["dag_run"].start_date
        return f"started={start_date.isoformat() if start_date else None}"

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        # Looked up on the module each call: it is the seam tests use to crash in the right place.
        return _accessor.trigger_dag_run(
            self.ti,
            dag_id=request.trigger_dag_id,
            run_id=run_id,
            conf=request.conf,
            logical_date=request.logical_date,
            run_after=request.run_after,
            note=request.note,
            reset_dag_run=reset,
        )

    def dagrun_state(self, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
        return _accessor.dagrun_state(self.ti, dag_id, run_id, missing_ok=missing_ok)

    def dag_is_paused(self, dag_id: str) -> bool:
        return bool(self.context["ti"].get_dag(dag_id).is_paused)

    def push_link(self, run_id: str) -> None:
        runner_exception.push_link(self.operator, self.context, run_id)


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> Any:
    if request.durable and not (request.deferrable and request.wait_for_completion):
        return execute_durable(operator, context, request)
    runner_exception.raise_for_runner(operator, context, request)


def execute_durable(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> Any:
    """The operator's own trigger and wait through the supervisor channel (every 3.x; the store from 3.3)."""
    from .._durable import run_durable

    return run_durable(request, SupervisorPort(operator, context), context)

"""Airflow 3.3+: the operator owns its execution.

It triggers through the execution API (:mod:`.._accessor`), polls with ``ti.get_dagrun_state`` and,
with ``durable=True``, runs under Airflow's ``ResumableJobMixin`` (:mod:`.._durable`). The wait of a
deferrable task needs the triggerer, so ``deferrable=True`` keeps the ``DagRunTriggerException`` path
(as apache/airflow#69135 does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from .. import _accessor
from .._contract import AirflowPortBase, trigger_and_wait
from . import runner_exception

if TYPE_CHECKING:
    from .._request import TriggerRequest

__all__ = ["SupervisorPort", "execute"]


class SupervisorPort(AirflowPortBase):
    """:class:`.._contract.TaskPort` over the task's supervisor channel (no database access)."""

    def __init__(self, operator: Any, context: Mapping[str, Any]) -> None:
        self.operator = operator
        self.ti = context["ti"]
        self.log = operator.log

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

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        return _accessor.dagrun_state(self.ti, dag_id, run_id)

    def dag_is_paused(self, dag_id: str) -> bool:
        return bool(self.ti.get_dag(dag_id).is_paused)

    def defer(self, request: TriggerRequest, run_id: str) -> NoReturn:  # pragma: no cover - routed away
        raise AssertionError("deferrable waits take the DagRunTriggerException path on Airflow 3")


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> Any:
    if request.deferrable and request.wait_for_completion:
        return runner_exception.execute(operator, context, request)
    port = SupervisorPort(operator, context)
    runner_exception.push_link(context, request)
    if request.durable:
        from .._durable import run_durable

        return run_durable(request, port, context)
    return trigger_and_wait(request, port)

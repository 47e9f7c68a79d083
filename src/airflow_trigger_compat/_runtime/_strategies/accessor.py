"""Airflow 3.3+: the standard operator's path is 3.0-3.2's; ``durable=True`` gets a task state store.

Without ``durable`` (and for a deferrable wait, which the triggerer already survives) the operator raises
``DagRunTriggerException`` as the released standard operator does on 3.3: the runner waits outside
``execute()``, so ``execution_timeout`` bounds the trigger only, never the wait. With ``durable`` the
operator triggers through the execution API and polls itself (``_ports.SupervisorPort``), under Airflow's
``ResumableJobMixin`` with the child's run_id in ``task_state_store`` (``_durable``).
"""

from __future__ import annotations

from .._errors import refuse_early as refuse
from .._ports import SupervisorPort as Port
from .runner_exception import check
from .runner_exception import raise_for_runner as execute

__all__ = ["Port", "check", "execute", "refuse"]  # the StrategyModule protocol

# refuse: 3.3's runner would retry a payload it refuses, so the package fails the task first.

"""Airflow 3.3+: stock's path is 3.0-3.2's; ``durable=True`` keeps the run_id in ``task_state_store``.

Bad input fails the task at once (``refuse_early``): 3.3's runner would retry a payload it refuses.
"""

from __future__ import annotations

from .._errors import refuse_early as refuse
from .._ports import SupervisorPort as Port
from .runner_exception import check
from .runner_exception import raise_for_runner as execute

__all__ = ["Port", "check", "execute", "refuse"]  # the StrategyModule protocol

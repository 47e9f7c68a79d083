"""The drop-in operator: the standard provider's ``TriggerDagRunOperator`` plus ``durable``.

Importing this module imports Airflow; the package's ``__init__`` only does so on first access to
``airflow_trigger_compat.TriggerDagRunOperator``.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import (
    TriggerDagRunOperator as _StandardTriggerDagRunOperator,
)

from ._execute import check_arguments, execute_trigger

__all__ = ["TriggerDagRunOperator"]


class TriggerDagRunOperator(_StandardTriggerDagRunOperator):  # type: ignore[misc]
    """``TriggerDagRunOperator`` that runs the right way on Airflow 2.11, 3.0-3.2 and 3.3+.

    :param durable: on Airflow 3.3+ (and ``deferrable=False``), keep the child's run_id in
        ``task_state_store`` so a retry after a worker crash reconnects to the child run instead of
        triggering a second one. Elsewhere it warns once and has no effect. Default ``False``.

    Every other argument is the standard operator's.
    """

    def __init__(self, *, durable: bool = False, **kwargs: Any) -> None:
        # The standard operator's own checks first, so a DAG it refuses fails with its error; then ours.
        super().__init__(**kwargs)
        check_arguments({"durable": durable, **kwargs})
        self.durable = durable

    def execute(self, context: Any) -> Any:
        return execute_trigger(self, context)

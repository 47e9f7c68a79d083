"""The provider's ``TriggerDagRunOperator``: the standard provider's, run through the vendored package.

This is the shape ``docs/maintainers.md`` recommends: the provider keeps its operator class and its
arguments, and hands ``execute`` to ``execute_trigger`` from its own ``_vendor`` copy.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import (
    TriggerDagRunOperator as _StandardTriggerDagRunOperator,
)

from ._vendor.airflow_trigger_compat import check_arguments, execute_trigger

__all__ = ["TriggerDagRunOperator"]


class TriggerDagRunOperator(_StandardTriggerDagRunOperator):
    """The standard operator plus ``durable``; ``execute`` goes through the vendored package."""

    def __init__(self, *, durable: bool = False, **kwargs: Any) -> None:
        # The package's construction-time checks: a bad value or a flag this Airflow cannot honour fails
        # when the DAG is parsed, not when the task runs.
        check_arguments({"durable": durable, **kwargs})
        super().__init__(**kwargs)
        self.durable = durable

    def execute(self, context: Any) -> Any:
        return execute_trigger(self, context)

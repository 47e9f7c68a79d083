"""The drop-in operator: the standard provider's ``TriggerDagRunOperator`` plus ``durable``.

Importing this module imports Airflow; the package's ``__init__`` only does so on first access to
``airflow_trigger_compat.TriggerDagRunOperator``.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import (
    TriggerDagRunOperator as _StandardTriggerDagRunOperator,
)
from typing_extensions import override

from ._differences import PROVIDER_PARAMETERS, ProviderParameterWarning
from ._runtime import check_arguments, execute_trigger

__all__ = ["TriggerDagRunOperator"]


#: The parameters the installed standard operator lacks (an older providers-standard): taken here instead.
_MISSING_IN_PROVIDER = frozenset(PROVIDER_PARAMETERS) - frozenset(
    inspect.signature(_StandardTriggerDagRunOperator.__init__).parameters
)


def _provider_version() -> str:
    try:
        from airflow.providers.standard import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - every providers-standard release has __version__
        return "?"


class TriggerDagRunOperator(_StandardTriggerDagRunOperator):  # type: ignore[misc]
    """``TriggerDagRunOperator`` that runs the right way on Airflow 2.11, 3.0-3.2 and 3.3+.

    :param durable: keep the child's run_id (3.3+: in ``task_state_store``; below: derived from the
        parent task instance) so a retry after a worker crash reconnects to the child run instead of
        triggering a second one; ``deferrable=False`` and a generated run_id, otherwise it warns and runs
        as the standard operator. Default ``False``.

    Every other argument is the standard operator's, also where the installed apache-airflow-providers-
    standard predates it (``PROVIDER_PARAMETERS``): the package applies it itself and warns.
    """

    def __init__(self, *, durable: bool = False, **kwargs: Any) -> None:
        own = {name: kwargs.pop(name) for name in _MISSING_IN_PROVIDER if name in kwargs}
        # The standard operator's own checks first, so a DAG it refuses fails with its error; then only what
        # it does not check (the parameters it lacks included).
        super().__init__(**kwargs)
        check_arguments({"durable": durable, "trigger_dag_id": kwargs.get("trigger_dag_id"), **own})
        for name, value in own.items():
            since = PROVIDER_PARAMETERS[name].since
            warnings.warn(
                f"{name}={value!r}: the installed apache-airflow-providers-standard {_provider_version()} "
                f"has no {name!r} parameter (added in {since}); airflow-trigger-compat applies it itself. "
                f"The stock operator of this provider refuses it; upgrade the provider to >={since} to "
                "silence this warning.",
                ProviderParameterWarning,
                stacklevel=2,
            )
            setattr(self, name, value)
        self.durable = durable
        if not hasattr(self, "deferrable"):  # providers-standard <= 1.10.0 (apache/airflow#58925)
            self.deferrable = self._defer

    @override
    def execute(self, context: Any) -> Any:
        return execute_trigger(self, context)

"""The drop-in operator: the standard provider's ``TriggerDagRunOperator`` plus ``durable``.

Importing this module imports Airflow; the package's ``__init__`` only does so on first access to
``airflow_trigger_compat.TriggerDagRunOperator``.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

from airflow.providers.standard import __version__ as _provider_version
from airflow.providers.standard.operators.trigger_dagrun import (
    TriggerDagRunOperator as _StandardTriggerDagRunOperator,
)
from packaging.version import Version
from typing_extensions import override

from ._differences import PROVIDER_FIXES, PROVIDER_PARAMETERS, ProviderParameterWarning
from ._runtime import check_arguments, execute_trigger

__all__ = ["TriggerDagRunOperator"]


#: The parameters the installed standard operator lacks (an older providers-standard): taken here instead.
_MISSING_IN_PROVIDER = frozenset(PROVIDER_PARAMETERS) - frozenset(
    inspect.signature(_StandardTriggerDagRunOperator.__init__).parameters
)
#: What the installed operator's ``__init__`` does not check, so ``check_arguments`` does: the parameters
#: it lacks, and before providers-standard 1.9.1 the paused flag on Airflow 3.0/3.1.
_UNCHECKED = _MISSING_IN_PROVIDER | frozenset(
    ["fail_when_dag_is_paused"]
    if Version(_provider_version) < Version(PROVIDER_FIXES["paused-flag-refused-before-3-2"].since)
    else []
)


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
        # it does not check.
        super().__init__(**kwargs)
        unchecked = {name: value for name, value in {**kwargs, **own}.items() if name in _UNCHECKED}
        check_arguments({"durable": durable, "trigger_dag_id": kwargs.get("trigger_dag_id"), **unchecked})
        for name, value in own.items():
            since = PROVIDER_PARAMETERS[name].since
            warnings.warn(
                f"{name}={value!r}: the installed apache-airflow-providers-standard {_provider_version} "
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

"""Run Airflow's ``TriggerDagRunOperator`` the right way on Airflow 2.11, 3.0-3.2 and 3.3+.

>>> from airflow_trigger_compat import TriggerDagRunOperator  # doctest: +SKIP
>>> TriggerDagRunOperator(task_id="t", trigger_dag_id="child", wait_for_completion=True, durable=True)

or, from a provider's own operator::

    from ._vendor.airflow_trigger_compat import execute_trigger

    def execute(self, context):
        return execute_trigger(self, context)

Importing the package reads nothing about Airflow; the version is detected on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import (
    DurableUnavailableWarning,
    FeatureNotSupported,
    StrategyUnavailable,
    TriggerArgumentError,
    TriggerCompatError,
    TriggerCompatWarning,
    UnsupportedAirflowVersion,
)
from ._execute import execute_trigger
from ._registry import FORCE_ENV_VAR, REGISTRY, STRATEGIES, Entry, Feature, Selection, select_strategy
from ._version import AirflowVersion, airflow_version, parse_airflow_version

if TYPE_CHECKING:
    from ._operator import TriggerDagRunOperator

# Hard-coded: a vendored copy has no distribution metadata to read a version from.
__version__ = "0.1.0"

__all__ = [
    "FORCE_ENV_VAR",
    "REGISTRY",
    "STRATEGIES",
    "AirflowVersion",
    "DurableUnavailableWarning",
    "Entry",
    "Feature",
    "FeatureNotSupported",
    "Selection",
    "StrategyUnavailable",
    "TriggerArgumentError",
    "TriggerCompatError",
    "TriggerCompatWarning",
    "TriggerDagRunOperator",
    "UnsupportedAirflowVersion",
    "__version__",
    "airflow_version",
    "execute_trigger",
    "parse_airflow_version",
    "reset",
    "select_strategy",
]


def reset() -> None:
    """Forget the detected Airflow version and the chosen strategy (for tests)."""
    airflow_version.cache_clear()
    select_strategy.cache_clear()


def __getattr__(name: str) -> Any:
    # The operator subclasses the standard provider's, so it is only built when asked for.
    if name == "TriggerDagRunOperator":
        try:
            from ._operator import TriggerDagRunOperator
        except ImportError as err:
            raise UnsupportedAirflowVersion(
                "airflow_trigger_compat.TriggerDagRunOperator subclasses the standard provider's operator, "
                f"which cannot be imported here ({err}). Install apache-airflow and "
                "apache-airflow-providers-standard, or call execute_trigger() from your own operator.",
                airflow_version=None,
            ) from err
        return TriggerDagRunOperator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

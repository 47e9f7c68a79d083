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

from ._errors import (
    DurableUnavailableWarning,
    FeatureNotSupported,
    FlagIgnoredWarning,
    ProviderParameterWarning,
    RetryUnavailableWarning,
    StrategyUnavailable,
    TriggerArgumentError,
    TriggerCompatError,
    TriggerCompatWarning,
    UnsupportedAirflowVersion,
)

# Type checkers treat a TYPE_CHECKING constant as True; importing typing here would cost ~10 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._differences import DIFFERENCES, Difference
    from ._execute import check_arguments, execute_trigger
    from ._operator import TriggerDagRunOperator
    from ._registry import FORCE_ENV_VAR, REGISTRY, STRATEGIES, Entry, Feature, Selection, select_strategy
    from ._version import AirflowVersion, airflow_version, parse_airflow_version

# Hard-coded: a vendored copy has no distribution metadata to read a version from.
__version__ = "0.1.0"

__all__ = [
    "DIFFERENCES",
    "FORCE_ENV_VAR",
    "REGISTRY",
    "STRATEGIES",
    "AirflowVersion",
    "Difference",
    "DurableUnavailableWarning",
    "Entry",
    "Feature",
    "FeatureNotSupported",
    "FlagIgnoredWarning",
    "ProviderParameterWarning",
    "RetryUnavailableWarning",
    "Selection",
    "StrategyUnavailable",
    "TriggerArgumentError",
    "TriggerCompatError",
    "TriggerCompatWarning",
    "TriggerDagRunOperator",
    "UnsupportedAirflowVersion",
    "__version__",
    "airflow_version",
    "check_arguments",
    "execute_trigger",
    "parse_airflow_version",
    "reset",
    "select_strategy",
]


# Public names and the private module that defines each, imported on first access (PEP 562) so that
# `import airflow_trigger_compat` stays cheap in every DAG file that uses it.
_LAZY = {
    "DIFFERENCES": "_differences",
    "Difference": "_differences",
    "FORCE_ENV_VAR": "_registry",
    "REGISTRY": "_registry",
    "STRATEGIES": "_registry",
    "Entry": "_registry",
    "Feature": "_registry",
    "Selection": "_registry",
    "select_strategy": "_registry",
    "AirflowVersion": "_version",
    "airflow_version": "_version",
    "parse_airflow_version": "_version",
    "check_arguments": "_execute",
    "execute_trigger": "_execute",
    "TriggerDagRunOperator": "_operator",
}


def reset() -> None:
    """Forget the detected Airflow version and the chosen strategy (for tests)."""
    from ._registry import select_strategy
    from ._version import airflow_version

    airflow_version.cache_clear()
    select_strategy.cache_clear()


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    try:
        module = import_module(f".{module_name}", __name__)
    except ImportError as err:
        if module_name != "_operator":
            raise
        # The operator subclasses the standard provider's, which needs Airflow.
        raise UnsupportedAirflowVersion(
            "airflow_trigger_compat.TriggerDagRunOperator subclasses the standard provider's operator, "
            f"which cannot be imported here ({err}). Install apache-airflow and "
            "apache-airflow-providers-standard, or call execute_trigger() from your own operator.",
            airflow_version=None,
        ) from err
    value = getattr(module, name)
    if module_name != "_operator":
        globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Run Airflow's ``TriggerDagRunOperator`` the right way on Airflow 2.11, 3.0-3.2 and 3.3+.

>>> from airflow_trigger_compat import TriggerDagRunOperator  # doctest: +SKIP
>>> TriggerDagRunOperator(task_id="t", trigger_dag_id="child", wait_for_completion=True, durable=True)

A provider vendors the runtime (``_runtime``, see ``vendor``) and calls ``execute_trigger`` from its own
operator. This package adds, for pip users, the drop-in operator and the declared differences from the
stock operator. Importing it reads nothing about Airflow; the version is detected on first use.
"""

from __future__ import annotations

from ._runtime import (
    DurableUnavailableWarning,
    FeatureNotSupported,
    FlagIgnoredWarning,
    RetryUnavailableWarning,
    TriggerArgumentError,
    TriggerCompatError,
    TriggerCompatWarning,
    UnsupportedAirflowVersion,
    UnverifiedAirflowWarning,
    __version__,
    reset,
)

# Type checkers treat a TYPE_CHECKING constant as True; importing typing here would cost ~10 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._differences import DIFFERENCES, Difference
    from ._operator import TriggerDagRunOperator
    from ._runtime import check_arguments, execute_trigger, select_row
    from ._runtime._registry import (
        REGISTRY,
        AirflowVersion,
        Entry,
        Feature,
        Selection,
        airflow_version,
        parse_airflow_version,
    )

__all__ = [
    "DIFFERENCES",
    "REGISTRY",
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
    "TriggerArgumentError",
    "TriggerCompatError",
    "TriggerCompatWarning",
    "TriggerDagRunOperator",
    "UnsupportedAirflowVersion",
    "UnverifiedAirflowWarning",
    "__version__",
    "airflow_version",
    "check_arguments",
    "execute_trigger",
    "parse_airflow_version",
    "reset",
    "select_row",
]


def __getattr__(name: str) -> object:
    from . import _runtime

    if name in ("DIFFERENCES", "Difference", "ProviderParameterWarning"):
        from . import _differences

        value: object = getattr(_differences, name)
    elif name == "TriggerDagRunOperator":
        try:
            from ._operator import TriggerDagRunOperator
        except ImportError as err:  # it subclasses the standard provider's, which needs Airflow
            raise UnsupportedAirflowVersion(
                "airflow_trigger_compat.TriggerDagRunOperator subclasses the standard provider's operator, "
                f"which cannot be imported here ({err}). Install apache-airflow and "
                "apache-airflow-providers-standard, or call execute_trigger() from your own operator.",
                airflow_version=None,
            ) from err
        return TriggerDagRunOperator  # not cached: an import that failed may succeed later
    elif name in _runtime.__all__:
        value = getattr(_runtime, name)
    elif name in __all__:  # the version story, for maintainers' tools
        from ._runtime import _registry

        value = getattr(_registry, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

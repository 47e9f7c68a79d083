"""
The runtime: what runs in a task, all that a provider vendors; importing it reads nothing of Airflow.

    from ._vendor.airflow_trigger_compat import check_arguments, execute_trigger

    def __init__(self, *, durable=False, **kwargs):
        super().__init__(**kwargs)
        check_arguments({"durable": durable, **kwargs})

    def execute(self, context):
        return execute_trigger(self, context)
"""

from __future__ import annotations

from ._errors import (
    DurableUnavailableWarning,
    FeatureNotSupported,
    FlagIgnoredWarning,
    RetryUnavailableWarning,
    TriggerArgumentError,
    TriggerCompatError,
    TriggerCompatWarning,
    UnsupportedAirflowVersion,
    UnverifiedAirflowWarning,
)

# Type checkers treat a TYPE_CHECKING constant as True; importing typing here would cost ~10 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._execute import execute_trigger
    from ._registry import select_row
    from ._request import check_arguments

# Hard-coded: a vendored copy has no distribution metadata to read a version from.
__version__ = "0.1.0"

__all__ = [
    "DurableUnavailableWarning",
    "FeatureNotSupported",
    "FlagIgnoredWarning",
    "RetryUnavailableWarning",
    "TriggerArgumentError",
    "TriggerCompatError",
    "TriggerCompatWarning",
    "UnsupportedAirflowVersion",
    "UnverifiedAirflowWarning",
    "__version__",
    "check_arguments",
    "execute_trigger",
    "reset",
    "select_row",
]

#: Public names, imported from their module on first access (PEP 562): importing the package stays cheap.
_LAZY = {"check_arguments": "_request", "execute_trigger": "_execute", "select_row": "_registry"}


def reset() -> None:
    """Forget everything the runtime cached about the running Airflow (for tests)."""
    from . import _airflow, _errors, _registry

    for cached in (_registry.airflow_version, _registry.select_row, _airflow._module_with):
        cached.cache_clear()
    _airflow.airflow_helpers.cache_clear()
    _airflow.has_trigger_accessor.cache_clear()
    _errors._failure_class.cache_clear()


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value

"""The package's own exception and warning family.

Every error carries the Airflow version that was detected (``None`` when no Airflow is installed), so a
report from a user's logs says which path ran.
"""

from __future__ import annotations

__all__ = [
    "DurableUnavailableWarning",
    "FeatureNotSupported",
    "RetryUnavailableWarning",
    "StrategyUnavailable",
    "TriggerArgumentError",
    "TriggerCompatError",
    "TriggerCompatWarning",
    "UnsupportedAirflowVersion",
]


class TriggerCompatError(Exception):
    """Base class of every error this package raises."""

    def __init__(self, message: str, *, airflow_version: str | None = None) -> None:
        super().__init__(message)
        self.airflow_version = airflow_version


class UnsupportedAirflowVersion(TriggerCompatError):
    """The running Airflow (or its absence) is outside every range in the registry."""


class StrategyUnavailable(TriggerCompatError):
    """A strategy was forced (``AIRFLOW_TRIGGER_COMPAT_STRATEGY``) that cannot run on this Airflow."""


class TriggerArgumentError(TriggerCompatError, ValueError, TypeError):
    """An operator argument is invalid; raised before any child run is triggered.

    It is both a ``ValueError`` and a ``TypeError`` so code that caught the standard operator's
    errors for the same input keeps working.
    """


class FeatureNotSupported(TriggerCompatError, NotImplementedError):
    """A flag was set that the running Airflow cannot honour (see the registry's feature table)."""


class TriggerCompatWarning(UserWarning):
    """Base class of this package's warnings."""


class DurableUnavailableWarning(TriggerCompatWarning):
    """``durable=True`` was asked for where it cannot work; the task runs without crash recovery."""


class RetryUnavailableWarning(TriggerCompatWarning):
    """The task has retries, but this Airflow does not retry it when the child run fails."""

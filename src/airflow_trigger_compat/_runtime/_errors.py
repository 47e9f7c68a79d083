"""The package's errors (each with the detected Airflow version, ``None`` without Airflow) and warnings."""

from __future__ import annotations

import functools

# Type checkers treat a TYPE_CHECKING constant as True; importing typing here would cost ~10 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn


class TriggerCompatError(Exception):
    """Base class of every error this package raises."""

    def __init__(self, message: str, *, airflow_version: str | None = None) -> None:
        super().__init__(message)
        self.airflow_version = airflow_version


class UnsupportedAirflowVersion(TriggerCompatError):
    """The running Airflow (or its absence) is outside every range in the registry."""


class TriggerArgumentError(TriggerCompatError, ValueError, TypeError):
    """An operator argument is invalid, found before any child run is triggered."""

    # A ``ValueError`` and a ``TypeError`` as stock's. ``stock_type``: a narrower type stock raises
    # (pendulum's ``ParserError``).
    def __init__(self, message: str, *, stock_type: type[BaseException] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.stock_type = stock_type


class FeatureNotSupported(TriggerCompatError, NotImplementedError):
    """A flag was set that the running Airflow cannot honour (the registry's gaps)."""


class TriggerCompatWarning(UserWarning):
    """Base class of this package's warnings."""


class DurableUnavailableWarning(TriggerCompatWarning):
    """``durable=True`` was asked for where it cannot work; the task runs without crash recovery."""


class FlagIgnoredWarning(TriggerCompatWarning):
    """A flag the running Airflow cannot honour was dropped, as the standard operator drops it there."""


class UnverifiedAirflowWarning(TriggerCompatWarning):
    """The running Airflow is newer than every release this package was verified on."""


class RetryUnavailableWarning(TriggerCompatWarning):
    """The task has retries, but this Airflow does not retry it when the child run fails."""


def task_failure(error: TriggerArgumentError) -> BaseException:
    """Return bad input as a task failure: an ``AirflowFailException`` (retrying cannot fix it)."""
    # It is also the TriggerArgumentError and, where stock raises a narrower type, that type too.
    from ._airflow import load  # Airflow's, so not imported with this module

    bases: tuple[type[BaseException], ...] = (load("AirflowFailException"), TriggerArgumentError)
    if error.stock_type is not None and not issubclass(TriggerArgumentError, error.stock_type):
        bases += (error.stock_type,)
    try:
        failure = _failure_class(bases)
    except TypeError:  # no consistent MRO with stock's type: keep the two that always combine
        failure = _failure_class(bases[:2])
    return failure(str(error), airflow_version=error.airflow_version, stock_type=error.stock_type)


@functools.cache
def _failure_class(bases: tuple[type[BaseException], ...]) -> type[TriggerArgumentError]:
    class TriggerArgumentFailure(*bases):  # type: ignore[misc]
        __init__ = TriggerArgumentError.__init__

        def __reduce__(self) -> Any:  # picklable: rebuilt from its parts
            error = TriggerArgumentError(
                str(self), airflow_version=self.airflow_version, stock_type=self.stock_type
            )
            return task_failure, (error,)

    failure: type[TriggerArgumentError] = TriggerArgumentFailure
    return failure


def refuse_early(
    operator: Any, context: Any, request: Any, error: TriggerArgumentError, route: Any
) -> NoReturn:
    """Fail the task at once, without retries, before any child run exists (a strategy's ``refuse``)."""
    raise task_failure(error) from error

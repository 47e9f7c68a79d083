"""One module per strategy; the registry (``_registry.STRATEGIES``) says which runs where.

Each module is a :class:`StrategyModule`: ``check`` finds what its Airflow's trigger would refuse and
``refuse`` says how that ends the task, ``execute`` is the standard operator's own path there, and
``Port`` is what the durable path (``_durable``) triggers and polls through. ``_execute.execute_trigger``
decides which of the two paths runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

if TYPE_CHECKING:
    from .._contract import TaskPort
    from .._errors import TriggerArgumentError
    from .._request import TriggerRequest


class StrategyModule(Protocol):
    """What ``_execute`` needs of a strategy module (mypy checks each module against it)."""

    @property
    def Port(self) -> Callable[[Any, Mapping[str, Any]], TaskPort]:
        """Built from the operator and the task context: the durable path's only way into Airflow."""

    def check(self, request: TriggerRequest) -> None:
        """Raise ``TriggerArgumentError`` for what this Airflow's trigger would refuse."""

    def refuse(
        self, operator: Any, context: Mapping[str, Any], request: TriggerRequest, error: TriggerArgumentError
    ) -> NoReturn:
        """End the task for what ``check`` found."""

    def execute(self, operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> Any: ...


if TYPE_CHECKING:
    from . import accessor, airflow2, runner_exception

    _CHECKED: tuple[StrategyModule, ...] = (accessor, airflow2, runner_exception)

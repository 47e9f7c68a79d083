"""One module per strategy, each a :class:`StrategyModule`; the registry says which runs where."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

if TYPE_CHECKING:
    from .._contract import TaskPort
    from .._errors import TriggerArgumentError
    from .._request import TriggerRequest


class StrategyModule(Protocol):
    """What ``_execute.execute_trigger`` needs of a strategy module (mypy checks each against it)."""

    @property
    def Port(self) -> type[TaskPort]:
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

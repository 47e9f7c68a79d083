"""Stock's two paths, one module each (the registry says which runs where), and ``durable=True`` over them."""
# - ``airflow2``: Airflow 2.11, the operator triggers through the ORM and polls (stock's path there).
# - ``runner_exception``: Airflow 3, ``execute()`` raises for the task runner (stock's path there).
# - ``durable``: either, with the child's run_id kept first; a retry reconnects to it.

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._contract import Route, TaskPort
    from .._errors import TriggerArgumentError
    from .._request import TriggerRequest


class StrategyModule(Protocol):
    """What ``_execute.execute_trigger`` needs of a path's module (mypy checks each against it)."""

    @property
    def Port(self) -> type[TaskPort]: ...  # the class through which a task reads Airflow on this path

    def check(self, request: TriggerRequest) -> None: ...  # raises TriggerArgumentError for what it refuses

    def refuse(
        self,
        operator: Any,
        context: Mapping[str, Any],
        request: TriggerRequest,
        error: TriggerArgumentError,
        route: Route,
    ) -> Any: ...  # ends the task for what check found

    def execute(
        self, operator: Any, context: Mapping[str, Any], request: TriggerRequest, route: Route
    ) -> Any: ...

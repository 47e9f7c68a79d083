"""The mission's three paths, one module each; the registry says which runs where."""
# - ``airflow2``: Airflow 2.11, the operator triggers through the ORM and polls (stock's path there).
# - ``runner_exception``: Airflow 3, ``execute()`` raises for the task runner (stock's path there).
# - ``accessor``: Airflow 3 with ``durable=True``, the operator triggers and polls through the execution API.

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._contract import Route
    from .._errors import TriggerArgumentError
    from .._request import TriggerRequest


class StrategyModule(Protocol):
    """What ``_execute.execute_trigger`` needs of a strategy module (mypy checks each against it)."""

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

"""The one entry point every way in goes through: the request, the route, the warnings, the strategy."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from ._airflow import has_trigger_accessor, load
from ._contract import Route
from ._errors import (
    DurableUnavailableWarning,
    FlagIgnoredWarning,
    RetryUnavailableWarning,
    TriggerArgumentError,
    task_failure,
)
from ._registry import Feature, Selection, select_row
from ._request import TriggerRequest, build_request

if TYPE_CHECKING:
    from ._strategies import StrategyModule, airflow2, runner_exception

    _CHECKED: tuple[StrategyModule, ...] = (airflow2, runner_exception)


def route(selection: Selection, request: TriggerRequest) -> Route:
    """Answer, in one place, "which path runs this call, and where does durable=True keep the run_id?"."""
    gap = None
    if request.deferrable and request.wait_for_completion:
        gap = "deferrable=True already waits in the triggerer, which survives the loss of a worker"
    elif not request.run_id_generated:
        gap = selection.gap(Feature.TASK_STATE_STORE)  # a fixed run_id needs the store
    keep = selection.entry.keep if request.durable and gap is None else None
    # With the accessor a kept run is triggered and waited on in execute(); without durable=True, stock's
    # path on every Task SDK, as the standard operator (README: "Which path runs where").
    path = selection.entry.path
    trigger = "accessor" if keep and path == "runner_exception" and has_trigger_accessor() else path
    return Route(selection, path, keep, trigger, gap if request.durable else None)


def warn_about_gaps(route: Route, request: TriggerRequest, retries: int) -> None:
    """Every warning for something asked of this Airflow that it cannot do (the registry's gaps)."""
    selection = route.selection
    retry_gap = retries and request.wait_for_completion and not request.deferrable
    reason = selection.gap(Feature.RETRY_ON_FAILED_CHILD) if retry_gap else None
    if not (request.dropped or route.durable_gap or reason):
        return  # the common case: nothing to format
    where = f"Airflow {selection.version.raw} (registry row {selection.entry.airflow})"
    for feature in request.dropped:
        warnings.warn(
            f"{feature}= is ignored on {where}: {selection.gap(feature)}. The child run is triggered "
            "without it, as with the standard operator; require a newer Airflow to use it.",
            FlagIgnoredWarning,
            stacklevel=3,  # the operator's execute()
        )
    if route.durable_gap:
        warnings.warn(
            f"durable=True has no effect on {where}: {route.durable_gap}. The task runs as without durable: "
            "a worker lost mid-wait triggers a new child run on retry.",
            DurableUnavailableWarning,
            stacklevel=3,
        )
    if reason:
        warnings.warn(
            f"retries={retries} will not apply if the child run fails on {where}: {reason}. Use "
            "deferrable=True, or Airflow 3.3+, for retries.",
            RetryUnavailableWarning,
            stacklevel=3,
        )


def _with_openlineage(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> TriggerRequest:
    """Add the parent's OpenLineage identity to conf, as the standard operator does (it keeps the result)."""
    if not getattr(operator, "openlineage_inject_parent_info", False):
        return request
    try:
        inject = load("safe_inject_openlineage_properties_into_dagrun_conf")
    except ImportError:  # providers-standard < 1.10.0 (apache/airflow#58672)
        return request
    conf = inject(dr_conf=request.conf, ti=context.get("ti"))
    operator.conf = conf
    return request if conf is request.conf else request._replace(conf=conf)


def execute_trigger(operator: Any, context: Mapping[str, Any]) -> Any:
    """
    Run ``operator`` (a ``TriggerDagRunOperator`` or anything with its attributes) on this Airflow.

    Invalid arguments fail the task before any child run exists, without retries.
    """
    selection = select_row()
    try:
        request = build_request(operator, selection)
    except TriggerArgumentError as err:
        raise task_failure(err) from err
    request = _with_openlineage(operator, context, request)
    # Listeners read the run_id from the operator, as with the standard operator.
    operator.trigger_run_id = request.run_id
    chosen = route(selection, request)
    path = cast("StrategyModule", importlib.import_module(f"{__package__}._strategies.{chosen.path}"))
    try:
        path.check(request)
    except TriggerArgumentError as err:
        path.refuse(operator, context, request, err, chosen)
    warn_about_gaps(chosen, request, getattr(operator, "retries", 0) or 0)
    leaf = importlib.import_module(f"{__package__}._strategies.{chosen.leaf}")
    return leaf.execute(operator, context, request, chosen)

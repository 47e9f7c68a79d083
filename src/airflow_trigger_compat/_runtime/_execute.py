"""The one entry point every way in goes through: pick the strategy, validate, decide durable, run."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from ._durable import run_durable
from ._errors import (
    DurableUnavailableWarning,
    FlagIgnoredWarning,
    RetryUnavailableWarning,
    TriggerArgumentError,
    task_failure,
)
from ._registry import Feature, Selection, select_strategy
from ._request import TriggerRequest, build_request


def durable_gap(selection: Selection, request: TriggerRequest) -> str | None:
    """Why ``durable=True`` gives no crash recovery for ``request`` here; ``None`` when it does.

    The one answer to "does this call take the durable path?", used by :func:`execute_trigger`.
    """
    if request.deferrable and request.wait_for_completion:
        return "deferrable=True already waits in the triggerer, which survives the loss of a worker"
    if not request.run_id_generated:
        return selection.gap(Feature.TASK_STATE_STORE)  # a fixed run_id needs the store
    return None


def warn_about_gaps(selection: Selection, request: TriggerRequest, retries: int) -> None:
    """Every warning for something asked of this Airflow that it cannot do (the registry's gaps)."""
    where = f"Airflow {selection.version.raw} (strategy {selection.name!r})"
    for feature in request.dropped:
        warnings.warn(
            f"{feature}= is ignored on {where}: {selection.gap(feature)}. The child run is triggered "
            "without it, as with the standard operator; require a newer Airflow to use it.",
            FlagIgnoredWarning,
            stacklevel=3,  # the operator's execute()
        )
    durable = request.durable and durable_gap(selection, request) is None
    if request.durable and not durable:
        warnings.warn(
            f"durable=True has no effect on {where}: {durable_gap(selection, request)}. The task runs as "
            "without durable: a worker lost mid-wait triggers a new child run on retry.",
            DurableUnavailableWarning,
            stacklevel=3,
        )
    # The durable wait runs inside execute(), where retries always apply.
    reason = selection.gap(Feature.RETRY_ON_FAILED_CHILD)
    if retries and request.wait_for_completion and not request.deferrable and not durable and reason:
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
        from airflow.providers.standard.utils.openlineage import (
            safe_inject_openlineage_properties_into_dagrun_conf,
        )
    except ImportError:
        return request
    conf = safe_inject_openlineage_properties_into_dagrun_conf(dr_conf=request.conf, ti=context.get("ti"))
    operator.conf = conf
    return request if conf is request.conf else request._replace(conf=conf)


def execute_trigger(operator: Any, context: Mapping[str, Any]) -> Any:
    """Run ``operator`` (a ``TriggerDagRunOperator`` or anything with its attributes) on this Airflow.

    Invalid arguments fail the task before any child run exists, without retries.
    """
    selection = select_strategy()
    strategy = selection.load()
    try:
        request = build_request(operator, selection)
    except TriggerArgumentError as err:
        raise task_failure(err) from err
    request = _with_openlineage(operator, context, request)
    # Listeners read the run_id from the operator, as with the standard operator.
    operator.trigger_run_id = request.run_id
    try:
        strategy.check(request)
    except TriggerArgumentError as err:
        strategy.refuse(operator, context, request, err)
    warn_about_gaps(selection, request, getattr(operator, "retries", 0) or 0)
    if request.durable and durable_gap(selection, request) is None:
        port = strategy.Port(operator, context)
        return run_durable(request, port, context, store=selection.supports(Feature.TASK_STATE_STORE))
    return strategy.execute(operator, context, request)

"""The one entry point every way in goes through: pick the strategy, validate, run."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

from ._airflow import load
from ._errors import (
    DurableUnavailableWarning,
    FlagIgnoredWarning,
    RetryUnavailableWarning,
    TriggerArgumentError,
)
from ._registry import Feature, Selection, select_strategy
from ._request import TriggerRequest, build_request, check_static_arguments

__all__ = [
    "check_arguments",
    "durable_gap",
    "execute_trigger",
    "task_failure",
    "warn_about_gaps",
    "warn_if_not_durable",
]


#: Why a fixed run_id gets no crash recovery where there is no task_state_store.
FIXED_RUN_ID_WITHOUT_STORE = (
    "before Airflow 3.3 there is no task_state_store, so durable needs a generated run_id (no "
    "trigger_run_id, run_after, or logical_date other than None): a retry cannot tell a fixed run_id's run "
    "from someone else's"
)


def durable_gap(selection: Selection, request: TriggerRequest) -> str | None:
    """Why ``durable=True`` gives no crash recovery for ``request`` here; ``None`` when it does.

    The strategies take the durable path exactly when this is ``None`` (``TriggerRequest.durable_path``).
    """
    reason = selection.gap(Feature.DURABLE)
    if reason is None and request.deferrable and request.wait_for_completion:
        reason = "deferrable=True already waits in the triggerer, which survives the loss of a worker"
    if reason is None and not request.run_id_generated and selection.name != "accessor":
        reason = FIXED_RUN_ID_WITHOUT_STORE
    return reason


def warn_if_not_durable(selection: Selection, request: TriggerRequest) -> None:
    """Say once, with the version and the reason, when ``durable=True`` cannot give crash recovery."""
    if not request.durable:
        return
    reason = durable_gap(selection, request)
    if reason is not None:
        warnings.warn(
            f"durable=True has no effect on Airflow {selection.version.raw} (strategy {selection.name!r}): "
            f"{reason}. The task runs as without durable: a worker lost mid-wait triggers a new child run "
            "on retry.",
            DurableUnavailableWarning,
            stacklevel=4,  # the operator's execute()
        )


def warn_if_retries_do_not_apply(selection: Selection, request: TriggerRequest, retries: int) -> None:
    """Say so when a failed child will not send this task to retry, though it has retries."""
    if not (retries and request.wait_for_completion and not request.deferrable):
        return
    if request.durable and durable_gap(selection, request) is None:
        return  # the durable wait runs inside execute(), where retries always apply
    reason = selection.gap(Feature.RETRY_ON_FAILED_CHILD)
    if reason is not None:
        warnings.warn(
            f"retries={retries} will not apply if the child run fails on Airflow {selection.version.raw} "
            f"(strategy {selection.name!r}): {reason}. Use deferrable=True, or Airflow 3.3+, for retries.",
            RetryUnavailableWarning,
            stacklevel=4,  # the operator's execute()
        )


def warn_about_dropped_flags(selection: Selection, request: TriggerRequest) -> None:
    """Say which flags were dropped, as the standard operator drops them on this Airflow."""
    for feature in request.dropped:
        warnings.warn(
            f"{feature}= is ignored on Airflow {selection.version.raw} (strategy {selection.name!r}): "
            f"{selection.gap(feature)}. The child run is triggered without it, as with the standard "
            "operator; require a newer Airflow to use it.",
            FlagIgnoredWarning,
            stacklevel=4,  # the operator's execute()
        )


def warn_about_gaps(selection: Selection, request: TriggerRequest, retries: int) -> None:
    """Every warning for something asked of this Airflow that it cannot do (the registry's gaps)."""
    warn_about_dropped_flags(selection, request)
    warn_if_not_durable(selection, request)
    warn_if_retries_do_not_apply(selection, request, retries)


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


@functools.cache
def _failure_class(bases: tuple[type[BaseException], ...]) -> type[BaseException]:
    return type("TriggerArgumentFailure", bases, {"__module__": __name__})


def task_failure(error: TriggerArgumentError) -> BaseException:
    """The task failure for bad input: an ``AirflowFailException`` (no retry: retrying cannot fix it)
    that is also the :class:`TriggerArgumentError` (so ``ValueError`` and ``TypeError``) and, where stock
    raises a narrower type for the same input, that type too, so stock's callers catch it as before.
    """
    bases: tuple[type[BaseException], ...] = (load("AirflowFailException"), type(error))
    if error.stock_type is not None and not issubclass(type(error), error.stock_type):
        bases += (error.stock_type,)
    try:
        cls = _failure_class(bases)
    except TypeError:  # no consistent MRO with stock's type: keep the two that always combine
        cls = _failure_class(bases[:2])
    failure = cls.__new__(cls)
    BaseException.__init__(failure, str(error))
    failure.__dict__.update(error.__dict__)
    return failure


def check_arguments(kwargs: Mapping[str, Any]) -> None:
    """Check a ``TriggerDagRunOperator``'s constructor arguments against the running Airflow.

    Call it at the end of the operator's ``__init__``, after the standard operator's own checks (so the
    input stock refuses fails with stock's error, in stock's order), so a bad value or a flag this Airflow
    cannot honour fails when the DAG is parsed, with a message that names the value and the fix::

        def __init__(self, *, durable=False, **kwargs):
            super().__init__(**kwargs)
            check_arguments({"durable": durable, **kwargs})
    """
    check_static_arguments(select_strategy(), kwargs)


def execute_trigger(operator: Any, context: Mapping[str, Any]) -> Any:
    """Run ``operator`` (a ``TriggerDagRunOperator`` or anything with its attributes) on this Airflow.

    Call it from a provider's ``TriggerDagRunOperator.execute``::

        def execute(self, context):
            return execute_trigger(self, context)

    Invalid arguments fail the task without retries, before any child run exists (:func:`task_failure`).
    """
    selection = select_strategy()
    strategy = selection.strategy.load()
    try:
        request = build_request(operator, selection)
        strategy.check(request)
    except TriggerArgumentError as err:
        raise task_failure(err) from err
    warn_about_gaps(selection, request, getattr(operator, "retries", 0) or 0)
    request = _with_openlineage(operator, context, request)
    # Listeners read the run_id from the operator, as with the standard operator.
    operator.trigger_run_id = request.run_id
    return strategy.execute(operator, context, request)

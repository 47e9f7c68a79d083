"""Airflow 3.0 to 3.2, and 3.3+ without ``durable``: raise ``DagRunTriggerException`` for the runner.

Since AIP-72 (Airflow 3.0) a task has no ORM access; ``task_runner._handle_trigger_dag_run`` sends the
``TriggerDagRun`` message, pushes the ``trigger_run_id`` XCom and polls. This is the standard operator's
``_trigger_dag_af_3``. The exception's signature grew over time, so only the keywords the installed
Airflow accepts are passed (probed, as stock probes them).

With ``durable=True`` (and no deferrable wait) the operator triggers and waits itself, as on 3.3
(:func:`.accessor.execute_durable`): every task-sdk from 1.0.6 can send ``TriggerDagRun`` and
``GetDagRunState`` through ``SUPERVISOR_COMMS``, and with no ``task_state_store`` before 3.3 the child's
run_id is derived from the parent task instance. A failed child then fails the try inside ``execute()``,
so retries apply (the 3.0-3.2 runner's wait ignores them, apache/airflow#62970).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any, NoReturn

from .._airflow import load
from .._errors import TriggerArgumentError
from .._request import TriggerRequest, check_aware, check_conf_shape

__all__ = ["check", "check_payload", "execute", "push_link", "raise_for_runner", "runner_kwargs"]


@functools.cache
def _accepted(exception_type: Any) -> frozenset[str]:
    return frozenset(inspect.signature(exception_type.__init__).parameters)


def check(request: TriggerRequest) -> None:
    """Nothing before ``execute()``: the 3.0-3.2 runner refuses a bad payload itself (see :func:`execute`)."""


def check_payload(request: TriggerRequest) -> None:
    """What the runner's ``TriggerDagRun`` payload refuses (a pydantic model)."""
    check_conf_shape(request.conf, falsy_means_none=False, str_keys=True)  # conf: dict[str, Any] | None
    check_aware("logical_date", request.logical_date)  # AwareDatetime | None
    check_aware("run_after", request.run_after)


def runner_kwargs(request: TriggerRequest, accepted: frozenset[str]) -> dict[str, Any]:
    """The ``DagRunTriggerException`` keywords for ``request``, limited to those ``accepted``."""
    state = load("DagRunState")
    kwargs: dict[str, Any] = {
        "trigger_dag_id": request.trigger_dag_id,
        "dag_run_id": request.run_id,
        "conf": request.conf,
        "logical_date": request.logical_date,
        "reset_dag_run": request.reset_dag_run,
        "skip_when_already_exists": request.skip_when_already_exists,
        "wait_for_completion": request.wait_for_completion,
        "allowed_states": [state(s) for s in request.allowed_states],
        "failed_states": [state(s) for s in request.failed_states],
        "poke_interval": request.poke_interval,
        "deferrable": request.deferrable,
    }
    # Airflow 3.2 (task-sdk 1.2): note. Airflow 3.3 (task-sdk 1.3): run_after.
    if request.note and "note" in accepted:
        kwargs["note"] = request.note
    if request.run_after and "run_after" in accepted:
        kwargs["run_after"] = request.run_after
    return kwargs


def push_link(operator: Any, context: Mapping[str, Any], run_id: str) -> None:
    """Push the "Triggered DAG" link XCom, as the standard operator does on Airflow 3."""
    from airflow.utils import helpers

    build_airflow_dagrun_url = getattr(helpers, "build_airflow_dagrun_url", None)
    ti = context.get("task_instance") or context.get("ti")
    if build_airflow_dagrun_url is None or ti is None or not hasattr(ti, "xcom_push"):
        return  # not in every 3.x core; the link is a convenience
    try:
        ti.xcom_push(
            key=load("TriggerDagRunLink")().xcom_key,
            value=build_airflow_dagrun_url(dag_id=operator.trigger_dag_id, run_id=run_id),
        )
    except (AttributeError, KeyError, TypeError, AssertionError) as err:  # as stock: a partial context
        operator.log.debug("Skipping TriggerDagRunLink XCom push due to mock or incomplete context: %s", err)


def execute(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> Any:
    try:
        check_payload(request)
    except TriggerArgumentError as err:
        # The 3.0-3.2 runner refuses this payload before anything is sent, and its error escapes
        # _handle_trigger_dag_run: the task fails at once, without retries, its link naming the run_id.
        # Say what is wrong and how to fix it, then let the runner refuse it as it refuses stock's.
        operator.log.error("%s", err)
        raise_for_runner(operator, context, request)
    if request.durable_without_store:
        from .accessor import execute_durable

        return execute_durable(operator, context, request)
    raise_for_runner(operator, context, request)


def raise_for_runner(operator: Any, context: Mapping[str, Any], request: TriggerRequest) -> NoReturn:
    """The standard operator's ``_trigger_dag_af_3``: the task runner triggers and waits."""
    if request.fail_when_dag_is_paused and context["ti"].get_dag(request.trigger_dag_id).is_paused:
        raise load("DagIsPaused")(dag_id=request.trigger_dag_id)
    push_link(operator, context, request.run_id)
    exception_type = load("DagRunTriggerException")
    raise exception_type(**runner_kwargs(request, _accepted(exception_type)))

"""What this package reads from the running Airflow, and nothing else does; nothing is imported before use."""
# Where each name lives (newest import path first, as Airflow's common.compat), and each probe of an API
# that changed between supported releases, with the upstream change behind it.

from __future__ import annotations

import datetime
import functools
import importlib
import inspect
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, NamedTuple

_COMPAT = "airflow.providers.common.compat.sdk"  # the standard provider's own resolution
_TRIGGER_DAGRUN = "airflow.providers.standard.operators.trigger_dagrun"

IMPORT_PATHS: dict[str, tuple[str, ...]] = {
    "__version__": ("airflow",),
    "AirflowException": (_COMPAT, "airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowFailException": (_COMPAT, "airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowSkipException": (_COMPAT, "airflow.sdk.exceptions", "airflow.exceptions"),
    "DagRunTriggerException": (_COMPAT, "airflow.sdk.exceptions"),
    # What the standard operator's execute() computes with: the same clock, date parser and run_id maker.
    "timezone": (_COMPAT, "airflow.sdk", "airflow.utils"),
    "DagRun": ("airflow.models.dagrun",),
    "DagRunType": ("airflow.utils.types",),
    "DagRunState": ("airflow.utils.state",),
    "DagStateTrigger": ("airflow.providers.standard.triggers.external_task",),
    "DagIsPaused": (_TRIGGER_DAGRUN,),
    "TriggerDagRunLink": (_TRIGGER_DAGRUN,),
    "XCOM_RUN_ID": (_TRIGGER_DAGRUN,),  # the child's run_id, read by the link and pushed by the runner
    "safe_inject_openlineage_properties_into_dagrun_conf": ("airflow.providers.standard.utils.openlineage",),
    # Airflow 2.11's ORM path (stock's _trigger_dag_af_2).
    "trigger_dag": ("airflow.api.common.trigger_dag",),
    "DagRunAlreadyExists": ("airflow.exceptions",),
    "DagNotFound": ("airflow.exceptions",),
    "DagModel": ("airflow.models.dag",),
    "SerializedDagModel": ("airflow.models.serialized_dag",),
    "create_session": ("airflow.utils.session",),
    # Airflow 3.0 (apache/airflow#47051): the UI's DAG run URL, for the "Triggered DAG" link.
    "build_airflow_dagrun_url": ("airflow.utils.helpers",),
    # The public protocol of a task's ``ti``: its accessors (``has_trigger_accessor``).
    "RuntimeTaskInstanceProtocol": ("airflow.sdk.types",),
}


@functools.cache
def _module_with(name: str) -> ModuleType:
    errors = []
    for module_name in IMPORT_PATHS[name]:
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            errors.append(f"{module_name}: {err}")
            continue
        if hasattr(module, name):
            return module
        errors.append(f"{module_name} has no {name}")
    raise ImportError(f"{name} is not importable from any of {IMPORT_PATHS[name]}: {'; '.join(errors)}")


def load(name: str) -> Any:
    """``name`` from the first of its paths that has it."""
    return getattr(_module_with(name), name)


def dagrun_states(states: Iterable[str]) -> list[Any]:
    """Airflow's ``DagRunState`` members, as stock hands them to Airflow."""
    state = load("DagRunState")
    return [state(s) for s in states]


class AirflowHelpers(NamedTuple):
    """The running Airflow's own functions the standard operator computes a request with."""

    parse: Callable[[str], datetime.datetime]
    utcnow: Callable[[], datetime.datetime]
    generate_run_id: Callable[[datetime.datetime | None, datetime.datetime], str]  # (logical_date, run_after)
    validate_run_id: Callable[[str], object]  # raises ValueError for a run_id Airflow refuses


@functools.cache
def airflow_helpers() -> AirflowHelpers:
    timezone, dag_run, manual = load("timezone"), load("DagRun"), load("DagRunType").MANUAL
    # Airflow 3.0 (AIP-83, apache/airflow#46616): generate_run_id takes run_after, and a run without a
    # logical date gets a random suffix; Airflow 2 takes (run_type, execution_date), "now" without a date.
    takes_run_after = "run_after" in inspect.signature(dag_run.generate_run_id).parameters

    def generate_run_id(logical_date: datetime.datetime | None, run_after: datetime.datetime) -> str:
        if takes_run_after:
            return str(
                dag_run.generate_run_id(run_type=manual, logical_date=logical_date, run_after=run_after)
            )
        return str(dag_run.generate_run_id(manual, logical_date or timezone.utcnow()))

    # Looked up on the module at each call, as stock's own calls are. The run_id check is Airflow's own,
    # run when the child DagRun row is created (a @validates hook that does not use self).
    return AirflowHelpers(
        lambda value: timezone.parse(value),
        lambda: timezone.utcnow(),
        generate_run_id,
        lambda run_id: dag_run.validate_run_id(None, "run_id", run_id),
    )


@functools.cache
def has_trigger_accessor() -> bool:
    """Return whether a task's ``ti`` has ``trigger_dag_run()``, the counterpart of ``get_dagrun_state()``."""
    # apache/airflow#69135 proposes it; no Task SDK release has it (1.4.0b2 included). One probe: the
    # public protocol of RuntimeTaskInstance, which names every accessor a task's ti has.
    try:
        return hasattr(load("RuntimeTaskInstanceProtocol"), "trigger_dag_run")
    except ImportError:  # no Task SDK: Airflow 2
        return False

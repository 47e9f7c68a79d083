"""Where each Airflow name lives, newest import path first (as Airflow's common.compat); imported on use."""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

_COMPAT = "airflow.providers.common.compat.sdk"  # the standard provider's own resolution
_COMMS = "airflow.sdk.execution_time.comms"
_TRIGGER_DAGRUN = "airflow.providers.standard.operators.trigger_dagrun"

IMPORT_PATHS: dict[str, tuple[str, ...]] = {
    "AirflowException": (_COMPAT, "airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowFailException": (_COMPAT, "airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowSkipException": (_COMPAT, "airflow.sdk.exceptions", "airflow.exceptions"),
    "DagRunTriggerException": (_COMPAT, "airflow.sdk.exceptions"),
    "AirflowRuntimeError": ("airflow.sdk.exceptions",),
    "DagRunAlreadyExists": ("airflow.exceptions",),
    "DagNotFound": ("airflow.exceptions",),
    "ServerResponseError": ("airflow.sdk.exceptions", "airflow.sdk.api.client"),
    "ErrorType": ("airflow.sdk.exceptions",),
    "ErrorResponse": (_COMMS,),
    "TriggerDagRun": (_COMMS,),
    "SUPERVISOR_COMMS": ("airflow.sdk.execution_time.task_runner",),
    "ResumableJobMixin": ("airflow.sdk",),
    # What the standard operator's execute() computes with: the same clock, date parser and run_id maker.
    "timezone": (_COMPAT, "airflow.sdk", "airflow.utils"),
    "DagRun": ("airflow.models.dagrun",),
    "DagRunType": ("airflow.utils.types",),
    "DagRunState": ("airflow.utils.state",),
    "DagStateTrigger": ("airflow.providers.standard.triggers.external_task",),
    "DagIsPaused": (_TRIGGER_DAGRUN,),
    "TriggerDagRunLink": (_TRIGGER_DAGRUN,),
    "TriggerDagRunOperator": (_TRIGGER_DAGRUN,),
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
    """``name`` from the first of its paths that has it, read each time (``SUPERVISOR_COMMS`` is rebound)."""
    return getattr(_module_with(name), name)

"""DAGs for the live crash tests (tests/live), on LocalExecutor and on CeleryExecutor.

One parent DAG per case, each with its own child DAG, so the number of child runs a parent run caused is
simply the number of runs of its child DAG (the conf marker ``e2e_parent_run_id`` double-checks it).

Case ids: ``<variant>__<kill>__<n>``
    variant: ``stock``        airflow.providers.standard TriggerDagRunOperator
             ``shim_nodur``   the shim operator (durable=False)
             ``shim_durable`` the shim operator (durable=True)
    kill:    ``midwait``      the harness kills the task process while it polls the child run
             ``workerkill``   same moment, but the supervisor (the task process's parent) dies too
             ``winbefore``    kill after the shim stored the child run_id, before the trigger call
             ``winafter``     kill right after the trigger call returned
             ``doublekill``   kill try 1 mid-wait, then try 2 mid-wait (retries=2)
             ``childfail``    no kill: the child run fails on its first run only (retries=1)
             ``mapped``       a mapped parent (3 indices, each its own conf): indices 0 and 1 killed
                              mid-wait
             ``clearwait``    no kill: the harness clears the task while it waits on its child
             ``clear``        no kill: once the parent succeeded the harness clears its task (REST API on
                              3.x, the CLI on 2.11) and the rerun triggers again
             ``recreate``     no kill: once the parent succeeded the harness deletes its DAG run and
                              triggers it again under the same run_id; the new run triggers its own child
    CeleryExecutor (celery_cases.py):
             ``sigkill``      the harness SIGKILLs the whole Celery worker running the waiting parent
             ``sigterm``      the harness sends that worker SIGTERM (Celery's warm shutdown)
             ``schedkill``    the harness SIGKILLs the scheduler while the parent waits, then restarts it
             ``load``         one of the parents of the load case (workers killed at random)
             ``loadmap``      the load case's mapped parent (3 indices, each with its own child run)
    On Celery a worker that dies takes the child tasks it runs with it, as a lost host does; the child
    task retries there (so the child *run* survives a lost worker, as a production DAG with retries
    does), and the parent's retry finds that child run still running.
The shim operator is ``airflow_trigger_compat.TriggerDagRunOperator``. ``E2E_SHIM_PACKAGE`` (the runtime,
e.g. a provider's vendored copy) and ``E2E_SHIM_OPERATOR`` (``module:Class``, e.g. that provider's own
operator) point the shim cases elsewhere; ``nox -s "provider(3.3)"`` sets both.
The window cases wrap the shim's trigger seam (``<runtime>._ports.SupervisorPort.trigger`` on 3.x,
``OrmPort.trigger`` on 2.11): on try 1 the wrapper writes a marker file and sleeps, the harness sees the
marker and kills the process.

Settings come from the environment the harness starts Airflow with (E2E_*, CELERY_*), so every Airflow process
parses the same DAGs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import time

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator as StockOperator

SHIM_RUNTIME = os.environ.get("E2E_SHIM_PACKAGE") or "airflow_trigger_compat._runtime"
SHIM_OPERATOR = os.environ.get("E2E_SHIM_OPERATOR") or "airflow_trigger_compat:TriggerDagRunOperator"
try:
    _module, _, _name = SHIM_OPERATOR.partition(":")
    ShimOperator = getattr(importlib.import_module(_module), _name)
except ImportError:  # the shim is not installed: only the stock cases exist
    ShimOperator = None

CHILD_SLEEP = float(os.environ.get("E2E_CHILD_SLEEP", "20"))
# workerkill: the retry only starts after the heartbeat timeout (~20-25 s), so the child must outlive that
# for the retry to find it still running.
CHILD_SLEEP_WORKERKILL = float(os.environ.get("E2E_CHILD_SLEEP_WORKERKILL", "40"))
POKE_INTERVAL = int(os.environ.get("E2E_POKE_INTERVAL", "2"))
RETRY_DELAY = float(os.environ.get("E2E_RETRY_DELAY", "2"))
MAPPED = 3  # indices of the mapped parent; the harness kills 0 and 1
#: Celery: the child of a kill case outlives the kill, the heartbeat timeout and the retry's start
CELERY_CHILD_SLEEP = float(os.environ.get("CELERY_CHILD_SLEEP", "30"))
CELERY_LOAD_CHILD_SLEEP = float(os.environ.get("CELERY_LOAD_CHILD_SLEEP", "30"))
#: Celery's kill cases: one kill, so two retries are the bound the test asserts; the load case kills a
#: worker every 10-20 s for two minutes, so one task can be hit several times
CELERY_RETRIES = {"sigkill": 2, "sigterm": 2, "schedkill": 2, "load": 8, "loadmap": 8}
WINDOW_SLEEP = float(os.environ.get("E2E_WINDOW_SLEEP", "120"))
MARKER_DIR = os.environ.get("E2E_MARKER_DIR", "")
# "<case_id>,<case_id>,..." - the harness decides which cases exist for this run.
CASES = [c for c in os.environ.get("E2E_CASES", "").split(",") if c]

import airflow  # noqa: E402

SEAM_CLASS = "OrmPort" if airflow.__version__.startswith("2.") else "SupervisorPort"

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _child_sleep(seconds: float, fail_first: bool = False, marker: str = "") -> None:
    if fail_first and MARKER_DIR:
        path = os.path.join(MARKER_DIR, f"{marker}.child_failed_once")
        if not os.path.exists(path):
            open(path, "w").close()
            raise RuntimeError("e2e: the child fails on its first run only")
    time.sleep(seconds)


def _write_marker(dag_id: str, run_id: str, phase: str, try_number: int, child_run_id: str | None) -> None:
    if not MARKER_DIR:
        return
    payload = {
        "pid": os.getpid(),
        "phase": phase,
        "try": try_number,
        "t": time.time(),
        "run_id": run_id,
        "child_run_id": child_run_id,
    }
    name = f"{dag_id}.{phase}.{try_number}.json"
    tmp = os.path.join(MARKER_DIR, f".{name}.tmp")
    with open(tmp, "w") as fh:
        json.dump(payload, fh)
    os.replace(tmp, os.path.join(MARKER_DIR, name))


@contextlib.contextmanager
def _window(dag_id: str, run_id: str, try_number: int, where: str):
    """Wrap the shim's trigger seam for the duration of one execute() call."""
    port = getattr(importlib.import_module(f"{SHIM_RUNTIME}._ports"), SEAM_CLASS)
    original = port.trigger

    def wrapped(self, request, child_run_id, **kwargs):
        _write_marker(dag_id, run_id, "seam_called", try_number, child_run_id)
        if where == "winbefore" and try_number == 1:
            _write_marker(dag_id, run_id, "window", try_number, child_run_id)
            time.sleep(WINDOW_SLEEP)
        result = original(self, request, child_run_id, **kwargs)
        if where == "winafter" and try_number == 1:
            _write_marker(dag_id, run_id, "window", try_number, child_run_id)
            time.sleep(WINDOW_SLEEP)
        return result

    port.trigger = wrapped
    try:
        yield
    finally:
        port.trigger = original


def _operator_class(variant: str, kill: str):
    base = StockOperator if variant == "stock" else ShimOperator
    if kill not in ("winbefore", "winafter"):
        return base

    class WindowedTrigger(base):  # type: ignore[misc,valid-type]
        def execute(self, context):
            ti = context["ti"]
            with _window(ti.dag_id, context["run_id"], int(ti.try_number), kill):
                return super().execute(context)

    WindowedTrigger.__name__ = f"Windowed{base.__name__}"
    return WindowedTrigger


def _make(case_id: str) -> None:
    variant, kill, _n = case_id.split("__")
    if variant != "stock" and ShimOperator is None:
        return
    parent_id = f"e2e_parent__{case_id}"
    child_id = f"e2e_child__{case_id}"
    retries = CELERY_RETRIES.get(kill, 2 if kill == "doublekill" else 1)
    default_args = {"retries": retries, "retry_delay": dt.timedelta(seconds=RETRY_DELAY)}
    celery = kill in CELERY_RETRIES
    common = {"schedule": None, "start_date": START, "catchup": False, "is_paused_upon_creation": False}

    # Celery: the child task retries too (a killed worker takes it with it)
    with DAG(dag_id=child_id, tags=["e2e"], default_args=default_args if celery else {}, **common) as child:
        PythonOperator(
            task_id="sleep",
            python_callable=_child_sleep,
            op_kwargs={
                "seconds": _child_seconds(kill),
                "fail_first": kill == "childfail",
                "marker": child_id,
            },
        )
    globals()[child_id] = child

    kwargs = {} if variant == "stock" else {"durable": variant == "shim_durable"}
    with DAG(
        dag_id=parent_id,
        tags=["e2e"],
        default_args=default_args,
        max_active_runs=16 if celery else 8,
        **common,
    ) as parent:
        trigger = {"task_id": "trigger", "trigger_dag_id": child_id, "wait_for_completion": True}
        trigger |= {"poke_interval": POKE_INTERVAL, **kwargs}
        if kill in ("mapped", "loadmap"):
            conf = [{"e2e_parent_run_id": "{{ run_id }}", "item": i} for i in range(MAPPED)]
            _operator_class(variant, kill).partial(**trigger).expand(conf=conf)
        else:
            _operator_class(variant, kill)(conf={"e2e_parent_run_id": "{{ run_id }}"}, **trigger)
    globals()[parent_id] = parent


def _child_seconds(kill: str) -> float:
    """How long the case's child runs: it must outlive every retry the harness waits for."""
    if kill in CELERY_RETRIES:
        return CELERY_LOAD_CHILD_SLEEP if kill in ("load", "loadmap") else CELERY_CHILD_SLEEP
    seconds = CHILD_SLEEP_WORKERKILL if kill in _WORKERKILL_KINDS else CHILD_SLEEP
    # doublekill: the child must outlive two retries (on 3.0.0 try 2 finished first with 40 s; on 3.3.2 in
    # CI, under load, with 20 s: the child succeeded before the harness could kill try 2)
    return 2 * seconds if kill == "doublekill" else seconds


# Where the retry waits for a timeout: 3.0 (its supervisor fails a killed task process without retry, so
# every kill there is a worker kill: the heartbeat timeout) and 2.11 (the zombie detection, every 20 s
# there: the harness's ZOMBIE_DETECTION_INTERVAL_S).
if airflow.__version__.startswith("3.0."):
    _WORKERKILL_KINDS: tuple[str, ...] = ("workerkill", "doublekill", "mapped", "winafter")
elif airflow.__version__.startswith("2."):
    _WORKERKILL_KINDS = ("midwait", "doublekill", "mapped", "winafter")
else:
    _WORKERKILL_KINDS = ("workerkill",)

for _case in CASES:
    _make(_case)

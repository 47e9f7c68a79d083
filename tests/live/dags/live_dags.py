"""DAGs for the live crash tests (tests/live), on LocalExecutor and on CeleryExecutor.

One parent DAG per case, each with its own child DAG, so the child runs a parent run caused are the runs
of its child DAG (the conf marker ``e2e_parent_run_id`` double-checks it). Case ids:
``<variant>__<kind>__<n>``, variant ``stock`` (the standard provider's operator), ``shim_nodur`` or
``shim_durable`` (this package's, durable=False / True); kind, where the harness:

* LocalExecutor: ``midwait`` kills the task process while it polls its child run; ``workerkill`` its
  supervisor too; ``winbefore`` / ``winafter`` kill it in a window (a marker file, then a sleep) before
  or right after the shim's trigger seam (``<runtime>._ports.SupervisorPort.trigger``, 2.11:
  ``OrmPort.trigger``); ``doublekill`` kills try 1 and try 2 mid-wait (retries=2); ``mapped``: indices
  0 and 1 of 3 mid-wait; no kill: ``childfail`` (the child fails on its first run only), ``clearwait``
  (the task is cleared while it waits), ``clear`` (cleared after success), ``recreate`` (the parent run
  deleted and triggered again under its run_id);
* CeleryExecutor: ``sigkill`` / ``sigterm`` the worker running the waiting parent, ``schedkill`` the
  scheduler; ``load`` / ``loadmap`` (3 indices): the load case's parents. The child task retries there
  too: a dying worker takes it with it, as a lost host does.

``E2E_SHIM_PACKAGE`` (the runtime, e.g. a provider's vendored copy) and ``E2E_SHIM_OPERATOR``
(``module:Class``) point the shim cases elsewhere (``nox -s "provider(3.3)"``). Settings come from the
environment the harness starts Airflow with (E2E_*, CELERY_*), so every Airflow process parses the same.
"""

from __future__ import annotations

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


def _window(dag_id: str, child_run_id: str | None) -> None:
    """Tell the harness this process is in its window (its pid, the child run_id); wait for the kill."""
    path = os.path.join(MARKER_DIR, f"{dag_id}.window.1.json")
    with open(path + ".tmp", "w") as fh:
        json.dump({"pid": os.getpid(), "child_run_id": child_run_id}, fh)
    os.replace(path + ".tmp", path)
    time.sleep(WINDOW_SLEEP)


def _operator_class(variant: str, kill: str):
    base = StockOperator if variant == "stock" else ShimOperator
    if kill not in ("winbefore", "winafter"):
        return base

    class WindowedTrigger(base):  # type: ignore[misc,valid-type]
        """Try 1 stops in its window, before or after the shim's trigger seam, until the harness kills it."""

        def execute(self, context):
            port = getattr(importlib.import_module(f"{SHIM_RUNTIME}._ports"), SEAM_CLASS)
            original, dag_id, try1 = port.trigger, context["ti"].dag_id, int(context["ti"].try_number) == 1

            def wrapped(port_self, request, child_run_id, **kwargs):
                if try1 and kill == "winbefore":
                    _window(dag_id, child_run_id)
                result = original(port_self, request, child_run_id, **kwargs)
                if try1 and kill == "winafter":
                    _window(dag_id, child_run_id)
                return result

            port.trigger = wrapped
            try:
                return super().execute(context)
            finally:
                port.trigger = original

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

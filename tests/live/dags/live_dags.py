"""DAGs for the live crash tests (tests/live), on LocalExecutor and on CeleryExecutor.

One parent DAG per case, each with its own child DAG, so the child runs a parent run caused are the runs
of its child DAG (the conf marker ``e2e_parent_run_id`` double-checks it). Case ids are
``<variant>__<kind>__<n>``: variant ``stock`` (the standard provider's operator), ``shim_nodur`` or
``shim_durable`` (this package's, durable=False / True); what each kind does is the harness's
(``local_cases.py``, ``celery_cases.py``). The harness decides everything else too, in ``E2E_SETTINGS``
(every Airflow process parses the same): the cases and how long each child sleeps at most, the poke
interval, the retry delay, the marker directory.

A child sleeps until the harness releases it (a marker file) or its time is up, so it is still running
when a retry looks for it, whatever the load. ``winbefore`` / ``winafter`` parents stop try 1 in a
window and tell the harness (a marker file: the pid, the child run_id) to kill them there. ``winbefore``:
the run_id is kept (3.3+: in the task_state_store; below: derived) and nothing is triggered yet, i.e. on
entry to stock's path module's ``execute`` (``_strategies.<entry.path>``), which durable's leaf calls with
the kept run_id (``_strategies.accessor``'s where the Task SDK has ``ti.trigger_dag_run()``: nox -s
accessor). ``winafter``: the child run exists and the parent has recorded nothing else; on 3.x the
task runner (or, with the accessor, the operator) has triggered it and is about to push the
``trigger_run_id`` XCom (the window is entered from
``RuntimeTaskInstance.xcom_push``: Airflow's private runner, test code only), on 2.11 ``OrmPort.trigger``
has returned.
``E2E_SHIM_PACKAGE`` (the runtime, e.g. a provider's vendored copy) and ``E2E_SHIM_OPERATOR``
(``module:Class``) point the shim cases elsewhere (``nox -s "provider(3.3)"``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import time

try:  # Airflow 3
    from airflow.sdk import DAG

    AIRFLOW3 = True
except ImportError:  # Airflow 2
    from airflow import DAG

    AIRFLOW3 = False

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator as StockOperator

SHIM_RUNTIME = os.environ.get("E2E_SHIM_PACKAGE") or "airflow_trigger_compat._runtime"
SHIM_OPERATOR = os.environ.get("E2E_SHIM_OPERATOR") or "airflow_trigger_compat:TriggerDagRunOperator"
try:
    _module, _, _name = SHIM_OPERATOR.partition(":")
    ShimOperator = getattr(importlib.import_module(_module), _name)
except ImportError:  # the shim is not installed: only the stock cases exist
    ShimOperator = None

SETTINGS = json.loads(os.environ.get("E2E_SETTINGS") or '{"cases": {}}')
MARKERS = SETTINGS.get("markers", "")
MAPPED = 3  # indices of the mapped parents; the harness kills 0 and 1
#: Celery: a dying worker takes the child task with it, as a lost host does, so it retries too; the load
#: case kills a worker every 10-20 s for two minutes, so one task can be hit several times
CELERY_RETRIES = {"sigkill": 2, "sigterm": 2, "schedkill": 2, "load": 8, "loadmap": 8}
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _child(seconds: float, fail_first: bool, child_dag_id: str) -> None:
    """The child's work: until the harness releases it (``<child_dag_id>.release``), at most ``seconds``."""
    failed = os.path.join(MARKERS, f"{child_dag_id}.child_failed_once")
    if fail_first and not os.path.exists(failed):
        open(failed, "w").close()
        raise RuntimeError("e2e: the child fails on its first run only")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not os.path.exists(
        os.path.join(MARKERS, f"{child_dag_id}.release")
    ):
        time.sleep(0.2)


def _window(dag_id: str, child_run_id: str | None) -> None:
    """Tell the harness this process is in its window (its pid, the child run_id); wait for the kill."""
    path = os.path.join(MARKERS, f"{dag_id}.window.1.json")
    with open(path + ".tmp", "w") as fh:
        json.dump({"pid": os.getpid(), "child_run_id": child_run_id}, fh)
    os.replace(path + ".tmp", path)
    time.sleep(600)


def _path_module():
    """Stock's path module on this Airflow (``_strategies.<entry.path>``): durable's leaf triggers through its
    ``execute``, looked up on the module at each call."""
    runtime = importlib.import_module(SHIM_RUNTIME)
    return importlib.import_module(f"{SHIM_RUNTIME}._strategies.{runtime.select_row().entry.path}")


def _trigger_module(path):
    """The module durable's leaf triggers the kept run_id through (``Route.trigger``): stock's path module,
    or ``_strategies.accessor`` where the Task SDK has ``ti.trigger_dag_run()`` (apache/airflow#69135)."""
    accessor = importlib.import_module(f"{SHIM_RUNTIME}._airflow").has_trigger_accessor()
    if accessor and path.__name__.endswith(".runner_exception"):
        return importlib.import_module(f"{SHIM_RUNTIME}._strategies.accessor")
    return path


def _enter_window(kill: str, context) -> None:
    """Make try 1 stop in its window. Patches that live as long as the try's process: it is killed there."""
    dag_id, path = context["ti"].dag_id, _path_module()
    if kill == "winbefore":  # the run_id kept, nothing triggered
        module = _trigger_module(path)
        trigger = module.execute

        def before(operator, ctx, request, route):
            _window(dag_id, request.run_id)
            return trigger(operator, ctx, request, route)

        module.execute = before
    elif AIRFLOW3:  # the runner triggered the run; its next step records its run_id (an XCom)
        cls = type(context["ti"])
        push = cls.xcom_push

        def after(ti, key, value):
            if key == "trigger_run_id":
                _window(dag_id, value)
            return push(ti, key, value)

        cls.xcom_push = after
    else:  # Airflow 2: the operator's own trigger through the ORM returned the run
        port, orm_trigger = path.Port, path.Port.trigger

        def returned(port_self, request):
            dag_run = orm_trigger(port_self, request)
            _window(dag_id, dag_run.run_id)
            return dag_run

        port.trigger = returned


def _operator_class(variant: str, kill: str):
    base = StockOperator if variant == "stock" else ShimOperator
    if kill not in ("winbefore", "winafter"):
        return base

    class WindowedTrigger(base):  # type: ignore[misc,valid-type]
        """Try 1 stops in its window (before the trigger, or right after it) until the harness kills it."""

        def execute(self, context):
            if int(context["ti"].try_number) == 1:
                _enter_window(kill, context)
            return super().execute(context)

    WindowedTrigger.__name__ = f"Windowed{base.__name__}"
    return WindowedTrigger


def _make(case_id: str, child_seconds: float) -> None:
    variant, kill, _n = case_id.split("__")
    if variant != "stock" and ShimOperator is None:
        return
    parent_id, child_id = f"e2e_parent__{case_id}", f"e2e_child__{case_id}"
    retries = CELERY_RETRIES.get(kill, 2 if kill == "doublekill" else 1)
    default_args = {"retries": retries, "retry_delay": dt.timedelta(seconds=SETTINGS["retry_delay_s"])}
    celery = kill in CELERY_RETRIES
    common = {"schedule": None, "start_date": START, "catchup": False, "is_paused_upon_creation": False}

    with DAG(dag_id=child_id, tags=["e2e"], default_args=default_args if celery else {}, **common) as child:
        kwargs = {"seconds": child_seconds, "fail_first": kill == "childfail", "child_dag_id": child_id}
        PythonOperator(task_id="sleep", python_callable=_child, op_kwargs=kwargs)
    globals()[child_id] = child

    max_runs = 16 if celery else 8
    with DAG(
        dag_id=parent_id, tags=["e2e"], default_args=default_args, max_active_runs=max_runs, **common
    ) as p:
        trigger = {"task_id": "trigger", "trigger_dag_id": child_id, "wait_for_completion": True}
        trigger |= {"poke_interval": SETTINGS["poke_interval"]}
        trigger |= {} if variant == "stock" else {"durable": variant == "shim_durable"}
        if kill in ("mapped", "loadmap"):
            conf = [{"e2e_parent_run_id": "{{ run_id }}", "item": i} for i in range(MAPPED)]
            _operator_class(variant, kill).partial(**trigger).expand(conf=conf)
        else:
            _operator_class(variant, kill)(conf={"e2e_parent_run_id": "{{ run_id }}"}, **trigger)
    globals()[parent_id] = p


for _case, _seconds in SETTINGS["cases"].items():
    _make(_case, _seconds)

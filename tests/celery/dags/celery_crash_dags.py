"""DAGs for the crash test on CeleryExecutor (tests/celery).

One parent DAG per case, each with its own child DAG, so the child runs a parent run caused are the runs
of its child DAG (the conf marker ``e2e_parent_run_id`` double-checks it). The DAG ids follow the
LocalExecutor crash test's (``e2e_parent__<case>``, ``e2e_child__<case>``), so its harness reads them.

Case ids: ``<variant>__<kind>__<n>``
    variant: ``stock``         airflow.providers.standard TriggerDagRunOperator
             ``shim_nodur``    airflow_trigger_compat's operator, durable=False
             ``shim_durable``  airflow_trigger_compat's operator, durable=True
    kind:    ``sigkill``       the harness SIGKILLs the whole Celery worker running the waiting parent
             ``sigterm``       the harness sends that worker SIGTERM (Celery's warm shutdown)
             ``schedkill``     the harness SIGKILLs the scheduler while the parent waits, then restarts it
             ``load``          one of the parents of the load case (workers killed at random)
             ``loadmap``       the load case's mapped parent (3 indices, each with its own child run)

A worker that dies takes the child tasks it runs with it, as a lost host does; the child task retries
(so the child *run* survives a lost worker, as a production DAG with retries does), and the parent's
retry finds that child run still running.

Settings come from the environment the harness starts Airflow with (E2E_* / CELERY_*), so every
Airflow process parses the same DAGs.
"""

from __future__ import annotations

import datetime as dt
import os
import time

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator as StockOperator

try:
    from airflow_trigger_compat import TriggerDagRunOperator as ShimOperator
except ImportError:  # the package is not installed: only the stock cases exist
    ShimOperator = None

#: the child of a kill case outlives the kill, the heartbeat timeout and the retry's start
CHILD_SLEEP = float(os.environ.get("CELERY_CHILD_SLEEP", "30"))
LOAD_CHILD_SLEEP = float(os.environ.get("CELERY_LOAD_CHILD_SLEEP", "30"))
POKE_INTERVAL = int(os.environ.get("E2E_POKE_INTERVAL", "2"))
RETRY_DELAY = float(os.environ.get("E2E_RETRY_DELAY", "2"))
#: the kill cases: one kill, so two retries are the bound the test asserts; the load case kills a worker
#: every 10-20 s for two minutes, so one task can be hit several times
KILL_RETRIES = 2
LOAD_RETRIES = 8
MAPPED = 3
CASES = [c for c in os.environ.get("E2E_CASES", "").split(",") if c]

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _child_sleep(seconds: float) -> None:
    time.sleep(seconds)


def _make(case_id: str) -> None:
    variant, kind, _n = case_id.split("__")
    if variant != "stock" and ShimOperator is None:
        return
    load = kind in ("load", "loadmap")
    retries = LOAD_RETRIES if load else KILL_RETRIES
    default_args = {"retries": retries, "retry_delay": dt.timedelta(seconds=RETRY_DELAY)}
    parent_id = f"e2e_parent__{case_id}"
    child_id = f"e2e_child__{case_id}"

    with DAG(
        dag_id=child_id,
        schedule=None,
        start_date=START,
        catchup=False,
        is_paused_upon_creation=False,
        max_active_runs=16,
        default_args=default_args,
        tags=["e2e", "celery"],
    ) as child:
        PythonOperator(
            task_id="sleep",
            python_callable=_child_sleep,
            op_kwargs={"seconds": LOAD_CHILD_SLEEP if load else CHILD_SLEEP},
        )
    globals()[child_id] = child

    operator = StockOperator if variant == "stock" else ShimOperator
    kwargs = {} if variant == "stock" else {"durable": variant == "shim_durable"}
    with DAG(
        dag_id=parent_id,
        schedule=None,
        start_date=START,
        catchup=False,
        is_paused_upon_creation=False,
        default_args=default_args,
        tags=["e2e", "celery"],
    ) as parent:
        if kind == "loadmap":
            operator.partial(
                task_id="trigger",
                trigger_dag_id=child_id,
                wait_for_completion=True,
                poke_interval=POKE_INTERVAL,
                **kwargs,
            ).expand(conf=[{"e2e_parent_run_id": "{{ run_id }}", "item": i} for i in range(MAPPED)])
        else:
            operator(
                task_id="trigger",
                trigger_dag_id=child_id,
                conf={"e2e_parent_run_id": "{{ run_id }}"},
                wait_for_completion=True,
                poke_interval=POKE_INTERVAL,
                **kwargs,
            )
    globals()[parent_id] = parent


for _case in CASES:
    _make(_case)

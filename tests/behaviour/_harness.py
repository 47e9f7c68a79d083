"""Drive a real parent task through the installed Airflow's own task execution, and read back what it did.

Everything that differs between Airflow versions lives here, each difference probed (import or
signature), never routed on a version number: the test file is the same for every version.

* The parent runs through ``dag.test()``: on 3.x that is the Task SDK task runner against the in-process
  execution API (``run_task_in_process``); on 2.11 it is ``TaskInstance._run_raw_task``. Deferred tasks
  have their trigger run in-process by ``dag.test()`` itself on both.
* A child run is finished "the way the scheduler would": a watcher thread sets the child DagRun's state in
  the metadata DB once it exists and is not finished yet.
* The metadata DB is SQLite, created once per pytest session (see conftest).
* Where dag.test()'s in-process stand-ins differ from a real worker in a way a scenario can see, the
  harness makes them behave like the worker (on 3.0, ``give_inline_triggers_a_supervisor``), probed
  and explained where it is defined.
* Every parent run has a bound (``run_parent(timeout=...)``) that ends it for certain: an inline trigger
  runs under it in a thread of its own (``bound_inline_triggers``), anything else is interrupted.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

UTC = datetime.timezone.utc
CHILD_DAG_ID = "compat_child"
PAUSED_CHILD_DAG_ID = "compat_child_paused"
TASK_ID = "trigger"
FINISHED = ("success", "failed")

# Unique logical dates: a child DagRun is unique per (dag_id, logical_date) as well as per run_id.
_BASE = datetime.datetime(2031, 1, 1, tzinfo=UTC)
_counter = itertools.count(1)


def unique_date() -> datetime.datetime:
    return _BASE + datetime.timedelta(hours=next(_counter))


# ---------------------------------------------------------------------------------------------------------
# The metadata DB and DAG registration
# ---------------------------------------------------------------------------------------------------------


def init_db() -> None:
    """Create the schema from the ORM (what ``airflow db migrate`` does on an empty DB)."""
    from airflow.utils import db

    db.initdb()


def reuse_in_process_api() -> None:
    """Build the in-process execution API once per session, as Airflow 3.3 does upstream.

    dag.test() on 3.0-3.2 builds a new FastAPI execution API app for every task it runs (3-10 s each);
    3.3 caches it (``functools.lru_cache`` on ``supervisor.in_process_api_server``). Do the same here.
    """
    import functools

    try:
        from airflow.sdk.execution_time import supervisor
    except ImportError:  # Airflow 2: no Task SDK
        return
    factory = getattr(supervisor, "in_process_api_server", None)
    if factory is not None and not hasattr(factory, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(factory)


def warm_up() -> None:
    """Run one trivial task through dag.test(), so no scenario pays the first-task cost.

    The first task a process runs pays for building the in-process execution API and its first requests
    (3-9 s on 3.x); without this, whichever scenario runs first looks slow.
    """
    from airflow.providers.standard.operators.empty import EmptyOperator

    with dag_class()("compat_warm_up", schedule=None, start_date=_BASE, catchup=False) as dag:
        EmptyOperator(task_id="nothing")
    sync_dags([dag])
    date_kw = "logical_date" if "logical_date" in inspect.signature(dag.test).parameters else "execution_date"
    dag.test(**{date_kw: unique_date()})


def give_inline_triggers_a_supervisor() -> None:
    """Airflow 3.0: let dag.test() run a deferred task's trigger with a supervisor channel.

    3.0's ``dag._run_inline_trigger(trigger)`` runs the trigger with no ``SUPERVISOR_COMMS``, so a
    ``DagStateTrigger`` dies with ``NameError: SUPERVISOR_COMMS`` (a real triggerer has the channel).
    3.1 fixed it upstream with ``InProcessTestSupervisor.run_trigger_in_process``; this is the same
    thing for 3.0, applied only where that method is missing.
    """
    try:
        from airflow.sdk.definitions import dag as dag_module
        from airflow.sdk.execution_time import supervisor
    except ImportError:  # Airflow 2: triggers read the DB directly
        return
    test_supervisor = supervisor.InProcessTestSupervisor
    if hasattr(test_supervisor, "run_trigger_in_process"):
        return

    def run_inline_trigger(trigger: Any) -> Any:
        import asyncio
        import os
        import uuid

        import attrs
        import psutil
        import structlog

        # task-sdk 1.0.0-1.0.2 also take requests_fd (-1 in-process, as their own start() passes)
        extra = {"requests_fd": -1} if "_requests_fd" in attrs.fields_dict(test_supervisor) else {}
        process_supervisor = test_supervisor(
            id=uuid.uuid4(),
            pid=os.getpid(),
            process=psutil.Process(),
            process_log=structlog.get_logger(logger_name="task").bind(),
            client=test_supervisor._api_client(),
            **extra,
        )
        process_supervisor.comms = supervisor.InProcessSupervisorComms(supervisor=process_supervisor)

        async def first_event() -> Any:
            try:
                return await trigger.run().__anext__()
            except StopAsyncIteration:
                return None

        with supervisor.set_supervisor_comms(process_supervisor.comms):
            return asyncio.run(first_event())

    dag_module._run_inline_trigger = run_inline_trigger


def bound_inline_triggers() -> None:
    """Run every trigger dag.test() runs in line under the running parent's deadline.

    dag.test() runs a deferred task's trigger with ``asyncio.run`` in the main thread (3.1+:
    ``InProcessTestSupervisor.run_trigger_in_process``). A signal raised there may end in another
    asyncio task, or in a cancellation that waits on a thread, so the deadline's signal alone did not
    always end a trigger that never fires (a DagStateTrigger polling for a run it cannot find, tests(3.1.2)).
    Here the trigger runs in a thread of its own; the main thread waits for it with a timeout (the
    deadline's remaining time), then cancels it and raises ParentTimeout. No wait depends on a signal.
    """
    import importlib

    for name in ("airflow.sdk.definitions.dag", "airflow.models.dag"):  # Airflow 3, then 2
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if hasattr(module, "_run_inline_trigger"):
                break
    else:
        raise RuntimeError("no dag.test() inline trigger runner (_run_inline_trigger) found in this Airflow")
    original = module._run_inline_trigger
    if getattr(original, "bounded", False):
        return

    running: dict[str, Any] = {}  # the loop and task of the trigger running now

    def run_inline_trigger(trigger: Any, *args: Any) -> Any:
        deadline = _Deadline.current
        if deadline is None:
            return original(trigger, *args)
        return _run_bounded(lambda: original(_cancellable(trigger, running), *args), deadline, running)

    run_inline_trigger.bounded = True  # type: ignore[attr-defined]
    module._run_inline_trigger = run_inline_trigger


def _cancellable(trigger: Any, running: dict[str, Any]) -> Any:
    """The trigger, its ``run()`` noting the event loop and task it runs in (to cancel it from outside)."""
    import asyncio

    run = trigger.run

    async def noted() -> Any:
        running.update(loop=asyncio.get_running_loop(), task=asyncio.current_task())
        async for event in run():
            yield event

    trigger.run = noted
    return trigger


def _run_bounded(call: Callable[[], Any], deadline: _Deadline, running: dict[str, Any]) -> Any:
    """``call()`` in a thread; the main thread waits until the deadline, then cancels it (never left running
    with the supervisor channel it set, whatever ends the wait) and raises ParentTimeout."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    running.clear()
    thread = threading.Thread(target=target, name="inline-trigger", daemon=True)
    deadline.own_wait = True  # this wait ends itself: the deadline's signal stays out of it
    try:
        thread.start()
        thread.join(max(deadline.remaining(), 0.0))
    finally:
        if thread.is_alive():
            loop, task = running.get("loop"), running.get("task")
            if loop is not None and task is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed in between
                    loop.call_soon_threadsafe(task.cancel)
            thread.join(10.0)  # a cancelled trigger ends at its next await
        deadline.own_wait = False
    if thread.is_alive():
        raise RuntimeError("an inline trigger ignored its cancellation for 10 s; it still runs")
    if deadline.remaining() <= 0:
        deadline.expire()  # cancelled at the deadline (or fired right at it): over the bound either way
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def dag_class() -> type:
    try:
        from airflow.sdk import DAG  # Airflow 3
    except ImportError:
        from airflow.models.dag import DAG  # Airflow 2
    return DAG


def sync_dags(dags: list[Any]) -> None:
    """Write DAGs defined in this process to the metadata DB, as the DAG processor would."""
    import tempfile

    with tempfile.TemporaryDirectory() as empty:
        try:  # Airflow 3.2+
            from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
        except ImportError:
            try:  # Airflow 3.1
                from airflow.models.dagbag import DagBag, sync_bag_to_db
            except ImportError:  # Airflow 3.0 and 2.11: a method on DagBag
                from airflow.models.dagbag import DagBag

                sync_bag_to_db = None
        # Examples are off (AIRFLOW__CORE__LOAD_EXAMPLES); 3.3 dropped the include_examples argument.
        bag = DagBag(dag_folder=empty)
        for dag in dags:
            # Set by DagBag when it parses a file; 3.0 needs it to serialise a DAG built in-process.
            with contextlib.suppress(AttributeError):
                if getattr(dag, "relative_fileloc", None) is None:
                    dag.relative_fileloc = "behaviour_tests.py"
            if "root_dag" in inspect.signature(bag.bag_dag).parameters:  # Airflow 2
                bag.bag_dag(dag, root_dag=dag)
            else:
                bag.bag_dag(dag)
        try:
            from airflow.dag_processing.bundles.manager import DagBundlesManager
        except ImportError:  # Airflow 2: no bundles
            bag.sync_to_db()
            return
        DagBundlesManager().sync_bundles_to_db()
        if sync_bag_to_db is not None:
            sync_bag_to_db(bag, "dags-folder", None)
        else:
            bag.sync_to_db("dags-folder", None)


def make_child_dags() -> list[Any]:
    from airflow.providers.standard.operators.empty import EmptyOperator

    dags = []
    for dag_id in (CHILD_DAG_ID, PAUSED_CHILD_DAG_ID):
        with dag_class()(dag_id, schedule=None, start_date=_BASE, catchup=False) as dag:
            EmptyOperator(task_id="work")
        dags.append(dag)
    return dags


def set_paused(dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))


@contextlib.contextmanager
def default_timezone(name: str) -> Iterator[None]:
    """Airflow's ``[core] default_timezone`` for this block (how ``timezone.parse`` reads a naive string)."""
    import sys

    import pendulum

    tz = pendulum.timezone(name)
    targets = [(sys.modules["airflow.settings"], "TIMEZONE")]
    for module_name, module in list(sys.modules.items()):
        if module_name.endswith("timezones.timezone") and hasattr(module, "_Timezone"):
            targets.append((module._Timezone, "initialized_timezone"))  # Airflow 3.2+
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr in targets if hasattr(obj, attr)]
    for obj, attr, _ in saved:
        setattr(obj, attr, tz)
    try:
        yield
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)


# ---------------------------------------------------------------------------------------------------------
# Reading back
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    run_id: str
    state: str
    conf: dict[str, Any] | None
    logical_date: datetime.datetime | None
    note: str | None
    #: ``None`` where the version has no run_after column (Airflow 2).
    run_after: datetime.datetime | None


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def child_runs(dag_id: str = CHILD_DAG_ID, run_id: str | None = None) -> list[ChildRun]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == dag_id)
        if run_id is not None:
            query = query.where(DagRun.run_id == run_id)
        rows = session.scalars(query).all()
        return [
            ChildRun(
                run_id=dr.run_id,
                state=str(_value(dr.state)),
                conf=dr.conf,
                logical_date=_aware(getattr(dr, "logical_date", None) or getattr(dr, "execution_date", None)),
                note=dr.note,
                run_after=_aware(getattr(dr, "run_after", None)),
            )
            for dr in rows
        ]


def delete_child_runs(run_ids: set[str], dag_id: str = CHILD_DAG_ID) -> None:
    """Delete these child runs (with their task instances), so the next side starts from the same DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if not run_ids:
        return
    with create_session() as session:
        for dr in session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id.in_(run_ids))):
            session.delete(dr)


def set_child_state(run_id: str, state: str, dag_id: str = CHILD_DAG_ID) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dr = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        dr.set_state(state)


def _value(state: Any) -> Any:
    return getattr(state, "value", state)


def _xcom(dag_id: str, run_id: str, key: str) -> Any:
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.xcom import XComModel  # Airflow 3: the ORM model
    except ImportError:  # Airflow 2: the XCom class reads and deserialises itself
        from airflow.models.xcom import XCom

        return XCom.get_one(dag_id=dag_id, run_id=run_id, task_id=TASK_ID, key=key)
    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == TASK_ID,
                XComModel.key == key,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def task_state(dag_id: str, run_id: str, key: str, task_id: str = TASK_ID) -> Any:
    """The parent task's ``task_state_store`` value for ``key`` (``None`` when unset), read from the DB.

    Airflow 3.3+: the same server-side backend (``airflow.state.get_state_backend()``, the
    ``task_state_store`` table by default) that the execution API's task-state-store routes write when a
    task calls ``context["task_state_store"].set()``. Rows are scoped to (dag run, task, map index), so
    every try of a task instance shares them. Values are stored as JSON.
    """
    import json

    from airflow._shared.state import TaskScope
    from airflow.state import get_state_backend

    raw = get_state_backend().get(TaskScope(dag_id=dag_id, run_id=run_id, task_id=task_id), key)
    return None if raw is None else json.loads(raw)


@contextlib.contextmanager
def task_log_warnings() -> Iterator[list[tuple[str, str]]]:
    """Collect the warning-and-above lines the task log gets, as (level, message), while the block runs.

    Airflow 2 logs through the stdlib ``airflow.task`` loggers; the 3.x task runner and operators log
    through structlog, caught by a processor put first in its live chain (loggers already made share that
    list, so a cached logger sees it too).
    """
    import logging

    lines: list[tuple[str, str]] = []
    levels = {"warning": "warning", "warn": "warning", "error": "error", "exception": "error"}

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING and record.name.startswith("airflow.task"):
                lines.append((record.levelname.lower(), record.getMessage()))

    def collect(logger: Any, method: str, event: Any) -> Any:
        name = str(event.get("logger_name") or event.get("logger") or getattr(logger, "name", ""))
        if method in levels and (name.startswith("task") or name.startswith("airflow.task")):
            args = event.get("positional_args")
            message = str(event.get("event"))
            lines.append((levels[method], message % args if args else message))
        return event

    handler = Collect()
    task_logger = logging.getLogger("airflow.task")
    task_logger.addHandler(handler)
    processors: list[Any] | None = None
    try:
        import structlog

        processors = structlog.get_config()["processors"]
        processors.insert(0, collect)
    except ImportError:  # Airflow 2
        pass
    try:
        yield lines
    finally:
        task_logger.removeHandler(handler)
        if processors is not None:
            processors.remove(collect)


# ---------------------------------------------------------------------------------------------------------
# Finishing the child, as the scheduler would
# ---------------------------------------------------------------------------------------------------------


class ChildFinisher:
    """Set every unfinished child run with one of the watched run_ids to its target state."""

    def __init__(
        self,
        targets: dict[str, str] | None = None,
        dag_id: str = CHILD_DAG_ID,
        interval: float = 0.05,
        *,
        new_runs: str | None = None,
        delay: float = 0.0,
    ) -> None:
        self.dag_id = dag_id
        self.interval = interval
        #: Read on every tick, so a test may add run_ids it only learns while the parent runs.
        self.targets: dict[str, str] = {} if targets is None else targets
        #: The state for every run created after the finisher started (a generated run_id, not known), or
        #: ``"deleted"`` to delete it instead (a run that disappears while the parent waits).
        self.new_runs = new_runs
        #: Seconds a run stays unfinished after the finisher first sees it (a child that takes a while).
        self.delay = delay
        self._seen: dict[str, float] = {}
        self.existing: set[str] = set(r.run_id for r in child_runs(dag_id)) if new_runs else set()
        self.finished: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="child-finisher", daemon=True)

    def __enter__(self) -> ChildFinisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # SQLite busy and the like: retry on the next tick
                self.tick()

    def tick(self) -> None:
        """Finish (or delete) every target run that is not finished yet, once."""
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        targets = dict(self.targets)  # a snapshot: the test thread may add to it
        if not targets and not self.new_runs:
            return
        with create_session() as session:
            query = select(DagRun).where(DagRun.dag_id == self.dag_id)
            if not self.new_runs:
                query = query.where(DagRun.run_id.in_(list(targets)))
            for dr in session.scalars(query).all():
                target = targets.get(dr.run_id)
                if target is None and dr.run_id not in self.existing:
                    target = self.new_runs
                if target is None or _value(dr.state) in FINISHED:
                    continue
                if time.monotonic() - self._seen.setdefault(dr.run_id, time.monotonic()) < self.delay:
                    continue
                if target == "deleted":
                    session.delete(dr)
                else:
                    dr.set_state(target)
                self.finished.append((dr.run_id, target))


# ---------------------------------------------------------------------------------------------------------
# Running a parent
# ---------------------------------------------------------------------------------------------------------


class _StopAfterFirstTry(BaseException):
    """Raised out of dag.test() (which swallows Exception) once the first try has ended."""


class LostWorker(BaseException):
    """Raise it in a try to end the try as a lost worker: nothing after the raise runs, as when it dies.

    A BaseException, so no ``except Exception`` on the way (the package's, dag.test()'s) treats it as an
    error of a call. Once it leaves the task, the harness does what the scheduler does for a task whose
    worker stopped heartbeating: the task instance, still running, becomes up_for_retry (failed without
    retries left), and dag.test() goes on. (Airflow 2.11's ``_run_raw_task`` records the failure itself,
    with the same result, before re-raising.) Raised inside the 3.x runner's trigger handler it must be
    caught there (test_trigger_dagrun.py does): 3.1 and 3.2's ``run()`` turn anything leaving that handler
    into an UnboundLocalError in their ``finally``. The task_state_store, XComs and child runs stay.
    """


def _lose_worker(ti: Any) -> None:
    """Mark a try whose worker was lost as the scheduler would (up_for_retry while it has retries left)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == ti.dag_id,
                TaskInstance.run_id == ti.run_id,
                TaskInstance.task_id == ti.task_id,
            )
        ).one()
        if str(_value(row.state)) not in ("running", "queued"):
            return  # Airflow 2.11: the task's own handler already recorded the failure
        retry = row.try_number <= row.max_tries
        row.state = TaskInstanceState.UP_FOR_RETRY if retry else TaskInstanceState.FAILED
        row.end_date = datetime.datetime.now(UTC)


class ParentTimeout(BaseException):
    """The parent did not finish in time (a wait that nothing released); raised in the main thread."""


class _Deadline:
    """Ends the parent's run with ParentTimeout once ``seconds`` have passed.

    Waits the harness runs itself (an inline trigger: ``bound_inline_triggers``) time out on their own.
    Everything else in the main thread is interrupted by SIGUSR2, raised as ParentTimeout, and sent again
    every second until the run has ended, so one exception swallowed on the way out (an asyncio task, a
    handler that catches BaseException) cannot keep it waiting. Not SIGALRM: Airflow's own
    ``execution_timeout`` uses that timer and would cancel this one. The 3.x task runner handles any
    BaseException raised inside the task as a task failure (it would then retry), so an expiry inside a
    try is raised again after that try, out of dag.test() itself.
    """

    #: The deadline of the parent running now (one at a time: dag.test() runs in the main thread).
    current: _Deadline | None = None
    _installed = False

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        #: True while the main thread is in a wait that ends itself at the deadline (_run_bounded)
        self.own_wait = False
        self._over = threading.Event()

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def check(self) -> None:
        if self.expired:
            raise ParentTimeout(f"the parent task did not finish within {self.seconds} s")

    def expire(self) -> None:
        self.expired = True
        self.check()

    @staticmethod
    def _on_signal(signum: int, frame: Any) -> None:
        deadline = _Deadline.current
        if deadline is not None and not deadline._over.is_set() and not deadline.own_wait:
            deadline.expire()

    def _watch(self) -> None:
        import signal

        if self._over.wait(max(self.remaining(), 0.0)):
            return
        while not self._over.is_set():
            os.kill(os.getpid(), signal.SIGUSR2)
            self._over.wait(1.0)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        import signal

        if not _Deadline._installed:  # installed once and kept: a late signal finds no deadline, and is void
            signal.signal(signal.SIGUSR2, _Deadline._on_signal)
            _Deadline._installed = True
        _Deadline.current = self
        watchdog = threading.Thread(target=self._watch, name="parent-deadline", daemon=True)
        watchdog.start()
        try:
            yield
        finally:
            self._over.set()
            watchdog.join()
            _Deadline.current = None


@dataclass
class ParentResult:
    dag_id: str
    run_id: str
    state: str | None
    try_number: int
    trigger_run_id: Any
    duration: float
    #: Per try: the TI state right after ``_run_task`` returned (up_for_retry, failed, success, ...).
    try_states: list[str] = field(default_factory=list)
    #: Per try: the exception the try ended with (``None`` when it ended without one).
    errors: list[BaseException | None] = field(default_factory=list)
    finished_children: list[tuple[str, str]] = field(default_factory=list)


def _dag_test_module() -> Any:
    import importlib

    for name in ("airflow.sdk.definitions.dag", "airflow.models.dag"):  # Airflow 3, then 2
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if hasattr(module, "_run_task"):
                return module
    raise RuntimeError("no dag.test() task driver (_run_task) found in this Airflow")


def _frameless(exc: BaseException | None) -> BaseException | None:
    """``exc`` without the tracebacks of its chain, to be kept: a frame can hold a DB cursor whose unfinished
    statement keeps SQLite's lock. (On 2.11, execution_timeout's SIGALRM inside a query, kept with its
    frames, failed the next writes with "database is locked" until the scenario's result was dropped.)"""
    seen: set[int] = set()
    link = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return exc


@contextlib.contextmanager
def _observe_tries(
    states: list[str], errors: list[BaseException | None], stop_after_first: bool, deadline: _Deadline
) -> Iterator[None]:
    """Record the TI state and the error after each try of the parent; optionally end dag.test() after try 1.

    The error: Airflow 2's ``_run_task`` re-raises the task's exception; on 3.x the in-process supervisor
    returns it (``TaskRunResult.error``), whichever handler of the task runner dealt with it.
    """
    module = _dag_test_module()
    original = module._run_task
    try:
        from airflow.sdk.execution_time import supervisor
    except ImportError:  # Airflow 2
        supervisor = None
    original_in_process = getattr(supervisor, "run_task_in_process", None)
    results: list[Any] = []

    def run_task_in_process(*args: Any, **kwargs: Any) -> Any:
        result = original_in_process(*args, **kwargs)
        results.append(result)
        return result

    def run_task(*args: Any, **kwargs: Any) -> Any:
        results.clear()
        error: BaseException | None = None
        try:
            return original(*args, **kwargs)
        except LostWorker as exc:
            error = exc
            _lose_worker(kwargs["ti"])
            return None
        except BaseException as exc:
            error = exc
            if type(exc).__name__ == "AirflowTaskTimeout":
                # Airflow 2: execution_timeout's error is a BaseException, which dag.test() does not catch
                # (it logs and goes on for an Exception). The task was already marked failed or
                # up_for_retry, as a worker would; go on, as the scheduler would, to the retry.
                return None
            raise
        finally:
            if error is None and results:
                error = getattr(results[-1], "error", None)
            errors.append(_frameless(error))
            states.append(str(_value(_ti_state(kwargs["ti"]))))
            deadline.check()
            if stop_after_first:
                raise _StopAfterFirstTry

    module._run_task = run_task
    if supervisor is not None:
        supervisor.run_task_in_process = run_task_in_process
    try:
        yield
    finally:
        module._run_task = original
        if supervisor is not None:
            supervisor.run_task_in_process = original_in_process


def _ti_state(ti: Any) -> Any:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == ti.dag_id,
                TaskInstance.run_id == ti.run_id,
                TaskInstance.task_id == ti.task_id,
            )
        )


def _parent_ti(dag_id: str, run_id: str) -> tuple[str | None, int]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).one()
        return (None if ti.state is None else str(_value(ti.state))), ti.try_number


def run_parent(
    dag_id: str,
    make_operator: Callable[..., Any],
    *,
    finish: dict[str, str] | None = None,
    finish_new: str | None = None,
    finish_delay: float = 0.0,
    retries: int = 0,
    stop_after_first_try: bool = False,
    timeout: float = 60,
    parent_date: datetime.datetime | None = None,
    **operator_kwargs: Any,
) -> ParentResult:
    """Build a one-task parent DAG, register it, run it with ``dag.test()`` and read back the outcome.

    ``finish`` maps child run_ids to the state the watcher sets once that run exists unfinished. The
    watcher reads this very dict while the parent runs, so a seam wrapper may add a run_id it just saw
    triggered (a generated one, not known in advance). ``finish_new`` is the state for every other child
    run created while the parent runs. ``parent_date`` (a new one by default) is the parent DAG run's
    logical date: dag.test() deletes a run of this DAG with that date and creates it again, same run_id.
    """
    from airflow.models.dagrun import DagRun

    with dag_class()(dag_id, schedule=None, start_date=_BASE, catchup=False) as dag:
        make_operator(
            task_id=TASK_ID,
            retries=retries,
            retry_delay=datetime.timedelta(seconds=0),
            **operator_kwargs,
        )
    sync_dags([dag])
    date_kw = "logical_date" if "logical_date" in inspect.signature(dag.test).parameters else "execution_date"
    states: list[str] = []
    errors: list[BaseException | None] = []
    start = time.perf_counter()
    finisher = ChildFinisher({} if finish is None else finish, new_runs=finish_new, delay=finish_delay)
    deadline = _Deadline(timeout)
    with (
        finisher,
        _observe_tries(states, errors, stop_after_first_try, deadline),
        deadline.running(),
        contextlib.suppress(_StopAfterFirstTry),
    ):
        dag.test(**{date_kw: parent_date or unique_date()})
    duration = time.perf_counter() - start
    run_id = _parent_run_id(DagRun, dag_id)
    state, try_number = _parent_ti(dag_id, run_id)
    return ParentResult(
        dag_id=dag_id,
        run_id=run_id,
        state=state,
        try_number=try_number,
        trigger_run_id=_xcom(dag_id, run_id, "trigger_run_id"),
        duration=duration,
        try_states=states,
        errors=errors,
        finished_children=list(finisher.finished),
    )


def _parent_run_id(DagRun: Any, dag_id: str) -> str:
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun.run_id).where(DagRun.dag_id == dag_id)).all()
    if len(runs) != 1:
        raise AssertionError(f"expected one run of {dag_id!r}, found {runs!r}")
    return runs[0]

"""The package's own contract inside a real Airflow: one file for every version.

What stock cannot be the oracle for: which path the registry routes to, and durable=True's crash recovery
(a try that dies at a chosen moment, the task_state_store, the reconnect). Everything a DAG author can
compare with the standard operator is in ``test_parity.py``. Each test runs a real parent task through the
installed Airflow's own task execution (see ``_harness``) and checks what happened from the outside. A
feature a version lacks is declared once, in the registry; ``not_applicable(feature)`` reads that
declaration and records it in the JSON result; ``test_declared_gap_matches_this_airflow`` holds each
declared gap to a probe of the installed Airflow and to stock's own refusal.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import importlib.metadata
import inspect
import itertools
import json
import os
import re
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import _harness
import pytest
from _harness import CHILD_DAG_ID, run_parent, unique_date

# The package under test (the installed one, or a vendored copy): never imported by name here.
from _subject import (
    STOCK_LACKS,
    STOCK_STALE_FIXES,
    DurableUnavailableWarning,
    RetryUnavailableWarning,
    StockOperator,
    TriggerCompatWarning,
    TriggerDagRunOperator,
    compat,
    differences,
    durable_port,
)

pytestmark = pytest.mark.behaviour

POKE = 0.2  # seconds; the harness finishes child runs within ~0.05 s of their creation
_ids = itertools.count(1)


@pytest.fixture
def ids(request: pytest.FixtureRequest, selection: object) -> tuple[str, str]:
    """A parent dag_id and a child run_id unique to this test."""
    n = next(_ids)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    return f"parent_{name}_{n}", f"child_{name}_{n}"


def trigger(dag_id: str, **kwargs: object) -> _harness.ParentResult:
    kwargs.setdefault("trigger_dag_id", CHILD_DAG_ID)
    kwargs.setdefault("poke_interval", POKE)
    return run_parent(dag_id, TriggerDagRunOperator, **kwargs)


def only_child(run_id: str, dag_id: str = CHILD_DAG_ID) -> _harness.ChildRun:
    runs = _harness.child_runs(dag_id, run_id)
    assert len(runs) == 1, f"expected one child run {run_id!r}, found {runs!r}"
    return runs[0]


@contextlib.contextmanager
def no_compat_warnings() -> Iterator[None]:
    """Fail if the package warns. Needed where a warning-turned-error would fail the task the same way.

    ``filterwarnings = error`` turns a warning inside execute() into an exception, which the task runner
    handles like any task error (up_for_retry, with retries): the outcome alone cannot tell.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TriggerCompatWarning)  # every other warning is still an error
        yield
    ours = [str(w.message) for w in caught if issubclass(w.category, TriggerCompatWarning)]
    assert ours == [], ours


# --- the environment ------------------------------------------------------------------------------------


def test_environment_is_the_expected_airflow(selection) -> None:
    import airflow

    # Every nox session sets it (tests(next): the version the resolver installed, read from the metadata
    # before the suite runs); without it this test could not fail, so it is required.
    expected = os.environ.get("AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW")
    assert expected, "AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW is not set: run the suite through its nox session"
    assert airflow.__version__ == expected
    assert selection.version.raw == airflow.__version__
    task_sdk = os.environ.get("AIRFLOW_TRIGGER_COMPAT_EXPECT_TASK_SDK")
    if task_sdk:  # nox -s accessor: the Task SDK built with ti.trigger_dag_run() replaced the pinned one
        assert importlib.metadata.version("apache-airflow-task-sdk") == task_sdk
        assert _has_accessor(), f"apache-airflow-task-sdk {task_sdk} has no ti.trigger_dag_run()"


def test_provider_parameters_match_the_installed_provider() -> None:
    """PROVIDER_PARAMETERS' "since" releases agree with the installed provider's real signature."""
    from airflow.providers.standard import __version__ as provider
    from packaging.version import Version

    expected_provider = os.environ.get("AIRFLOW_TRIGGER_COMPAT_EXPECT_PROVIDER")
    if expected_provider:
        assert provider == expected_provider
    parameters = differences.PROVIDER_PARAMETERS
    older = {n for n, p in parameters.items() if Version(provider) < Version(p.since)}
    assert older == STOCK_LACKS, f"providers-standard {provider}"


def test_info_reads_the_version_from_metadata_without_importing_airflow(tmp_path) -> None:
    """``info`` answers from the installed distribution's metadata: no Airflow import, no ~/airflow."""
    import subprocess
    import sys

    import airflow

    assert compat.select_row().version.raw == airflow.__version__  # what the runtime routes on, in a task
    if compat.__name__ != "airflow_trigger_compat._runtime":
        return  # a vendored copy has no CLI (only the runtime is vendored): the line above is its part
    probe = (
        "import sys\n"
        "from airflow_trigger_compat._cli import main\n"
        "code = main(['info', '--json'])\n"
        "assert 'airflow' not in sys.modules, 'info imported Airflow'\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(HOME=str(tmp_path), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["airflow"] == airflow.__version__
    assert list(tmp_path.iterdir()) == [], "info created files under $HOME (an ~/airflow)"


# --- the registry's feature gaps, against this Airflow ---------------------------------------------------


def _trigger_api_parameters() -> set[str]:
    """The parameters of what creates the child run for a task: the runner's DagRunTriggerException
    (Airflow 3), or ``trigger_dag`` (Airflow 2, where the operator calls it)."""
    for module in ("airflow.sdk.exceptions", "airflow.exceptions"):
        try:
            exception = importlib.import_module(module).DagRunTriggerException
        except (ImportError, AttributeError):
            continue
        return set(inspect.signature(exception).parameters)
    from airflow.api.common.trigger_dag import trigger_dag

    return set(inspect.signature(trigger_dag).parameters)


def _lacks(feature: str) -> bool:
    """Probe this Airflow, without the registry: can a task pass ``feature`` on?"""
    if feature == "fail_when_dag_is_paused":
        try:  # Airflow 3: a task reads its DAG's paused state through ti.get_dag() (GetDag, 3.2+)
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
        except ImportError:  # Airflow 2: the operator reads the DagModel through the ORM
            return False
        return not hasattr(RuntimeTaskInstance, "get_dag")
    return feature not in _trigger_api_parameters()


#: A value for each probed flag, as a DAG author would set it.
FLAG_VALUES: dict[str, Any] = {
    "note": "a note",
    "run_after": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    "fail_when_dag_is_paused": True,
}


@pytest.mark.parametrize("feature", list(FLAG_VALUES))
def test_declared_gap_matches_this_airflow(feature: str, not_applicable: Any) -> None:
    """The registry declares a gap exactly where this Airflow lacks the feature; where it does, the
    package refuses the flag exactly when stock does (WHEN_MISSING says REFUSE), else it parses as stock's.

    A declared gap is reported as ``not_applicable`` with the registry's reason (the matrix's ``n/a``).
    """
    reason = not_applicable(feature)
    lacks = _lacks(feature)
    assert (reason is not None) is lacks, f"registry's gap: {reason!r}; this Airflow lacks it: {lacks}"
    if reason is None:
        return
    registry = importlib.import_module(f"{compat.__name__}._registry")
    refuses = registry.WHEN_MISSING[registry.Feature(feature)] == registry.REFUSE

    def refused(operator: Any) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TriggerCompatWarning)  # FlagIgnoredWarning: test_parity.py
            try:
                operator(task_id="t", trigger_dag_id=CHILD_DAG_ID, **{feature: FLAG_VALUES[feature]})
            except (NotImplementedError, compat.FeatureNotSupported):
                return True
        return False

    # The installed provider's operator is the oracle where it takes the flag and has the current refusal
    # (providers-standard 1.9.0 accepts fail_when_dag_is_paused on 3.0/3.1: declared older-provider-fixes).
    stale = feature == "fail_when_dag_is_paused" and "paused-flag-refused-before-3-2" in STOCK_STALE_FIXES
    if feature not in STOCK_LACKS and not stale:
        assert refused(StockOperator) is refuses, f"stock refuses {feature}: {refused(StockOperator)}"
    assert refused(TriggerDagRunOperator) is refuses


# --- the path the registry names ------------------------------------------------------------------------


def expected_path(route: Any) -> dict[str, int | None]:
    """Who creates the child run, as the registry routes it. Airflow 2 has no task runner: the operator
    triggers through the ORM. On Airflow 3 the task runner triggers, with durable=True too (durable keeps
    the run_id first, then raises DagRunTriggerException as stock does), except where the Task SDK has
    ``ti.trigger_dag_run()`` (the route's trigger is ``accessor``): durable=True triggers through it and
    waits in execute(), and the runner handles no DagRunTriggerException. (A Task SDK with the accessor
    triggers stock's path through it as well, from the runner's handler.)"""
    if not _has_task_runner():
        return {"runner_calls": None, "accessor_calls": None, "orm_triggers": 1}
    if route.trigger == "accessor":
        return {"runner_calls": 0, "accessor_calls": 1, "orm_triggers": 1}
    return {"runner_calls": 1, "accessor_calls": 1 if _has_accessor() else None, "orm_triggers": 1}


@pytest.mark.parametrize("durable", [False, True], ids=["default", "durable"])
@pytest.mark.parametrize("wait", [False, True], ids=["fire_and_forget", "wait"])
def test_path_is_the_registry_strategy(
    ids, selection, path_spy, routes, output, record_property, wait, durable
) -> None:
    parent, run_id = ids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DurableUnavailableWarning)  # asserted in test_parity.py
        result = trigger(
            parent,
            trigger_run_id=run_id,
            logical_date=unique_date(),
            wait_for_completion=wait,
            durable=durable,
            finish={run_id: "success"},
        )
    [route] = routes
    record_property("path", f"{selection.entry.path}/{route.keep}/{route.trigger}: {path_spy.summary()}")

    assert result.state == "success"
    # durable=True keeps this fixed run_id where there is a store (3.3+); the kept run is triggered through
    # the accessor exactly where the Task SDK has one (probed here without the package).
    accessor = durable and has_store(selection) and _has_accessor()
    assert route.trigger == ("accessor" if accessor else selection.entry.path), route
    expected = expected_path(route)
    observed = {
        "runner_calls": path_spy.runner_calls if path_spy.has_runner else None,
        "accessor_calls": path_spy.accessor_calls if path_spy.has_accessor else None,
        "orm_triggers": path_spy.orm_triggers,
    }
    assert observed == expected, path_spy.summary()
    if accessor:  # the operator's own log lines: it triggered, and polled, itself
        text = output()
        assert "Triggering Dag Run." in text and "Dag Run triggered successfully." in text
        assert (f"Waiting for {CHILD_DAG_ID} on {run_id} to reach an allowed state" in text) is wait
        assert "Waiting for dag run to complete execution" not in text  # the runner's poll


# --- durable: crash recovery (every version) --------------------------------------------------------------
#
# Each scenario runs a real durable parent whose try can be lost at a chosen moment, as a lost worker would
# (``_harness.LostWorker``: nothing after it runs; the try becomes up_for_retry, as the scheduler makes a
# task whose worker stopped heartbeating). The moments are those of stock's own path, which durable=True's
# try 1 takes: on 3.x the task runner's trigger handler (``_handle_trigger_dag_run``, after execute() raised
# DagRunTriggerException), before it sends the trigger or at its first poll, the child then existing; on
# 2.11 the operator's ORM trigger (``OrmPort.trigger``); where the Task SDK has ``ti.trigger_dag_run()``
# (the route's trigger is ``accessor``), the operator's call of it and its own wait's first sleep
# (``assert_trigger_path`` checks which). What a retry asks, it asks through the package's
# port (``run_state``: the Task SDK's get_dr_count/get_dagrun_state on 3.x), recorded as a "lookup". On
# 3.3+ the child's run_id is kept in the real task_state_store; below 3.3 there is none and the run_id is
# derived from the parent task instance.

#: The key prefix durable=True keeps the child's run_id under (README). Renaming it breaks retries in
#: flight, so the literal is pinned here rather than read from the package.
STATE_KEY = "airflow_trigger_compat.trigger_run_id"


def state_key(max_tries: int, trigger_dag_id: str = CHILD_DAG_ID) -> str:
    return f"{STATE_KEY}@{max_tries}:{trigger_dag_id}"


def has_store(selection: Any) -> bool:
    """Airflow 3.3+ keeps the run_id in task_state_store (the registry's feature)."""
    return bool(selection.supports("task_state_store"))


def retries_failed_child(selection: Any) -> bool:
    """The installed runner retries a try whose child failed in a synchronous wait (3.3+; 2.11's operator)."""
    return bool(selection.supports("retry_on_failed_child"))


@dataclass(frozen=True)
class SeamCall:
    try_number: int
    #: "trigger" (3.x: the runner's trigger handler; 2.11: the ORM trigger) or "lookup" (port.run_state)
    op: str
    run_id: str
    #: The parent's task_state_store value for its key when the call was made (None without a store).
    stored: Any
    #: A lookup's answer: the run's state, or None when it does not exist.
    answer: Any = None
    #: A trigger's sender: "runner" (DagRunTriggerException's handler), "accessor" (the operator, through
    #: ``ti.trigger_dag_run()``: the route's trigger is ``accessor``) or "orm" (2.11).
    via: str = ""


@dataclass
class Seam:
    """Records every trigger and every lookup of a durable parent; loses a try where asked; finishes children.

    ``lose`` = (try number, "before" or "after"): that try's worker is lost just before its trigger, or
    just after it (3.x: at the runner's first poll; 2.11: as the ORM trigger returns), the child existing.
    ``then(call)`` runs just before the loss. ``finish_in_try`` maps a try number to the state the harness
    sets on every child run a trigger or a lookup of that try names.
    """

    store: bool
    finish: dict[str, str]
    finish_in_try: dict[int, str] = field(default_factory=dict)
    lose: tuple[int, str] | None = None
    then: Callable[[SeamCall], None] | None = None
    calls: list[SeamCall] = field(default_factory=list)
    #: Accessor: the trigger whose try is lost at its first poll (the operator's own sleep), once it polls.
    lose_at_poll: SeamCall | None = None
    #: Inside the runner's trigger handler (whose trigger is recorded there, not at the accessor it calls).
    in_handler: bool = False

    def in_try(self, try_number: int, op: str | None = None) -> list[SeamCall]:
        return [c for c in self.calls if c.try_number == try_number and op in (None, c.op)]

    def record(self, op: str, ti: Any, run_id: str, answer: Any = None, via: str = "") -> SeamCall:
        stored = _harness.task_state(ti.dag_id, ti.run_id, state_key(ti.max_tries)) if self.store else None
        call = SeamCall(ti.try_number, op, run_id, stored, answer, via)
        self.calls.append(call)
        if call.try_number in self.finish_in_try:
            self.finish.setdefault(run_id, self.finish_in_try[call.try_number])
        return call

    def loses(self, call: SeamCall, moment: str) -> bool:
        return self.lose == (call.try_number, moment)

    def lost(self, call: SeamCall, moment: str) -> NoReturn:
        if self.then is not None:
            self.then(call)
        where = f"{moment} the trigger of {call.run_id} in try {call.try_number}"
        raise _harness.LostWorker(f"worker lost {where}")


class _LostAtFirstPoll:
    """The runner module's ``time`` while its trigger handler runs: its first ``sleep`` loses the try."""

    def __init__(self, seam: Seam, call: SeamCall) -> None:
        self.seam, self.call = seam, call

    def sleep(self, seconds: float) -> None:
        self.seam.lost(self.call, "after")

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _runner_ends_lost_try(runner: Any, lost: BaseException, context: Any, ti: Any, log: Any) -> Any:
    """The outcome the task runner gives a try that failed with ``lost``: up_for_retry with retries left.

    On 3.x the loss is raised inside the runner's trigger handler, where nothing may escape: 3.0-3.3.0 let
    it out of the handler (3.1 and 3.2's ``run()`` then fail in their ``finally`` on an unset ``state``,
    which dag.test() turns into a final FAILED), so the handler returns the runner's own failure outcome
    instead, the TI state the scheduler gives a task whose worker stopped heartbeating. The package's code
    after the loss, and the rest of the handler (its XComs, its wait), never run.
    """
    failed = runner._handle_current_task_failed
    if len(inspect.signature(failed).parameters) == 1:  # task-sdk before 1.3
        return failed(ti)
    return failed(ti, lost, log, context)


@pytest.fixture
def seam(monkeypatch: pytest.MonkeyPatch, selection: Any) -> Seam:
    spy = Seam(store=has_store(selection), finish={})
    port = durable_port(selection)
    run_state = port.run_state

    def lookup(self: Any, dag_id: str, run_id: str) -> Any:
        answer = run_state(self, dag_id, run_id)
        spy.record("lookup", self.ti, run_id, answer)
        return answer

    monkeypatch.setattr(port, "run_state", lookup)
    if not _has_task_runner():  # Airflow 2.11: the operator triggers through the ORM
        orm_trigger = port.trigger

        def trigger_wrapper(self: Any, request: Any) -> Any:
            call = spy.record("trigger", self.ti, request.run_id, via="orm")
            if spy.loses(call, "before"):
                spy.lost(call, "before")
            dag_run = orm_trigger(self, request)
            if spy.loses(call, "after"):
                spy.lost(call, "after")
            return dag_run

        monkeypatch.setattr(port, "trigger", trigger_wrapper)
        return spy
    runner = importlib.import_module("airflow.sdk.execution_time.task_runner")
    handler = runner._handle_trigger_dag_run

    def handler_wrapper(drte: Any, context: Any, ti: Any, log: Any) -> Any:
        call = spy.record("trigger", ti, drte.dag_run_id, via="runner")
        clock = runner.time
        try:
            spy.in_handler = True
            if spy.loses(call, "before"):
                spy.lost(call, "before")
            if spy.loses(call, "after"):
                runner.time = _LostAtFirstPoll(spy, call)
            return handler(drte, context, ti, log)
        except _harness.LostWorker as lost:
            return _runner_ends_lost_try(runner, lost, context, ti, log)
        finally:
            runner.time, spy.in_handler = clock, False

    monkeypatch.setattr(runner, "_handle_trigger_dag_run", handler_wrapper)
    if _has_accessor():
        _seam_at_the_accessor(monkeypatch, spy, runner, port)
    return spy


def _seam_at_the_accessor(monkeypatch: pytest.MonkeyPatch, spy: Seam, runner: Any, port: Any) -> None:
    """The same moments where the route's trigger is ``accessor``: the operator's ``ti.trigger_dag_run()``
    call, and its own wait's first sleep (``TaskPort.sleep``). Lost there, the try leaves execute() with
    LostWorker, which the Task SDK's runner ends as any error (up_for_retry with retries left)."""
    from airflow.sdk import get_current_context

    accessor, sleep = runner.RuntimeTaskInstance.trigger_dag_run, port.sleep

    def accessor_wrapper(dag_id: str, run_id: str, **kwargs: Any) -> Any:
        if not spy.in_handler:  # the runner's handler (stock's path) records its own trigger
            call = spy.record("trigger", get_current_context()["ti"], run_id, via="accessor")
            if spy.loses(call, "before"):
                spy.lost(call, "before")
            if spy.loses(call, "after"):
                spy.lose_at_poll = call
        return accessor(dag_id, run_id, **kwargs)

    def sleep_wrapper(self: Any, seconds: float) -> None:
        call, spy.lose_at_poll = spy.lose_at_poll, None
        if call is not None:
            spy.lost(call, "after")
        sleep(self, seconds)

    monkeypatch.setattr(runner.RuntimeTaskInstance, "trigger_dag_run", staticmethod(accessor_wrapper))
    monkeypatch.setattr(port, "sleep", sleep_wrapper)


def _has_task_runner() -> bool:
    try:
        import airflow.sdk.execution_time.task_runner  # noqa: F401
    except ImportError:
        return False
    return True


def _has_accessor() -> bool:
    """Whether the Task SDK's task instance has ``trigger_dag_run()`` (apache/airflow#69135; no release has
    it: ``nox -s accessor`` builds one), probed without the package."""
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    except ImportError:  # Airflow 2
        return False
    return hasattr(RuntimeTaskInstance, "trigger_dag_run")


def assert_trigger_path(seam: Seam, routes: list[Any], output: Callable[[], str]) -> None:
    """Every try took one route, and every trigger was sent by its path: the accessor (the operator, then
    its own wait in execute()) where the route's trigger is ``accessor``, else the runner's handler of
    DagRunTriggerException (2.11: the ORM). With the accessor no DagRunTriggerException reaches the runner
    (no trigger "via" it) and the runner never polls; each waiting try's poll lines are the operator's."""
    assert routes and {r.trigger for r in routes} == {routes[0].trigger}, routes
    accessor = routes[0].trigger == "accessor"
    via = "accessor" if accessor else "runner" if _has_task_runner() else "orm"
    assert {c.via for c in seam.calls if c.op == "trigger"} <= {via}, seam.calls
    if accessor:
        text = output()
        assert "Waiting for dag run to complete execution" not in text
        for call in seam.calls:
            if call.op == "trigger" and not seam.loses(call, "before"):
                assert f"Waiting for {CHILD_DAG_ID} on {call.run_id} to reach an allowed state" in text


def children_of(parent: str) -> list[_harness.ChildRun]:
    """The child runs a parent created (each scenario tags its children with conf={"parent": ...})."""
    return [r for r in _harness.child_runs() if (r.conf or {}).get("parent") == parent]


def durable_trigger(parent: str, seam: Seam, selection: Any, **kwargs: Any) -> _harness.ParentResult:
    """A durable parent that waits, with a generated run_id and (by default) one retry.

    Where the installed runner would not retry a failed child (3.0-3.2) the package says so at execute()
    (RetryUnavailableWarning, asserted here: every try warns it, and nothing else).
    """
    kwargs.setdefault("retries", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TriggerCompatWarning)  # every other warning is still an error
        result = trigger(
            parent, durable=True, wait_for_completion=True, conf={"parent": parent},
            finish=seam.finish, timeout=30, **kwargs,
        )  # fmt: skip
    warned = {w.category for w in caught if issubclass(w.category, TriggerCompatWarning)}
    assert warned == (set() if retries_failed_child(selection) else {RetryUnavailableWarning}), warned
    return result


def assert_derived(run_id: str, generation: int = 1) -> None:
    """Below 3.3 the run_id of a generated child is derived from the parent task instance."""
    assert re.fullmatch(rf"manual__durable-[0-9a-f]{{20}}-{generation}", run_id), run_id


def assert_link(parent: str, result: _harness.ParentResult, run_id: str) -> None:
    if _has_task_runner():  # Airflow 3: the "Triggered DAG" link names the run the parent ended with
        link = _harness._xcom(parent, result.run_id, "_link_TriggerDagRunLink")
        assert urllib.parse.unquote(str(link)).endswith(f"/runs/{run_id}"), link


def test_durable_keeps_run_id_before_stock_path_triggers(ids, selection, seam, routes, output) -> None:
    parent, _ = ids
    seam.finish_in_try = {1: "success"}
    result = durable_trigger(parent, seam, selection)

    assert (result.state, result.try_states) == ("success", ["success"])
    # One trigger, by stock's path (3.x: the task runner, handed DagRunTriggerException by execute()), or
    # where the Task SDK has the accessor by the operator through ti.trigger_dag_run() (assert_trigger_path).
    [sent] = seam.in_try(1, "trigger")
    assert sent.run_id == result.trigger_run_id
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(sent.run_id, "success")]
    if has_store(selection):
        # When the runner was about to send the trigger, the store already held that very run_id, under the
        # key of this child DAG and this clear of the parent (max_tries = retries = 1). Nothing to look up.
        assert sent.stored == sent.run_id
        assert _harness.task_state(parent, result.run_id, state_key(1)) == sent.run_id
        assert seam.in_try(1, "lookup") == []
    else:
        assert_derived(sent.run_id)
        # Try 1 asks whether the derived run exists (a lost try may have made it): not yet.
        assert [(c.run_id, c.answer) for c in seam.in_try(1, "lookup")] == [(sent.run_id, None)]
    assert_link(parent, result, sent.run_id)
    assert_trigger_path(seam, routes, output)


def test_durable_retry_reconnects_to_running_child(ids, selection, seam, routes, output) -> None:
    parent, _ = ids
    # Try 1 triggers, then its worker is lost at the first poll, the child still queued. Try 2 finds it
    # queued (the harness finishes it once try 2 names it) and reconnects: no second trigger.
    seam.lose = (1, "after")
    seam.finish_in_try = {2: "success"}
    result = durable_trigger(parent, seam, selection)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    [first] = seam.in_try(1, "trigger")
    assert seam.in_try(2, "trigger") == []
    [lookup] = seam.in_try(2, "lookup")
    assert (lookup.run_id, lookup.answer) == (first.run_id, "queued")
    assert result.finished_children == [(first.run_id, "success")]
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(first.run_id, "success")]
    assert result.trigger_run_id == first.run_id
    assert_link(parent, result, first.run_id)
    text = output()
    assert f"Reconnecting to DAG run {first.run_id} (queued), triggered by an earlier try" in text
    assert f"Waiting for {CHILD_DAG_ID} on {first.run_id}" in text  # the reconnected try's own wait
    assert_trigger_path(seam, routes, output)


def test_durable_retry_short_circuits_when_child_already_succeeded(
    ids, selection, seam, routes, output
) -> None:
    parent, _ = ids
    # Try 1's worker is lost at the first poll, after the child had succeeded.
    seam.lose = (1, "after")
    seam.then = lambda call: _harness.set_child_state(call.run_id, "success")
    result = durable_trigger(parent, seam, selection)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    [first] = seam.in_try(1, "trigger")
    # Try 2: one lookup of the run, which has succeeded: no trigger, no wait.
    assert [(c.op, c.run_id, c.answer) for c in seam.in_try(2)] == [("lookup", first.run_id, "success")]
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(first.run_id, "success")]
    assert result.trigger_run_id == first.run_id
    assert_link(parent, result, first.run_id)
    assert_trigger_path(seam, routes, output)


def _assert_fresh_run(parent: str, selection: Any, seam: Seam, result: _harness.ParentResult) -> None:
    """Try 2 found try 1's child failed and triggered a fresh run (a new run_id), by stock's path."""
    [first] = seam.in_try(1, "trigger")
    [second] = seam.in_try(2, "trigger")
    assert second.run_id != first.run_id  # a fresh run, not a rerun of the failed one
    assert sorted((r.run_id, r.state) for r in children_of(parent)) == sorted(
        [(first.run_id, "failed"), (second.run_id, "success")]
    )
    lookup = seam.in_try(2, "lookup")[0]
    assert (lookup.run_id, lookup.answer) == (first.run_id, "failed")
    assert result.trigger_run_id == second.run_id
    assert_link(parent, result, second.run_id)
    if has_store(selection):
        assert second.stored == second.run_id  # kept before it was triggered, replacing the failed one
        assert _harness.task_state(parent, result.run_id, state_key(1)) == second.run_id
    else:
        assert_derived(first.run_id, 1)
        assert_derived(second.run_id, 2)


def test_durable_retry_after_a_lost_try_whose_child_failed_triggers_fresh(
    ids, selection, seam, routes, output
) -> None:
    parent, _ = ids
    # Try 1's worker is lost at the first poll; the child then fails. Every version: try 2 finds it failed.
    seam.lose = (1, "after")
    seam.then = lambda call: _harness.set_child_state(call.run_id, "failed")
    seam.finish_in_try = {2: "success"}
    result = durable_trigger(parent, seam, selection)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    _assert_fresh_run(parent, selection, seam, result)
    assert_trigger_path(seam, routes, output)


def test_durable_failed_child_ends_try_one_as_stock(ids, selection, seam, routes, output) -> None:
    parent, _ = ids
    # No loss: try 1's child fails in the runner's own wait (2.11, and with the accessor: the operator's). Try
    # 1 ends as the installed runner ends it: retried on 3.3+ and 2.11, failed without retries on 3.0-3.2.
    seam.finish_in_try = {1: "failed", 2: "success"}
    result = durable_trigger(parent, seam, selection)

    if not retries_failed_child(selection):
        assert (result.state, result.try_states) == ("failed", ["failed"])
        [first] = seam.in_try(1, "trigger")
        assert [(r.run_id, r.state) for r in children_of(parent)] == [(first.run_id, "failed")]
        assert_trigger_path(seam, routes, output)
        return
    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    _assert_fresh_run(parent, selection, seam, result)
    assert_trigger_path(seam, routes, output)


def test_durable_reconnected_wait_ends_a_failed_child_as_the_runner(
    ids, selection, seam, routes, output
) -> None:
    parent, _ = ids
    # Try 1 is lost with the child queued; try 2 reconnects and waits in execute(), and the child fails
    # there. Try 2 ends as the installed runner ends a failed child: retried on 3.3+ and 2.11 (try 3 then
    # triggers a fresh run), failed without retries on 3.0-3.2 (AirflowFailException).
    seam.lose = (1, "after")
    seam.finish_in_try = {2: "failed", 3: "success"}
    result = durable_trigger(parent, seam, selection, retries=2)

    [first] = seam.in_try(1, "trigger")
    assert seam.in_try(2, "trigger") == []
    if _has_task_runner():
        assert "DagRun finished with failed state." in output()
    if not retries_failed_child(selection):
        assert (result.state, result.try_states) == ("failed", ["up_for_retry", "failed"])
        assert type(result.errors[1]).__name__ == "AirflowFailException", result.errors
        assert [(r.run_id, r.state) for r in children_of(parent)] == [(first.run_id, "failed")]
        assert_trigger_path(seam, routes, output)
        return
    assert (result.state, result.try_states) == ("success", ["up_for_retry", "up_for_retry", "success"])
    assert type(result.errors[1]).__name__ == "AirflowException", result.errors
    [third] = seam.in_try(3, "trigger")
    assert sorted((r.run_id, r.state) for r in children_of(parent)) == sorted(
        [(first.run_id, "failed"), (third.run_id, "success")]
    )
    assert_trigger_path(seam, routes, output)


def test_durable_execution_timeout_bounds_a_reconnected_wait(ids, selection, seam, routes, output) -> None:
    parent, _ = ids
    # Try 1 is lost with the child queued. Try 2 reconnects and waits inside execute(), which
    # execution_timeout bounds (try 1's wait was the runner's, outside it, as stock's). Try 3 reconnects
    # again to the same run: one child run.
    seam.lose = (1, "after")
    seam.finish_in_try = {3: "success"}
    result = durable_trigger(
        parent, seam, selection, retries=2, execution_timeout=datetime.timedelta(seconds=1)
    )

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "up_for_retry", "success"])
    assert type(result.errors[1]).__name__ == "AirflowTaskTimeout", result.errors
    [first] = seam.in_try(1, "trigger")
    assert seam.in_try(2, "trigger") == seam.in_try(3, "trigger") == []
    assert [c.run_id for c in seam.in_try(3, "lookup")] == [first.run_id]
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(first.run_id, "success")]
    assert result.trigger_run_id == first.run_id
    assert_trigger_path(seam, routes, output)


def test_durable_retry_triggers_run_that_was_never_created(ids, selection, seam, routes, output) -> None:
    parent, _ = ids
    # Try 1's worker is lost just before the trigger is sent (with a store: after the store write).
    seam.lose = (1, "before")
    seam.finish_in_try = {2: "success"}
    result = durable_trigger(parent, seam, selection)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    [lost] = seam.in_try(1, "trigger")
    [retried] = seam.in_try(2, "trigger")
    # Try 2 triggers it under the run_id try 1 would have used, not a fresh one of its own.
    assert retried.run_id == lost.run_id
    [lookup] = seam.in_try(2, "lookup")
    assert (lookup.run_id, lookup.answer) == (lost.run_id, None)
    assert seam.calls.index(lookup) < seam.calls.index(retried)
    if has_store(selection):
        assert lost.stored == lost.run_id  # the run_id was kept before the trigger was handed on
    else:
        assert_derived(lost.run_id)
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(lost.run_id, "success")]
    assert result.trigger_run_id == lost.run_id
    assert_trigger_path(seam, routes, output)


def test_durable_warns_where_it_cannot_work(ids, selection, seam, monkeypatch) -> None:
    parent, run_id = ids
    routes: list[Any] = []
    execute = importlib.import_module(f"{compat.__name__}._execute")
    route = execute.route
    monkeypatch.setattr(execute, "route", lambda *a: routes.append(route(*a)) or routes[-1])
    # A deferrable wait already survives the loss of a worker; durable says so, and is unused.
    with pytest.warns(DurableUnavailableWarning, match="deferrable=True already waits in the triggerer") as w:
        result = trigger(
            parent, durable=True, deferrable=True, wait_for_completion=True, retries=1,
            conf={"parent": parent}, trigger_run_id=run_id, logical_date=unique_date(),
            finish={run_id: "success"},
        )  # fmt: skip
    assert [type(m.message) for m in w] == [DurableUnavailableWarning]
    assert (result.state, result.try_states[-1]) == ("success", "success")  # after the deferral
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(run_id, "success")]
    assert [(r.keep, r.leaf) for r in routes] == [(None, selection.entry.path)]  # stock's path, no keeping
    # Stock's path triggers once (3.x: the runner; 2.11: the ORM); nothing is looked up.
    assert [c.op for c in seam.calls] == ["trigger"]
    if has_store(selection):
        assert _harness.task_state(parent, result.run_id, state_key(1)) is None

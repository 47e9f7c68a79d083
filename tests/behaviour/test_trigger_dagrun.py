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
import inspect
import itertools
import json
import os
import re
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import _harness
import pytest
from _harness import CHILD_DAG_ID, run_parent, unique_date

# The package under test (the installed one, or a vendored copy): never imported by name here.
from _subject import (
    STOCK_LACKS,
    STOCK_STALE_FIXES,
    DurableUnavailableWarning,
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

    assert (
        compat.select_strategy().version.raw == airflow.__version__
    )  # what the runtime routes on, in a task
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


def expected_path(selection: Any, durable: bool) -> dict[str, int | None]:
    """Who creates the child run, as the registry routes it. Airflow 2 has no task runner: the operator
    triggers through the ORM. On Airflow 3 the runner triggers (stock's path) unless durable=True takes the
    operator-owned path, which with this test's fixed run_id needs task_state_store."""
    if not _has_task_runner():
        return {"runner_calls": None, "orm_triggers": 1}
    operator_owned = durable and selection.supports("task_state_store")
    return {"runner_calls": 0 if operator_owned else 1, "orm_triggers": 1}


@pytest.mark.parametrize("durable", [False, True], ids=["default", "durable"])
@pytest.mark.parametrize("wait", [False, True], ids=["fire_and_forget", "wait"])
def test_path_is_the_registry_strategy(ids, selection, path_spy, record_property, wait, durable) -> None:
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
    record_property("path", f"{selection.entry.strategy}/{selection.entry.durable}: {path_spy.summary()}")

    assert result.state == "success"
    expected = expected_path(selection, durable)
    observed = {
        "runner_calls": path_spy.runner_calls if path_spy.has_runner else None,
        "orm_triggers": path_spy.orm_triggers,
    }
    assert observed == expected, path_spy.summary()


# --- durable: crash recovery (every version) --------------------------------------------------------------
#
# Each scenario runs a real durable parent through the package's trigger seam (``SupervisorPort`` on 3.x,
# ``OrmPort`` on 2.11), which a hook can crash at a chosen call, as a lost worker would. On 3.3+ the child's
# run_id is kept in the real task_state_store; below 3.3 there is none and the run_id is derived from the
# parent task instance, so a retry's trigger answers "already exists" for the lost try's run.

#: The key prefix durable=True keeps the child's run_id under (README). Renaming it breaks retries in
#: flight, so the literal is pinned here rather than read from the package.
STATE_KEY = "airflow_trigger_compat.trigger_run_id"


def state_key(max_tries: int, trigger_dag_id: str = CHILD_DAG_ID) -> str:
    return f"{STATE_KEY}@{max_tries}:{trigger_dag_id}"


def has_store(selection: Any) -> bool:
    """Airflow 3.3+ keeps the run_id in task_state_store (the registry's feature)."""
    return bool(selection.supports("task_state_store"))


class WorkerCrash(BaseException):
    """Ends a try at the seam, as a lost worker would: mid-call, with no package code after it running.

    A BaseException, so no ``except Exception`` in the package or in Airflow's client treats it as an
    error of the call. The task runner's last-resort handler reports the try failed, and with retries
    left it ends up_for_retry: the same TI state the scheduler gives a task whose worker stopped
    heartbeating. The task_state_store is untouched by either.
    """


class WorkerCrashError(Exception):
    """The same crash on Airflow 2, whose ``dag.test()`` lets a BaseException end the test itself; the
    package's ORM path catches nothing broader than DagRunAlreadyExists, so an Exception ends the try alike.
    """


@dataclass(frozen=True)
class SeamCall:
    try_number: int
    op: str  # "trigger" (the TriggerDagRun message / trigger_dag) or "state" (a run-state lookup)
    run_id: str
    #: The parent's task_state_store value for its key when the call was made (None without a store).
    stored: Any


@dataclass
class Seam:
    """Records every call through the package's trigger seam; runs a hook before each; finishes children.

    ``before(call)`` runs before the real call (raise WorkerCrash there to crash). ``finish_in_try`` maps a
    try number to the state the harness sets on every child run that try triggers or looks up, once the
    real call has returned (a generated run_id is only known then).
    """

    store: bool
    finish: dict[str, str]
    finish_in_try: dict[int, str] = field(default_factory=dict)
    #: Only a call of this op starts the finishing (``None``: any op).
    finish_op: str | None = None
    before: Callable[[SeamCall], None] | None = None
    calls: list[SeamCall] = field(default_factory=list)

    def in_try(self, try_number: int, op: str | None = None) -> list[SeamCall]:
        return [c for c in self.calls if c.try_number == try_number and op in (None, c.op)]

    def _call(self, op: str, ti: Any, run_id: str, real: Callable[[], Any]) -> Any:
        stored = _harness.task_state(ti.dag_id, ti.run_id, state_key(ti.max_tries)) if self.store else None
        call = SeamCall(ti.try_number, op, run_id, stored)
        self.calls.append(call)
        if self.before is not None:
            self.before(call)
        answer = real()
        if call.try_number in self.finish_in_try and self.finish_op in (None, call.op):
            self.finish.setdefault(run_id, self.finish_in_try[call.try_number])
        return answer


@pytest.fixture
def seam(monkeypatch: pytest.MonkeyPatch, selection: Any) -> Seam:
    spy = Seam(store=has_store(selection), finish={})
    port = durable_port(selection)
    trigger_dag_run, dagrun_state = port.trigger, port.dagrun_state

    def trigger_wrapper(self: Any, request: Any, run_id: str, **kwargs: Any) -> Any:
        real = trigger_dag_run
        return spy._call("trigger", self.ti, run_id, lambda: real(self, request, run_id, **kwargs))

    def state_wrapper(self: Any, dag_id: str, run_id: str, **kwargs: Any) -> Any:
        return spy._call("state", self.ti, run_id, lambda: dagrun_state(self, dag_id, run_id, **kwargs))

    monkeypatch.setattr(port, "trigger", trigger_wrapper)
    monkeypatch.setattr(port, "dagrun_state", state_wrapper)
    return spy


def _has_task_runner() -> bool:
    try:
        import airflow.sdk.execution_time.task_runner  # noqa: F401
    except ImportError:
        return False
    return True


def crash_on(try_number: int, op: str, then: Callable[[SeamCall], None] | None = None) -> Any:
    """A ``Seam.before`` hook: on the first ``op`` call of ``try_number``, run ``then`` and crash."""
    crash = WorkerCrash if _has_task_runner() else WorkerCrashError

    def before(call: SeamCall) -> None:
        if call.try_number == try_number and call.op == op:
            if then is not None:
                then(call)
            raise crash(f"simulated worker crash before {op} {call.run_id} in try {try_number}")

    return before


def children_of(parent: str) -> list[_harness.ChildRun]:
    """The child runs a parent created (each scenario tags its children with conf={"parent": ...})."""
    return [r for r in _harness.child_runs() if (r.conf or {}).get("parent") == parent]


def durable_trigger(parent: str, seam: Seam, **kwargs: Any) -> _harness.ParentResult:
    """A durable parent that waits, with one retry and a generated run_id."""
    return trigger(
        parent, durable=True, wait_for_completion=True, retries=1, conf={"parent": parent},
        finish=seam.finish, timeout=20, **kwargs,
    )  # fmt: skip


def assert_derived(run_id: str, generation: int = 1) -> None:
    """Below 3.3 the run_id of a generated child is derived from the parent task instance."""
    assert re.fullmatch(rf"manual__durable-[0-9a-f]{{20}}-{generation}", run_id), run_id


def test_durable_persists_run_id_before_trigger(ids, selection, seam) -> None:
    parent, _ = ids
    seam.finish_in_try = {1: "success"}
    result = durable_trigger(parent, seam)

    assert (result.state, result.try_states) == ("success", ["success"])
    [sent] = seam.in_try(1, "trigger")
    assert sent.run_id == result.trigger_run_id
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(sent.run_id, "success")]
    if has_store(selection):
        # When the TriggerDagRun message was about to be sent, the store already held that very run_id,
        # under the key of this child DAG and this clear of the parent (max_tries = retries = 1).
        assert sent.stored == sent.run_id
        assert _harness.task_state(parent, result.run_id, state_key(1)) == sent.run_id
    else:
        assert_derived(sent.run_id)


def test_durable_retry_reconnects_to_running_child(ids, selection, seam) -> None:
    parent, _ = ids
    # Try 1 triggers, then its worker dies at the first poll, the child still queued. Try 2 finds it
    # queued (the harness finishes it only from then on) and reconnects.
    seam.before = crash_on(1, "state")
    # From try 2's status lookup on: its trigger ("already exists" below 3.3) must not finish the child
    # before the lookup sees it queued.
    seam.finish_in_try, seam.finish_op = {2: "success"}, "state"
    result = durable_trigger(parent, seam)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    [first] = seam.in_try(1, "trigger")
    # With a store nothing is sent on retry; without one, the retry's trigger names the same run_id and
    # Airflow answers "already exists".
    assert [c.run_id for c in seam.in_try(2, "trigger")] == ([] if has_store(selection) else [first.run_id])
    assert {c.run_id for c in seam.in_try(2, "state")} == {first.run_id}
    assert len(seam.in_try(2, "state")) >= 2  # the status lookup, then at least one poll
    assert result.finished_children == [(first.run_id, "success")]
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(first.run_id, "success")]
    assert result.trigger_run_id == first.run_id
    if _has_task_runner():
        # Airflow 3: the "Triggered DAG" link names the run reconnected to, not a run_id try 2 generated.
        link = _harness._xcom(parent, result.run_id, "_link_TriggerDagRunLink")
        assert urllib.parse.unquote(str(link)).endswith(f"/runs/{first.run_id}"), link


def test_durable_retry_short_circuits_when_child_already_succeeded(ids, selection, seam):
    parent, _ = ids
    # Try 1's worker dies at the first poll, after the child had succeeded.
    seam.before = crash_on(1, "state", then=lambda call: _harness.set_child_state(call.run_id, "success"))
    result = durable_trigger(parent, seam)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    [first] = seam.in_try(1, "trigger")
    # Try 2: one status lookup of the run, no poll (and below 3.3 the trigger that found it).
    expected = [("state", first.run_id)]
    if not has_store(selection):
        expected.insert(0, ("trigger", first.run_id))
    assert [(c.op, c.run_id) for c in seam.in_try(2)] == expected
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(first.run_id, "success")]
    assert result.trigger_run_id == first.run_id


def test_durable_retry_resubmits_after_failed_child(ids, selection, seam) -> None:
    parent, _ = ids
    # No crash: try 1's child fails, so try 1 ends up_for_retry (on every version: the wait is the
    # operator's own, inside execute()).
    seam.finish_in_try = {1: "failed", 2: "success"}
    result = durable_trigger(parent, seam)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    [first] = seam.in_try(1, "trigger")
    second = seam.in_try(2, "trigger")[-1]
    assert second.run_id != first.run_id  # a fresh run, not a rerun of the failed one
    assert sorted((r.run_id, r.state) for r in children_of(parent)) == sorted(
        [(first.run_id, "failed"), (second.run_id, "success")]
    )
    assert result.trigger_run_id == second.run_id
    if has_store(selection):
        assert second.stored == second.run_id  # stored before it was sent, replacing the failed one
        assert _harness.task_state(parent, result.run_id, state_key(1)) == second.run_id
    else:
        assert_derived(first.run_id, 1)
        assert_derived(second.run_id, 2)


def test_durable_retry_triggers_run_that_was_never_created(ids, selection, seam):
    parent, _ = ids
    # Try 1's worker dies just before the trigger is sent (with a store: after the store write).
    seam.before = crash_on(1, "trigger")
    seam.finish_in_try = {2: "success"}
    result = durable_trigger(parent, seam)

    assert (result.state, result.try_states) == ("success", ["up_for_retry", "success"])
    [lost] = seam.in_try(1, "trigger")
    [retried] = seam.in_try(2, "trigger")
    # Try 2 triggers it under the run_id try 1 would have used, not a fresh one of its own.
    assert retried.run_id == lost.run_id
    if has_store(selection):
        assert lost.stored == lost.run_id  # the window the mixin documents is closed: the id was kept
        lookup, *_ = seam.in_try(2, "state")
        assert lookup.run_id == lost.run_id
        assert seam.calls.index(lookup) < seam.calls.index(retried)
    assert [(r.run_id, r.state) for r in children_of(parent)] == [(lost.run_id, "success")]
    assert result.trigger_run_id == lost.run_id


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
    assert [r.durable for r in routes] == [False]  # the deferrable path (the stock one), not durable's
    # Airflow 2's stock path triggers through the same port as its durable one; 3.x's runner triggers.
    assert [c.op for c in seam.calls] == ([] if _has_task_runner() else ["trigger"])
    if has_store(selection):
        assert _harness.task_state(parent, result.run_id, state_key(1)) is None

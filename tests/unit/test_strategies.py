from __future__ import annotations

import datetime
import math
import re
import types
import warnings
from typing import Any

import pytest

from airflow_trigger_compat import DurableUnavailableWarning, FlagIgnoredWarning, RetryUnavailableWarning
from airflow_trigger_compat._runtime import _execute, _request
from airflow_trigger_compat._runtime._contract import Route, TaskPort
from airflow_trigger_compat._runtime._errors import TriggerArgumentError
from airflow_trigger_compat._runtime._execute import route, warn_about_gaps
from airflow_trigger_compat._runtime._registry import REGISTRY, Feature
from airflow_trigger_compat._runtime._request import TriggerRequest
from airflow_trigger_compat._runtime._strategies import airflow2, durable, runner_exception
from airflow_trigger_compat._runtime._strategies.runner_exception import runner_kwargs

from .conftest import (
    NOTSET,
    NOW,
    AirflowFailException,
    DagIsPaused,
    DagRunState,
    DagRunTriggerException,
    FakeOperator,
    FakeStore,
    TriggerDagRunLink,
    _Log,
    build_airflow_dagrun_url,
    helpers_for,
    request_for,
    selection_for,
)

BASE = frozenset(
    {
        "self", "trigger_dag_id", "dag_run_id", "conf", "logical_date", "reset_dag_run",
        "skip_when_already_exists", "wait_for_completion", "allowed_states", "failed_states",
        "poke_interval", "deferrable",
    }
)  # fmt: skip
NAIVE = datetime.datetime(2026, 1, 1)
#: One release of each registry row, oldest first.
ROWS = ["2.11.2", "3.1.8", "3.2.2", "3.3.2"]
assert [selection_for(v).entry for v in ROWS] == list(reversed(REGISTRY))


def routed(version: str, **overrides: Any) -> tuple[TriggerRequest, Route]:
    """The request for ``FakeOperator(**overrides)`` on ``version``, and the route it takes."""
    selection = selection_for(version)
    request = request_for(selection, **overrides)
    return request, route(selection, request)


# -- runner_exception: what DagRunTriggerException is raised with ------------------------------------------


def test_runner_kwargs_carry_the_request(fake_airflow: types.ModuleType) -> None:
    request = request_for(
        "3.1.8",
        trigger_run_id="r",
        conf={"a": 1},
        logical_date=NOW,
        reset_dag_run=True,
        wait_for_completion=True,
        poke_interval=7,
        allowed_states=["success", "failed"],
        failed_states=[],
    )
    kwargs = runner_kwargs(request)
    assert kwargs == {
        "trigger_dag_id": "child",
        "dag_run_id": "r",
        "conf": {"a": 1},
        "logical_date": NOW,
        "reset_dag_run": True,
        "skip_when_already_exists": False,
        "wait_for_completion": True,
        "allowed_states": [DagRunState.SUCCESS, DagRunState.FAILED],
        "failed_states": [],
        "poke_interval": 7,
        "deferrable": False,
    }
    # The states are Airflow's DagRunState members, as stock passes them (the runner compares members).
    assert all(type(s) is DagRunState for s in kwargs["allowed_states"])
    defaults = runner_kwargs(request_for("3.1.8"))
    assert (defaults["allowed_states"], defaults["failed_states"]) == (
        [DagRunState.SUCCESS],
        [DagRunState.FAILED],
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("3.1.8", set()),  # the request drops what this Airflow lacks (the registry), so it is not passed
        ("3.2.2", {"note"}),
        ("3.3.2", {"note", "run_after"}),
    ],
)
def test_runner_kwargs_pass_note_and_run_after_where_the_registry_has_them(
    version: str, expected: set[str], fake_airflow: types.ModuleType
) -> None:
    kwargs = runner_kwargs(request_for(version, note="n", run_after=NOW))
    assert set(kwargs) - BASE == expected
    assert {k: kwargs[k] for k in expected} == {
        k: v for k, v in {"note": "n", "run_after": NOW}.items() if k in expected
    }


def test_runner_kwargs_leave_out_an_empty_note_and_an_unset_run_after(fake_airflow: types.ModuleType) -> None:
    assert set(runner_kwargs(request_for(note="", run_after=None))) == BASE - {"self"}
    assert set(runner_kwargs(request_for())) == BASE - {"self"}


class Ti:
    def __init__(self, *, paused: bool = False) -> None:
        self.pushed: list[tuple[str, Any]] = []
        self.paused = paused

    def xcom_push(self, *, key: str, value: Any) -> None:
        self.pushed.append((key, value))

    def get_dag(self, dag_id: str) -> Any:
        return types.SimpleNamespace(is_paused=self.paused)


def _operator(**overrides: Any) -> FakeOperator:
    return FakeOperator(log=_Log(), **overrides)


def test_runner_exception_pushes_the_link_then_raises(fake_airflow: types.ModuleType) -> None:
    ti = Ti()
    request, chosen = routed("3.2.2", trigger_run_id="r1", note="n", wait_for_completion=True)
    with pytest.raises(DagRunTriggerException) as info:
        runner_exception.execute(_operator(), {"ti": ti, "task_instance": ti}, request, chosen)
    assert ti.pushed == [(TriggerDagRunLink.xcom_key, build_airflow_dagrun_url(dag_id="child", run_id="r1"))]
    assert info.value.kwargs == {**runner_kwargs(request), "run_after": None}
    assert info.value.kwargs["note"] == "n"


def test_runner_exception_refuses_a_paused_dag_first(fake_airflow: types.ModuleType) -> None:
    ti = Ti(paused=True)
    request, chosen = routed("3.2.2", fail_when_dag_is_paused=True)
    with pytest.raises(DagIsPaused, match="Dag child is paused"):
        runner_exception.execute(_operator(), {"ti": ti}, request, chosen)
    assert ti.pushed == []  # no link to a run that was never triggered
    with pytest.raises(DagRunTriggerException):  # not checked unless asked
        runner_exception.execute(_operator(), {"ti": ti}, *routed("3.2.2"))


def test_push_link_tolerates_a_partial_context(
    fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = _operator()
    TaskPort(operator, {}).push_link("r1")  # no ti: nothing to push to

    class BrokenTi(Ti):
        def xcom_push(self, *, key: str, value: Any) -> None:
            raise AttributeError("mock")

    TaskPort(operator, {"ti": BrokenTi()}).push_link("r1")
    assert operator.log.lines == [
        "Skipping TriggerDagRunLink XCom push due to mock or incomplete context: mock"
    ]
    monkeypatch.delattr(TriggerDagRunLink, "xcom_key")  # a failure inside the push: also tolerated
    TaskPort(operator, {"task_instance": Ti()}).push_link("r1")
    assert len(operator.log.lines) == 2


def test_push_link_needs_the_url_builder(
    fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.delattr(sys.modules["airflow.utils.helpers"], "build_airflow_dagrun_url")
    ti = Ti()
    TaskPort(_operator(), {"ti": ti}).push_link("r1")  # a core without it (a newer one): no link, no failure
    assert ti.pushed == []


# -- what each strategy refuses before the trigger is sent -------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"conf": ""}, "conf='' must be a dict"),  # the TriggerDagRun payload: dict[str, Any] | None
        ({"conf": []}, r"conf=\[\] must be a dict"),
        ({"conf": [1]}, r"conf=\[1\] must be a dict"),
        ({"conf": '"text"'}, "conf='text' must be a dict"),  # stock loads it: a JSON string, not an object
        ({"conf": {1: "a"}}, r"conf key 1 \(int\) must be a string.*write '1'"),
        ({"logical_date": NAIVE}, "logical_date=.* is a naive datetime"),
        ({"run_after": NAIVE}, "run_after=.* is a naive datetime"),
    ],
)
def test_airflow_3_refuses_what_the_trigger_payload_refuses(overrides: dict[str, Any], message: str) -> None:
    request = request_for("3.3.2", **overrides)
    with pytest.raises(TriggerArgumentError, match=message):
        runner_exception.check(request)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"conf": None},
        {"conf": {}},
        {"conf": {"a": {"b": [1, None]}}},
        # NaN and infinity: the runner refuses them before execute() for stock too (strict JSON of the
        # rendered fields); the payload itself takes them, so the package does not refuse them first.
        {"conf": {"x": math.nan, "y": [math.inf]}},
        {"logical_date": NOW, "run_after": NOW},
        {"logical_date": None},
    ],
)
def test_airflow_3_strategies_pass_what_the_payload_takes(overrides: dict[str, Any]) -> None:
    runner_exception.check(request_for("3.3.2", **overrides))


@pytest.mark.parametrize(
    "conf",
    [None, "", [], 0, {}, {"a": 1}, {1: "int keys are fine"}, {"x": math.nan}],  # 2.11 stores NaN
)
def test_airflow2_takes_a_falsy_conf_as_none_and_any_json_keys(conf: Any) -> None:
    airflow2.check(request_for("2.11.2", conf=conf))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"conf": [1]}, r"conf=\[1\] must be a dict"),
        ({"conf": "[1]"}, r"conf=\[1\] must be a dict"),
        ({"logical_date": NAIVE}, "logical_date=.* is a naive datetime"),
    ],
)
def test_airflow2_refuses_what_trigger_dag_refuses(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(TriggerArgumentError, match=message):
        airflow2.check(request_for("2.11.2", **overrides))


def test_airflow2_does_not_check_the_run_after_it_drops() -> None:
    request = request_for("2.11.2", logical_date=NOW, run_after=NAIVE)
    assert request.run_after is None
    airflow2.check(request)


# -- which path runs: execute_trigger decides once ---------------------------------------------------------


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch, fake_airflow: types.ModuleType) -> list[tuple[str, Route]]:
    """Each strategy's ``execute`` records its module's name and the route it was given."""
    taken: list[tuple[str, Route]] = []
    for module in (runner_exception, durable, airflow2):
        name = module.__name__.rpartition(".")[2]

        def execute(op: Any, ctx: Any, req: Any, chosen: Route, name: str = name) -> None:
            taken.append((name, chosen))

        monkeypatch.setattr(module, "execute", execute)
    return taken


@pytest.mark.parametrize(
    ("version", "overrides", "path"),
    [
        ("3.3.2", {}, "stock"),  # the standard operator's own path on 3.3
        ("3.3.2", {"wait_for_completion": True}, "stock"),
        ("3.3.2", {"durable": True, "wait_for_completion": True, "deferrable": True}, "stock"),
        ("3.3.2", {"durable": True, "wait_for_completion": True}, "durable"),
        ("3.3.2", {"durable": True, "trigger_run_id": "fixed"}, "durable"),  # the store keeps a fixed one
        (
            "3.3.2",
            {"durable": True, "deferrable": True},
            "durable",
        ),  # deferrable without a wait defers nothing
        ("3.1.8", {"durable": True}, "durable"),  # a generated run_id: derived from the parent
        ("3.1.8", {"durable": True, "trigger_run_id": "fixed"}, "stock"),  # no store: warns, runs as stock
        ("2.11.2", {"durable": True, "wait_for_completion": True}, "durable"),
        ("2.11.2", {"durable": True, "logical_date": NOW}, "stock"),
    ],
)
def test_execute_trigger_runs_the_module_the_route_names(
    version: str,
    overrides: dict[str, Any],
    path: str,
    paths: list[tuple[str, Route]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    selection = selection_for(version)
    monkeypatch.setattr(_execute, "select_row", lambda: selection)
    monkeypatch.setattr(_request, "airflow_helpers", lambda: helpers_for(selection))
    operator = _operator(**overrides)
    context = {"ti": Ti(), "task_instance": Ti()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DurableUnavailableWarning)
        _execute.execute_trigger(operator, context)
    ((taken, chosen),) = paths
    # The registry row names stock's path; durable=True runs the durable module over it, keeping the run_id
    # where the row says.
    assert taken == chosen.leaf == (path if path == "durable" else selection.entry.path)
    assert chosen.path == selection.entry.path
    assert chosen.keep == (selection.entry.keep if path == "durable" else None)
    assert chosen.keep in (None, "store" if selection.supports(Feature.TASK_STATE_STORE) else "derived")


@pytest.mark.parametrize("version", ROWS)
@pytest.mark.parametrize("durable", [False, True], ids=["stock", "durable"])
@pytest.mark.parametrize("fixed", [False, True], ids=["generated", "fixed"])
@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_route_for_every_row_and_request(version: str, durable: bool, fixed: bool, deferrable: bool) -> None:
    """``_execute.route``: which path, whether durable=True applies, store or derived, and why not."""
    selection = selection_for(version)
    overrides: dict[str, Any] = {"durable": durable, "wait_for_completion": True, "deferrable": deferrable}
    if fixed:
        overrides["trigger_run_id"] = "fixed"
    request, chosen = routed(version, **overrides)
    assert request.run_id_generated is not fixed
    has_store = selection.supports(Feature.TASK_STATE_STORE)
    if deferrable:  # the triggerer waits, and survives a lost worker: nothing for durable=True to do
        gap: str | None = (
            "deferrable=True already waits in the triggerer, which survives the loss of a worker"
        )
    elif fixed and not has_store:  # a fixed run_id needs the store to tell this task's run from another's
        gap = selection.gap(Feature.TASK_STATE_STORE)
    else:
        gap = None
    applies = durable and gap is None
    assert chosen == Route(
        selection=selection,
        path=selection.entry.path,  # stock's path, with durable=True or without
        keep=("store" if has_store else "derived") if applies else None,
        trigger=selection.entry.path,  # no Task SDK here has ti.trigger_dag_run() (test_accessor.py)
        durable_gap=gap if durable else None,
    )
    assert chosen.leaf == ("durable" if applies else selection.entry.path)


def test_a_deferrable_trigger_without_a_wait_keeps_durable() -> None:
    """deferrable=True defers only the wait: without one, durable=True still applies."""
    for version in ROWS:
        _, chosen = routed(version, durable=True, deferrable=True)
        assert chosen.leaf == "durable" and chosen.keep and chosen.durable_gap is None, version


def test_a_payload_the_3_0_runner_refuses_is_logged_then_handed_to_it(fake_airflow: types.ModuleType) -> None:
    # 3.0-3.2: the runner refuses it as it refuses stock's (no retry, the link kept); the log says why.
    operator = _operator()
    request, chosen = routed("3.1.8", conf=[1, 2])
    with pytest.raises(TriggerArgumentError) as found:
        runner_exception.check(request)
    with pytest.raises(fake_airflow.DagRunTriggerException) as raised:
        runner_exception.refuse(operator, {"ti": Ti()}, request, found.value, chosen)
    assert raised.value.kwargs["conf"] == [1, 2]
    assert operator.log.lines == [
        "conf=[1, 2] must be a dict (a JSON object), got list; the DAG run's conf is a JSON object."
    ]


@pytest.mark.parametrize("version", ["3.1.8", "3.2.2", "3.3.2"])
def test_stocks_path_hands_a_bad_payload_to_the_runner_only_where_the_runner_cannot_retry(
    version: str, fake_airflow: types.ModuleType
) -> None:
    """Where the runner retries a failed trigger (the row has ``retry_on_failed_child``), a payload it would
    refuse must fail the task at once instead, without retries; elsewhere the runner fails it as stock's."""
    operator = _operator()
    request, chosen = routed(version, conf=[1, 2])
    with pytest.raises(TriggerArgumentError) as found:
        runner_exception.check(request)
    runner_fails_it = not chosen.selection.supports(Feature.RETRY_ON_FAILED_CHILD)
    expected = fake_airflow.DagRunTriggerException if runner_fails_it else AirflowFailException
    with pytest.raises(expected) as raised:
        runner_exception.refuse(operator, {"ti": Ti()}, request, found.value, chosen)
    assert isinstance(raised.value, TriggerArgumentError) is not runner_fails_it


@pytest.mark.parametrize("version", ["3.1.8", "3.3.2"])
def test_durable_refuses_a_bad_payload_exactly_as_stocks_path(
    version: str, fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """durable=True checks and refuses through stock's path, before anything is kept: 3.0-3.2 hand the
    payload to the runner (which refuses it as stock's), 3.3+ fail the task at once, without retries."""
    selection = selection_for(version)
    monkeypatch.setattr(_execute, "select_row", lambda: selection)
    monkeypatch.setattr(_request, "airflow_helpers", lambda: helpers_for(selection))
    kept: list[Any] = []
    monkeypatch.setattr(durable, "execute", lambda *args: kept.append(args))
    _, chosen = routed(version, conf=[1, 2], durable=True)
    assert chosen.leaf == "durable"
    store, ti = FakeStore(), Ti()
    context = {"ti": ti, "task_instance": ti, "task_state_store": store}
    runner_fails_it = not selection.supports(Feature.RETRY_ON_FAILED_CHILD)
    expected = fake_airflow.DagRunTriggerException if runner_fails_it else AirflowFailException
    with pytest.raises(expected) as raised:
        _execute.execute_trigger(_operator(conf=[1, 2], durable=True), context)
    assert isinstance(raised.value, TriggerArgumentError) is not runner_fails_it
    if runner_fails_it:  # the request's own run_id, as stock's: nothing derived or kept for a refused call
        assert not raised.value.kwargs["dag_run_id"].startswith("manual__durable-")
    assert kept == [] and store.writes == []


def test_task_port_pushes_the_link_and_reads_the_paused_flag(fake_airflow: types.ModuleType) -> None:
    ti = Ti()
    port = TaskPort(_operator(), {"task_instance": ti, "ti": ti})
    port.push_link("r1")
    assert ti.pushed == [(TriggerDagRunLink.xcom_key, build_airflow_dagrun_url(dag_id="child", run_id="r1"))]
    assert not port.dag_is_paused("child")
    assert runner_exception.Port is TaskPort  # the port durable=True waits through on Airflow 3


# -- warnings for what this Airflow cannot do --------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "overrides", "reason"),
    [
        # Below 3.3 a fixed run_id gets no crash recovery (no task_state_store to prove the run is ours).
        ("3.1.8", {"trigger_run_id": "fixed"}, "generated run_id"),
        ("2.11.2", {"logical_date": NOW}, "generated run_id"),
        ("3.3.2", {"deferrable": True, "wait_for_completion": True}, "triggerer"),
        ("3.0.6", {"deferrable": True, "wait_for_completion": True}, "triggerer"),
    ],
)
def test_durable_where_it_cannot_work_warns_with_version_and_reason(
    version: str, overrides: dict, reason: str
) -> None:
    request, chosen = routed(version, durable=True, **overrides)
    row = re.escape(f"Airflow {version} (registry row {chosen.selection.entry.airflow})")
    with pytest.warns(DurableUnavailableWarning, match=rf"durable=True has no effect on {row}: .*{reason}"):
        warn_about_gaps(chosen, request, retries=0)


@pytest.mark.parametrize("version", ["2.11.2", "3.0.6", "3.2.2", "3.3.2"])
@pytest.mark.parametrize(
    "overrides", [{"durable": True}, {"durable": False}, {"durable": False, "deferrable": True}]
)
def test_no_warning_where_durable_works_or_is_off(
    version: str, overrides: dict, recwarn: pytest.WarningsRecorder
) -> None:
    request, chosen = routed(version, **overrides)
    warn_about_gaps(chosen, request, retries=0)
    assert not recwarn.list


@pytest.mark.parametrize("version", ["3.0.6", "3.1.8", "3.2.2"])
def test_a_durable_wait_below_3_3_warns_that_retries_will_not_apply(version: str) -> None:
    """A durable first try triggers and waits in the runner, as stock's: a failed child fails it without
    retries there, so durable=True warns as stock's path does (and only that: durable itself applies)."""
    request, chosen = routed(version, durable=True, wait_for_completion=True)
    assert chosen.leaf == "durable" and not chosen.selection.supports(Feature.RETRY_ON_FAILED_CHILD)
    row = re.escape(f"Airflow {version} (registry row {chosen.selection.entry.airflow})")
    with pytest.warns(RetryUnavailableWarning, match=rf"retries=1 .* on {row}: .*62970") as record:
        warn_about_gaps(chosen, request, retries=1)
    assert [w.category for w in record] == [RetryUnavailableWarning]


@pytest.mark.parametrize("version", ["3.0.6", "3.1.8", "3.2.2"])
def test_retries_that_a_failed_child_cannot_trigger_warn(version: str) -> None:
    request, chosen = routed(version, wait_for_completion=True)
    row = re.escape(f"Airflow {version} (registry row {chosen.selection.entry.airflow})")
    with pytest.warns(RetryUnavailableWarning, match=rf"retries=2 .* on {row}: .*62970"):
        warn_about_gaps(chosen, request, retries=2)


@pytest.mark.parametrize(
    ("version", "overrides", "retries"),
    [
        ("3.3.2", {"wait_for_completion": True}, 2),  # the 3.3 runner retries
        ("3.3.2", {"wait_for_completion": True, "durable": True}, 2),  # a durable try too
        ("2.11.2", {"wait_for_completion": True, "durable": True}, 2),
        ("2.11.2", {"wait_for_completion": True}, 2),
        ("3.1.8", {"wait_for_completion": True, "deferrable": True}, 2),  # execute_complete raises
        ("3.1.8", {"wait_for_completion": False}, 2),  # nothing to wait for
        ("3.1.8", {"wait_for_completion": True}, 0),  # no retries asked for
    ],
)
def test_no_retry_warning_where_retries_apply(
    version: str, overrides: dict, retries: int, recwarn: pytest.WarningsRecorder
) -> None:
    request, chosen = routed(version, **overrides)
    warn_about_gaps(chosen, request, retries)
    assert not recwarn.list


@pytest.mark.parametrize(
    ("version", "overrides", "dropped"),
    [
        ("3.0.6", {"note": "hi"}, ["note"]),
        ("3.2.2", {"run_after": NOW}, ["run_after"]),
        ("2.11.2", {"note": "hi", "run_after": NOW}, ["note", "run_after"]),
    ],
)
def test_dropped_flags_warn_with_version_and_reason(
    version: str, overrides: dict, dropped: list[str]
) -> None:
    request, chosen = routed(version, **overrides)
    selection = chosen.selection
    with pytest.warns(FlagIgnoredWarning) as record:
        warn_about_gaps(chosen, request, retries=0)
    messages = [str(w.message) for w in record if w.category is FlagIgnoredWarning]
    assert [m.split("=", 1)[0] for m in messages] == [str(f) for f in request.dropped]  # one each, in order
    assert sorted(map(str, request.dropped)) == sorted(dropped)
    where = f"Airflow {version} (registry row {selection.entry.airflow})"
    for flag, message in zip(request.dropped, messages, strict=True):
        assert f"is ignored on {where}: {selection.gap(flag)}." in message


@pytest.mark.parametrize(
    ("version", "overrides"), [("3.3.2", {"note": "hi", "run_after": NOW}), ("3.2.2", {"note": "hi"})]
)
def test_supported_flags_do_not_warn(version: str, overrides: dict, recwarn: pytest.WarningsRecorder) -> None:
    request, chosen = routed(version, **overrides)
    warn_about_gaps(chosen, request, retries=0)
    assert not recwarn.list


def test_a_none_conf_key_is_refused_like_any_other_non_string_key() -> None:
    request = request_for("3.3.2", conf={None: 1})  # json.dumps accepts it: {"null": 1}
    with pytest.raises(TriggerArgumentError, match=r"conf key None \(NoneType\) must be a string"):
        runner_exception.check(request)


@pytest.mark.parametrize(
    ("attributes", "ignored"),
    [
        ({}, []),
        ({"note": "n"}, ["note"]),
        ({"run_after": None}, ["run_after"]),  # given, even as None: stock names it
        ({"run_after": NOW, "note": "n"}, ["run_after", "note"]),
    ],
)
def test_the_airflow_2_log_line_names_what_stock_names(attributes: dict, ignored: list[str]) -> None:
    """Stock's rule on stock's own table where the operator has it, the registry's where it has none."""
    bare = FakeOperator(log=_Log(), **attributes)
    with_table = FakeOperator(log=_Log(), **attributes)
    with_table.attributes_not_supported_in_airflow_2 = {"run_after": NOTSET, "note": None}  # stock's
    assert airflow2.OrmPort(bare, {})._ignored() == ignored
    assert airflow2.OrmPort(with_table, {})._ignored() == ignored
    # A subclass that edits the table changes the line, as with stock.
    with_table.attributes_not_supported_in_airflow_2 = {}
    assert airflow2.OrmPort(with_table, {})._ignored() == []

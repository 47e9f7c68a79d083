"""Stock is the oracle: every scenario runs the standard operator and the package's, and compares.

Each scenario below runs twice in this real Airflow (see ``_parity``): with the standard provider's
``TriggerDagRunOperator``, the installed task runner doing its part, and with the package's operator. The
two observations must be equal, except in the fields of a difference the package declares
(``_differences.DIFFERENCES``) for this version and the scenario is meant to show; and such a declared
difference must show, or the declaration is stale. The package's own warnings are checked as well: a flag
that cannot work here is never dropped silently.
"""

from __future__ import annotations

import datetime
import importlib
import json
from typing import Any

import pytest
from _harness import PAUSED_CHILD_DAG_ID, default_timezone, unique_date
from _parity import Fresh, Scenario, check_parity, everywhere, run_both
from _subject import (
    STOCK_LACKS,
    STOCK_STALE_FIXES,
    StockOperator,
    TriggerCompatWarning,
    TriggerDagRunOperator,
    compat,
    differences,
)

pytestmark = pytest.mark.behaviour

POKE = 0.2
UTC = datetime.timezone.utc


def supports(feature: str) -> Any:
    return lambda selection: selection.supports(feature)


def lacks(feature: str) -> Any:
    return lambda selection: not selection.supports(feature)


INVALID = "invalid-input-fails-early"
ACCESSOR = "durable-accessor-owns-the-wait"
OLDER_PROVIDER = "older-provider-parameters"
WAIT = {"wait_for_completion": True, "poke_interval": POKE}
DURABLE = {"durable": True}


def _d() -> datetime.datetime:
    return unique_date()


def _existing(run_id: str, date: datetime.datetime) -> tuple[dict[str, Any], ...]:
    return ({"trigger_run_id": run_id, "logical_date": date},)


def scenarios() -> dict[str, Scenario]:
    """Every input this suite runs through both operators, by name (the name is the test id)."""
    s: dict[str, Scenario] = {}

    # -- firing and the values of the child run ---------------------------------------------------------
    s["fire_and_forget"] = Scenario(
        {"trigger_run_id": "child_ff", "conf": {"answer": 42}, "logical_date": _d()}, finish=None
    )
    s["generated_run_id_from_logical_date"] = Scenario({"logical_date": _d()}, finish=None)
    s["generated_run_id_now"] = Scenario({}, finish=None)
    s["conf_json_string"] = Scenario({"conf": '{"a": [1, 2], "b": null}', "logical_date": _d()}, finish=None)
    s["conf_empty_dict"] = Scenario({"conf": {}, "logical_date": _d()}, finish=None)
    s["conf_nested"] = Scenario(
        {"conf": {"x": {"y": [1, 2.5, "z", None, True]}, "k": "é"}, "logical_date": _d()}, finish=None
    )
    s["logical_date_iso_string_aware"] = Scenario({"logical_date": "2031-03-09T12:00:00+02:00"}, finish=None)
    s["logical_date_naive_string_default_tz"] = Scenario(
        {"logical_date": "2031-03-09T12:00:00"}, finish=None, around=lambda: default_timezone("Asia/Tokyo")
    )
    s["logical_date_non_iso_string"] = Scenario(
        {"logical_date": "2031/03/08 10:00"}, finish=None, around=lambda: default_timezone("Europe/Paris")
    )
    s["logical_date_none"] = Scenario({"logical_date": None}, finish=None)
    s["run_after_only"] = Scenario(
        {"run_after": datetime.datetime(2032, 6, 1, 12, tzinfo=UTC)},
        finish=None,
        warns=(("FlagIgnoredWarning", lacks("run_after")),),
    )
    s["run_after_with_logical_date"] = Scenario(
        {"run_after": datetime.datetime(2032, 6, 2, 12, tzinfo=UTC), "logical_date": _d()},
        finish=None,
        warns=(("FlagIgnoredWarning", lacks("run_after")),),
    )
    s["run_after_none"] = Scenario({"run_after": None}, finish=None)
    s["note"] = Scenario(
        {"note": "from the parent", "logical_date": _d()},
        finish=None,
        warns=(("FlagIgnoredWarning", lacks("note")),),
    )
    s["note_empty"] = Scenario(
        {"note": "", "logical_date": _d()}, finish=None, warns=(("FlagIgnoredWarning", lacks("note")),)
    )
    s["note_not_a_string"] = Scenario(
        {"note": 123, "logical_date": _d()},
        finish=None,
        retries=1,
        expect=((INVALID, supports("note")),),
        warns=(("FlagIgnoredWarning", lacks("note")),),
    )

    # -- waiting --------------------------------------------------------------------------------------
    s["wait_child_succeeds"] = Scenario({"trigger_run_id": "child_ok", "logical_date": _d(), **WAIT})
    s["wait_child_fails"] = Scenario(
        {"trigger_run_id": "child_bad", "logical_date": _d(), **WAIT}, finish="failed"
    )
    s["wait_child_fails_with_retries"] = Scenario(
        {"logical_date": _d(), **WAIT},
        finish="failed",
        retries=1,
        warns=(("RetryUnavailableWarning", lacks("retry_on_failed_child")),),
    )
    s["wait_custom_states_allowed"] = Scenario(
        {"logical_date": _d(), "allowed_states": ["failed"], "failed_states": ["success"], **WAIT},
        finish="failed",
    )
    s["wait_custom_states_failed"] = Scenario(
        {"logical_date": _d(), "allowed_states": ["failed"], "failed_states": ["success"], **WAIT},
        finish="success",
    )
    s["wait_states_overlap_default_failed"] = Scenario(
        {"logical_date": _d(), "allowed_states": ["failed", "success"], **WAIT}, finish="failed"
    )
    s["wait_states_as_iterators"] = Scenario(
        {
            "logical_date": _d(),
            "allowed_states": Fresh(lambda: iter(["failed"]), "iter(['failed'])"),
            "failed_states": Fresh(lambda: iter(["success"]), "iter(['success'])"),
            **WAIT,
        },
        finish="success",
    )
    s["wait_states_as_set_and_tuple"] = Scenario(
        {"logical_date": _d(), "allowed_states": {"success"}, "failed_states": ("failed",), **WAIT}
    )
    s["wait_poke_interval_zero"] = Scenario({"logical_date": _d(), **WAIT, "poke_interval": 0})
    s["wait_child_deleted"] = Scenario({"logical_date": _d(), **WAIT}, finish="deleted", timeout=20)
    s["wait_deferrable_succeeds"] = Scenario({"logical_date": _d(), "deferrable": True, **WAIT})
    s["wait_deferrable_fails"] = Scenario({"logical_date": _d(), "deferrable": True, **WAIT}, finish="failed")
    # The 3.0.x runner defers on DagStateTrigger whenever deferrable=True, waiting or not, so the child
    # must finish there; elsewhere nothing waits and the parent ends at once. Finishing the child as soon
    # as it appeared raced with that end (stock's child seen queued, the package's success, on 2.11.2 and
    # 3.3.0 in CI): the finisher now leaves it 5 s, far longer than a parent that does not wait lives, so
    # the child stays as triggered on both sides there and is finished where the runner waits.
    s["fire_and_forget_deferrable"] = Scenario(
        {"logical_date": _d(), "deferrable": True, "poke_interval": POKE}, finish_delay=5.0
    )
    s["wait_execution_timeout_shorter_than_child"] = Scenario(
        {"logical_date": _d(), **WAIT, "execution_timeout": datetime.timedelta(seconds=1)},
        finish_delay=3.0,
        retries=1,
        timeout=40,
        warns=(("RetryUnavailableWarning", lacks("retry_on_failed_child")),),
    )

    # -- the run already exists -----------------------------------------------------------------------
    date = _d()
    s["exists_fails"] = Scenario(
        {"trigger_run_id": "child_exists", "logical_date": date}, existing=_existing("child_exists", date)
    )
    date = _d()
    s["exists_fails_with_retries"] = Scenario(
        {"trigger_run_id": "child_exists_r", "logical_date": date},
        existing=_existing("child_exists_r", date),
        retries=1,
    )
    date = _d()
    s["exists_skip"] = Scenario(
        {"trigger_run_id": "child_skip", "logical_date": date, "skip_when_already_exists": True},
        existing=_existing("child_skip", date),
    )
    date = _d()
    s["exists_reset_and_wait"] = Scenario(
        {"trigger_run_id": "child_reset", "logical_date": date, "reset_dag_run": True, **WAIT},
        existing=_existing("child_reset", date),
    )
    date = _d()
    # A run of that date exists under another run_id. Airflow 2 finds it by date and reruns it; on 3.0 the
    # execution API fails the trigger with a server error that its client retries with backoff, past this
    # bound, for stock and package alike.
    s["exists_by_logical_date_reset_and_wait"] = Scenario(
        {"logical_date": date, "reset_dag_run": True, **WAIT},
        existing=_existing("child_same_date", date),
        timeout=10,
        stock_hangs=lambda selection: (3, 0, 0) <= selection.version.release < (3, 1, 0),
    )
    date = _d()
    # The 3.0 runner defers with execution_dates=[logical_date] (now, not the reset run's date), so its
    # DagStateTrigger never finds the run: stock waits forever there, and so does the package. Measured
    # (nox -t matrix-full): it hangs on 3.0.2-3.0.6 and 3.1.0-3.1.3; 3.1.5 and later finish (the upstream
    # fix filters on run_ids only; 3.1.4 was never released).
    s["exists_fixed_run_id_no_date_reset_deferrable"] = Scenario(
        {"trigger_run_id": "child_reset_def", "reset_dag_run": True, "deferrable": True, **WAIT},
        existing=_existing("child_reset_def", date),
        timeout=10,
        stock_hangs=lambda selection: (3, 0, 0) <= selection.version.release < (3, 1, 5),
    )

    # -- the child DAG is paused ----------------------------------------------------------------------
    s["paused_child_fails"] = Scenario(
        {"trigger_dag_id": PAUSED_CHILD_DAG_ID, "logical_date": _d(), "fail_when_dag_is_paused": True},
        finish=None,
    )

    # -- bad input --------------------------------------------------------------------------------------
    bad = {
        "conf_not_serialisable": {"conf": {"when": datetime.datetime(2031, 1, 1, tzinfo=UTC)}},
        "conf_not_json_string": {"conf": "{not json"},
        "conf_a_list": {"conf": [1, 2]},
        "logical_date_wrong_type": {"logical_date": 20310101},
        "logical_date_unparseable": {"logical_date": "not a date"},
        "logical_date_naive_datetime": {"logical_date": datetime.datetime(2031, 5, 5, 12)},
        "poke_interval_negative": {"poke_interval": -1, "wait_for_completion": True},
        "trigger_run_id_refused_by_airflow": {"trigger_run_id": "has spaces/and slashes"},
    }
    # NaN in conf: Airflow 2 stores it; on 3.x the task runner refuses it before execute() runs (it
    # serialises the rendered fields as strict JSON), for both operators alike.
    s["conf_nan"] = Scenario({"conf": {"x": float("nan")}, "logical_date": _d()}, finish=None, retries=1)
    for name, kwargs in bad.items():
        s[f"invalid_{name}"] = Scenario(kwargs, retries=1, expect=((INVALID, everywhere),), timeout=20)
    # A conf key that is not a string: before 3.2.1 Airflow refuses it before execute() runs, for both
    # operators alike (the rendered fields' JSON; task-sdk 1.2.1 turns keys into strings there); from 3.2.1
    # it reaches the trigger, and the package refuses it.
    s["invalid_conf_non_string_key"] = Scenario(
        {"conf": {1: "a"}, "logical_date": _d()},
        finish=None,  # nothing waits on the child (2.11 creates it): finishing it would race the parent
        retries=1,
        timeout=20,
        expect=((INVALID, lambda sel: sel.version.release >= (3, 2, 1)),),
    )

    # A DAG that does not exist (yet): retried, as with stock, since the DAG processor may not have parsed it.
    s["trigger_dag_id_unknown"] = Scenario({"trigger_dag_id": "no_such_dag"}, retries=1, timeout=20)

    # -- durable=True: without a lost worker, the same as stock (the loss: test_trigger_dagrun.py's durable
    # tests, tests/live). The first try keeps the run_id, then takes stock's path (3.x: the task runner
    # triggers and waits), so its outcome, log lines and retries are stock's; only a retry after a lost try
    # acts otherwise. Below 3.3 (no task_state_store) durable=True needs a generated run_id: with a fixed
    # one (these scenarios fix it, to compare children) it warns and runs as stock.
    durable_unavailable = (("DurableUnavailableWarning", lacks("task_state_store")),)
    # Where the Task SDK has ti.trigger_dag_run() (nox -s accessor; no release has it), durable=True's try 1
    # triggers through it and waits in execute(): a try that fails, or times out, differs (declared once).
    has_accessor = importlib.import_module(f"{compat.__name__}._airflow").has_trigger_accessor
    # A fixed run_id is kept (durable) only where there is a store (3.3+).
    accessor = (ACCESSOR, lambda sel: has_accessor() and sel.supports("task_state_store"))
    accessor_generated = (ACCESSOR, lambda sel: has_accessor())
    no_retry_on_failed_child = ("RetryUnavailableWarning", lacks("retry_on_failed_child"))
    s["durable_wait_child_succeeds"] = Scenario(
        {"logical_date": _d(), **WAIT}, package_kwargs=DURABLE, warns=durable_unavailable
    )
    s["durable_fire_and_forget"] = Scenario(
        {"trigger_run_id": "child_dff", "logical_date": _d()},
        package_kwargs=DURABLE,
        finish=None,
        warns=durable_unavailable,
    )
    s["durable_wait_child_fails_with_retries"] = Scenario(
        {"logical_date": _d(), **WAIT},
        package_kwargs=DURABLE,
        finish="failed",
        retries=1,
        expect=(accessor,),
        warns=(*durable_unavailable, no_retry_on_failed_child),
    )
    # A generated run_id: durable on every version; below 3.3 the run_id is derived from the parent.
    below_3_3 = lacks("task_state_store")
    s["durable_generated_wait_child_succeeds"] = Scenario(
        dict(WAIT), package_kwargs=DURABLE, expect=(("durable-derived-run-id", below_3_3),)
    )
    s["durable_generated_wait_child_fails_with_retries"] = Scenario(
        dict(WAIT),
        package_kwargs=DURABLE,
        finish="failed",
        retries=1,
        # 3.0-3.2: try 1's wait is the runner's, as stock's: the child's failure ends it without retries.
        expect=(("durable-derived-run-id", below_3_3), accessor_generated),
        warns=(no_retry_on_failed_child,),
    )
    # The parent's DAG run deleted and created again under the same run_id (dag.test() does both): the new
    # run triggers its own child, as stock's does; the earlier run's child is never adopted.
    # 3.0-3.2: the derived run_id tells DAG runs apart by their start_date (the Task SDK shows no id).
    recreated_by_dag_test = (
        "durable-recreated-by-dag-test",
        lambda sel: sel.entry.path == "runner_exception" and sel.entry.keep == "derived",
    )
    # 3.0-3.2: the runner's link XCom, pushed before the trigger fails, names the derived run_id.
    s["durable_generated_trigger_dag_missing"] = Scenario(
        {"trigger_dag_id": "compat_missing"},
        package_kwargs=DURABLE,
        retries=1,
        finish=None,
        expect=(
            ("durable-derived-run-id", lambda sel: sel.entry.path == "runner_exception" and below_3_3(sel)),
        ),
    )
    s["durable_recreated_parent_waits"] = Scenario(
        dict(WAIT),
        package_kwargs=DURABLE,
        recreate=True,
        expect=(("durable-derived-run-id", below_3_3), recreated_by_dag_test),
    )
    s["durable_recreated_parent_fire_and_forget"] = Scenario(
        {},
        package_kwargs=DURABLE,
        finish=None,
        recreate=True,
        expect=(("durable-derived-run-id", below_3_3), recreated_by_dag_test),
    )
    date = _d()
    s["durable_exists_fails"] = Scenario(
        {"trigger_run_id": "child_dexists", "logical_date": date},
        package_kwargs=DURABLE,
        existing=_existing("child_dexists", date),
        expect=(accessor,),
        warns=durable_unavailable,
    )
    date = _d()
    s["durable_exists_skip"] = Scenario(
        {"trigger_run_id": "child_dskip", "logical_date": date, "skip_when_already_exists": True},
        package_kwargs=DURABLE,
        existing=_existing("child_dskip", date),
        warns=durable_unavailable,
    )
    date = _d()
    s["durable_exists_reset_and_wait"] = Scenario(
        {"trigger_run_id": "child_dreset", "logical_date": date, "reset_dag_run": True, **WAIT},
        package_kwargs=DURABLE,
        existing=_existing("child_dreset", date),
        warns=durable_unavailable,
    )
    s["durable_wait_child_deleted"] = Scenario(
        {"logical_date": _d(), **WAIT},
        package_kwargs=DURABLE,
        finish="deleted",
        timeout=20,
        warns=durable_unavailable,
    )
    s["durable_note_and_run_after"] = Scenario(
        {
            "note": "durable note",
            "run_after": datetime.datetime(2032, 7, 1, tzinfo=UTC),
            "logical_date": _d(),
        },
        package_kwargs=DURABLE,
        finish=None,
        warns=(
            *durable_unavailable,
            ("FlagIgnoredWarning", lambda sel: not (sel.supports("note") and sel.supports("run_after"))),
        ),
    )
    s["durable_paused_child_fails"] = Scenario(
        {"trigger_dag_id": PAUSED_CHILD_DAG_ID, "logical_date": _d(), "fail_when_dag_is_paused": True},
        package_kwargs=DURABLE,
        finish=None,
        warns=durable_unavailable,
    )
    s["durable_execution_timeout_shorter_than_child"] = Scenario(
        {"logical_date": _d(), **WAIT, "execution_timeout": datetime.timedelta(seconds=1)},
        package_kwargs=DURABLE,
        finish_delay=3.0,
        retries=1,
        timeout=40,
        # Try 1's wait is the runner's, outside execution_timeout, as stock's (a reconnected try's wait is
        # inside it: test_trigger_dagrun.py::test_durable_execution_timeout_bounds_a_reconnected_wait); with
        # the accessor, try 1's wait is the operator's, inside it too.
        expect=(accessor,),
        warns=(*durable_unavailable, no_retry_on_failed_child),
    )
    return s


SCENARIOS = scenarios()


def test_empty_trigger_dag_id_is_refused_at_parse(selection, record_property) -> None:
    """The one declared difference at construction: stock builds it and fails at run time."""
    scenario = Scenario(
        {"trigger_dag_id": ""}, retries=1, expect=(("empty-trigger-dag-id-at-parse", everywhere),)
    )
    _check("empty_trigger_dag_id", scenario, selection, record_property)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_parity(name: str, selection, record_property) -> None:
    _check(name, SCENARIOS[name], selection, record_property)


def _stale_fix_fields(scenario: Scenario, selection: Any) -> frozenset[str]:
    """Fields an older provider's missing fix may change here (declared: older-provider-fixes)."""
    fields: set[str] = set()
    if "link-xcom-at-trigger" in STOCK_STALE_FIXES and selection.version.release >= (3, 0, 0):
        fields.add("xcoms")
    if "json-string-conf" in STOCK_STALE_FIXES and isinstance(scenario.kwargs.get("conf"), str):
        fields |= {"children", "runs", "tries", "error", "xcoms", "log"}
    if _paused_refusal_stale(scenario, selection):
        fields |= {"construct_error", "children", "runs", "tries", "error", "xcoms", "log"}
    return frozenset(fields)


def _paused_refusal_stale(scenario: Scenario, selection: Any) -> bool:
    """providers-standard 1.9.0 on 3.0/3.1 takes fail_when_dag_is_paused; the package refuses it as 1.9.1+."""
    return (
        "paused-flag-refused-before-3-2" in STOCK_STALE_FIXES
        and bool(scenario.kwargs.get("fail_when_dag_is_paused"))
        and (3, 0, 0) <= selection.version.release < (3, 2, 0)
    )


def _check(name: str, scenario: Scenario, selection: Any, record_property: Any) -> None:
    declared = {d.id: d.fields for d in differences.differences_on(selection.version.release)}
    expected = scenario.expected(selection)
    lacking = STOCK_LACKS & set(scenario.kwargs)
    if lacking:  # an older provider: stock refuses the argument, the package applies it and warns
        expected = {OLDER_PROVIDER}
    assert expected <= set(declared), (
        f"the scenario expects undeclared differences {expected - set(declared)}"
    )
    stock, package, seconds = run_both(
        name, scenario, StockOperator, TriggerDagRunOperator, TriggerCompatWarning
    )
    record_property(
        "parity",
        json.dumps(
            {"stock": stock.summary(), "package": package.summary(), "declared": sorted(expected)},
            default=str,
        ),
    )
    record_property("parity_seconds", round(seconds, 2))
    assert stock.hung == scenario.stock_hangs(selection), f"stock hung={stock.hung}: {stock.summary()}"
    if stock.construct_error is not None:
        # Stock itself refused the input at parse (an older provider checks there): nothing runs on either
        # side, so a declared "fails early" difference cannot show.
        expected = expected - {INVALID}
    problems = check_parity(stock, package, declared, expected, _stale_fix_fields(scenario, selection))
    if _paused_refusal_stale(scenario, selection) and (
        package.construct_error is None or "builtins.NotImplementedError" not in package.construct_error.types
    ):
        problems.append(f"expected the current provider's NotImplementedError at parse: {package.summary()}")
    if INVALID in expected and not stock.construct_error and stock.tries[-1:] == ("success",):
        problems.append(f"{INVALID!r} declared, but stock succeeds with this input: the package refuses it")
    warned = set(package.warnings)
    meant = set() if package.construct_error else scenario.warned(selection)
    if lacking and not package.construct_error:
        meant |= {"ProviderParameterWarning"}
    if warned != meant:
        problems.append(f"the package warned {sorted(warned)}, expected {sorted(meant)}")
    assert not problems, "\n".join(
        [*problems, f"stock:   {stock.summary()}", f"package: {package.summary()}"]
    )

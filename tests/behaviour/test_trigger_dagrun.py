"""The operator's behaviour inside a real Airflow: one file for every version.

Each test runs a real parent task through the installed Airflow's own task execution (see
``_harness``) and checks what happened from the outside: child DagRun rows, the parent task's state and
try number, the ``trigger_run_id`` XCom. A feature a version lacks is declared once, in the shim's
registry; here ``not_applicable(feature)`` reads that declaration, records it in the JSON result, and the
test asserts the declared gap behaviour instead.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re

import _harness
import pytest
from _harness import CHILD_DAG_ID, PAUSED_CHILD_DAG_ID, run_parent, unique_date

from airflow_trigger_compat import DurableUnavailableWarning, FeatureNotSupported, TriggerDagRunOperator

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


# --- the environment ------------------------------------------------------------------------------------


def test_environment_is_the_expected_airflow(selection) -> None:
    import airflow

    expected = os.environ.get("AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW")
    if expected:
        assert airflow.__version__ == expected
    assert selection.version.raw == airflow.__version__


# --- fire and forget ------------------------------------------------------------------------------------


def test_fire_and_forget(ids) -> None:
    parent, run_id = ids
    date = unique_date()
    result = trigger(parent, trigger_run_id=run_id, conf={"answer": 42}, logical_date=date)

    assert result.state == "success"
    assert result.trigger_run_id == run_id
    child = only_child(run_id)
    assert child.conf == {"answer": 42}
    assert child.logical_date == date
    assert child.state == "queued"  # nobody waits for it


def test_generated_run_id(ids) -> None:
    parent, _ = ids
    before = {r.run_id for r in _harness.child_runs()}
    result = trigger(parent, logical_date=unique_date())

    assert result.state == "success"
    new = [r for r in _harness.child_runs() if r.run_id not in before]
    assert [r.run_id for r in new] == [result.trigger_run_id]
    assert result.trigger_run_id.startswith("manual__")


def test_note(ids, not_applicable) -> None:
    parent, run_id = ids
    if not_applicable("note"):
        with pytest.raises(FeatureNotSupported, match="note"):
            trigger(parent, trigger_run_id=run_id, logical_date=unique_date(), note="from the parent")
        assert _harness.child_runs(run_id=run_id) == []
        return
    result = trigger(parent, trigger_run_id=run_id, logical_date=unique_date(), note="from the parent")
    assert result.state == "success"
    assert only_child(run_id).note == "from the parent"


def test_run_after(ids, not_applicable) -> None:
    parent, run_id = ids
    run_after = datetime.datetime(2032, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
    if not_applicable("run_after"):
        with pytest.raises(FeatureNotSupported, match="run_after"):
            trigger(parent, trigger_run_id=run_id, logical_date=unique_date(), run_after=run_after)
        assert _harness.child_runs(run_id=run_id) == []
        return
    result = trigger(parent, trigger_run_id=run_id, logical_date=unique_date(), run_after=run_after)
    assert result.state == "success"
    assert only_child(run_id).run_after == run_after


# --- the path the registry names ------------------------------------------------------------------------

#: How each strategy looks from the outside: who created the child run.
EXPECTED_PATH = {
    # Airflow 2: the operator calls trigger_dag (ORM); there is no Task SDK runner.
    "airflow2": {"runner_calls": None, "orm_triggers": 1},
    # Airflow 3.0-3.2: execute() raises, the runner's _handle_trigger_dag_run triggers via the API.
    "runner_exception": {"runner_calls": 1, "orm_triggers": 1},
    # Airflow 3.3+: the operator triggers through the execution API itself; the runner is not involved.
    "accessor": {"runner_calls": 0, "orm_triggers": 1},
}


@pytest.mark.parametrize("wait", [False, True], ids=["fire_and_forget", "wait"])
def test_path_is_the_registry_strategy(ids, selection, path_spy, record_property, wait) -> None:
    parent, run_id = ids
    result = trigger(
        parent,
        trigger_run_id=run_id,
        logical_date=unique_date(),
        wait_for_completion=wait,
        finish={run_id: "success"},
    )
    record_property("path", f"{selection.name}: {path_spy.summary()}")

    assert result.state == "success"
    expected = EXPECTED_PATH[selection.name]
    observed = {
        "runner_calls": path_spy.runner_calls if path_spy.has_runner else None,
        "orm_triggers": path_spy.orm_triggers,
    }
    assert observed == expected, path_spy.summary()


# --- waiting --------------------------------------------------------------------------------------------


def test_wait_child_succeeds(ids) -> None:
    parent, run_id = ids
    result = trigger(
        parent, trigger_run_id=run_id, logical_date=unique_date(), wait_for_completion=True,
        finish={run_id: "success"},
    )  # fmt: skip
    assert result.state == "success"
    assert result.finished_children == [(run_id, "success")]
    assert result.trigger_run_id == run_id
    assert only_child(run_id).state == "success"


def test_wait_child_fails(ids, output) -> None:
    parent, run_id = ids
    result = trigger(
        parent, trigger_run_id=run_id, logical_date=unique_date(), wait_for_completion=True,
        finish={run_id: "failed"},
    )  # fmt: skip
    assert result.state == "failed"
    assert result.try_states == ["failed"]
    # 2.11 and the shim: "compat_child failed with failed state failed" (the task's exception);
    # the 3.0-3.2 runner: "DagRun finished with failed state. dag_id=compat_child state=failed" (its log).
    assert any("with failed state" in line and CHILD_DAG_ID in line for line in output().splitlines())


def test_wait_child_fails_with_retries_goes_up_for_retry(ids, not_applicable) -> None:
    parent, run_id = ids
    result = trigger(
        parent, trigger_run_id=run_id, logical_date=unique_date(), wait_for_completion=True,
        finish={run_id: "failed"}, retries=1, stop_after_first_try=True,
    )  # fmt: skip
    if not_applicable("retry_on_failed_child"):
        # The declared gap: the 3.0-3.2 runner marks the task failed outright, retries unused.
        assert result.try_states == ["failed"]
        return
    assert result.try_states == ["up_for_retry"]
    assert result.state == "up_for_retry"
    assert result.try_number == 1


@pytest.mark.parametrize(
    ("child_ends", "parent_ends"), [("failed", "success"), ("success", "failed")], ids=["allowed", "failed"]
)
def test_custom_allowed_and_failed_states(ids, child_ends, parent_ends) -> None:
    parent, run_id = ids
    result = trigger(
        parent, trigger_run_id=run_id, logical_date=unique_date(), wait_for_completion=True,
        allowed_states=["failed"], failed_states=["success"], finish={run_id: child_ends},
    )  # fmt: skip
    assert result.state == parent_ends


# --- the run already exists -----------------------------------------------------------------------------


def _existing_child(parent: str, run_id: str) -> datetime.datetime:
    date = unique_date()
    first = trigger(f"{parent}_first", trigger_run_id=run_id, logical_date=date)
    assert first.state == "success"
    return date


def test_run_exists_fails_clearly(ids, output) -> None:
    parent, run_id = ids
    date = _existing_child(parent, run_id)
    output()  # drop the first run's output
    result = trigger(parent, trigger_run_id=run_id, logical_date=date)

    assert result.state == "failed"
    lines = output().splitlines()
    assert any("already exists" in line.lower() and run_id in line for line in lines)
    assert len(_harness.child_runs(run_id=run_id)) == 1


def test_run_exists_skip_when_already_exists(ids, not_applicable) -> None:
    parent, run_id = ids
    assert not not_applicable("skip_when_already_exists")
    date = _existing_child(parent, run_id)
    result = trigger(parent, trigger_run_id=run_id, logical_date=date, skip_when_already_exists=True)
    assert result.state == "skipped"


def test_run_exists_reset_dag_run_clears_and_reruns(ids, not_applicable) -> None:
    parent, run_id = ids
    assert not not_applicable("reset_dag_run")
    date = _existing_child(parent, run_id)
    _harness.set_child_state(run_id, "failed")
    result = trigger(
        parent, trigger_run_id=run_id, logical_date=date, reset_dag_run=True, wait_for_completion=True,
        finish={run_id: "success"},
    )  # fmt: skip

    assert result.state == "success"
    # The same run was cleared (failed -> queued) and ran again; no second run was created.
    assert result.finished_children == [(run_id, "success")]
    assert only_child(run_id).state == "success"


# --- deferrable -----------------------------------------------------------------------------------------


class TriggerSpy:
    def __init__(self) -> None:
        self.triggers: list[object] = []
        self.events: list[object] = []


@pytest.fixture
def trigger_spy(monkeypatch: pytest.MonkeyPatch) -> TriggerSpy:
    """Every DagStateTrigger that ran, and every event it fired (dag.test() runs triggers in-process)."""
    from airflow.providers.standard.triggers.external_task import DagStateTrigger

    spy = TriggerSpy()
    original = DagStateTrigger.run

    async def run(self):  # type: ignore[no-untyped-def]
        spy.triggers.append(self)
        async for event in original(self):
            spy.events.append(event)
            yield event

    monkeypatch.setattr(DagStateTrigger, "run", run)
    return spy


@pytest.mark.parametrize(("child_ends", "parent_ends"), [("success", "success"), ("failed", "failed")])
def test_deferrable_wait(ids, not_applicable, trigger_spy, child_ends, parent_ends) -> None:
    parent, run_id = ids
    assert not not_applicable("deferrable")
    result = trigger(
        parent, trigger_run_id=run_id, logical_date=unique_date(), wait_for_completion=True,
        deferrable=True, finish={run_id: child_ends},
    )  # fmt: skip

    assert len(trigger_spy.triggers) == 1, "the task did not defer on a DagStateTrigger"
    assert trigger_spy.triggers[0].run_ids == [run_id]
    assert len(trigger_spy.events) == 1, "the trigger did not fire (the task cannot have resumed on it)"
    assert result.state == parent_ends
    assert only_child(run_id).state == child_ends


# --- paused child ---------------------------------------------------------------------------------------


def test_fail_when_dag_is_paused(ids, not_applicable, output) -> None:
    parent, run_id = ids
    kwargs = dict(trigger_dag_id=PAUSED_CHILD_DAG_ID, trigger_run_id=run_id, logical_date=unique_date())
    if not_applicable("fail_when_dag_is_paused"):
        with pytest.raises(FeatureNotSupported, match="fail_when_dag_is_paused"):
            trigger(parent, fail_when_dag_is_paused=True, **kwargs)
        return
    result = trigger(parent, fail_when_dag_is_paused=True, **kwargs)
    assert result.state == "failed"
    assert re.search(rf"{PAUSED_CHILD_DAG_ID} is paused", output(), re.IGNORECASE)
    assert _harness.child_runs(PAUSED_CHILD_DAG_ID, run_id) == []


# --- durable --------------------------------------------------------------------------------------------


def test_durable_wait(ids, selection, not_applicable) -> None:
    parent, run_id = ids
    kwargs = dict(
        trigger_run_id=run_id, logical_date=unique_date(), wait_for_completion=True, durable=True,
        finish={run_id: "success"},
    )  # fmt: skip
    if not_applicable("durable"):
        with pytest.warns(DurableUnavailableWarning, match=re.escape(selection.version.raw)):
            result = trigger(parent, **kwargs)
    else:
        result = trigger(parent, **kwargs)
    assert result.state == "success"
    assert only_child(run_id).state == "success"

"""Unit-test fixtures. ``FakePort`` stands in for Airflow's side of a task (the supervisor channel or
the ORM); this package's own code is always the real one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

import airflow_trigger_compat
from airflow_trigger_compat._registry import resolve
from airflow_trigger_compat._request import TriggerRequest
from airflow_trigger_compat._version import parse_airflow_version


class Skipped(Exception):
    pass


class Failed(Exception):
    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Paused(Exception):
    pass


class Deferred(Exception):
    pass


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _record(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append(msg % args if args else msg)

    info = warning = debug = error = _record


class FakePort:
    """An in-memory Airflow: DAG runs by run_id, pushed XComs, a state script for polls."""

    def __init__(self, *, existing: dict[str, str] | None = None, paused: bool = False) -> None:
        self.runs: dict[str, str] = dict(existing or {})
        self.triggered: list[tuple[str, bool]] = []
        self.xcoms: list[str] = []
        self.slept: list[float] = []
        self.paused_dag = paused
        self.log = _Log()
        #: states the child run goes through, one per poll
        self.script: list[str] = []
        self.events: list[str] = []

    def trigger(self, request: TriggerRequest, run_id: str, *, reset: bool) -> bool:
        self.events.append(f"trigger:{run_id}")
        if run_id in self.runs and not reset:
            return False
        self.triggered.append((run_id, reset))
        self.runs[run_id] = "queued"
        return True

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        if run_id in self.runs and self.script:
            self.runs[run_id] = self.script.pop(0)
        return self.runs.get(run_id)

    def dag_is_paused(self, dag_id: str) -> bool:
        return self.paused_dag

    def push_run_id(self, run_id: str) -> None:
        self.xcoms.append(run_id)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def skip(self, message: str) -> NoReturn:
        raise Skipped(message)

    def fail(self, message: str, *, retry: bool) -> NoReturn:
        raise Failed(message, retry)

    def paused(self, dag_id: str) -> NoReturn:
        raise Paused(dag_id)

    def defer(self, request: TriggerRequest, run_id: str) -> NoReturn:
        raise Deferred(run_id)


class FakeStore:
    """``context['task_state_store']``: a dict that records its writes."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(initial or {})
        self.writes: list[tuple[str, Any]] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.writes.append((key, value))
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.writes.append((key, None))
        self.data.pop(key, None)


class FakeOperator:
    """The attributes the standard TriggerDagRunOperator has after rendering."""

    def __init__(self, **overrides: Any) -> None:
        self.trigger_dag_id = "child"
        self.trigger_run_id: str | None = None
        self.conf: Any = None
        self.logical_date: Any = None
        self.run_after: Any = None
        self.note: str | None = None
        self.reset_dag_run = False
        self.skip_when_already_exists = False
        self.wait_for_completion = False
        self.poke_interval: Any = 60
        self.allowed_states: Any = None
        self.failed_states: Any = None
        self.deferrable = False
        self.fail_when_dag_is_paused = False
        self.durable = False
        self.openlineage_inject_parent_info = False
        for key, value in overrides.items():
            setattr(self, key, value)


def selection_for(version: str, forced: str | None = None):
    return resolve(parse_airflow_version(version), forced)


@pytest.fixture(autouse=True)
def _fresh_detection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AIRFLOW_TRIGGER_COMPAT_STRATEGY", raising=False)
    airflow_trigger_compat.reset()
    yield
    airflow_trigger_compat.reset()

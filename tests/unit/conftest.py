"""Unit-test fixtures. ``FakePort`` stands in for Airflow's side of a task (the Task SDK's accessors or
the ORM), ``FakeHelpers`` for the Airflow functions a request is computed with, and ``fake_airflow`` for
the Airflow names the package loads; this package's own code is always the real one."""

from __future__ import annotations

import datetime
import enum
import random
import re
import string
import sys
import types
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

import airflow_trigger_compat
from airflow_trigger_compat._runtime import _airflow
from airflow_trigger_compat._runtime._airflow import AirflowHelpers
from airflow_trigger_compat._runtime._contract import ParentKey, TaskPort
from airflow_trigger_compat._runtime._registry import Selection, parse_airflow_version, resolve
from airflow_trigger_compat._runtime._request import TriggerRequest, build_request

#: What the fake ``timezone.utcnow()`` answers.
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)

#: Airflow's RUN_ID_REGEX (the default ``[scheduler] allowed_run_id_pattern``).
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")

ArgNotSet = type("ArgNotSet", (), {"__repr__": lambda self: "NOTSET"})
#: Shaped like Airflow's NOTSET sentinel (an instance of a class named ArgNotSet).
NOTSET = ArgNotSet()


def fake_parse(value: str) -> datetime.datetime:
    """``timezone.parse``: ISO 8601 (``ValueError`` otherwise); naive means UTC, the default timezone."""
    parsed = datetime.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def fake_validate_run_id(run_id: str) -> str:
    """``DagRun.validate_run_id`` with the default pattern."""
    if not RUN_ID_PATTERN.match(run_id):
        raise ValueError(
            f"The run_id provided '{run_id}' does not match regex pattern '{RUN_ID_PATTERN.pattern}'"
        )
    return run_id


def _af3_run_id(logical_date: datetime.datetime | None, run_after: datetime.datetime) -> str:
    # DagRun.generate_run_id on Airflow 3: a run without a logical date gets a random suffix.
    if logical_date is not None:
        return f"manual__{logical_date.isoformat()}"
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    return f"manual__{run_after.isoformat()}_{suffix}"


def _af2_run_id(logical_date: datetime.datetime | None, run_after: datetime.datetime) -> str:
    # DagRun.generate_run_id(run_type, execution_date) on Airflow 2: "now" when there is no date.
    return f"manual__{(logical_date or NOW).isoformat()}"


#: Airflow 3's helpers, faked.
AF3_HELPERS = AirflowHelpers(fake_parse, lambda: NOW, _af3_run_id, fake_validate_run_id)
#: Airflow 2's helpers, faked (only generate_run_id differs).
AF2_HELPERS = AF3_HELPERS._replace(generate_run_id=_af2_run_id)


def helpers_for(selection: Selection) -> AirflowHelpers:
    """The helpers of the Airflow ``selection`` was resolved for."""
    return AF2_HELPERS if selection.version.release < (3, 0, 0) else AF3_HELPERS


class Paused(Exception):
    pass


class RunNotFound(Exception):
    """What Airflow raises when asked for the state of a DAG run that does not exist."""


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _record(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append(msg % args if args else msg)

    info = warning = debug = error = _record


class FakePort(TaskPort):
    """An in-memory Airflow seen from the task: DAG runs by run_id, pushed XComs, a state script for polls.

    The outcomes are ``TaskPort``'s own (``child_failed`` raises Airflow's exceptions: use ``fake_airflow``),
    and so are the wait's log lines; only what reads or writes Airflow is faked. ``run_state`` (does the run
    exist, and in which state?) reads without advancing the script; each poll (``dagrun_state``) advances it.
    """

    def __init__(
        self,
        *,
        existing: dict[str, str] | None = None,
        paused: bool = False,
        max_tries: int = 1,
        dag_run: str = "id=1",
        map_index: int = -1,
    ) -> None:
        #: Which DAG run holds the parent task: one recreated under the same run_id is another.
        self.dag_run = dag_run
        #: The parent task instance's max_tries: a user's clear raises it.
        self.max_tries = max_tries
        self.map_index = map_index
        #: DAG runs that exist, by run_id (an earlier try's, or another party's).
        self.runs: dict[str, str] = dict(existing or {})
        self.xcoms: list[str] = []
        self.links: list[str] = []
        self.slept: list[float] = []
        self.paused_dag = paused
        self.log = _Log()
        #: states the child run goes through, one per poll
        self.script: list[str] = []
        #: every read and write, in order
        self.events: list[str] = []
        #: the ``retry`` each child_failed call was given
        self.failed_retry: list[bool] = []

    def dagrun_state(self, dag_id: str, run_id: str) -> str:
        self.events.append(f"poll:{run_id}")
        if run_id not in self.runs:
            raise RunNotFound(f"DAG run {dag_id}/{run_id} not found")
        if self.script:
            self.runs[run_id] = self.script.pop(0)
        return self.runs[run_id]

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        self.events.append(f"state:{run_id}")
        return self.runs.get(run_id)

    def dag_is_paused(self, dag_id: str) -> bool:
        return self.paused_dag

    def push_link(self, run_id: str) -> None:
        self.events.append(f"link:{run_id}")
        self.links.append(run_id)

    def push_run_id(self, run_id: str) -> None:
        self.events.append(f"xcom:{run_id}")
        self.xcoms.append(run_id)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def paused(self, dag_id: str) -> NoReturn:
        raise Paused(dag_id)

    def child_failed(self, dag_id: str, state: str, *, retry: bool) -> NoReturn:
        self.events.append(f"child_failed:{state}")
        self.failed_retry.append(retry)
        super().child_failed(dag_id, state, retry=retry)  # the runner's log line and Airflow's exception

    def parent_key(self) -> ParentKey:
        return ParentKey("parent", "manual__run", self.dag_run, "trigger", self.map_index, self.max_tries)


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
    """The attributes the standard TriggerDagRunOperator has after rendering (its defaults included)."""

    def __init__(self, **overrides: Any) -> None:
        self.trigger_dag_id = "child"
        self.trigger_run_id: str | None = None
        self.conf: Any = None
        self.logical_date: Any = NOTSET
        self.run_after: Any = NOTSET
        self.note: str | None = None
        self.reset_dag_run = False
        self.skip_when_already_exists = False
        self.wait_for_completion = False
        self.poke_interval: Any = 60
        self.allowed_states: Any = [DagRunState.SUCCESS]  # as stock's __init__ sets them
        self.failed_states: Any = [DagRunState.FAILED]
        self.deferrable = False
        self.fail_when_dag_is_paused = False
        self.durable = False
        self.openlineage_inject_parent_info = False
        for key, value in overrides.items():
            setattr(self, key, value)


def selection_for(version: str) -> Selection:
    return resolve(parse_airflow_version(version))


def request_for(
    selection: Selection | str = "3.3.2", helpers: AirflowHelpers | None = None, **overrides: Any
) -> TriggerRequest:
    """``build_request`` for a ``FakeOperator(**overrides)``, with the fake helpers of that Airflow."""
    if isinstance(selection, str):
        selection = selection_for(selection)
    return build_request(FakeOperator(**overrides), selection, helpers or helpers_for(selection))


class DagRunState(str, enum.Enum):
    """Airflow's DagRunState."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class AirflowException(Exception):
    pass


class AirflowFailException(AirflowException):
    pass


class AirflowSkipException(AirflowException):
    pass


class DagIsPaused(AirflowException):
    def __init__(self, dag_id: str) -> None:
        super().__init__(f"Dag {dag_id} is paused")
        self.dag_id = dag_id


class DagRunTriggerException(AirflowException):
    """Airflow 3.3's signature; records what it was raised with."""

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        dag_run_id: str,
        conf: Any,
        logical_date: Any,
        reset_dag_run: bool,
        skip_when_already_exists: bool,
        wait_for_completion: bool,
        allowed_states: list[Any],
        failed_states: list[Any],
        poke_interval: int,
        deferrable: bool,
        note: str | None = None,
        run_after: Any = None,
    ) -> None:
        super().__init__()
        self.kwargs = {k: v for k, v in locals().items() if k not in ("self", "__class__")}


class TriggerDagRunLink:
    xcom_key = "_link_TriggerDagRunLink"


#: The Airflow names ``fake_airflow`` provides, by the name the package loads them with.
FAKE_NAMES = {
    "AirflowException": AirflowException,
    "AirflowFailException": AirflowFailException,
    "AirflowSkipException": AirflowSkipException,
    "DagIsPaused": DagIsPaused,
    "DagRunState": DagRunState,
    "DagRunTriggerException": DagRunTriggerException,
    "TriggerDagRunLink": TriggerDagRunLink,
    "XCOM_RUN_ID": "trigger_run_id",
}


def build_airflow_dagrun_url(*, dag_id: str, run_id: str) -> str:
    return f"http://airflow/dags/{dag_id}/runs/{run_id}"


@pytest.fixture
def fake_airflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """Airflow's names for ``_airflow.load`` (through ``IMPORT_PATHS``), and ``airflow.utils.helpers``.

    Installs a fake ``airflow`` package in ``sys.modules``: pass a selection explicitly, never detect one.
    """
    module = types.ModuleType("_fake_airflow_names")
    for name, value in FAKE_NAMES.items():
        setattr(module, name, value)
        monkeypatch.setitem(_airflow.IMPORT_PATHS, name, (module.__name__,))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    airflow, utils, helpers = (
        types.ModuleType(n) for n in ("airflow", "airflow.utils", "airflow.utils.helpers")
    )
    helpers.build_airflow_dagrun_url = build_airflow_dagrun_url  # type: ignore[attr-defined]
    utils.helpers = helpers  # type: ignore[attr-defined]
    airflow.utils = utils  # type: ignore[attr-defined]
    for mod in (airflow, utils, helpers):
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
    airflow_trigger_compat.reset()
    yield module
    airflow_trigger_compat.reset()


@pytest.fixture(autouse=True)
def _fresh_detection() -> Iterator[None]:
    airflow_trigger_compat.reset()
    yield
    airflow_trigger_compat.reset()

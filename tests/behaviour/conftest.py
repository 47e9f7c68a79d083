"""Behavioural tests: a real Airflow, a real SQLite metadata DB, real task execution.

Airflow reads its configuration when first imported, so the environment is set here, at conftest
import time, before anything imports Airflow. The DB schema is created once per session.

Environment (set by the ``tests`` nox session):

* ``AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW``: the Airflow release this environment must have.
* ``AIRFLOW_TRIGGER_COMPAT_RESULTS``: where to write the run's results document (optional; the schema is
  ``tests/results.py``). ``AIRFLOW_TRIGGER_COMPAT_RUN``: which table it belongs to
  (default: ``provider`` for a vendored copy, ``oldest-provider`` with an expected provider, else
  ``releases``; ``tests(next)`` sets ``next``).
* ``AIRFLOW_TRIGGER_COMPAT_PACKAGE``, ``AIRFLOW_TRIGGER_COMPAT_OPERATOR``: the package and operator under
  test (see ``_subject``; set by the ``vendored`` session to drive a vendored copy).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

_HOME = tempfile.mkdtemp(prefix="airflow-trigger-compat-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.makedirs(os.path.join(_HOME, "dags"))
os.environ.update(
    {
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(_HOME, "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__API_AUTH__JWT_SECRET": "behaviour-tests-only",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        # Airflow 2: no triggerer runs here, so dag.test() runs triggers in-process.
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "False",
    }
)

sys.path.insert(0, str(Path(__file__).parent))
import _harness  # noqa: E402

# Modules imported once, up front, with import-time warnings silenced: Airflow's dependency stack emits
# deprecation warnings on import (Flask 2.x shims under 2.11, connexion, marshmallow, SQLAlchemy 2.0
# migration notices, Airflow's own moved-module aliases used by the standard provider on 3.1). Nothing
# of this package runs during these imports, so this hides no warning of ours.
PREIMPORT = [
    "airflow",
    "airflow.models",
    "airflow.models.dag",
    "airflow.models.dagrun",
    "airflow.models.taskinstance",
    "airflow.utils.db",
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.providers.standard.operators.empty",
    "airflow.providers.standard.triggers.external_task",
    # Airflow 3: the task runner, the in-process supervisor and the execution API it serves.
    "airflow.sdk.execution_time.task_runner",
    "airflow.sdk.execution_time.supervisor",
    "airflow.api_fastapi.execution_api.app",
    "airflow.api_fastapi.execution_api.routes",
    # Airflow 2.11: initdb creates the FAB auth manager tables (Flask-AppBuilder, flask_sqlalchemy).
    "airflow.providers.fab.auth_manager.models",
]

# Warnings Airflow emits while a task runs, each matched narrowly; `filterwarnings = error` stays on for
# everything else, including every warning this package emits.
AIRFLOW_WARNING_FILTERS = [
    # 3.2, 3.3: dag.test() runs tasks against the in-process execution API through starlette's
    # TestClient, which warns when it falls back to httpx (starlette >= 1.10 prefers httpx2).
    "ignore:Using `httpx` with `starlette.testclient` is deprecated",
    # 3.1.0, 3.1.1: the execution API app enables cadwyn's changelog, which cadwyn (as pinned) deprecates.
    "ignore:Cadwyn's changelog feature is deprecated:DeprecationWarning",
    # The provider axis (providers-standard 1.9.0 on 3.2 and 3.3): an older provider imports exceptions
    # from airflow.exceptions, which Airflow 3.2 moved to airflow.sdk.exceptions and deprecates on access.
    # Matched on the importing module, so an import of this package's would still fail.
    r"ignore:airflow\.exceptions\.\w+ is deprecated:FutureWarning:airflow\.providers\.standard\.",
]


def _preimport() -> None:
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in PREIMPORT:
            try:
                importlib.import_module(name)
            except ImportError:  # a module this Airflow version does not have
                continue
        # SQLAlchemy 2.1 (Airflow 3.1+) warns about Airflow's `noload` relationships when the mappers are
        # first configured; do that here too.
        from sqlalchemy.orm import configure_mappers

        configure_mappers()


def pytest_configure(config: pytest.Config) -> None:
    start = time.perf_counter()
    _preimport()
    ResultRecorder.import_s = round(time.perf_counter() - start, 2)
    for line in AIRFLOW_WARNING_FILTERS:
        config.addinivalue_line("filterwarnings", line)
    config.addinivalue_line(
        "markers", "feature(name): the scenario exercises an operator feature from the registry's table"
    )
    config.pluginmanager.register(ResultRecorder(config), "trigger-compat-results")


# ---------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_db() -> dict[str, float]:
    """Create the metadata DB once and register the child DAGs; returns timings."""
    imported = time.perf_counter()
    # Creating the schema loads Airflow's migration scripts, which import its web stack (Airflow 2.11:
    # airflow.www -> connexion -> deprecated jsonschema API). Setup only: no code of this package runs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _harness.init_db()
    migrated = time.perf_counter()
    _harness.reuse_in_process_api()
    _harness.give_inline_triggers_a_supervisor()
    _harness.bound_inline_triggers()
    _harness.sync_dags(_harness.make_child_dags())
    _harness.set_paused(_harness.PAUSED_CHILD_DAG_ID, True)
    synced = time.perf_counter()
    _harness.warm_up()
    timings = {
        "import_airflow_s": ResultRecorder.import_s,
        "init_db_s": round(migrated - imported, 2),
        "sync_children_s": round(synced - migrated, 2),
        "warm_up_task_s": round(time.perf_counter() - synced, 2),
    }
    ResultRecorder.instance.setup_timings.update(timings)
    return timings


@pytest.fixture(scope="session")
def selection(airflow_db: dict[str, float]) -> Any:
    """The registry entry the shim chose for this Airflow (recorded in the JSON result)."""
    import airflow
    from _subject import compat, reset, select_row

    reset()  # detect the Airflow of this process, whatever ran before
    chosen = select_row()
    from airflow.providers.standard import __version__ as provider_standard

    ResultRecorder.instance.meta.update(
        airflow=airflow.__version__,
        strategy=chosen.entry.path,
        package=compat.__name__,
        provider_standard=provider_standard,
    )
    return chosen


@pytest.fixture
def not_applicable(selection: Any, record_property: Any) -> Any:
    """``not_applicable(feature)``: the registry's reason this Airflow lacks ``feature``, or ``None``.

    A gap is recorded for the JSON result (outcome ``not_applicable`` with the reason); the test then
    asserts the declared gap behaviour instead of skipping.
    """

    from _subject import Feature

    known = {f.value for f in Feature}

    def check(feature: str) -> str | None:
        if feature not in known:
            # Not (yet) in the registry's feature table: every version is held to the behaviour.
            record_property("undeclared_feature", feature)
            return None
        reason = selection.gap(feature)
        if reason is not None:
            record_property(NOT_APPLICABLE_KEY, f"{feature}: {reason}")
        return reason

    return check


class PathSpy:
    """Counts who triggered: the Task SDK runner (``_handle_trigger_dag_run``), the Task SDK's accessor
    ``ti.trigger_dag_run()`` where it has one (apache/airflow#69135: the runner's handler calls it too), and
    the ORM trigger."""

    def __init__(self) -> None:
        self.runner_calls = 0
        self.accessor_calls = 0
        self.orm_triggers = 0
        #: False where there is no Task SDK task runner (Airflow 2).
        self.has_runner = False
        #: False where the Task SDK has no ``ti.trigger_dag_run()`` (every release).
        self.has_accessor = False

    def summary(self) -> str:
        runner = self.runner_calls if self.has_runner else "n/a"
        accessor = self.accessor_calls if self.has_accessor else "n/a"
        return (
            f"runner _handle_trigger_dag_run calls={runner}, ti.trigger_dag_run calls={accessor}, "
            f"ORM _trigger_dag calls={self.orm_triggers}"
        )


@pytest.fixture
def path_spy(monkeypatch: pytest.MonkeyPatch) -> PathSpy:
    """Wrap the two places a child run can be created from, counting calls (behaviour unchanged)."""
    import importlib

    spy = PathSpy()
    orm = importlib.import_module("airflow.api.common.trigger_dag")
    original_orm = orm._trigger_dag

    def counting_orm(*args: Any, **kwargs: Any) -> Any:
        spy.orm_triggers += 1
        return original_orm(*args, **kwargs)

    monkeypatch.setattr(orm, "_trigger_dag", counting_orm)
    try:
        runner = importlib.import_module("airflow.sdk.execution_time.task_runner")
    except ImportError:  # Airflow 2: the operator itself calls trigger_dag
        return spy
    spy.has_runner = True
    original_runner = runner._handle_trigger_dag_run

    def counting_runner(*args: Any, **kwargs: Any) -> Any:
        spy.runner_calls += 1
        return original_runner(*args, **kwargs)

    monkeypatch.setattr(runner, "_handle_trigger_dag_run", counting_runner)
    if not hasattr(runner.RuntimeTaskInstance, "trigger_dag_run"):
        return spy
    spy.has_accessor = True
    original_accessor = runner.RuntimeTaskInstance.trigger_dag_run  # a staticmethod

    def counting_accessor(*args: Any, **kwargs: Any) -> Any:
        spy.accessor_calls += 1
        return original_accessor(*args, **kwargs)

    monkeypatch.setattr(runner.RuntimeTaskInstance, "trigger_dag_run", staticmethod(counting_accessor))
    return spy


@pytest.fixture
def routes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every route the package's ``_execute.route`` answers during the test (``Route``: path, keep,
    trigger), in order."""
    import importlib

    from _subject import compat

    taken: list[Any] = []
    execute = importlib.import_module(f"{compat.__name__}._execute")
    route = execute.route
    monkeypatch.setattr(execute, "route", lambda *a: taken.append(route(*a)) or taken[-1])
    return taken


@pytest.fixture
def output(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Any:
    """``output()``: everything the task logged so far (stdout, stderr and logging records)."""
    read: list[str] = []  # what earlier calls took from capfd: each call answers with all of it

    def text() -> str:
        out, err = capfd.readouterr()
        # Keep it readable in the pytest report as well.
        sys.stdout.write(out)
        sys.stderr.write(err)
        read.extend([out, err])
        return "\n".join([*read, caplog.text])

    return text


# ---------------------------------------------------------------------------------------------------------
# Results: machine-readable JSON, one file per Airflow version
# ---------------------------------------------------------------------------------------------------------

NOT_APPLICABLE_KEY = "not_applicable"


class ResultRecorder:
    """Collect each scenario's outcome (passed / failed / not_applicable / skipped) and write JSON."""

    instance: ResultRecorder
    import_s: float = 0.0

    def __init__(self, config: pytest.Config) -> None:
        ResultRecorder.instance = self
        self.config = config
        self.path = os.environ.get("AIRFLOW_TRIGGER_COMPAT_RESULTS")
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.setup_timings: dict[str, float] = {}
        self.meta: dict[str, Any] = {}
        self.start = time.perf_counter() - ResultRecorder.import_s

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = report.nodeid.split("::", 1)[-1]
        entry = self.scenarios.setdefault(name, {"outcome": "passed", "duration_s": 0.0})
        if report.when == "call":  # session setup (DB, warm-up) is reported under "setup" instead
            entry["duration_s"] = round(report.duration, 3)
        props = dict(report.user_properties)
        if report.failed:
            entry["outcome"] = "failed"
            entry["reason"] = f"{report.when}: {_first_line(report.longreprtext)}"
        elif report.skipped:
            # A skip is never a pass: it is reported as its own outcome and fails the run.
            entry["outcome"] = "skipped"
            entry["reason"] = _skip_reason(report)
        elif report.when == "call" and NOT_APPLICABLE_KEY in props and entry["outcome"] == "passed":
            entry["outcome"] = "not_applicable"
            entry["reason"] = props[NOT_APPLICABLE_KEY]
        if report.when == "call" and "path" in props:
            entry["path"] = props["path"]
        if report.when == "call" and "parity" in props:
            # The declared differences this scenario showed (it passed, so they did show), and its cost.
            entry["declared"] = json.loads(props["parity"])["declared"]
            entry["seconds_both_sides"] = props.get("parity_seconds")
        if report.when == "call" and "fuzz" in props:
            entry["fuzz"] = json.loads(props["fuzz"])

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if any(s["outcome"] == "skipped" for s in self.scenarios.values()) and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not self.path:
            return
        package = self.meta.get("package")
        expected_provider = os.environ.get("AIRFLOW_TRIGGER_COMPAT_EXPECT_PROVIDER")
        run = os.environ.get("AIRFLOW_TRIGGER_COMPAT_RUN") or (
            "provider"  # a vendored copy (airflow.providers.standard._vendor...): the provider sessions
            if package and not package.startswith("airflow_trigger_compat")
            else "oldest-provider"
            if expected_provider
            else "releases"
        )
        expected = os.environ.get("AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW")
        _results().write(
            self.path,
            suite="behaviour",
            run=run,
            airflow=self.meta.get("airflow") or expected or "unknown",
            environment={
                "python": sys.version.split()[0],
                "package": package,
                "provider_standard": self.meta.get("provider_standard"),
                "executor": None,  # in-process: dag.test()
                "strategy": self.meta.get("strategy"),
                "expected_airflow": expected,
                "expected_provider": expected_provider,
            },
            exitstatus=int(session.exitstatus),
            duration_s=round(time.perf_counter() - self.start, 2),
            timings=self.setup_timings,
            rows=[{"name": name, **entry} for name, entry in sorted(self.scenarios.items())],
        )


def _results() -> Any:
    """The results schema (tests/results.py), by path: the provider sessions run
    without the package installed, and importing it would hide the vendored copy under test."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "results.py"
    spec = importlib.util.spec_from_file_location("_airflow_trigger_compat_results", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("E ")]
    return (lines[0][2:].strip() if lines else text.strip().splitlines()[-1] if text.strip() else "")[:300]


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return str(report.longrepr)

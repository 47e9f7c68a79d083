"""Live crash test harness: one real Airflow per version, real scheduler, real SIGKILL of a real task.

Runs in the Python environment that has the Airflow under test installed (the nox ``e2e`` venv); it
never imports Airflow itself (Airflow runs in its own processes), so it can be driven from pytest or
from the command line::

    python tests/e2e/harness.py --airflow 3.3 [--repeats 3] [--out results/e2e-3.3.json]

What it starts (each in its own session / process group, all stopped by PID on exit, also on error or
Ctrl-C; ``airflow standalone`` is not used because it leaks its children on SIGTERM):

* A private PostgreSQL cluster (``start_postgres.sh``: installs Debian's postgresql-15 if missing,
  ``initdb`` in the temp dir, own port on 127.0.0.1). Airflow 2.11's LocalExecutor refuses SQLite; on 3.x
  SQLite (``E2E_DATABASE=sqlite``) works, but sixteen concurrent cases, each SIGKILL and the REST clear
  contend for its one write lock ("database is locked" failed the dag-processor and stalled a run), so
  PostgreSQL is the default there too, as in production.
* Airflow 3.x: ``airflow db migrate`` then ``api-server``, ``scheduler`` and ``dag-processor``.
* Airflow 2.11: ``airflow db migrate`` then ``scheduler`` (which parses DAGs itself on 2.x).

Which PID is killed: the task instance's ``pid`` column. On 3.x the LocalExecutor worker runs the
supervisor, which forks the task process and reports *that* child's PID to the execution API
(``ti.pid``); on 2.11 ``airflow tasks run`` (LocalTaskJob) forks the ``--raw`` process, which writes its
own PID to ``ti.pid``. That is the process running ``execute()`` and the operator's wait loop: the
worker dying mid-wait. Killing it with SIGKILL is noticed at once by its parent (supervisor /
LocalTaskJob), which fails the try -> ``up_for_retry`` -> try 2. Before killing, the PID is checked
with psutil to be a live descendant of the scheduler this harness started (never anything else).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DAGS_SRC = HERE / "dags"

FINAL_DAGRUN_STATES = {"success", "failed"}
#: Airflow 2.11's zombie detection interval (see Instance.build_env); the DAG file's 2.11 children outlive it.
ZOMBIE_DETECTION_INTERVAL_S = 20
VARIANT_LABEL = {
    "stock": "stock provider operator",
    "shim_nodur": "shim durable=False",
    "shim_durable": "shim durable=True",
}
KILL_LABEL = {
    "midwait": "mid-wait (task process)",
    "workerkill": "mid-wait (supervisor + task)",
    "winbefore": "window (a): stored, before trigger",
    "winafter": "window (b): right after trigger",
    "doublekill": "mid-wait in try 1 and in try 2",
    "childfail": "none: child fails on its first run",
    "clear": "none: task cleared after success",
    "mapped": "mapped parent: indices 0 and 1 mid-wait",
    "clearwait": "none: task cleared while it waits",
    "recreate": "none: parent run deleted, triggered again",
}


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------------------


def _log_line_time(line: str) -> float | None:
    """When a task log line was written (epoch s): 3.x logs JSON lines, 2.11 ``[<iso time>] ...`` lines."""
    from datetime import datetime

    try:
        stamp = json.loads(line)["timestamp"]
    except (ValueError, KeyError, TypeError):
        if not line.startswith("[") or "]" not in line:
            return None
        stamp = line[1 : line.index("]")]
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


class ProcessSet:
    """Processes this harness started, each in its own session; stopped by PID, descendants included."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._seen: dict[int, float] = {}  # pid -> create_time of every descendant ever observed
        self._lock = threading.Lock()

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        self.procs[name] = proc
        self._remember(proc.pid)
        log(f"started {name} pid={proc.pid}: {' '.join(argv[-2:])}")
        return proc

    def _remember(self, pid: int) -> None:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            with self._lock:
                self._seen[pid] = p.create_time()

    def snapshot(self) -> None:
        """Record every live descendant (task supervisors fork children into new process groups)."""
        for proc in self.procs.values():
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error), self._lock:
                        self._seen[child.pid] = child.create_time()

    def is_ours(self, pid: int) -> bool:
        """True if pid is a live descendant of a process this harness started."""
        try:
            p = psutil.Process(pid)
            parents = {q.pid for q in p.parents()}
        except psutil.Error:
            return False
        return bool(parents & {proc.pid for proc in self.procs.values()})

    def dead(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return None if proc is None else proc.poll()

    def _alive(self) -> list[psutil.Process]:
        alive = []
        with self._lock:
            seen = dict(self._seen)
        for pid, ctime in seen.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if abs(p.create_time() - ctime) < 0.01 and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        return alive

    def stop_all(self, grace: float = 10.0) -> list[int]:
        """SIGTERM each started process group, then SIGKILL what is left; returns the PIDs killed."""
        self.snapshot()
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                log(f"SIGTERM {name} (pgid {proc.pid})")
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._alive():
            for proc in self.procs.values():
                proc.poll()
            time.sleep(0.2)
        killed = []
        for p in self._alive():
            with contextlib.suppress(psutil.Error):
                p.kill()
                killed.append(p.pid)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        if killed:
            log(f"SIGKILLed leftovers: {killed}")
        left = [p.pid for p in self._alive()]
        if left:
            log(f"WARNING: still alive after stop: {left}")
        return killed


# --------------------------------------------------------------------------------------------------------
# Metadata DB (read-only observation; works the same on 2.11/PostgreSQL and 3.x/SQLite)
# --------------------------------------------------------------------------------------------------------
class MetaDB:
    def __init__(self, sqlite_path: Path | None = None, pg_dsn: str | None = None) -> None:
        self.sqlite_path = sqlite_path
        self.pg_dsn = pg_dsn
        self._local = threading.local()

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.pg_dsn:
                import psycopg2

                conn = psycopg2.connect(self.pg_dsn)
                conn.autocommit = True
            else:
                conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
                conn.isolation_level = None
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.pg_dsn:
            sql = sql.replace("?", "%s")
        for attempt in range(20):
            try:
                cur = self._conn().cursor()
                cur.execute(sql, params)
                rows = cur.fetchall()
                cur.close()
                return rows
            except sqlite3.OperationalError as exc:  # "database is locked" while the scheduler commits
                if attempt == 19:
                    raise
                log(f"sqlite busy ({exc}); retrying")
                time.sleep(0.2)
        return []

    def ti(
        self, dag_id: str, run_id: str, task_id: str = "trigger", map_index: int = -1
    ) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT state, try_number, pid, hostname FROM task_instance "
            "WHERE dag_id=? AND run_id=? AND task_id=? AND map_index=?",
            (dag_id, run_id, task_id, map_index),
        )
        if not rows:
            return None
        state, try_number, pid, hostname = rows[0]
        return {"state": state, "try_number": try_number, "pid": pid, "hostname": hostname}

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id=? AND run_id=?", (dag_id, run_id))
        return rows[0][0] if rows else None

    def child_runs(self, child_dag_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT run_id, state, conf FROM dag_run WHERE dag_id=? ORDER BY id", (child_dag_id,)
        )
        out = []
        for run_id, state, conf in rows:
            out.append({"run_id": run_id, "state": state, "conf": _decode_conf(conf)})
        return out

    def dag_ids_ready(self) -> set[str]:
        rows = self.query(
            "SELECT d.dag_id FROM dag d JOIN serialized_dag s ON s.dag_id = d.dag_id WHERE d.is_paused = ?",
            (False,),
        )
        return {r[0] for r in rows}

    def scheduler_alive(self) -> bool:
        rows = self.query("SELECT count(*) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running'")
        return bool(rows and rows[0][0])


def _decode_conf(conf: Any) -> Any:
    if conf is None:
        return None
    if isinstance(conf, (bytes, memoryview)):  # Airflow 2: PickleType column
        raw = bytes(conf)
        try:
            return pickle.loads(raw)  # our own metadata DB, written by the Airflow we started
        except Exception:
            try:
                return json.loads(raw)
            except Exception:
                return repr(raw[:60])
    if isinstance(conf, str):
        try:
            return json.loads(conf)
        except ValueError:
            return conf
    return conf


#: The line each waiting operator logs before every poll of its child run (in the task log): the task
#: runner's wait (3.x stock and durable=False), the standard operator's on 2.11, the shim's own wait
#: (durable=True on 3.x; on 2.11 the standard operator's wording).
POLL_LINES = (
    "Waiting for dag run to complete execution in allowed state",
    "to become allowed state",
    "to reach an allowed state",
)
#: Poll lines that show a try is really mid-wait: the second is logged after one whole poll (a sleep of
#: poke_interval and a read of the child run's state) beyond the trigger or the reconnect.
MID_WAIT_POLLS = 2


def polls(task_log: str) -> int:
    """How many polls of its child run a task log shows."""
    return sum(1 for line in task_log.splitlines() if any(p in line for p in POLL_LINES))


# --------------------------------------------------------------------------------------------------------
# Airflow instance
# --------------------------------------------------------------------------------------------------------
def airflow_version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import airflow; print(airflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


#: The package the shim cases run (the DAG file reads the same variables): this one unless a provider's
#: vendored copy is under test (``E2E_SHIM_PACKAGE``, with its operator in ``E2E_SHIM_OPERATOR``).
SHIM_PACKAGE = os.environ.get("E2E_SHIM_PACKAGE") or "airflow_trigger_compat"
SHIM_OPERATOR = os.environ.get("E2E_SHIM_OPERATOR") or f"{SHIM_PACKAGE}:TriggerDagRunOperator"


def shim_installed(python: str) -> bool:
    return subprocess.run([python, "-c", f"import {SHIM_PACKAGE}"], capture_output=True).returncode == 0


@dataclass
class Instance:
    minor: str
    home: Path
    python: str
    cases: list[str]
    env: dict[str, str] = field(default_factory=dict)
    procs: ProcessSet | None = None
    db: MetaDB | None = None
    pg_data: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: the DAG files copied into the instance's dags folder (a subclass may run other DAGs)
    dags_src: ClassVar[Path] = DAGS_SRC

    @property
    def is_airflow2(self) -> bool:
        return self.minor.startswith("2.")

    @property
    def marker_dir(self) -> Path:
        return self.home / "e2e_markers"

    def airflow_bin(self) -> str:
        return str(Path(self.python).parent / "airflow")

    def build_env(self, extra_env: dict[str, str] | None = None) -> None:
        dags = self.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        for f in self.dags_src.glob("*.py"):
            shutil.copy(f, dags / f.name)
        self.marker_dir.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__PARALLELISM="48",
            AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="32",
            AIRFLOW__CORE__UNIT_TEST_MODE="False",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC="2",
            AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.5",
            E2E_MARKER_DIR=str(self.marker_dir),
            E2E_CASES=",".join(self.cases),
            PYTHONUNBUFFERED="1",
            # children of the venv's airflow must see the venv first
            PATH=f"{Path(self.python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        if self.is_airflow2:
            env.update(
                AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD="20",
                # 2.11 fails a killed try through a zombie callback the DAG processor runs later; a second
                # detection before that callback ran queues a second one, which then fails the *next* try
                # (apache/airflow#42553, open). The callback took 1-4 s here idle and longer in CI (5 s was
                # hit once), so the interval leaves it ample time; 2.11's children outlive the wait
                # (e2e_crash_dags._child_seconds). Each case checks one detection per kill.
                AIRFLOW__SCHEDULER__ZOMBIE_DETECTION_INTERVAL=str(ZOMBIE_DETECTION_INTERVAL_S),
                AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="10",
                AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL="10",
                AIRFLOW__SCHEDULER__PARSING_PROCESSES="1",
                AIRFLOW__WEBSERVER__SECRET_KEY=secrets.token_hex(16),
            )
        else:
            port = free_port()
            env.update(
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
                AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
                AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="10",
                AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
                AIRFLOW__API__HOST="127.0.0.1",
                AIRFLOW__API__PORT=str(port),
                AIRFLOW__API__WORKERS="1",
                AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
                AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
                AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
                # 3.0 + the pinned PyJWT refuses to sign a token with iss=None (the default)
                AIRFLOW__API_AUTH__JWT_ISSUER="airflow-e2e",
                # the clear case calls the REST API with a token from GET /auth/token (loopback only)
                AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            )
        env.update(extra_env or {})
        self.env = env

    # -- PostgreSQL (2.11) -----------------------------------------------------------------------------
    def start_postgres(self) -> str:
        self.pg_data = self.home / "pg"
        port = free_port()
        t0 = time.monotonic()
        out = subprocess.run(
            ["bash", str(HERE / "start_postgres.sh"), str(self.pg_data), str(port)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"start_postgres.sh failed:\n{out.stdout}\n{out.stderr}")
        dsn = out.stdout.strip().splitlines()[-1]
        self.timings["postgres_start_s"] = round(time.monotonic() - t0, 1)
        log(f"postgres up in {self.timings['postgres_start_s']} s: {dsn}")
        return dsn

    def stop_postgres(self) -> None:
        if self.pg_data is None or not (self.pg_data / "PG_VERSION").exists():
            return
        subprocess.run(["bash", str(HERE / "start_postgres.sh"), "--stop", str(self.pg_data)], check=False)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        t_start = time.monotonic()
        (self.home / "proc-logs").mkdir(parents=True, exist_ok=True)
        self.procs = ProcessSet(self.home / "proc-logs")
        if self.is_airflow2 or os.environ.get("E2E_DATABASE", "postgres") == "postgres":
            dsn = self.start_postgres()
            self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = dsn.replace(
                "postgresql://", "postgresql+psycopg2://"
            )
            self.db = MetaDB(pg_dsn=dsn)
        else:
            self.db = MetaDB(sqlite_path=self.home / "airflow.db")
        airflow = self.airflow_bin()
        t0 = time.monotonic()
        mig = subprocess.run(
            [airflow, "db", "migrate"], env=self.env, capture_output=True, text=True, cwd=self.home
        )
        if mig.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{mig.stdout[-3000:]}\n{mig.stderr[-3000:]}")
        self.timings["db_migrate_s"] = round(time.monotonic() - t0, 1)
        log(f"db migrate: {self.timings['db_migrate_s']} s")
        t0 = time.monotonic()
        if self.is_airflow2:
            self.procs.start("scheduler", [airflow, "scheduler"], self.env)
        else:
            self.procs.start("api-server", [airflow, "api-server"], self.env)
            self.procs.start("scheduler", [airflow, "scheduler"], self.env)
            self.procs.start("dag-processor", [airflow, "dag-processor"], self.env)
        self.wait_ready(t0)
        self.timings["startup_total_s"] = round(time.monotonic() - t_start, 1)

    def wait_ready(self, t0: float, timeout: float = 180.0) -> None:
        assert self.db is not None and self.procs is not None
        want = {f"e2e_parent__{c}" for c in self.cases} | {f"e2e_child__{c}" for c in self.cases}
        api_ok = self.is_airflow2
        deadline = time.monotonic() + timeout
        while True:
            for name in self.procs.procs:
                rc = self.procs.dead(name)
                if rc is not None:
                    raise RuntimeError(
                        f"{name} exited with {rc}; see {self.home / 'proc-logs' / (name + '.log')}"
                    )
            if not api_ok:
                api_ok = _http_ok(self.env["AIRFLOW__API__BASE_URL"] + "/api/v2/version")
            try:
                ready = self.db.dag_ids_ready()
                sched = self.db.scheduler_alive()
            except Exception:  # tables not there yet / locked
                ready, sched = set(), False
            if api_ok and sched and want <= ready:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Airflow not ready after {timeout} s: api={api_ok} scheduler={sched} "
                    f"missing dags={sorted(want - ready)[:5]}"
                )
            time.sleep(0.5)
        self.timings["scheduler_ready_s"] = round(time.monotonic() - t0, 1)
        log(f"Airflow ready {self.timings['scheduler_ready_s']} s after starting the processes")

    def stop(self) -> None:
        if self.procs is not None:
            self.procs.stop_all()
        self.stop_postgres()

    def trigger(self, runs: list[tuple[str, str]]) -> None:
        """Create parent runs [(dag_id, run_id)] in one process, with the local client `dags trigger` uses."""
        code = (
            "import json, sys\n"
            "from airflow.api.client import get_current_api_client\n"
            "c = get_current_api_client()\n"
            "for dag_id, run_id in json.loads(sys.argv[1]):\n"
            "    c.trigger_dag(dag_id=dag_id, run_id=run_id, conf={}, replace_microseconds=False)\n"
        )
        out = subprocess.run(
            [self.python, "-c", code, json.dumps(runs)], env=self.env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(f"trigger failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status < 500)
    except Exception as exc:
        code = getattr(exc, "code", None)
        return code is not None and code < 500


@contextlib.contextmanager
def running_airflow(
    minor: str,
    cases: list[str],
    python: str = sys.executable,
    keep_home: bool = False,
    extra_env: dict[str, str] | None = None,
    factory: type[Instance] = Instance,
) -> Iterator[Instance]:
    """An Airflow (``factory``: Instance or a subclass) started for ``cases``, stopped on exit or error."""
    home = Path(tempfile.mkdtemp(prefix=f"airflow-e2e-{minor}-"))
    inst = factory(minor=minor, home=home, python=python, cases=cases)
    inst.build_env(extra_env)
    prev = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for s in prev:
        signal.signal(s, _raise)
    try:
        inst.start()
        yield inst
    except BaseException:
        log(f"failure; Airflow logs kept in {home}")
        keep_home = True
        raise
    finally:
        inst.stop()
        for s, h in prev.items():
            signal.signal(s, h)
        if not keep_home:
            shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------
# Crash cases
# --------------------------------------------------------------------------------------------------------
@dataclass
class CaseResult:
    case: str
    variant: str
    kill: str
    parent_dag_id: str
    parent_run_id: str
    child_runs: int = -1
    child_run_ids: list[str] = field(default_factory=list)
    child_states: list[str] = field(default_factory=list)
    parent_state: str | None = None
    ti_state: str | None = None
    try_number: int | None = None
    killed_pid: int | None = None
    killed_supervisor_pid: int | None = None
    marker_pid: int | None = None
    window_child_run_id: str | None = None
    child_runs_at_kill: int | None = None
    kill_after_trigger_s: float | None = None
    kill_to_try2_running_s: float | None = None
    kill_to_new_child_s: float | None = None
    kill_to_reconnect_s: float | None = None
    case_duration_s: float | None = None
    durable_warning_logged: bool | None = None
    kill_whole_worker: bool = False
    second_killed_pid: int | None = None
    max_tries_before_clear: int | None = None
    max_tries_after_clear: int | None = None
    #: mapped: child runs per map index, and each index's try number
    children_per_index: list[int] = field(default_factory=list)
    tries_per_index: list[int | None] = field(default_factory=list)
    clear_number_before: int | None = None
    clear_number_after: int | None = None
    durable_decision: str | None = None
    #: 2.11: "Detected zombie job" lines for this parent run (one per kill; more is apache/airflow#42553)
    zombie_detections: int | None = None
    #: the last try's task log, kept when the parent did not succeed
    last_try_log_tail: list[str] = field(default_factory=list)
    outcome: str = ""
    error: str | None = None


#: Every case kind each variant has on some version, in the order they run and are reported.
KINDS: dict[str, tuple[str, ...]] = {
    "stock": ("midwait", "workerkill", "doublekill", "childfail", "clear", "recreate", "mapped", "clearwait"),
    "shim_nodur": ("midwait", "workerkill"),
    "shim_durable": (
        "midwait", "workerkill", "winafter", "doublekill", "childfail", "clear", "recreate", "mapped",
        "clearwait", "winbefore",
    ),
}  # fmt: skip

_WORKERKILL = (
    "the whole worker is killed only where the task process alone is not retried (3.0) and, for durable's "
    "path through the heartbeat timeout, on 3.3+; elsewhere midwait covers the retry"
)
_ALL = ("stock", "shim_nodur", "shim_durable")

#: The one place a case kind is declared absent from a version: (variants, kind, low, high, reason), for
#: releases low <= version < high. The crash test reports each as a skip with its reason, the results JSON
#: as ``not_run``, and scripts/results_table.py as "not run here".
NOT_RUN: tuple[tuple[tuple[str, ...], str, tuple[int, int], tuple[int, int], str], ...] = (
    (("shim_nodur", "shim_durable"), "midwait", (3, 0), (3, 1),
     "Airflow 3.0's supervisor reports a SIGKILLed task process failed without retries (task-sdk 1.0.6 "
     "final_state; 3.1 added up_for_retry): the retry is exercised by workerkill, and stock's midwait "
     "shows the no-retry"),
    (("stock", "shim_durable"), "workerkill", (2, 11), (3, 0), _WORKERKILL),
    (("stock", "shim_durable"), "workerkill", (3, 1), (3, 3), _WORKERKILL),
    (("shim_nodur",), "workerkill", (2, 11), (3, 0), _WORKERKILL + " (durable=False: only on 3.0)"),
    (("shim_nodur",), "workerkill", (3, 1), (99, 0), _WORKERKILL + " (durable=False: only on 3.0)"),
    (("shim_durable",), "winbefore", (2, 11), (3, 3),
     "the window after the run_id is stored and before the trigger exists only with a task_state_store "
     "(3.3+)"),
    (_ALL, "clearwait", (3, 0), (3, 1),
     "on 3.0 a task cleared while running (RESTARTING) did not start its next try within 300 s, with stock "
     "as with the shim (seen on 3.0.6)"),
)  # fmt: skip


def not_run_reason(minor: str, variant: str, kind: str) -> str | None:
    """Why ``variant``'s ``kind`` case does not run on this minor (``NOT_RUN``), or None if it does."""
    version = tuple(int(x) for x in minor.split("."))
    for variants, k, low, high, reason in NOT_RUN:
        if k == kind and variant in variants and low <= version < high:
            return reason
    return None


def groups(shim: bool = True) -> list[tuple[str, str]]:
    """Every (variant, kind) some version runs: a test each, skipped with its reason where it does not."""
    return [(v, k) for v in (_ALL if shim else _ALL[:1]) for k in KINDS[v]]


def case_ids(minor: str, repeats: int, shim: bool, variants: list[str] | None = None) -> list[str]:
    """The cases for one version, all run concurrently against its one scheduler.

    ``midwait`` kills the task process (``ti.pid``); ``workerkill`` the supervisor and the task process
    (the TI stays ``running`` until the heartbeat timeout; on 3.0 ``doublekill`` and ``mapped`` kill that
    way too). Which kinds a version lacks, and why, is ``NOT_RUN``. Durable's retry kill (``workerkill``
    on 3.0, ``midwait`` elsewhere) and its windows where there is a store run ``repeats`` times.
    """
    version = tuple(int(x) for x in minor.split("."))
    retry_kill = "workerkill" if version == (3, 0) else "midwait"
    repeated = {retry_kill, "winbefore", *(["winafter"] if version >= (3, 3) else [])}
    cases = []
    for variant, kind in groups(shim):
        if not_run_reason(minor, variant, kind) is None and (not variants or variant in variants):
            n = repeats if variant == "shim_durable" and kind in repeated else 1
            cases += [f"{variant}__{kind}__{i}" for i in range(1, n + 1)]
    return cases


def absences(minor: str, selected: list[tuple[str, str]] | None = None) -> list[dict[str, str]]:
    """The declared absences among ``selected`` groups (default: all), for the results JSON."""
    return [
        {"variant": v, "kill": k, "reason": reason}
        for v, k in (selected if selected is not None else groups())
        if (reason := not_run_reason(minor, v, k)) is not None
    ]


def retry_expected(minor: str, kill: str) -> bool:
    """Whether the kill should lead to a try 2 on this Airflow (see :func:`case_ids`)."""
    return not (minor == "3.0" and kill == "midwait")


class CaseRunner:
    def __init__(self, inst: Instance, case: str, run_id: str, timeout: float = 300.0) -> None:
        self.inst = inst
        self.db = inst.db
        variant, kill, _ = case.split("__")
        self.res = CaseResult(
            case=case, variant=variant, kill=kill, parent_dag_id=f"e2e_parent__{case}", parent_run_id=run_id
        )
        self.child_dag_id = f"e2e_child__{case}"
        self.timeout = timeout
        # Airflow 3.0 retries a killed task only when its whole worker is gone (see case_ids)
        self.res.kill_whole_worker = kill == "workerkill" or (
            kill in ("doublekill", "mapped", "winafter") and inst.minor == "3.0"
        )

    def _children(self) -> list[dict[str, Any]]:
        runs = self.db.child_runs(self.child_dag_id)
        mine = []
        for r in runs:
            marker = r["conf"].get("e2e_parent_run_id") if isinstance(r["conf"], dict) else None
            if marker in (None, self.res.parent_run_id):
                mine.append(r)
        return mine

    # First line of try 2's task log that shows the durable path picking up the stored run.
    RECONNECT_EVENTS: ClassVar[dict[str, str]] = {
        "Reconnecting to existing job": "reconnect",
        "was never created; triggering it now": "trigger stored run_id",
        "Job already completed successfully": "already succeeded",
        "Reconnecting to DAG run": "reconnect",  # below 3.3: the derived run_id already existed
        "triggering a fresh run": "fresh run after a failed child",
    }

    def _task_log(self, attempt: int, map_index: int = 0) -> str:
        r = self.res
        base = self.inst.home / "logs" / f"dag_id={r.parent_dag_id}" / f"run_id={r.parent_run_id}"
        try:
            task = base / "task_id=trigger"
            if r.kill == "mapped":  # by default index 0's log: the first index killed
                task = task / f"map_index={map_index}"
            return (task / f"attempt={attempt}.log").read_text(errors="replace")
        except OSError:
            return ""

    def _wait_mid_wait(self, attempt: int, deadline: float, map_index: int = 0) -> None:
        """Until the try's task log shows it polling its child run (``MID_WAIT_POLLS`` polls)."""
        self._wait(
            f"try {attempt} polling its child run (index {map_index})",
            lambda: polls(self._task_log(attempt, map_index)) >= MID_WAIT_POLLS,
            deadline,
        )

    def _zombie_detections(self) -> int:
        """How often 2.11's scheduler sent a zombie callback for this parent run's task instances."""
        try:
            text = (self.inst.home / "proc-logs" / "scheduler.log").read_text(errors="replace")
        except OSError:
            return 0
        needle = f"'Run Id': '{self.res.parent_run_id}'"
        return sum(1 for line in text.splitlines() if "Detected zombie job" in line and needle in line)

    def _reconnect_seconds(self, t_kill_wall: float) -> float | None:
        """Seconds from the kill to try 2's durable decision (from its task log); sets durable_decision."""
        for line in self._task_log(2).splitlines():
            for event, decision in self.RECONNECT_EVENTS.items():
                if event not in line:
                    continue
                t = _log_line_time(line)
                if t is None:
                    continue
                self.res.durable_decision = decision
                return round(t - t_kill_wall, 1)
        return None

    def _wait(self, what: str, pred: Any, deadline: float, every: float = 0.25) -> Any:
        while True:
            value = pred()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.res.case}: timed out waiting for {what}")
            time.sleep(every)

    def _first_kill(self, deadline: float) -> tuple[float, float, list[dict[str, Any]]]:
        """Kill try 1 at the case's moment; returns (monotonic, wall) kill time and the children then."""
        r = self.res
        ti = self._wait(
            "try 1 running",
            lambda: (
                (t := self.db.ti(r.parent_dag_id, r.parent_run_id))
                and t["state"] == "running"
                and t["pid"]
                and t
            ),
            deadline,
        )
        if r.kill in ("midwait", "workerkill", "doublekill"):
            self._wait("child run", self._children, deadline)
            t_trig = time.monotonic()
            self._wait_mid_wait(1, deadline)
            kids = self._children()
            r.kill_after_trigger_s = round(time.monotonic() - t_trig, 1)
        else:
            marker = self.inst.marker_dir / f"{r.parent_dag_id}.window.1.json"
            self._wait(f"window marker {marker.name}", marker.exists, deadline, every=0.1)
            payload = json.loads(marker.read_text())
            r.marker_pid = payload["pid"]
            r.window_child_run_id = payload.get("child_run_id")
            kids = self._children()
        ti = self.db.ti(r.parent_dag_id, r.parent_run_id)
        assert ti is not None
        if ti["state"] != "running" or ti["try_number"] != 1:
            raise RuntimeError(f"{r.case}: task no longer running try 1 at kill time: {ti}")
        pid = int(ti["pid"])
        if r.marker_pid is not None and r.marker_pid != pid:
            raise RuntimeError(f"{r.case}: ti.pid {pid} != pid that hit the seam {r.marker_pid}")
        r.child_runs_at_kill = len(kids)
        r.killed_pid = pid
        self._kill(pid, r.kill_whole_worker)
        t_kill = time.monotonic()
        t_kill_wall = time.time()
        what = (
            f"supervisor {r.killed_supervisor_pid} + task pid {pid}"
            if r.killed_supervisor_pid
            else f"pid {pid}"
        )
        log(f"{r.case}: SIGKILL {what} (try 1, child runs so far: {len(kids)})")

        return t_kill, t_kill_wall, kids

    def _mapped_kill(self, deadline: float) -> tuple[float, float, list[dict[str, Any]]]:
        """Indices 0 and 1 of the mapped parent, each mid-wait on its own child, killed together."""
        r = self.res

        def waiting(i: int) -> Any:
            t = self.db.ti(r.parent_dag_id, r.parent_run_id, map_index=i)
            mine = [k for k in self._children() if (k["conf"] or {}).get("item") == i]
            return t and t["state"] == "running" and t["pid"] and mine and t

        tis = [self._wait(f"index {i} waiting", lambda i=i: waiting(i), deadline) for i in (0, 1)]
        for i in (0, 1):
            self._wait_mid_wait(1, deadline, map_index=i)
        kids = self._children()
        r.child_runs_at_kill = len(kids)
        for i, ti in enumerate(tis):
            now = self.db.ti(r.parent_dag_id, r.parent_run_id, map_index=i)
            if now is None or now["state"] != "running" or now["try_number"] != 1 or now["pid"] != ti["pid"]:
                raise RuntimeError(f"{r.case}: index {i} no longer running try 1 at kill time: {now}")
            self._kill(int(ti["pid"]), r.kill_whole_worker)
        r.killed_pid = int(tis[0]["pid"])
        log(f"{r.case}: SIGKILL indices 0 and 1 (child runs so far: {len(kids)})")
        return time.monotonic(), time.time(), kids

    def _kill(self, pid: int, whole_worker: bool) -> None:
        r = self.res
        if not self.inst.procs.is_ours(pid):
            raise RuntimeError(f"{r.case}: pid {pid} is not a descendant of our scheduler; not killing it")
        self.inst.procs.snapshot()
        if whole_worker:
            # the whole worker: the supervisor (ti.pid's parent) first, so nothing reports the
            # task's end; the TI stays "running" until the scheduler's heartbeat timeout
            parent = psutil.Process(pid).parent()
            if parent is None or not self.inst.procs.is_ours(parent.pid):
                raise RuntimeError(f"{r.case}: parent of pid {pid} is not ours; not killing it")
            r.killed_supervisor_pid = parent.pid
            os.kill(parent.pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)

    def _second_kill(self, first_pid: int, deadline: float) -> None:
        """doublekill: try 2 reconnected and is waiting too; kill it the same way."""
        r = self.res
        ti = self._wait(
            "try 2 running",
            lambda: (
                (t := self.db.ti(r.parent_dag_id, r.parent_run_id))
                and t["state"] == "running"
                and (t["try_number"] or 0) == 2
                and t["pid"]
                and int(t["pid"]) != first_pid
                and t
            ),
            deadline,
        )
        self._wait_mid_wait(2, deadline)  # past the reconnect (or the new trigger), into the wait
        ti = self.db.ti(r.parent_dag_id, r.parent_run_id)
        if ti is None or ti["state"] != "running" or ti["try_number"] != 2:
            raise RuntimeError(f"{r.case}: try 2 no longer running at the second kill: {ti}")
        self._kill(int(ti["pid"]), r.kill_whole_worker)
        r.second_killed_pid = int(ti["pid"])
        log(f"{r.case}: second SIGKILL pid {ti['pid']} (try 2)")

    def _clear(self) -> None:
        """Clear the parent's task as a user would: REST API on 3.x, the CLI on 2.11."""
        r = self.res
        if self.inst.is_airflow2:
            rows = self.db.query(
                "SELECT execution_date FROM dag_run WHERE dag_id=? AND run_id=?",
                (r.parent_dag_id, r.parent_run_id),
            )
            when = rows[0][0].isoformat()
            out = subprocess.run(
                [self.inst.airflow_bin(), "tasks", "clear", "-t", "^trigger$", "-s", when, "-e", when, "-y",
                 r.parent_dag_id],
                env=self.inst.env, capture_output=True, text=True,
            )  # fmt: skip
            if out.returncode != 0:
                raise RuntimeError(f"{r.case}: airflow tasks clear failed: {out.stderr[-2000:]}")
            return
        body = {
            "dry_run": False,
            "task_ids": ["trigger"],
            "dag_run_id": r.parent_run_id,
            "only_failed": False,
            "reset_dag_runs": True,
        }
        cleared = self._rest("POST", f"/api/v2/dags/{r.parent_dag_id}/clearTaskInstances", body)
        if not cleared.get("task_instances"):
            raise RuntimeError(f"{r.case}: the REST API cleared nothing: {cleared}")

    def _recreate(self) -> None:
        """Delete the parent's DAG run (REST API on 3.x, the ORM on 2.11), then trigger the same run_id."""
        r = self.res
        if self.inst.is_airflow2:
            code = (
                "import sys\n"
                "from airflow.models.dagrun import DagRun\n"
                "from airflow.utils.session import create_session\n"
                "with create_session() as session:\n"
                "    session.query(DagRun).filter_by(dag_id=sys.argv[1], run_id=sys.argv[2]).delete()\n"
            )
            out = subprocess.run(
                [self.inst.python, "-c", code, r.parent_dag_id, r.parent_run_id],
                env=self.inst.env, capture_output=True, text=True,
            )  # fmt: skip
            if out.returncode != 0:
                raise RuntimeError(f"{r.case}: deleting the parent run failed: {out.stderr[-2000:]}")
        else:
            self._rest("DELETE", f"/api/v2/dags/{r.parent_dag_id}/dagRuns/{r.parent_run_id}")
        self.inst.trigger([(r.parent_dag_id, r.parent_run_id)])

    def _rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call Airflow 3's REST API as a user would; retried on a 5xx (SQLite busy under the other cases)."""
        import urllib.error
        import urllib.request

        base = self.inst.env["AIRFLOW__API__BASE_URL"]
        with urllib.request.urlopen(f"{base}/auth/token", timeout=10) as resp:
            token = json.loads(resp.read())["access_token"]
        request = urllib.request.Request(
            f"{base}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method=method,
        )
        for attempt in range(6):
            try:
                with urllib.request.urlopen(request, timeout=30) as resp:
                    text = resp.read()
                    return json.loads(text) if text else None
            except urllib.error.HTTPError as err:
                detail = err.read()[:300]
                if err.code < 500 or attempt == 5:
                    raise RuntimeError(
                        f"{self.res.case}: {method} {path}: HTTP {err.code} {detail!r}"
                    ) from err
                log(f"{self.res.case}: {method} {path} answered HTTP {err.code} {detail!r}; retrying")
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def _run_without_kill(self, deadline: float) -> float:
        """childfail and clear(wait): no kill; returns the wall time the measured phase started."""
        r = self.res
        if r.kill == "childfail":
            return time.time()
        if r.kill == "clearwait":  # a user's clear while the task waits on its running child
            self._wait(
                "try 1 waiting",
                lambda: (
                    (t := self.db.ti(r.parent_dag_id, r.parent_run_id))
                    and t["state"] == "running"
                    and self._children()
                ),
                deadline,
            )
            self._wait_mid_wait(1, deadline)
            r.child_runs_at_kill = len(self._children())
            r.max_tries_before_clear = self._max_tries()
            r.clear_number_before = self._clear_number()
            t_wall = time.time()
            self._clear()
            log(f"{r.case}: cleared the task while it waits (child runs so far: {r.child_runs_at_kill})")
            self._wait(
                "the cleared task's next try",
                lambda: (t := self.db.ti(r.parent_dag_id, r.parent_run_id)) and (t["try_number"] or 0) >= 2,
                deadline,
            )
            r.max_tries_after_clear = self._max_tries()
            r.clear_number_after = self._clear_number()
            return t_wall
        first = self._wait(
            "the first run to finish",
            lambda: (
                self.db.dagrun_state(r.parent_dag_id, r.parent_run_id) in FINAL_DAGRUN_STATES
                and self.db.dagrun_state(r.parent_dag_id, r.parent_run_id)
            ),
            deadline,
        )
        if first != "success":
            ti = self.db.ti(r.parent_dag_id, r.parent_run_id)
            raise RuntimeError(f"{r.case}: the parent run ended {first} before the clear: {ti}")
        r.child_runs_at_kill = len(self._children())
        t_wall = time.time()
        if r.kill == "recreate":
            self._recreate()
            log(f"{r.case}: deleted the parent run and triggered it again (child runs so far: "
                f"{r.child_runs_at_kill})")  # fmt: skip
            return t_wall
        r.max_tries_before_clear = self._max_tries()
        r.clear_number_before = self._clear_number()
        self._clear()
        log(f"{r.case}: cleared the task after success (child runs so far: {r.child_runs_at_kill})")
        self._wait(
            "the cleared task to rerun",
            lambda: (t := self.db.ti(r.parent_dag_id, r.parent_run_id)) and t["state"] != "success",
            deadline,
            every=0.1,
        )
        r.max_tries_after_clear = self._max_tries()
        r.clear_number_after = self._clear_number()
        return t_wall

    def _clear_number(self) -> int | None:
        r = self.res
        rows = self.db.query(
            "SELECT clear_number FROM dag_run WHERE dag_id=? AND run_id=?", (r.parent_dag_id, r.parent_run_id)
        )
        return rows[0][0] if rows else None

    def _max_tries(self) -> int | None:
        r = self.res
        rows = self.db.query(
            "SELECT max_tries FROM task_instance WHERE dag_id=? AND run_id=? AND task_id='trigger'",
            (r.parent_dag_id, r.parent_run_id),
        )
        return rows[0][0] if rows else None

    def run(self) -> CaseResult:
        r = self.res
        t_case = time.monotonic()
        deadline = t_case + self.timeout
        try:
            if r.kill == "mapped":
                t_kill, t_kill_wall, kids = self._mapped_kill(deadline)
            elif r.kill in ("childfail", "clear", "clearwait", "recreate"):
                t_kill_wall = self._run_without_kill(deadline)
                t_kill = time.monotonic()
                kids = [] if r.kill == "childfail" else self._children()
            else:
                t_kill, t_kill_wall, kids = self._first_kill(deadline)
                if r.kill == "doublekill":
                    assert r.killed_pid is not None
                    self._second_kill(r.killed_pid, deadline)

            final = None
            while final is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{r.case}: parent run did not finish")
                now = time.monotonic() - t_kill
                t = self.db.ti(r.parent_dag_id, r.parent_run_id) or {}
                if (
                    r.kill_to_try2_running_s is None
                    and (t.get("try_number") or 0) >= 2
                    and t.get("state") in ("running", "success", "failed")
                ):
                    r.kill_to_try2_running_s = round(now, 1)
                if r.kill_to_new_child_s is None and len(self._children()) > len(kids):
                    r.kill_to_new_child_s = round(now, 1)
                state = self.db.dagrun_state(r.parent_dag_id, r.parent_run_id)
                if state in FINAL_DAGRUN_STATES:
                    final = state
                time.sleep(0.25)
            r.parent_state = final
            t = self.db.ti(r.parent_dag_id, r.parent_run_id, map_index=0 if r.kill == "mapped" else -1) or {}
            r.ti_state, r.try_number = t.get("state"), t.get("try_number")
            kids = self._children()
            if r.kill == "mapped":
                r.children_per_index = [
                    sum(1 for k in kids if (k["conf"] or {}).get("item") == i) for i in range(3)
                ]
                r.tries_per_index = [
                    (self.db.ti(r.parent_dag_id, r.parent_run_id, map_index=i) or {}).get("try_number")
                    for i in range(3)
                ]
            r.child_runs = len(kids)
            r.child_run_ids = [k["run_id"] for k in kids]
            r.child_states = [k["state"] for k in kids]
            r.kill_to_reconnect_s = self._reconnect_seconds(t_kill_wall)
            if self.inst.is_airflow2:
                r.zombie_detections = self._zombie_detections()
            if r.parent_state != "success":
                r.last_try_log_tail = self._task_log(r.try_number or 1).splitlines()[-15:]
            if r.variant == "shim_durable":
                r.durable_warning_logged = any(
                    "DurableUnavailableWarning" in text or "durable=True has no effect" in text
                    for text in (self._task_log(1), self._task_log(2))
                )
            if r.kill == "mapped":
                r.outcome = f"child runs per index {r.children_per_index}, tries {r.tries_per_index}"
            elif r.kill == "clearwait":
                r.outcome = (
                    f"{r.child_runs} child runs after a clear mid-wait (max_tries {r.max_tries_before_clear} "
                    f"-> {r.max_tries_after_clear})"
                )
            elif r.kill == "recreate":
                r.outcome = f"{r.child_runs} child runs: " + (
                    "the recreated parent run triggered its own child" if r.child_runs == 2 else "unexpected"
                )
            elif r.kill in ("childfail", "clear"):
                r.outcome = f"{r.child_runs} child runs: " + (
                    "a fresh child after the failed one"
                    if r.kill == "childfail" and r.child_runs == 2
                    else f"the cleared task triggered again (max_tries {r.max_tries_before_clear} -> "
                    f"{r.max_tries_after_clear}, clear_number {r.clear_number_before} -> "
                    f"{r.clear_number_after})"
                    if r.kill == "clear" and r.child_runs == 2
                    else "unexpected"
                )
            elif r.parent_state == "failed" and (r.try_number or 0) < 2:
                r.outcome = f"parent FAILED on try {r.try_number}: the kill was not retried"
            elif r.child_runs == 1 and r.child_runs_at_kill == 0:
                r.outcome = "no duplicate: retry triggered the stored run_id"
            elif r.child_runs == 1 and r.durable_decision == "already succeeded":
                r.outcome = "no duplicate: retry found the child already succeeded"
            elif r.child_runs == 1:
                r.outcome = "no duplicate: retry reconnected"
            elif r.child_runs >= 2:
                r.outcome = f"DUPLICATE child runs ({r.child_runs})"
            else:
                r.outcome = f"{r.child_runs} child runs"
            if r.window_child_run_id and r.child_runs == 1 and r.child_run_ids != [r.window_child_run_id]:
                r.outcome += f" (but run_id {r.child_run_ids[0]} != stored {r.window_child_run_id})"
        except Exception as exc:
            r.error = f"{type(exc).__name__}: {exc}"
            log(f"{r.case}: ERROR {r.error}")
        r.case_duration_s = round(time.monotonic() - t_case, 1)
        log(
            f"{r.case}: {r.child_runs} child run(s), parent {r.parent_state} (try {r.try_number}) "
            f"in {r.case_duration_s} s"
        )
        return r


def run_cases(inst: Instance, cases: list[str], stagger: float = 0.0) -> list[CaseResult]:
    stamp = time.strftime("%H%M%S")
    runs = [(f"e2e_parent__{c}", f"e2e__{c}__{stamp}") for c in cases]
    runners = [CaseRunner(inst, c, run_id) for c, (_, run_id) in zip(cases, runs, strict=True)]
    t0 = time.monotonic()
    inst.trigger(runs)
    log(f"triggered {len(runs)} parent runs in {time.monotonic() - t0:.1f} s")
    results: list[CaseResult | None] = [None] * len(runners)

    def work(i: int) -> None:
        results[i] = runners[i].run()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(runners))]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        inst.procs.snapshot()
        time.sleep(1.0)
    inst.timings["cases_wall_s"] = round(time.monotonic() - t0, 1)
    return [r for r in results if r is not None]


# --------------------------------------------------------------------------------------------------------
# Reporting: the results schema (tests/results.py) writes and renders the report
# --------------------------------------------------------------------------------------------------------
def _results() -> Any:
    """_results.py by path: a provider session runs this without airflow_trigger_compat installed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_airflow_trigger_compat_results", REPO / "tests" / "results.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


schema = _results()


def run_version(
    minor: str,
    repeats: int = 3,
    out: Path | None = None,
    python: str = sys.executable,
    keep_home: bool = False,
    variants: list[str] | None = None,
    only: list[str] | None = None,
    not_run: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Run the cases against one Airflow; print and write the report. ``not_run``: the declared absences
    to report beside them (default: every one of this minor, within ``variants``)."""
    t0 = time.monotonic()
    version = airflow_version(python)
    shim = shim_installed(python)
    if not shim:
        log(f"{SHIM_PACKAGE} is not importable here: running the stock cases only")
    cases = only or case_ids(minor, repeats, shim, variants)
    log(f"Airflow {version}: cases {cases}")
    with running_airflow(minor, cases, python=python, keep_home=keep_home) as inst:
        ran = run_cases(inst, cases)
        timings = dict(inst.timings)
    timings["version_total_s"] = round(time.monotonic() - t0, 1)
    report = {
        "airflow_minor": minor,
        "airflow_version": version,
        "shim_installed": shim,
        "shim_operator": SHIM_OPERATOR,
        "timings": timings,
        "cases": [asdict(r) for r in ran],
        "not_run": not_run
        if not_run is not None
        else [n for n in absences(minor) if not variants or n["variant"] in variants],
    }
    fields = {
        "suite": "live",
        "run": "local" if SHIM_PACKAGE == "airflow_trigger_compat" else "provider-local",
        "airflow": version,
        "environment": {
            "python": sys.version.split()[0],
            "package": SHIM_PACKAGE if shim else None,
            "provider_standard": schema.installed("apache-airflow-providers-standard"),
            "executor": "LocalExecutor",
            "strategy": None,
            "operator": SHIM_OPERATOR,
            "database": os.environ.get("E2E_DATABASE", "postgres"),
        },
        "duration_s": timings["version_total_s"],
        "timings": timings,
        "rows": report["cases"],
        "not_run": [{"case": f"{n['variant']}__{n['kill']}", **n} for n in report["not_run"]],
        "details": {"airflow_minor": minor},
    }
    doc = schema.write(out, **fields) if out is not None else schema.document(**fields)
    print(schema.run_table(doc), flush=True)
    print(f"timings: {json.dumps(timings)}", flush=True)
    if out is not None:
        log(f"wrote {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--airflow", required=True, help="Airflow minor under test, e.g. 3.3")
    p.add_argument("--repeats", type=int, default=3, help="repeats of each durable case (3.3+)")
    p.add_argument("--out", type=Path, default=None, help="JSON output (default results/e2e-<minor>.json)")
    p.add_argument("--variants", default="", help="comma list to restrict: stock,shim_nodur,shim_durable")
    p.add_argument("--cases", default="", help="comma list of exact case ids, e.g. shim_durable__midwait__1")
    p.add_argument("--keep-home", action="store_true", help="keep the temp AIRFLOW_HOME (logs)")
    a = p.parse_args(argv)
    out = a.out or REPO / "results" / f"e2e-{a.airflow}.json"
    run_version(
        a.airflow,
        a.repeats,
        out,
        keep_home=a.keep_home,
        variants=[v for v in a.variants.split(",") if v] or None,
        only=[c for c in a.cases.split(",") if c] or None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

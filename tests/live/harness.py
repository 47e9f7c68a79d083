"""Live crash harness: one real Airflow at a time, on LocalExecutor or CeleryExecutor, real kills.

Runs in the environment that has the Airflow under test (the nox ``live`` venv) but never imports Airflow:
Airflow runs in processes started here, each in its own session, all stopped by PID on exit (also on
error or Ctrl-C), every server on 127.0.0.1: a private PostgreSQL (``start_postgres.sh``; on 3.x SQLite
with ``E2E_DATABASE=sqlite``, as the demo runs) migrated once for both executors' runs of a session,
Airflow's servers, and on Celery ``redis-server`` and two workers. The cases (``local_cases.py``,
``celery_cases.py``) observe a parent run through ``Run``, act only on what Airflow shows and kill only
descendants of the processes started here. The tests (``test_live.py``) run it; a failed run keeps its
``AIRFLOW_HOME`` (the logs) and says where.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import pickle
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the results schema: tests/results.py
import results as schema

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FINAL_DAGRUN_STATES = {"success", "failed"}
#: Airflow 2.11's zombie detection interval (see Instance.build_env).
ZOMBIE_DETECTION_INTERVAL_S = 40
HEARTBEAT_TIMEOUT_S = 20  # 3.x: task_instance_heartbeat_timeout; 2.11: scheduler_zombie_task_threshold
POKE_INTERVAL_S = 2  # every parent's poke_interval (the DAG file reads these from E2E_SETTINGS)
RETRY_DELAY_S = 2.0  # every task's retry_delay
#: The package the shim cases run (the DAG file reads the same variables): this one unless a provider's
#: vendored copy is under test (``E2E_SHIM_PACKAGE``, with its operator in ``E2E_SHIM_OPERATOR``).
SHIM_PACKAGE = os.environ.get("E2E_SHIM_PACKAGE") or "airflow_trigger_compat"
SHIM_OPERATOR = os.environ.get("E2E_SHIM_OPERATOR") or f"{SHIM_PACKAGE}:TriggerDagRunOperator"
#: The line each waiting try logs before every poll of its child run (in the task log): the task runner's
#: wait on 3.x (stock, durable=False and durable=True's try 1: "Waiting for dag run to complete execution
#: in allowed state."), the operator's on 2.11 (stock's and the package's, also a durable retry's:
#: "Waiting for <dag> on <run> to become allowed state ..."), and a durable retry's wait inside execute()
#: after it reconnected on 3.x (TaskPort.log_waiting: "Waiting for <dag> on <run> to reach an allowed
#: state [...]").
POLL_LINES = (
    "Waiting for dag run to complete execution in allowed state",
    "to become allowed state",
    "to reach an allowed state",
)
#: Poll lines that show a try is really mid-wait: the second is logged after one whole poll (a sleep of
#: poke_interval and a read of the child run's state) beyond the trigger or the reconnect.
MID_WAIT_POLLS = 2
#: The first of these lines in a durable=True retry's task log says what it did with the run an earlier try
#: kept (first match wins). "Triggering Dag Run." is the 3.x runner's: with no line of durable's before it,
#: there was no run to take up (the kept run_id never triggered: a try died before its trigger; or a clear's
#: fresh key) and the retry triggered (2.11 logs no line for that: its decision is None, and the time to
#: the new child run is reported instead).
RECONNECT_EVENTS = {
    "Reconnecting to DAG run": "reconnect",
    "triggered by an earlier try, ended": "fresh run after a failed child",
    "Triggering Dag Run.": "triggered",
}


def log(msg: str) -> None:
    print(f"[live {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_line_time(line: str) -> float | None:
    """When a task log line was written (epoch s): 3.x logs JSON lines, 2.11 ``[<iso time>] ...`` lines."""
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


def polls(task_log: str) -> int:
    """How many polls of its child run a task log shows."""
    return sum(1 for line in task_log.splitlines() if any(p in line for p in POLL_LINES))


def shim_installed() -> bool:
    return (
        subprocess.run([sys.executable, "-c", f"import {SHIM_PACKAGE}"], capture_output=True).returncode == 0
    )


class ProcessSet:
    """Processes this harness started, each in its own session; stopped by PID, descendants included."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._seen: dict[int, float] = {}  # pid -> create_time of every descendant ever observed
        self._lock = threading.Lock()

    def start(
        self, name: str, argv: list[str], env: dict[str, str], pipe: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start ``argv``, its output in ``<name>.log`` (``pipe``: stdin and stdout pipes, stderr there)."""
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        stdio = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": out} if pipe else {}
        stdio = stdio or {"stdin": subprocess.DEVNULL, "stdout": out, "stderr": subprocess.STDOUT}
        proc = subprocess.Popen(argv, env=env, start_new_session=True, **stdio)  # type: ignore[call-overload]
        out.close()
        self.procs[name] = proc
        with contextlib.suppress(psutil.Error), self._lock:
            self._seen[proc.pid] = psutil.Process(proc.pid).create_time()
        log(f"started {name} pid={proc.pid}: {' '.join(a for a in argv[-2:] if len(a) < 100)}")
        return proc  # type: ignore[no-any-return]

    def snapshot(self) -> None:
        """Record every live descendant (task supervisors fork children into new process groups)."""
        for proc in list(self.procs.values()):
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error), self._lock:
                        self._seen[child.pid] = child.create_time()

    def is_ours(self, pid: int) -> bool:
        """True if pid is a live descendant of a process this harness started."""
        try:
            parents = {q.pid for q in psutil.Process(pid).parents()}
        except psutil.Error:
            return False
        return bool(parents & {proc.pid for proc in self.procs.values()})

    def dead(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return None if proc is None else proc.poll()

    def kill_tree(self, name: str) -> list[int]:
        """SIGKILL a started process's group and every descendant (a lost host); returns the PIDs."""
        proc = self.procs[name]
        self.snapshot()
        try:
            descendants = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for child in descendants:  # task processes may run in process groups of their own
            with contextlib.suppress(psutil.Error):
                child.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        psutil.wait_procs(descendants, timeout=10)
        return [proc.pid] + [c.pid for c in descendants]

    def _alive(self) -> list[psutil.Process]:
        """Every process seen here that still runs (not a zombie, not a reused pid)."""
        alive = []
        with self._lock:
            seen = dict(self._seen)
        for pid, ctime in seen.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if abs(p.create_time() - ctime) < 0.01 and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        return alive

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM each started process group, then SIGKILL every process seen here that is left, and each
        group (3.0's LocalExecutor was seen forking workers after the SIGTERM)."""
        self.snapshot()
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                log(f"SIGTERM {name} (pgid {proc.pid})")
        deadline = time.monotonic() + grace
        while (alive := self._alive()) and time.monotonic() < deadline:
            for proc in self.procs.values():
                proc.poll()  # reaps the ones that ended
            time.sleep(0.2)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        if alive:
            log(f"SIGKILLed leftovers: {[p.pid for p in alive]}")
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


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

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row, or None."""
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


def decode_conf(conf: Any) -> Any:
    """A child run's conf: a pickle on 2.11 (our own database, written by the Airflow we started), JSON."""
    if isinstance(conf, (bytes, memoryview)):
        with contextlib.suppress(Exception):
            return pickle.loads(bytes(conf))
    elif isinstance(conf, str):
        with contextlib.suppress(ValueError):
            return json.loads(conf)
    return conf


class Postgres:
    """A private PostgreSQL cluster (start_postgres.sh), migrated once for every Airflow run against it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="airflow-live-pg-"))
        self.dsn = ""
        self.migrated = False

    def start(self) -> str:
        if not self.dsn:
            t0 = time.monotonic()
            out = subprocess.run(
                ["bash", str(HERE / "start_postgres.sh"), str(self.dir / "pg"), str(free_port())],
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                raise RuntimeError(f"start_postgres.sh failed:\n{out.stdout}\n{out.stderr}")
            self.dsn = out.stdout.strip().splitlines()[-1]
            log(f"postgres up in {time.monotonic() - t0:.1f} s: {self.dsn}")
        return self.dsn

    def stop(self) -> None:
        if (self.dir / "pg" / "PG_VERSION").exists():
            subprocess.run(
                ["bash", str(HERE / "start_postgres.sh"), "--stop", str(self.dir / "pg")], check=False
            )
        shutil.rmtree(self.dir, ignore_errors=True)


#: A Python process in Airflow's environment that runs the snippets the cases send it (trigger runs, delete
#: one), one JSON line each, and answers "ok" or the traceback; whatever else writes to its stdout (Airflow's
#: logging) goes to its stderr, the log file.
CLIENT = """
import json, os, sys, traceback
replies = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
from airflow.api.client import get_current_api_client
for line in sys.stdin:
    try:
        exec(json.loads(line), {"client": get_current_api_client})
        reply = "ok"
    except BaseException:
        reply = traceback.format_exc()[-3000:]
    print(json.dumps(reply), file=replies, flush=True)
"""
#: worker name -> Celery concurrency; together they hold every load-case parent and its child
WORKERS: dict[str, int] = {"w1": 24, "w2": 20}
SERVERS = ("scheduler", "redis", "api-server", "dag-processor")


@dataclass
class Instance:
    minor: str
    home: Path
    cases: dict[str, float]  # case id -> how long its child runs at most (seconds)
    executor: str = "local"  # or "celery"
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)
    procs: ProcessSet = field(init=False)
    db: MetaDB = field(init=False)
    timings: dict[str, float] = field(default_factory=dict)
    keep_home: bool = False  # set on a failure: the logs are kept for a look
    redis_port: int = 0
    _log_offsets: dict[str, int] = field(default_factory=dict)
    _client_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_airflow2(self) -> bool:
        return self.minor.startswith("2.")

    @property
    def ti_where(self) -> str:
        """SQL selecting a task's current try by map index. Airflow 3.4 renamed task_instance.map_index to
        region_index (map_index is an ORM synonym) and keeps every try as a row, the current one with
        ``working_set`` true (earlier tries NULL): the ORM adds that filter, plain SQL must."""
        if tuple(int(x) for x in self.minor.split(".")) >= (3, 4):
            return "region_index=? AND working_set IS TRUE"
        return "map_index=?"

    @property
    def marker_dir(self) -> Path:
        return self.home / "e2e_markers"

    def airflow_bin(self) -> str:
        return str(Path(self.python).parent / "airflow")

    def build_env(self) -> None:
        dags = self.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "dags" / "live_dags.py", dags / "live_dags.py")
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
            E2E_SETTINGS=json.dumps(
                {"cases": self.cases, "markers": str(self.marker_dir), "retry_delay_s": RETRY_DELAY_S}
                | {"poke_interval": POKE_INTERVAL_S}
            ),
            PYTHONUNBUFFERED="1",
            # children of the venv's airflow must see the venv first
            PATH=f"{Path(self.python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        if self.is_airflow2:
            env.update(
                AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD=str(HEARTBEAT_TIMEOUT_S),
                # 2.11 fails a killed try through a zombie callback the DAG processor runs later; a second
                # detection around the retry's start queues a second one, which fails the retry
                # (apache/airflow#42553, open). The retry starts some 10 s after the first detection idle,
                # 20 to 30 s under CI's load, where a 20 s interval met it (two callbacks for two cases of
                # live(2.11) at 1ccf32c). Each LocalExecutor case checks one detection per kill.
                AIRFLOW__SCHEDULER__ZOMBIE_DETECTION_INTERVAL=str(ZOMBIE_DETECTION_INTERVAL_S),
                AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="10",
                AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL="10",
                AIRFLOW__SCHEDULER__PARSING_PROCESSES="1",
                AIRFLOW__WEBSERVER__SECRET_KEY=secrets.token_hex(16),
            )
        else:
            port = free_port()
            env.update(
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT_S),
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
                AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
                AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="10",
                AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
                AIRFLOW__API__HOST="127.0.0.1",
                AIRFLOW__API__PORT=str(port),
                # Celery: the API server answers every task's execution API calls (the load case's polls too)
                AIRFLOW__API__WORKERS="2" if self.executor == "celery" else "1",
                AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
                AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
                AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
                # 3.0 + the pinned PyJWT refuses to sign a token with iss=None (the default)
                AIRFLOW__API_AUTH__JWT_ISSUER="airflow-e2e",
                # the clear case calls the REST API with a token from GET /auth/token (loopback only)
                AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            )
        if self.executor == "celery":
            self.redis_port = free_port()
            env.update(
                AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
                AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="1",
                # A task a SIGKILLed worker took but never started stays queued (Redis redelivers after the
                # 86400 s visibility timeout): Airflow's stuck-in-queued check recovers it, here every 10 s
                # after 60 s (defaults 120 s, 600 s; on 3.3 also a queued token's lifetime, so the workers
                # have slots for every task), 5 times before it fails. The requeues are counted per case.
                AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="60",
                AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL="10",
                AIRFLOW__SCHEDULER__NUM_STUCK_IN_QUEUED_RETRIES="5",
                # the load case: 24 waiting parent tasks, their children and the stock duplicates at once
                AIRFLOW__CORE__PARALLELISM="96",
            )
        self.env = env

    def start(self, postgres: Postgres | None) -> None:
        t_start = time.monotonic()
        (self.home / "proc-logs").mkdir(parents=True, exist_ok=True)
        self.procs = ProcessSet(self.home / "proc-logs")
        if postgres is not None:
            dsn = postgres.start()
            alchemy = dsn.replace("postgresql://", "postgresql+psycopg2://")
            self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = alchemy
            self.env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + alchemy
            self.db = MetaDB(pg_dsn=dsn)
        else:
            self.db = MetaDB(sqlite_path=self.home / "airflow.db")
        if self.executor == "celery":
            self.start_redis()
        if postgres is None or not postgres.migrated:
            t0 = time.monotonic()
            self.run("airflow db migrate", [self.airflow_bin(), "db", "migrate"])
            self.timings["db_migrate_s"] = round(time.monotonic() - t0, 1)
            log(f"db migrate: {self.timings['db_migrate_s']} s")
            if postgres is not None:
                postgres.migrated = True
        # Airflow imported once, meanwhile, for every trigger: a process each would take seconds to import it
        self.procs.start("client", [self.python, "-c", CLIENT], self.env, pipe=True)
        # A scheduler job of an earlier run on the same database is not this run's scheduler.
        jobs_before = self.db.one("SELECT coalesce(max(id), 0) FROM job")
        t0 = time.monotonic()
        self.start_scheduler()
        for server in [] if self.is_airflow2 else ["api-server", "dag-processor"]:
            self.procs.start(server, [self.airflow_bin(), server], self.env)
        if self.executor == "celery":
            self.start_worker("w1")  # case 1 needs the parents on one worker: w2 starts once they wait
        self.wait_ready(t0, jobs_before)
        if self.executor == "celery":
            self.wait_worker("w1")
        self.timings["startup_total_s"] = round(time.monotonic() - t_start, 1)

    def start_scheduler(self) -> None:
        self.procs.start("scheduler", [self.airflow_bin(), "scheduler"], self.env)

    def wait_ready(self, t0: float, jobs_before: int, timeout: float = 180.0) -> None:
        want = {f"e2e_{kind}__{c}" for c in self.cases for kind in ("parent", "child")}
        base_url = self.env.get("AIRFLOW__API__BASE_URL")

        def ready() -> bool:
            try:
                if base_url:
                    try:
                        urllib.request.urlopen(base_url + "/api/v2/version", timeout=2).close()
                    except urllib.error.HTTPError as err:  # an answer, unless the server failed
                        if err.code >= 500:
                            return False
                sched = self.db.one(
                    "SELECT count(*) FROM job WHERE job_type='SchedulerJob' AND state='running' AND id > ?",
                    (jobs_before,),
                )
                rows = self.db.query(
                    "SELECT d.dag_id FROM dag d JOIN serialized_dag s ON s.dag_id = d.dag_id "
                    "WHERE d.is_paused = ?",
                    (False,),
                )
            except Exception:  # not up yet: no answer, no tables
                return False
            return bool(sched) and want <= {r[0] for r in rows}

        self.wait("Airflow ready (API, scheduler, every DAG parsed)", ready, timeout, every=0.5)
        self.timings["scheduler_ready_s"] = round(time.monotonic() - t0, 1)
        log(f"Airflow ready {self.timings['scheduler_ready_s']} s after starting the processes")

    def wait(
        self, what: str, pred: Callable[[], Any], timeout: float, every: float = 0.25, down: str = ""
    ) -> Any:
        """Until ``pred()`` is truthy (returned); fails early if a server dies (but ``down``, on purpose)."""
        deadline = time.monotonic() + timeout
        while not (value := pred()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            for name in set(SERVERS) - {down}:
                if (rc := self.procs.dead(name)) is not None:
                    raise RuntimeError(f"{name} exited with {rc}; see {self.home / 'proc-logs' / name}.log")
            time.sleep(every)
        return value

    def stop(self) -> None:
        with contextlib.suppress(AttributeError):  # start() failed before the processes existed
            self.procs.stop_all()

    def trigger(self, runs: list[tuple[str, str]], fresh: bool = False) -> None:
        """Create parent runs [(dag_id, run_id)] with the local client `airflow dags trigger` uses: in the
        client process, or (``fresh``) in a new one, as a user's command would (Airflow imported first)."""
        code = f"for dag_id, run_id in {runs!r}:\n"
        code += "    client().trigger_dag(dag_id=dag_id, run_id=run_id, conf={}, replace_microseconds=False)"
        if fresh:
            client = "from airflow.api.client import get_current_api_client as client\n"
            self.run("trigger", [self.python, "-c", client + code])
        else:
            self.call("trigger", code)

    def call(self, what: str, code: str, timeout: float = 120.0) -> None:
        """Run ``code`` in the client process (``CLIENT``); raise with its traceback if it failed."""
        proc = self.procs.procs["client"]
        assert proc.stdin is not None and proc.stdout is not None
        with self._client_lock:
            proc.stdin.write(json.dumps(code).encode() + b"\n")
            proc.stdin.flush()
            if not select.select([proc.stdout], [], [], timeout)[0]:
                raise TimeoutError(f"{what}: no answer from the client process after {timeout:.0f} s")
            line = proc.stdout.readline()
        reply = json.loads(line) if line else f"the client process exited with {proc.poll()}"
        if reply != "ok":
            raise RuntimeError(f"{what} failed:\n{reply}")

    def run(self, what: str, argv: list[str]) -> None:
        """Run a command in this Airflow's environment; its output in the error when it fails."""
        out = subprocess.run(argv, env=self.env, capture_output=True, text=True, cwd=self.home)
        if out.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        if server is None:  # as start_postgres.sh does for PostgreSQL
            log("redis-server not found: installing it with apt-get")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)
            server = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [server, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", ""]
        self.procs.start("redis", [*argv, "--appendonly", "no", "--daemonize", "no"], self.env)
        self.wait(f"redis-server on 127.0.0.1:{self.redis_port}", self._redis_ping, 30, every=0.2)

    def _redis(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=5)

    def _redis_ping(self) -> bool:
        with contextlib.suppress(Exception):
            return bool(self._redis().ping())
        return False

    def redis_unacked(self) -> int:
        """Messages a worker took (acks_late) and never acknowledged: redelivered after visibility_timeout."""
        return int(self._redis().hlen("unacked"))

    def worker_log(self, name: str) -> Path:
        return self.home / "proc-logs" / f"{name}.log"

    def start_worker(self, name: str) -> None:
        log_file = self.worker_log(name)
        self._log_offsets[name] = log_file.stat().st_size if log_file.exists() else 0
        pid_file = self.home / f"{name}.pid"
        pid_file.unlink(missing_ok=True)  # a SIGKILLed worker leaves its pid file behind
        argv = [self.airflow_bin(), "celery", "worker", "--celery-hostname", f"{name}@localhost"]
        argv += ["--concurrency", str(WORKERS[name]), "--pid", str(pid_file), "--skip-serve-logs"]
        self.procs.start(name, argv, self.env)

    def worker_up(self, name: str) -> bool:
        return name in self.procs.procs and self.procs.dead(name) is None

    def wait_worker(self, name: str, timeout: float = 120.0) -> None:
        """Until Celery logs ``<name>@localhost ready.`` for the latest start of this worker."""

        def ready() -> bool:
            if self.procs.dead(name) is not None:
                raise RuntimeError(f"worker {name} exited; see {self.worker_log(name)}")
            with contextlib.suppress(OSError), self.worker_log(name).open("rb") as fh:
                fh.seek(self._log_offsets.get(name, 0))
                return f"{name}@localhost ready." in fh.read().decode(errors="replace")
            return False

        self.wait(f"worker {name} ready", ready, timeout, every=0.3)

    def terminate_worker(self, name: str, grace: float) -> dict[str, Any]:
        """SIGTERM to the worker's main process (warm shutdown); SIGKILL of its tree after ``grace`` s."""
        proc = self.procs.procs[name]
        try:
            descendants = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        exited: float | None = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
            exited = round(time.monotonic() - t0, 1)
        left = [c for c in descendants if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        killed = self.procs.kill_tree(name) if exited is None else []
        for child in left if exited is not None else []:  # a task process the warm shutdown left behind
            with contextlib.suppress(psutil.Error):
                child.kill()
                killed.append(child.pid)
        return {"exited_after_sigterm_s": exited, "sigkilled_after_grace": killed}

    def owner(self, pid: int | None) -> str | None:
        """Which worker has ``pid`` among its descendants."""
        try:
            ancestors = {p.pid for p in psutil.Process(int(pid or 0)).parents()} if pid else set()
        except psutil.Error:
            return None
        return next((n for n, p in self.procs.procs.items() if n in WORKERS and p.pid in ancestors), None)


@contextlib.contextmanager
def running_airflow(
    minor: str,
    cases: dict[str, float],
    executor: str = "local",
    postgres: Postgres | None = None,
) -> Iterator[Instance]:
    """An Airflow started for ``cases``, stopped on exit or error (and PostgreSQL with it, unless given).

    Without ``postgres``: a private cluster. SQLite instead on 3.x with ``E2E_DATABASE=sqlite``.
    """
    home = Path(tempfile.mkdtemp(prefix=f"airflow-live-{executor}-{minor}-"))
    inst = Instance(minor=minor, home=home, cases=cases, executor=executor)
    inst.build_env()
    sqlite = not inst.is_airflow2 and os.environ.get("E2E_DATABASE", "postgres") != "postgres"
    own_pg = postgres is None and not sqlite
    pg = None if sqlite else postgres or Postgres()
    prev = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for s in prev:
        signal.signal(s, _raise)
    try:
        inst.start(pg)
        yield inst
    except BaseException:
        log(f"failure; Airflow logs kept in {home}")
        inst.keep_home = True
        raise
    finally:
        inst.stop()
        if own_pg and pg is not None:
            pg.stop()
        for s, h in prev.items():
            signal.signal(s, h)
        if not inst.keep_home:
            shutil.rmtree(home, ignore_errors=True)


class Run:
    """One parent DAG run of a case (``e2e_parent__<case>``) and its child DAG's runs."""

    def __init__(self, inst: Instance, case: str, run_id: str, mapped: bool = False) -> None:
        self.inst, self.db, self.case, self.run_id = inst, inst.db, case, run_id
        self.dag_id, self.child_dag_id = f"e2e_parent__{case}", f"e2e_child__{case}"
        self.map_indices = [0, 1, 2] if mapped else [-1]

    def children(self, index: int = -1) -> list[dict[str, Any]]:
        """This run's child runs (the conf marker names it), of one map index if ``index`` >= 0."""
        rows = self.db.query(
            "SELECT run_id, state, conf, queued_at FROM dag_run WHERE dag_id=? ORDER BY id",
            (self.child_dag_id,),
        )
        out = []
        for run_id, state, conf, queued_at in rows:
            conf = decode_conf(conf)
            conf = conf if isinstance(conf, dict) else {}
            if conf.get("e2e_parent_run_id") not in (None, self.run_id):
                continue
            if index < 0 or conf.get("item") == index:
                created = queued_at.timestamp() if isinstance(queued_at, datetime) else None
                out.append({"run_id": run_id, "state": state, "conf": conf, "created": created})
        return out

    def ti(self, index: int = -1) -> dict[str, Any] | None:
        """The ``trigger`` task instance of this run (of one map index)."""
        rows = self.db.query(
            "SELECT state, try_number, pid, max_tries FROM task_instance "
            f"WHERE dag_id=? AND run_id=? AND task_id='trigger' AND {self.inst.ti_where}",
            (self.dag_id, self.run_id, index),
        )
        return dict(zip(("state", "try_number", "pid", "max_tries"), rows[0], strict=True)) if rows else None

    def ti_is(self, want: dict[str, Any], index: int = -1) -> Any:
        """The task instance if it has every field of ``want`` (``"pid": True``: any pid), else None."""
        t = self.ti(index)
        return t if t is not None and all(t[k] if v is True else t[k] == v for k, v in want.items()) else None

    def tis(self) -> list[dict[str, Any] | None]:
        return [self.ti(i) for i in self.map_indices]

    def state(self) -> str | None:
        return self.db.one(
            "SELECT state FROM dag_run WHERE dag_id=? AND run_id=?", (self.dag_id, self.run_id)
        )  # type: ignore[no-any-return]

    def final(self) -> bool:
        return self.state() in FINAL_DAGRUN_STATES

    def end_time(self) -> float | None:
        end = self.db.one(
            "SELECT end_date FROM dag_run WHERE dag_id=? AND run_id=?", (self.dag_id, self.run_id)
        )
        return end.timestamp() if isinstance(end, datetime) else None

    def task_log(self, attempt: int, index: int = -1) -> str:
        path = self.inst.home / "logs" / f"dag_id={self.dag_id}" / f"run_id={self.run_id}" / "task_id=trigger"
        if index >= 0:
            path = path / f"map_index={index}"
        try:
            return (path / f"attempt={attempt}.log").read_text(errors="replace")
        except OSError:
            return ""

    def polls(self, attempt: int = 1) -> list[int]:
        """Per map index: the polls of its child run the try's task log shows."""
        return [polls(self.task_log(attempt, i)) for i in self.map_indices]

    def release(self) -> None:
        """Let this run's child runs end: the DAG file's child task waits for this marker."""
        (self.inst.marker_dir / f"{self.child_dag_id}.release").touch()

    def durable_decision(self, attempt: int, index: int = -1) -> tuple[str, float] | None:
        """A durable=True retry's decision (RECONNECT_EVENTS) and when its task log shows it; None for the
        other operators (stock's retry logs the runner's trigger line too)."""
        if not self.case.startswith("shim_durable__"):
            return None
        for line in self.task_log(attempt, index).splitlines():
            event = next((e for e in RECONNECT_EVENTS if e in line), None)
            if event is not None and (t := log_line_time(line)) is not None:
                return RECONNECT_EVENTS[event], t
        return None


def run_version(
    executor: str, minor: str, cases: dict[str, float], out: Path, postgres: Postgres, **options: Any
) -> dict[str, Any]:
    """Run ``cases`` (case id -> its child's longest sleep) on ``executor`` (``local_cases.run`` or
    ``celery_cases.run``, given ``options``), write the results document to ``out``; the report. (The case
    modules build on this one: imported here.)"""
    import celery_cases
    import local_cases

    module = local_cases if executor == "local" else celery_cases
    t0 = time.monotonic()
    version = importlib.metadata.version("apache-airflow")
    shim = shim_installed()
    log(f"Airflow {version} on {executor}: cases {list(cases)}")
    report: dict[str, Any] = {"airflow_minor": minor, "airflow_version": version, "shim_installed": shim}
    with running_airflow(minor, cases, executor, postgres) as inst:
        report |= module.run(inst, list(cases), **options)
        timings = dict(inst.timings)
    timings["version_total_s"] = round(time.monotonic() - t0, 1)
    report["timings"] = timings
    doc = results_document(executor, report, out)
    print(schema.run_table(doc), flush=True)
    print(f"timings: {json.dumps(timings)}", flush=True)
    return report


def results_document(executor: str, report: dict[str, Any], out: Path) -> dict[str, Any]:
    """The run as a results document (tests/results.py), written to ``out``."""
    celery = executor == "celery"
    run = "celery" if celery else "local" if SHIM_PACKAGE == "airflow_trigger_compat" else "provider-local"
    run = os.environ.get("E2E_RUN", run)  # nox -s accessor: "accessor-local" (tests/results.py RUNS)
    environment = {
        "python": sys.version.split()[0],
        "package": SHIM_PACKAGE if report["shim_installed"] else None,
        "provider_standard": schema.installed("apache-airflow-providers-standard"),
        "executor": "CeleryExecutor" if celery else "LocalExecutor",
        "strategy": None,
    }
    fields = {"suite": "live", "run": run, "airflow": report["airflow_version"], "environment": environment}
    fields |= {"duration_s": report["timings"]["version_total_s"], "timings": report["timings"]}
    if celery:
        details = ("airflow_minor", "workers", "airflow_home_kept", "phases")
        fields |= {
            "exitstatus": 1 if report["error"] else 0,
            "error": report["error"],
            "summary": {"groups": report["summary"], "load": report["load"]},
            "rows": [{"kill": p["kind"], **p} for p in report["parents"]],
            "details": {k: report[k] for k in details},
        }
    else:
        environment |= {"operator": SHIM_OPERATOR, "database": os.environ.get("E2E_DATABASE", "postgres")}
        fields |= {
            "rows": report["cases"],
            "not_run": [{"case": f"{n['variant']}__{n['kill']}", **n} for n in report["not_run"]],
            "details": {"airflow_minor": report["airflow_minor"]},
        }
    log(f"writing {out}")
    return schema.write(out, **fields)  # type: ignore[no-any-return]

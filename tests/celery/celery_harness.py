"""Crash test on a distributed deployment: CeleryExecutor, Redis, PostgreSQL and two Celery workers.

Builds on the LocalExecutor crash harness (``tests/e2e/harness.py``: processes, metadata queries, the
Airflow instance) and runs in the Python environment that has the Airflow under test installed::

    python tests/celery/celery_harness.py --airflow 3.3 [--out results/celery-3.3.json]

What it starts, each in its own session / process group, all stopped by PID on exit (also on error or
Ctrl-C), every server on 127.0.0.1 only:

* a private PostgreSQL cluster (``tests/e2e/start_postgres.sh``): the metadata database and Celery's
  result backend (``db+postgresql://``);
* Debian's ``redis-server`` (installed with apt-get if missing) as the broker, without persistence;
* Airflow 3.x: ``api-server``, ``scheduler``, ``dag-processor``; Airflow 2.11: ``scheduler``;
* two Celery workers (``airflow celery worker``), ``w1@localhost`` and ``w2@localhost``, each with its
  own concurrency and pid file, without the log server (task logs are read from the shared log folder).

The cases, each with the stock operator, the package's ``durable=False`` and ``durable=True``:

1. ``sigkill``: the whole worker running the waiting parents (its process group and every descendant,
   as a lost host) is SIGKILLed mid-wait; the retries run on the other worker (the only one up until
   they run); then the killed worker is restarted.
2. ``sigterm``: that worker gets SIGTERM (Celery's warm shutdown: it stops taking tasks and waits for
   the running ones) and, as ``docker stop`` does, SIGKILL after 10 s if still alive.
3. ``schedkill``: the scheduler's process group is SIGKILLed mid-wait and restarted.
4. ``load``: ten parent runs per operator at once (one of them mapped over 3 indices), each waiting on a
   30 s child, while a seeded random schedule SIGKILLs a worker every 10-20 s for two minutes and
   restarts it at once.

Which worker runs a task: the task instance's ``pid`` column, whose ancestors (psutil) include the
worker's main process (both workers report the machine's hostname in ``ti.hostname``). Every PID killed
is a descendant of a process this harness started.

Celery delivers Airflow's tasks with ``acks_late`` (the provider's default): the message of a task whose
worker was SIGKILLed stays unacknowledged in Redis until the broker's visibility timeout (the provider's
default when unset: 86400 s) and would then be delivered again. The harness measures it: the
unacknowledged messages left in Redis after each case, and per parent the deliveries the workers logged
against its tries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import harness as h  # noqa: E402

VARIANTS = ("stock", "shim_nodur", "shim_durable")
KILL_KINDS = ("sigkill", "sigterm", "schedkill")
ALL_KINDS = (*KILL_KINDS, "load")
KIND_LABEL = {
    "sigkill": "1. SIGKILL of the worker running the parent",
    "sigterm": "2. SIGTERM of that worker (warm shutdown)",
    "schedkill": "3. SIGKILL of the scheduler, restarted",
    "load": "4. load: 10 parents, a worker SIGKILLed every 10-20 s",
}
#: the load case runs these side by side in the same fault window (their throughput is compared)
LOAD_VARIANTS = ("stock", "shim_durable")
LOAD_PARENTS = 10
#: worker name -> Celery concurrency; together they hold every load-case parent and its child
WORKERS: dict[str, int] = {"w1": 24, "w2": 20}

CHILD_SLEEP_S = 30.0  # kill cases: the child outlives the kill, the heartbeat timeout and the retry start
LOAD_CHILD_SLEEP_S = 30.0
HEARTBEAT_TIMEOUT_S = 20.0  # the LocalExecutor harness's setting (3.x heartbeat timeout, 2.11 zombie)
RETRY_DELAY_S = 2.0
#: scheduling + a Celery worker starting the task on this loaded two-core machine, per try
TASK_START_S = 30.0
#: SIGTERM -> SIGKILL of what is left, as a container runtime does (``docker stop``'s default, 10 s); the
#: waiting parent outlives it (a warm shutdown that let the parent finish would show no crash at all)
TERM_GRACE_S = 10.0
#: Polls every waiting parent makes with the scheduler down (poke_interval 2 s: about 4 to 6 s down)
SCHEDULER_DOWN_POLLS = 2
LOAD_WINDOW_S = 120.0
LOAD_KILL_EVERY_S = (10.0, 20.0)
DEFAULT_SEED = 9


def no_hang_bound(child_s: float, airflow2: bool) -> float:
    """Seconds from the (last) kill to the parent's final state: child + heartbeat timeout + 2 retries.

    Airflow 2.11 looks for zombies only every ``ZOMBIE_DETECTION_INTERVAL_S`` (20 s, set by the e2e
    harness against apache/airflow#42553), so a killed try is seen up to that much after its timeout.
    """
    detection = h.ZOMBIE_DETECTION_INTERVAL_S if airflow2 else 0.0
    return child_s + HEARTBEAT_TIMEOUT_S + detection + 2 * (RETRY_DELAY_S + TASK_START_S)


def ensure_redis_server() -> str:
    """Debian's redis-server, installed with apt-get when missing (as start_postgres.sh does PostgreSQL)."""
    found = shutil.which("redis-server")
    if found:
        return found
    h.log("redis-server not found: installing it with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists():
        raise RuntimeError("apt-get installed redis-server but it is not on PATH")
    return found


@dataclass
class CeleryInstance(h.Instance):
    """One Airflow on CeleryExecutor: PostgreSQL, Redis, the Airflow servers and two Celery workers."""

    dags_src: ClassVar[Path] = HERE / "dags"
    redis_port: int = 0
    _log_offsets: dict[str, int] = field(default_factory=dict)

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def build_env(self, extra_env: dict[str, str] | None = None) -> None:
        super().build_env(extra_env)
        self.redis_port = h.free_port()
        self.env.update(
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CELERY__BROKER_URL=self.broker_url,
            AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="1",
            # A task whose message a SIGKILLed worker had taken, but whose task process had not yet told
            # Airflow it runs, stays queued: Redis gives the unacknowledged message back only after the
            # visibility timeout (86400 s), so Airflow's stuck-in-queued check is what recovers it. It
            # runs every 120 s and requeues after 600 s by default; here 10 s and 60 s (3.3 also makes
            # that the lifetime of a queued task's token, so the workers have slots for every task), and
            # a task may be requeued 5 times before it is failed. The requeues are counted per case.
            AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="60",
            AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL="10",
            AIRFLOW__SCHEDULER__NUM_STUCK_IN_QUEUED_RETRIES="5",
            # the load case: 24 waiting parent tasks, their children and the stock duplicates at once
            AIRFLOW__CORE__PARALLELISM="96",
            AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="32",
            CELERY_CHILD_SLEEP=str(CHILD_SLEEP_S),
            CELERY_LOAD_CHILD_SLEEP=str(LOAD_CHILD_SLEEP_S),
            E2E_RETRY_DELAY=str(RETRY_DELAY_S),
        )
        if not self.is_airflow2:
            # the API server answers every task's execution API calls (the load case's polls too)
            self.env["AIRFLOW__API__WORKERS"] = "2"

    # -- servers ---------------------------------------------------------------------------------------
    def start_redis(self) -> None:
        assert self.procs is not None
        server = ensure_redis_server()
        argv = [server, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        self.procs.start("redis", [*argv, "no", "--daemonize", "no"], self.env)
        deadline = time.monotonic() + 30
        while not self._redis_ping():
            if time.monotonic() > deadline or self.procs.dead("redis") is not None:
                raise RuntimeError(f"redis-server did not answer on 127.0.0.1:{self.redis_port}")
            time.sleep(0.2)

    def _redis(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=5)

    def _redis_ping(self) -> bool:
        try:
            return bool(self._redis().ping())
        except Exception:
            return False

    def redis_unacked(self) -> int:
        """Messages a worker took (acks_late) and never acknowledged: redelivered after visibility_timeout."""
        return int(self._redis().hlen("unacked"))

    def start(self) -> None:
        t_start = time.monotonic()
        (self.home / "proc-logs").mkdir(parents=True, exist_ok=True)
        self.procs = h.ProcessSet(self.home / "proc-logs")
        dsn = self.start_postgres()
        self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = dsn.replace(
            "postgresql://", "postgresql+psycopg2://"
        )
        self.env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + dsn.replace(
            "postgresql://", "postgresql+psycopg2://"
        )
        self.db = h.MetaDB(pg_dsn=dsn)
        self.start_redis()
        airflow = self.airflow_bin()
        t0 = time.monotonic()
        mig = subprocess.run(
            [airflow, "db", "migrate"], env=self.env, capture_output=True, text=True, cwd=self.home
        )
        if mig.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{mig.stdout[-3000:]}\n{mig.stderr[-3000:]}")
        self.timings["db_migrate_s"] = round(time.monotonic() - t0, 1)
        h.log(f"db migrate: {self.timings['db_migrate_s']} s")
        t0 = time.monotonic()
        if not self.is_airflow2:
            self.procs.start("api-server", [airflow, "api-server"], self.env)
        self.start_scheduler()
        if not self.is_airflow2:
            self.procs.start("dag-processor", [airflow, "dag-processor"], self.env)
        self.start_worker("w1")  # case 1 needs the parents on one worker: w2 starts once they wait
        self.wait_ready(t0)
        self.wait_worker("w1")
        self.timings["startup_total_s"] = round(time.monotonic() - t_start, 1)

    def start_scheduler(self) -> None:
        assert self.procs is not None
        self.procs.start("scheduler", [self.airflow_bin(), "scheduler"], self.env)

    # -- workers ---------------------------------------------------------------------------------------
    def worker_log(self, name: str) -> Path:
        return self.home / "proc-logs" / f"{name}.log"

    def start_worker(self, name: str) -> None:
        assert self.procs is not None
        log_file = self.worker_log(name)
        self._log_offsets[name] = log_file.stat().st_size if log_file.exists() else 0
        pid_file = self.home / f"{name}.pid"
        pid_file.unlink(missing_ok=True)  # a SIGKILLed worker leaves its pid file behind
        argv = [self.airflow_bin(), "celery", "worker", "--celery-hostname", f"{name}@localhost"]
        argv += ["--concurrency", str(WORKERS[name]), "--pid", str(pid_file), "--skip-serve-logs"]
        self.procs.start(name, argv, self.env)

    def worker_up(self, name: str) -> bool:
        return self.procs is not None and name in self.procs.procs and self.procs.dead(name) is None

    def wait_worker(self, name: str, timeout: float = 120.0) -> None:
        """Until Celery logs ``<name>@localhost ready.`` for the latest start of this worker."""
        deadline = time.monotonic() + timeout
        needle = f"{name}@localhost ready."
        while True:
            with contextlib.suppress(OSError), self.worker_log(name).open("rb") as fh:
                fh.seek(self._log_offsets.get(name, 0))
                if needle in fh.read().decode(errors="replace"):
                    return
            if self.procs is None or self.procs.dead(name) is not None:
                raise RuntimeError(f"worker {name} exited; see {self.worker_log(name)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {name} not ready after {timeout} s")
            time.sleep(0.3)

    def kill_tree(self, name: str) -> list[int]:
        """SIGKILL a started process's group and every descendant (a lost host); returns the PIDs."""
        assert self.procs is not None
        proc = self.procs.procs[name]
        self.procs.snapshot()
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

    def terminate_worker(self, name: str, grace: float) -> dict[str, Any]:
        """SIGTERM to the worker's main process (warm shutdown); SIGKILL of its tree after ``grace`` s."""
        assert self.procs is not None
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
        killed = self.kill_tree(name) if exited is None else []
        for child in left if exited is not None else []:  # a task process the warm shutdown left behind
            with contextlib.suppress(psutil.Error):
                child.kill()
                killed.append(child.pid)
        return {"exited_after_sigterm_s": exited, "sigkilled_after_grace": killed}

    def owner(self, pid: int | None) -> str | None:
        """Which started process (worker name) has ``pid`` among its descendants."""
        if not pid or self.procs is None:
            return None
        try:
            ancestors = {p.pid for p in psutil.Process(int(pid)).parents()}
        except psutil.Error:
            return None
        for name, proc in self.procs.procs.items():
            if name.startswith("w") and proc.pid in ancestors:
                return name
        return None

    def stop_worker_gracefully(self, name: str) -> None:
        """An idle worker's warm shutdown (between cases), SIGKILL if it does not stop."""
        if self.worker_up(name):
            self.terminate_worker(name, grace=30.0)


# --------------------------------------------------------------------------------------------------------
# Parents and what became of them
# --------------------------------------------------------------------------------------------------------
@dataclass
class ParentResult:
    case: str
    variant: str
    kind: str
    parent_dag_id: str
    parent_run_id: str
    map_indices: list[int]
    child_runs: int = -1
    child_runs_per_index: list[int] = field(default_factory=list)
    child_run_ids: list[str] = field(default_factory=list)
    child_states: list[str] = field(default_factory=list)
    parent_state: str | None = None
    tries_per_index: list[int | None] = field(default_factory=list)
    worker_try1: str | None = None
    worker_retry: str | None = None
    #: executions the workers logged for this parent's task instances (all indices) against its tries
    deliveries: int | None = None
    durable_decisions: list[str] = field(default_factory=list)
    kill_to_reconnect_s: list[float] = field(default_factory=list)  # durable: kill -> retry's decision
    kill_to_retrigger_s: list[float] = field(default_factory=list)  # kill -> a further child run
    #: the child runs' task: tries summed over the child runs (a killed child task retries too)
    child_task_tries: int | None = None
    #: Airflow's "stuck in queued" requeues (a message a killed worker took and never started):
    #: for this parent's task instances, and for its children's
    stuck_in_queued_parent: int | None = None
    stuck_in_queued_child: int | None = None
    final_after_kill_s: float | None = None
    bound_s: float | None = None
    error: str | None = None


def case_id(variant: str, kind: str, n: int) -> str:
    return f"{variant}__{kind}__{n}"


def all_cases(
    shim: bool, variants: tuple[str, ...] = VARIANTS, kinds: tuple[str, ...] = ALL_KINDS
) -> list[str]:
    """Every case id of one session: the three kill cases and the load case's parents."""
    vs = [v for v in variants if shim or v == "stock"]
    cases = [case_id(v, k, 1) for k in KILL_KINDS if k in kinds for v in vs]
    for v in (v for v in LOAD_VARIANTS if v in vs and "load" in kinds):
        cases += [case_id(v, "loadmap", 1)] + [case_id(v, "load", n) for n in range(2, LOAD_PARENTS + 1)]
    return cases


class CeleryRun:
    """Runs the four cases, one after the other, against one CeleryInstance."""

    RECONNECT_EVENTS: ClassVar[dict[str, str]] = h.CaseRunner.RECONNECT_EVENTS

    def __init__(self, inst: CeleryInstance, seed: int = DEFAULT_SEED) -> None:
        assert inst.db is not None and inst.procs is not None
        self.inst = inst
        self.db: h.MetaDB = inst.db
        self.seed = seed
        self.stamp = time.strftime("%H%M%S")
        self.phases: list[dict[str, Any]] = []
        self.parents: list[ParentResult] = []
        self.load: dict[str, Any] = {}

    # -- observation -----------------------------------------------------------------------------------
    def _new_parent(self, case: str) -> ParentResult:
        variant, kind, _ = case.split("__")
        return ParentResult(
            case=case,
            variant=variant,
            kind="load" if kind == "loadmap" else kind,
            parent_dag_id=f"e2e_parent__{case}",
            parent_run_id=f"celery__{case}__{self.stamp}",
            map_indices=[0, 1, 2] if kind == "loadmap" else [-1],
        )

    def _trigger(self, parents: list[ParentResult]) -> float:
        t_wall = time.time()
        self.inst.trigger([(p.parent_dag_id, p.parent_run_id) for p in parents])
        h.log(f"triggered {len(parents)} parent runs")
        return t_wall

    def _children(self, p: ParentResult) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT run_id, state, conf, queued_at FROM dag_run WHERE dag_id=? ORDER BY id",
            (f"e2e_child__{p.case}",),
        )
        out = []
        for run_id, state, conf, queued_at in rows:
            decoded = h._decode_conf(conf)
            marker = decoded.get("e2e_parent_run_id") if isinstance(decoded, dict) else None
            if marker in (None, p.parent_run_id):
                created = queued_at.timestamp() if queued_at is not None else None
                out.append({"run_id": run_id, "state": state, "conf": decoded, "created": created})
        return out

    def _tis(self, p: ParentResult) -> list[dict[str, Any] | None]:
        return [self.db.ti(p.parent_dag_id, p.parent_run_id, map_index=i) for i in p.map_indices]

    def _waiting(self, p: ParentResult) -> bool:
        """Try 1 of every index runs and its child run exists: the parent is mid-wait."""
        kids = self._children(p)
        for i, ti in zip(p.map_indices, self._tis(p), strict=True):
            if not ti or ti["state"] != "running" or ti["try_number"] != 1 or not ti["pid"]:
                return False
            if not [k for k in kids if i < 0 or (k["conf"] or {}).get("item") == i]:
                return False
        return True

    def _running(self, p: ParentResult) -> bool:
        return all(ti and ti["state"] == "running" and ti["pid"] for ti in self._tis(p))

    def _final(self, p: ParentResult) -> bool:
        return self.db.dagrun_state(p.parent_dag_id, p.parent_run_id) in h.FINAL_DAGRUN_STATES

    def _children_final(self, p: ParentResult) -> bool:
        return all(k["state"] in h.FINAL_DAGRUN_STATES for k in self._children(p))

    def _end_time(self, p: ParentResult) -> float | None:
        rows = self.db.query(
            "SELECT end_date FROM dag_run WHERE dag_id=? AND run_id=?", (p.parent_dag_id, p.parent_run_id)
        )
        return rows[0][0].timestamp() if rows and rows[0][0] is not None else None

    def _wait(
        self, what: str, pred: Callable[[], bool], timeout: float, every: float = 0.5, down: str = ""
    ) -> None:
        """Until ``pred()``; fails early when a server dies (except ``down``, stopped on purpose)."""
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            for name in {"scheduler", "redis", "api-server", "dag-processor"} - {down}:
                rc = self.inst.procs.dead(name) if self.inst.procs else None
                if rc is not None:
                    raise RuntimeError(f"{name} exited with {rc}")
            time.sleep(every)

    def _task_log(self, p: ParentResult, index: int, attempt: int) -> str:
        path = self.inst.home / "logs" / f"dag_id={p.parent_dag_id}" / f"run_id={p.parent_run_id}"
        path = path / "task_id=trigger"
        if index >= 0:
            path = path / f"map_index={index}"
        try:
            return (path / f"attempt={attempt}.log").read_text(errors="replace")
        except OSError:
            return ""

    def _polls(self, p: ParentResult) -> list[int]:
        """Per index: the polls of its child run try 1's task log shows."""
        return [h.polls(self._task_log(p, i, 1)) for i in p.map_indices]

    def _wait_polling(
        self, parents: list[ParentResult], n: int, since: dict[str, list[int]] | None = None, down: str = ""
    ) -> None:
        """Until every index of every parent has polled its child ``n`` times (more than ``since``)."""

        def polled(p: ParentResult) -> bool:
            base = (since or {}).get(p.case) or [0] * len(p.map_indices)
            return all(now >= b + n for now, b in zip(self._polls(p), base, strict=True))

        what = f"every parent polling its child ({n} polls)"
        self._wait(what, lambda: all(map(polled, parents)), 120, down=down)

    def _deliveries(self, p: ParentResult) -> int:
        """Task executions the workers logged for this parent run (every try, every index)."""
        count = 0
        for name in WORKERS:
            with contextlib.suppress(OSError):
                for line in self.inst.worker_log(name).read_text(errors="replace").splitlines():
                    if "in Celery:" in line and p.parent_dag_id in line and p.parent_run_id in line:
                        count += 1
        return count

    def _stuck_in_queued(self, dag_id: str) -> int:
        rows = self.db.query(
            "SELECT count(*) FROM log WHERE dag_id=? AND event LIKE ?", (dag_id, "stuck in queued%")
        )
        return int(rows[0][0]) if rows else 0

    def _reaction_times(self, p: ParentResult, kills: list[float]) -> None:
        """Kill -> the retry's durable decision (task log), and kill -> each further child run (DB)."""

        def since_kill(t: float) -> float | None:
            before = [k for k in kills if k <= t]
            return round(t - before[-1], 1) if before else None

        tries = [t or 0 for t in p.tries_per_index]
        for index, n_tries in zip(p.map_indices, tries, strict=True):
            for attempt in range(2, n_tries + 1):
                for line in self._task_log(p, index, attempt).splitlines():
                    event = next((e for e in self.RECONNECT_EVENTS if e in line), None)
                    t = h._log_line_time(line) if event else None
                    if event is None or t is None:
                        continue
                    p.durable_decisions.append(self.RECONNECT_EVENTS[event])
                    if (dt := since_kill(t)) is not None:
                        p.kill_to_reconnect_s.append(dt)
                    break
        kids = self._children(p)
        for index in p.map_indices:
            mine = [k for k in kids if index < 0 or (k["conf"] or {}).get("item") == index]
            for k in mine[1:]:
                if k["created"] is not None and (dt := since_kill(k["created"])) is not None:
                    p.kill_to_retrigger_s.append(dt)

    def _collect(self, p: ParentResult, kills: list[float], t_last_kill: float | None) -> None:
        kids = self._children(p)
        p.child_runs = len(kids)
        p.child_run_ids = [k["run_id"] for k in kids]
        p.child_states = [k["state"] for k in kids]
        p.child_runs_per_index = [
            sum(1 for k in kids if i < 0 or (k["conf"] or {}).get("item") == i) for i in p.map_indices
        ]
        p.parent_state = self.db.dagrun_state(p.parent_dag_id, p.parent_run_id)
        p.tries_per_index = [(ti or {}).get("try_number") for ti in self._tis(p)]
        p.deliveries = self._deliveries(p)
        rows = self.db.query(
            "SELECT sum(try_number) FROM task_instance WHERE dag_id=?", (f"e2e_child__{p.case}",)
        )
        p.child_task_tries = int(rows[0][0]) if rows and rows[0][0] is not None else None
        p.stuck_in_queued_parent = self._stuck_in_queued(p.parent_dag_id)
        p.stuck_in_queued_child = self._stuck_in_queued(f"e2e_child__{p.case}")
        end = self._end_time(p)
        if end is not None and t_last_kill is not None:
            p.final_after_kill_s = round(end - t_last_kill, 1)
        self._reaction_times(p, kills)

    def _watch_retry_workers(self, parents: list[ParentResult], stop: threading.Event) -> None:
        """Record which worker runs each parent's retry (index 0), by its task process's ancestry."""
        while not stop.is_set():
            for p in parents:
                if p.worker_retry is None:
                    ti = self.db.ti(p.parent_dag_id, p.parent_run_id, map_index=p.map_indices[0])
                    if ti and ti["state"] == "running" and (ti["try_number"] or 0) >= 2:
                        p.worker_retry = self.inst.owner(ti["pid"])
            stop.wait(0.5)

    # -- cases 1 and 2: the worker running the waiting parents --------------------------------------
    def case_worker(self, kind: str, victim: str, variants: tuple[str, ...]) -> None:
        other = next(w for w in WORKERS if w != victim)
        inst = self.inst
        for name in WORKERS:  # only the victim may take the parents
            if name != victim:
                inst.stop_worker_gracefully(name)
        if not inst.worker_up(victim):
            inst.start_worker(victim)
        inst.wait_worker(victim)
        parents = [self._new_parent(case_id(v, kind, 1)) for v in variants]
        self.parents += parents
        phase: dict[str, Any] = {"case": kind, "victim": victim, "other": other}
        self._trigger(parents)
        self._wait(
            "every parent of the case running try 1", lambda: all(self._running(p) for p in parents), 180
        )
        inst.start_worker(other)  # takes ~10 s to consume: the parents are on the victim by then
        for p in parents:
            p.worker_try1 = inst.owner((self._tis(p)[0] or {}).get("pid"))
        self._wait(
            "every parent of the case waiting on its child",
            lambda: all(self._waiting(p) for p in parents),
            timeout=180,
        )
        # No wait for the other worker here: the retries come after the heartbeat timeout, by when it
        # consumes; and a SIGTERM must reach the parent early in its wait, or the warm shutdown lets it end.
        self._wait_polling(parents, h.MID_WAIT_POLLS)  # really mid-wait: the task logs show it
        if not all(self._waiting(p) for p in parents):
            raise RuntimeError(f"{kind}: a parent stopped waiting before the kill: {self._tis_all(parents)}")
        not_on_victim = [p.case for p in parents if p.worker_try1 != victim]
        if not_on_victim:
            raise RuntimeError(f"{kind}: parents not on {victim}: {not_on_victim}")
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_retry_workers, args=(parents, stop), daemon=True)
        watcher.start()
        try:
            t_kill = time.time()
            if kind == "sigkill":
                phase["killed_pids"] = inst.kill_tree(victim)
                h.log(f"{kind}: SIGKILLed worker {victim} (pids {phase['killed_pids']})")
            else:
                phase |= inst.terminate_worker(victim, TERM_GRACE_S)
                h.log(f"{kind}: SIGTERM to worker {victim}: {phase}")
            phase["t_kill"] = t_kill
            bound = no_hang_bound(CHILD_SLEEP_S, inst.is_airflow2) + (
                TERM_GRACE_S if kind == "sigterm" else 0.0
            )
            self._wait(
                "every retry running or the parent final",
                lambda: all(p.worker_retry or self._final(p) for p in parents),
                timeout=bound + 60,
            )
            inst.wait_worker(other)
            inst.start_worker(victim)
            self._wait(
                "every parent and child run final",
                lambda: all(self._final(p) and self._children_final(p) for p in parents),
                timeout=bound + 120,
            )
        finally:
            stop.set()
            watcher.join()
        inst.wait_worker(victim)
        phase["redis_unacked_after"] = inst.redis_unacked()
        for p in parents:
            p.bound_s = bound
            self._collect(p, [t_kill], t_kill)
        self.phases.append(phase)

    def _tis_all(self, parents: list[ParentResult]) -> dict[str, Any]:
        return {p.case: self._tis(p) for p in parents}

    # -- case 3: the scheduler -------------------------------------------------------------------------
    def case_scheduler(self, variants: tuple[str, ...]) -> None:
        inst = self.inst
        for name in WORKERS:
            if not inst.worker_up(name):
                inst.start_worker(name)
            inst.wait_worker(name)
        parents = [self._new_parent(case_id(v, "schedkill", 1)) for v in variants]
        self.parents += parents
        self._trigger(parents)
        self._wait("every parent waiting", lambda: all(self._waiting(p) for p in parents), timeout=180)
        self._wait_polling(parents, h.MID_WAIT_POLLS)
        for p in parents:
            p.worker_try1 = inst.owner((self._tis(p)[0] or {}).get("pid"))
        t_kill = time.time()
        before = {p.case: self._polls(p) for p in parents}
        killed = inst.kill_tree("scheduler")
        h.log(f"schedkill: SIGKILLed the scheduler (pids {killed}); it stays down until every parent polled")
        # Down until every parent has polled its child SCHEDULER_DOWN_POLLS more times without it (the
        # waits go on with no scheduler): what the task logs show, not a guessed duration.
        self._wait_polling(parents, SCHEDULER_DOWN_POLLS, since=before, down="scheduler")
        phase_down_s = round(time.time() - t_kill, 1)
        inst.start_scheduler()
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_retry_workers, args=(parents, stop), daemon=True)
        watcher.start()
        bound = no_hang_bound(CHILD_SLEEP_S, inst.is_airflow2)
        try:
            self._wait(
                "every parent and child run final",
                lambda: all(self._final(p) and self._children_final(p) for p in parents),
                timeout=bound + 120,
            )
        finally:
            stop.set()
            watcher.join()
        for p in parents:
            p.bound_s = bound
            self._collect(p, [t_kill], t_kill)
        self.phases.append(
            {
                "case": "schedkill",
                "t_kill": t_kill,
                "killed_pids": killed,
                "scheduler_down_s": phase_down_s,
                "redis_unacked_after": inst.redis_unacked(),
            }
        )

    # -- case 4: load with faults ----------------------------------------------------------------------
    def fault_schedule(self) -> list[tuple[float, str]]:
        """Seeded: (seconds after the trigger, worker) every 10-20 s within the two-minute window."""
        rng = random.Random(self.seed)
        out: list[tuple[float, str]] = []
        t = 0.0
        while True:
            t += rng.uniform(*LOAD_KILL_EVERY_S)
            if t > LOAD_WINDOW_S:
                return out
            out.append((round(t, 1), rng.choice(sorted(WORKERS))))

    def case_load(self, variants: tuple[str, ...]) -> None:
        inst = self.inst
        for name in WORKERS:
            if not inst.worker_up(name):
                inst.start_worker(name)
            inst.wait_worker(name)
        parents = []
        for v in variants:
            parents.append(self._new_parent(case_id(v, "loadmap", 1)))
            parents += [self._new_parent(case_id(v, "load", n)) for n in range(2, LOAD_PARENTS + 1)]
        self.parents += parents
        schedule = self.fault_schedule()
        t0 = time.monotonic()
        t_trigger = self._trigger(parents)
        kills: list[float] = []
        done: list[dict[str, Any]] = []
        for at, worker in schedule:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            kills.append(time.time())
            pids = inst.kill_tree(worker) if inst.worker_up(worker) else []
            inst.start_worker(worker)  # restarted at once
            done.append({"t": round(kills[-1] - t_trigger, 1), "worker": worker, "killed_pids": len(pids)})
            h.log(f"load: t+{done[-1]['t']} s SIGKILLed {worker} ({len(pids)} processes), restarting it")
        bound = no_hang_bound(LOAD_CHILD_SLEEP_S, inst.is_airflow2)
        self._wait(
            "every load parent and child run final",
            lambda: all(self._final(p) and self._children_final(p) for p in parents),
            timeout=bound + 180,
            every=1.0,
        )
        t_last = kills[-1] if kills else t_trigger
        for p in parents:
            p.bound_s = bound
            self._collect(p, kills, t_last)
        for name in WORKERS:
            inst.wait_worker(name)
        self.load = {
            "seed": self.seed,
            "window_s": LOAD_WINDOW_S,
            "kills": done,
            "throughput_per_min": {v: self._throughput(v, parents, t_trigger) for v in variants},
            "median_parent_duration_s": {v: self._median_duration(v, parents, t_trigger) for v in variants},
            "stuck_in_queued_requeues": {
                v: sum(
                    (p.stuck_in_queued_parent or 0) + (p.stuck_in_queued_child or 0)
                    for p in parents
                    if p.variant == v
                )
                for v in variants
            },
            "child_runs": {v: sum(p.child_runs for p in parents if p.variant == v) for v in variants},
            "redis_unacked_after": inst.redis_unacked(),
        }
        tp = self.load["throughput_per_min"]
        if tp.get("stock") and tp.get("shim_durable"):
            self.load["ratio_durable_over_stock"] = round(tp["shim_durable"] / tp["stock"], 3)

    def _median_duration(self, variant: str, parents: list[ParentResult], t_trigger: float) -> float | None:
        ends = [self._end_time(p) for p in parents if p.variant == variant]
        return _median([e - t_trigger for e in ends if e is not None])

    def _throughput(self, variant: str, parents: list[ParentResult], t_trigger: float) -> float | None:
        """Parents of ``variant`` finished per minute, from the trigger to the last of them finishing."""
        ends = [self._end_time(p) for p in parents if p.variant == variant]
        if not ends or any(e is None for e in ends):
            return None
        minutes = (max(e for e in ends if e is not None) - t_trigger) / 60.0
        return round(len(ends) / minutes, 2)

    def run(self, variants: tuple[str, ...], kinds: tuple[str, ...] = ALL_KINDS) -> None:
        steps: dict[str, Callable[[], None]] = {
            "sigkill": lambda: self.case_worker("sigkill", "w1", variants),
            "sigterm": lambda: self.case_worker("sigterm", "w2", variants),
            "schedkill": lambda: self.case_scheduler(variants),
            "load": lambda: self.case_load(tuple(v for v in LOAD_VARIANTS if v in variants)),
        }
        for kind in (k for k in ALL_KINDS if k in kinds):
            t0 = time.monotonic()
            steps[kind]()
            self.inst.timings[f"case_{kind}_s"] = round(time.monotonic() - t0, 1)


# --------------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------------
def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def summarize(parents: list[ParentResult]) -> list[dict[str, Any]]:
    """One row per (case, variant): child runs per parent (per map index), final state/try, medians."""
    rows = []
    for kind in (*KILL_KINDS, "load"):
        for variant in VARIANTS:
            group = [p for p in parents if p.kind == kind and p.variant == variant]
            if not group:
                continue
            per_index = [n for p in group for n in p.child_runs_per_index]
            tries = [t for p in group for t in p.tries_per_index if t is not None]
            states = sorted({p.parent_state or "?" for p in group})
            rows.append(
                {
                    "case": kind,
                    "variant": variant,
                    "parents": len(group),
                    "task_instances": len(per_index),
                    "child_runs_per_ti": per_index,
                    "ti_with_duplicates": sum(1 for n in per_index if n > 1),
                    "parent_states": states,
                    "max_try": max(tries) if tries else None,
                    "tries": tries,
                    "worker_try1": sorted({p.worker_try1 or "-" for p in group}),
                    "worker_retry": sorted({p.worker_retry or "-" for p in group}),
                    "kill_to_reconnect_median_s": _median([x for p in group for x in p.kill_to_reconnect_s]),
                    "kill_to_retrigger_median_s": _median([x for p in group for x in p.kill_to_retrigger_s]),
                    "final_after_kill_max_s": max(
                        (p.final_after_kill_s for p in group if p.final_after_kill_s is not None),
                        default=None,
                    ),
                    "bound_s": group[0].bound_s,
                    "deliveries": sum(p.deliveries or 0 for p in group),
                    "child_task_tries": sum(p.child_task_tries or 0 for p in group),
                    "stuck_in_queued": sum(
                        (p.stuck_in_queued_parent or 0) + (p.stuck_in_queued_child or 0) for p in group
                    ),
                    "errors": [p.error for p in group if p.error],
                }
            )
    return rows


@contextlib.contextmanager
def running_celery(minor: str, cases: list[str], keep_home: bool = False) -> Iterator[CeleryInstance]:
    with h.running_airflow(minor, cases, keep_home=keep_home, factory=CeleryInstance) as inst:
        assert isinstance(inst, CeleryInstance)
        yield inst


def run_version(
    minor: str,
    out: Path | None = None,
    keep_home: bool = False,
    variants: tuple[str, ...] = VARIANTS,
    seed: int = DEFAULT_SEED,
    kinds: tuple[str, ...] = ALL_KINDS,
) -> dict[str, Any]:
    t0 = time.monotonic()
    version = h.airflow_version(sys.executable)
    shim = h.shim_installed(sys.executable)
    variants = tuple(v for v in variants if shim or v == "stock")
    cases = all_cases(shim, variants, kinds)
    h.log(f"Airflow {version} on Celery: {len(cases)} parent DAGs")
    error = None
    with running_celery(minor, cases, keep_home=keep_home) as inst:
        run = CeleryRun(inst, seed=seed)
        try:
            run.run(variants, kinds)
        except Exception as exc:  # reported with what ran so far, and the test fails on it
            error = f"{type(exc).__name__}: {exc}"
            h.log(f"ERROR {error}")
            keep_home = True
        timings = dict(inst.timings)
        home = str(inst.home)
    timings["version_total_s"] = round(time.monotonic() - t0, 1)
    rows = summarize(run.parents)
    report = {
        "airflow_minor": minor,
        "airflow_version": version,
        "shim_installed": shim,
        "executor": "CeleryExecutor",
        "workers": WORKERS,
        "error": error,
        "airflow_home_kept": home if error else None,
        "timings": timings,
        "settings": {
            "child_sleep_s": CHILD_SLEEP_S,
            "load_child_sleep_s": LOAD_CHILD_SLEEP_S,
            "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
            "retry_delay_s": RETRY_DELAY_S,
            "term_grace_s": TERM_GRACE_S,
        },
        "summary": rows,
        "phases": run.phases,
        "load": run.load,
        "parents": [asdict(p) for p in run.parents],
    }
    fields = {
        "suite": "live",
        "run": "celery",
        "airflow": version,
        "environment": {
            "python": sys.version.split()[0],
            "package": "airflow_trigger_compat" if shim else None,
            "provider_standard": h.schema.installed("apache-airflow-providers-standard"),
            "executor": "CeleryExecutor",
            "strategy": None,
        },
        "exitstatus": 1 if error else 0,
        "error": error,
        "duration_s": timings["version_total_s"],
        "timings": timings,
        "summary": {"groups": rows, "load": run.load},
        "rows": [{"kill": p["kind"], **p} for p in report["parents"]],
        "details": {
            k: report[k] for k in ("airflow_minor", "workers", "airflow_home_kept", "settings", "phases")
        },
    }
    doc = h.schema.write(out, **fields) if out is not None else h.schema.document(**fields)
    print(h.schema.run_table(doc), flush=True)
    print(f"timings: {json.dumps(timings)}", flush=True)
    if out is not None:
        h.log(f"wrote {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--airflow", required=True, help="Airflow minor under test, e.g. 3.3")
    p.add_argument("--out", type=Path, default=None, help="JSON output (default results/celery-<minor>.json)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the load case's kill schedule")
    p.add_argument("--cases", default=",".join(ALL_KINDS), help="comma list of: " + ", ".join(ALL_KINDS))
    p.add_argument("--keep-home", action="store_true", help="keep the temp AIRFLOW_HOME (logs)")
    a = p.parse_args(argv)
    out = a.out or h.REPO / "results" / f"celery-{a.airflow}.json"
    kinds = tuple(k for k in a.cases.split(",") if k)
    report = run_version(a.airflow, out, keep_home=a.keep_home, seed=a.seed, kinds=kinds)
    return 1 if report["error"] else 0


if __name__ == "__main__":
    sys.exit(main())

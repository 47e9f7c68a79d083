"""The crash cases on LocalExecutor: every case at once against one scheduler, one thread each.

Kinds (case ids ``<variant>__<kind>__<n>``, the DAG file's): ``midwait`` kills the task process while it
polls its child run; ``workerkill`` its supervisor too (the whole worker); ``winbefore`` / ``winafter``
kill it in a window once the run_id is kept and before the trigger, or right after the trigger (the DAG
file's); ``doublekill`` kills try 1 and try 2 mid-wait (retries=2): with durable=True, try 1 while the
task runner waits (3.x; 2.11: the operator) and try 2 while the reconnected try waits inside execute();
``mapped``: indices 0 and 1 of 3 mid-wait. No kill: ``childfail`` (the child fails on its first run
only), ``clearwait`` (the task is cleared while it waits), ``clear`` (cleared after success),
``recreate`` (the parent run deleted and triggered again under its run_id).

Which PID is killed: the task instance's ``pid`` column. On 3.x the LocalExecutor worker runs the
supervisor, which forks the task process and reports *that* child's PID to the execution API
(``ti.pid``); on 2.11 ``airflow tasks run`` (LocalTaskJob) forks the ``--raw`` process, which writes its
own PID to ``ti.pid``. That is the process running ``execute()`` and the operator's wait loop: the
worker dying mid-wait. Its parent (supervisor / LocalTaskJob) notices a SIGKILL at once and fails the
try -> ``up_for_retry`` -> try 2.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil
from harness import (
    FINAL_DAGRUN_STATES,
    MID_WAIT_POLLS,
    SHIM_OPERATOR,
    Instance,
    Run,
    log,
    polls,
)


def child_seconds(release: str, kind: str) -> float:
    """How long a case's child run lasts at most: its case releases it (``Run.release``) once the try it
    waits for polls it, so a retry always finds it running. But 3.0.0-3.0.5's LocalExecutor starts a task
    only while fewer run than wait (apache/airflow#54523, fixed in 3.0.6): with every worker held by a
    waiting task, a retry after a whole-worker kill would never start. There a child ends on its own, after
    the heartbeat timeout that brings its retry (two for ``doublekill``)."""
    # the release tuple: "3.4.0b2" is (3, 4, 0)
    if (3, 0) <= tuple(int(re.match(r"\d+", x).group()) for x in release.split(".")[:3]) < (3, 0, 6):  # type: ignore[union-attr]
        return 80.0 if kind == "doublekill" else 40.0
    return 300.0


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
    "the whole worker (supervisor and task process, the retry after the heartbeat timeout) is killed on "
    "3.x; on 2.11 midwait covers the retry (a zombie detection)"
)
_NODUR_WORKERKILL = (
    "durable=False's whole worker is killed only where the task process alone is not retried (3.0): "
    "elsewhere it is stock's path, and midwait covers its retry"
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
    (("shim_nodur",), "workerkill", (2, 11), (3, 0), _NODUR_WORKERKILL),
    (("shim_nodur",), "workerkill", (3, 1), (99, 0), _NODUR_WORKERKILL),
    (_ALL, "clearwait", (3, 0), (3, 1),
     "on 3.0 a task cleared while running (RESTARTING) did not start its next try within 300 s, with stock "
     "as with the shim (seen on 3.0.6)"),
)  # fmt: skip


#: Declared absences of one pre-release: (variants, kind, release, reason). Keyed by the release, not the
#: minor, so that the next pre-release or the final release runs the case again and shows whether Airflow
#: fixed it (delete the line then).
NOT_RUN_ON_RELEASE: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (_ALL, "clearwait", "3.4.0b2",
     "Airflow 3.4.0b2's scheduler loop dies when a task cleared while running (RESTARTING) reaches its "
     "heartbeat timeout: TaskInstance.complete_restart -> prepare_db_for_next_try inserts the next try's "
     "row while the cleared one is still current (UniqueViolation on task_instance_current_key), and "
     "every other case's child runs then stay running; with stock alone as with the shim (seen twice)"),
)  # fmt: skip


def _installed_airflow() -> str | None:
    try:
        return importlib.metadata.version("apache-airflow")
    except importlib.metadata.PackageNotFoundError:
        return None


def not_run_reason(minor: str, variant: str, kind: str) -> str | None:
    """Why ``variant``'s ``kind`` case does not run on this minor (``NOT_RUN``), or on the installed
    pre-release (``NOT_RUN_ON_RELEASE``), or None if it does."""
    release = _installed_airflow()
    for variants, k, on, reason in NOT_RUN_ON_RELEASE:
        if k == kind and variant in variants and on == release:
            return reason
    version = tuple(int(x) for x in minor.split("."))
    for variants, k, low, high, reason in NOT_RUN:
        if k == kind and variant in variants and low <= version < high:
            return reason
    return None


def groups(shim: bool = True) -> list[tuple[str, str]]:
    """Every (variant, kind) some version runs: a test each, skipped with its reason where it does not."""
    return [(v, k) for v in (_ALL if shim else _ALL[:1]) for k in KINDS[v]]


def cases(minor: str, shim: bool, repeats: int = 3) -> dict[str, float]:
    """The cases for one version, all run at once against its one scheduler, and how long each child run
    lasts at most: every (variant, kind) ``NOT_RUN`` does not exclude; durable's retry kill and its windows
    ``repeats`` times."""
    version = tuple(int(x) for x in minor.split("."))
    retry_kill = "workerkill" if version == (3, 0) else "midwait"
    repeated = {retry_kill, *(["winbefore", "winafter"] if version >= (3, 3) else [])}
    release = importlib.metadata.version("apache-airflow")
    out: dict[str, float] = {}
    for variant, kind in groups(shim):
        if not_run_reason(minor, variant, kind) is None:
            n = repeats if variant == "shim_durable" and kind in repeated else 1
            out |= {f"{variant}__{kind}__{i}": child_seconds(release, kind) for i in range(1, n + 1)}
    return out


def absences(minor: str, selected: list[tuple[str, str]] | None = None) -> list[dict[str, str]]:
    """The declared absences among ``selected`` groups (default: all), for the results JSON."""
    return [
        {"variant": v, "kill": k, "reason": reason}
        for v, k in (selected if selected is not None else groups())
        if (reason := not_run_reason(minor, v, k)) is not None
    ]


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
    try_number: int | None = None
    killed_pid: int | None = None
    window_child_run_id: str | None = None
    child_runs_at_kill: int | None = None
    kill_to_try2_running_s: float | None = None
    kill_to_new_child_s: float | None = None
    kill_to_reconnect_s: float | None = None
    case_duration_s: float | None = None
    durable_warning_logged: bool | None = None
    kill_whole_worker: bool = False
    max_tries_before_clear: int | None = None
    max_tries_after_clear: int | None = None
    #: mapped: child runs per map index, and each index's try number
    children_per_index: list[int] = field(default_factory=list)
    tries_per_index: list[int | None] = field(default_factory=list)
    durable_decision: str | None = None
    #: 2.11: "Detected zombie job" lines for this parent run (one per kill; more is apache/airflow#42553)
    zombie_detections: int | None = None
    #: the last try's task log, kept when the parent did not succeed
    last_try_log_tail: list[str] = field(default_factory=list)
    #: try 1's task log (map index 0 when mapped): how many lines show each of TRY_LOG_MARKERS
    try1_log: dict[str, int] = field(default_factory=dict)
    error: str | None = None


#: Who triggered and who waited, as a try's task log shows it: the operator's own poll (a wait inside
#: execute(): TaskPort.log_waiting), the task runner's (stock's path: after DagRunTriggerException).
TRY_LOG_MARKERS = {
    "operator_polls": "to reach an allowed state",
    "runner_polls": "Waiting for dag run to complete execution",
    "DagRunTriggerException": "DagRunTriggerException",
}


class CaseRunner(Run):
    """One case: waits for its moment in what Airflow shows, acts (kill, clear, recreate), then observes."""

    def __init__(self, inst: Instance, case: str, run_id: str, timeout: float = 300.0) -> None:
        variant, kill, _ = case.split("__")
        super().__init__(inst, case, run_id, mapped=kill == "mapped")
        self.res = CaseResult(case, variant, kill, self.dag_id, run_id)
        self.deadline = time.monotonic() + timeout
        self.killed = [0, 1] if kill == "mapped" else [-1]  # the map indices the case kills
        self.t_act = (time.time(), time.monotonic())
        # Airflow 3.0 retries a killed task only when its whole worker is gone (see cases())
        self.res.kill_whole_worker = kill == "workerkill" or (
            kill in ("doublekill", "mapped", "winafter", "winbefore") and inst.minor == "3.0"
        )

    def _wait(self, what: str, pred: Any, every: float = 0.25) -> Any:
        return self.inst.wait(f"{self.case}: {what}", pred, self.deadline - time.monotonic(), every)

    def _mid_wait(self, attempt: int, index: int = -1) -> None:
        """Until the try's task log shows it polling its child run (``MID_WAIT_POLLS`` polls)."""
        what = f"try {attempt} polling its child run (index {index})"
        self._wait(what, lambda: polls(self.task_log(attempt, index)) >= MID_WAIT_POLLS)

    def _mark(self) -> None:
        """The moment of the case's act (its first kill, the clear, the delete): what its times count from."""
        self.t_act = (time.time(), time.monotonic())
        self.res.child_runs_at_kill = len(self.children())

    def _kill_try(self, attempt: int) -> None:
        """SIGKILL try ``attempt`` (of indices 0 and 1 of the mapped parent, together) at the case's moment:
        once its task log shows it waiting, or (window cases) once the DAG file's marker exists."""
        r = self.res
        want = {"state": "running", "try_number": attempt, "pid": True}
        for i in self.killed:
            new = lambda i=i: (t := self.ti_is(want, i)) and t["pid"] != r.killed_pid  # noqa: E731
            self._wait(f"try {attempt} running (index {i})", new)
        seam_pid = None
        if r.kill in ("winbefore", "winafter"):
            marker = self.inst.marker_dir / f"{self.dag_id}.window.1.json"
            self._wait(f"window marker {marker.name}", marker.exists, every=0.1)
            payload = json.loads(marker.read_text())
            seam_pid, r.window_child_run_id = payload["pid"], payload.get("child_run_id")
        else:
            for i in self.killed:
                self._wait(f"try {attempt}'s child run (index {i})", lambda i=i: self.children(i))
                self._mid_wait(attempt, i)  # past the trigger (or the reconnect), into the wait
        pids = []
        for i in self.killed:
            ti = self.ti_is({"state": "running", "try_number": attempt}, i)
            if ti is None:
                raise RuntimeError(
                    f"{r.case}: index {i} no longer running try {attempt} at the kill: {self.ti(i)}"
                )
            if seam_pid is not None and seam_pid != ti["pid"]:
                raise RuntimeError(f"{r.case}: ti.pid {ti['pid']} != pid that hit the seam {seam_pid}")
            pids.append(int(ti["pid"]))
            self._kill(pids[-1], r.kill_whole_worker)
        if attempt == 1:
            r.killed_pid = pids[0]
            self._mark()
        what = "the whole worker" if r.kill_whole_worker else "the task process"
        log(f"{r.case}: SIGKILL of {what}, try {attempt}, indices {self.killed}")

    def _kill(self, pid: int, whole_worker: bool) -> None:
        procs = self.inst.procs
        if not procs.is_ours(pid):
            raise RuntimeError(f"{self.case}: pid {pid} is not a descendant of our scheduler; not killing it")
        procs.snapshot()
        if whole_worker:
            # the whole worker: the supervisor (ti.pid's parent) first, so nothing reports the
            # task's end; the TI stays "running" until the scheduler's heartbeat timeout
            parent = psutil.Process(pid).parent()
            if parent is None or not procs.is_ours(parent.pid):
                raise RuntimeError(f"{self.case}: parent of pid {pid} is not ours; not killing it")
            os.kill(parent.pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)

    def _clear(self, what: str) -> None:
        """Clear the parent's task as a user would (REST API on 3.x, the CLI on 2.11); max_tries before it."""
        r = self.res
        r.max_tries_before_clear = (self.ti() or {}).get("max_tries")
        self._mark()
        if self.inst.is_airflow2:
            sql = "SELECT execution_date FROM dag_run WHERE dag_id=? AND run_id=?"
            when = self.db.one(sql, (self.dag_id, self.run_id)).isoformat()
            argv = ["tasks", "clear", "-t", "^trigger$", "-s", when, "-e", when, "-y", self.dag_id]
            self.inst.run(f"{r.case}: airflow tasks clear", [self.inst.airflow_bin(), *argv])
        else:
            body = {
                "dry_run": False,
                "task_ids": ["trigger"],
                "dag_run_id": self.run_id,
                "only_failed": False,
            }
            cleared = self._rest(
                "POST", f"/api/v2/dags/{self.dag_id}/clearTaskInstances", body | {"reset_dag_runs": True}
            )
            if not cleared.get("task_instances"):
                raise RuntimeError(f"{r.case}: the REST API cleared nothing: {cleared}")
        log(f"{r.case}: cleared the task {what} (child runs so far: {r.child_runs_at_kill})")

    def _recreate(self) -> None:
        """Delete the parent's DAG run (REST API on 3.x, the ORM on 2.11), then trigger the same run_id."""
        self._mark()
        if self.inst.is_airflow2:
            code = (
                "from airflow.models.dagrun import DagRun\n"
                "from airflow.utils.session import create_session\n"
                "with create_session() as session:\n"
                f"    session.query(DagRun).filter_by(dag_id={self.dag_id!r}, run_id={self.run_id!r})"
                ".delete()\n"
            )
            self.inst.call(f"{self.case}: deleting the parent run", code)
        else:
            self._rest("DELETE", f"/api/v2/dags/{self.dag_id}/dagRuns/{self.run_id}")
        # A new process, as before the client process existed: the run is recreated seconds after the
        # delete, not at once (at once, once in three runs on 3.3.2, the new run's try 1 failed after
        # triggering its child and try 2 reconnected to it; not seen seconds later).
        self.inst.trigger([(self.dag_id, self.run_id)], fresh=True)
        log(f"{self.case}: deleted the parent run and triggered it again")

    def _rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call Airflow 3's REST API as a user would (a token from /auth/token); a 5xx is retried."""
        base = self.inst.env["AIRFLOW__API__BASE_URL"]
        with urllib.request.urlopen(f"{base}/auth/token", timeout=10) as resp:
            token = json.loads(resp.read())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(6):
            try:
                request = urllib.request.Request(base + path, data, headers, method=method)
                with urllib.request.urlopen(request, timeout=30) as resp:
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as err:
                detail = err.read()[:300]
                if err.code < 500 or attempt == 5:
                    raise RuntimeError(f"{self.case}: {method} {path}: HTTP {err.code} {detail!r}") from err
                log(f"{self.case}: {method} {path} answered HTTP {err.code} {detail!r}; retrying")
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def _act(self) -> int:
        """Kill, clear or recreate at the case's moment; the try whose polls let the child runs end."""
        r = self.res
        if r.kill == "childfail":
            self._mark()
            return 2
        if r.kill == "clearwait":  # a user's clear while the task waits on its running child
            self._mid_wait(1)
            self._clear("while it waits")
            self._wait("the cleared task's next try", lambda: ((self.ti() or {}).get("try_number") or 0) >= 2)
            r.max_tries_after_clear = (self.ti() or {}).get("max_tries")
        elif r.kill in ("clear", "recreate"):  # the first run ends, then a user clears or recreates it
            self._wait("try 1 polling", lambda: polls(self.task_log(1)) >= 1)
            self.release()
            first = self._wait("the first run to finish", lambda: self.final() and self.state())
            if first != "success":
                raise RuntimeError(f"{r.case}: the parent run ended {first} before the clear: {self.ti()}")
            if r.kill == "recreate":
                self._recreate()
                return 1
            self._clear("after success")
            self._wait(
                "the cleared task to rerun", lambda: (t := self.ti()) and t["state"] != "success", every=0.1
            )
        else:
            self._kill_try(1)
            if r.kill == "doublekill":
                self._kill_try(2)
                return 3
        return 2

    def run(self) -> CaseResult:
        r = self.res
        t_case = time.monotonic()
        try:
            last_try = self._act()
            (t_kill_wall, t_kill), kids, released = self.t_act, r.child_runs_at_kill or 0, False
            while (final := self.state()) not in FINAL_DAGRUN_STATES:
                if time.monotonic() > self.deadline:
                    raise TimeoutError(f"{r.case}: parent run did not finish")
                now = time.monotonic() - t_kill
                t = self.ti() or {}
                try2 = (t.get("try_number") or 0) >= 2 and t.get("state") in ("running", "success", "failed")
                if r.kill_to_try2_running_s is None and try2:
                    r.kill_to_try2_running_s = round(now, 1)
                if r.kill_to_new_child_s is None and len(self.children()) > kids:
                    r.kill_to_new_child_s = round(now, 1)
                if not released and all(polls(self.task_log(last_try, i)) for i in self.killed):
                    self.release()  # the try the case waits for is waiting on its child: it may end now
                    released = True
                time.sleep(0.25)
            self._observe(final, t_kill_wall)
        except Exception as exc:
            r.error = f"{type(exc).__name__}: {exc}"
            log(f"{r.case}: ERROR {r.error}")
        finally:
            self.release()
        r.case_duration_s = round(time.monotonic() - t_case, 1)
        what = f"parent {r.parent_state} (try {r.try_number}) in {r.case_duration_s} s"
        log(f"{r.case}: {r.child_runs} child run(s), {what}")
        return r

    def _observe(self, final: str | None, t_kill_wall: float) -> None:
        """What became of the parent run: its state and tries, its child runs, the durable decision, logs."""
        r = self.res
        r.parent_state, index = final, 0 if r.kill == "mapped" else -1
        r.try_number = (self.ti(index) or {}).get("try_number")
        kids = self.children()
        if r.kill == "mapped":
            r.children_per_index = [len(self.children(i)) for i in range(3)]
            r.tries_per_index = [(self.ti(i) or {}).get("try_number") for i in range(3)]
        r.child_runs = len(kids)
        r.child_run_ids = [k["run_id"] for k in kids]
        r.child_states = [k["state"] for k in kids]
        if decision := self.durable_decision(2, index):
            r.durable_decision, r.kill_to_reconnect_s = decision[0], round(decision[1] - t_kill_wall, 1)
        if self.inst.is_airflow2:
            text = (self.inst.home / "proc-logs" / "scheduler.log").read_text(errors="replace")
            needle = f"'Run Id': '{self.run_id}'"
            r.zombie_detections = sum(
                1 for x in text.splitlines() if "Detected zombie job" in x and needle in x
            )
        if r.parent_state != "success":
            r.last_try_log_tail = self.task_log(r.try_number or 1, index).splitlines()[-15:]
        lines = self.task_log(1, index).splitlines()
        r.try1_log = {k: sum(1 for x in lines if marker in x) for k, marker in TRY_LOG_MARKERS.items()}
        if r.variant == "shim_durable":
            r.durable_warning_logged = any(
                "DurableUnavailableWarning" in text or "durable=True has no effect" in text
                for text in (self.task_log(1, index), self.task_log(2, index))
            )


def run(inst: Instance, cases: list[str], not_run: list[dict[str, str]], **_: Any) -> dict[str, Any]:
    """Trigger every case's parent run at once, run each case in a thread; the report's fields."""
    stamp = time.strftime("%H%M%S")
    runners = [CaseRunner(inst, c, f"e2e__{c}__{stamp}") for c in cases]
    t0 = time.monotonic()
    inst.trigger([(r.dag_id, r.run_id) for r in runners])
    log(f"triggered {len(runners)} parent runs in {time.monotonic() - t0:.1f} s")
    results = run_all(inst, runners, lambda: None, every=1.0)
    inst.timings["cases_wall_s"] = round(time.monotonic() - t0, 1)
    return {"shim_operator": SHIM_OPERATOR, "cases": [asdict(r) for r in results], "not_run": not_run}


def run_all(
    inst: Instance, runners: list[CaseRunner], tick: Callable[[], None], every: float
) -> list[CaseResult]:
    """Run the cases, each in a thread; meanwhile note every task process (it is ours before a runner
    kills it) and ``tick()`` every ``every`` s."""
    results: dict[int, CaseResult] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.update({i: runners[i].run()}))
        for i in range(len(runners))
    ]
    for th in threads:
        th.daemon = True
        th.start()
    while any(th.is_alive() for th in threads):
        inst.procs.snapshot()
        tick()
        time.sleep(every)
    return [results[i] for i in sorted(results)]

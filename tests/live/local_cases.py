"""The crash cases on LocalExecutor: every case at once against one scheduler, one thread each.

Which PID is killed: the task instance's ``pid`` column. On 3.x the LocalExecutor worker runs the
supervisor, which forks the task process and reports *that* child's PID to the execution API
(``ti.pid``); on 2.11 ``airflow tasks run`` (LocalTaskJob) forks the ``--raw`` process, which writes its
own PID to ``ti.pid``. That is the process running ``execute()`` and the operator's wait loop: the
worker dying mid-wait. Its parent (supervisor / LocalTaskJob) notices a SIGKILL at once and fails the
try -> ``up_for_retry`` -> try 2. Case ids and what each kind does: the DAG file (dags/live_dags.py).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil
from harness import (
    FINAL_DAGRUN_STATES,
    MID_WAIT_POLLS,
    SHIM_OPERATOR,
    VARIANT_LABEL,
    Instance,
    Run,
    fmt,
    log,
    polls,
    table,
)

ENV: dict[str, str] = {}  # the DAG file's defaults serve these cases
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
#: as ``not_run``, and scripts/crash_table.py as "not run here".
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


def cases(minor: str, shim: bool, repeats: int = 3, only: list[str] | None = None, **_: Any) -> list[str]:
    """The cases for one version (``only``: those of them), all run concurrently against its one scheduler.

    ``midwait`` kills the task process (``ti.pid``); ``workerkill`` the supervisor and the task process
    (the TI stays ``running`` until the heartbeat timeout; on 3.0 ``doublekill`` and ``mapped`` kill that
    way too). Which kinds a version lacks, and why, is ``NOT_RUN``. Durable's retry kill (``workerkill``
    on 3.0, ``midwait`` elsewhere) and its windows where there is a store run ``repeats`` times.
    """
    version = tuple(int(x) for x in minor.split("."))
    retry_kill = "workerkill" if version == (3, 0) else "midwait"
    repeated = {retry_kill, "winbefore", *(["winafter"] if version >= (3, 3) else [])}
    out = []
    for variant, kind in groups(shim):
        if not_run_reason(minor, variant, kind) is None:
            n = repeats if variant == "shim_durable" and kind in repeated else 1
            out += [f"{variant}__{kind}__{i}" for i in range(1, n + 1)]
    return [c for c in out if only is None or c in only]


def absences(minor: str, selected: list[tuple[str, str]] | None = None) -> list[dict[str, str]]:
    """The declared absences among ``selected`` groups (default: all), for the results JSON."""
    return [
        {"variant": v, "kill": k, "reason": reason}
        for v, k in (selected if selected is not None else groups())
        if (reason := not_run_reason(minor, v, k)) is not None
    ]


def retry_expected(minor: str, kill: str) -> bool:
    """Whether the kill should lead to a try 2 on this Airflow (see :func:`cases`)."""
    return not (minor == "3.0" and kill == "midwait")


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


class CaseRunner(Run):
    """One case: waits for its moment in what Airflow shows, acts (kill, clear, recreate), then observes."""

    def __init__(self, inst: Instance, case: str, run_id: str, timeout: float = 300.0) -> None:
        variant, kill, _ = case.split("__")
        super().__init__(inst, case, run_id, mapped=kill == "mapped")
        self.res = CaseResult(case, variant, kill, self.dag_id, run_id)
        self.deadline = time.monotonic() + timeout
        # Airflow 3.0 retries a killed task only when its whole worker is gone (see cases())
        self.res.kill_whole_worker = kill == "workerkill" or (
            kill in ("doublekill", "mapped", "winafter") and inst.minor == "3.0"
        )

    def _wait(self, what: str, pred: Any, every: float = 0.25) -> Any:
        return self.inst.wait(f"{self.case}: {what}", pred, self.deadline - time.monotonic(), every)

    def _ti(self, want: dict[str, Any], index: int = -1) -> Any:
        """The task instance if it has every field of ``want`` (``"pid": True``: any pid), else None."""
        t = self.ti(index)
        ok = t is not None and all(t[k] if v is True else t[k] == v for k, v in want.items())
        return t if ok else None

    def _mid_wait(self, attempt: int, index: int = -1) -> None:
        """Until the try's task log shows it polling its child run (``MID_WAIT_POLLS`` polls)."""
        what = f"try {attempt} polling its child run (index {index})"
        self._wait(what, lambda: polls(self.task_log(attempt, index)) >= MID_WAIT_POLLS)

    def _first_kill(self) -> tuple[float, float, list[dict[str, Any]]]:
        """Kill try 1 at the case's moment; returns (monotonic, wall) kill time and the children then."""
        r = self.res
        self._wait("try 1 running", lambda: self._ti({"state": "running", "pid": True}))
        if r.kill in ("midwait", "workerkill", "doublekill"):
            self._wait("child run", self.children)
            t_trig = time.monotonic()
            self._mid_wait(1)
            r.kill_after_trigger_s = round(time.monotonic() - t_trig, 1)
        else:
            marker = self.inst.marker_dir / f"{self.dag_id}.window.1.json"
            self._wait(f"window marker {marker.name}", marker.exists, every=0.1)
            payload = json.loads(marker.read_text())
            r.marker_pid, r.window_child_run_id = payload["pid"], payload.get("child_run_id")
        kids = self.children()
        ti = self._ti({"state": "running", "try_number": 1})
        if ti is None:
            raise RuntimeError(f"{r.case}: task no longer running try 1 at kill time: {self.ti()}")
        pid = int(ti["pid"])
        if r.marker_pid is not None and r.marker_pid != pid:
            raise RuntimeError(f"{r.case}: ti.pid {pid} != pid that hit the seam {r.marker_pid}")
        r.child_runs_at_kill, r.killed_pid = len(kids), pid
        self._kill(pid, r.kill_whole_worker)
        sup = f"supervisor {r.killed_supervisor_pid} + task " if r.killed_supervisor_pid else ""
        log(f"{r.case}: SIGKILL {sup}pid {pid} (try 1, child runs so far: {len(kids)})")
        return time.monotonic(), time.time(), kids

    def _mapped_kill(self) -> tuple[float, float, list[dict[str, Any]]]:
        """Indices 0 and 1 of the mapped parent, each mid-wait on its own child, killed together."""
        r = self.res
        waiting = lambda i: self.children(i) and self._ti({"state": "running", "pid": True}, i)  # noqa: E731
        tis = [self._wait(f"index {i} waiting", lambda i=i: waiting(i)) for i in (0, 1)]
        for i in (0, 1):
            self._mid_wait(1, i)
        kids = self.children()
        r.child_runs_at_kill = len(kids)
        for i, ti in enumerate(tis):
            if self._ti({"state": "running", "try_number": 1, "pid": ti["pid"]}, i) is None:
                raise RuntimeError(f"{r.case}: index {i} no longer running try 1 at kill time: {self.ti(i)}")
            self._kill(int(ti["pid"]), r.kill_whole_worker)
        r.killed_pid = int(tis[0]["pid"])
        log(f"{r.case}: SIGKILL indices 0 and 1 (child runs so far: {len(kids)})")
        return time.monotonic(), time.time(), kids

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
            self.res.killed_supervisor_pid = parent.pid
            os.kill(parent.pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)

    def _second_kill(self, first_pid: int) -> None:
        """doublekill: try 2 reconnected and is waiting too; kill it the same way."""
        r = self.res
        try2 = {"state": "running", "try_number": 2}
        self._wait("try 2 running", lambda: (t := self._ti(try2)) and t["pid"] and int(t["pid"]) != first_pid)
        self._mid_wait(2)  # past the reconnect (or the new trigger), into the wait
        ti = self._ti(try2)
        if ti is None:
            raise RuntimeError(f"{r.case}: try 2 no longer running at the second kill: {self.ti()}")
        self._kill(int(ti["pid"]), r.kill_whole_worker)
        r.second_killed_pid = int(ti["pid"])
        log(f"{r.case}: second SIGKILL pid {ti['pid']} (try 2)")

    def _clear_number(self) -> int | None:
        sql = "SELECT clear_number FROM dag_run WHERE dag_id=? AND run_id=?"
        return self.db.one(sql, (self.dag_id, self.run_id))  # type: ignore[no-any-return]

    def _clear(self, what: str) -> None:
        """Clear the parent's task as a user would (REST API on 3.x, the CLI on 2.11); max_tries around it."""
        r = self.res
        r.max_tries_before_clear, r.clear_number_before = (
            (self.ti() or {}).get("max_tries"),
            self._clear_number(),
        )
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
            body["reset_dag_runs"] = True
            cleared = self._rest("POST", f"/api/v2/dags/{self.dag_id}/clearTaskInstances", body)
            if not cleared.get("task_instances"):
                raise RuntimeError(f"{r.case}: the REST API cleared nothing: {cleared}")
        log(f"{r.case}: cleared the task {what} (child runs so far: {r.child_runs_at_kill})")

    def _recreate(self) -> None:
        """Delete the parent's DAG run (REST API on 3.x, the ORM on 2.11), then trigger the same run_id."""
        if self.inst.is_airflow2:
            code = (
                "import sys\n"
                "from airflow.models.dagrun import DagRun\n"
                "from airflow.utils.session import create_session\n"
                "with create_session() as session:\n"
                "    session.query(DagRun).filter_by(dag_id=sys.argv[1], run_id=sys.argv[2]).delete()\n"
            )
            argv = [self.inst.python, "-c", code, self.dag_id, self.run_id]
            self.inst.run(f"{self.case}: deleting the parent run", argv)
        else:
            self._rest("DELETE", f"/api/v2/dags/{self.dag_id}/dagRuns/{self.run_id}")
        self.inst.trigger([(self.dag_id, self.run_id)])
        log(f"{self.case}: deleted the parent run and triggered it again (child runs so far: "
            f"{self.res.child_runs_at_kill})")  # fmt: skip

    def _rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call Airflow 3's REST API as a user would; retried on a 5xx (busy under the other cases)."""
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
                    raise RuntimeError(f"{self.case}: {method} {path}: HTTP {err.code} {detail!r}") from err
                log(f"{self.case}: {method} {path} answered HTTP {err.code} {detail!r}; retrying")
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def _run_without_kill(self) -> float:
        """childfail, clear(wait), recreate: no kill; returns the wall time the measured phase started."""
        r = self.res
        if r.kill == "childfail":
            return time.time()
        if r.kill == "clearwait":  # a user's clear while the task waits on its running child
            self._wait("try 1 waiting", lambda: self.children() and self._ti({"state": "running"}))
            self._mid_wait(1)
            r.child_runs_at_kill = len(self.children())
            t_wall = time.time()
            self._clear("while it waits")
            self._wait("the cleared task's next try", lambda: ((self.ti() or {}).get("try_number") or 0) >= 2)
        else:
            first = self._wait("the first run to finish", lambda: self.final() and self.state())
            if first != "success":
                raise RuntimeError(f"{r.case}: the parent run ended {first} before the clear: {self.ti()}")
            r.child_runs_at_kill = len(self.children())
            t_wall = time.time()
            if r.kill == "recreate":
                self._recreate()
                return t_wall
            self._clear("after success")
            self._wait(
                "the cleared task to rerun", lambda: (t := self.ti()) and t["state"] != "success", every=0.1
            )
        r.max_tries_after_clear, r.clear_number_after = (
            (self.ti() or {}).get("max_tries"),
            self._clear_number(),
        )
        return t_wall

    def run(self) -> CaseResult:
        r = self.res
        t_case = time.monotonic()
        try:
            if r.kill == "mapped":
                t_kill, t_kill_wall, kids = self._mapped_kill()
            elif r.kill in ("childfail", "clear", "clearwait", "recreate"):
                t_kill_wall = self._run_without_kill()
                t_kill = time.monotonic()
                kids = [] if r.kill == "childfail" else self.children()
            else:
                t_kill, t_kill_wall, kids = self._first_kill()
                if r.kill == "doublekill":
                    assert r.killed_pid is not None
                    self._second_kill(r.killed_pid)
            while (final := self.state()) not in FINAL_DAGRUN_STATES:
                if time.monotonic() > self.deadline:
                    raise TimeoutError(f"{r.case}: parent run did not finish")
                now = time.monotonic() - t_kill
                t = self.ti() or {}
                try2 = (t.get("try_number") or 0) >= 2 and t.get("state") in ("running", "success", "failed")
                if r.kill_to_try2_running_s is None and try2:
                    r.kill_to_try2_running_s = round(now, 1)
                if r.kill_to_new_child_s is None and len(self.children()) > len(kids):
                    r.kill_to_new_child_s = round(now, 1)
                time.sleep(0.25)
            self._observe(final, t_kill_wall)
        except Exception as exc:
            r.error = f"{type(exc).__name__}: {exc}"
            log(f"{r.case}: ERROR {r.error}")
        r.case_duration_s = round(time.monotonic() - t_case, 1)
        what = f"parent {r.parent_state} (try {r.try_number}) in {r.case_duration_s} s"
        log(f"{r.case}: {r.child_runs} child run(s), {what}")
        return r

    def _observe(self, final: str | None, t_kill_wall: float) -> None:
        """What became of the parent run: its state and tries, its child runs, the durable decision, logs."""
        r = self.res
        r.parent_state = final
        t = self.ti(0 if r.kill == "mapped" else -1) or {}
        r.ti_state, r.try_number = t.get("state"), t.get("try_number")
        kids = self.children()
        if r.kill == "mapped":
            r.children_per_index = [len(self.children(i)) for i in range(3)]
            r.tries_per_index = [(self.ti(i) or {}).get("try_number") for i in range(3)]
        r.child_runs = len(kids)
        r.child_run_ids = [k["run_id"] for k in kids]
        r.child_states = [k["state"] for k in kids]
        index = 0 if r.kill == "mapped" else -1
        if decision := self.durable_decision(2, index):
            r.durable_decision, r.kill_to_reconnect_s = decision[0], round(decision[1] - t_kill_wall, 1)
        if self.inst.is_airflow2:
            try:
                text = (self.inst.home / "proc-logs" / "scheduler.log").read_text(errors="replace")
            except OSError:
                text = ""
            needle = f"'Run Id': '{self.run_id}'"
            r.zombie_detections = sum(
                1 for x in text.splitlines() if "Detected zombie job" in x and needle in x
            )
        if r.parent_state != "success":
            r.last_try_log_tail = self.task_log(r.try_number or 1, index).splitlines()[-15:]
        if r.variant == "shim_durable":
            r.durable_warning_logged = any(
                "DurableUnavailableWarning" in text or "durable=True has no effect" in text
                for text in (self.task_log(1, index), self.task_log(2, index))
            )
        r.outcome = _outcome(r)


def _outcome(r: CaseResult) -> str:
    if r.kill == "mapped":
        return f"child runs per index {r.children_per_index}, tries {r.tries_per_index}"
    if r.kill == "clearwait":
        tries = f"max_tries {r.max_tries_before_clear} -> {r.max_tries_after_clear}"
        return f"{r.child_runs} child runs after a clear mid-wait ({tries})"
    if r.kill == "recreate":
        return f"{r.child_runs} child runs: " + (
            "the recreated parent run triggered its own child" if r.child_runs == 2 else "unexpected"
        )
    if r.kill == "childfail":
        fresh = "a fresh child after the failed one" if r.child_runs == 2 else "unexpected"
        return f"{r.child_runs} child runs: {fresh}"
    if r.kill == "clear":
        return f"{r.child_runs} child runs: " + (
            f"the cleared task triggered again (max_tries {r.max_tries_before_clear} -> "
            f"{r.max_tries_after_clear}, clear_number {r.clear_number_before} -> {r.clear_number_after})"
            if r.child_runs == 2
            else "unexpected"
        )
    if r.parent_state == "failed" and (r.try_number or 0) < 2:
        out = f"parent FAILED on try {r.try_number}: the kill was not retried"
    elif r.child_runs == 1 and r.child_runs_at_kill == 0:
        out = "no duplicate: retry triggered the stored run_id"
    elif r.child_runs == 1 and r.durable_decision == "already succeeded":
        out = "no duplicate: retry found the child already succeeded"
    elif r.child_runs == 1:
        out = "no duplicate: retry reconnected"
    elif r.child_runs >= 2:
        out = f"DUPLICATE child runs ({r.child_runs})"
    else:
        out = f"{r.child_runs} child runs"
    if r.window_child_run_id and r.child_runs == 1 and r.child_run_ids != [r.window_child_run_id]:
        out += f" (but run_id {r.child_run_ids[0]} != stored {r.window_child_run_id})"
    return out


def run(
    inst: Instance, cases: list[str], not_run: list[dict[str, str]] | None = None, **_: Any
) -> dict[str, Any]:
    """Trigger every case's parent run at once, run each case in a thread; the report's fields."""
    stamp = time.strftime("%H%M%S")
    runners = [CaseRunner(inst, c, f"e2e__{c}__{stamp}") for c in cases]
    t0 = time.monotonic()
    inst.trigger([(r.dag_id, r.run_id) for r in runners])
    log(f"triggered {len(runners)} parent runs in {time.monotonic() - t0:.1f} s")
    results: list[CaseResult | None] = [None] * len(runners)

    def work(i: int) -> None:
        results[i] = runners[i].run()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(runners))]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        inst.procs.snapshot()  # every task process known to be ours before a runner kills it
        time.sleep(1.0)
    inst.timings["cases_wall_s"] = round(time.monotonic() - t0, 1)
    return {
        "shim_operator": SHIM_OPERATOR,
        "cases": [asdict(r) for r in results if r is not None],
        "not_run": absences(inst.minor) if not_run is None else not_run,
    }


def format_table(version: str, report: dict[str, Any]) -> str:
    head = ("variant", "kill", "child runs", "parent / try", "kill->try2 running s")
    head += ("kill->reconnect / re-trigger s", "outcome")
    rows = []
    for r in report["cases"]:
        wait = r["kill_to_reconnect_s"] if r["kill_to_reconnect_s"] is not None else r["kill_to_new_child_s"]
        rows.append((
            VARIANT_LABEL[r["variant"]] + f" #{r['case'].rsplit('__', 1)[1]}",
            KILL_LABEL[r["kill"]],
            fmt(r["child_runs"] if r["child_runs"] >= 0 else None),
            f"{fmt(r['parent_state'])} / {fmt(r['try_number'])}",
            fmt(r["kill_to_try2_running_s"]),
            fmt(wait),
            r["error"] or r["outcome"],
        ))  # fmt: skip
    for n in report["not_run"]:
        label = (VARIANT_LABEL[n["variant"]], KILL_LABEL[n["kill"]])
        rows.append((*label, "-", "-", "-", "-", f"not run here: {n['reason']}"))
    return table(f"Airflow {version}", head, rows)

"""The crash cases on CeleryExecutor: Redis, PostgreSQL and two Celery workers, one case after another.

Each with the stock operator, the package's ``durable=False`` and ``durable=True``: 1. ``sigkill``: the
whole worker running the waiting parents (its process group and every descendant, as a lost host) is
SIGKILLed mid-wait; the retries run on the other worker; then the killed one is restarted.
2. ``sigterm``: that worker gets SIGTERM (Celery's warm shutdown) and, as ``docker stop`` does, SIGKILL
after 10 s if still alive. 3. ``schedkill``: the scheduler is SIGKILLed mid-wait and restarted.
4. ``load``: ten parents per operator at once (one mapped over 3 indices), each waiting on a 30 s child,
while a seeded schedule SIGKILLs a worker every 10-20 s for two minutes and restarts it at once.

A task's worker is the one among the ancestors (psutil) of its ``pid``. Celery delivers with
``acks_late``: a SIGKILLed worker's messages stay unacknowledged in Redis until the visibility timeout
(86400 s); each case counts them, and per parent the deliveries the workers logged against its tries.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness import (
    HEARTBEAT_TIMEOUT_S,
    MID_WAIT_POLLS,
    REPO,
    RETRY_DELAY_S,
    WORKERS,
    ZOMBIE_DETECTION_INTERVAL_S,
    Instance,
    Run,
    log,
)

VARIANTS = ("stock", "shim_nodur", "shim_durable")
KILL_KINDS = ("sigkill", "sigterm", "schedkill")
ALL_KINDS = (*KILL_KINDS, "load")
#: the load case runs these side by side in the same fault window (their throughput is compared)
LOAD_VARIANTS = ("stock", "shim_durable")
LOAD_PARENTS = 10
#: A child run sleeps this long: the load case's parents each wait on one; a kill case's children end
#: sooner, once the retry (the restarted scheduler) is back polling them (``Run.release``)
CHILD_S = 30.0
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


def no_hang_bound(airflow2: bool) -> float:
    """Seconds from the (last) kill to the parent's final state: child + heartbeat timeout + 2 retries, and
    on 2.11 its zombie detection interval (a killed try is seen up to that much after its timeout)."""
    detection = ZOMBIE_DETECTION_INTERVAL_S if airflow2 else 0.0
    return CHILD_S + HEARTBEAT_TIMEOUT_S + detection + 2 * (RETRY_DELAY_S + TASK_START_S)


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
    #: Airflow's "stuck in queued" requeues (a message a killed worker took and never started):
    #: for this parent's task instances, and for its children's
    stuck_in_queued_parent: int | None = None
    stuck_in_queued_child: int | None = None
    final_after_kill_s: float | None = None
    bound_s: float | None = None
    error: str | None = None


def not_run_reason() -> str | None:
    """Why the Celery run does not run on the installed Airflow (``[celery_unavailable]`` in
    constraints/releases.toml, keyed by release), or None."""
    import importlib.metadata
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    import airflow_matrix

    try:
        return airflow_matrix.celery_unavailable(importlib.metadata.version("apache-airflow"))
    except importlib.metadata.PackageNotFoundError:
        return None


def cases() -> dict[str, float]:
    """Every case id of a run (the three kill cases, then the load case's parents), and its child's sleep."""
    out = [f"{v}__{k}__1" for k in KILL_KINDS for v in VARIANTS]
    for v in LOAD_VARIANTS:
        out += [f"{v}__loadmap__1"] + [f"{v}__load__{n}" for n in range(2, LOAD_PARENTS + 1)]
    return dict.fromkeys(out, CHILD_S)


class Parent(Run):
    """A parent run of a Celery case, and its result."""

    def __init__(self, inst: Instance, case: str, stamp: str) -> None:
        variant, kind, _ = case.split("__")
        super().__init__(inst, case, f"celery__{case}__{stamp}", mapped=kind == "loadmap")
        kind = "load" if kind == "loadmap" else kind
        self.res = ParentResult(case, variant, kind, self.dag_id, self.run_id, self.map_indices)

    def waiting(self) -> bool:
        """Try 1 of every index runs and its child run exists: the parent is mid-wait."""
        try1 = {"state": "running", "try_number": 1, "pid": True}
        return all(self.ti_is(try1, i) and self.children(i) for i in self.map_indices)

    def running(self) -> bool:
        return all(self.ti_is({"state": "running", "pid": True}, i) for i in self.map_indices)

    def retry_worker(self) -> str | None:
        """The worker that runs this parent's retry (index 0), once seen running (by its ancestry)."""
        ti = self.ti(self.map_indices[0])
        if self.res.worker_retry is None and ti and ti["state"] == "running" and (ti["try_number"] or 0) >= 2:
            self.res.worker_retry = self.inst.owner(ti["pid"])
        return self.res.worker_retry

    def done(self) -> bool:
        """The parent run and every child run final."""
        return self.final() and all(k["state"] in ("success", "failed") for k in self.children())

    def collect(self, kills: list[float], t_last_kill: float | None) -> None:
        """What became of it: child runs per index, tries, deliveries, requeues, reaction times."""
        p, kids = self.res, self.children()
        p.child_runs, p.child_run_ids = len(kids), [k["run_id"] for k in kids]
        p.child_states = [k["state"] for k in kids]
        p.child_runs_per_index = [len(self.children(i)) for i in self.map_indices]
        p.parent_state = self.state()
        p.tries_per_index = [(ti or {}).get("try_number") for ti in self.tis()]
        p.deliveries = 0
        for name in WORKERS:  # task executions the workers logged for this parent run (every try and index)
            with contextlib.suppress(OSError):
                text = self.inst.worker_log(name).read_text(errors="replace")
                mine = (x for x in text.splitlines() if self.dag_id in x and self.run_id in x)
                p.deliveries += sum(1 for x in mine if "in Celery:" in x)
        stuck = "SELECT count(*) FROM log WHERE dag_id=? AND event LIKE ?"
        p.stuck_in_queued_parent = int(self.db.one(stuck, (self.dag_id, "stuck in queued%")) or 0)
        p.stuck_in_queued_child = int(self.db.one(stuck, (self.child_dag_id, "stuck in queued%")) or 0)
        end = self.end_time()
        if end is not None and t_last_kill is not None:
            p.final_after_kill_s = round(end - t_last_kill, 1)

        def since_kill(t: float) -> float | None:
            before = [k for k in kills if k <= t]
            return round(t - before[-1], 1) if before else None

        for index, n_tries in zip(self.map_indices, p.tries_per_index, strict=True):
            for attempt in range(2, (n_tries or 0) + 1):
                if decision := self.durable_decision(attempt, index):
                    p.durable_decisions.append(decision[0])
                    if (dt := since_kill(decision[1])) is not None:
                        p.kill_to_reconnect_s.append(dt)
            for k in self.children(index)[1:]:
                if k["created"] is not None and (dt := since_kill(k["created"])) is not None:
                    p.kill_to_retrigger_s.append(dt)


class CeleryRun:
    """Runs the four cases, one after the other, against one Airflow on CeleryExecutor."""

    def __init__(self, inst: Instance, seed: int = DEFAULT_SEED) -> None:
        self.inst = inst
        self.seed = seed
        self.stamp = time.strftime("%H%M%S")
        self.phases: list[dict[str, Any]] = []
        self.parents: list[Parent] = []
        self.load: dict[str, Any] = {}

    def _start(self, cases: list[str]) -> tuple[list[Parent], float]:
        """The case's parents, triggered; and when (epoch s)."""
        parents = [Parent(self.inst, c, self.stamp) for c in cases]
        self.parents += parents
        t_wall = time.time()
        self.inst.trigger([(p.dag_id, p.run_id) for p in parents])
        log(f"triggered {len(parents)} parent runs")
        return parents, t_wall

    def _wait_polling(
        self, parents: list[Parent], n: int, since: dict[str, list[int]] | None = None, down: str = ""
    ) -> None:
        """Until every index of every parent has polled its child ``n`` times (more than ``since``)."""

        def polled(p: Parent) -> bool:
            base = (since or {}).get(p.case) or [0] * len(p.map_indices)
            return all(now >= b + n for now, b in zip(p.polls(), base, strict=True))

        self.inst.wait(
            f"every parent polling its child ({n} polls)", lambda: all(map(polled, parents)), 120, down=down
        )

    def _workers_up(self) -> None:
        for name in WORKERS:
            if not self.inst.worker_up(name):
                self.inst.start_worker(name)
            self.inst.wait_worker(name)

    def _all_done(self, parents: list[Parent]) -> bool:
        """Every parent and child run final; meanwhile each parent's retry worker is noted, and its child
        runs released once that retry polls them."""
        for p in parents:
            if p.retry_worker() and all(p.polls(2)):
                p.release()
        return all(p.done() for p in parents)

    def _collect(
        self, parents: list[Parent], bound: float, kills: list[float], phase: dict[str, Any] | None
    ) -> None:
        for p in parents:
            p.res.bound_s = bound
            p.collect(kills, kills[-1])
        if phase is not None:
            self.phases.append(phase | {"redis_unacked_after": self.inst.redis_unacked()})

    def case_worker(self, kind: str, victim: str, variants: tuple[str, ...]) -> None:
        other = next(w for w in WORKERS if w != victim)
        inst = self.inst
        if inst.worker_up(other):  # only the victim may take the parents: the idle one's warm shutdown
            inst.terminate_worker(other, grace=30.0)
        if not inst.worker_up(victim):
            inst.start_worker(victim)
        inst.wait_worker(victim)
        parents, _ = self._start([f"{v}__{kind}__1" for v in variants])
        phase: dict[str, Any] = {"case": kind, "victim": victim, "other": other}
        inst.wait("every parent of the case running try 1", lambda: all(p.running() for p in parents), 180)
        inst.start_worker(other)  # takes ~10 s to consume: the parents are on the victim by then
        for p in parents:
            p.res.worker_try1 = inst.owner((p.tis()[0] or {}).get("pid"))
        inst.wait(
            "every parent of the case waiting on its child", lambda: all(p.waiting() for p in parents), 180
        )
        # No wait for the other worker here: the retries come after the heartbeat timeout, by when it
        # consumes; and a SIGTERM must reach the parent early in its wait, or the warm shutdown lets it end.
        self._wait_polling(parents, MID_WAIT_POLLS)  # really mid-wait: the task logs show it
        if not all(p.waiting() for p in parents):
            tis = {p.case: p.tis() for p in parents}
            raise RuntimeError(f"{kind}: a parent stopped waiting before the kill: {tis}")
        if not_on_victim := [p.case for p in parents if p.res.worker_try1 != victim]:
            raise RuntimeError(f"{kind}: parents not on {victim}: {not_on_victim}")
        bound = no_hang_bound(inst.is_airflow2) + (TERM_GRACE_S if kind == "sigterm" else 0.0)
        t_kill = time.time()
        if kind == "sigkill":
            phase["killed_pids"] = inst.procs.kill_tree(victim)
            log(f"{kind}: SIGKILLed worker {victim} (pids {phase['killed_pids']})")
        else:
            phase |= inst.terminate_worker(victim, TERM_GRACE_S)
            log(f"{kind}: SIGTERM to worker {victim}: {phase}")
        phase["t_kill"] = t_kill
        what = "every retry running or the parent final"
        inst.wait(what, lambda: all(p.retry_worker() or p.final() for p in parents), bound + 60)
        inst.wait_worker(other)
        inst.start_worker(victim)
        inst.wait("every parent and child run final", lambda: self._all_done(parents), bound + 120)
        inst.wait_worker(victim)
        self._collect(parents, bound, [t_kill], phase)

    def case_scheduler(self, variants: tuple[str, ...]) -> None:
        inst = self.inst
        self._workers_up()
        parents, _ = self._start([f"{v}__schedkill__1" for v in variants])
        inst.wait("every parent waiting", lambda: all(p.waiting() for p in parents), timeout=180)
        self._wait_polling(parents, MID_WAIT_POLLS)
        for p in parents:
            p.res.worker_try1 = inst.owner((p.tis()[0] or {}).get("pid"))
        t_kill = time.time()
        before = {p.case: p.polls() for p in parents}
        killed = inst.procs.kill_tree("scheduler")
        log(f"schedkill: SIGKILLed the scheduler (pids {killed}); it stays down until every parent polled")
        # Down until every parent has polled its child SCHEDULER_DOWN_POLLS more times without it (the
        # waits go on with no scheduler): what the task logs show, not a guessed duration.
        self._wait_polling(parents, SCHEDULER_DOWN_POLLS, since=before, down="scheduler")
        phase = {"case": "schedkill", "t_kill": t_kill, "killed_pids": killed}
        phase["scheduler_down_s"] = round(time.time() - t_kill, 1)
        inst.start_scheduler()
        for p in parents:
            p.release()
        bound = no_hang_bound(inst.is_airflow2)
        inst.wait("every parent and child run final", lambda: self._all_done(parents), bound + 120)
        self._collect(parents, bound, [t_kill], phase)

    def fault_schedule(self) -> list[tuple[float, str]]:
        """Seeded: (seconds after the trigger, worker) every 10-20 s within the two-minute window."""
        rng = random.Random(self.seed)
        out: list[tuple[float, str]] = []
        t = 0.0
        while (t := t + rng.uniform(*LOAD_KILL_EVERY_S)) <= LOAD_WINDOW_S:
            out.append((round(t, 1), rng.choice(sorted(WORKERS))))
        return out

    def case_load(self, variants: tuple[str, ...]) -> None:
        inst = self.inst
        self._workers_up()
        cases = []
        for v in variants:
            cases += [f"{v}__loadmap__1"] + [f"{v}__load__{n}" for n in range(2, LOAD_PARENTS + 1)]
        schedule = self.fault_schedule()
        t0 = time.monotonic()
        parents, t_trigger = self._start(cases)
        kills: list[float] = []
        done: list[dict[str, Any]] = []
        for at, worker in schedule:  # the seeded kill times are what this case varies
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            kills.append(time.time())
            pids = inst.procs.kill_tree(worker) if inst.worker_up(worker) else []
            inst.start_worker(worker)  # restarted at once
            done.append({"t": round(kills[-1] - t_trigger, 1), "worker": worker, "killed_pids": len(pids)})
            log(f"load: t+{done[-1]['t']} s SIGKILLed {worker} ({len(pids)} processes), restarting it")
        bound = no_hang_bound(inst.is_airflow2)
        what = "every load parent and child run final"
        inst.wait(what, lambda: all(p.done() for p in parents), timeout=bound + 180, every=1.0)
        self._collect(parents, bound, kills or [t_trigger], None)
        for name in WORKERS:
            inst.wait_worker(name)
        ends = {v: [p.end_time() for p in parents if p.res.variant == v] for v in variants}
        tp = {v: _throughput(e, t_trigger) for v, e in ends.items()}
        self.load = {
            "seed": self.seed,
            "window_s": LOAD_WINDOW_S,
            "kills": done,
            "throughput_per_min": tp,
            "median_parent_duration_s": {
                v: _median([x - t_trigger for x in e if x]) for v, e in ends.items()
            },
            "stuck_in_queued_requeues": {
                v: sum(
                    (p.res.stuck_in_queued_parent or 0) + (p.res.stuck_in_queued_child or 0)
                    for p in parents
                    if p.res.variant == v
                )
                for v in variants
            },
            "child_runs": {v: sum(p.res.child_runs for p in parents if p.res.variant == v) for v in variants},
            "redis_unacked_after": inst.redis_unacked(),
        }
        if tp.get("stock") and tp.get("shim_durable"):
            self.load["ratio_durable_over_stock"] = round(tp["shim_durable"] / tp["stock"], 3)

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


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _throughput(ends: list[float | None], t_trigger: float) -> float | None:
    """Parents finished per minute, from the trigger to the last of them finishing."""
    if not ends or any(e is None for e in ends):
        return None
    return round(len(ends) / ((max(e for e in ends if e is not None) - t_trigger) / 60.0), 2)


def summarize(parents: list[ParentResult]) -> list[dict[str, Any]]:
    """What the Celery table shows, per (case, variant): child runs per task instance, final states and
    tries, workers, medians (the rows have each parent's whole record)."""
    rows = []
    for kind, variant in ((k, v) for k in ALL_KINDS for v in VARIANTS):
        group = [p for p in parents if p.kind == kind and p.variant == variant]
        if not group:
            continue
        tries = [t for p in group for t in p.tries_per_index if t is not None]
        rows.append(
            {
                "case": kind,
                "variant": variant,
                "child_runs_per_ti": [n for p in group for n in p.child_runs_per_index],
                "parent_states": sorted({p.parent_state or "?" for p in group}),
                "max_try": max(tries, default=None),
                "worker_try1": sorted({p.worker_try1 or "-" for p in group}),
                "worker_retry": sorted({p.worker_retry or "-" for p in group}),
                "kill_to_reconnect_median_s": _median([x for p in group for x in p.kill_to_reconnect_s]),
                "kill_to_retrigger_median_s": _median([x for p in group for x in p.kill_to_retrigger_s]),
            }
        )
    return rows


def run(inst: Instance, cases: list[str], seed: int = DEFAULT_SEED, **_: Any) -> dict[str, Any]:
    """Run the cases whose parents ``cases`` names; the report's fields (an error is reported, not raised)."""
    variants = tuple(v for v in VARIANTS if any(c.startswith(f"{v}__") for c in cases))
    kinds = tuple(k for k in ALL_KINDS if any(f"__{k}" in c for c in cases))
    celery = CeleryRun(inst, seed=seed)
    error = None
    try:
        celery.run(variants, kinds)
    except Exception as exc:  # reported with what ran so far, and the test fails on it
        error = f"{type(exc).__name__}: {exc}"
        log(f"ERROR {error}; Airflow logs kept in {inst.home}")
        inst.keep_home = True
    parents = [p.res for p in celery.parents]
    return {
        "workers": WORKERS,
        "error": error,
        "airflow_home_kept": str(inst.home) if error else None,
        "summary": summarize(parents),
        "phases": celery.phases,
        "load": celery.load,
        "parents": [asdict(p) for p in parents],
    }

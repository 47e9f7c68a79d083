"""Demo: a worker crash mid-wait with ``durable=True``, watched live (``nox -s demo``).

Starts Airflow 3.3 (SQLite, LocalExecutor: api-server, scheduler, dag-processor), triggers a parent
whose ``airflow_trigger_compat.TriggerDagRunOperator(durable=True, wait_for_completion=True)`` waits on
a child that sleeps, SIGKILLs the parent's task process while it waits, and prints the state every
couple of seconds until the parent run finishes: the retry reconnects to the same child run, so the
child DAG has one run. Everything started is stopped at the end (also on Ctrl-C).

    python tests/e2e/demo.py [--child-sleep 20] [--also-stock]

``--also-stock`` runs the stock provider operator next to it, killed the same way, for contrast.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

DURABLE = "shim_durable__midwait__1"
STOCK = "stock__midwait__1"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="durable=True crash demo on Airflow 3.3")
    p.add_argument("--child-sleep", type=int, default=20)
    p.add_argument("--every", type=float, default=2.0, help="seconds between status lines")
    p.add_argument("--also-stock", action="store_true", help="run the stock operator alongside, for contrast")
    a = p.parse_args(argv)

    version = harness.airflow_version(sys.executable)
    if not harness.shim_installed(sys.executable):
        print("airflow_trigger_compat is not installed in this environment", file=sys.stderr)
        return 2
    cases = [DURABLE] + ([STOCK] if a.also_stock else [])
    print(f"Airflow {version}: starting api-server, scheduler, dag-processor (SQLite, LocalExecutor) ...")
    with harness.running_airflow("3.3", cases, extra_env={"E2E_CHILD_SLEEP": str(a.child_sleep)}) as inst:
        db = inst.db
        assert db is not None and inst.procs is not None
        print(f"ready in {inst.timings['startup_total_s']} s (AIRFLOW_HOME={inst.home})\n")
        stamp = time.strftime("%H%M%S")
        runs = {c: (f"e2e_parent__{c}", f"demo__{c}__{stamp}") for c in cases}
        inst.trigger(list(runs.values()))
        t0 = time.monotonic()
        killed: dict[str, float] = {}
        seen_child: dict[str, float] = {}
        done: dict[str, str] = {}
        while len(done) < len(cases):
            now = time.monotonic() - t0
            for case, (dag_id, run_id) in runs.items():
                label = "durable=True" if case == DURABLE else "stock       "
                dr_state = db.dagrun_state(dag_id, run_id) or "(none)"
                ti = db.ti(dag_id, run_id) or {}
                kids = db.child_runs(f"e2e_child__{case}")
                kid_states = ",".join(k["state"] for k in kids) or "-"
                print(
                    f"[t={now:5.1f}s] {label} parent run={dr_state:<8} task={ti.get('state') or '-':<13} "
                    f"try={ti.get('try_number') or 0} pid={ti.get('pid') or '-':<7} | child runs={len(kids)} "
                    f"({kid_states})",
                    flush=True,
                )
                if kids and case not in seen_child:
                    seen_child[case] = now
                if (
                    case not in killed
                    and case in seen_child
                    and now - seen_child[case] >= 3
                    and ti.get("state") == "running"
                    and ti.get("try_number") == 1
                    and ti.get("pid")
                    and inst.procs.is_ours(int(ti["pid"]))
                ):
                    os.kill(int(ti["pid"]), signal.SIGKILL)
                    killed[case] = now
                    print(f">>> SIGKILL {label.strip()} task process pid={ti['pid']} while it waits")
                if dr_state in harness.FINAL_DAGRUN_STATES and case not in done:
                    done[case] = dr_state
            if now > 300:
                print("timed out", file=sys.stderr)
                return 1
            time.sleep(a.every)

        print()
        ok = True
        for case, (dag_id, run_id) in runs.items():
            kids = db.child_runs(f"e2e_child__{case}")
            ti = db.ti(dag_id, run_id) or {}
            verdict = {1: "one child run: the retry reconnected", 2: "TWO child runs: the retry re-triggered"}
            print(
                f"{case}: parent {done[case]} on try {ti.get('try_number')}; "
                f"{verdict.get(len(kids), f'{len(kids)} child runs')}: {[k['run_id'] for k in kids]}"
            )
            if case == DURABLE:
                ok = ok and done[case] == "success" and len(kids) == 1
                log_file = (
                    inst.home
                    / "logs"
                    / f"dag_id={dag_id}"
                    / f"run_id={run_id}"
                    / "task_id=trigger"
                    / "attempt=2.log"
                )
                if log_file.exists():
                    for line in log_file.read_text(errors="replace").splitlines():
                        if "Reconnecting" in line or "Waiting for" in line:
                            print(f"  try 2 log: {line[:220]}")
                            break
        print("\nstopping Airflow ...")
    print("all Airflow processes stopped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

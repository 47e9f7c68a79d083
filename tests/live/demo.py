"""Demo: what ``durable=True`` saves when a worker dies mid-wait, watched live (``nox -s demo``).

Airflow 3.3 (SQLite, LocalExecutor), two parents side by side, each waiting (``retries=1``) on its own
sleeping child run: the stock ``TriggerDagRunOperator`` and ``airflow_trigger_compat``'s with
``durable=True``. The crash test's own code (``local_cases.CaseRunner``, case ``midwait``) SIGKILLs each
waiting task process; the stock retry triggers a second child run, the durable one reconnects. It prints
each state change, then a table. Everything started is stopped by PID (also on failure or Ctrl-C).

    python tests/live/demo.py [--child-sleep 20]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import local_cases

#: case id (tests/live/dags: <variant>__<kill>__<n>) -> how the table names it
CASES = {
    "stock__midwait__1": "stock TriggerDagRunOperator",
    "shim_durable__midwait__1": "airflow_trigger_compat, durable=True",
}
STOCK, DURABLE = CASES
#: the whole demo gives up after this long
TIMEOUT_S = 240.0


class DemoCase(local_cases.CaseRunner):
    """The crash test's ``midwait`` case, but each child run sleeps its whole time: what a retry costs."""

    def release(self) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="durable=True vs the stock operator: a worker crash mid-wait")
    p.add_argument("--child-sleep", type=int, default=20, help="seconds each child run sleeps")
    a = p.parse_args(argv)

    version = importlib.metadata.version("apache-airflow")  # not importing Airflow here: it takes seconds
    if not harness.shim_installed():
        print(f"{harness.SHIM_PACKAGE} is not installed in this environment", file=sys.stderr)
        return 2
    print(f"Airflow {version}: starting api-server, scheduler, dag-processor (SQLite, LocalExecutor) ...")
    with harness.running_airflow("3.3", dict.fromkeys(CASES, float(a.child_sleep))) as inst:
        print(f"ready in {inst.timings['startup_total_s']} s\n")
        stamp = time.strftime("%H%M%S")
        runners = {c: DemoCase(inst, c, f"demo__{c}__{stamp}", timeout=TIMEOUT_S) for c in CASES}
        inst.trigger([(r.dag_id, r.run_id) for r in runners.values()])
        t0 = time.monotonic()
        print(f"triggered both parents; each child run sleeps {a.child_sleep} s\n")
        last: dict[str, tuple[object, ...]] = {}

        def observe() -> None:
            """Print each parent's change of state."""
            now = time.monotonic() - t0
            for case, runner in runners.items():
                run_state, ti, kids = runner.state(), runner.ti() or {}, runner.children()
                seen = (run_state, ti.get("state"), ti.get("try_number"), tuple(k["state"] for k in kids))
                if seen != last.get(case):
                    last[case] = seen
                    print(
                        f"[t={now:5.1f}s] {CASES[case]:<37} parent run {run_state or '-':<8} "
                        f"task {ti.get('state') or '-':<13} try {ti.get('try_number') or 0} | "
                        f"child runs: {len(kids)} ({', '.join(k['state'] for k in kids) or '-'})",
                        flush=True,
                    )

        done = local_cases.run_all(inst, list(runners.values()), observe, every=0.5)
        results = {r.case: r for r in done}
        observe()  # a runner returns once it saw its parent run end: this pass sees it too
        print("\nstopping Airflow ...")
    print("all Airflow processes stopped\n")
    return report(results, a.child_sleep)


def report(results: dict[str, local_cases.CaseResult], child_sleep: int) -> int:
    """The comparison table; exit status 0 when the durable parent succeeded with one child run."""
    print(f"A worker SIGKILLed while its parent waited on a {child_sleep} s child run (Airflow 3.3):\n")
    print("| operator | child runs | parent run | tries | trigger to parent run's end |")
    print("|---|---|---|---|---|")
    for case, name in CASES.items():
        r = results.get(case) or local_cases.CaseResult(case, "-", "-", "-", "-", error="did not run")
        print(f"| {name} | {r.child_runs} | {r.parent_state} | {r.try_number} | {r.case_duration_s} s |")
        if r.error:
            print(f"{name}: {r.error}")
    durable, stock = results.get(DURABLE), results.get(STOCK)
    if durable is not None and durable.durable_decision:
        what = f"{durable.durable_decision}, {durable.kill_to_reconnect_s} s after the kill"
        print(f"durable=True, try 2: {what}")
    if stock is not None and stock.kill_to_new_child_s is not None:
        print(f"stock, try 2: a new child run {stock.kill_to_new_child_s} s after the kill")
    ok = durable is not None and durable.parent_state == "success" and durable.child_runs == 1
    if ok and stock is not None and stock.child_runs == 2:
        saved = (stock.case_duration_s or 0) - (durable.case_duration_s or 0)
        print(f"durable=True saved a child run ({child_sleep} s of its work), done {saved:.0f} s sooner")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

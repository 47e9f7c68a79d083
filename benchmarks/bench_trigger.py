"""Benchmarks for airflow-trigger-compat, reported as figures (never asserted inside tests).

1. The whole trigger, shim vs the standard provider's operator, on the same inputs and the same fake
   supervisor channel (test tooling standing in for the task runner's; the package itself never touches
   it). Stock: ``execute()`` raises ``DagRunTriggerException``, then the task runner's
   ``_handle_trigger_dag_run`` triggers (and waits). Shim: its ``execute()``, which raises the same on
   every Airflow 3 (stock's path), then the same ``_handle_trigger_dag_run``; where an ``execute()``
   returns, what the runner does after a successful one. Target: ratio <= 1.05.
2. A cached strategy lookup (``select_row()``). Target: < 1 us.
3. ``python -X importtime -c "import airflow_trigger_compat"``. Target: < 10 ms, no ``airflow`` module.

Run inside an environment with Airflow 3.x and the standard provider: ``nox -s bench``.
Writes ``results/bench.json`` (or ``$BENCH_RESULT``; the schema: ``_results.py``) and prints the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
NUMBER = int(os.environ.get("BENCH_NUMBER", "100"))


class FakeComms:
    """Answers the task's supervisor requests the way the real supervisor does, without a server."""

    def __init__(self) -> None:
        from airflow.sdk.execution_time.comms import DagRunStateResult, OKResponse

        self._ok = OKResponse(ok=True)
        self._state = DagRunStateResult(state="success")
        self.sent = 0

    def send(self, msg: Any = None, **kwargs: Any) -> Any:
        self.sent += 1
        message = msg if msg is not None else kwargs.get("msg")
        return self._state if type(message).__name__ == "GetDagRunState" else self._ok


class FakeTI:
    """The parts of RuntimeTaskInstance that the trigger path touches."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.dag_id = "parent"
        self.task_id = task.task_id
        self.stats_tags: dict[str, str] = {}
        self.rendered_map_index = None
        self.end_date = None
        self._loop_decision = None  # task-sdk 1.4 (Airflow 3.4): SucceedTask carries the task's loop decision
        self.xcoms: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms.append((key, value))

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import GetDagRunState

        return task_runner.SUPERVISOR_COMMS.send(GetDagRunState(dag_id=dag_id, run_id=run_id)).state


def _whole_trigger(operator: Any, log: Any) -> Any:
    from airflow.providers.common.compat.sdk import DagRunTriggerException
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.context import OutletEventAccessors

    ti = FakeTI(operator)
    context = {"ti": ti, "task_instance": ti, "outlet_events": OutletEventAccessors()}
    try:
        operator.execute(context)
    except DagRunTriggerException as drte:
        return task_runner._handle_trigger_dag_run(drte, context, ti, log)
    return task_runner._handle_current_task_success(context, ti)


def bench_whole_trigger() -> dict[str, Any]:
    import structlog
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator as Stock
    from airflow.sdk.execution_time import task_runner

    import airflow_trigger_compat
    from airflow_trigger_compat import TriggerDagRunOperator as Shim

    task_runner.SUPERVISOR_COMMS = FakeComms()
    # Log calls still happen on both sides, but render to nothing: terminal I/O would only add noise.
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    # Both sides sleep poke_interval between polls; a real sleep hands the core to whatever else runs and
    # measures the OS scheduler, not the code. Same number of calls on both sides, so no-op it.
    time.sleep = lambda seconds: None
    log = structlog.get_logger("bench")
    results: dict[str, Any] = {"strategy": airflow_trigger_compat.select_row().entry.path}
    for case, kwargs in {
        "fire_and_forget": {"wait_for_completion": False},
        "wait": {"wait_for_completion": True, "poke_interval": 1e-9},
    }.items():
        common = {
            "trigger_dag_id": "child",
            "conf": {"k": "v"},
            "openlineage_inject_parent_info": False,
            **kwargs,
        }
        stock = Stock(task_id="stock", **common)
        shim = Shim(task_id="shim", **common)
        # Interleaved rounds: both sides see the same machine state; the best round of each counts.
        best = {"stock": float("inf"), "shim": float("inf")}
        for _ in range(ROUNDS):
            for name, operator in (("stock", stock), ("shim", shim)):
                operator.trigger_run_id = None  # both operators write the generated run_id back
                elapsed = min(
                    timeit.repeat(
                        lambda op=operator: (setattr(op, "trigger_run_id", None), _whole_trigger(op, log)),
                        number=NUMBER,
                        repeat=1,
                    )
                )
                best[name] = min(best[name], elapsed / NUMBER)
        results[case] = {
            "stock_us": round(best["stock"] * 1e6, 2),
            "shim_us": round(best["shim"] * 1e6, 2),
            "ratio": round(best["shim"] / best["stock"], 3),
        }
    return results


def bench_lookup() -> dict[str, Any]:
    from airflow_trigger_compat import select_row

    select_row()
    number = 1_000_000
    best = min(timeit.repeat(select_row, number=number, repeat=5)) / number
    return {"cached_lookup_ns": round(best * 1e9, 1)}


def bench_import(runs: int = 15) -> dict[str, Any]:
    code = (
        "import sys, airflow_trigger_compat; "
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    totals = []
    airflow_modules: list[str] = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
        )
        line = next(
            ln
            for ln in reversed(proc.stderr.splitlines())
            if ln.rstrip().endswith("| airflow_trigger_compat")
        )
        totals.append(int(line.split("|")[1]))
        airflow_modules = json.loads(proc.stdout.replace("'", '"'))
    return {
        "import_ms_median": round(statistics.median(totals) / 1000, 2),
        "import_ms_min": round(min(totals) / 1000, 2),
        "airflow_modules_imported": airflow_modules,
    }


def _results() -> Any:
    """The results schema (tests/results.py), by path, as every writer loads it."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "results.py"
    spec = importlib.util.spec_from_file_location("_airflow_trigger_compat_results", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    started = time.perf_counter()
    try:
        import airflow

        version, trigger = airflow.__version__, bench_whole_trigger()
    except ImportError:
        version, trigger = None, {"strategy": None}
    summary: dict[str, Any] = {**(bench_lookup() if version else {}), **bench_import()}
    results = _results()
    doc = results.write(
        os.environ.get("BENCH_RESULT", "results/bench.json"),
        suite="bench",
        run="bench",
        airflow=version or "none",
        environment={
            "python": sys.version.split()[0],
            "package": "airflow_trigger_compat",
            "provider_standard": _provider_standard(),
            "executor": None,
            "strategy": trigger.pop("strategy"),
        },
        exitstatus=0,
        duration_s=round(time.perf_counter() - started, 1),
        summary=summary,
        rows=[{"case": case, **figures} for case, figures in trigger.items()],
        details={"rounds": ROUNDS, "number": NUMBER},
    )
    print("\n".join(results.bench_lines(doc)))
    return 0


def _provider_standard() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apache-airflow-providers-standard")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())

"""Print the crash test on Celery for every Airflow version, from results/celery-*.json.

    python scripts/celery_table.py            # Markdown: version x case x operator, then case 4's throughput
    python scripts/celery_table.py results/   # another results directory

Child runs are listed per parent run (per map index for the mapped parent); the load case's ten
parents per operator are folded into "<child runs> x<task instances>". Exit status 1 when no result
exists or a run recorded an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

VARIANT = {
    "stock": "stock provider operator",
    "shim_nodur": "shim durable=False",
    "shim_durable": "shim durable=True",
}
CASE = {
    "sigkill": "1. SIGKILL of the worker running the parent",
    "sigterm": "2. SIGTERM of that worker (warm shutdown), SIGKILL after 10 s",
    "schedkill": "3. SIGKILL of the scheduler, restarted after 5 s",
    "load": "4. 10 parents (one mapped x3), a worker SIGKILLed every 10-20 s for 2 min",
}


def _key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in path.stem.removeprefix("celery-").split("."))


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def _counts(per_ti: list[int]) -> str:
    if len(per_ti) <= 3:
        return " / ".join(map(str, per_ti))
    hist: dict[int, int] = {}
    for n in per_ti:
        hist[n] = hist.get(n, 0) + 1
    return ", ".join(f"{n} x{count}" for n, count in sorted(hist.items()))


def case_rows(report: dict[str, Any]) -> list[list[str]]:
    out = []
    for row in report["summary"]:
        out.append(
            [
                report["airflow_version"],
                CASE.get(row["case"], row["case"]),
                VARIANT.get(row["variant"], row["variant"]),
                _counts(row["child_runs_per_ti"]),
                f"{'/'.join(row['parent_states'])} (max try {_fmt(row['max_try'])})",
                "w1 and w2"
                if row["case"] == "load"
                else f"{','.join(row['worker_try1'])} -> {','.join(row['worker_retry'])}",
                _fmt(row["kill_to_reconnect_median_s"]),
                _fmt(row["kill_to_retrigger_median_s"]),
            ]
        )
    return out


def load_row(report: dict[str, Any]) -> list[str]:
    load = report.get("load") or {}
    tp = load.get("throughput_per_min") or {}
    med = load.get("median_parent_duration_s") or {}
    kids = load.get("child_runs") or {}
    stuck = load.get("stuck_in_queued_requeues") or {}

    def both(values: dict[str, Any]) -> str:
        return f"{_fmt(values.get('stock'))} / {_fmt(values.get('shim_durable'))}"

    return [
        report["airflow_version"],
        both(tp),
        _fmt(load.get("ratio_durable_over_stock")),
        both(med),
        both(kids),
        both(stuck),
        f"{len(load.get('kills', []))} (seed {_fmt(load.get('seed'))})",
        _fmt(report["timings"].get("version_total_s")),
    ]


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    files = sorted(args.results.glob("celery-*.json"), key=_key)
    if not files:
        print(f"no celery-*.json in {args.results}: run `nox -t celery` first", file=sys.stderr)
        return 1
    reports = [json.loads(f.read_text()) for f in files]
    head = [
        "Airflow",
        "case",
        "operator",
        "child runs per parent (per index)",
        "parent final state",
        "try 1 -> retry worker",
        "kill to reconnect (s, median)",
        "kill to new child (s, median)",
    ]
    print(markdown(head, [r for rep in reports for r in case_rows(rep)]))
    print()
    head = [
        "Airflow",
        "parents finished per minute, stock / durable",
        "durable / stock",
        "median parent duration s",
        "child runs (12 task instances each)",
        "stuck-in-queued requeues",
        "worker kills",
        "run s",
    ]
    print(markdown(head, [load_row(rep) for rep in reports]))
    errors = [f"{rep['airflow_version']}: {rep['error']}" for rep in reports if rep.get("error")]
    for error in errors:
        print(f"ERROR {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

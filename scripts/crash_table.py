"""Print the live crash test's results for every Airflow version, from results/e2e-*.json.

    python scripts/crash_table.py            # Markdown: version x variant x kill
    python scripts/crash_table.py results/   # another results directory

One row per (version, variant, kill); repeated cases are folded into the row (child runs per parent
run for each repetition). A kind the version does not run is a row "not run here: <reason>" (the
harness's NOT_RUN table; the crash test reports it as a skip, never as a pass). Exit status 1 when no e2e
result exists or a case recorded an error.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

VARIANT = {
    "stock": "stock provider operator",
    "shim_nodur": "shim durable=False",
    "shim_durable": "shim durable=True",
}
KILL = {
    "midwait": "task process, mid-wait",
    "workerkill": "whole worker (supervisor + task), mid-wait",
    "winbefore": "window: run_id stored, before the trigger",
    "winafter": "window: right after the trigger",
    "doublekill": "task process (3.0: whole worker) in try 1, then in try 2",
    "childfail": "none: the child fails on its first run only",
    "clear": "none: the task is cleared after it succeeded",
    "clearwait": "none: the task is cleared while it waits",
    "recreate": "none: the parent run is deleted and triggered again",
    "mapped": "mapped parent, 3 indices: 0 and 1 mid-wait (3.0: whole worker)",
}


def _key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in path.stem.removeprefix("e2e-").split("."))


def rows(report: dict[str, Any]) -> list[list[str]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in report["cases"]:
        groups.setdefault((case["variant"], case["kill"]), []).append(case)
    out = []
    for (variant, kill), cases in sorted(
        groups.items(), key=lambda kv: (list(VARIANT).index(kv[0][0]), kv[0][1])
    ):
        waits = [
            c["kill_to_reconnect_s"] if c["kill_to_reconnect_s"] is not None else c["kill_to_new_child_s"]
            for c in cases
        ]
        waits = [w for w in waits if w is not None]
        out.append(
            [
                report["airflow_version"],
                VARIANT[variant],
                KILL.get(kill, kill),
                " / ".join(
                    # a mapped parent: child runs per map index
                    "+".join(map(str, c["children_per_index"]))
                    if c.get("children_per_index")
                    else str(c["child_runs"])
                    for c in cases
                ),
                ", ".join(sorted({f"{c['parent_state']} (try {c['try_number']})" for c in cases})),
                f"{statistics.median(waits):.1f}" if waits else "-",
            ]
        )
    for absent in report.get("not_run", []):  # declared in tests/live/local_cases.py NOT_RUN
        out.append(
            [
                report["airflow_version"],
                VARIANT[absent["variant"]],
                KILL.get(absent["kill"], absent["kill"]),
                f"not run here: {absent['reason']}",
                "-",
                "-",
            ]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="results", type=Path)
    args = parser.parse_args(argv)
    paths = sorted(args.directory.glob("e2e-*.json"), key=_key)
    if not paths:
        print(f"no e2e-*.json in {str(args.directory)!r}; run `nox -t e2e` first", file=sys.stderr)
        return 1
    reports = [json.loads(p.read_text()) for p in paths]
    header = [
        "Airflow",
        "operator",
        "SIGKILL of",
        "child runs per parent run",
        "parent final state",
        "kill to reconnect / re-trigger (s, median)",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for report in reports:
        for row in rows(report):
            print("| " + " | ".join(row) + " |")
    return 1 if any(c.get("error") for r in reports for c in r["cases"]) else 0


if __name__ == "__main__":
    sys.exit(main())

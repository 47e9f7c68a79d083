"""Print Airflow version x strategy x scenario outcome from results/behaviour-*.json.

    python scripts/matrix_table.py                 # table, then the not_applicable / failed reasons
    python scripts/matrix_table.py --markdown      # the same table as Markdown (for a PR or the docs)
    python scripts/matrix_table.py other/results   # another results directory

Exit status 1 when any scenario failed or was skipped, or a file is missing or unreadable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SYMBOL = {"passed": "ok", "failed": "FAIL", "not_applicable": "n/a", "skipped": "SKIP"}
BAD = {"failed", "skipped"}


def _version_key(path: Path) -> tuple[int, ...]:
    minor = path.stem.removeprefix("behaviour-")
    return tuple(int(part) for part in minor.split(".") if part.isdigit())


def load(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    results = []
    for path in sorted(directory.glob("behaviour-*.json"), key=_version_key):
        results.append((path.stem.removeprefix("behaviour-"), json.loads(path.read_text())))
    return results


def _cell(scenario: dict[str, Any] | None, legend: dict[str, int]) -> str:
    """``ok``, ``n/a``, ``FAIL``; a parity scenario that passed showing a declared difference: ``ok ≠[n]``."""
    if not scenario:
        return "-"
    symbol = SYMBOL.get(scenario.get("outcome", ""), "-")
    declared = scenario.get("declared") or []
    if symbol == "ok" and declared:
        symbol += " ≠" + "".join(f"[{legend.setdefault(d, len(legend) + 1)}]" for d in declared)
    return symbol


def _fuzz(result: dict[str, Any]) -> str:
    found = [s["fuzz"] for s in result["scenarios"].values() if s.get("fuzz")]
    return f"{found[0]['examples']} in {found[0]['seconds']} s" if found else "-"


def table(results: list[tuple[str, dict[str, Any]]], markdown: bool) -> str:
    scenarios = sorted({name for _, r in results for name in r["scenarios"]})
    header = ["scenario"]
    header += [f"{r.get('airflow') or minor} ({r.get('strategy') or '?'})" for minor, r in results]
    legend: dict[str, int] = {}
    rows = [[name, *(_cell(r["scenarios"].get(name), legend) for _, r in results)] for name in scenarios]
    rows.append(["fuzz examples (time)", *(_fuzz(r) for _, r in results)])
    rows.append(["pytest session time (s)", *(str(r.get("duration_s", "?")) for _, r in results)])
    footer = [f"≠[{n}]: declared difference `{d}`" for d, n in legend.items()]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join([*lines, "", *footer])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    return "\n".join([*lines, *(fmt.format(*row).rstrip() for row in rows), "", *footer])


def notes(results: list[tuple[str, dict[str, Any]]]) -> list[str]:
    lines = []
    for minor, result in results:
        for name, scenario in sorted(result["scenarios"].items()):
            if scenario["outcome"] != "passed":
                lines.append(f"{minor} {name}: {scenario['outcome']}: {scenario.get('reason', '')}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="results", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    try:
        results = load(args.directory)
    except (OSError, ValueError) as err:
        print(f"cannot read results from {str(args.directory)!r}: {err}", file=sys.stderr)
        return 1
    if not results:
        print(f"no behaviour-*.json in {str(args.directory)!r}; run `nox -t matrix` first", file=sys.stderr)
        return 1
    print(table(results, args.markdown))
    extra = notes(results)
    if extra:
        print()
        print("\n".join(extra))
    bad = any(s["outcome"] in BAD for _, r in results for s in r["scenarios"].values())
    return 1 if bad or any(r.get("exitstatus") for _, r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Print the behavioural matrix from results/behaviour-<release>.json: a row per Airflow release, then
scenario x release outcomes (consecutive patch releases with identical outcomes share a column), then the
provider axis from results/oldest-provider-<minor>.json (each minor with its oldest providers-standard).

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

import tomllib

SYMBOL = {"passed": "ok", "failed": "FAIL", "not_applicable": "n/a", "skipped": "SKIP"}
BAD = {"failed", "skipped"}


def _version_key(path: Path) -> tuple[int, ...]:
    minor = path.stem.rsplit("-", 1)[-1]  # behaviour-3.1.8, oldest-provider-3.1
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


def _summary(results: list[tuple[str, dict[str, Any]]], markdown: bool) -> list[list[str]]:
    """One row per release: its strategy, the outcome counts, the fuzz and the session time."""
    header = [
        "Airflow",
        "strategy",
        "passed",
        "n/a",
        "failed/skipped",
        "declared differences seen",
        "fuzz (or why not run)",
    ]
    rows = [header]
    for release, r in results:
        counts, declared = _counts(r)
        rows.append(
            [
                str(r.get("airflow") or release),
                str(r.get("strategy") or "?"),
                *counts,
                str(len(declared)),
                _fuzz(r),
            ]
        )
    for release, why in _declared("unavailable").items():
        rows.append([release, "-", "-", "-", "-", "-", f"not installable (declared): {why}"])
    for release, why in _declared("behaviour_unavailable").items():
        crash = _crash_summary(release)
        rows.append([release, "-", "-", "-", "-", "-", f"no behavioural suite (declared): {why}; {crash}"])
    rows[1:] = sorted(rows[1:], key=lambda row: tuple(int(p) for p in row[0].split(".") if p.isdigit()))
    return rows


def _provider_axis(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    paths = sorted(directory.glob("oldest-provider-*.json"), key=_version_key)
    return [(path.stem.removeprefix("oldest-provider-"), json.loads(path.read_text())) for path in paths]


def _provider_rows(axis: list[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    """One row per minor run with its oldest providers-standard (the ``oldest_provider`` sessions)."""
    rows = [["Airflow", "providers-standard", "passed", "n/a", "failed/skipped", "declared differences seen"]]
    for minor, r in axis:
        counts, declared = _counts(r)
        rows.append(
            [
                str(r.get("airflow") or minor),
                str(r.get("provider_standard") or "?"),
                *counts,
                ", ".join(declared) or "-",
            ]
        )
    return rows


def _counts(result: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(passed, n/a, failed or skipped) as strings, and the declared differences the scenarios showed."""
    outcomes = [s.get("outcome") for s in result["scenarios"].values()]
    declared = sorted({d for s in result["scenarios"].values() for d in s.get("declared") or []})
    counts = [outcomes.count("passed"), outcomes.count("not_applicable"), sum(o in BAD for o in outcomes)]
    return [str(n) for n in counts], declared


def _declared(table: str) -> dict[str, str]:
    """A table of releases with reasons from constraints/releases.toml (declared gaps)."""
    path = Path(__file__).resolve().parent.parent / "constraints" / "releases.toml"
    try:
        return dict(tomllib.loads(path.read_text()).get(table, {}))
    except OSError:
        return {}


def _crash_summary(release: str) -> str:
    """The live crash test that runs instead, from results/e2e-<release>.json when it is there."""
    path = Path("results") / f"e2e-{release}.json"
    try:
        cases = json.loads(path.read_text())["cases"]
    except (OSError, ValueError, KeyError):
        return f"live crash test instead: no {path} here"
    errors = sum(1 for c in cases if c.get("error"))
    return f"live crash test instead: {len(cases)} cases, {errors} with an error ({path})"


def _groups(
    results: list[tuple[str, dict[str, Any]]], scenarios: list[str], legend: dict[str, int]
) -> list[tuple[str, list[str]]]:
    """Consecutive releases of one minor with identical cells, merged into one column ("3.1.0-3.1.8")."""
    columns: list[tuple[list[str], str, list[str]]] = []  # (releases, strategy, cells)
    for release, r in results:
        cells = [_cell(r["scenarios"].get(name), legend) for name in scenarios]
        name = str(r.get("airflow") or release)
        strategy = str(r.get("strategy") or "?")
        last = columns[-1] if columns else None
        if last and last[2] == cells and last[1] == strategy and _minor(last[0][-1]) == _minor(name):
            last[0].append(name)
        else:
            columns.append(([name], strategy, cells))
    out = []
    for releases, strategy, cells in columns:
        span = releases[0] if len(releases) == 1 else f"{releases[0]}-{releases[-1]}"
        out.append((f"{span} ({strategy})", cells))
    return out


def _minor(release: str) -> str:
    return ".".join(release.split(".")[:2])


def _render(rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return lines + ["| " + " | ".join(row) + " |" for row in rows[1:]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*rows[0]), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*row).rstrip() for row in rows[1:]
    ]


def table(results: list[tuple[str, dict[str, Any]]], markdown: bool) -> str:
    """The per-release summary, then scenario x release outcomes (identical patch releases merged)."""
    scenarios = sorted({name for _, r in results for name in r["scenarios"]})
    legend: dict[str, int] = {}
    groups = _groups(results, scenarios, legend)
    rows = [["scenario", *(title for title, _ in groups)]]
    rows += [[name, *(cells[i] for _, cells in groups)] for i, name in enumerate(scenarios)]
    footer = [f"≠[{n}]: declared difference `{d}`" for d, n in legend.items()]
    return "\n".join(
        [*_render(_summary(results, markdown), markdown), "", *_render(rows, markdown), "", *footer]
    )


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
        hint = "run `nox -t matrix` (or `-t matrix-full`) first"
        print(f"no behaviour-*.json in {str(args.directory)!r}; {hint}", file=sys.stderr)
        return 1
    print(table(results, args.markdown))
    axis = _provider_axis(args.directory)
    if axis:
        print()
        print("Provider axis (`nox -t provider-axis`): each minor's last release, oldest providers-standard")
        print("\n".join(_render(_provider_rows(axis), args.markdown)))
    extra = notes(results + [(f"{m} (providers-standard)", r) for m, r in axis])
    if extra:
        print()
        print("\n".join(extra))
    everything = results + axis
    bad = any(s["outcome"] in BAD for _, r in everything for s in r["scenarios"].values())
    return 1 if bad or any(r.get("exitstatus") for _, r in everything) else 0


if __name__ == "__main__":
    sys.exit(main())

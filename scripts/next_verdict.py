"""tests(next)'s verdict: which registry row covers the newest Airflow, whether the suite passed, what to add.

    python scripts/next_verdict.py RELEASE passed|failed|not-run [RESOLVED_PINS]

Run by the `tests(next)` nox session in its environment (the package installed: the registry is read
from it). RESOLVED_PINS, the session's resolution, is compared with the release's own pins file when
the matrix has one (what differs besides Airflow is printed, for a maintainer deciding whether to
re-pin). Exit status 0: the verdict is information; the session fails when the suite failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import airflow_matrix

ROOT = Path(__file__).resolve().parent.parent


def _pins(path: Path) -> dict[str, str]:
    pairs = (line.split("==", 1) for line in path.read_text().splitlines() if "==" in line and line[0] != "#")
    return {name.lower(): version.strip() for name, version in pairs}


def verdict(release: str, outcome: str, resolved: Path | None = None) -> list[str]:
    from airflow_trigger_compat._runtime._registry import REGISTRY, parse_airflow_version

    found = parse_airflow_version(release)
    row = next((e for e in REGISTRY if found.release in e.airflow), None)
    data = airflow_matrix.load()
    in_matrix = release in airflow_matrix.matrix_releases(data)
    pre = airflow_matrix.is_prerelease(release)
    covered = f"registry row {row.airflow} ({row.path}; durable: {row.keep}) covers it" if row else ""
    kind = " (a pre-release)" if pre else ""
    lines = [f"Airflow {release}{kind}: {covered or 'no registry row covers it'}."]
    if outcome == "not-run":
        lines.append(
            f"Behavioural suite: not run here; tests({release}) runs it in CI from "
            f"constraints/airflow-{release}.txt (CI=true: the same release is not run twice)."
        )
    else:
        lines.append(f"Behavioural suite: {outcome} on this resolution.")
    pins_file = ROOT / "constraints" / f"airflow-{release}.txt"
    if resolved is not None and in_matrix and pins_file.is_file():
        mine, got = _pins(pins_file), _pins(resolved)
        moved = sorted(f"{n} {mine[n]} -> {got[n]}" for n in mine.keys() & got.keys() if mine[n] != got[n])
        lines.append(
            f"Against constraints/airflow-{release}.txt: "
            + (f"{len(moved)} pin(s) differ: {', '.join(moved)}" if moved else "the same versions")
            + " (re-pin with scripts/update_constraints.py if a difference matters)."
        )
    todo: list[str] = []
    if in_matrix:
        todo.append(
            f"nothing to add to the matrix: constraints/releases.toml has {release} (tests({release}))"
        )
    elif pre:
        todo.append(
            f'add "{release}" to `prereleases` in constraints/releases.toml (it supersedes the older '
            f"pre-releases of {airflow_matrix.minor_of(release)}) and run "
            f"`python scripts/update_constraints.py {release}` (its pins file)"
        )
    else:
        todo.append(
            f'add "{release}" to `releases` in constraints/releases.toml (its minor\'s pre-releases then '
            f"leave the matrix) and run `python scripts/update_constraints.py {release}` (its pins file)"
        )
    if row is None:
        todo.append("the registry needs a row for it (docs/maintainers.md)")
    elif outcome == "failed":
        todo.append(
            "the registry needs a row or a feature gap for it (docs/maintainers.md), unless the failure is "
            "in the release itself"
        )
    elif outcome == "passed":
        todo.append("the registry needs no row")
    lines.append("To add: " + "; ".join(todo) + ".")
    return lines


def main(argv: list[str]) -> int:
    release, outcome = argv[0], argv[1]
    assert outcome in ("passed", "failed", "not-run"), outcome
    for line in verdict(release, outcome, Path(argv[2]) if len(argv) > 2 else None):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

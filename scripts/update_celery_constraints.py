"""Regenerate constraints/celery/airflow-<release>.txt: the crash test on Celery, one pinned env per Airflow.

Each file is the version's base environment (``constraints/airflow-*.txt``, used as a constraint, so every
package the base pins keeps its exact version and the base's per-version fixes carry over) plus what a
distributed deployment needs: the Celery provider (celery, kombu, the redis client), psycopg2 for the
PostgreSQL metadata database and result backend, and asyncpg, the driver Airflow 3 derives from a
``postgresql://`` connection for its async engine. Resolved with ``uv pip compile``; rerunnable.

    python scripts/update_celery_constraints.py             # every minor the celery sessions run
    python scripts/update_celery_constraints.py 3.3         # a subset, by minor
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import airflow_matrix
from update_constraints import PYTHON, TEST_REQUIREMENTS, _today, load_matrix, write_pins

REPO = Path(__file__).resolve().parent.parent

# Airflow minor -> exact release the live sessions run on Celery: `celery_minors` in
# constraints/releases.toml and the newest minor that can run it, each with its minor's release (the
# noxfile's CELERY_MATRIX is the same: scripts/airflow_matrix.celery_matrix()).
CELERY_AIRFLOW: dict[str, str] = airflow_matrix.celery_matrix()

# One Celery provider for every Airflow: 3.26.0 declares apache-airflow>=2.11.0 and celery[redis]>=5.5,<6.
CELERY_REQUIREMENTS = [
    "apache-airflow-providers-celery==3.26.0",
    "psycopg2-binary==2.9.11",
    "asyncpg>=0.30",
]

# Extra requirements for every celery environment, each with the reason it is needed (shown in the header).
CELERY_FIXES: list[tuple[str, str]] = [
    (
        "celery<5.7",
        "celery 5.7 drops celery.backends.database.retry, which the Celery provider 3.26.0 imports "
        "(ImportError: the CeleryExecutor and `airflow celery` do not load)",
    ),
]


def base_constraints(release: str) -> Path:
    """The release's base pins (``constraints/airflow-<release>.txt``)."""
    path = REPO / "constraints" / f"airflow-{release}.txt"
    if not path.exists():
        raise FileNotFoundError(
            f"no base constraints for Airflow {release}: run scripts/update_constraints.py"
        )
    return path


def compile_one(minor: str, out_dir: Path) -> Path:
    release = CELERY_AIRFLOW[minor]
    base = base_constraints(release)
    provider = f"apache-airflow-providers-standard=={load_matrix().provider_standard}"
    requirements = [f"apache-airflow=={release}", provider, *TEST_REQUIREMENTS, *CELERY_REQUIREMENTS]
    requirements += [req for req, _ in CELERY_FIXES]
    header = [
        f"# Pinned environment for the Celery crash test on Airflow {release} (Python {PYTHON}), generated",
        f"# by scripts/update_celery_constraints.py on {_today()} with `uv pip compile` from:",
        *(f"#   {req}" for req in requirements),
        f"# constrained by {base.relative_to(REPO)} (every package it pins keeps its version).",
        "# Fixes:",
        *(f"#   {req}: {reason}" for req, reason in CELERY_FIXES),
    ]
    return write_pins(out_dir / f"airflow-{release}.txt", requirements, header, constraint=base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "minors", nargs="*", metavar="MINOR", help=f"one of {', '.join(CELERY_AIRFLOW)}; default: all"
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.minors if m not in CELERY_AIRFLOW]
    if unknown:
        parser.error(f"unknown Airflow minor(s) {unknown!r}; known: {', '.join(CELERY_AIRFLOW)}")
    if shutil.which("uv") is None:
        print("uv is required: https://docs.astral.sh/uv/", file=sys.stderr)
        return 2
    out_dir = REPO / "constraints" / "celery"
    out_dir.mkdir(parents=True, exist_ok=True)
    for minor in args.minors or list(CELERY_AIRFLOW):
        print(f"airflow {CELERY_AIRFLOW[minor]}: {compile_one(minor, out_dir).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

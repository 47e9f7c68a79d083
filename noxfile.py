"""nox sessions for airflow-trigger-compat.

`nox --list` shows them. The Airflow matrix is data (`AIRFLOW_MATRIX`): each entry is an Airflow
minor, the exact patch release tested, and the constraints file that pins its whole environment.
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["unit"]

PYTHON = "3.11"

# Airflow minor -> exact release tested. One provider version for the whole matrix, so only Airflow varies.
AIRFLOW_MATRIX: dict[str, str] = {
    "2.11": "2.11.2",
    "3.0": "3.0.6",
    "3.1": "3.1.8",
    "3.2": "3.2.2",
    "3.3": "3.3.2",
}
AIRFLOW_IDS = list(AIRFLOW_MATRIX)


def constraints(airflow: str) -> str:
    return f"constraints/airflow-{airflow}.txt"


@nox.session(python=PYTHON, tags=["unit"])
def unit(session: nox.Session) -> None:
    """Unit tests: no Airflow installed."""
    session.install("-e", ".", "pytest>=8")
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session(python=PYTHON, tags=["matrix"])
@nox.parametrize("airflow", AIRFLOW_IDS, ids=AIRFLOW_IDS)
def tests(session: nox.Session, airflow: str) -> None:
    """Behavioural tests inside one real Airflow (exact pins), JSON result in results/."""
    # Exactly the pins: install the lock file, then the package itself without touching its deps.
    session.install("-r", constraints(airflow))
    session.install("--no-deps", "-e", ".")
    session.run(
        "pytest",
        "tests/behaviour",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={
            "AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW": AIRFLOW_MATRIX[airflow],
            "AIRFLOW_TRIGGER_COMPAT_RESULTS": f"results/behaviour-{airflow}.json",
        },
    )


@nox.session(python=False)
def matrix_table(session: nox.Session) -> None:
    """Print Airflow version x strategy x scenario outcomes from results/behaviour-*.json."""
    session.run("python", "scripts/matrix_table.py", *session.posargs)

"""nox sessions for airflow-trigger-compat.

`nox --list` shows them. The Airflow matrix is data (constraints/releases.toml): every release in the
supported range, and the pre-release of a minor with no final release yet, has a `tests(<release>)`
session and a pins file; CI runs the first and the last release of each minor (`-t ci`), `-t matrix-full`
runs them all. scripts/airflow_matrix.py reads the file for this noxfile and for tox.ini's generator.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().with_name("scripts")))
import airflow_matrix

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["unit"]

PYTHON = "3.11"

# The Airflow matrix is data: constraints/releases.toml lists every release in the supported range (one
# fully pinned environment each, constraints/airflow-<release>.txt, made by scripts/update_constraints.py)
# and declares the ones that cannot be installed, with the reason.
# A pre-release (`prereleases`) is in the matrix until its minor's final release, or a newer pre-release
# of the minor, is listed: tested, not claimed as supported.
_MATRIX = airflow_matrix.load()
UNAVAILABLE: dict[str, str] = dict(_MATRIX.get("unavailable", {}))
#: Releases whose tests(<release>) session runs the live crash test, because the behavioural suite cannot.
NO_BEHAVIOUR: dict[str, str] = dict(_MATRIX.get("behaviour_unavailable", {}))
AIRFLOW_RELEASES: list[str] = airflow_matrix.matrix_releases(_MATRIX)
_minor = airflow_matrix.minor_of
#: Minor -> the release the minor-keyed sessions (live, provider, bench, demo) run: its last patch (a minor
#: with no final release yet: its newest pre-release).
AIRFLOW_MATRIX: dict[str, str] = airflow_matrix.minor_releases(_MATRIX)
AIRFLOW_IDS = list(AIRFLOW_MATRIX)
#: What CI runs of the behavioural matrix: the first and the last release of each minor.
CI_RELEASES: list[str] = airflow_matrix.ci_releases(_MATRIX)


def _stream(release: str) -> str:
    """CI runs two streams side by side (.ci/run): live Airflow deployments, and everything in-process."""
    return "ci-live" if release in NO_BEHAVIOUR else "ci-matrix"


def constraints(airflow: str) -> str:
    """The pins file for a release, or for a minor's last patch release."""
    return f"constraints/airflow-{AIRFLOW_MATRIX.get(airflow, airflow)}.txt"


# The behavioural suite's property-based fuzz (tests/behaviour/test_fuzz.py), beside each Airflow's pins.
FUZZ = ["hypothesis==6.155.2", "sortedcontainers==2.4.0"]


#: The Pythons the package is tested on (pyproject's classifiers). CI's machine has only PYTHON, so CI runs
#: unit(3.11); `nox -s unit` runs all four (uv fetches a missing interpreter where it can download one).
UNIT_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session
@nox.parametrize(
    "python",
    [nox.param(p, id=p, tags=["unit", *(["ci", "ci-matrix"] if p == PYTHON else [])]) for p in UNIT_PYTHONS],
)
def unit(session: nox.Session) -> None:
    """Unit tests: no Airflow installed."""
    session.install("-e", ".", "pytest>=8", "tomli>=2; python_version < '3.11'")  # tomli: test_tox on 3.10
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session(python=PYTHON, tags=["lint", "ci", "ci-matrix"])
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy --strict on the package."""
    # Exact tool versions: a new ruff release may format differently, and CI must not drift.
    session.install("-e", ".", "ruff==0.17.6", "mypy==2.4.1", "pytest>=8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=PYTHON, tags=["package", "ci", "ci-matrix"])
def package(session: nox.Session) -> None:
    """The release as README installs it: sdist and wheel built, twine-checked, the wheel in a clean venv."""
    import shutil
    import tempfile

    session.install("build==1.6.1", "twine==7.0.0")
    # Outside the checkout, so nothing imports the source tree instead of what was installed.
    tmp = Path(tempfile.mkdtemp(prefix="package-"))
    try:
        session.run("python", "-m", "build", "--outdir", str(tmp / "dist"), ".")  # the wheel from the sdist
        dists = sorted(str(p) for p in (tmp / "dist").iterdir())
        session.run("twine", "check", "--strict", *dists)
        (wheel,) = [d for d in dists if d.endswith(".whl")]
        python = str(tmp / "venv" / "bin" / "python")
        session.run("uv", "venv", "--quiet", "--python", PYTHON, str(tmp / "venv"), external=True)
        # README's install line: the wheel, into an environment with the newest final release's pins.
        pins = ["-r", constraints(_MATRIX["releases"][-1])]
        session.run("uv", "pip", "install", "--quiet", "--python", python, *pins, wheel, external=True)
        check = (
            "from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator as Stock\n"
            "import airflow_trigger_compat as compat\n"
            "assert issubclass(compat.TriggerDagRunOperator, Stock)\n"
            "assert 'site-packages' in compat.__file__, compat.__file__\n"
            "print(compat.select_row().entry.path, compat.__file__)\n"
        )
        session.run(python, "-c", check, external=True)
        session.run(python, "-m", "airflow_trigger_compat", "info", external=True)
    finally:
        shutil.rmtree(tmp)


#: The benchmarks' minors: the newest, and 3.1 (the runner_exception path most installs run today).
BENCH_IDS = [AIRFLOW_IDS[-1], "3.1"]


@nox.session(python=PYTHON, tags=["bench", "ci", "ci-matrix"])
@nox.parametrize("airflow", BENCH_IDS, ids=BENCH_IDS)
def bench(session: nox.Session, airflow: str) -> None:
    """Benchmarks: shim vs stock whole trigger, cached lookup, import time (figures, not assertions)."""
    session.install("-r", constraints(airflow))
    session.install("--no-deps", "-e", ".")
    home = os.path.abspath(session.create_tmp())  # Airflow refuses a relative SQLite path
    session.run(
        "python",
        "benchmarks/bench_trigger.py",
        env={"AIRFLOW_HOME": home, "BENCH_RESULT": f"results/bench-{airflow}.json"},
    )


@nox.session(python=PYTHON, venv_backend="uv", reuse_venv=True)
@nox.parametrize(
    "airflow",
    [
        nox.param(r, id=r, tags=["matrix-full", *(["matrix", "ci", _stream(r)] if r in CI_RELEASES else [])])
        for r in AIRFLOW_RELEASES
    ],
)
def tests(session: nox.Session, airflow: str) -> None:
    """Behavioural tests inside one real Airflow release (exact pins), JSON result in results/."""
    if airflow in NO_BEHAVIOUR:  # declared in constraints/releases.toml, with the reason
        session.log(f"Airflow {airflow}: no behavioural suite ({NO_BEHAVIOUR[airflow]}); the live crash test")
        _install_pinned(session, airflow)
        env = {"E2E_AIRFLOW_MINOR": _minor(airflow), "E2E_RESULTS": f"results/e2e-{airflow}.json"}
        _crash_test(session, env, *session.posargs)
        return
    _behaviour_suite(
        session,
        constraints(airflow),
        {
            "AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW": airflow,
            "AIRFLOW_TRIGGER_COMPAT_RESULTS": f"results/behaviour-{airflow}.json",
        },
    )


#: tests(next) resolves what `pip install --pre apache-airflow` resolves: the newest release on the package
#: index, pre-releases included, for Airflow and everything it pulls in (uv's default,
#: if-necessary-or-explicit, kept Airflow at the newest final release: issue 26). tests/unit/test_next.py
#: checks this setting against a fixture index.
NEXT_PRERELEASE = "allow"
#: What tests(next) resolves, together with FUZZ: Airflow and its standard provider unpinned, and the
#: test runner the suite needs (the pins files' pytest, scripts/update_constraints.py TEST_REQUIREMENTS).
NEXT_REQUIREMENTS = ["apache-airflow", "apache-airflow-providers-standard", "pytest>=8,<10"]


@nox.session(
    python=PYTHON, venv_backend="uv", reuse_venv=False, name="tests(next)", tags=["next", "ci", "ci-matrix"]
)
def tests_next(session: nox.Session) -> None:
    """Behavioural tests on the newest apache-airflow, pre-releases included, unpinned: what to add?

    Resolves NEXT_REQUIREMENTS and FUZZ with NEXT_PRERELEASE, installs exactly that resolution into a fresh
    environment (pytest included) and runs the suite with that environment's pytest; then
    scripts/next_verdict.py says which registry row covers the release, whether the suite passed, and what
    to add. Under CI=true, when the resolution is a release CI already runs from its pins
    (`tests(<release>)`), the suite is not run a second time: the verdict says so.
    """
    tmp = Path(session.create_tmp()).resolve()
    wanted, resolved = tmp / "next.in", tmp / "next.txt"
    wanted.write_text("\n".join([*NEXT_REQUIREMENTS, *FUZZ]) + "\n")
    # fmt: off
    session.run(
        "uv", "pip", "compile", str(wanted), "--prerelease", NEXT_PRERELEASE, "--python-version", PYTHON,
        "--output-file", str(resolved), "--no-header", "--no-annotate", "--quiet", external=True,
    )
    # fmt: on
    pins = dict(line.split("==", 1) for line in resolved.read_text().splitlines() if "==" in line)
    airflow, provider = pins["apache-airflow"], pins["apache-airflow-providers-standard"]
    session.log(f"resolved: apache-airflow {airflow}, apache-airflow-providers-standard {provider}")
    verdict = ["python", "scripts/next_verdict.py", airflow]
    if os.environ.get("CI") == "true" and airflow in CI_RELEASES and airflow not in NO_BEHAVIOUR:
        session.install(
            "-e", "."
        )  # the registry (and packaging), for the verdict; the suite ran in tests(...)
        session.run(*verdict, "not-run", str(resolved))
        return
    outcome = "passed"
    try:
        env = {"AIRFLOW_TRIGGER_COMPAT_RESULTS": "results/next.json", "AIRFLOW_TRIGGER_COMPAT_RUN": "next"}
        _behaviour_suite(session, str(resolved), {**env, "AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW": airflow})
    except nox.command.CommandFailed:
        outcome = "failed"
    session.run(*verdict, outcome, str(resolved))
    if outcome == "failed":
        session.error("the behavioural suite failed on the newest Airflow (above)")


def _behaviour_suite(session: nox.Session, pins: str, env: dict[str, str]) -> None:
    """Install exactly ``pins`` (then the package, without touching its deps) and run tests/behaviour."""
    session.install("-r", pins, *FUZZ)
    session.install("--no-deps", "-e", ".")
    _run_behaviour(session, env)


def _run_behaviour(session: nox.Session, env: dict[str, str]) -> None:
    """Run tests/behaviour in this session's environment, as installed."""
    # What a maintainer sees on this install: the version, the strategy and why, the features.
    session.run("python", "-m", "airflow_trigger_compat", "info")
    # `python -m pytest`: this environment's pytest (the pins carry it), never one found elsewhere on PATH.
    session.run(
        "python", "-m", "pytest", "tests/behaviour", "-p", "no:cacheprovider", *session.posargs, env=env
    )


def _crash_test(session: nox.Session, env: dict[str, str], *extra: str) -> None:
    """Run the live crash test on LocalExecutor (tests/live, marker ``local``) in this session's Airflow."""
    session.run("pytest", "tests/live", "-m", "local", "-p", "no:cacheprovider", "-s", *extra, env=env)


#: The Task SDK built with the accessor patch (patches/apache-airflow-task-sdk-1.4.0b2-accessor.patch),
#: and the Airflow release whose pins it replaces the Task SDK of.
ACCESSOR_SDK, ACCESSOR_AIRFLOW = "1.4.0b2+accessor", "3.4.0b2"


@nox.session(python=PYTHON, venv_backend="uv", reuse_venv=True, tags=["accessor", "ci", "ci-live"])
def accessor(session: nox.Session) -> None:
    """Airflow 3.4.0b2 with the Task SDK built with ``ti.trigger_dag_run()`` (apache/airflow#69135).

    tests/accessor/run_sdk_tests.sh builds apache-airflow-task-sdk 1.4.0b2+accessor from the release's
    sdist and the patch (tests/accessor/build_task_sdk.py) and runs the Task SDK's own tests on it, in an
    environment of its own; the wheel then replaces the pinned Task SDK here, where durable=True triggers
    through the accessor: the behavioural suite and the live crash test (LocalExecutor) run on it.
    """
    scratch = Path(session.create_tmp()).resolve() / "task-sdk"
    # Its own environments: without nox's UV_PYTHON, which would point its uv at this session's venv.
    unset = ["env", "-u", "UV_PYTHON", "-u", "UV_PROJECT_ENVIRONMENT", "-u", "VIRTUAL_ENV"]
    sdk_tests = ["bash", "tests/accessor/run_sdk_tests.sh", "patched"]
    session.run(*unset, *sdk_tests, env={"SCRATCH": str(scratch)}, external=True)
    wheel = (scratch / "build.log").read_text().splitlines()[-1]  # build_task_sdk.py prints it last
    session.install("-r", constraints(ACCESSOR_AIRFLOW), *FUZZ, *E2E_EXTRA)
    session.install("--no-deps", "-e", ".")
    # --no-cache: a rebuilt wheel keeps its name and version
    session.install("--no-deps", "--no-cache", "--reinstall-package", "apache-airflow-task-sdk", wheel)
    probe = (
        "from importlib.metadata import version\n"
        "from airflow_trigger_compat._runtime._airflow import has_trigger_accessor\n"
        f"assert version('apache-airflow-task-sdk') == {ACCESSOR_SDK!r}, version('apache-airflow-task-sdk')\n"
        "assert has_trigger_accessor(), 'has_trigger_accessor() is False with the built Task SDK'\n"
    )
    session.run("python", "-c", probe)
    name = f"{ACCESSOR_AIRFLOW}+accessor"
    _run_behaviour(
        session,
        {
            "AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW": ACCESSOR_AIRFLOW,
            "AIRFLOW_TRIGGER_COMPAT_EXPECT_TASK_SDK": ACCESSOR_SDK,
            "AIRFLOW_TRIGGER_COMPAT_RESULTS": f"results/behaviour-{name}.json",
            "AIRFLOW_TRIGGER_COMPAT_RUN": "accessor",
        },
    )
    minor = _minor(ACCESSOR_AIRFLOW)
    env = {"E2E_AIRFLOW_MINOR": minor, "E2E_RESULTS": f"results/e2e-{minor}+accessor.json"}
    _crash_test(session, env | {"E2E_RUN": "accessor-local"}, *session.posargs)


#: Minor -> the oldest apache-airflow-providers-standard run with its last release (the provider axis).
OLDEST_PROVIDER: dict[str, str] = dict(_MATRIX.get("oldest_provider_standard", {}))


#: Minors whose oldest_provider session CI does not run, each with the reason (`nox -t provider-axis` runs
#: them all), to keep CI within its budget with 3.4 in the matrix (docs/development.md).
OLDEST_PROVIDER_NOT_IN_CI: dict[str, str] = {
    "3.3": "the same floor (1.10.0) and the same registry row (>=3.3,<4.0) as 3.4, which CI runs with it",
}


@nox.session(python=PYTHON, venv_backend="uv", reuse_venv=True)
@nox.parametrize(
    "airflow",
    [
        nox.param(
            m, id=m, tags=["provider-axis", *([] if m in OLDEST_PROVIDER_NOT_IN_CI else ["ci", "ci-matrix"])]
        )
        for m in OLDEST_PROVIDER
    ],
)
def oldest_provider(session: nox.Session, airflow: str) -> None:
    """Behavioural tests with the oldest apache-airflow-providers-standard that runs with this Airflow.

    The drop-in subclasses whatever provider is installed; the parity suite's oracle is that provider's
    operator. What it lacks is declared (_differences.PROVIDER_PARAMETERS, older-provider-parameters).
    """
    release, provider = AIRFLOW_MATRIX[airflow], OLDEST_PROVIDER[airflow]
    _behaviour_suite(
        session,
        f"constraints/airflow-{release}-standard-{provider}.txt",
        {
            "AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW": release,
            "AIRFLOW_TRIGGER_COMPAT_EXPECT_PROVIDER": provider,
            "AIRFLOW_TRIGGER_COMPAT_RESULTS": f"results/oldest-provider-{airflow}.json",
        },
    )


@nox.session(python=False, tags=["ci", "ci-matrix"])
def matrix_table(session: nox.Session) -> None:
    """Print Airflow version x strategy x scenario outcomes from results/ (the behavioural matrix)."""
    session.run(sys.executable, "scripts/results_table.py", "--only", "matrix", *session.posargs)


# psycopg2 for the crash test's PostgreSQL (LocalExecutor refuses SQLite on Airflow 2; on 3.x concurrent
# cases contend for SQLite's one write lock); not in the lock files because only the live sessions need it.
E2E_EXTRA = ["psycopg2-binary==2.9.11", "asyncpg==0.31.0"]  # asyncpg: Airflow 3's async engine


def _install_pinned(session: nox.Session, airflow: str) -> None:
    session.install("-r", constraints(airflow), *E2E_EXTRA)
    session.install("--no-deps", "-e", ".")


# The crash test on a distributed deployment: Airflow minor -> exact release, pinned with the Celery
# provider in constraints/celery/airflow-<release>.txt (scripts/update_celery_constraints.py). Those pins are
# the minor's own (constraints/airflow-<release>.txt) plus the Celery provider and what it needs, so one
# environment runs both executors.
# The minors: `celery_minors` in constraints/releases.toml, and the newest minor whose release can run it
# (not in its [celery_unavailable]): 2.11, 3.1, 3.3 while 3.4.0b2 cannot; a 3.4 release that can moves it.
CELERY_MATRIX: dict[str, str] = airflow_matrix.celery_matrix(_MATRIX)


@nox.session(python=PYTHON, venv_backend="uv", reuse_venv=True)
@nox.parametrize(
    "airflow",
    [
        nox.param(m, id=m, tags=["live", "e2e", "ci", "ci-live", *(["celery"] if m in CELERY_MATRIX else [])])
        for m in AIRFLOW_IDS
    ],
)
def live(session: nox.Session, airflow: str) -> None:
    """Live crash tests: real scheduler, real SIGKILLs, child runs counted; LocalExecutor, and Celery on some.

    One venv and one PostgreSQL (installed with apt-get if missing) per minor. LocalExecutor: every case at
    once on one scheduler (``-m local``). CeleryExecutor (CELERY_MATRIX: 2.11, 3.1, 3.3 today;
    ``-m celery``): Redis, two workers, workers and the scheduler killed, a load case. Tables printed and
    written to results/e2e-<minor>.json and results/celery-<minor>.json. ``-- -k durable`` etc. go to pytest.
    """
    if airflow in CELERY_MATRIX:
        session.install("-r", f"constraints/celery/airflow-{CELERY_MATRIX[airflow]}.txt")
        session.install("--no-deps", "-e", ".")
    else:
        _install_pinned(session, airflow)
    only = [] if airflow in CELERY_MATRIX else ["-m", "local"]  # the Celery provider is not installed there
    env = {"E2E_AIRFLOW_MINOR": airflow}
    session.run("pytest", "tests/live", *only, "-p", "no:cacheprovider", "-s", *session.posargs, env=env)


@nox.session(python=False, tags=["ci", "ci-live"])
def crash_table(session: nox.Session) -> None:
    """Print the crash test for every version (child runs per parent run) from results/."""
    session.run(sys.executable, "scripts/results_table.py", "--only", "crash", *session.posargs)


@nox.session(python=PYTHON, venv_backend="uv", reuse_venv=True)
def demo(session: nox.Session) -> None:
    """Watch it: Airflow 3.3, a stock and a durable parent's worker SIGKILLed mid-wait: 2 child runs vs 1."""
    _install_pinned(session, "3.3")
    session.run("python", "tests/live/demo.py", *session.posargs, env={"E2E_DATABASE": "sqlite"})


# The oldest and the newest minor of the matrix: the two ends a provider's vendored copy must work on.
PROVIDER_IDS = [AIRFLOW_IDS[0], AIRFLOW_IDS[-1]]
# The copy inside the patched provider, and the provider's own operator (tests/vendoring/provider.py).
PROVIDER_COPY = "airflow.providers.standard._vendor.airflow_trigger_compat"
PROVIDER_OPERATOR = "airflow.providers.standard.operators.trigger_dagrun:TriggerDagRunOperator"


# The newest minor's session runs the durable crash cases on a live deployment: in the live stream, so CI
# runs one deployment at a time.
@nox.session(python=PYTHON, venv_backend="uv")
@nox.parametrize(
    "airflow",
    [
        nox.param(a, id=a, tags=["provider", "ci", "ci-live" if a == AIRFLOW_IDS[-1] else "ci-matrix"])
        for a in PROVIDER_IDS
    ],
)
def provider(session: nox.Session, airflow: str) -> None:
    """Behavioural tests (and on the newest minor the durable crash cases) through the real provider, patched.

    tests/vendoring/provider.py downloads the apache-airflow-providers-standard 1.21.0 sdist, runs `vendor`
    into it, applies patches/apache-airflow-providers-standard-1.21.0-{1-vendor,2-durable}.patch in order
    and builds the wheel, which replaces the pinned provider. airflow-trigger-compat itself is not
    installed here.
    """
    # pip: downloads the sdist, builds the wheel; psycopg2: the durable crash cases' PostgreSQL
    session.install("-r", constraints(airflow), *FUZZ, *E2E_EXTRA, "pip")
    tmp = Path(session.create_tmp()).resolve()
    session.run("python", "tests/vendoring/provider.py", "build", str(tmp / "provider"))
    wheels = [str(w) for w in (tmp / "provider" / "dist").glob("*.whl")]
    # --no-cache: the rebuilt wheel has the pinned wheel's name and version; a reused env must not get a
    # cached build of an older copy.
    session.install(
        "--no-deps", "--no-cache", "--reinstall-package", "apache-airflow-providers-standard", *wheels
    )
    session.run("python", "tests/vendoring/provider.py", "check")  # the drift check, on the installed copy
    env = {
        "AIRFLOW_HOME": str(tmp / "airflow-home"),
        "AIRFLOW_TRIGGER_COMPAT_PACKAGE": PROVIDER_COPY,
        "AIRFLOW_TRIGGER_COMPAT_OPERATOR": PROVIDER_OPERATOR,
        # The parity suite's oracle: the provider's unpatched operator, kept by the build beside the wheel.
        "PYTHONPATH": str(tmp / "provider" / "oracle"),
        "AIRFLOW_TRIGGER_COMPAT_STOCK_OPERATOR": "stock_trigger_dagrun:TriggerDagRunOperator",
        "AIRFLOW_TRIGGER_COMPAT_EXPECT_AIRFLOW": AIRFLOW_MATRIX[airflow],
        "AIRFLOW_TRIGGER_COMPAT_RESULTS": f"results/provider-{airflow}.json",
    }
    # Only the provider's copy may answer: an installed airflow_trigger_compat would hide a broken copy.
    not_installed = "import importlib.util as u; assert u.find_spec('airflow_trigger_compat') is None"
    session.run("python", "-c", not_installed, env=env)
    # A vendored copy has no CLI; its select_row() says which path this Airflow takes, and from where.
    show = f"from {PROVIDER_COPY} import select_row as s; x = s(); print(x.reason, x.entry, s.__module__)"
    session.run("python", "-c", show, env=env)
    session.run("pytest", "tests/behaviour", "-p", "no:cacheprovider", *session.posargs, env=env)
    if airflow == AIRFLOW_IDS[-1]:  # durable needs 3.3+: the crash test's durable cases, through the provider
        e2e_env = {"E2E_AIRFLOW_MINOR": airflow, "E2E_RESULTS": f"results/provider-e2e-{airflow}.json"}
        e2e_env |= {"E2E_SHIM_PACKAGE": PROVIDER_COPY, "E2E_SHIM_OPERATOR": PROVIDER_OPERATOR}
        _crash_test(session, e2e_env, "-k", "durable")


#: In-process, but half of them run in the live stream, after its deployments, to even the two streams'
#: times (about 8 minutes each half; docs/development.md).
_UPSTREAM_IN_LIVE = {"2.11", "3.1", "3.3"}


@nox.session(python=False)
@nox.parametrize(
    "airflow",
    [
        nox.param(a, id=a, tags=["upstream", "ci", "ci-live" if a in _UPSTREAM_IN_LIVE else "ci-matrix"])
        for a in AIRFLOW_IDS
    ],
)
def upstream(session: nox.Session, airflow: str) -> None:
    """The standard provider's own test_trigger_dagrun.py on the minor's last release (tests/upstream/).

    Against the released provider, the drop-in class, the patched provider (with the tests the patches add),
    and each mutation of durable=True (tests/upstream/mutate.py). Fails when stock fails a test, when the
    drop-in or the patched provider fails or lacks a test stock passes, or when a mutation passes.
    """
    scratch = Path(session.create_tmp()).resolve() / "upstream"
    session.run(
        "bash", "tests/upstream/run.sh", AIRFLOW_MATRIX[airflow], "stock", "shim", "patched", "mutants",
        env={"SCRATCH": str(scratch), "STRICT": "1"}, external=True,
    )  # fmt: skip


@nox.session(python=False, tags=["accessor", "ci", "ci-matrix"])
def upstream_accessor(session: nox.Session) -> None:
    """The provider's own test_trigger_dagrun.py on Airflow 3.4.0b2 with the accessor-built Task SDK.

    tests/accessor/build_task_sdk.py builds apache-airflow-task-sdk 1.4.0b2+accessor; tests/upstream/run.sh
    puts it over the pinned Task SDK (TASK_SDK_WHEEL) and runs stock, shim, patched and the mutants, STRICT=1
    as upstream(<minor>) does: there durable=True triggers through ``ti.trigger_dag_run()`` and waits.
    """
    scratch = Path(session.create_tmp()).resolve() / "upstream-accessor"
    scratch.mkdir(parents=True, exist_ok=True)
    # Its own environments: without nox's UV_PYTHON, which would point their uv at another venv.
    unset = ["env", "-u", "UV_PYTHON", "-u", "UV_PROJECT_ENVIRONMENT", "-u", "VIRTUAL_ENV"]
    # build_task_sdk.py needs pip (download, wheel): a plain venv of its own has it
    python = str(scratch / "build-venv" / "bin" / "python")
    session.run("python3", "-m", "venv", str(scratch / "build-venv"), external=True)
    build = ["tests/accessor/build_task_sdk.py", str(scratch / "task-sdk")]
    out = session.run(*unset, python, *build, silent=True, external=True)
    wheel = str(out).strip().splitlines()[-1]  # build_task_sdk.py prints it last
    if not wheel.endswith(f"-{ACCESSOR_SDK}-py3-none-any.whl"):
        session.error(f"build_task_sdk.py: not the {ACCESSOR_SDK} wheel: {wheel}")
    session.run(
        *unset, "bash", "tests/upstream/run.sh", ACCESSOR_AIRFLOW, "stock", "shim", "patched", "mutants",
        env={"SCRATCH": str(scratch), "STRICT": "1", "TASK_SDK_WHEEL": wheel}, external=True,
    )  # fmt: skip


@nox.session(python=False, tags=["celery", "ci", "ci-live"])
def celery_table(session: nox.Session) -> None:
    """Print the crash test on Celery for every version from results/."""
    session.run(sys.executable, "scripts/results_table.py", "--only", "celery", *session.posargs)


@nox.session(python=PYTHON)
def policy(session: nox.Session) -> None:
    """Refresh the policy report's data (_policy.json: provider sdist, unit-test trace, results) and chart."""
    # matplotlib draws docs/policy-timeline.svg here only: it is never a dependency of the package.
    session.install("-e", ".", "pytest>=8", "matplotlib==3.11.2")
    session.run("python", "scripts/update_policy_data.py", *session.posargs)
    session.run("python", "scripts/policy_chart.py")


@nox.session(python=PYTHON, tags=["lint", "ci", "ci-matrix"])
def airflow_rules(session: nox.Session) -> None:
    """Airflow's ruff and mypy rules, `_vendor` not excluded, on the provider as the pull request leaves it.

    tests/vendoring/airflow_rules/pyproject.toml is apache/airflow's root configuration at a pinned commit,
    less its `_vendor` exclusions; it goes to the root of a scratch tree shaped like the monorepo, with the
    real providers-standard 1.21.0 source at providers/standard, vendored with the command
    docs/maintainers.md gives and patched (tests/vendoring/provider.py source). ruff and mypy at Airflow's
    pins check the copy; ruff checks the files the patches change (mypy would need Airflow installed).
    """
    import shutil
    import tempfile

    session.install("-e", ".", "ruff==0.14.14", "mypy==1.19.1", "pip")
    # Outside this checkout: ruff skips what its .gitignore lists and, by default, anything under .nox.
    root = Path(tempfile.mkdtemp(prefix="airflow_rules-")).resolve()
    source = session.run("python", "tests/vendoring/provider.py", "source", str(root / "work"), silent=True)
    (root / "providers").mkdir()
    Path(str(source).strip().splitlines()[-1]).rename(root / "providers" / "standard")
    shutil.copy("tests/vendoring/airflow_rules/pyproject.toml", root / "pyproject.toml")
    package = "providers/standard/src/airflow/providers/standard"
    # Every file by name, so a path ruff would skip fails loudly instead of passing with nothing checked.
    copy = sorted(str(p.relative_to(root)) for p in (root / package / "_vendor").rglob("*.py"))
    patched = [
        f"{package}/operators/trigger_dagrun.py",
        f"{package}/exceptions.py",
        "providers/standard/tests/unit/standard/operators/test_trigger_dagrun.py",
    ]
    # mypy checks the copy alone: the provider's own __init__ imports Airflow, which is not installed here.
    (root / package / "__init__.py").write_text("from __future__ import annotations\n")
    with session.chdir(root):
        session.run("ruff", "check", "--no-cache", *copy, *patched)
        session.run("ruff", "format", "--no-cache", "--check", *copy, *patched)
        # Airflow's lowest Python (requires-python >=3.10 at the pinned commit).
        session.run("mypy", "--python-version", "3.10", "--cache-dir", str(root / ".mypy_cache"), *copy)
    shutil.rmtree(root)

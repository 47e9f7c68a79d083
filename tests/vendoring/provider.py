"""Build the real apache-airflow-providers-standard 1.21.0 with airflow-trigger-compat vendored into it.

    python tests/vendoring/provider.py build WORKDIR   # -> WORKDIR/dist/<the provider's wheel>
    python tests/vendoring/provider.py source WORKDIR  # the patched source tree only (no wheel)
    python tests/vendoring/provider.py check           # the installed provider's copy has not drifted

``build`` takes the provider's source distribution from PyPI (``pip download --no-binary :all:``), runs
``python -m airflow_trigger_compat vendor`` into ``src/airflow/providers/standard/_vendor/``, applies the
pull request's two patches in order with ``git apply`` (``PATCHES``: ``...-1.21.0-1-vendor.patch``, the
operator runs through the copy and validates early; ``...-1.21.0-2-durable.patch``, ``durable=True``;
each changes the operator, its tests and its docs), and builds the wheel with ``pip wheel`` (the sdist's
own backend, flit_core). ``check`` runs ``vendor --check`` on the copy inside
the installed wheel: what the provider's CI would run on its source tree.

The vendor tool runs from this checkout's ``src/`` (``PYTHONPATH``), so the environment that builds and
then runs the provider need not, and for the ``provider`` nox session must not, install this package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = "apache-airflow-providers-standard"
VERSION = "1.21.0"
#: The pull request, as a reviewer reads it: applied in this order.
PATCHES = [
    REPO / "patches" / f"{DISTRIBUTION}-{VERSION}-1-vendor.patch",
    REPO / "patches" / f"{DISTRIBUTION}-{VERSION}-2-durable.patch",
]
VENDOR_DIR = "src/airflow/providers/standard/_vendor"
#: The copy's import name (the patch imports it; the nox session points the tests at it).
PACKAGE = "airflow.providers.standard._vendor.airflow_trigger_compat"
VENDOR = [sys.executable, "-m", "airflow_trigger_compat", "vendor"]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def _run(argv: list[str], cwd: Path | None = None, tool: bool = False) -> None:
    """Run a step; ``tool`` puts this checkout's package on the path for it (and only for it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")} if tool else None
    print(f"+ {' '.join(argv)}", flush=True)
    subprocess.run(argv, cwd=cwd, env=env, check=True)


def source(work: Path) -> Path:
    """Download and unpack the sdist, vendor, keep the oracle, patch; returns the patched source tree."""
    if work.exists():
        shutil.rmtree(work)
    (work / "sdist").mkdir(parents=True)
    requirement = f"{DISTRIBUTION}=={VERSION}"
    _run([*PIP, "download", "--no-deps", "--no-binary", ":all:", requirement, "-d", str(work / "sdist")])
    (sdist,) = (work / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        # The "data" filter refuses links and paths outside the target (Python 3.11.4+; earlier has none).
        archive.extractall(work, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (root,) = (p for p in work.iterdir() if p.is_dir() and p.name != "sdist")
    # The command docs/maintainers.md gives: the host defaults to the provider's distribution.
    _run([*VENDOR, "--into", VENDOR_DIR, "--package", PACKAGE], root, tool=True)
    _keep_the_oracle(root, work / "oracle")
    _apply_patches(root)
    return root


def build(work: Path) -> Path:
    """Download, vendor, patch and build; returns the wheel."""
    root = source(work)
    _run([*PIP, "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(root)])
    (wheel,) = (work / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    copy = VENDOR_DIR.removeprefix("src/") + "/airflow_trigger_compat"
    missing = {f"{copy}/{n}" for n in ("vendored.json", "LICENSE", "__init__.py", "_host.py")} - names
    if missing:
        raise SystemExit(f"{wheel.name} lacks {sorted(missing)}")
    print(f"built {wheel}", flush=True)
    return wheel


def _apply_patches(root: Path) -> None:
    """``git apply`` the patches to the unpacked sdist in order, and fail unless they changed the operator.

    The sdist may be unpacked inside another git checkout (a nox env dir in this repository): git would
    then resolve the patch's paths against that checkout and skip them, exiting 0. The ceiling stops
    git's repository discovery at the sdist's parent, so the paths are the sdist's own.
    """
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}
    for patch in PATCHES:
        print(f"+ git apply --verbose {patch}", flush=True)
        subprocess.run(["git", "apply", "--verbose", str(patch)], cwd=root, env=env, check=True)
    operator = (root / "src/airflow/providers/standard/operators/trigger_dagrun.py").read_text()
    for marker in ("execute_trigger(self, context)", "durable: bool = False"):
        if marker not in operator:
            raise SystemExit(f"the patches did not apply to {root}: the operator lacks {marker!r}")


#: The unpatched operator module, importable beside the patched provider: the parity suite's oracle.
ORACLE_MODULE = "stock_trigger_dagrun"
ORACLE_OPERATOR = f"{ORACLE_MODULE}:TriggerDagRunOperator"


def _keep_the_oracle(root: Path, oracle: Path) -> None:
    """Save the provider's own, unpatched ``trigger_dagrun.py`` as a module of its own.

    The installed provider is the patched one, so the stock operator the parity suite compares with comes
    from here. It shares the installed module's classes that callers and Airflow see by identity: the
    ``TriggerDagRunLink`` Airflow knows, and the ``DagIsPaused`` the operators raise.
    """
    source = root / "src/airflow/providers/standard/operators/trigger_dagrun.py"
    oracle.mkdir(parents=True, exist_ok=True)
    shared_link = (
        "\n\n# The parity suite's oracle: the classes seen by identity are the installed provider's.\n"
        "from airflow.providers.standard.operators.trigger_dagrun import (  # noqa: E402\n"
        "    DagIsPaused,\n    TriggerDagRunLink,\n)\n\n"
        "TriggerDagRunOperator.operator_extra_links = [TriggerDagRunLink()]\n"
    )
    (oracle / f"{ORACLE_MODULE}.py").write_text(source.read_text() + shared_link)


def check() -> None:
    """``vendor --check`` on the copy in the installed provider (found on disk; Airflow is not imported)."""
    installed = Path(sysconfig.get_paths()["purelib"]) / VENDOR_DIR.removeprefix("src/")
    _run([*VENDOR, "--check", str(installed)], tool=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="download, vendor, patch, build").add_argument("work", type=Path)
    commands.add_parser("source", help="download, vendor, patch").add_argument("work", type=Path)
    commands.add_parser("check", help="vendor --check on the installed provider's copy")
    args = parser.parse_args()
    if args.command == "build":
        build(args.work.resolve())
    elif args.command == "source":
        print(source(args.work.resolve()))
    else:
        check()


if __name__ == "__main__":
    main()

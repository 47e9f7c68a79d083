"""Build apache-airflow-task-sdk 1.4.0b2 with the accessor patch: ``RuntimeTaskInstance.trigger_dag_run()``.

    python tests/accessor/build_task_sdk.py WORKDIR    # prints WORKDIR/dist/<the wheel>

Downloads the 1.4.0b2 source distribution from the package index (``pip download --no-binary :all:``),
checks its sha256 against ``SDIST_SHA256``, unpacks it to ``WORKDIR/src/``, applies
``patches/apache-airflow-task-sdk-1.4.0b2-accessor.patch`` with ``patch -p1``, gives the tree the local
version ``1.4.0b2+accessor`` (hatchling reads ``__version__`` from ``src/airflow/sdk/__init__.py``, and
core metadata from the sdist's ``PKG-INFO``: both are changed) so the wheel cannot be taken for the
release, and builds the wheel with ``pip wheel`` (the sdist's own backend, hatchling). The last line of
the output is the wheel's path. The patched tree stays in ``WORKDIR/src/`` (its ``tests/`` are the
patched Task SDK tests); the verified sdist in ``WORKDIR/sdist/``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = "apache-airflow-task-sdk"
VERSION = "1.4.0b2"
#: sha256 of apache_airflow_task_sdk-1.4.0b2.tar.gz as the package index serves it
SDIST_SHA256 = "9a887b82d50989f5edb955f3443460510b717a9481fc35d26950ba9ad8b4aab6"
LOCAL = "accessor"
PATCH = REPO / "patches" / f"{DISTRIBUTION}-{VERSION}-accessor.patch"
#: (file in the sdist, the release's line, the built one's line): where the version is read from
VERSION_LINES = [
    ("src/airflow/sdk/__init__.py", f'__version__ = "{VERSION}"\n', f'__version__ = "{VERSION}+{LOCAL}"\n'),
    ("PKG-INFO", f"Version: {VERSION}\n", f"Version: {VERSION}+{LOCAL}\n"),
]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def _run(argv: list[str], cwd: Path | None = None) -> None:
    print(f"+ {' '.join(argv)}", flush=True)
    subprocess.run(argv, cwd=cwd, check=True)


def download(work: Path) -> Path:
    """The release's sdist, from the index (kept when already there), checked against SDIST_SHA256."""
    sdist_dir = work / "sdist"
    sdist = sdist_dir / f"{DISTRIBUTION.replace('-', '_')}-{VERSION}.tar.gz"
    if not sdist.is_file():
        sdist_dir.mkdir(parents=True, exist_ok=True)
        requirement = f"{DISTRIBUTION}=={VERSION}"
        _run([*PIP, "download", "--no-deps", "--no-binary", ":all:", requirement, "-d", str(sdist_dir)])
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        sys.exit(f"{sdist.name}: sha256 {digest}, expected {SDIST_SHA256}")
    return sdist


def source(work: Path) -> Path:
    """Unpack the verified sdist into WORKDIR/src, patch it and label its version; returns the tree."""
    sdist = download(work)
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir()
    with tarfile.open(sdist) as archive:
        archive.extractall(src, filter="data")
    (root,) = src.iterdir()
    _run(["patch", "-p1", "--forward", "--batch", "-i", str(PATCH)], cwd=root)
    for rel, old, new in VERSION_LINES:
        path = root / rel
        text = path.read_text()
        if text.count(old) != 1:
            sys.exit(f"{rel}: expected exactly one {old.strip()!r}")
        path.write_text(text.replace(old, new))
    return root


def build(work: Path) -> Path:
    """Download, patch, label and build; returns the wheel."""
    root = source(work)
    dist = work / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    _run([*PIP, "wheel", "--no-deps", "--wheel-dir", str(dist), str(root)])
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        metadata = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        runner = zf.read("airflow/sdk/execution_time/task_runner.py").decode()
        if f"Version: {VERSION}+{LOCAL}\n" not in zf.read(metadata).decode():
            sys.exit(f"{wheel.name}: METADATA does not carry {VERSION}+{LOCAL}")
    if "def trigger_dag_run(" not in runner:
        sys.exit(f"{wheel.name}: task_runner.py has no trigger_dag_run")
    return wheel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    args = parser.parse_args()
    wheel = build(args.workdir.resolve())
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())

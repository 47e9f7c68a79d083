"""``vendor``: copy the runtime into a host package, stamp the copy, and check a copy for drift.

A provider ships only what runs inside a task, the *runtime*: every file of this package except the
maintainer tools in :data:`MAINTAINER_ONLY`, plus the LICENSE. Runtime modules added later are vendored
without touching this list; a runtime module that imports a maintainer-only one stops the copy.

The copy names its host: the distribution name and the public dotted names in messages and docstrings
become ``--package``. Nothing else is rewritten: persisted keys such as ``_durable.STATE_KEY`` stay the
same, so a vendored copy and an installed one read each other's state.

``vendored.json`` records the version, a sha256 of every file and the command that made the copy.
``vendor --check`` fails, with a unified diff, when a file no longer matches its stamp (edited by hand)
or when the copy differs from what the installed package would write now (out of date). This is
pypa/vendoring's ``sync``/``update`` for one package that has no absolute self-imports to rewrite.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ._policy import import_graph

__all__ = [
    "DISTRIBUTION",
    "MAINTAINER_ONLY",
    "STAMP",
    "VendorError",
    "check",
    "host_package",
    "render",
    "runtime_files",
    "vendor",
]

DISTRIBUTION = "airflow-trigger-compat"
#: Maintainer tools: in the distribution, never in a vendored copy (paths relative to the package).
MAINTAINER_ONLY = frozenset({"__main__.py", "_cli.py", "_policy.py", "_vendoring.py"})
STAMP = "vendored.json"
PACKAGE_DIR = Path(__file__).resolve().parent
_SKIP = ("__pycache__",)


class VendorError(Exception):
    """The copy cannot be written or checked; the message says why and what to do."""


def _version() -> str:
    from . import __version__

    return __version__


def _license() -> bytes:
    """The LICENSE of this install: the checkout's (src layout), else the one in the distribution."""
    root = PACKAGE_DIR.parents[1]
    if (root / "pyproject.toml").is_file() and root / "src" == PACKAGE_DIR.parent:
        return (root / "LICENSE").read_bytes()
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution(DISTRIBUTION).files or []
    except PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "LICENSE":
            return Path(str(file.locate())).read_bytes()
    raise VendorError(f"cannot find {DISTRIBUTION}'s LICENSE next to {PACKAGE_DIR}; reinstall the package")


def runtime_files(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """The package's files that run inside a task (posix paths relative to the package), sorted.

    Raises :class:`VendorError` when a runtime module imports a maintainer-only one: the copy would break.
    """
    files = sorted(
        p.relative_to(package_dir).as_posix()
        for p in package_dir.rglob("*")
        if p.is_file() and not set(_SKIP) & set(p.parts) and p.suffix != ".pyc"
    )
    runtime = [f for f in files if f not in MAINTAINER_ONLY]
    graph = import_graph(package_dir)
    leaks = sorted(f"{m} imports {t}" for m in runtime for t in graph.get(m, ()) if t in MAINTAINER_ONLY)
    if leaks:
        raise VendorError(f"runtime modules import maintainer-only ones, so a copy would break: {leaks}")
    return runtime


def _renamer(package: str) -> re.Pattern[str]:
    from . import __all__ as public

    names = "|".join(sorted(map(re.escape, public), key=len, reverse=True))
    # The distribution name anywhere; the import name only where it is spelled as the public API
    # (`airflow_trigger_compat.TriggerDagRunOperator`, `from airflow_trigger_compat import ...`), so a
    # persisted key such as "airflow_trigger_compat.trigger_run_id" is left alone.
    api = rf"(?<![\w.])airflow_trigger_compat(?=\.(?:{names})\b| import\b)"
    return re.compile(rf"{re.escape(DISTRIBUTION)}|{api}")


def render(package: str, package_dir: Path = PACKAGE_DIR) -> dict[str, bytes]:
    """The files of a copy vendored as ``package``: relative path -> content, LICENSE included."""
    pattern = _renamer(package)
    out: dict[str, bytes] = {}
    for name in runtime_files(package_dir):
        data = (package_dir / name).read_bytes()
        if name.endswith(".py"):
            data = pattern.sub(package, data.decode("utf-8")).encode("utf-8")
        out[name] = data
    out["LICENSE"] = _license()
    return out


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check_name(package: str) -> str:
    if not all(part.isidentifier() for part in package.split(".")):
        raise VendorError(f"--package {package!r} must be a dotted Python name, e.g. host._vendor.compat")
    return package


def host_package(into: Path) -> str:
    """The dotted name a copy under ``into`` imports as, from the ``__init__.py`` files above it."""
    parts = ["airflow_trigger_compat"]
    here = into.resolve()
    while (here / "__init__.py").is_file():
        parts.insert(0, here.name)
        here = here.parent
    return ".".join(parts)


def _command(*args: str) -> str:
    return shlex.join(["python", "-m", "airflow_trigger_compat", "vendor", *args])


def vendor(into: Path, package: str | None = None) -> Path:
    """Write the runtime as ``into/<last part of package>/`` with its stamp; returns that directory.

    ``into`` gets an ``__init__.py`` if it has none. ``package`` defaults to the dotted name the
    ``__init__.py`` files above ``into`` give it. An existing copy is replaced only if it is stamped.
    """
    into.mkdir(parents=True, exist_ok=True)
    if not (into / "__init__.py").exists():
        (into / "__init__.py").write_text('"""Third-party packages shipped inside this package."""\n')
    package = _check_name(package or host_package(into))
    target = into / package.rpartition(".")[2]
    files = render(package)
    if target.exists():
        if not (target / STAMP).is_file():
            raise VendorError(f"{target} exists and is not a vendored copy (no {STAMP}); move it away first")
        shutil.rmtree(target)
    for name, data in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)
    stamp = {
        "distribution": DISTRIBUTION,
        "version": _version(),
        "package": package,
        "command": _command("--into", into.as_posix(), "--package", package),
        "check": _command("--check", into.as_posix()),
        "files": {name: _sha256(data) for name, data in files.items()},
    }
    (target / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    return target


def _find_copy(path: Path) -> Path:
    if (path / STAMP).is_file():
        return path
    found = sorted(p.parent for p in path.glob(f"*/{STAMP}"))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise VendorError(f"{what} vendored copy ({STAMP}) in {path}; pass the directory given to --into")
    return found[0]


def _read_copy(copy: Path) -> dict[str, bytes]:
    return {
        p.relative_to(copy).as_posix(): p.read_bytes()
        for p in sorted(copy.rglob("*"))
        if p.is_file() and not set(_SKIP) & set(p.parts) and p.suffix != ".pyc" and p.name != STAMP
    }


def _diff(expected: Mapping[str, bytes], actual: Mapping[str, bytes], copy: Path) -> list[str]:
    lines: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        want, have = expected.get(name), actual.get(name)
        if want == have:
            continue
        lines += difflib.unified_diff(
            (want or b"").decode("utf-8", "replace").splitlines(keepends=True),
            (have or b"").decode("utf-8", "replace").splitlines(keepends=True),
            f"{DISTRIBUTION} {_version()} (installed)/{name}" if want is not None else "/dev/null",
            f"{copy.as_posix()}/{name}" if have is not None else "/dev/null",
        )
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]


def check(path: Path, out: TextIO) -> int:
    """Compare a copy with its stamp and with the installed package; 0 when both match, else 1."""
    copy = _find_copy(path)
    try:
        stamp: dict[str, Any] = json.loads((copy / STAMP).read_text())
        package, stamped = _check_name(stamp["package"]), dict(stamp["files"])
    except (ValueError, KeyError, TypeError) as err:
        raise VendorError(f"{copy / STAMP} is not a stamp this tool wrote ({err!r}); vendor again") from err
    rerun = stamp.get("command") or _command("--into", copy.parent.as_posix(), "--package", package)
    actual = _read_copy(copy)
    problems = []
    if stamp.get("version") != _version():
        problems.append(
            f"stamped as {DISTRIBUTION} {stamp.get('version')}, but {_version()} is installed: out of date"
        )
    for name in sorted(set(stamped) | set(actual)):
        if name not in actual:
            problems.append(f"{name}: in the stamp, missing from the copy")
        elif name not in stamped:
            problems.append(f"{name}: in the copy, not in the stamp (added by hand?)")
        elif _sha256(actual[name]) != stamped[name]:
            problems.append(f"{name}: edited since it was vendored (sha256 differs from the stamp)")
    diff = _diff(render(package), actual, copy)
    if diff and not problems:
        problems.append(f"the copy differs from what the installed {DISTRIBUTION} {_version()} writes")
    if not problems:
        out.write(f"{copy}: {DISTRIBUTION} {_version()} as {package}, {len(actual)} files match the stamp\n")
        return 0
    out.write(f"{copy}: the vendored {DISTRIBUTION} has drifted\n")
    out.writelines(f"  - {p}\n" for p in problems)
    if diff:
        out.write("Installed package (what `vendor` writes now) -> the copy:\n")
        out.writelines(diff)
    out.write(f"Do not edit a vendored copy; change {DISTRIBUTION} upstream, then re-run:\n  {rerun}\n")
    return 1

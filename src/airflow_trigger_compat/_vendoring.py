"""``vendor``: copy the runtime into a host package, stamp it, and check a copy.

The vendored unit is the ``_runtime`` package: what runs inside a task, nothing else (the CLI, the policy
report, this tool, the drop-in operator and the declared differences stay in the distribution). It is
copied as it is, under a header naming this distribution, its version, the command that regenerates it
and "do not edit". One file is generated, ``_host.py``: the name a user is told to upgrade or pin.
Persisted keys such as ``_strategies.accessor.STATE_KEY`` are not touched, so a vendored copy and an
installed one read each other's state.

``vendored.json`` records the version, the command and a sha256 of every file. ``vendor --check`` verifies
a copy against its own stamp, whatever version is installed; ``vendor --outdated`` says whether the
installed distribution would write something else (pypa/vendoring's ``sync`` and ``update``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ._policy import import_graph

__all__ = ["DISTRIBUTION", "STAMP", "VendorError", "check", "host_package", "outdated", "render", "vendor"]

DISTRIBUTION = "airflow-trigger-compat"
STAMP = "vendored.json"
RUNTIME_DIR = Path(__file__).resolve().parent / "_runtime"
#: The copy's directory name, so a host imports it under the name the docs use.
COPY_NAME = "airflow_trigger_compat"
_SKIP = ("__pycache__",)


class VendorError(Exception):
    """The copy cannot be written or checked; the message says why and what to do."""


def _version() -> str:
    from ._runtime import __version__

    return __version__


def _license() -> bytes:
    """The LICENSE of this install: the checkout's (src layout), else the one in the distribution."""
    root = RUNTIME_DIR.parents[2]
    if (root / "pyproject.toml").is_file() and (root / "LICENSE").is_file():
        return (root / "LICENSE").read_bytes()
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution(DISTRIBUTION).files or []
    except PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "LICENSE":
            return Path(str(file.locate())).read_bytes()
    raise VendorError(f"cannot find {DISTRIBUTION}'s LICENSE next to {RUNTIME_DIR}; reinstall the package")


def _command(*args: str) -> str:
    return shlex.join(["python", "-m", "airflow_trigger_compat", "vendor", *args])


def _header(command: str) -> bytes:
    return f"# Vendored from {DISTRIBUTION} {_version()}; do not edit, regenerate: {command}\n".encode()


def _runtime_sources() -> dict[str, bytes]:
    """The runtime's files (posix paths relative to it); refused if one imports outside the runtime."""
    sources = {
        p.relative_to(RUNTIME_DIR).as_posix(): p.read_bytes()
        for p in sorted(RUNTIME_DIR.rglob("*.py"))
        if not set(_SKIP) & set(p.parts)
    }
    escapes = sorted(
        f"{m} imports {t}" for m, ts in import_graph(RUNTIME_DIR).items() for t in ts if t not in sources
    )
    if escapes:  # pragma: no cover - a unit test keeps the runtime self-contained
        raise VendorError(f"runtime modules import outside the runtime, so a copy would break: {escapes}")
    return sources


def render(host: str, command: str) -> dict[str, bytes]:
    """The files of a copy: relative path -> content, LICENSE included; ``host`` names who ships it."""
    files = {name: _header(command) + data for name, data in _runtime_sources().items()}
    # The one generated file: _runtime/_host.py with the host's name.
    source = (RUNTIME_DIR / "_host.py").read_text().split("SHIPPED_BY = ")[0]
    files["_host.py"] = _header(command) + f"{source}SHIPPED_BY = {host!r}\n".encode()
    files["LICENSE"] = _license()
    return files


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _distribution(package: str) -> str:
    """The distribution users install to get ``package``: an Airflow provider by Airflow's naming rule
    (``airflow.providers.cncf.kubernetes`` -> ``apache-airflow-providers-cncf-kubernetes``), else its name."""
    if package.startswith("airflow.providers."):
        return "apache-airflow-providers-" + package.removeprefix("airflow.providers.").replace(".", "-")
    return package or DISTRIBUTION


def host_package(into: Path) -> str:
    """The dotted name a copy under ``into`` imports as, from the ``__init__.py`` files above it."""
    parts = [COPY_NAME]
    here = into.resolve()
    while (here / "__init__.py").is_file():
        parts.insert(0, here.name)
        here = here.parent
    return ".".join(parts)


def vendor(into: Path, package: str | None = None, host: str | None = None) -> Path:
    """Write the runtime as ``into/airflow_trigger_compat/`` with its stamp; returns that directory.

    ``into`` gets an ``__init__.py`` if it has none. ``package``, if given, must be the dotted name the
    ``__init__.py`` files above ``into`` give the copy. ``host`` is the distribution users are told to
    upgrade (default: the distribution of the host package, ``apache-airflow-providers-<name>`` for an
    Airflow provider). An existing copy is replaced only if it is stamped.
    """
    into.mkdir(parents=True, exist_ok=True)
    if not (into / "__init__.py").exists():
        (into / "__init__.py").write_text('"""Third-party packages shipped inside this package."""\n')
    actual = package or host_package(into)
    parts = actual.split(".")
    # The name must say where the copy lands: its directory last, the directories --into names before it
    # (a provider's namespace packages above it have no __init__.py to find them by).
    if len(parts) < 2 or parts[-1] != COPY_NAME or list(into.resolve().parts[1 - len(parts) :]) != parts[:-1]:
        raise VendorError(
            f"--package {package!r} does not name where --into puts the copy, "
            f"{(into / COPY_NAME).as_posix()}. Run: "
            f"{_command('--into', into.as_posix(), '--package', host_package(into))}"
        )
    host = host or _distribution(actual.rpartition("._vendor")[0] or actual.rpartition(".")[0])
    command = _command("--into", into.as_posix(), "--host", host)
    target = into / COPY_NAME
    files = render(host, command)
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
        "package": actual,
        "host": host,
        "command": command,
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


def _read(path: Path) -> tuple[Path, dict[str, Any], dict[str, bytes]]:
    copy = _find_copy(path)
    try:
        stamp: dict[str, Any] = json.loads((copy / STAMP).read_text())
        dict(stamp["files"]), str(stamp["command"]), str(stamp["host"]), str(stamp["version"])
    except (ValueError, KeyError, TypeError) as err:
        raise VendorError(f"{copy / STAMP} is not a stamp this tool wrote ({err!r}); vendor again") from err
    files = {
        p.relative_to(copy).as_posix(): p.read_bytes()
        for p in sorted(copy.rglob("*"))
        if p.is_file() and not set(_SKIP) & set(p.parts) and p.suffix != ".pyc" and p.name != STAMP
    }
    return copy, stamp, files


def check(path: Path, out: TextIO) -> int:
    """Verify a copy against its own stamp (any installed version); 0 when every file matches, else 1."""
    copy, stamp, actual = _read(path)
    stamped: dict[str, str] = stamp["files"]
    problems = []
    for name in sorted(set(stamped) | set(actual)):
        if name not in actual:
            problems.append(f"{name}: in the stamp, missing from the copy")
        elif name not in stamped:
            problems.append(f"{name}: in the copy, not in the stamp (added by hand?)")
        elif _sha256(actual[name]) != stamped[name]:
            problems.append(f"{name}: edited since it was vendored (sha256 differs from the stamp)")
    what = f"{DISTRIBUTION} {stamp['version']}"
    if not problems:
        out.write(f"{copy}: {what}, {len(actual)} files match the stamp\n")
        return 0
    out.write(f"{copy}: the vendored {what} was edited\n")
    out.writelines(f"  - {p}\n" for p in problems)
    out.write(
        f"Do not edit a vendored copy; change {DISTRIBUTION} upstream, then re-run:\n  {stamp['command']}\n"
    )
    return 1


def outdated(path: Path, out: TextIO) -> int:
    """Whether the installed distribution would write another copy: 0 when not, else 1 with the diff."""
    copy, stamp, actual = _read(path)
    expected = render(stamp["host"], stamp["command"])
    if expected == actual:
        out.write(f"{copy}: up to date with the installed {DISTRIBUTION} {_version()}\n")
        return 0
    out.write(
        f"{copy}: vendored from {DISTRIBUTION} {stamp['version']}; the installed {_version()} writes "
        f"another copy. Update it with:\n  {stamp['command']}\n"
    )
    out.writelines(_diff(expected, actual, copy))
    return 1


def _diff(expected: Mapping[str, bytes], actual: Mapping[str, bytes], copy: Path) -> list[str]:
    lines: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        want, have = expected.get(name), actual.get(name)
        if want == have:
            continue
        lines += difflib.unified_diff(
            (have or b"").decode("utf-8", "replace").splitlines(keepends=True),
            (want or b"").decode("utf-8", "replace").splitlines(keepends=True),
            f"{copy.as_posix()}/{name}" if have is not None else "/dev/null",
            f"{DISTRIBUTION} {_version()} (installed)/{name}" if want is not None else "/dev/null",
        )
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]

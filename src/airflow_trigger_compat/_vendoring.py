"""``vendor``: copy the runtime into a host package, stamp it, and check a copy.

The vendored unit is the ``_runtime`` package: what runs inside a task, nothing else (the CLI, the policy
report, this tool, the drop-in operator and the declared differences stay in the distribution). It is
copied under a header naming this distribution, its version, the command that regenerates it and "do not
edit", with one change: its relative imports become absolute imports of the host package (as
pypa/vendoring rewrites imports to the host's namespace), because hosts such as Apache Airflow ban
relative imports. Only the module part of each ``from`` import changes, which ``_absolute_imports``
verifies by comparing syntax trees. One file is generated, ``_host.py``: the name a user is told to
upgrade or pin.
Persisted keys such as ``_strategies.accessor.STATE_KEY`` are not touched, so a vendored copy and an
installed one read each other's state.

``vendored.json`` records the version, the command and a sha256 of every file. ``vendor --check`` verifies
a copy against its own stamp, whatever version is installed; ``vendor --outdated`` says whether the
installed distribution would write something else (pypa/vendoring's ``sync`` and ``update``).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import io
import json
import shlex
import shutil
import tokenize
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


def render(host: str, command: str, package: str) -> dict[str, bytes]:
    """The files of a copy: relative path -> content, LICENSE included; ``host`` names who ships it.

    ``package`` is the dotted name the copy imports as: its relative imports are rewritten to it.
    """
    sources = _runtime_sources()
    # The one generated file: _runtime/_host.py with the host's name (a double-quoted literal, as
    # ``ruff format`` writes it; json's escapes are Python's).
    prefix = sources["_host.py"].decode().split("SHIPPED_BY = ")[0]
    sources["_host.py"] = f"{prefix}SHIPPED_BY = {json.dumps(host)}\n".encode()
    files = {
        name: _header(command) + _absolute_imports(data.decode(), package, name).encode()
        for name, data in sources.items()
    }
    files["LICENSE"] = _license()
    return files


#: The host's line length (Airflow's): a rewritten import longer than this is wrapped.
WRAP = 110


def _absolute_imports(source: str, package: str, where: str) -> str:
    """``source`` (the runtime file ``where``) with its relative imports made absolute under ``package``.

    Every relative ``from`` import, wherever it is, is found with ``ast``; only its module part (between
    ``from`` and ``import``, located with ``tokenize``) is replaced. Names, aliases, parentheses and
    comments stay as they are, except that a one-line import longer than ``WRAP`` is written as ruff's
    isort writes it: parenthesised, one name a line, a trailing comma. The result must parse to the same
    tree with each import's ``level`` 0 and ``module`` resolved; anything else is refused.
    """
    base = package.split(".") + list(Path(where).parent.parts)
    tree = ast.parse(source, where)
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    at = {t.start: i for i, t in enumerate(tokens)}
    edits: list[tuple[int, int, str]] = []
    for node in nodes:
        row, line = node.lineno, lines[node.lineno - 1]
        col = len(line.encode()[: node.col_offset].decode())  # ast counts bytes, tokenize characters
        if node.level - 1 > len(base) - len(package.split(".")):
            raise VendorError(f"{where}:{row}: a relative import climbs out of the runtime")
        node.module = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
        node.level = 0
        i = at.get((row, col), -1)
        j = next((k for k in range(i + 1, len(tokens)) if tokens[k].string == "import"), -1)
        if i < 0 or tokens[i].string != "from" or j < 0:
            raise VendorError(f"{where}:{row}: cannot find the import's module part")
        if any(t.type == tokenize.COMMENT for t in tokens[i:j]):
            raise VendorError(f"{where}:{row}: a comment inside an import's module part")
        end = j
        while tokens[end].type not in (tokenize.NEWLINE, tokenize.ENDMARKER) and tokens[end].string != ";":
            end += 1
        rest = line[tokens[j].start[1] :]
        single = node.end_lineno == row and tokens[end].type == tokenize.NEWLINE and "(" not in rest
        if single and len(f"{line[:col]}from {node.module} {rest}".rstrip("\r\n")) > WRAP:
            # A trailing comment goes after the last name, as isort puts it (only one name: whose it is).
            comment = [t for t in tokens[j:end] if t.type == tokenize.COMMENT]
            if line[:col].strip() or (comment and len(node.names) > 1):
                raise VendorError(f"{where}:{row}: too long once absolute; wrap it in the runtime")
            indent = line[:col]
            names = [f"{a.name} as {a.asname}" if a.asname else a.name for a in node.names]
            body = "".join(f"{indent}    {name},\n" for name in names)
            if comment:
                body = f"{body[:-1]}  {comment[0].string}\n"
            text = f"from {node.module} import (\n{body}{indent})"
            edits.append((starts[row - 1] + col, starts[row - 1] + tokens[end].start[1], text))
        else:
            begin = starts[row - 1] + tokens[i].end[1]
            edits.append((begin, starts[tokens[j].start[0] - 1] + tokens[j].start[1], f" {node.module} "))
    for begin, stop, text in sorted(edits, reverse=True):
        source = source[:begin] + text + source[stop:]
    after = ast.parse(source, where)
    if ast.dump(after) != ast.dump(tree):
        raise VendorError(f"{where}: rewriting its relative imports would change more than their modules")
    return source


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
        # With the future import hosts such as Airflow require of every module.
        (into / "__init__.py").write_text(
            '"""Third-party packages shipped inside this package."""\n\nfrom __future__ import annotations\n'
        )
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
    files = render(host, command, actual)
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
        str(stamp["package"])
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
    expected = render(stamp["host"], stamp["command"], stamp["package"])
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

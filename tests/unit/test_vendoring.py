"""``vendor``: the runtime copied under another package, stamped, named after its host, drift-checked."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import airflow_trigger_compat
from airflow_trigger_compat import _vendoring
from airflow_trigger_compat._cli import main
from airflow_trigger_compat._policy import PACKAGE_DIR, import_graph
from airflow_trigger_compat._registry import STRATEGIES
from airflow_trigger_compat._vendoring import (
    MAINTAINER_ONLY,
    STAMP,
    VendorError,
    check,
    runtime_files,
    vendor,
)

REPO = Path(__file__).resolve().parents[2]
HOST = "host._vendor.airflow_trigger_compat"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A fresh copy vendored as ``host._vendor.airflow_trigger_compat`` under ``tmp_path``."""
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "__init__.py").write_text("")
    return vendor(tmp_path / "host" / "_vendor", HOST)


def run_check(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    return check(path, out), out.getvalue()


def in_host(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that finds the host package (and Airflow nowhere)."""
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path, capture_output=True, text=True
    )


# -- the runtime -----------------------------------------------------------------------------------------


def test_no_absolute_self_import_inside_the_package() -> None:
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [f"{path.name}:{node.lineno}: {n}" for n in names if n.split(".")[0] == PACKAGE_DIR.name]
    assert not found, found


def test_no_runtime_module_imports_a_maintainer_only_one() -> None:
    runtime = [name for name in runtime_files() if name.endswith(".py")]
    assert {p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*.py")} >= MAINTAINER_ONLY
    assert not MAINTAINER_ONLY & set(runtime)
    assert {"__init__.py", "_execute.py", "_registry.py", "_durable.py", "_operator.py"} <= set(runtime)
    graph = import_graph(PACKAGE_DIR)
    assert {m: graph[m] & MAINTAINER_ONLY for m in runtime if graph[m] & MAINTAINER_ONLY} == {}
    # The imports the AST cannot see: the package's lazy names and the registry's strategy modules.
    dynamic = {f"{m}.py" for m in airflow_trigger_compat._LAZY.values()}
    dynamic |= {f"_strategies/{s.module}.py" for s in STRATEGIES.values()}
    assert dynamic <= set(runtime), dynamic - set(runtime)


def test_a_runtime_module_importing_a_maintainer_tool_stops_the_copy(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_cli.py").write_text("")
    (package / "_execute.py").write_text("def f():\n    from ._cli import main\n")
    with pytest.raises(VendorError, match=r"_execute.py imports _cli.py"):
        runtime_files(package)


# -- vendor --into ---------------------------------------------------------------------------------------


def test_vendor_writes_the_runtime_the_license_and_a_stamp(copy: Path) -> None:
    assert copy.name == "airflow_trigger_compat"
    assert (copy.parent / "__init__.py").is_file()
    files = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file())
    assert files == sorted([*runtime_files(), "LICENSE", STAMP])
    assert not MAINTAINER_ONLY & set(files)
    assert (copy / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    assert (copy / "py.typed").is_file()
    stamp = json.loads((copy / STAMP).read_text())
    assert stamp["version"] == airflow_trigger_compat.__version__
    assert stamp["package"] == HOST
    assert stamp["command"].endswith(f"vendor --into {copy.parent.as_posix()} --package {HOST}")
    assert set(stamp["files"]) == set(files) - {STAMP}
    for name, digest in stamp["files"].items():
        assert digest == _vendoring._sha256((copy / name).read_bytes()), name


def test_vendor_takes_the_package_name_from_the_host(tmp_path: Path) -> None:
    (tmp_path / "src" / "host").mkdir(parents=True)
    (tmp_path / "src" / "host" / "__init__.py").write_text("")
    target = vendor(tmp_path / "src" / "host" / "_vendor")
    assert json.loads((target / STAMP).read_text())["package"] == HOST


def test_vendor_replaces_its_own_copy_but_nothing_else(copy: Path, tmp_path: Path) -> None:
    (copy / "stale.py").write_text("")
    assert not (vendor(copy.parent, HOST) / "stale.py").exists()
    (tmp_path / "other" / "airflow_trigger_compat").mkdir(parents=True)
    with pytest.raises(VendorError, match="not a vendored copy"):
        vendor(tmp_path / "other", "other.airflow_trigger_compat")


def test_copy_imports_no_airflow_and_no_top_level_package(copy: Path, tmp_path: Path) -> None:
    result = in_host(
        tmp_path,
        f"""
        import sys
        import {HOST} as compat
        assert compat.__version__ == {airflow_trigger_compat.__version__!r}
        compat.execute_trigger, compat.check_arguments, compat.select_strategy  # the lazy names resolve
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("airflow", "airflow_trigger_compat"))
        assert not bad, bad
        print(compat.__name__)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == HOST


def test_copy_messages_name_the_host(copy: Path, tmp_path: Path) -> None:
    assert not [p for p in copy.rglob("*.py") if _vendoring.DISTRIBUTION in p.read_text()]
    result = in_host(
        tmp_path,
        f"""
        import sys
        sys.modules["airflow"] = None  # no Airflow: both errors below
        import {HOST} as compat
        try:
            compat.select_strategy()
        except compat.UnsupportedAirflowVersion as err:
            print(err)
        try:
            compat.TriggerDagRunOperator
        except compat.UnsupportedAirflowVersion as err:
            print(err)
        """,
    )
    assert result.returncode == 0, result.stderr
    unsupported, operator = result.stdout.splitlines()
    assert unsupported.startswith(f"{HOST} supports Airflow"), unsupported
    assert operator.startswith(f"{HOST}.TriggerDagRunOperator subclasses"), operator
    assert "airflow-trigger-compat" not in result.stdout


def _constants(path: Path) -> list[str]:
    """Every string constant of a module, in tree order (f-string parts included).

    By position in the tree, not by line and column: a renamed string shifts the columns of the f-string
    parts after it on its line (Python 3.12+ gives each part its own), and a rename must not add, drop or
    move a constant anyway, so the two lists pair up one to one.
    """
    tree = ast.parse(path.read_text())
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_rename_touches_only_names_of_the_package_and_never_the_state_key(copy: Path) -> None:
    from airflow_trigger_compat._durable import STATE_KEY

    assert STATE_KEY.startswith("airflow_trigger_compat.")  # the case the rename must leave alone
    copied_key = next(
        ast.literal_eval(n.value)
        for n in ast.walk(ast.parse((copy / "_durable.py").read_text()))
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "STATE_KEY" for t in n.targets)
    )
    assert copied_key == STATE_KEY
    renamed = 0
    for name in runtime_files():
        if not name.endswith(".py"):
            continue
        source, copied = PACKAGE_DIR / name, copy / name
        before, after = _constants(source), _constants(copied)
        assert len(before) == len(after), name  # the same constants, so they pair up in order
        changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
        for old, new in changed:
            assert HOST in new, (name, old, new)
            assert "airflow-trigger-compat" in old or "airflow_trigger_compat" in old, (old, new)
        renamed += len(changed)
    assert renamed >= 2  # the registry's unsupported-version message and the operator's import error


# -- vendor --check --------------------------------------------------------------------------------------


def test_check_passes_on_a_fresh_copy(copy: Path) -> None:
    code, out = run_check(copy.parent)
    assert code == 0, out
    assert f"as {HOST}" in out
    assert run_check(copy)[0] == 0  # the copy's own directory works too


def test_check_fails_with_a_diff_on_an_edited_copy(copy: Path) -> None:
    execute = copy / "_execute.py"
    execute.write_text("import os  # a hotfix\n" + execute.read_text())
    code, out = run_check(copy.parent)
    assert code == 1
    assert "_execute.py: edited since it was vendored" in out
    assert f"--- airflow-trigger-compat {airflow_trigger_compat.__version__} (installed)/_execute.py" in out
    assert f"+++ {copy.as_posix()}/_execute.py" in out
    assert "\n+import os  # a hotfix\n" in out
    assert f"vendor --into {copy.parent.as_posix()} --package {HOST}" in out  # how to fix it


def test_check_fails_when_the_stamp_names_another_version(copy: Path) -> None:
    stamp = json.loads((copy / STAMP).read_text())
    stamp["version"] = "0.0.9"
    (copy / STAMP).write_text(json.dumps(stamp))
    code, out = run_check(copy.parent)
    assert code == 1
    assert (
        f"stamped as airflow-trigger-compat 0.0.9, but {airflow_trigger_compat.__version__} is installed"
        in out
    )


def test_check_fails_when_the_installed_package_writes_something_else(copy: Path) -> None:
    # Edited and re-stamped, so only the comparison with the installed package can see it.
    registry = copy / "_registry.py"
    registry.write_text(registry.read_text() + "# a local change\n")
    stamp = json.loads((copy / STAMP).read_text())
    stamp["files"]["_registry.py"] = _vendoring._sha256(registry.read_bytes())
    (copy / STAMP).write_text(json.dumps(stamp))
    code, out = run_check(copy.parent)
    assert code == 1
    assert "the copy differs from what the installed airflow-trigger-compat" in out
    assert "+# a local change\n" in out


def test_check_fails_on_added_and_missing_files(copy: Path) -> None:
    (copy / "_patch.py").write_text("x = 1\n")
    (copy / "_errors.py").unlink()
    code, out = run_check(copy.parent)
    assert code == 1
    assert "_patch.py: in the copy, not in the stamp" in out
    assert "_errors.py: in the stamp, missing from the copy" in out
    assert "+++ /dev/null" in out


def test_cli_vendor_and_check(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["vendor", "--into", str(tmp_path / "_vendor"), "--package", "v.compat"], out) == 0
    assert (tmp_path / "_vendor" / "compat" / STAMP).is_file()
    assert main(["vendor", "--check", str(tmp_path / "_vendor")], out) == 0
    (tmp_path / "_vendor" / "compat" / "py.typed").write_text("edited\n")
    assert main(["vendor", "--check", str(tmp_path / "_vendor")], out) == 1
    assert main(["vendor", "--check", str(tmp_path)], out) == 1  # no copy there: an error, not a pass
    assert main(["vendor", "--into", str(tmp_path), "--package", "not-dotted"], out) == 1
    with pytest.raises(SystemExit) as usage:
        main(["vendor", "--check", str(tmp_path / "_vendor"), "--package", "v.compat"], out)
    assert usage.value.code == 2

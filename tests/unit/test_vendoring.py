"""``vendor``: the runtime copied as it is under a host package, stamped, checked, naming its host."""

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
from airflow_trigger_compat._policy import import_graph
from airflow_trigger_compat._runtime._registry import REGISTRY
from airflow_trigger_compat._vendoring import RUNTIME_DIR, STAMP, VendorError, check, outdated, vendor

REPO = Path(__file__).resolve().parents[2]
HOST = "host._vendor.airflow_trigger_compat"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A fresh copy vendored under ``host/_vendor`` in ``tmp_path``, shipped by "acme-host"."""
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "__init__.py").write_text("")
    return vendor(tmp_path / "host" / "_vendor", HOST, "acme-host")


def run(command: object, path: Path) -> tuple[int, str]:
    out = io.StringIO()
    return command(path, out), out.getvalue()  # type: ignore[operator]


def in_host(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that finds the host package (and Airflow nowhere)."""
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path, capture_output=True, text=True
    )


def _runtime_py() -> list[str]:
    return sorted(p.relative_to(RUNTIME_DIR).as_posix() for p in RUNTIME_DIR.rglob("*.py"))


# -- the runtime -----------------------------------------------------------------------------------------


def test_the_runtime_imports_nothing_outside_itself() -> None:
    graph = import_graph(RUNTIME_DIR)
    assert {m: ts - set(graph) for m, ts in graph.items() if ts - set(graph)} == {}
    for name in _runtime_py():
        tree = ast.parse((RUNTIME_DIR / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                up = node.level - 1  # packages above the module's own
                assert up <= name.count("/"), f"{name}:{node.lineno} imports from outside the runtime"
            absolute = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            absolute += [node.module] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not [m for m in absolute if m and m.startswith("airflow_trigger_compat")], name
    # What the AST cannot see: the modules loaded by name (each row's path, and durable on every row).
    assert {f"_strategies/{name}.py" for e in REGISTRY for name in (e.path, "durable")} <= set(_runtime_py())


def test_the_runtime_has_no_import_cycle() -> None:
    graph = import_graph(RUNTIME_DIR)  # imports under `if TYPE_CHECKING:` are for type checkers only
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module not in done:
            for target in sorted(graph[module]):
                visit(target, (*path, module))
            done.add(module)

    for module in sorted(graph):
        visit(module, ())


# -- vendor --into ---------------------------------------------------------------------------------------


def test_the_copy_is_the_runtime_as_it_is_under_a_header(copy: Path) -> None:
    assert copy.name == "airflow_trigger_compat"
    assert (copy.parent / "__init__.py").is_file()
    files = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file())
    assert files == sorted([*_runtime_py(), "LICENSE", STAMP])
    assert (copy / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    stamp = json.loads((copy / STAMP).read_text())
    for name in _runtime_py():
        header, body = (copy / name).read_text().split("\n", 1)
        version = airflow_trigger_compat.__version__
        command = stamp["command"]
        assert (
            header == f"# Vendored from airflow-trigger-compat {version}; do not edit, regenerate: {command}"
        )
        if name != "_host.py":  # the one generated file
            assert body == _vendoring._absolute_imports((RUNTIME_DIR / name).read_text(), HOST, name), name
    assert 'SHIPPED_BY = "acme-host"' in (copy / "_host.py").read_text()  # double quotes, as ruff format
    assert "from __future__ import annotations" in (copy / "_host.py").read_text()


def _resolved(source: str, package: str) -> str:
    """The syntax tree of ``source`` with each relative import made absolute under ``package``, by hand."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            node.module, node.level = ".".join(base + ([node.module] if node.module else [])), 0
    return ast.dump(tree)


LONG_HOST = "acme.providers.a_rather_long_provider_name.subpackage._vendor.airflow_trigger_compat"


@pytest.mark.parametrize("package", [HOST, LONG_HOST])
def test_the_copy_has_absolute_imports_and_only_their_modules_change(tmp_path: Path, package: str) -> None:
    into = tmp_path.joinpath(*package.split(".")[:-1])
    copy = vendor(into, package, "acme-host")
    for name in _runtime_py():
        runtime, copied = (RUNTIME_DIR / name).read_text(), (copy / name).read_text()
        tree = ast.parse(copied)
        assert not [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level], name
        if name != "_host.py":
            parent = ".".join([package, *Path(name).parent.parts])
            assert ast.dump(tree) == _resolved(runtime, parent), name
        # Longer than the host's lines only: the header, and a wrapped import's first line if the name is.
        long = [line for line in copied.splitlines()[1:] if len(line) > _vendoring.WRAP]
        assert [line for line in long if not line.endswith(" import (")] == [], name
    wrapped = (copy / "_errors.py").read_text()
    if package == LONG_HOST:  # too long once absolute: wrapped as ruff's isort, the comment kept
        assert f"    from {package}._airflow import (\n        load,  # Airflow's" in wrapped
    result = in_host(tmp_path, f"import {package} as c, sys; c.check_arguments; print(sorted(sys.modules))")
    assert result.returncode == 0, result.stderr
    assert "airflow_trigger_compat" not in eval(result.stdout)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("from ... import x\n", "climbs out of the runtime"),
        ("from . import (  # why\n    x,\n)\nfrom .a import b\n", None),
        ("from .\\\n  a import b\n", None),
        ("from . import x; from .y import z\n", None),
        ("if True: from ._a_long_module_name_that_will_not_fit import name_one, name_two\n", "too long"),
        ("from ._a_long_module_name_that_will_not_fit import name_one, name_two  # why\n", "too long"),
        ("from ._a_long_module_name_that_will_not_fit import name_one  # why\n", None),
    ],
)
def test_the_rewrite_refuses_what_it_cannot_do_safely(source: str, error: str | None) -> None:
    package = "p." + "q" * 40 + ".airflow_trigger_compat"
    if error:
        with pytest.raises(VendorError, match=error):
            _vendoring._absolute_imports(source, package, "m.py")
    else:
        assert ast.dump(ast.parse(_vendoring._absolute_imports(source, package, "m.py"))) == _resolved(
            source, package
        )


def test_the_stamp_records_version_host_command_and_hashes(copy: Path) -> None:
    stamp = json.loads((copy / STAMP).read_text())
    assert stamp["version"] == airflow_trigger_compat.__version__
    assert (stamp["package"], stamp["host"]) == (HOST, "acme-host")
    assert stamp["command"].endswith(f"vendor --into {copy.parent.as_posix()} --host acme-host")
    files = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()} - {STAMP}
    assert set(stamp["files"]) == files
    for name, digest in stamp["files"].items():
        assert digest == _vendoring._sha256((copy / name).read_bytes()), name


def test_a_package_that_does_not_match_the_location_is_refused_with_the_right_command(tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "__init__.py").write_text("")
    with pytest.raises(VendorError) as err:
        vendor(tmp_path / "host" / "_vendor", "host._vendor")
    message = str(err.value)
    assert "--package 'host._vendor' does not name where --into puts the copy" in message
    assert f"vendor --into {(tmp_path / 'host' / '_vendor').as_posix()} --package {HOST}" in message
    assert not (tmp_path / "host" / "_vendor" / "_vendor").exists()


def test_a_package_above_namespace_packages_is_taken_from_the_directories(tmp_path: Path) -> None:
    # A provider: airflow/ and airflow/providers/ are namespace packages, without __init__.py.
    into = tmp_path / "src" / "airflow" / "providers" / "standard" / "_vendor"
    into.parent.mkdir(parents=True)
    (into.parent / "__init__.py").write_text("")
    package = "airflow.providers.standard._vendor.airflow_trigger_compat"
    stamp = json.loads((vendor(into, package) / STAMP).read_text())
    # The host is the provider's distribution, as users install it: what a message tells them to upgrade.
    assert (stamp["package"], stamp["host"]) == (package, "apache-airflow-providers-standard")


def test_the_host_defaults_to_the_package_that_vendors_it(tmp_path: Path) -> None:
    (tmp_path / "src" / "host").mkdir(parents=True)
    (tmp_path / "src" / "host" / "__init__.py").write_text("")
    stamp = json.loads((vendor(tmp_path / "src" / "host" / "_vendor") / STAMP).read_text())
    assert (stamp["package"], stamp["host"]) == (HOST, "host")


def test_vendor_replaces_its_own_copy_but_nothing_else(copy: Path, tmp_path: Path) -> None:
    (copy / "stale.py").write_text("")
    assert not (vendor(copy.parent, HOST, "acme-host") / "stale.py").exists()
    (tmp_path / "other" / "airflow_trigger_compat").mkdir(parents=True)
    with pytest.raises(VendorError, match="not a vendored copy"):
        vendor(tmp_path / "other")


def test_the_copy_imports_no_airflow_and_no_top_level_package(copy: Path, tmp_path: Path) -> None:
    result = in_host(
        tmp_path,
        f"""
        import sys
        import {HOST} as compat
        assert compat.__version__ == {airflow_trigger_compat.__version__!r}
        compat.execute_trigger, compat.check_arguments, compat.select_row  # the lazy names resolve
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("airflow", "airflow_trigger_compat"))
        assert not bad, bad
        print(compat.__name__)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == HOST


def test_the_copy_tells_users_to_upgrade_its_host(copy: Path, tmp_path: Path) -> None:
    result = in_host(
        tmp_path,
        f"""
        import sys
        sys.modules["airflow"] = None  # no Airflow
        import {HOST} as compat
        try:
            compat.select_row()
        except compat.UnsupportedAirflowVersion as err:
            print(err)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("acme-host supports Airflow >=2.11,<4.0 but no Airflow is installed")
    assert "Install a supported Airflow, or a release of acme-host that supports yours." in result.stdout


def test_the_copy_keeps_the_state_key(copy: Path) -> None:
    from airflow_trigger_compat._runtime._strategies.durable import STATE_KEY

    copied = next(
        ast.literal_eval(n.value)
        for n in ast.walk(ast.parse((copy / "_strategies" / "durable.py").read_text()))
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "STATE_KEY" for t in n.targets)
    )
    assert copied == STATE_KEY == "airflow_trigger_compat.trigger_run_id"  # a vendored and a pip copy agree


# -- vendor --check and --outdated -------------------------------------------------------------------------


def test_check_passes_on_a_fresh_copy_whatever_version_is_installed(copy: Path) -> None:
    stamp = json.loads((copy / STAMP).read_text())
    stamp["version"] = "0.0.9"  # vendored by another release: --check reads only the copy and its stamp
    (copy / STAMP).write_text(json.dumps(stamp))
    code, out = run(check, copy.parent)
    assert code == 0, out
    assert "airflow-trigger-compat 0.0.9" in out
    assert run(check, copy)[0] == 0  # the copy's own directory works too


def test_check_fails_on_an_edited_file_and_says_how_to_regenerate(copy: Path) -> None:
    execute = copy / "_execute.py"
    execute.write_text(execute.read_text() + "import os  # a hotfix\n")
    code, out = run(check, copy.parent)
    assert code == 1
    assert "_execute.py: edited since it was vendored" in out
    assert f"vendor --into {copy.parent.as_posix()} --host acme-host" in out


def test_check_fails_on_added_and_missing_files(copy: Path) -> None:
    (copy / "_patch.py").write_text("x = 1\n")
    (copy / "_errors.py").unlink()
    code, out = run(check, copy.parent)
    assert code == 1
    assert "_patch.py: in the copy, not in the stamp" in out
    assert "_errors.py: in the stamp, missing from the copy" in out


def test_outdated_is_quiet_on_a_fresh_copy_and_shows_a_diff_otherwise(copy: Path) -> None:
    assert run(outdated, copy.parent)[0] == 0
    registry = copy / "_registry.py"
    registry.write_text(registry.read_text() + "# an older release's line\n")
    code, out = run(outdated, copy.parent)
    assert code == 1
    assert "the installed 0.1.0 writes another copy" in out.replace(
        airflow_trigger_compat.__version__, "0.1.0"
    )
    assert "-# an older release's line\n" in out


def test_cli_vendor_check_and_outdated(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["vendor", "--into", str(tmp_path / "_vendor")], out) == 0
    copy = tmp_path / "_vendor" / "airflow_trigger_compat"
    assert (copy / STAMP).is_file()
    assert main(["vendor", "--check", str(tmp_path / "_vendor")], out) == 0
    assert main(["vendor", "--outdated", str(tmp_path / "_vendor")], out) == 0
    (copy / "_host.py").write_text("edited\n")
    assert main(["vendor", "--check", str(tmp_path / "_vendor")], out) == 1
    assert main(["vendor", "--check", str(tmp_path)], out) == 1  # no copy there: an error, not a pass
    assert main(["vendor", "--into", str(tmp_path / "_vendor"), "--package", "elsewhere"], out) == 1
    with pytest.raises(SystemExit) as usage:
        main(["vendor", "--check", str(tmp_path / "_vendor"), "--package", "v.compat"], out)
    assert usage.value.code == 2

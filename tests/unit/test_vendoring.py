"""The package works when copied under another package, as a provider ships it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from airflow_trigger_compat._policy import PACKAGE_DIR
from tests.vendoring import build


def test_no_absolute_self_import_inside_the_package() -> None:
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [f"{path.name}:{node.lineno}: {n}" for n in names if n.split(".")[0] == PACKAGE_DIR.name]
    assert not found, found


def test_vendored_copy_imports_no_airflow_and_ships_license_and_py_typed(tmp_path: Path) -> None:
    target = build.build(tmp_path)
    assert (target / "LICENSE").read_text() == (build.REPO / "LICENSE").read_text()
    assert (target / "py.typed").is_file()
    assert not list(target.rglob("__pycache__"))
    build.check(tmp_path)  # raises CalledProcessError if it imported airflow or airflow_trigger_compat


def test_vendored_copy_runs_its_own_commands(tmp_path: Path) -> None:
    build.build(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", build.VENDORED, "policy", "--min-airflow", "3.0"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert "Strategy `airflow2` is dead." in result.stdout

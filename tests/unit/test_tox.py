"""tox.ini offers the matrix nox runs in CI, generated from constraints/releases.toml: they cannot drift.

The per-release environments sit between ``# releases:start`` and ``# releases:end`` in tox.ini;
``python scripts/update_tox.py`` rewrites them (and ``env_list``) after constraints/releases.toml changes.
The release list is ``scripts/airflow_matrix.ci_releases()``, the one noxfile.py's CI_RELEASES is.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import airflow_matrix  # noqa: E402
import update_tox  # noqa: E402
from update_tox import END, NOXFILE, START, TOX_INI, env_names, render  # noqa: E402

_noxfile = update_tox._noxfile


def _block(text: str) -> str:
    return START + text.split(START, 1)[1].split(END, 1)[0] + END


def _ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(TOX_INI.read_text())
    return ini


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.strip().splitlines() if line.strip()]


def test_tox_ini_has_an_environment_for_every_release_ci_runs() -> None:
    assert _block(TOX_INI.read_text()) == render(), "run: python scripts/update_tox.py"


def test_tox_ini_is_what_the_generator_writes() -> None:
    assert update_tox.rewrite(TOX_INI.read_text()) == TOX_INI.read_text(), "run: python scripts/update_tox.py"


def test_tox_env_list_is_the_ci_matrix() -> None:
    listed = [e.strip() for e in re.split(r"[,\n]", _ini()["tox"]["env_list"]) if e.strip()]
    assert listed == env_names(), "run: python scripts/update_tox.py"
    assert len([e for e in listed if e.startswith("af")]) == len(airflow_matrix.ci_releases()) >= 10


def test_noxfile_takes_its_ci_releases_from_the_shared_definition() -> None:
    """noxfile.CI_RELEASES is airflow_matrix.ci_releases() itself, not a copy of its logic."""
    tree = ast.parse(NOXFILE.read_text())
    assigned = {
        node.target.id: ast.unparse(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None
    }
    assert assigned["CI_RELEASES"] == "airflow_matrix.ci_releases(_MATRIX)"
    assert assigned["AIRFLOW_RELEASES"] == "airflow_matrix.matrix_releases(_MATRIX)"


def test_every_tox_environment_has_its_pins_file() -> None:
    for release in airflow_matrix.ci_releases():
        assert (ROOT / "constraints" / f"airflow-{release}.txt").is_file(), release


def test_tox_installs_what_nox_installs() -> None:
    ini = _ini()
    assert _lines(ini["behaviour"]["deps"]) == _noxfile("FUZZ")
    assert _lines(ini["crash"]["deps"]) == _noxfile("E2E_EXTRA")
    # The lint session's pins (airflow_rules pins Airflow's own versions, and needs nox: tox.ini says so).
    lint_session = NOXFILE.read_text().split("def lint(", 1)[1].split("\n@nox.session", 1)[0]
    lint_pins = re.findall(r'"((?:ruff|mypy)==[^"]+)"', lint_session)
    assert lint_pins and set(lint_pins) <= set(_lines(ini["testenv:lint"]["deps"]))


def test_airflow_extra_is_the_supported_range() -> None:
    """pyproject's `airflow` extra admits every release in the matrix and nothing the registry refuses."""
    from packaging.requirements import Requirement

    from airflow_trigger_compat._runtime._registry import SUPPORTED

    extra = airflow_matrix.tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["airflow"]
    airflow = next(Requirement(r) for r in extra if Requirement(r).name == "apache-airflow")
    data = airflow_matrix.load()
    assert all(airflow.specifier.contains(r) for r in data["releases"])
    # a pre-release in the matrix is admitted where an installer takes pre-releases (pip --pre)
    assert all(airflow.specifier.contains(r, prereleases=True) for r in data.get("prereleases", []))
    low, high = str(SUPPORTED).split(",")  # ">=2.11", "<4.0"
    below, at_high = low.removeprefix(">=") + ".0rc1", high.removeprefix("<") + ".0"
    assert not airflow.specifier.contains(below, prereleases=True)
    assert not airflow.specifier.contains(at_high)

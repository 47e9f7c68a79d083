"""tests(next) resolves what `pip install --pre apache-airflow` resolves, checked against a fixture index.

The noxfile's NEXT_PRERELEASE and NEXT_REQUIREMENTS are read as literals (no nox) and handed to
``uv pip compile`` over a local directory of empty wheels (``--no-index --find-links``: no network): an
index where the newest Airflow is a beta must resolve the beta. Then the verdict scripts/next_verdict.py
prints for each kind of release the session can meet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import next_verdict  # noqa: E402
from update_tox import _noxfile  # noqa: E402

#: The fixture index: the shape the real one had when issue 26 was filed.
INDEX = {
    "apache-airflow": ["3.3.1", "3.3.2", "3.4.0b1", "3.4.0b2"],
    "apache-airflow-providers-standard": ["1.20.0", "1.21.0"],
    "pytest": ["9.2.0"],
    "hypothesis": ["6.155.2"],
    "sortedcontainers": ["2.4.0"],
}


def _wheel(directory: Path, name: str, version: str) -> None:
    dist = f"{name.replace('-', '_')}-{version}"
    with zipfile.ZipFile(directory / f"{dist}-py3-none-any.whl", "w") as whl:
        whl.writestr(
            f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        whl.writestr(
            f"{dist}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        whl.writestr(f"{dist}.dist-info/RECORD", "")


def _resolve(tmp_path: Path, prerelease: str) -> dict[str, str]:
    uv = shutil.which("uv")
    if uv is None:
        if os.environ.get("CI") == "true":
            pytest.fail("uv is not on PATH (CI installs it: .ci/run)")
        pytest.skip("uv is not on PATH")
    index = tmp_path / "index"
    index.mkdir(exist_ok=True)
    for name, versions in INDEX.items():
        for version in versions:
            _wheel(index, name, version)
    wanted = tmp_path / "next.in"
    wanted.write_text("\n".join([*_noxfile("NEXT_REQUIREMENTS"), *_noxfile("FUZZ")]) + "\n")
    out = subprocess.run(
        [uv, "pip", "compile", str(wanted), "--no-index", "--find-links", str(index),
         "--prerelease", prerelease, "--python-version", _noxfile("PYTHON"),
         "--no-header", "--no-annotate", "--quiet", "--no-cache"],
        check=True, capture_output=True, text=True,
        env={**os.environ, "UV_PRERELEASE": "", "UV_INDEX_URL": "", "UV_EXTRA_INDEX_URL": ""},
    ).stdout  # fmt: skip
    return dict(line.split("==", 1) for line in out.splitlines() if "==" in line)


def test_tests_next_resolves_the_newest_airflow_pre_releases_included(tmp_path: Path) -> None:
    assert _noxfile("NEXT_PRERELEASE") == "allow"  # what `pip install --pre` does
    pins = _resolve(tmp_path, _noxfile("NEXT_PRERELEASE"))
    assert pins["apache-airflow"] == "3.4.0b2"
    assert pins["apache-airflow-providers-standard"] == "1.21.0"
    assert "pytest" in pins  # the suite's runner comes from the session's own environment


def test_the_setting_it_replaced_keeps_the_newest_final(tmp_path: Path) -> None:
    """Issue 26: uv's default (if-necessary-or-explicit) with unpinned Airflow stays on 3.3.2."""
    assert _resolve(tmp_path, "if-necessary-or-explicit")["apache-airflow"] == "3.3.2"


def test_the_verdict_for_a_release_in_the_matrix() -> None:
    lines = next_verdict.verdict("3.4.0b2", "passed")
    assert (
        "registry row >=3.3,<4.0 (runner_exception; durable: store) covers it" in lines[0]
        and "(a pre-release)" in lines[0]
    )
    assert (
        lines[-1].startswith("To add: nothing to add to the matrix")
        and "the registry needs no row" in lines[-1]
    )


def test_the_verdict_when_ci_ran_the_release_already() -> None:
    lines = next_verdict.verdict("3.4.0b2", "not-run")
    assert "not run here; tests(3.4.0b2) runs it in CI" in lines[1]


def test_the_verdict_for_a_new_pre_release_is_one_line_to_add() -> None:
    lines = next_verdict.verdict("3.4.0rc1", "passed")
    assert 'add "3.4.0rc1" to `prereleases`' in lines[-1]
    assert "python scripts/update_constraints.py 3.4.0rc1" in lines[-1]


def test_the_verdict_for_a_final_release_and_for_no_row() -> None:
    assert 'add "3.4.0" to `releases`' in next_verdict.verdict("3.4.0", "passed")[-1]
    four = next_verdict.verdict("4.0.0", "failed")
    assert "no registry row covers it" in four[0] and "the registry needs a row" in four[-1]


def test_a_final_release_supersedes_its_minors_pre_releases() -> None:
    import airflow_matrix

    data = {"releases": ["3.3.2"], "prereleases": ["3.4.0b1", "3.4.0b2"]}
    assert airflow_matrix.matrix_releases(data) == ["3.3.2", "3.4.0b2"]  # the newer beta replaces b1
    data = {"releases": ["3.3.2", "3.4.0"], "prereleases": ["3.4.0b2"]}
    assert airflow_matrix.matrix_releases(data) == ["3.3.2", "3.4.0"]
    assert airflow_matrix.ci_releases(data) == ["3.3.2", "3.4.0"]
    assert (
        airflow_matrix.minor_releases({"releases": ["3.3.2"], "prereleases": ["3.4.0b2"]})["3.4"] == "3.4.0b2"
    )

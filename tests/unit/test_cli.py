"""``python -m airflow_trigger_compat``: info, policy and registry, with and without Airflow."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import pytest

from airflow_trigger_compat import _cli
from airflow_trigger_compat._cli import main, registry_markdown
from airflow_trigger_compat._differences import HOW
from airflow_trigger_compat._runtime._registry import REGISTRY, Feature, parse_airflow_version

from .conftest import selection_for


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


@pytest.fixture
def airflow_3_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cli, "installed_airflow_version", lambda: parse_airflow_version("3.1.8"))


def test_info_names_version_paths_reason_and_gaps(airflow_3_1: None) -> None:
    code, out = run("info")
    entry = selection_for("3.1.8").entry
    assert code == 0
    assert "Airflow:  3.1.8" in out
    assert f"Path:     {entry.path}: {HOW[entry.path]}" in out
    assert f"Durable:  {entry.keep}: {HOW[entry.keep]}" in out
    assert (entry.path, entry.keep) == ("runner_exception", "derived")  # no task_state_store before 3.3
    assert "3.1.8 is in >=3.0,<3.2" in out
    assert f"note                      no: {REGISTRY[2].gaps[Feature.NOTE]}" in out
    assert "task_state_store          no: " in out


def test_info_json_names_both_paths(airflow_3_1: None) -> None:
    code, out = run("info", "--json")
    info = json.loads(out)
    entry = selection_for("3.1.8").entry
    assert code == 0
    assert (info["airflow"], info["strategy"], info["durable_keeps_run_id"]) == (
        "3.1.8",
        entry.path,
        entry.keep,
    )
    assert "durable_strategy" not in info  # the old key is gone, not left beside the new one
    assert info["features"] == {str(f): entry.supports(f) for f in Feature}


def test_info_without_airflow_names_the_supported_ranges_without_a_traceback() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["airflow"] = None  # no Airflow, whatever this environment has
        from airflow_trigger_compat.__main__ import main
        sys.exit(main(["info"]))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    # The message starts with the package's name; ``info`` adds no second one.
    assert result.stderr.startswith("airflow-trigger-compat supports Airflow >=2.11,<4.0 but "), result.stderr
    assert "no Airflow is installed" in result.stderr
    assert all(f"{e.airflow} ({e.verified})" in result.stderr for e in REGISTRY)
    assert "Traceback" not in result.stderr


def test_registry_markdown_has_every_row_and_every_gap_reason() -> None:
    text = registry_markdown()
    for entry in REGISTRY:
        paths = f"| `{entry.airflow}` | `{entry.path}` | `{entry.keep}` |"
        assert f"{paths} {entry.upstream} | {entry.verified} |" in text
        for feature, reason in entry.gaps.items():
            assert f"`{feature}`: {reason}" in text
    header = text.splitlines()[0]
    assert header.startswith("| Airflow | Path | `durable=True` | Upstream change | Verified on |")
    assert all(f"`{f}`" in header for f in Feature)
    # Every path, every place a row keeps durable's run_id, and the accessor a Task SDK may have (no row
    # names it: it is probed) are explained once, in the list under it.
    named = {name for e in REGISTRY for name in (e.path, e.keep)} | {"accessor"}
    assert named == set(HOW) == {"airflow2", "runner_exception", "store", "derived", "accessor"}
    assert all(text.count(f"- `{name}`: {HOW[name]}") == 1 for name in named)


def test_policy_one_minimum_markdown_and_json() -> None:
    code, out = run("policy", "--min-airflow", "3.3")
    assert code == 0
    assert "### Airflow >= 3.3" in out and "Strategy `airflow2` is dead." in out
    code, out = run("policy", "--min-airflow", "3.3", "--json")
    (report,) = json.loads(out)
    # The 3.3 row still takes both 3.x paths (stock's and durable=True's): only Airflow 2's goes.
    assert report["dead_strategies"] == ["airflow2"]
    assert report["kept_strategies"] == {}
    assert list(report["dead_modules"]) == ["_strategies/airflow2.py"]
    assert set(report["features_gained"]) == {
        "note",
        "run_after",
        "fail_when_dag_is_paused",
        "retry_on_failed_child",
        "task_state_store",
    }
    assert report["code_lines"] == sum(report["dead_modules"].values()) > 0


def test_policy_without_a_minimum_reports_every_candidate() -> None:
    code, out = run("policy", "--json")
    minimums = [r["minimum"] for r in json.loads(out)]
    assert code == 0
    assert minimums[0] == "2.11" and minimums[-1] == "3.3" and "3.1" in minimums


def test_policy_rejects_a_minimum_outside_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "--min-airflow", "2.10")[0] == 2
    assert "try one of 2.11, 3.0" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run()[0] == 2
    assert "{info,policy,registry,differences,vendor}" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_trigger_compat", "registry", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [
        (row["strategy"], row["durable_keeps_run_id"], row["verified"]) for row in json.loads(result.stdout)
    ]
    assert rows == [(e.path, e.keep, e.verified) for e in REGISTRY]


def test_readme_embeds_the_current_registry_table() -> None:
    """The README's version table is the registry's own output, so the two cannot drift."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    embedded = readme.split("<!-- registry:start", 1)[1].split("-->", 1)[1].split("<!-- registry:end -->")[0]
    assert embedded.strip() == registry_markdown().strip()

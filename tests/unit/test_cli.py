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
from airflow_trigger_compat._runtime._registry import REGISTRY, Feature, parse_airflow_version


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


@pytest.fixture
def airflow_3_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cli, "installed_airflow_version", lambda: parse_airflow_version("3.1.8"))


def test_info_names_version_strategy_reason_and_gaps(airflow_3_1: None) -> None:
    code, out = run("info")
    assert code == 0
    assert "Airflow:  3.1.8" in out
    assert "Strategy: runner_exception" in out
    assert "3.1.8 is in >=3.0,<3.2" in out
    assert f"note                      no: {REGISTRY[2].gaps[Feature.NOTE]}" in out
    assert "task_state_store          no: " in out


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
    assert "no Airflow is installed" in result.stderr
    assert ">=3.3,<4.0 (accessor)" in result.stderr
    assert "Traceback" not in result.stderr


def test_registry_markdown_has_every_row_and_every_gap_reason() -> None:
    text = registry_markdown()
    for entry in REGISTRY:
        assert f"| `{entry.airflow}` | `{entry.strategy}` |" in text
        for feature, reason in entry.gaps.items():
            assert f"`{feature}`: {reason}" in text
    header = text.splitlines()[0]
    assert all(f"`{f}`" in header for f in Feature)


def test_policy_one_minimum_markdown_and_json() -> None:
    code, out = run("policy", "--min-airflow", "3.3")
    assert code == 0
    assert "### Airflow >= 3.3" in out and "Strategy `airflow2` is dead." in out
    code, out = run("policy", "--min-airflow", "3.3", "--json")
    (report,) = json.loads(out)
    assert report["dead_strategies"] == ["airflow2", "runner_exception"]
    # 3.3's accessor takes the standard operator's path from runner_exception: that module stays.
    assert report["kept_strategies"] == {"runner_exception": ["_strategies/accessor.py"]}
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
    assert [row["strategy"] for row in json.loads(result.stdout)] == [e.strategy for e in REGISTRY]


def test_readme_embeds_the_current_registry_table() -> None:
    """The README's version table is the registry's own output, so the two cannot drift."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    embedded = readme.split("<!-- registry:start", 1)[1].split("-->", 1)[1].split("<!-- registry:end -->")[0]
    assert embedded.strip() == registry_markdown().strip()

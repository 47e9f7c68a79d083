"""README's generated tables are the package's own output, so the two cannot drift."""

from __future__ import annotations

from pathlib import Path

from airflow_trigger_compat._cli import differences_markdown
from airflow_trigger_compat._differences import DIFFERENCES

README = Path(__file__).parents[2] / "README.md"


def _block(name: str) -> str:
    text = README.read_text()
    return text.split(f"<!-- {name}:start", 1)[1].split("-->", 1)[1].split(f"<!-- {name}:end -->")[0]


def test_readme_embeds_the_current_differences_table() -> None:
    assert _block("differences").strip() == differences_markdown().strip()


def test_every_declared_difference_is_a_row_with_its_reason() -> None:
    table = differences_markdown()
    for difference in DIFFERENCES:
        row = next(line for line in table.splitlines() if f"`{difference.id}`" in line)
        assert difference.reason in row and difference.stock in row and difference.package in row

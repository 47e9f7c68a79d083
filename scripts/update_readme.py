"""Rewrite README.md's generated blocks (the registry and differences tables) from the package's output."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_trigger_compat._cli import differences_markdown, registry_markdown

README = Path(__file__).parents[1] / "README.md"


def main() -> None:
    text = README.read_text()
    for name, body in (("registry", registry_markdown()), ("differences", differences_markdown())):
        pattern = re.compile(rf"(<!-- {name}:start[^>]*-->\n).*?(<!-- {name}:end -->)", re.S)
        text, count = pattern.subn(lambda m, body=body: m.group(1) + body + m.group(2), text)
        if count != 1:
            raise SystemExit(f"README.md has no single {name} block")
    README.write_text(text)


if __name__ == "__main__":
    main()

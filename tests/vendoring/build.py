"""Build a provider-shaped package that ships airflow-trigger-compat vendored, as a provider would.

    python tests/vendoring/build.py DEST [--check]

writes ``DEST/fake_provider/`` (this directory's ``fake_provider`` template: the provider's operator)
and ``DEST/fake_provider/_vendor/airflow_trigger_compat/`` (the package, its ``py.typed`` and the repo's
LICENSE). ``--check`` then imports the vendored copy in a fresh interpreter and fails if that imported
any ``airflow`` module or a top-level ``airflow_trigger_compat``.

Why a plain copy, not pypa's ``vendoring`` tool: the tool's job is to pip-install a ``vendor.txt`` of
third-party libraries and rewrite their absolute imports to the vendored namespace. This package needs
neither: it imports itself only relatively (a unit test enforces it) and its two dependencies,
``packaging`` and ``typing-extensions``, are already Airflow's. The tool also says it has "no stability
promises -- it has only one intended user: pip" and that a project published to PyPI should not use it,
which is what a provider is; and it would pull pip, click, rich, jsonschema and requests into every
session. A copy of one directory plus LICENSE is the whole job.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "src" / "airflow_trigger_compat"
TEMPLATE = Path(__file__).resolve().parent / "fake_provider"
PROVIDER = "fake_provider"
VENDORED = f"{PROVIDER}._vendor.airflow_trigger_compat"
OPERATOR = f"{PROVIDER}.operators:TriggerDagRunOperator"

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "_vendor")


def build(dest: Path, source: Path = SOURCE) -> Path:
    """Write the provider package with its vendored copy under ``dest``; returns the vendored directory."""
    provider = dest / PROVIDER
    if provider.exists():
        shutil.rmtree(provider)
    shutil.copytree(TEMPLATE, provider, ignore=_IGNORE)
    vendor = provider / "_vendor"
    vendor.mkdir()
    (vendor / "__init__.py").write_text('"""Third-party packages shipped with this provider."""\n')
    target = vendor / "airflow_trigger_compat"
    shutil.copytree(source, target, ignore=_IGNORE)
    shutil.copy2(REPO / "LICENSE", target / "LICENSE")
    for required in ("py.typed", "LICENSE", "__init__.py"):
        if not (target / required).is_file():
            raise SystemExit(f"vendored copy lacks {required}: {target}")
    return target


_CHECK = """
import sys
import {vendored} as compat
assert compat.__version__, "no hard-coded __version__"
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("airflow", "airflow_trigger_compat"))
assert not bad, f"importing the vendored copy imported {{bad}}"
print(f"{{compat.__name__}} {{compat.__version__}}: imports no airflow module")
"""


def check(dest: Path) -> None:
    """Import the vendored copy in a fresh interpreter with only ``dest`` added to the path."""
    env = {**os.environ, "PYTHONPATH": str(dest)}
    subprocess.run([sys.executable, "-c", _CHECK.format(vendored=VENDORED)], check=True, env=env, cwd=dest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--check", action="store_true", help="then import it and check it imports no airflow")
    args = parser.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    target = build(args.dest)
    print(f"vendored into {target}; operator {OPERATOR}")
    if args.check:
        check(args.dest)


if __name__ == "__main__":
    main()

"""Print the tables of a results directory (every results/*.json, one schema: tests/results.py).

    python scripts/results_table.py                       # every table the directory has results for
    python scripts/results_table.py --only matrix         # one: matrix, crash, celery, bench
    python scripts/results_table.py --markdown other/dir  # the matrix as Markdown; another directory

matrix: a row per Airflow release, scenario x release outcomes (identical patch releases merged), the
provider axis, then every outcome other than passed with its reason. crash: the live crash test on
LocalExecutor, version x operator x kill (repeats folded; a kind a version does not run: "not run here:
<reason>"). celery: the crash test on CeleryExecutor, then its load case's throughput. bench: the
benchmark figures against their targets. Exit status 1 when a file is not a results document, a table
named with --only has no results, or a table shows a failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _results() -> ModuleType:
    """tests/results.py by path: this runs where the package is not installed."""
    spec = importlib.util.spec_from_file_location("_results", ROOT / "tests" / "results.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    results = _results()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="results", type=Path)
    parser.add_argument("--only", choices=list(results.TABLES), action="append", help="repeatable")
    parser.add_argument("--markdown", action="store_true", help="the matrix as Markdown (the others are)")
    args = parser.parse_args(argv)
    try:
        docs = results.load(args.directory) if args.directory.exists() else []
    except results.ResultsError as err:
        print(err, file=sys.stderr)
        return 1
    status = 0
    for name in args.only or results.TABLES:
        if not args.only and not any(d["run"] in results.TABLE_RUNS[name] for d in docs):
            continue  # a table this directory has no results for: not an error unless asked for
        if name == "matrix":
            declared = tomllib.loads((ROOT / "constraints" / "releases.toml").read_text())
            text, failed = results.matrix_table(docs, declared, args.markdown)
        else:
            text, failed = results.TABLES[name](docs)
        print(text + "\n", file=sys.stderr if failed and "\n" not in text else sys.stdout)
        status |= failed
    if not args.only and not docs:
        print(
            f"no results in {str(args.directory)!r}: run a session first (docs/development.md)",
            file=sys.stderr,
        )
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())

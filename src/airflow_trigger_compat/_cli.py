"""``python -m airflow_trigger_compat`` (console script ``airflow-trigger-compat``).

* ``info``: the Airflow found here, the paths it takes and why, the features available.
* ``policy [--min-airflow X.Y] [--as-of DATE]``: when Airflow's rule allows raising the provider's minimum
  Airflow, and what each minimum removes (see :mod:`._policy`).
* ``registry``: the version table as Markdown (the README embeds it).
* ``differences``: the declared differences from the standard operator as Markdown (README embeds it).
* ``vendor --into DIR [--package NAME] [--host NAME]`` / ``vendor --check DIR`` / ``vendor --outdated
  DIR``: copy the runtime into a provider, stamped; check a copy against its stamp; say whether the
  installed package would write another copy (see :mod:`._vendoring`).

Exit codes: 0 done; 1 this environment cannot run the operator (no Airflow, or one older than every
registry row), or ``vendor`` failed or found drift, the message says why and what to do; 2 a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ._differences import HOW
from ._policy import candidate_minimums, load_data, markdown as policy_markdown, parse_minimum, policy
from ._runtime._errors import TriggerCompatError
from ._runtime._registry import (
    REGISTRY,
    AirflowVersion,
    Feature,
    airflow_version,
    parse_airflow_version,
    resolve,
)
from ._vendoring import VendorError, check, outdated, vendor

__all__ = ["main", "registry_markdown"]

_PROG = "airflow-trigger-compat"


def _version() -> str:
    from . import __version__

    return __version__


# -- info ----------------------------------------------------------------------------------------------

#: Where ``import airflow`` comes from, newest layout first: Airflow 3 ships the ``airflow`` package in
#: apache-airflow-core (apache-airflow is a meta-package over it); Airflow 2 ships it in apache-airflow.
_DISTRIBUTIONS = ("apache-airflow-core", "apache-airflow")


def installed_airflow_version() -> AirflowVersion | None:
    """The installed Airflow's version from its distribution metadata, without importing Airflow.

    Importing Airflow takes seconds and creates ``$AIRFLOW_HOME`` (``~/airflow``) with a config file;
    reading the metadata does neither, so ``info`` answers at once. Falls back to the import where no
    distribution is installed (a source checkout on ``sys.path``). Inside a task, routing keeps using
    :func:`airflow_version`: the module that actually runs is the one that counts there.
    """
    from importlib.metadata import PackageNotFoundError, version

    for distribution in _DISTRIBUTIONS:
        try:
            return parse_airflow_version(version(distribution))
        except PackageNotFoundError:
            continue
    return airflow_version()


def info(as_json: bool, out: TextIO) -> int:
    try:
        # From the distribution metadata: no Airflow import, nothing created under $AIRFLOW_HOME.
        selection = resolve(installed_airflow_version())
    except TriggerCompatError as err:
        if as_json:
            out.write(json.dumps({"error": str(err), "airflow": err.airflow_version}, indent=2) + "\n")
        print(err if str(err).startswith(_PROG) else f"{_PROG}: {err}", file=sys.stderr)
        return 1
    why = f"{selection.reason} (registry row {selection.entry.airflow}: {selection.entry.upstream})"
    features = {str(f): selection.gap(f) for f in Feature}
    if as_json:
        data = {
            "package": __package__,
            "version": _version(),
            "airflow": selection.version.raw,
            "strategy": selection.entry.path,
            "durable_keeps_run_id": selection.entry.keep,
            "reason": why,
            "upstream": selection.entry.upstream,
            "features": {name: gap is None for name, gap in features.items()},
            "gaps": {name: gap for name, gap in features.items() if gap is not None},
        }
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    lines = [
        f"{_PROG} {_version()} (imported as {__package__})",
        f"Airflow:  {selection.version.raw}",
        f"Path:     {selection.entry.path}: {HOW[selection.entry.path]}",
        f"Durable:  {selection.entry.keep}: {HOW[selection.entry.keep]}",
        f"Why:      {why}",
        "Features:",
        *(f"  {name:<25} {'yes' if gap is None else 'no: ' + gap}" for name, gap in features.items()),
    ]
    out.write("\n".join(lines) + "\n")
    return 0


# -- registry ------------------------------------------------------------------------------------------


def registry_markdown() -> str:
    """The version table: each row's path, durable's run_id, features; what each does; each gap's reason."""
    features = list(Feature)
    reasons: dict[str, int] = {}
    rows = []
    for entry in REGISTRY:
        cells = []
        for feature in features:
            gap = entry.gaps.get(feature)
            if gap is None:
                cells.append("yes")
            else:
                number = reasons.setdefault(f"`{feature}`: {gap}", len(reasons) + 1)
                cells.append(f"no [{number}]")
        rows.append(
            f"| `{entry.airflow}` | `{entry.path}` | `{entry.keep}` | {entry.upstream} | "
            f"{entry.verified} | {' | '.join(cells)} |"
        )
    header = [
        "Airflow",
        "Path",
        "`durable=True`",
        "Upstream change",
        "Verified on",
        *(f"`{f}`" for f in features),
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *rows,
        "",
        *(f"- `{name}`: {how}" for name, how in HOW.items()),
        "",
        *(f"{number}. {text}" for text, number in reasons.items()),
    ]
    return "\n".join(lines) + "\n"


def registry_json() -> list[dict[str, Any]]:
    return [
        {
            "airflow": str(e.airflow),
            "strategy": e.path,
            "durable_keeps_run_id": e.keep,
            "upstream": e.upstream,
            "verified": e.verified,
            "features": sorted(str(f) for f in Feature if e.supports(f)),
            "gaps": {str(f): reason for f, reason in e.gaps.items()},
        }
        for e in REGISTRY
    ]


# -- differences -----------------------------------------------------------------------------------------


def differences_markdown() -> str:
    """The declared differences from the standard operator (``_differences.DIFFERENCES``) as Markdown."""
    from ._differences import DIFFERENCES

    header = ["Difference", "Airflow", "When", "The standard operator", "This package", "Why", "Shown by"]
    rows = [
        f"| `{d.id}` | `{d.airflow}` | {d.when} | {d.stock} | {d.package} | {d.reason} | {d.shown_by} |"
        for d in DIFFERENCES
    ]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows]) + "\n"


# -- policy --------------------------------------------------------------------------------------------


def run_policy(minimum: str | None, as_of: str | None, as_json: bool, out: TextIO) -> int:
    try:
        minimums = [parse_minimum(minimum)] if minimum else candidate_minimums()
        day = datetime.date.fromisoformat(as_of) if as_of else datetime.date.today()
    except ValueError as err:
        choices = ", ".join(f"{m[0]}.{m[1]}" for m in candidate_minimums())
        print(f"{_PROG} policy: {err}; try one of {choices}, and --as-of YYYY-MM-DD.", file=sys.stderr)
        return 2
    data = load_data()
    reports = [policy(m, day, data) for m in minimums]
    if as_json:
        out.write(json.dumps([r.as_json() for r in reports], indent=2) + "\n")
    else:
        out.write(policy_markdown(reports, data))
    return 0


# -- vendor --------------------------------------------------------------------------------------------


def run_vendor(args: argparse.Namespace, out: TextIO) -> int:
    into = args.into
    try:
        if args.check is not None:
            return check(args.check, out)
        if args.outdated is not None:
            return outdated(args.outdated, out)
        target = vendor(into, args.package, args.host)
    except VendorError as err:
        print(f"{_PROG} vendor: {err}", file=sys.stderr)
        return 1
    out.write(f"vendored {_PROG} {_version()} into {target}; check it with: {_PROG} vendor --check {into}\n")
    return 0


# -- entry point ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Which TriggerDagRunOperator path runs where, and why."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="{info,policy,registry,differences,vendor}")
    info_parser = commands.add_parser("info", help="the Airflow found here, the strategy chosen and why")
    info_parser.add_argument("--json", action="store_true", help="machine-readable output")
    policy_parser = commands.add_parser("policy", help="what raising the provider's minimum Airflow would do")
    policy_parser.add_argument(
        "--min-airflow", metavar="X.Y", help="the minimum to consider (default: every candidate)"
    )
    policy_parser.add_argument("--json", action="store_true", help="machine-readable output")
    policy_parser.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="the day the rule is applied on (default: today)"
    )
    registry_parser = commands.add_parser("registry", help="the version table as Markdown")
    registry_parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser(
        "differences", help="the declared differences from the standard operator, as Markdown"
    )
    vendor_parser = commands.add_parser(
        "vendor",
        help="copy the runtime into a provider, stamped (--into); check a copy (--check, --outdated)",
    )
    where = vendor_parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--into", type=Path, metavar="DIR", help="the host's _vendor directory")
    where.add_argument("--check", type=Path, metavar="DIR", help="exit 1 if a file differs from the stamp")
    where.add_argument(
        "--outdated", type=Path, metavar="DIR", help="exit 1 with a diff if the installed package is newer"
    )
    vendor_parser.add_argument(
        "--package",
        metavar="DOTTED.NAME",
        help="the copy's import name, checked against where --into puts it",
    )
    vendor_parser.add_argument(
        "--host",
        metavar="NAME",
        help="who ships the copy, named in upgrade hints (default: the host package)",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        return info(args.json, out)
    if args.command == "policy":
        return run_policy(args.min_airflow, args.as_of, args.json, out)
    if args.command == "registry":
        out.write(json.dumps(registry_json(), indent=2) + "\n" if args.json else registry_markdown())
        return 0
    if args.command == "differences":
        out.write(differences_markdown())
        return 0
    if args.command == "vendor":
        if args.into is None and (args.package or args.host):
            parser.error("--package and --host go with --into; a copy's stamp has them")
        return run_vendor(args, out)
    parser.print_help(sys.stderr)
    return 2

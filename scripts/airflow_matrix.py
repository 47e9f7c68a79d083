"""The Airflow matrix, read from constraints/releases.toml: the one definition every consumer shares.

noxfile.py (its sessions), scripts/update_constraints.py (the pins), scripts/update_tox.py (tox.ini) and
tests/unit/test_tox.py (tox.ini's drift check) import this module; it needs only the standard library
(tomli on Python 3.10), never nox or Airflow.

A release in the matrix is a final release (``releases``) or a pre-release (``prereleases``) still in it:
a minor's final release supersedes its pre-releases, and a minor's newest pre-release (the last listed)
supersedes its older ones. So 3.4.0rc1 added after 3.4.0b2 replaces it, and 3.4.0 replaces both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the unit sessions install tomli there
    import tomli as tomllib

RELEASES_TOML = Path(__file__).resolve().parent.parent / "constraints" / "releases.toml"


def minor_of(release: str) -> str:
    """``"3.4.0b2"`` -> ``"3.4"``; ``"2.11.2"`` -> ``"2.11"``."""
    return ".".join(release.split(".")[:2])


def load(path: Path = RELEASES_TOML) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def active_prereleases(data: dict[str, Any] | None = None) -> list[str]:
    """The pre-releases still in the matrix: the newest listed of each minor that has no final release."""
    data = load() if data is None else data
    finals = {minor_of(r) for r in data["releases"]}
    newest: dict[str, str] = {}
    for pre in data.get("prereleases", []):
        if minor_of(pre) not in finals:
            newest[minor_of(pre)] = pre  # listed oldest first: the last one of a minor wins
    return list(newest.values())


def matrix_releases(data: dict[str, Any] | None = None) -> list[str]:
    """Every release the matrix runs, oldest minor first: the installable finals, then active pre-releases.

    A pre-release's minor is newer than every final's (a minor with a final has no active pre-release).
    """
    data = load() if data is None else data
    unavailable = data.get("unavailable", {})
    return [r for r in [*data["releases"], *active_prereleases(data)] if r not in unavailable]


def by_minor(data: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Minor -> its releases in the matrix, oldest first."""
    out: dict[str, list[str]] = {}
    for release in matrix_releases(data):
        out.setdefault(minor_of(release), []).append(release)
    return out


def minor_releases(data: dict[str, Any] | None = None) -> dict[str, str]:
    """Minor -> the release the minor-keyed sessions (live, provider, bench, demo) run: its newest."""
    return {minor: releases[-1] for minor, releases in by_minor(data).items()}


def ci_releases(data: dict[str, Any] | None = None) -> list[str]:
    """What CI runs of the behavioural matrix: the first and the last release of each minor."""
    return [r for rs in by_minor(data).values() for r in dict.fromkeys((rs[0], rs[-1]))]


def is_prerelease(release: str) -> bool:
    """A PEP 440 pre-release or development release (``3.4.0b2``, ``3.4.0rc1``, ``3.4.0.dev0``)."""
    last = release.split(".")[2] if release.count(".") >= 2 else ""
    return not last.isdigit() or "dev" in release


def celery_matrix(data: dict[str, Any] | None = None) -> dict[str, str]:
    """Minor -> the release live(<minor>) runs on CeleryExecutor too: ``celery_minors``, and the newest minor
    whose release is not in ``[celery_unavailable]`` (releases.toml), oldest minor first."""
    data = load() if data is None else data
    releases = minor_releases(data)
    unavailable = data.get("celery_unavailable", {})
    can = [m for m, r in releases.items() if r not in unavailable]
    wanted = {*data.get("celery_minors", []), *can[-1:]}
    return {m: releases[m] for m in can if m in wanted}


def celery_unavailable(release: str, data: dict[str, Any] | None = None) -> str | None:
    """Why the Celery crash test cannot run on ``release`` (``[celery_unavailable]``), or None."""
    data = load() if data is None else data
    reason: str | None = data.get("celery_unavailable", {}).get(release)
    return reason

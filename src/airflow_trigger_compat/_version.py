"""Detect the running Airflow, lazily and once.

Routing uses the release tuple only: ``3.3.0rc1``, ``3.3.0.dev0`` and ``3.3.0+local.1`` are all 3.3
(packaging's specifier matching would exclude the pre-releases). This mirrors the standard provider's
``get_base_airflow_version_tuple``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from ._errors import UnsupportedAirflowVersion

__all__ = ["AirflowVersion", "airflow_version", "installed_airflow_version", "parse_airflow_version"]

#: Where ``import airflow`` comes from, newest layout first: Airflow 3 ships the ``airflow`` package in
#: apache-airflow-core (apache-airflow is a meta-package over it); Airflow 2 ships it in apache-airflow.
_DISTRIBUTIONS = ("apache-airflow-core", "apache-airflow")


class AirflowVersion(NamedTuple):
    """An installed Airflow: the version string as reported, and its ``(major, minor, micro)``."""

    raw: str
    release: tuple[int, int, int]

    def __str__(self) -> str:
        return self.raw


def parse_airflow_version(raw: str) -> AirflowVersion:
    """Parse ``raw`` into an :class:`AirflowVersion`; ``"3.3.0rc1"`` -> release ``(3, 3, 0)``."""
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(raw)
    except InvalidVersion as err:
        raise UnsupportedAirflowVersion(
            f"Cannot parse the Airflow version {raw!r}: it is not a PEP 440 version. "
            "Check `python -c 'import airflow; print(airflow.__version__)'` in this environment.",
            airflow_version=raw,
        ) from err
    major, minor, micro = (*parsed.release, 0, 0)[:3]
    return AirflowVersion(raw, (major, minor, micro))


@functools.cache
def airflow_version() -> AirflowVersion | None:
    """Return the running Airflow's version, or ``None`` when Airflow is not importable.

    Cached: call :func:`airflow_trigger_compat.reset` after changing the environment in tests.
    """
    try:
        from airflow import __version__
    except ImportError:
        return None
    return parse_airflow_version(__version__)


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

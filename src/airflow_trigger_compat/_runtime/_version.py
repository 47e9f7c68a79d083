"""Detect the running Airflow, lazily and once.

Routing uses the release tuple only: ``3.3.0rc1``, ``3.3.0.dev0`` and ``3.3.0+local.1`` are all 3.3
(packaging's specifier matching would exclude the pre-releases). This mirrors the standard provider's
``get_base_airflow_version_tuple``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from ._errors import UnsupportedAirflowVersion


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

    Cached: call :func:`reset` after changing the environment in tests.
    """
    try:
        from airflow import __version__
    except ImportError:
        return None
    return parse_airflow_version(__version__)

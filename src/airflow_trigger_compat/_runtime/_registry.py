"""The version story, in one place: read ``REGISTRY`` top to bottom, a half-open Airflow range a row."""
# Each row: the path stock's behaviour takes (durable=True triggers through it too), and the features the
# range lacks, each with its reason.
# Routing uses the release tuple only (``3.3.0rc1`` is 3.3), as the standard provider.

from __future__ import annotations

import enum
import functools
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from ._airflow import load
from ._errors import UnsupportedAirflowVersion, UnverifiedAirflowWarning

Release = tuple[int, int, int]


class AirflowVersion(NamedTuple):
    """An installed Airflow: the version string as reported, and its ``(major, minor, micro)``."""

    raw: str
    release: Release

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
    """Return the running Airflow's version, or ``None`` when Airflow is not importable (cached)."""
    try:
        return parse_airflow_version(load("__version__"))
    except ImportError:
        return None


class Feature(str, enum.Enum):
    """What some supported Airflow lacks; every other flag works on every supported Airflow."""

    #: durable=True keeps the child's run_id in the task's state store, so it also works for a fixed
    #: run_id; without a store the run_id is derived from the parent, which needs a generated one.
    TASK_STATE_STORE = "task_state_store"
    NOTE = "note"
    RUN_AFTER = "run_after"
    FAIL_WHEN_DAG_IS_PAUSED = "fail_when_dag_is_paused"
    #: A child run ending in failed_states sends a synchronously waiting parent to retry.
    RETRY_ON_FAILED_CHILD = "retry_on_failed_child"

    def __str__(self) -> str:
        return self.value


#: What stock does with a flag where its feature is missing, for the features that are flags: drop it (the
#: package warns, ``FlagIgnoredWarning``) or refuse the DAG (``FeatureNotSupported``, at parse).
DROP, REFUSE = "drop", "refuse"
WHEN_MISSING: Mapping[Feature, str] = MappingProxyType(
    {Feature.RUN_AFTER: DROP, Feature.NOTE: DROP, Feature.FAIL_WHEN_DAG_IS_PAUSED: REFUSE}
)


class VersionRange(NamedTuple):
    """A half-open range of Airflow releases: ``low <= release < high``."""

    low: Release
    high: Release

    def __contains__(self, release: object) -> bool:
        return isinstance(release, tuple) and self.low <= release < self.high

    def __str__(self) -> str:
        return f">={_fmt(self.low)},<{_fmt(self.high)}"


def _fmt(release: Release) -> str:
    return ".".join(map(str, release[:2] if release[2] == 0 else release))


class Entry(NamedTuple):
    """A row of the version story: the ``_strategies`` module of stock's path, and what the range lacks."""

    # With the upstream changes behind them.
    airflow: VersionRange
    path: str
    upstream: str
    #: The releases the behavioural suite and the crash tests ran on.
    verified: str
    #: Features this range lacks, each with the reason. Everything not listed here is supported.
    gaps: Mapping[Feature, str] = MappingProxyType({})

    def supports(self, feature: Feature) -> bool:
        return feature not in self.gaps

    @property
    def keep(self) -> str:
        """Where durable=True keeps the child's run_id on this row (``_strategies.durable.KEEPERS``)."""
        return "derived" if Feature.TASK_STATE_STORE in self.gaps else "store"


# Reasons shared by several rows are named once.
_NO_STORE_BEFORE_3_3 = (
    "task_state_store arrived in Airflow 3.3 (task-sdk 1.3); before, durable=True derives the child's "
    "run_id from the parent task instance, which needs a generated run_id"
)
_NO_RUN_AFTER_BEFORE_3_3 = (
    "DagRunTriggerException accepts run_after from Airflow 3.3 (task-sdk 1.3); the standard operator drops "
    "it before"
)
_NO_RETRY_BEFORE_3_3 = (
    "the 3.0-3.2 task runner marks the parent FAILED, without retries, when the child fails during a "
    "synchronous wait (apache/airflow#62970; task-sdk 1.3 routes it through the retry handler, "
    "apache/airflow#68254); deferrable waits do retry"
)

#: Newest first, contiguous from 2.11 to 4.0.
REGISTRY: tuple[Entry, ...] = (
    # Airflow 3.3: durable=True works for any run_id. From 3.3.1 the runner also retries a parent whose
    # trigger failed (apache/airflow#70719). No release has the ti.trigger_dag_run() accessor #69135 proposes.
    Entry(
        VersionRange((3, 3, 0), (4, 0, 0)),
        "runner_exception",
        "task-sdk 1.3: task_state_store (apache/airflow#66160, #68438), "
        "DagRunTriggerException(run_after=...), the runner's retry on a failed child (#68254)",
        "3.3.0-3.3.2, 3.4.0b2",
    ),
    Entry(
        VersionRange((3, 2, 0), (3, 3, 0)),
        "runner_exception",
        "task-sdk 1.2: DagRunTriggerException(note=...), RuntimeTaskInstance.get_dag()",
        "3.2.0-3.2.2",
        MappingProxyType(
            {
                Feature.TASK_STATE_STORE: _NO_STORE_BEFORE_3_3,
                Feature.RUN_AFTER: _NO_RUN_AFTER_BEFORE_3_3,
                Feature.RETRY_ON_FAILED_CHILD: _NO_RETRY_BEFORE_3_3,
            }
        ),
    ),
    # Airflow 3.0 (AIP-72): tasks lose ORM access; the task runner triggers for the operator.
    Entry(
        VersionRange((3, 0, 0), (3, 2, 0)),
        "runner_exception",
        "AIP-72 Task SDK: DagRunTriggerException handled by task_runner._handle_trigger_dag_run",
        "3.0.0-3.1.8",
        MappingProxyType(
            {
                Feature.TASK_STATE_STORE: _NO_STORE_BEFORE_3_3,
                Feature.RUN_AFTER: _NO_RUN_AFTER_BEFORE_3_3,
                Feature.RETRY_ON_FAILED_CHILD: _NO_RETRY_BEFORE_3_3,
                Feature.NOTE: "DagRunTriggerException and the TriggerDagRun payload accept note "
                "from Airflow 3.2 (task-sdk 1.2); the standard operator drops it before",
                Feature.FAIL_WHEN_DAG_IS_PAUSED: "tasks can read a DAG's paused state (ti.get_dag, the "
                "GetDag execution-API endpoint) from Airflow 3.2; the standard operator refuses it: "
                "Setting `fail_when_dag_is_paused` requires Airflow 3.2.0+ on Airflow 3.x (it relies on "
                "the task-SDK DAG state endpoint added in 3.2.0).",
            }
        ),
    ),
    Entry(
        VersionRange((2, 11, 0), (3, 0, 0)),
        "airflow2",
        "Airflow 2.x trigger_dag API (airflow.api.common.trigger_dag), as the standard operator's "
        "_trigger_dag_af_2",
        "2.11.0-2.11.2",
        MappingProxyType(
            {
                Feature.TASK_STATE_STORE: _NO_STORE_BEFORE_3_3,
                Feature.RUN_AFTER: "Airflow 2 has no run_after; the standard operator ignores it there",
                Feature.NOTE: "Airflow 2's trigger_dag() takes no note; the standard operator ignores it "
                "there (it logs 'not supported in Airflow 2.x')",
            }
        ),
    ),
)

SUPPORTED = VersionRange(REGISTRY[-1].airflow.low, REGISTRY[0].airflow.high)


class Selection(NamedTuple):
    """The answer to "what runs here": the running Airflow's version and its registry row."""

    version: AirflowVersion
    entry: Entry

    @property
    def reason(self) -> str:
        return f"Airflow {self.version.raw} is in {self.entry.airflow}"

    def supports(self, feature: Feature | str) -> bool:  # a Feature is a str: "note" finds Feature.NOTE
        return feature not in self.entry.gaps

    def gap(self, feature: Feature | str) -> str | None:
        """Return the reason ``feature`` is missing here, or ``None`` when it is supported."""
        return self.entry.gaps.get(Feature(feature))


def resolve(version: AirflowVersion | None) -> Selection:
    """Return the registry row for ``version``: a newer Airflow warns, an older one (or none) raises."""
    # Newer than every row: the newest row's paths with UnverifiedAirflowWarning, as the standard operator
    # takes its newest branch; older: UnsupportedAirflowVersion, naming what is supported.
    from ._host import SHIPPED_BY

    entry = next((e for e in REGISTRY if version is not None and version.release in e.airflow), None)
    if version is not None and entry is not None:
        return Selection(version, entry)
    verified = ", ".join(f"{e.airflow} ({e.verified})" for e in reversed(REGISTRY))
    if version is not None and version.release >= SUPPORTED.high:
        warnings.warn(
            f"Airflow {version.raw} is newer than every release {SHIPPED_BY} was verified on ({verified}); "
            f"it runs the paths of {REGISTRY[0].airflow}. Upgrade {SHIPPED_BY} if a newer one supports it.",
            UnverifiedAirflowWarning,
            stacklevel=2,
        )
        return Selection(version, REGISTRY[0])
    found = "no Airflow is installed" if version is None else f"Airflow {version.raw!r} is installed"
    raise UnsupportedAirflowVersion(
        f"{SHIPPED_BY} supports Airflow {SUPPORTED} but {found}. Verified on: {verified}. Install a "
        f"supported Airflow, or a release of {SHIPPED_BY} that supports yours.",
        airflow_version=None if version is None else version.raw,
    )


@functools.cache
def select_row() -> Selection:
    """Return the registry row for the running Airflow (cached; :func:`reset` clears it)."""
    return resolve(airflow_version())

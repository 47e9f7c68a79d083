"""The version story, in one place.

Read ``REGISTRY`` top to bottom: each entry is a half-open Airflow range, the strategy that runs there,
and the features that range lacks, each with its reason. Supported features are everything else.
``STRATEGIES`` says, for each strategy, the module that implements it and where it can run at all (a
maintainer may force a strategy outside the range where it is the default, for comparing paths).
"""

from __future__ import annotations

import enum
import functools
import importlib
import itertools
import os
from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import Any, NamedTuple

from ._errors import StrategyUnavailable, UnsupportedAirflowVersion
from ._version import AirflowVersion, airflow_version

__all__ = [
    "FORCE_ENV_VAR",
    "PROVIDER_ATTRIBUTES",
    "PROVIDER_FIXES",
    "PROVIDER_PARAMETERS",
    "REGISTRY",
    "STRATEGIES",
    "WHEN_MISSING",
    "Entry",
    "Feature",
    "ProviderFix",
    "ProviderParameter",
    "Selection",
    "Strategy",
    "VersionRange",
    "check_registry",
    "provider_attribute",
    "select_strategy",
]

#: Set to a strategy name to force it (for debugging, and for comparing paths on one install).
FORCE_ENV_VAR = "AIRFLOW_TRIGGER_COMPAT_STRATEGY"

Release = tuple[int, int, int]


class Feature(str, enum.Enum):
    """Operator features whose availability depends on the Airflow version."""

    DURABLE = "durable"
    DEFERRABLE = "deferrable"
    NOTE = "note"
    RUN_AFTER = "run_after"
    FAIL_WHEN_DAG_IS_PAUSED = "fail_when_dag_is_paused"
    RESET_DAG_RUN = "reset_dag_run"
    SKIP_WHEN_ALREADY_EXISTS = "skip_when_already_exists"
    #: A child run ending in failed_states sends a synchronously waiting parent to retry.
    RETRY_ON_FAILED_CHILD = "retry_on_failed_child"

    def __str__(self) -> str:
        return self.value


#: What happens to a flag that is set where its feature is missing. The standard operator decides: it
#: refuses ``fail_when_dag_is_paused`` on 3.0/3.1 (NotImplementedError at construction), and drops
#: ``note`` and ``run_after`` (3.x silently, Airflow 2 with a log line); the package does the same and
#: warns (``FlagIgnoredWarning``), so every DAG that parses with stock parses with it. ``durable`` and
#: retries are the package's own promises: it warns and runs as stock does.
WHEN_MISSING: Mapping[Feature, str] = MappingProxyType(
    {
        Feature.FAIL_WHEN_DAG_IS_PAUSED: "refuse",
        Feature.NOTE: "drop",
        Feature.RUN_AFTER: "drop",
        Feature.DURABLE: "warn",
        Feature.RETRY_ON_FAILED_CHILD: "warn",
    }
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


class Strategy(NamedTuple):
    """A way of running the trigger: its module (under ``_strategies``) and where it can run at all."""

    name: str
    module: str
    runs_on: VersionRange
    summary: str

    def load(self) -> ModuleType:
        return importlib.import_module(f"{__package__}._strategies.{self.module}")


class Entry(NamedTuple):
    """One row of the version story."""

    airflow: VersionRange
    strategy: str
    upstream: str
    #: Features this range lacks, each with the reason. Everything not listed here is supported.
    gaps: Mapping[Feature, str] = MappingProxyType({})

    def supports(self, feature: Feature) -> bool:
        return feature not in self.gaps

    @property
    def features(self) -> frozenset[Feature]:
        return frozenset(f for f in Feature if f not in self.gaps)


# Reasons shared by several rows are named once.
_NO_RUN_AFTER_BEFORE_3_3 = (
    "DagRunTriggerException accepts run_after from Airflow 3.3 (task-sdk 1.3); the standard operator drops "
    "it before"
)
_NO_RETRY_BEFORE_3_3 = (
    "the 3.0-3.2 task runner marks the parent FAILED, without retries, when the child fails during a "
    "synchronous wait (apache/airflow#62970; task-sdk 1.3 routes it through the retry handler, "
    "apache/airflow#68254); deferrable waits do retry"
)

_GAPS_3_0_3_1: Mapping[Feature, str] = MappingProxyType(
    {
        Feature.RUN_AFTER: _NO_RUN_AFTER_BEFORE_3_3,
        Feature.RETRY_ON_FAILED_CHILD: _NO_RETRY_BEFORE_3_3,
        Feature.NOTE: "DagRunTriggerException and the TriggerDagRun payload accept note "
        "from Airflow 3.2 (task-sdk 1.2); the standard operator drops it before",
        Feature.FAIL_WHEN_DAG_IS_PAUSED: "tasks can read a DAG's paused state (ti.get_dag, the "
        "GetDag execution-API endpoint) from Airflow 3.2; the standard operator refuses it: "
        "Setting `fail_when_dag_is_paused` requires Airflow 3.2.0+ on Airflow 3.x (it relies on "
        "the task-SDK DAG state endpoint added in 3.2.0).",
    }
)

STRATEGIES: Mapping[str, Strategy] = MappingProxyType(
    {
        s.name: s
        for s in (
            Strategy(
                "accessor",
                "accessor",
                VersionRange((3, 3, 0), (4, 0, 0)),
                "durable=True: the operator triggers through the execution API and polls the child run "
                "itself, under ResumableJobMixin with the child's run_id in task_state_store (keyed by "
                "child DAG and clear); otherwise as 3.0-3.2, exactly as the standard operator does there",
            ),
            Strategy(
                "runner_exception",
                "runner_exception",
                VersionRange((3, 0, 0), (4, 0, 0)),
                "execute() raises DagRunTriggerException; the task runner triggers and waits. durable=True: "
                "the operator triggers and polls through the execution API itself (as accessor), with a "
                "child run_id derived from the parent task instance (no task_state_store before 3.3)",
            ),
            Strategy(
                "airflow2",
                "airflow2",
                VersionRange((2, 11, 0), (3, 0, 0)),
                "the operator triggers through the ORM (trigger_dag) and polls refresh_from_db. "
                "durable=True: the same, with a child run_id derived from the parent task instance",
            ),
        )
    }
)

#: Newest first. Ranges are contiguous from 2.11 to 4.0; ``check_registry`` enforces it.
REGISTRY: tuple[Entry, ...] = (
    # Airflow 3.3+: ResumableJobMixin and task_state_store exist, so with durable=True the operator owns
    # its execution (apache/airflow#69135 proposes ti.trigger_dag_run(); the same TriggerDagRun
    # execution-API message is sent through the task's supervisor channel where it is missing). Without
    # durable it raises DagRunTriggerException, as the released standard operator does on 3.3: the runner
    # waits outside execute(), so execution_timeout never cuts a wait short (see _differences).
    Entry(VersionRange((3, 3, 0), (4, 0, 0)), "accessor", "apache/airflow#69135"),
    # Airflow 3.2: DagRunTriggerException gained `note`, and ti.get_dag() (GetDag) arrived.
    Entry(
        VersionRange((3, 2, 0), (3, 3, 0)),
        "runner_exception",
        "task-sdk 1.2: DagRunTriggerException(note=...), RuntimeTaskInstance.get_dag()",
        MappingProxyType(
            {
                Feature.RUN_AFTER: _NO_RUN_AFTER_BEFORE_3_3,
                Feature.RETRY_ON_FAILED_CHILD: _NO_RETRY_BEFORE_3_3,
            }
        ),
    ),
    # Airflow 3.0.3: task-sdk 1.0.3 reworked the supervisor channel (SUPERVISOR_COMMS.send()).
    Entry(
        VersionRange((3, 0, 3), (3, 2, 0)),
        "runner_exception",
        "task-sdk 1.0.3: the supervisor channel's send(); the runner handles DagRunTriggerException",
        _GAPS_3_0_3_1,
    ),
    # Airflow 3.0 (AIP-72): tasks lose ORM access; the runner handles DagRunTriggerException. Before
    # task-sdk 1.0.3 the supervisor channel has send_request()/get_message() and no send(): durable's own
    # trigger (_accessor) asks it that way. Same strategy and features as the row above.
    Entry(
        VersionRange((3, 0, 0), (3, 0, 3)),
        "runner_exception",
        "AIP-72 Task SDK: DagRunTriggerException handled by task_runner._handle_trigger_dag_run; "
        "task-sdk 1.0.0-1.0.2 supervisor channel (send_request/get_message)",
        _GAPS_3_0_3_1,
    ),
    # Airflow 2.11: the last Airflow 2; the operator uses the ORM directly.
    Entry(
        VersionRange((2, 11, 0), (3, 0, 0)),
        "airflow2",
        "Airflow 2.x trigger_dag API (airflow.api.common.trigger_dag), as the standard operator's "
        "_trigger_dag_af_2",
        MappingProxyType(
            {
                Feature.RUN_AFTER: "Airflow 2 has no run_after; the standard operator ignores it there",
                Feature.NOTE: "Airflow 2's trigger_dag() takes no note; the standard operator ignores it "
                "there (it logs 'not supported in Airflow 2.x')",
            }
        ),
    ),
)

SUPPORTED = VersionRange(REGISTRY[-1].airflow.low, REGISTRY[0].airflow.high)


class ProviderParameter(NamedTuple):
    """A parameter of the current standard operator that older apache-airflow-providers-standard lack."""

    since: str  # the first providers-standard release whose TriggerDagRunOperator takes it
    upstream: str


#: The drop-in subclasses whatever providers-standard is installed; Airflow 3 lets users keep an older one
#: (apache-airflow-core 3.0.6 accepts 0.4.0, 3.1.8-3.3.2 accept 1.9.0). Where the installed operator lacks
#: one of these parameters the drop-in takes it itself (its runtime computes every value, reading each with
#: a default) and warns ProviderParameterWarning; the stock operator of that provider refuses the DAG
#: (TypeError: an unknown argument). Declared in _differences ("older-provider-parameters").
PROVIDER_PARAMETERS: Mapping[str, ProviderParameter] = MappingProxyType(
    {
        "fail_when_dag_is_paused": ProviderParameter("1.1.0", "apache/airflow#48214"),
        "openlineage_inject_parent_info": ProviderParameter("1.10.0", "apache/airflow#58672"),
        "note": ProviderParameter("1.12.0", "apache/airflow#60810"),
        "run_after": ProviderParameter("1.13.0", "apache/airflow#62259"),
    }
)


class ProviderFix(NamedTuple):
    """A behaviour of the current standard operator that older providers-standard releases lack."""

    since: str  # the first providers-standard release with it
    upstream: str
    what: str


#: The package behaves as the current provider on every installed provider, so with an older one it does
#: these where that provider's stock operator does not (declared: "older-provider-fixes").
PROVIDER_FIXES: Mapping[str, ProviderFix] = MappingProxyType(
    {
        "json-string-conf": ProviderFix(
            "1.10.0", "apache/airflow#57214", "a conf given as a JSON string is parsed into a dict"
        ),
        "run-id-on-operator": ProviderFix(
            "1.10.0",
            "providers-standard 1.10.0",
            "execute() keeps the run_id it triggers in operator.trigger_run_id",
        ),
        "paused-flag-refused-before-3-2": ProviderFix(
            "1.9.1",
            "providers-standard 1.9.1",
            "Airflow 3.0 and 3.1: fail_when_dag_is_paused=True is refused at parse with NotImplementedError "
            "(1.9.0 accepted it and read DagModel through the ORM in execute(), which a 3.x worker forbids)",
        ),
        "conf-error-message": ProviderFix(
            "1.20.0",
            "providers-standard 1.20.0",
            "the error for a conf that is not JSON-serialisable names the conf in its message (before: "
            "ValueError('conf parameter should be JSON Serializable %s', conf), a tuple as message)",
        ),
        "link-xcom-at-trigger": ProviderFix(
            "1.15.0",
            "apache/airflow#67327",
            "Airflow 3: the Triggered DAG link XCom is pushed when the run is triggered, so the button "
            "shows while the child is queued or running",
        ),
    }
)

#: Attributes of the current standard operator that older providers keep under another name: the
#: package reads the current name, else the old one. ``deferrable`` was ``_defer`` up to 1.10.0
#: (apache/airflow#58925, providers-standard 1.10.1).
PROVIDER_ATTRIBUTES: Mapping[str, str] = MappingProxyType({"deferrable": "_defer"})


def provider_attribute(operator: object, name: str) -> Any:
    """``operator.<name>``, or where an older provider's operator keeps it (``PROVIDER_ATTRIBUTES``)."""
    try:
        return getattr(operator, name)
    except AttributeError:
        if name not in PROVIDER_ATTRIBUTES:
            raise
        return getattr(operator, PROVIDER_ATTRIBUTES[name])


def check_registry(entries: tuple[Entry, ...] = REGISTRY) -> None:
    """Raise ``ValueError`` unless ``entries`` are newest first, contiguous, and name known strategies."""
    if not entries:
        raise ValueError("the registry is empty")
    for newer, older in itertools.pairwise(entries):
        if older.airflow.high != newer.airflow.low:
            kind = "overlap" if older.airflow.high > newer.airflow.low else "gap"
            raise ValueError(f"registry {kind} between {older.airflow} and {newer.airflow}")
    for entry in entries:
        if entry.airflow.low >= entry.airflow.high:
            raise ValueError(f"empty range {entry.airflow} for {entry.strategy!r}")
        strategy = STRATEGIES.get(entry.strategy)
        if strategy is None:
            raise ValueError(f"unknown strategy {entry.strategy!r} for {entry.airflow}")
        if not (strategy.runs_on.low <= entry.airflow.low and entry.airflow.high <= strategy.runs_on.high):
            raise ValueError(
                f"{entry.strategy!r} is selected for {entry.airflow} but runs on {strategy.runs_on}"
            )
        unknown = set(entry.gaps) - set(Feature)
        if unknown:
            raise ValueError(f"unknown features {sorted(map(str, unknown))} for {entry.airflow}")


class Selection(NamedTuple):
    """The answer to "what runs here": the version, the registry row, the strategy, and why."""

    version: AirflowVersion
    entry: Entry
    strategy: Strategy
    forced: bool
    reason: str

    @property
    def name(self) -> str:
        return self.strategy.name

    @property
    def features(self) -> frozenset[Feature]:
        return self.entry.features

    def supports(self, feature: Feature | str) -> bool:
        return self.entry.supports(Feature(feature))

    def gap(self, feature: Feature | str) -> str | None:
        """The reason ``feature`` is missing here, or ``None`` when it is supported."""
        return self.entry.gaps.get(Feature(feature))


def _entry_for(release: Release) -> Entry | None:
    return next((e for e in REGISTRY if release in e.airflow), None)


def _unsupported(version: AirflowVersion | None) -> UnsupportedAirflowVersion:
    ranges = ", ".join(f"{e.airflow} ({e.strategy})" for e in reversed(REGISTRY))
    found = "no Airflow is installed" if version is None else f"Airflow {version.raw!r} is installed"
    return UnsupportedAirflowVersion(
        f"airflow-trigger-compat supports Airflow {SUPPORTED} but {found}. Supported ranges: {ranges}. "
        "Install a supported Airflow, or pin an airflow-trigger-compat release that supports yours.",
        airflow_version=None if version is None else version.raw,
    )


def resolve(version: AirflowVersion | None, forced: str | None = None) -> Selection:
    """Pick the registry row and strategy for ``version``; ``forced`` names a strategy to use instead."""
    check_registry()
    if version is None or (entry := _entry_for(version.release)) is None:
        raise _unsupported(version)
    if not forced:
        return Selection(
            version, entry, STRATEGIES[entry.strategy], False, f"Airflow {version.raw} is in {entry.airflow}"
        )
    strategy = STRATEGIES.get(forced)
    if strategy is None:
        raise StrategyUnavailable(
            f"{FORCE_ENV_VAR}={forced!r} is not a strategy; choose one of {sorted(STRATEGIES)} or unset it.",
            airflow_version=version.raw,
        )
    if version.release not in strategy.runs_on:
        raise StrategyUnavailable(
            f"{FORCE_ENV_VAR}={forced!r} cannot run on Airflow {version.raw}: {forced!r} runs on "
            f"Airflow {strategy.runs_on}. Unset {FORCE_ENV_VAR} to use {entry.strategy!r}.",
            airflow_version=version.raw,
        )
    # A forced strategy keeps the features of its own newest row at or below this version (conservative):
    # runner_exception forced on 3.3 has the 3.2 feature set.
    own = next(e for e in REGISTRY if e.strategy == forced and e.airflow.low <= version.release)
    return Selection(version, own, strategy, True, f"forced by {FORCE_ENV_VAR}={forced!r}")


@functools.cache
def select_strategy() -> Selection:
    """Return the strategy for the running Airflow (cached; :func:`airflow_trigger_compat.reset` clears it).

    >>> select_strategy().name  # doctest: +SKIP
    'accessor'
    """
    return resolve(airflow_version(), os.environ.get(FORCE_ENV_VAR) or None)

from __future__ import annotations

import itertools
import sys
import types

import pytest

import airflow_trigger_compat
from airflow_trigger_compat import (
    REGISTRY,
    Feature,
    FeatureNotSupported,
    UnsupportedAirflowVersion,
    select_strategy,
)
from airflow_trigger_compat._runtime._registry import Entry, parse_airflow_version, resolve
from airflow_trigger_compat._runtime._request import check_features

from .conftest import selection_for


@pytest.mark.parametrize(
    ("version", "strategy"),
    [
        ("2.11.0", "airflow2"),
        ("2.11.2", "airflow2"),
        ("3.0.0", "runner_exception"),
        ("3.0.6", "runner_exception"),
        ("3.1.8", "runner_exception"),
        ("3.2.2", "runner_exception"),
        ("3.3.0rc1", "accessor"),
        ("3.3.0.dev0", "accessor"),
        ("3.3.0+local.1", "accessor"),
        ("3.3.2", "accessor"),
        ("3.10.0", "accessor"),
        ("3.99.99", "accessor"),
    ],
)
def test_routes_on_release_tuple(version: str, strategy: str) -> None:
    assert selection_for(version).name == strategy


@pytest.mark.parametrize("version", ["2.10.5", "2.11.0rc0", "1.10.15", "4.0.0", "4.0.0.dev0", "5.1"])
def test_unsupported_versions_name_version_and_ranges(version: str) -> None:
    if version == "2.11.0rc0":
        # A pre-release of 2.11.0 is 2.11.0: supported, like any pre-release of a supported minor.
        assert selection_for(version).name == "airflow2"
        return
    with pytest.raises(UnsupportedAirflowVersion) as info:
        selection_for(version)
    message = str(info.value)
    assert repr(version) in message
    assert ">=2.11,<4.0" in message
    assert ">=3.3,<4.0 (accessor)" in message
    assert info.value.airflow_version == version


def test_no_airflow_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedAirflowVersion, match="no Airflow is installed"):
        resolve(None)


def _just_below(release: tuple[int, int, int]) -> tuple[int, int, int]:
    major, minor, patch = release
    return (major, minor, patch - 1) if patch else (major, minor - 1, 99) if minor else (major - 1, 99, 99)


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: str(e.airflow))
def test_each_rows_first_and_last_release_get_that_rows_strategy_and_gaps(entry: Entry) -> None:
    """Routing, not the table's content: a release at either end of a row resolves to that row.

    Whether each declared gap is real is checked against the installed Airflow, by the behavioural
    test ``test_declared_gap_matches_this_airflow`` (an API probe, and stock's own refusal).
    """
    for release in (entry.airflow.low, _just_below(entry.airflow.high)):
        selection = selection_for(".".join(map(str, release)))
        assert selection.name == entry.strategy, release
        for feature in Feature:
            assert selection.gap(feature) == entry.gaps.get(feature), (release, feature)
            assert selection.supports(feature) is (feature not in entry.gaps), (release, feature)


def test_every_gap_has_a_reason_and_3_3_has_none() -> None:
    for entry in REGISTRY:
        for feature, reason in entry.gaps.items():
            assert isinstance(feature, Feature)
            assert len(reason) > 20, (entry, feature)
    assert all(REGISTRY[0].supports(f) for f in Feature)


def test_registry_rows_are_newest_first_and_contiguous() -> None:
    assert REGISTRY[-1].airflow.low == (2, 11, 0)
    assert REGISTRY[0].airflow.high == (4, 0, 0)
    for newer, older in itertools.pairwise(REGISTRY):
        assert older.airflow.high == newer.airflow.low, (older.airflow, newer.airflow)
    for entry in REGISTRY:
        assert entry.airflow.low < entry.airflow.high


def test_neighbouring_rows_differ_in_strategy_or_features() -> None:
    # A row that only repeats its neighbour in prose is one row (a probe tells the patch releases apart).
    for newer, older in itertools.pairwise(REGISTRY):
        assert (newer.strategy, dict(newer.gaps)) != (older.strategy, dict(older.gaps)), newer.airflow


def test_select_strategy_caches_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("airflow")
    fake.__version__ = "3.3.2"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow", fake)
    assert select_strategy().name == "accessor"
    fake.__version__ = "3.1.8"  # type: ignore[attr-defined]
    assert select_strategy().name == "accessor"  # cached until reset
    airflow_trigger_compat.reset()
    assert select_strategy().name == "runner_exception"


def test_every_strategy_module_is_a_strategy_module() -> None:
    for entry in REGISTRY:
        module = resolve(parse_airflow_version(".".join(map(str, entry.airflow.low)))).load()
        assert module.__name__.endswith(f"._strategies.{entry.strategy}")
        assert callable(module.execute) and callable(module.check) and callable(module.refuse)
        assert isinstance(module.Port, type)


def test_a_refused_flag_fails_at_construction_and_a_dropped_one_does_not() -> None:
    from airflow_trigger_compat._runtime._registry import REFUSED_WHEN_MISSING

    # Whether stock refuses is checked against stock itself, inside each Airflow (tests/behaviour:
    # test_declared_gap_matches_this_airflow). Here: the package obeys the rule, both ways.
    selection = selection_for("3.1.8")  # lacks fail_when_dag_is_paused and note
    assert (
        Feature.FAIL_WHEN_DAG_IS_PAUSED in REFUSED_WHEN_MISSING and Feature.NOTE not in REFUSED_WHEN_MISSING
    )
    with pytest.raises(FeatureNotSupported, match="Remove fail_when_dag_is_paused"):
        check_features(selection, fail_when_dag_is_paused=True)
    check_features(selection, note="dropped with a warning at execute(), never refused")


def test_the_refused_gap_quotes_stocks_message() -> None:
    for version in ("3.0.6", "3.1.8"):
        gap = selection_for(version).gap(Feature.FAIL_WHEN_DAG_IS_PAUSED)
        assert gap is not None and "Setting `fail_when_dag_is_paused` requires Airflow 3.2.0+" in gap

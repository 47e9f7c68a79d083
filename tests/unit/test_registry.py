from __future__ import annotations

import importlib
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
    UnverifiedAirflowWarning,
    select_row,
)
from airflow_trigger_compat._runtime._registry import (
    DROP,
    REFUSE,
    WHEN_MISSING,
    Entry,
    parse_airflow_version,
    resolve,
)
from airflow_trigger_compat._runtime._request import check_features

from .conftest import selection_for


@pytest.mark.parametrize(
    ("version", "path", "keep"),
    [
        ("2.11.0", "airflow2", "derived"),
        ("2.11.2", "airflow2", "derived"),
        ("3.0.0", "runner_exception", "derived"),
        ("3.0.6", "runner_exception", "derived"),
        ("3.1.8", "runner_exception", "derived"),
        ("3.2.2", "runner_exception", "derived"),
        ("3.3.0rc1", "runner_exception", "store"),
        ("3.3.0.dev0", "runner_exception", "store"),
        ("3.3.0+local.1", "runner_exception", "store"),
        ("3.3.2", "runner_exception", "store"),
        ("3.10.0", "runner_exception", "store"),
        ("3.99.99", "runner_exception", "store"),
    ],
)
def test_routes_on_release_tuple(version: str, path: str, keep: str) -> None:
    """The routing table: stock's path, and where durable=True keeps the child's run_id, per release
    (pre-releases, dev and local versions route as their release)."""
    entry = selection_for(version).entry
    assert (entry.path, entry.keep) == (path, keep)


@pytest.mark.parametrize("version", ["2.10.5", "2.11.0rc0", "1.10.15"])
def test_older_versions_name_version_supported_range_and_verified_releases(version: str) -> None:
    if version == "2.11.0rc0":
        # A pre-release of 2.11.0 is 2.11.0: supported, like any pre-release of a supported minor.
        assert selection_for(version).entry == REGISTRY[-1]
        return
    with pytest.raises(UnsupportedAirflowVersion) as info:
        selection_for(version)
    message = str(info.value)
    assert f"Airflow {version!r} is installed" in message
    assert ">=2.11,<4.0" in message
    assert "Verified on: " + ", ".join(f"{e.airflow} ({e.verified})" for e in reversed(REGISTRY)) in message
    assert (
        "Install a supported Airflow, or a release of airflow-trigger-compat that supports yours." in message
    )
    assert info.value.airflow_version == version


@pytest.mark.parametrize("version", ["4.0.0", "4.0.0.dev0", "4.0.0rc1", "5.1", "10"])
def test_a_newer_airflow_takes_the_newest_row_with_a_warning(version: str) -> None:
    """As the standard operator takes its newest branch on an Airflow it does not know: the newest row's
    paths and features, and a warning naming the version and the releases verified."""
    with pytest.warns(UnverifiedAirflowWarning) as record:
        selection = selection_for(version)
    assert selection.entry == REGISTRY[0]
    assert selection.version.raw == version
    (warning,) = record
    message = str(warning.message)
    assert f"Airflow {version} is newer than every release airflow-trigger-compat was verified on" in message
    assert all(f"{e.airflow} ({e.verified})" in message for e in REGISTRY)
    assert f"it runs the paths of {REGISTRY[0].airflow}" in message


def test_no_airflow_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedAirflowVersion, match="no Airflow is installed") as info:
        resolve(None)
    assert info.value.airflow_version is None


def _just_below(release: tuple[int, int, int]) -> tuple[int, int, int]:
    major, minor, patch = release
    return (major, minor, patch - 1) if patch else (major, minor - 1, 99) if minor else (major - 1, 99, 99)


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: str(e.airflow))
def test_each_rows_first_and_last_release_get_that_row(entry: Entry) -> None:
    """Routing, not the table's content: a release at either end of a row resolves to that row.

    Whether each declared gap is real is checked against the installed Airflow, by the behavioural
    test ``test_declared_gap_matches_this_airflow`` (an API probe, and stock's own refusal).
    """
    for release in (entry.airflow.low, _just_below(entry.airflow.high)):
        selection = selection_for(".".join(map(str, release)))
        assert selection.entry == entry, release
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


def test_neighbouring_rows_differ_in_paths_or_features() -> None:
    # A row that only repeats its neighbour in prose is one row (a probe tells the patch releases apart).
    for newer, older in itertools.pairwise(REGISTRY):
        assert (newer.path, newer.keep, dict(newer.gaps)) != (
            older.path,
            older.keep,
            dict(older.gaps),
        ), newer.airflow


def test_select_row_caches_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("airflow")
    fake.__version__ = "3.3.2"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow", fake)
    assert select_row() == selection_for("3.3.2")
    fake.__version__ = "3.1.8"  # type: ignore[attr-defined]
    assert select_row().version.raw == "3.3.2"  # cached until reset
    airflow_trigger_compat.reset()
    assert select_row() == selection_for("3.1.8")


def test_every_path_a_row_names_is_a_strategy_module() -> None:
    """Each row's path is a module of the StrategyModule protocol, with the Port durable=True waits through;
    each row's keep is a keeper of the ``durable`` module, which runs on every row."""
    from airflow_trigger_compat._runtime._contract import TaskPort
    from airflow_trigger_compat._runtime._strategies import durable

    for name in {e.path for e in REGISTRY}:
        module = importlib.import_module(f"airflow_trigger_compat._runtime._strategies.{name}")
        assert callable(module.execute) and callable(module.check) and callable(module.refuse)
        assert set(module.__all__) == {"Port", "check", "execute", "refuse"}
        assert issubclass(module.Port, TaskPort)
    assert {e.keep for e in REGISTRY} == set(durable.KEEPERS) == {"store", "derived"}
    assert all(e.keep == ("store" if e.supports(Feature.TASK_STATE_STORE) else "derived") for e in REGISTRY)


def test_a_refused_flag_fails_at_construction_and_a_dropped_one_does_not() -> None:
    # Whether stock refuses is checked against stock itself, inside each Airflow (tests/behaviour:
    # test_declared_gap_matches_this_airflow). Here: the package obeys WHEN_MISSING, both ways.
    selection = selection_for("3.1.8")  # lacks fail_when_dag_is_paused and note
    assert WHEN_MISSING[Feature.FAIL_WHEN_DAG_IS_PAUSED] == REFUSE and WHEN_MISSING[Feature.NOTE] == DROP
    with pytest.raises(FeatureNotSupported, match="Remove fail_when_dag_is_paused") as info:
        check_features(selection, {"fail_when_dag_is_paused": True})
    assert "Airflow 3.1.8 (registry row >=3.0,<3.2)" in str(info.value)
    assert check_features(selection, {"note": "dropped with a warning at execute(), never refused"}) == (
        Feature.NOTE,
    )


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: str(e.airflow))
def test_check_features_drops_or_refuses_exactly_the_rows_gaps(entry: Entry) -> None:
    selection = selection_for(".".join(map(str, entry.airflow.low)))
    given = {f.value: True for f in WHEN_MISSING}
    missing = [f for f in WHEN_MISSING if not entry.supports(f)]
    if any(WHEN_MISSING[f] == REFUSE for f in missing):
        with pytest.raises(FeatureNotSupported):
            check_features(selection, given)
    else:
        assert check_features(selection, given) == tuple(missing)
    # Unset flags (None, False, Airflow's NOTSET) are never dropped nor refused.
    assert check_features(selection, dict.fromkeys(given, None)) == ()
    assert check_features(selection, dict.fromkeys(given, False)) == ()
    assert check_features(selection, {}) == ()


def test_the_refused_gap_quotes_stocks_message() -> None:
    for version in ("3.0.6", "3.1.8"):
        gap = selection_for(version).gap(Feature.FAIL_WHEN_DAG_IS_PAUSED)
        assert gap is not None and "Setting `fail_when_dag_is_paused` requires Airflow 3.2.0+" in gap


def test_each_row_names_the_releases_the_matrix_verifies_it_on() -> None:
    """A row's ``verified`` is the first and the last release of constraints/releases.toml in its range
    (pre-releases named one by one): what README's "Verified on" column and the newer-Airflow warning say."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))
    import airflow_matrix

    data = airflow_matrix.load()
    for entry in REGISTRY:
        inside = [r for r in data["releases"] if parse_airflow_version(r).release in entry.airflow]
        pre = [
            r
            for r in airflow_matrix.active_prereleases(data)
            if parse_airflow_version(r).release in entry.airflow
        ]
        expected = ", ".join([f"{inside[0]}-{inside[-1]}", *pre])
        assert entry.verified == expected, entry.airflow

"""The declared differences from the standard operator are data; these keep the data well-formed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import airflow_trigger_compat
from airflow_trigger_compat._differences import DIFFERENCES, Difference, differences_on
from airflow_trigger_compat._runtime._registry import REGISTRY, VersionRange

sys.path.insert(0, str(Path(__file__).parents[1] / "behaviour"))
from _parity import FIELDS  # (the fields the behavioural suite observes; imports no Airflow)

sys.path.pop(0)


def test_there_are_differences_and_they_are_public() -> None:
    assert DIFFERENCES
    assert airflow_trigger_compat.DIFFERENCES is DIFFERENCES
    assert airflow_trigger_compat.Difference is Difference
    assert all(isinstance(d, Difference) for d in DIFFERENCES)


def test_ids_are_unique_slugs() -> None:
    ids = [d.id for d in DIFFERENCES]
    assert len(ids) == len(set(ids))
    assert all(i and i == i.strip().lower() and " " not in i for i in ids), ids


@pytest.mark.parametrize("difference", DIFFERENCES, ids=lambda d: d.id)
def test_every_row_is_complete(difference: Difference) -> None:
    for text in (
        difference.when,
        difference.stock,
        difference.package,
        difference.reason,
        difference.shown_by,
    ):
        assert isinstance(text, str) and text.strip(), difference.id
    assert difference.stock != difference.package


@pytest.mark.parametrize("difference", DIFFERENCES, ids=lambda d: d.id)
def test_fields_are_observation_fields(difference: Difference) -> None:
    assert isinstance(difference.fields, frozenset)
    assert difference.fields, difference.id
    assert difference.fields <= set(FIELDS), difference.fields - set(FIELDS)


@pytest.mark.parametrize("difference", DIFFERENCES, ids=lambda d: d.id)
def test_versions_are_within_the_supported_range(difference: Difference) -> None:
    assert isinstance(difference.airflow, VersionRange)
    assert REGISTRY[-1].airflow.low <= difference.airflow.low < difference.airflow.high
    assert difference.airflow.high <= REGISTRY[0].airflow.high


@pytest.mark.parametrize("difference", DIFFERENCES, ids=lambda d: d.id)
def test_differences_on_starts_and_ends_with_each_row(difference: Difference) -> None:
    low, high = difference.airflow.low, difference.airflow.high
    assert difference in differences_on(low)
    assert difference not in differences_on((low[0], low[1], low[2] - 1))  # just below its range
    assert difference not in differences_on(high)

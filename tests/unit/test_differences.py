"""The declared differences from the standard operator are data; these keep the data well-formed."""

from __future__ import annotations

import pytest

import airflow_trigger_compat
from airflow_trigger_compat._differences import DIFFERENCES, Difference, differences_on
from airflow_trigger_compat._registry import REGISTRY, VersionRange

FIELDS = frozenset({"construct_error", "children", "tries", "error", "xcoms"})


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
    assert difference.fields <= FIELDS, difference.fields - FIELDS


@pytest.mark.parametrize("difference", DIFFERENCES, ids=lambda d: d.id)
def test_versions_are_within_the_supported_range(difference: Difference) -> None:
    assert isinstance(difference.airflow, VersionRange)
    assert REGISTRY[-1].airflow.low <= difference.airflow.low < difference.airflow.high
    assert difference.airflow.high <= REGISTRY[0].airflow.high


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        (
            (2, 11, 0),
            {
                "invalid-input-fails-early",
                "empty-trigger-dag-id-at-parse",
                "durable-reconnects-after-a-lost-worker",
                "durable-derived-run-id",
                "durable-clear-while-waiting-reconnects",
                "older-provider-parameters",
                "older-provider-fixes",
            },
        ),
        (
            (3, 2, 2),
            {
                "invalid-input-fails-early",
                "empty-trigger-dag-id-at-parse",
                "durable-timeout-bounds-the-wait",
                "durable-reconnects-after-a-lost-worker",
                "durable-derived-run-id",
                "durable-failed-child-retries",
                "durable-clear-while-waiting-reconnects",
                "older-provider-parameters",
                "older-provider-fixes",
            },
        ),
        (
            (3, 3, 0),
            {
                "invalid-input-fails-early",
                "empty-trigger-dag-id-at-parse",
                "durable-timeout-bounds-the-wait",
                "durable-reconnects-after-a-lost-worker",
                "durable-clear-while-waiting-reconnects",
                "older-provider-parameters",
                "older-provider-fixes",
            },
        ),
        ((2, 10, 5), set()),
        ((4, 0, 0), set()),
    ],
)
def test_differences_on_filters_by_version(release: tuple[int, int, int], expected: set[str]) -> None:
    found = differences_on(release)
    assert {d.id for d in found} == expected
    assert [d for d in DIFFERENCES if d in found] == list(found)  # in declaration order


def test_differences_on_agrees_with_each_rows_range() -> None:
    for entry in REGISTRY:
        for release in (entry.airflow.low, (entry.airflow.high[0], entry.airflow.high[1], 0)):
            assert differences_on(release) == tuple(d for d in DIFFERENCES if release in d.airflow)

from __future__ import annotations

import pytest

from airflow_trigger_compat import UnsupportedAirflowVersion, airflow_version, parse_airflow_version
from airflow_trigger_compat._cli import installed_airflow_version


@pytest.mark.parametrize(
    ("raw", "release"),
    [
        ("2.11.2", (2, 11, 2)),
        ("3.0.6", (3, 0, 6)),
        ("3.3.0rc1", (3, 3, 0)),
        ("3.3.0.dev0", (3, 3, 0)),
        ("3.3.0+local.1", (3, 3, 0)),
        ("3.3.0b2.post1", (3, 3, 0)),
        ("3.10.0", (3, 10, 0)),
        ("3.3", (3, 3, 0)),
        ("4", (4, 0, 0)),
        ("v3.2.1", (3, 2, 1)),
    ],
)
def test_release_tuple_ignores_pre_dev_and_local(raw: str, release: tuple[int, int, int]) -> None:
    parsed = parse_airflow_version(raw)
    assert parsed.release == release
    assert str(parsed) == raw


@pytest.mark.parametrize("raw", ["", "three", "3.3.x"])
def test_unparseable_version_names_the_value(raw: str) -> None:
    with pytest.raises(UnsupportedAirflowVersion, match=repr(raw)) as info:
        parse_airflow_version(raw)
    assert info.value.airflow_version == raw


def test_no_airflow_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "airflow", None)  # makes `import airflow` raise ImportError
    assert airflow_version() is None


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        ({"apache-airflow-core": "3.3.2", "apache-airflow": "3.3.2"}, "3.3.2"),
        ({"apache-airflow-core": "3.1.8"}, "3.1.8"),  # core alone: still Airflow 3.1.8
        ({"apache-airflow": "2.11.2"}, "2.11.2"),  # Airflow 2 has no apache-airflow-core
    ],
)
def test_installed_version_reads_the_distribution_that_ships_the_airflow_package(
    monkeypatch: pytest.MonkeyPatch, installed: dict[str, str], expected: str
) -> None:
    import importlib.metadata
    import sys

    def version(name: str) -> str:
        if name not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setitem(sys.modules, "airflow", None)  # it must not need the import
    found = installed_airflow_version()
    assert found is not None and found.raw == expected


def test_installed_version_falls_back_to_the_import_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata
    import sys
    import types

    def version(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setitem(sys.modules, "airflow", types.SimpleNamespace(__version__="3.2.1"))
    found = installed_airflow_version()  # the autouse fixture resets the runtime's caches around each test
    assert found is not None and found.release == (3, 2, 1)

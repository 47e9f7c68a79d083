from __future__ import annotations

import pytest

from airflow_trigger_compat import UnsupportedAirflowVersion, airflow_version, parse_airflow_version


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


def test_detection_is_cached_and_resettable(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    import airflow_trigger_compat

    fake = types.ModuleType("airflow")
    fake.__version__ = "3.3.0rc1"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow", fake)
    airflow_trigger_compat.reset()
    assert airflow_version() == ("3.3.0rc1", (3, 3, 0))
    fake.__version__ = "2.11.2"  # type: ignore[attr-defined]
    assert airflow_version().release == (3, 3, 0)  # cached
    airflow_trigger_compat.reset()
    assert airflow_version().release == (2, 11, 2)


def test_no_airflow_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "airflow", None)  # makes `import airflow` raise ImportError
    assert airflow_version() is None

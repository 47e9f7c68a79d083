"""The provider-test harness's inputs (tests/upstream): what a unit test can check without Airflow."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "tests" / "upstream"


def _module(name: str) -> ModuleType:
    """Import a script of tests/upstream (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, UPSTREAM / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_each_mutation_applies_once_to_what_it_mutates() -> None:
    """A runtime or patch edit that moves a mutated line fails here, not first in the upstream sessions."""
    mutate = _module("mutate")
    durable_patch = next((ROOT / "patches").glob("*-2-durable.patch")).read_text()
    for mutation in mutate.MUTATIONS:
        if mutation.where == "tests":
            assert durable_patch.count(mutation.old.replace("\n", "\n+")) == 1, mutation.name
        else:
            source = ROOT / "src/airflow_trigger_compat/_runtime" / mutation.where.removeprefix("copy:")
            assert source.read_text().count(mutation.old) == 1, mutation.name


def test_the_tests_common_archive_is_the_pinned_one() -> None:
    harness = _module("prepare_harness")
    assert hashlib.sha256(harness.ARCHIVE.read_bytes()).hexdigest() == harness.ARCHIVE_SHA256

"""The runtime's shape, read from its source: how its modules import each other and Airflow, and what
``reset()`` forgets. What a provider vendors must import cleanly under any name and without Airflow."""

from __future__ import annotations

import ast
import functools
import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import airflow_trigger_compat
from airflow_trigger_compat import _runtime
from airflow_trigger_compat._runtime import _airflow
from airflow_trigger_compat._runtime._errors import TriggerArgumentError, task_failure

from .conftest import AF3_HELPERS, selection_for

RUNTIME = Path(_runtime.__file__).parent


def _modules() -> dict[str, Path]:
    """Every module of the runtime, by its name relative to ``_runtime`` (``""`` is its ``__init__``)."""
    found = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        parts = path.relative_to(RUNTIME).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _package(name: str) -> str:
    """The package ``name`` sits in (a package's ``__init__`` is its own package)."""
    if MODULES[name].name == "__init__.py":
        return name
    return name.rpartition(".")[0]


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _relative_imports(name: str) -> set[str]:
    """The runtime modules ``name`` imports with a relative import, wherever the import sits: at the top,
    under ``if TYPE_CHECKING:``, or inside a function."""
    imported = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = _package(name)
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        target = _join(base, node.module or "")
        if node.module:
            imported.add(target)
        # ``from . import _airflow`` and ``from .x import submodule`` import those submodules.
        imported.update(_join(target, a.name) for a in node.names if _join(target, a.name) in MODULES)
    return imported - {name}


def test_the_module_list_is_the_runtime() -> None:
    assert {"", "_airflow", "_registry", "_request", "_execute", "_contract", "_strategies"} <= set(MODULES)
    assert {"_strategies.durable", "_strategies.airflow2", "_strategies.runner_exception"} <= set(MODULES)
    assert "_strategies.accessor" in MODULES  # ti.trigger_dag_run() where a Task SDK has it
    assert _relative_imports("_strategies.durable") >= {"_contract", "_registry", "_request"}
    assert _relative_imports("") >= {"_errors", "_execute", "_registry", "_request"}  # TYPE_CHECKING too


def test_runtime_imports_form_no_cycle() -> None:
    """No module of the runtime reaches itself through relative imports, counting those under
    ``TYPE_CHECKING`` and inside functions: the layers (``_airflow``/``_errors``, ``_registry``,
    ``_request``, ``_contract``, the strategies, ``_execute``) only import downwards.

    Importing ``pkg.sub`` does not count as importing ``pkg/__init__.py``. Python runs a package's
    ``__init__`` before any of its submodules, so a submodule's import of a sibling never re-enters the
    ``__init__``; counting that edge would make every package whose ``__init__`` re-exports from its
    submodules (the runtime's lazy ``__getattr__`` names, under ``TYPE_CHECKING``) look cyclic. What a
    package's ``__init__`` itself imports is counted.
    """
    graph = {name: _relative_imports(name) for name in MODULES}
    assert all(target in MODULES for targets in graph.values() for target in targets), graph

    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join(repr(m) for m in (*path[path.index(name) :], name))
            raise AssertionError(f"import cycle: {cycle}")
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, (*path, name))
        done.add(name)

    for name in MODULES:
        visit(name, ())


def _airflow_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "airflow"]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found += [node.module] if node.module.split(".")[0] == "airflow" else []
    return found


def test_only_the_airflow_module_imports_airflow() -> None:
    """Every Airflow name goes through ``_airflow`` (``IMPORT_PATHS``, ``load``): nowhere else in the runtime
    is ``airflow`` imported, at the top, under ``TYPE_CHECKING`` or in a function."""
    elsewhere = {name: _airflow_imports(path) for name, path in MODULES.items() if name != "_airflow"}
    assert {name: found for name, found in elsewhere.items() if found} == {}
    # _airflow itself imports by name only (importlib, from IMPORT_PATHS), never with a statement.
    assert _airflow_imports(MODULES["_airflow"]) == []
    assert all(p.split(".")[0] == "airflow" for paths in _airflow.IMPORT_PATHS.values() for p in paths)


def test_the_runtime_reads_nothing_of_the_task_runners_internals() -> None:
    """Issue 31: durable=True runs on the Task SDK's public API only (``RuntimeTaskInstance``'s accessors,
    the task's context); nothing of ``airflow.sdk.execution_time`` (the supervisor channel, its comms
    messages, ``SUPERVISOR_COMMS``), neither imported nor named in ``IMPORT_PATHS`` to be loaded by name."""
    internals = ("execution_time", "SUPERVISOR_COMMS", "supervisor_comms")
    named = {name: [w for w in internals if w in path.read_text()] for name, path in MODULES.items()}
    assert {name: words for name, words in named.items() if words} == {}
    loaded = {n: p for n, paths in _airflow.IMPORT_PATHS.items() for p in paths if "execution_time" in p}
    assert loaded == {}
    # The names only the supervisor channel had are gone from what the runtime loads.
    gone = {"TriggerDagRun", "ErrorResponse", "SUPERVISOR_COMMS", "ResumableJobMixin", "task_runner"}
    assert gone.isdisjoint(_airflow.IMPORT_PATHS)


def _caches() -> dict[str, Any]:
    """Every ``functools.cache``/``lru_cache`` function the runtime's modules define, by qualified name."""
    found = {}
    for name in MODULES:
        module = importlib.import_module(_join(_runtime.__name__, name))
        for attr, value in vars(module).items():
            if (
                hasattr(value, "cache_clear")
                and hasattr(value, "cache_info")
                and value.__module__ == module.__name__
            ):
                found[f"{name}.{attr}"] = value
    return found


def _cache_decorators() -> int:
    count = 0
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    count += ast.unparse(target) in (
                        "functools.cache",
                        "functools.lru_cache",
                        "cache",
                        "lru_cache",
                    )
    return count


@pytest.fixture
def airflow_for_caches(fake_airflow: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``fake_airflow`` plus what the version and the helpers are read from."""
    monkeypatch.setattr(sys.modules["airflow"], "__version__", "3.3.2", raising=False)
    dag_run = types.SimpleNamespace(generate_run_id=AF3_HELPERS.generate_run_id, validate_run_id=None)
    for name, value in {
        "timezone": types.SimpleNamespace(parse=AF3_HELPERS.parse, utcnow=AF3_HELPERS.utcnow),
        "DagRun": dag_run,
        "DagRunType": types.SimpleNamespace(MANUAL="manual"),
    }.items():
        monkeypatch.setattr(fake_airflow, name, value, raising=False)
        monkeypatch.setitem(_airflow.IMPORT_PATHS, name, (fake_airflow.__name__,))
    yield


def test_reset_clears_every_cache_in_the_runtime(airflow_for_caches: None) -> None:
    """``reset()`` is the one call that forgets the running Airflow: every cache the runtime holds."""
    caches = _caches()
    # A cache on a nested function or a method would escape the scan above: the source has none.
    assert len(caches) == _cache_decorators(), sorted(caches)
    assert all(isinstance(c, functools._lru_cache_wrapper) for c in caches.values())
    # Fill each: detection, the Airflow helpers and names, a task failure's class.
    assert _runtime.select_row() == selection_for("3.3.2")
    _airflow.airflow_helpers()
    _airflow.has_trigger_accessor()
    task_failure(TriggerArgumentError("x"))
    empty = [name for name, cache in caches.items() if not cache.cache_info().currsize]
    assert not empty, f"fill these caches here too, so the test can see reset() clear them: {empty}"
    airflow_trigger_compat.reset()
    assert {name: cache.cache_info().currsize for name, cache in caches.items()} == dict.fromkeys(caches, 0)

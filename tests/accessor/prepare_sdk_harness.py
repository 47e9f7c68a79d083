"""Assemble a harness that runs the Task SDK's own tests (``tests/`` of its sdist) outside apache/airflow.

usage: python prepare_sdk_harness.py OUT_DIR SDK_TREE

* ``tests/`` is copied from SDK_TREE, an unpacked apache-airflow-task-sdk sdist (patched or not), unchanged;
  its conftest says ``pytest_plugins = "tests_common.pytest_plugin"``;
* ``tests_common`` comes from the archive, with the asserted patches and the ``AIRFLOW_V_3_3_PLUS``
  overlay of ``tests/upstream/prepare_harness.py`` (the same apache/airflow commit the provider's tests
  run with), and the same stand-in source root for the plugin's dependency check;
* a pytest.ini carries the settings of the sdist's own ``[tool.pytest]`` the tests rely on (strict
  asyncio mode, collection warnings as errors, log level). Run pytest in OUT_DIR with ``OUT_DIR`` and
  ``OUT_DIR/tests`` on ``PYTHONPATH`` (the tests import ``task_sdk``, their own package, by that name).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "upstream"))

# the provider harness: its tests_common archive, patches and overlay
import prepare_harness as upstream

# (file under tests_common, old text, new text, why): on top of the provider harness's PATCHES
SDK_PATCHES: list[tuple[str, str, str, str]] = [
    (
        "test_utils/mock_plugins.py",
        "            plugins_manager._get_plugins.cache_clear()\n"
        "            plugins_manager._get_ui_plugins.cache_clear()\n"
        "            plugins_manager.get_flask_plugins.cache_clear()\n"
        "            plugins_manager.get_fastapi_plugins.cache_clear()\n"
        "            plugins_manager._get_extra_operators_links_plugins.cache_clear()\n"
        "            plugins_manager.get_timetables_plugins.cache_clear()\n"
        "            plugins_manager.get_hook_lineage_readers_plugins.cache_clear()\n"
        "            plugins_manager.integrate_macros_plugins.cache_clear()\n"
        "            plugins_manager.get_priority_weight_strategy_plugins.cache_clear()\n",
        "            for _cached in list(vars(plugins_manager).values()):  # accessor harness: every cache\n"
        '                if callable(getattr(_cached, "cache_clear", None)):\n'
        "                    _cached.cache_clear()\n",
        "Airflow 3.4's plugins_manager has no get_hook_lineage_readers_plugins and more cached loaders than "
        "the archive names: the autouse fixture of every non-DB test (the Task SDK's are all non-DB) failed "
        "with AttributeError; clear every cached loader the module has",
    ),
    (
        "pytest_plugin.py",
        '                    **({"state": DagRunState.RUNNING} if "state" in DagRun.model_fields else {}),\n',
        '                    **({"state": DagRunState.RUNNING} if "state" in DagRun.model_fields else {}),\n'
        "                    # accessor harness: fields the Task SDK 1.4 requires (no default)\n"
        '                    **dict.fromkeys({"end_date", "partition_key"} & set(DagRun.model_fields)),\n',
        "Task SDK 1.4's DagRun datamodel requires end_date and partition_key: create_runtime_ti failed "
        "validating the run it builds",
    ),
]

# Modules the Task SDK 1.4.0b2 tests import from a tests_common newer than the archive's commit: stand-ins
# written where the archive has no such file (each with what it stands for).
OVERLAYS: dict[str, str] = {
    "test_utils/xcom_backends.py": '''"""XCom backends for tests (harness stand-in: not in the archive)."""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.xcom import BaseXCom


class SerializeValueOnlyXCom(BaseXCom):
    """A backend of before ``store_value``: it overrides ``serialize_value`` only (a "legacy" backend)."""

    @staticmethod
    def serialize_value(
        value: Any,
        *,
        key: str | None = None,
        task_id: str | None = None,
        dag_id: str | None = None,
        run_id: str | None = None,
        map_index: int | None = None,
    ) -> str:
        return BaseXCom.serialize_value(value)
''',
}

PYTEST_INI = """[pytest]
# What the Task SDK sdist's [tool.pytest] sets, less its own plugins' switches (flaky, nose, legacypath).
addopts = --tb=short -rasl -p no:cacheprovider --asyncio-mode=strict
filterwarnings = error::pytest.PytestCollectionWarning
log_level = INFO
python_files = test_*.py
testpaths = tests
"""


def main() -> int:
    out, tree = Path(sys.argv[1]), Path(sys.argv[2])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # 1. the Task SDK's tests, as the (patched) sdist has them
    shutil.copytree(tree / "tests", out / "tests")
    assert (out / "tests/task_sdk/execution_time/test_task_runner.py").is_file()

    # 2. tests_common at upstream.COMMIT, from the provider harness's archive, with its patches
    digest = hashlib.sha256(upstream.ARCHIVE.read_bytes()).hexdigest()
    assert digest == upstream.ARCHIVE_SHA256, f"{upstream.ARCHIVE.name} changed: sha256 {digest}"
    with tarfile.open(upstream.ARCHIVE) as tar:
        tar.extractall(out, filter="data")
    tc = out / "tests_common"
    for rel, old, new, why in [*upstream.PATCHES, *SDK_PATCHES]:
        p = tc / rel
        s = p.read_text()
        assert s.count(old) == 1, f"patch for {rel} ({why}) does not apply: {s.count(old)} matches"
        p.write_text(s.replace(old, new))
    for rel, text in OVERLAYS.items():
        if not (tc / rel).exists():
            (tc / rel).write_text(text)
    vc = tc / "test_utils/version_compat.py"
    if "AIRFLOW_V_3_3_PLUS" not in vc.read_text():
        vc.write_text(vc.read_text() + upstream.VERSION_COMPAT_APPEND)

    # 3. the stand-in source root (AIRFLOW_SOURCES) and pytest.ini
    root = out / "root"
    for d in ("generated", "providers", "airflow-core/tests/unit/plugins", "airflow-core/tests/unit/dags"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "fake-root"\n\n[tool.uv.workspace]\nmembers = [\n]\n'
    )
    (root / "generated/provider_dependencies.json").write_text("{}\n")
    (root / "generated/provider_dependencies.json.sha256sum").write_text(hashlib.sha256().hexdigest() + "\n")
    (out / "pytest.ini").write_text(PYTEST_INI)
    print(f"harness ready in {out} (Task SDK tests from {tree.name}, tests_common {upstream.COMMIT[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Assemble the smallest real harness for the standard provider's test_trigger_dagrun.py.

usage: python prepare_harness.py OUT_DIR SDIST_TAR
       python prepare_harness.py --archive GIT_DIR     (rebuilds ARCHIVE from a git snapshot, at COMMIT)

* the test file and the provider's tests/conftest.py (``pytest_plugins = "tests_common.pytest_plugin"``)
  come from the apache-airflow-providers-standard 1.21.0 sdist, unchanged;
* ``tests_common`` is apache/airflow's devel-common/src/tests_common at COMMIT (Apache-2.0), from ARCHIVE
  beside this file, checked against its sha256 (README: the PyPI apache-airflow-devel-common 0.1.1 is
  from 2025-05 and cannot set up Airflow 3.1+; upstream commit 73451c57ec86, of 2026-01-27, can);
* a handful of small, asserted patches make that tests_common run on the newer Airflow releases
  (each is listed in PATCHES, with why);
* a fake "airflow source root" satisfies the plugin's provider-dependency-hash check, and a pytest.ini
  carries the few root-pyproject pytest settings the plugin reads (log_level).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

COMMIT = "73451c57ec86049000cf2bbb19c59f59f6bb5f8c"
ARCHIVE = Path(__file__).with_name(f"tests_common-{COMMIT[:12]}.tar.gz")
ARCHIVE_SHA256 = "7bbd2201f6b4d30ae33b64113a7fc6fb670a619a25e5c39c126bd9a55c362982"

DAGBAG_KW = '**({"include_examples": %s} if "include_examples" in __import__("inspect").signature(DagBag.__init__).parameters else {})'

# Airflow 3.4 (apache-airflow-core 3.4.0b2) reads XCom through XComModel, a read-only projection over two
# stores: xcom_v1 (values written before 3.4, keyed by DAG, task, run and map index) and xcom_v2 (keyed by
# the task attempt's UUID, no DAG id). Before 3.4 XComModel (3.x) or XCom (2.x) is the table itself.
CLEAR_XCOM_STORES = """

def clear_xcom_stores(session, dag_ids=None):
    \"\"\"Delete XComs (of ``dag_ids``, or all) from the tables that store them (parity harness).\"\"\"
    import airflow.models.xcom as xcom_module

    if not hasattr(xcom_module, "XComModelV2"):  # before Airflow 3.4: XCom is the table
        stmt = delete(XCom)
        session.execute(stmt if dag_ids is None else stmt.where(XCom.dag_id.in_(dag_ids)))
        return
    v1, v2 = xcom_module.XComModelV1, xcom_module.XComModelV2
    if dag_ids is None:
        session.execute(delete(v1))
        session.execute(delete(v2))
        return
    from airflow.models.taskinstance import TaskInstance

    session.execute(delete(v1).where(v1.dag_id.in_(dag_ids)))
    # xcom_v2 has no DAG id: the rows of the DAGs' task instances, and those whose task instance is gone
    # (dag_maker deletes the task instances first)
    attempts = select(TaskInstance.id)
    session.execute(
        delete(v2).where(
            v2.task_instance_id.in_(attempts.where(TaskInstance.dag_id.in_(dag_ids)))
            | v2.task_instance_id.not_in(attempts)
        )
    )
"""

# (file under tests_common, old text, new text, why)
PATCHES: list[tuple[str, str, str, str]] = [
    (
        "test_utils/db.py",
        "        add_default_pool_if_not_exists(session)\n",
        "        add_default_pool_if_not_exists(session=session)\n",
        "Airflow 3.2+ made session keyword-only (upstream tests_common later does the same)",
    ),
    (
        "test_utils/db.py",
        "            create_default_connections(session)\n",
        "            create_default_connections(session=session)\n",
        "same: keyword-only session",
    ),
    (
        "test_utils/db.py",
        "DagBag(dag_folder=folder, include_examples=include_examples)",
        "DagBag(dag_folder=folder, " + DAGBAG_KW % "include_examples" + ")",
        "Airflow 3.3 DagBag has no include_examples (examples are bundles)",
    ),
    (
        "pytest_plugin.py",
        "DagBag(os.devnull, include_examples=False)",
        "DagBag(os.devnull, " + DAGBAG_KW % "False" + ")",
        "same, in dag_maker",
    ),
    (
        "pytest_plugin.py",
        "DagBag(dag_folder=dag_file, include_examples=False)",
        "DagBag(dag_folder=dag_file, " + DAGBAG_KW % "False" + ")",
        "same, in get_test_dag",
    ),
    (
        "pytest_plugin.py",
        "            assets = self.session.scalars(select(AssetModel).where(assets_select_condition)).all()\n"
        "            SchedulerJobRunner._activate_referenced_assets(assets, session=self.session)\n",
        "            import inspect as _inspect  # parity harness: Airflow 3.3 takes a CTE here\n"
        "\n"
        '            if "CTE" in str(_inspect.signature(SchedulerJobRunner._activate_referenced_assets)):\n'
        "                assets = select(AssetModel).where(assets_select_condition).cte()\n"
        "            else:\n"
        "                assets = self.session.scalars(select(AssetModel).where(assets_select_condition)).all()\n"
        "            SchedulerJobRunner._activate_referenced_assets(assets, session=self.session)\n",
        "Airflow 3.3 SchedulerJobRunner._activate_referenced_assets takes a CTE, not a list",
    ),
    (
        "test_utils/db.py",
        "def clear_db_xcom():\n    with create_session() as session:\n        session.execute(delete(XCom))\n",
        "def clear_db_xcom():\n    with create_session() as session:\n        clear_xcom_stores(session)\n"
        + CLEAR_XCOM_STORES,
        "Airflow 3.4's XComModel is a read-only projection (a subquery over the xcom_v1 and xcom_v2 tables), "
        "which SQLAlchemy 2.1 refuses as a DELETE's subject (ArgumentError: subject table for an INSERT, "
        "UPDATE or DELETE expected, got <AnnotatedSubquery ...; xcom>): delete from the stores themselves",
    ),
    (
        "pytest_plugin.py",
        "                    self.session.execute(delete(XCom).where(XCom.dag_id.in_(dag_ids)))\n",
        "                    from tests_common.test_utils.db import clear_xcom_stores  # parity harness: 3.4\n"
        "\n"
        "                    clear_xcom_stores(self.session, dag_ids)\n",
        "same, in dag_maker's cleanup (by DAG id)",
    ),
    (
        "pytest_plugin.py",
        "            from airflow.models.taskmap import TaskMap\n",
        "            try:  # parity harness: Airflow 3.4 has no TaskMap (airflow.models.dynamic_region)\n"
        "                from airflow.models.taskmap import TaskMap\n"
        "            except ImportError:\n"
        "                TaskMap = None\n",
        "Airflow 3.4 removed airflow.models.taskmap (mapped lengths live in dynamic_region): dag_maker's "
        "cleanup failed on the import and left every DAG run behind",
    ),
    (
        "pytest_plugin.py",
        "                    self.session.execute(delete(TaskMap).where(TaskMap.dag_id.in_(dag_ids)))\n",
        "                    if TaskMap is not None:\n"
        "                        self.session.execute(delete(TaskMap).where(TaskMap.dag_id.in_(dag_ids)))\n",
        "same: no task_map table to clear on 3.4",
    ),
]

VERSION_COMPAT_APPEND = """

# --- parity harness overlay: the tests_common snapshot used predates Airflow 3.3 ---
AIRFLOW_V_3_3_PLUS = get_base_airflow_version_tuple() >= (3, 3, 0)
"""

PYTEST_INI = """[pytest]
# The few settings of apache/airflow's root [tool.pytest] that tests_common's plugin reads.
addopts = --tb=short -rasl -p no:cacheprovider
log_level = INFO
python_files = test_*.py
testpaths = tests
"""


def make_archive(git_dir: str) -> None:
    """Write ARCHIVE: every file of devel-common/src/tests_common at COMMIT, with fixed metadata."""
    prefix = "devel-common/src/tests_common/"
    git = ["git", "--git-dir", git_dir]
    names = subprocess.run([*git, "ls-tree", "-r", "--name-only", COMMIT, prefix], check=True,
                           capture_output=True, text=True).stdout.split()  # fmt: skip
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(names):
            data = subprocess.run([*git, "show", f"{COMMIT}:{name}"], check=True, capture_output=True).stdout
            info = tarfile.TarInfo("tests_common/" + name[len(prefix) :])
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    ARCHIVE.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9, mtime=0))
    print(f"{ARCHIVE.name}: {len(names)} files, sha256 {hashlib.sha256(ARCHIVE.read_bytes()).hexdigest()}")


def main() -> int:
    if sys.argv[1] == "--archive":
        make_archive(sys.argv[2])
        return 0
    out, sdist = Path(sys.argv[1]), Path(sys.argv[2])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # 1. the provider's tests (conftest + test file), unchanged
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        members = [m for m in tar.getmembers() if m.name.startswith(f"{top}/tests/")]
        tar.extractall(out / "_sdist", members=members)
    shutil.move(out / "_sdist" / top / "tests", out / "tests")
    shutil.rmtree(out / "_sdist")
    assert (out / "tests/unit/standard/operators/test_trigger_dagrun.py").is_file()

    # 2. tests_common at COMMIT, from the archive
    digest = hashlib.sha256(ARCHIVE.read_bytes()).hexdigest()
    assert digest == ARCHIVE_SHA256, f"{ARCHIVE.name} changed: sha256 {digest}"
    with tarfile.open(ARCHIVE) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
        tar.extractall(out, filter="data")

    # 3. patches, each asserted to apply exactly once
    tc = out / "tests_common"
    for rel, old, new, why in PATCHES:
        p = tc / rel
        s = p.read_text()
        assert s.count(old) == 1, f"patch for {rel} ({why}) does not apply: {s.count(old)} matches"
        p.write_text(s.replace(old, new))
    vc = tc / "test_utils/version_compat.py"
    if "AIRFLOW_V_3_3_PLUS" not in vc.read_text():
        vc.write_text(vc.read_text() + VERSION_COMPAT_APPEND)

    # 4. fake source root for the plugin's provider-dependency check; pytest.ini
    root = out / "root"
    for d in ("generated", "providers", "airflow-core/tests/unit/plugins", "airflow-core/tests/unit/dags"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "fake-root"\n\n[tool.uv.workspace]\nmembers = [\n]\n'
    )
    (root / "generated/provider_dependencies.json").write_text("{}\n")
    (root / "generated/provider_dependencies.json.sha256sum").write_text(hashlib.sha256().hexdigest() + "\n")
    (out / "pytest.ini").write_text(PYTEST_INI)
    print(f"harness ready in {out} ({len(names)} tests_common files from {COMMIT[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

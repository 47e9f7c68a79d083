"""Mutation check: each mutation of durable=True must fail at least one of the provider's own tests.

usage: python mutate.py PVENV PHARNESS OUT   (run.sh's "mutants" subject passes them)

Each mutation edits one file of the patched provider as installed in PVENV (the vendored copy) or of the
patched tests in PHARNESS, runs the test file's ``TestDagRunOperatorDurable`` class, and puts the file back,
also when the run fails. A mutation is "caught" when at least one test fails; one that cannot show on the
running Airflow is listed with the reason and counts as neither caught nor missed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

TEST_FILE = "tests/unit/standard/operators/test_trigger_dagrun.py"
COPY = "airflow/providers/standard/_vendor/airflow_trigger_compat"


class Mutation(NamedTuple):
    name: str
    where: str  # "copy:<file of the copy>" or "tests"
    old: str
    new: str
    #: The Airflow minors (major, minor) it can show on: ``since <= minor < until``; why not elsewhere.
    since: tuple[int, int] = (2, 11)
    until: tuple[int, int] = (99, 0)
    why: str = ""


MUTATIONS = (
    Mutation(
        "durable off in the tests' helper",
        "tests",
        "trigger_dag_id=TRIGGERED_DAG_ID,\n                durable=True,",
        "trigger_dag_id=TRIGGERED_DAG_ID,\n                durable=False,",
    ),
    Mutation(
        "the run_id key made constant (below 3.3: the derived run id's identity)",
        "copy:_contract.py",
        'identity = "\\0".join(map(str, (*parent, trigger_dag_id)))',
        'identity = "constant"',
        until=(3, 3),
        why="from Airflow 3.3 the run id is kept in task_state_store, never derived",
    ),
    Mutation(
        "the run_id key made constant (3.3+: the task_state_store key)",
        "copy:_strategies/durable.py",
        'self.key = f"{STATE_KEY}@{parent.max_tries}:{request.trigger_dag_id}"',
        "self.key = STATE_KEY",
        since=(3, 3),
        why="the store exists from Airflow 3.3; below, the key is never used",
    ),
    Mutation(
        "the store write before the trigger removed (3.3+)",
        "copy:_strategies/durable.py",
        "self.store.set(self.key, run_id)",
        "pass  # mutated: the run id is not kept",
        since=(3, 3),
        why="the store exists from Airflow 3.3; below, the run id is derived and never stored",
    ),
    Mutation(
        "a retry triggers again instead of reconnecting (the kept run taken for a failed one)",
        "copy:_strategies/durable.py",
        "if not (request.wait_for_completion and state in request.failed_states):",
        "if False:  # mutated: never reconnect",
    ),
    Mutation(
        "the reconnected try does not wait for the kept run",
        "copy:_strategies/durable.py",
        "if request.wait_for_completion and state not in request.allowed_states:",
        "if False:  # mutated: no wait after a reconnect",
    ),
    Mutation(
        "a run failing under the reconnected wait ends the try unlike the task runner (retry inverted)",
        "copy:_strategies/durable.py",
        "retry=route.selection.supports(Feature.RETRY_ON_FAILED_CHILD)",
        "retry=not route.selection.supports(Feature.RETRY_ON_FAILED_CHILD)",
        since=(3, 0),
        why="Airflow 2's ORM path always leaves a failed run its retries (its port ignores retry)",
    ),
)


def _failures(junit: Path) -> list[str]:
    failed = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if any(child.tag in ("failure", "error") for child in case):
            failed.append(str(case.get("name")))
    return failed


def _airflow_release(python: Path) -> tuple[int, int]:
    version = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('apache-airflow'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still puts the file back
    pvenv, harness, out = (Path(a) for a in sys.argv[1:4])
    python = pvenv / "bin" / "python"
    (site,) = pvenv.glob("lib/python3.*/site-packages")
    release = _airflow_release(python)
    out.mkdir(parents=True, exist_ok=True)
    missed = []
    for number, mutation in enumerate(MUTATIONS, 1):
        if not mutation.since <= release < mutation.until:
            print(
                f"[{number}] {mutation.name}: cannot show on Airflow {release[0]}.{release[1]} ({mutation.why})"
            )
            continue
        target = harness / TEST_FILE if mutation.where == "tests" else site / COPY / mutation.where[5:]
        original = target.read_text()
        if original.count(mutation.old) != 1:
            raise SystemExit(f"mutation {mutation.name!r}: {mutation.old!r} is not once in {target}")
        junit = out / f"junit-mutant-{number}.xml"
        target.write_text(original.replace(mutation.old, mutation.new))
        try:
            env = {
                **os.environ,
                "PARITY_SUBJECT": "patched",
                "PYTHONPATH": f"{harness}:{Path(__file__).parent}",
            }
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pytest",
                    TEST_FILE,
                    "-k",
                    "TestDagRunOperatorDurable",
                    "-p",
                    "parity_subject",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    f"--junitxml={junit}",
                ],
                cwd=harness,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        finally:
            target.write_text(original)
        failed = _failures(junit)
        print(f"[{number}] {mutation.name}: {'caught by ' + ', '.join(failed) if failed else 'MISSED'}")
        if not failed:
            missed.append(mutation.name)
    print(f"mutations missed: {len(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

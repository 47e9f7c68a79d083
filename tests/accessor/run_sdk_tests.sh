#!/usr/bin/env bash
# Run the Task SDK's own test_task_runner.py against apache-airflow-task-sdk 1.4.0b2 built with the
# accessor patch (patches/apache-airflow-task-sdk-1.4.0b2-accessor.patch), installed over Airflow 3.4.0b2
# pinned by constraints/airflow-3.4.0b2.txt; "stock" runs the release's own tests on the released SDK.
#
# usage: run_sdk_tests.sh [subjects...]      e.g.  run_sdk_tests.sh        run_sdk_tests.sh patched stock
#   subjects: patched   build_task_sdk.py's wheel (1.4.0b2+accessor) over the pins; the tests as patched
#             stock     the pinned 1.4.0b2; the tests as released
# env:
#   PKG_DIR   checkout of airflow-trigger-compat (default: the git toplevel of the cwd)
#   SCRATCH   scratch dir (default: accessor-sdk under the system's temp dir)
#   SELECT    pytest -k expression of the focused run (default: the accessor's and its neighbours' tests)
#   FULL=1    also run the whole test_task_runner.py
# Results: $SCRATCH/results-<subject>/{junit,log}-{select,file}.{xml,txt}. Exit non-zero when a run fails.
set -euo pipefail
if [ $# -eq 0 ]; then SUBJECTS=(patched); else SUBJECTS=("$@"); fi
HERE=$(cd "$(dirname "$0")" && pwd)
PKG_DIR=${PKG_DIR:-$(git rev-parse --show-toplevel)}
SCRATCH=${SCRATCH:-$(python3 -c 'import tempfile; print(tempfile.gettempdir())')/accessor-sdk}
SELECT=${SELECT:-trigger_dag_run or get_dagrun_state or dr_count}
RELEASE=3.4.0b2
TESTS=tests/task_sdk/execution_time/test_task_runner.py
# test-only dependencies of test_task_runner.py and its conftests (not in the package's pins)
TEST_DEPS=("time-machine==3.6.0" "pytest-mock==3.17.0" "pytest-asyncio==1.5.0" "kgb==7.3" "pandas==3.1.2"
  "kubernetes==37.0.3" "pyarrow==26.0.1")

mkdir -p "$SCRATCH"
SCRATCH=$(cd "$SCRATCH" && pwd)
if [ ! -x "$SCRATCH/uvenv/bin/uv" ]; then
  python3 -m venv "$SCRATCH/uvenv" && "$SCRATCH/uvenv/bin/pip" install -q "uv==0.13.9"
fi
UV="$SCRATCH/uvenv/bin/uv"

# the patched Task SDK: sdist (sha256-checked), patch, local version label, wheel
BUILD="$SCRATCH/build"
"$SCRATCH/uvenv/bin/python" "$HERE/build_task_sdk.py" "$BUILD" | tee "$SCRATCH/build.log"
WHEEL=$(tail -1 "$SCRATCH/build.log")
SDIST=$(ls "$BUILD"/sdist/*.tar.gz)

rc_all=0
for subject in "${SUBJECTS[@]}"; do
  venv="$SCRATCH/venv-$RELEASE-$subject"
  if [ ! -x "$venv/bin/python" ]; then
    "$UV" venv -q -p 3.11 "$venv"
    VIRTUAL_ENV="$venv" "$UV" pip install -q -r "$PKG_DIR/constraints/airflow-$RELEASE.txt"
  fi
  VIRTUAL_ENV="$venv" "$UV" pip install -q -c "$PKG_DIR/constraints/airflow-$RELEASE.txt" "${TEST_DEPS[@]}"
  case "$subject" in
    patched)
      tree="$BUILD/src/$(basename "$SDIST" .tar.gz)"
      # --no-cache: a rebuilt wheel keeps its name and version
      VIRTUAL_ENV="$venv" "$UV" pip install -q --no-deps --no-cache \
        --reinstall-package apache-airflow-task-sdk "$WHEEL"
      want="1.4.0b2+accessor" ;;
    stock)
      tree="$SCRATCH/stock-src/$(basename "$SDIST" .tar.gz)"
      rm -rf "$SCRATCH/stock-src" && mkdir -p "$SCRATCH/stock-src" && tar xzf "$SDIST" -C "$SCRATCH/stock-src"
      VIRTUAL_ENV="$venv" "$UV" pip install -q --no-deps --reinstall-package apache-airflow-task-sdk \
        "apache-airflow-task-sdk==1.4.0b2"
      want="1.4.0b2" ;;
    *) echo "unknown subject: $subject" >&2; exit 2 ;;
  esac
  "$venv/bin/python" - "$want" <<'EOF'
import sys
from importlib.metadata import version

from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

assert version("apache-airflow-task-sdk") == sys.argv[1], version("apache-airflow-task-sdk")
assert hasattr(RuntimeTaskInstance, "trigger_dag_run") == ("+accessor" in sys.argv[1])
print(f"apache-airflow-task-sdk {sys.argv[1]}: trigger_dag_run {'present' if '+' in sys.argv[1] else 'absent'}")
EOF
  harness="$SCRATCH/harness-$subject"
  "$venv/bin/python" "$HERE/prepare_sdk_harness.py" "$harness" "$tree"
  out="$SCRATCH/results-$subject"
  mkdir -p "$out"
  runs=(select)
  [ "${FULL:-0}" = 1 ] && runs+=(file)
  for run in "${runs[@]}"; do
    home="$SCRATCH/home-$subject-$run"
    rm -rf "$home" && mkdir -p "$home"
    args=("$TESTS")
    [ "$run" = select ] && args+=(-k "$SELECT")
    echo "== Task SDK $want on Airflow $RELEASE: $subject, $run"
    set +e
    (cd "$harness" && env -u PYTHONPATH AIRFLOW_HOME="$home" AIRFLOW_SOURCES="$harness/root" \
        PYTHONPATH="$harness:$harness/tests" \
        "$venv/bin/python" -m pytest "${args[@]}" --junitxml="$out/junit-$run.xml" >"$out/log-$run.txt" 2>&1)
    rc=$?
    set -e
    echo "   pytest rc=$rc; $(grep -E '^=+ .*(passed|failed|error).* =+$' "$out/log-$run.txt" | tail -1)"
    [ $rc -eq 0 ] || rc_all=1
  done
done
exit $rc_all

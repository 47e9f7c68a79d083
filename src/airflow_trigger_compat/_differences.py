"""Every way this package's operator differs from the standard one, as data, beside the version story.

The standard operator, with the installed task runner doing its part, is the oracle: the differential
behavioural suite runs both on the same scenario and compares one observation of each (child runs, the
parent's XComs, its state and tries, the error and its type, whether it hung). A difference it sees must
be one of these rows, on the versions the row names; and a row whose scenario no longer shows it fails
the suite too. README's "Differences from the stock operator" table is generated from this tuple.

Observation fields a row may name: ``construct_error`` (the operator cannot be built), ``children``
(the child runs created, and their fields), ``runs`` (how many child runs, in which states: a row that
changes only run_ids leaves it alone), ``log`` (the warning-and-above lines of the task log: a row that
changes the tries changes their "Task failed" lines), ``tries`` (the parent's state after each try, and
its final state), ``error`` (the exception a try ended with, checked by type: the package's must be an
instance of stock's), ``xcoms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from ._runtime._errors import TriggerCompatWarning
from ._runtime._registry import VersionRange

__all__ = [
    "DIFFERENCES",
    "HOW",
    "PROVIDER_FIXES",
    "PROVIDER_PARAMETERS",
    "Difference",
    "ProviderFix",
    "ProviderParameter",
    "ProviderParameterWarning",
    "differences_on",
]

_EVERY_VERSION = VersionRange((2, 11, 0), (4, 0, 0))

#: What each path (``_runtime/_strategies/<name>.py``) does, and each place durable=True keeps the run_id
#: (``_strategies.durable.KEEPERS``): the registry table's list under it.
HOW: Mapping[str, str] = MappingProxyType(
    {
        "airflow2": "the operator triggers through the ORM (trigger_dag) and polls the child run, as the "
        "standard operator on Airflow 2",
        "runner_exception": "execute() raises DagRunTriggerException and the task runner triggers and "
        "waits, as the standard operator on Airflow 3",
        "store": "durable=True keeps the child's run_id in the task's task_state_store before the path "
        "triggers it; a retry reconnects to that run (any run_id)",
        "accessor": "where the Task SDK has ti.trigger_dag_run() (apache/airflow#69135: proposed, in no "
        "release yet), durable=True triggers its kept run_id through it and waits in execute()",
        "derived": "durable=True derives the child's run_id from the parent task instance (a generated "
        "run_id only); a retry reconnects to that run",
    }
)


class ProviderParameterWarning(TriggerCompatWarning):
    """The installed standard provider's operator lacks a parameter; the drop-in applies it itself."""


class ProviderParameter(NamedTuple):
    """A parameter of the current standard operator that older apache-airflow-providers-standard lack."""

    since: str  # the first providers-standard release whose TriggerDagRunOperator takes it
    upstream: str


#: The drop-in subclasses whatever providers-standard is installed; Airflow 3 lets users keep an older one
#: (apache-airflow-core 3.0.6 accepts 0.4.0, 3.1.8-3.3.2 accept 1.9.0). Where the installed operator lacks
#: one of these parameters the drop-in takes it itself (its runtime computes every value, reading each with
#: a default) and warns ProviderParameterWarning; the stock operator of that provider refuses the DAG
#: (TypeError: an unknown argument). Declared in _differences ("older-provider-parameters").
PROVIDER_PARAMETERS: Mapping[str, ProviderParameter] = MappingProxyType(
    {
        "fail_when_dag_is_paused": ProviderParameter("1.1.0", "apache/airflow#48214"),
        "openlineage_inject_parent_info": ProviderParameter("1.10.0", "apache/airflow#58672"),
        "note": ProviderParameter("1.12.0", "apache/airflow#60810"),
        "run_after": ProviderParameter("1.13.0", "apache/airflow#62259"),
    }
)


class ProviderFix(NamedTuple):
    """A behaviour of the current standard operator that older providers-standard releases lack."""

    since: str  # the first providers-standard release with it
    upstream: str
    what: str


#: The package behaves as the current provider on every installed provider, so with an older one it does
#: these where that provider's stock operator does not (declared: "older-provider-fixes").
PROVIDER_FIXES: Mapping[str, ProviderFix] = MappingProxyType(
    {
        "json-string-conf": ProviderFix(
            "1.10.0", "apache/airflow#57214", "a conf given as a JSON string is parsed into a dict"
        ),
        "run-id-on-operator": ProviderFix(
            "1.10.0",
            "providers-standard 1.10.0",
            "execute() keeps the run_id it triggers in operator.trigger_run_id",
        ),
        "paused-flag-refused-before-3-2": ProviderFix(
            "1.9.1",
            "providers-standard 1.9.1",
            "Airflow 3.0 and 3.1: fail_when_dag_is_paused=True is refused at parse with NotImplementedError "
            "(1.9.0 accepted it and read DagModel through the ORM in execute(), which a 3.x worker forbids)",
        ),
        "conf-error-message": ProviderFix(
            "1.20.0",
            "providers-standard 1.20.0",
            "the error for a conf that is not JSON-serialisable names the conf in its message (before: "
            "ValueError('conf parameter should be JSON Serializable %s', conf), a tuple as message)",
        ),
        "link-xcom-at-trigger": ProviderFix(
            "1.15.0",
            "apache/airflow#67327",
            "Airflow 3: the Triggered DAG link XCom is pushed when the run is triggered, so the button "
            "shows while the child is queued or running",
        ),
    }
)


class Difference(NamedTuple):
    """One declared difference from the standard operator."""

    id: str
    airflow: VersionRange
    #: When it shows, in the words of a DAG author.
    when: str
    stock: str
    package: str
    #: Why the package's way is the better one.
    reason: str
    #: The observation fields it changes (see the module docstring).
    fields: frozenset[str]
    #: Where it is shown: the differential scenarios (``test_parity.py``) or the live crash test.
    shown_by: str


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        id="invalid-input-fails-early",
        airflow=_EVERY_VERSION,
        when="an argument the trigger cannot work with: conf that is not a JSON object (3.2.1+: or has a "
        "key that is not a string; before, Airflow refuses that key before execute(), for both), a date "
        "of the wrong type, unparseable or naive, a negative or non-number poke_interval for a "
        "synchronous wait, a trigger_run_id Airflow refuses, an empty trigger_dag_id, a non-string note "
        "(3.2+)",
        stock="fails once execute() or the trigger reaches the value, sometimes after the child run was "
        "created, often with a message that does not name the argument; retries apply and repeat it",
        package="fails before any child run exists, without retries (AirflowFailException), with a message "
        "that names the argument, the value and the fix; the error is also stock's type (ValueError, "
        "TypeError, or stock's narrower type such as pendulum's ParserError). 3.0-3.2 (durable=True "
        "too: it triggers through stock's path), for what the task runner's trigger payload refuses (conf's "
        "shape, a naive date): the message is logged and the runner refuses the payload as it refuses "
        "stock's (no retry, the link naming the run_id)",
        reason="no retry can fix an argument, and a retry after the child was triggered triggers it again",
        fields=frozenset({"tries", "children", "error", "xcoms", "runs", "log"}),
        shown_by="test_parity.py, the invalid_* scenarios",
    ),
    Difference(
        id="empty-trigger-dag-id-at-parse",
        airflow=_EVERY_VERSION,
        when="trigger_dag_id is a literal empty or blank string (not a template)",
        stock="the DAG parses; the task fails at run time (the trigger finds no such DAG) and retries",
        package="the operator refuses it when the DAG file is parsed (TriggerArgumentError, a ValueError)",
        reason="it can never name a DAG, and parse errors are where DAG authors look first",
        fields=frozenset({"construct_error"}),
        shown_by="test_parity.py::test_empty_trigger_dag_id_is_refused_at_parse",
    ),
    Difference(
        id="durable-reconnects-after-a-lost-worker",
        airflow=_EVERY_VERSION,
        when="durable=True and the worker running the parent is lost once the child run was triggered (while "
        "the task runner, or on 2.11 the operator, waits on it); the task is retried. Until then a try runs "
        "as stock's: the run_id is kept first, then stock's path triggers and waits",
        stock="the retry triggers a second child run",
        package="the retry reconnects to the child run the lost try triggered (one child run): it logs "
        '"Reconnecting to DAG run", pushes the XComs stock pushes and, waiting, polls the run inside '
        "execute(): execution_timeout bounds that wait (the timed-out try's retry reconnects again), and a "
        "child that fails there ends the try as the installed runner ends it (retried on 2.11 and 3.3+, "
        "failed without retries on 3.0-3.2). A kept run that was never created is triggered under its "
        "run_id; one that ended in failed_states gets a fresh run",
        reason="the point of durable=True: a lost worker must not duplicate the child's work. The task "
        "runner waits only on a run it triggers itself, so a reconnected try waits in execute(), as on "
        "Airflow 2",
        fields=frozenset({"children", "runs", "tries", "error", "log"}),
        shown_by="tests/live (nox -t live): the live crash test, real scheduler and SIGKILL; the durable "
        "tests in test_trigger_dagrun.py (a try lost before or after the trigger)",
    ),
    Difference(
        id="durable-accessor-owns-the-wait",
        airflow=VersionRange((3, 0, 0), (4, 0, 0)),
        when="durable=True (not deferrable), the Task SDK has ti.trigger_dag_run() (apache/airflow#69135: "
        "no release has it), and the try triggers the child run: its wait is bounded by execution_timeout, "
        "or the try fails (a child in failed_states, a run that already exists, a trigger or a wait that "
        "errors)",
        stock="execute() raises DagRunTriggerException and the task runner triggers and waits: "
        "execution_timeout does not bound the wait, and the runner's handler ends a failing try itself",
        package="the operator triggers the kept run_id through ti.trigger_dag_run() and waits inside "
        "execute(), with the runner's log lines, XComs and outcomes: execution_timeout bounds that wait "
        "(the timed-out try's retry reconnects), and a failing try fails by raising from execute(), so the "
        'runner also logs "Task failed with exception" and records the error',
        reason="the trigger and the wait belong to the operator, on the Task SDK's public API: the same code "
        "as a reconnected try's, no exception the runner must catch (#69135's point: the operator owns the "
        "trigger-and-wait contract)",
        fields=frozenset({"tries", "error", "log", "children", "runs"}),
        shown_by="nox -s accessor: test_parity.py's durable scenarios that fail or time out (their "
        "predicate: has_trigger_accessor()); the durable tests in test_trigger_dagrun.py; tests/live, the "
        "durable cases",
    ),
    Difference(
        id="durable-derived-run-id",
        airflow=VersionRange((2, 11, 0), (3, 3, 0)),
        when="durable=True without trigger_run_id, logical_date or run_after (the run_id is generated)",
        stock="the child's run_id is manual__<now>, new on every try",
        package="the child's run_id is manual__durable-<hash of the parent task instance, its DAG run, its "
        "clear and the child DAG>-<n>, the same on every try of one clear (n counts fresh runs after a "
        "failed child)",
        reason="with no task_state_store before Airflow 3.3, the run_id is what lets a retry find the run a "
        "lost try made: Airflow refuses a second run with it",
        fields=frozenset({"children", "xcoms"}),
        shown_by="test_parity.py::test_parity[durable_generated_*]; the durable tests in "
        "test_trigger_dagrun.py",
    ),
    Difference(
        id="durable-recreated-by-dag-test",
        airflow=VersionRange((3, 0, 0), (3, 3, 0)),
        when="durable=True with a generated run_id, and dag.test() or `airflow dags test` runs the parent "
        "again with the same logical date while the child run of the earlier run still exists",
        stock="the recreated parent run triggers a new child run",
        package="the recreated parent run reconnects to the earlier run's child (one child run)",
        reason="the Task SDK shows a task no DAG run id; the run's start_date stands in for it, and "
        "dag.test() sets start_date to the logical date, so both runs look the same. A run recreated "
        "through the REST API, a backfill or the scheduler starts at a new time and triggers its own child",
        fields=frozenset({"children", "runs", "xcoms"}),
        shown_by="test_parity.py::test_parity[durable_recreated_parent_*]; tests/live, the recreate case",
    ),
    Difference(
        id="older-provider-parameters",
        airflow=_EVERY_VERSION,
        when="the installed apache-airflow-providers-standard predates a parameter of the current one "
        "(fail_when_dag_is_paused: 1.1.0, openlineage_inject_parent_info: 1.10.0, note: 1.12.0, run_after: "
        "1.13.0; see PROVIDER_PARAMETERS) and the DAG passes it",
        stock="that provider's operator refuses the DAG: TypeError (an unknown argument) at parse",
        package="the operator takes the parameter, warns ProviderParameterWarning naming the provider "
        "release that added it, and applies it as the current provider does on this Airflow",
        reason="the package's runtime computes every value itself, so a DAG written for the current "
        "provider runs the same on an older one; the warning says the stock operator would refuse it",
        fields=frozenset({"construct_error", "children", "tries", "error", "xcoms", "runs", "log"}),
        shown_by="the oldest_provider(<minor>) sessions: test_parity.py scenarios that pass such a parameter",
    ),
    Difference(
        id="older-provider-fixes",
        airflow=_EVERY_VERSION,
        when="the installed apache-airflow-providers-standard predates a fix of the current one "
        "(PROVIDER_FIXES: a JSON-string conf parsed, and the triggered run_id kept in "
        "operator.trigger_run_id, from 1.10.0; on Airflow 3 the Triggered DAG link XCom pushed at the "
        "trigger from 1.15.0; the non-JSON-serialisable conf error's message formatted from 1.20.0; on "
        "Airflow 3.0 and 3.1 fail_when_dag_is_paused=True refused at parse from 1.9.1)",
        stock="that provider's operator fails the task on a JSON-string conf, pushes no link XCom "
        "while the child runs, raises its conf error (the same ValueError) with a tuple as message, and "
        "(1.9.0) accepts fail_when_dag_is_paused on 3.0/3.1 and checks it through the ORM in execute()",
        package="behaves as the current provider: parses the conf, pushes the link XCom at the trigger, "
        "refuses fail_when_dag_is_paused before 3.2 at parse (NotImplementedError)",
        reason="the package implements the current provider's behaviour on every provider; mirroring "
        "an old provider's bugs would make a DAG behave differently after a provider upgrade",
        fields=frozenset({"construct_error", "children", "tries", "error", "xcoms", "runs", "log"}),
        shown_by="the oldest_provider(<minor>) sessions: the conf_json_string scenario, the link XCom",
    ),
    Difference(
        id="durable-clear-while-waiting-reconnects",
        airflow=_EVERY_VERSION,
        when="durable=True and a user clears the parent task while it still waits on its child run, and "
        "Airflow keeps the task's max_tries for that clear: always on 2.11; on 3.1+ only when the stopped "
        "try's failure reaches the API before the scheduler handles the executor's event (otherwise the "
        "scheduler raises max_tries and the package triggers a second child, as stock does)",
        stock="the cleared try is stopped and the rerun triggers a second child run",
        package="the rerun reconnects to the child run that is still running (one child run); a clear "
        "after the task ended triggers a fresh child, as stock",
        reason="Airflow records that clear as a retry (RESTARTING, max_tries unchanged), indistinguishable "
        "from a lost worker inside the task; to run the child again, clear after the wait ends (or mark "
        "the child run failed first)",
        fields=frozenset({"children", "runs"}),
        shown_by='tests/live, the clearwait case (nox -s "live(3.3)" -- -k clearwait)',
    ),
)


def differences_on(release: tuple[int, int, int]) -> tuple[Difference, ...]:
    """The declared differences that apply on Airflow ``release``."""
    return tuple(d for d in DIFFERENCES if release in d.airflow)

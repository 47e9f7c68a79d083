"""Stock is the oracle: run one scenario with the standard operator and with the package's, compare.

Each side runs in the same real Airflow, against the same metadata DB, from the same starting point (the
child runs a side created are deleted before the other side runs, and a scenario's pre-existing runs are
created again). One :class:`Observation` per side records what a DAG author or a caller can see:

* ``construct_error``: the operator could not be built (type and message);
* ``children``: every child run created (run_id, state, conf, logical_date, run_after, note);
* ``runs``: how many child runs, in which states (a declared change of run_ids leaves it comparable);
* ``tries``: the parent's state after each try, then its final state;
* ``error``: per try, the exception it ended with (type chain and message);
* ``xcoms``: the parent's ``trigger_run_id`` and "Triggered DAG" link XComs;
* ``log``: the warning-and-above lines of the parent's task log (level and message);
* ``hung``: the parent did not finish within the scenario's bound.

Values that depend on the moment a side ran ("now" in a generated run_id or logical_date, the random
suffix of a generated 3.x run_id) are replaced by ``<now>`` and ``<rand>``; everything else is compared
literally. An error is "the same" when the package's is an instance of stock's type and its message holds
stock's message (where stock ended a try without an exception, the package may raise one: the try's
state is what is compared).
"""

from __future__ import annotations

import datetime
import json
import re
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import _harness

NOW = "<now>"
RAND = "<rand>"
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?")
#: The random suffix Airflow 3 gives a generated run_id without a logical date, after its timestamp.
_SUFFIX = re.compile(r"(\+\d{2}:\d{2}|<now>)_[A-Za-z0-9]{8}\b")
#: How far from a side's run a date may be and still be "now" (seconds).
_SLACK = 5.0

FIELDS = ("construct_error", "children", "runs", "tries", "error", "xcoms", "log", "hung")


class Fresh:
    """A keyword value made anew for each side (an iterator can be read only once)."""

    def __init__(self, make: Callable[[], Any], label: str) -> None:
        self.make = make
        self.label = label

    def __repr__(self) -> str:
        return self.label


@dataclass(frozen=True)
class ErrorSeen:
    types: tuple[str, ...]  # the exception's MRO, qualified names
    message: str

    @classmethod
    def of(cls, exc: BaseException | None, norm: Normalizer) -> ErrorSeen | None:
        if exc is None:
            return None
        names = tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)
        return cls(names, norm.text(str(exc)))

    def covers(self, other: ErrorSeen | None) -> bool:
        """``other`` (the package's) can be caught as this (stock's) and says what this says."""
        return other is not None and self.types[0] in other.types and self.message in other.message

    def __str__(self) -> str:
        return f"{self.types[0]}: {self.message[:300]}"


@dataclass
class Observation:
    construct_error: ErrorSeen | None = None
    children: tuple[tuple[Any, ...], ...] = ()
    runs: tuple[str, ...] = ()
    tries: tuple[str | None, ...] = ()
    error: tuple[ErrorSeen | None, ...] = ()
    xcoms: tuple[tuple[str, Any], ...] = ()
    log: tuple[tuple[str, str], ...] = ()
    hung: bool = False
    #: The package's warnings (not compared: stock has none of its own).
    warnings: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {
            "construct_error": None if self.construct_error is None else str(self.construct_error),
            "children": [list(map(str, c)) for c in self.children],
            "runs": list(self.runs),
            "tries": list(self.tries),
            "error": [None if e is None else str(e) for e in self.error],
            "xcoms": [list(map(str, x)) for x in self.xcoms],
            "log": [list(line) for line in self.log],
            "hung": self.hung,
            "warnings": list(self.warnings),
        }


class Normalizer:
    """Replaces what depends on when a side ran by placeholders."""

    def __init__(self, start: datetime.datetime, end: datetime.datetime) -> None:
        self.start = start - datetime.timedelta(seconds=_SLACK)
        self.end = end + datetime.timedelta(seconds=_SLACK)

    def _is_now(self, value: datetime.datetime) -> bool:
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return self.start <= aware <= self.end

    def date(self, value: datetime.datetime | None) -> str | None:
        if value is None:
            return None
        return NOW if self._is_now(value) else value.isoformat()

    def text(self, value: str) -> str:
        def now(match: re.Match[str]) -> str:
            try:
                parsed = datetime.datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
            except ValueError:
                return match.group(0)
            return NOW if self._is_now(parsed) else match.group(0)

        return _SUFFIX.sub(r"\1_" + RAND, _ISO.sub(now, value))


@dataclass
class Scenario:
    """One input, run through both operators.

    ``kwargs`` go to both, ``package_kwargs`` to the package's only (``durable``). ``finish`` is the state
    the harness gives every child run the parent creates (``"deleted"``: it deletes it; ``None``: leaves
    it), ``finish_delay`` seconds after it appears. ``existing`` are child runs made before each side
    (keywords for a stock fire-and-forget trigger). ``expect`` lists the declared differences this
    scenario shows, each on the versions where ``where(selection)`` is true.
    """

    kwargs: dict[str, Any]
    package_kwargs: dict[str, Any] = field(default_factory=dict)
    finish: str | None = "success"
    finish_delay: float = 0.0
    retries: int = 0
    existing: tuple[dict[str, Any], ...] = ()
    timeout: float = 30.0
    expect: tuple[tuple[str, Callable[[Any], bool]], ...] = ()
    #: A context manager factory wrapped around both sides (e.g. another default_timezone).
    around: Callable[[], Any] | None = None
    #: The package's warnings (class names) this scenario must give, each where ``where(selection)``.
    warns: tuple[tuple[str, Callable[[Any], bool]], ...] = ()
    #: Where stock itself never finishes (an upstream bug the package must not hide or add to).
    stock_hangs: Callable[[Any], bool] = lambda selection: False
    #: Run the parent a second time under the same run_id: dag.test() deletes its DAG run and creates it
    #: again, leaving the first run's child runs; the observation covers both runs, the tries the second's.
    recreate: bool = False

    def expected(self, selection: Any) -> set[str]:
        return {name for name, where in self.expect if where(selection)}

    def warned(self, selection: Any) -> set[str]:
        return {name for name, where in self.warns if where(selection)}


def everywhere(selection: Any) -> bool:
    return True


def link_key() -> str | None:
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunLink

    return getattr(TriggerDagRunLink(), "xcom_key", None)  # Airflow 3 only


def _resolve(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v.make() if isinstance(v, Fresh) else v for k, v in kwargs.items()}


def _child_rows(norm: Normalizer, created: Iterable[_harness.ChildRun]) -> tuple[tuple[Any, ...], ...]:
    rows = [
        (
            norm.text(c.run_id),
            c.state,
            json.dumps(c.conf, sort_keys=True, default=repr),
            norm.date(c.logical_date),
            norm.date(c.run_after),
            c.note,
        )
        for c in created
    ]
    return tuple(sorted(rows, key=repr))


def observe(dag_id: str, operator: Any, scenario: Scenario, package_warning: type[Warning]) -> Observation:
    """Run the parent once with ``operator`` and record what happened."""
    before = {c.run_id for c in _harness.child_runs()}
    start = datetime.datetime.now(datetime.timezone.utc)
    kwargs = _resolve(scenario.kwargs)
    kwargs.setdefault("trigger_dag_id", _harness.CHILD_DAG_ID)
    # A pre-existing run the parent waits on (reset_dag_run reruns it) is finished like a new one.
    existing = {e["trigger_run_id"]: scenario.finish for e in scenario.existing if scenario.finish}
    waits = bool(kwargs.get("wait_for_completion"))
    seen = Observation()
    result = None
    construct_exc: Exception | None = None
    with warnings.catch_warnings(record=True) as caught, _harness.task_log_warnings() as log:
        warnings.simplefilter("always", package_warning)
        try:
            for parent_date in [_harness.unique_date()] * (2 if scenario.recreate else 1):
                result = _harness.run_parent(
                    dag_id,
                    operator,
                    finish=existing if waits else None,
                    finish_new=scenario.finish,
                    finish_delay=scenario.finish_delay,
                    retries=scenario.retries,
                    timeout=scenario.timeout,
                    parent_date=parent_date,
                    **kwargs,
                )
        except _harness.ParentTimeout:
            seen.hung = True
        except Exception as exc:  # raised while the DAG was built: the operator's constructor
            construct_exc = exc
    end = datetime.datetime.now(datetime.timezone.utc)
    norm = Normalizer(start, end)
    seen.construct_error = ErrorSeen.of(construct_exc, norm)
    created = [c for c in _harness.child_runs() if c.run_id not in before]
    seen.children = _child_rows(norm, created)
    seen.runs = tuple(sorted(c.state for c in created))
    seen.log = tuple((level, norm.text(message).replace(dag_id, "<parent>")) for level, message in log)
    seen.warnings = tuple(
        sorted({w.category.__name__ for w in caught if issubclass(w.category, package_warning)})
    )
    if result is not None:
        seen.tries = (*result.try_states, result.state)
        seen.error = tuple(ErrorSeen.of(e, norm) for e in result.errors)
        xcoms = [("trigger_run_id", result.trigger_run_id)]
        key = link_key()
        if key is not None:
            xcoms.append(("link", _harness._xcom(dag_id, result.run_id, key)))
        seen.xcoms = tuple(
            (name, None if value is None else norm.text(urllib.parse.unquote(str(value))))
            for name, value in xcoms
        )
    return seen


def differing(stock: Observation, package: Observation) -> dict[str, tuple[Any, Any]]:
    """The fields in which the package's observation differs from stock's."""
    if stock.construct_error is not None or package.construct_error is not None:
        # Nothing ran on the side that could not be built: only the construction is comparable.
        same = stock.construct_error is not None and stock.construct_error.covers(package.construct_error)
        return {} if same else {"construct_error": (stock.construct_error, package.construct_error)}
    found: dict[str, tuple[Any, Any]] = {}
    for name in ("children", "runs", "tries", "xcoms", "log", "hung"):
        if getattr(stock, name) != getattr(package, name):
            found[name] = (getattr(stock, name), getattr(package, name))
    errors_match = len(stock.error) == len(package.error) and all(
        s is None or s.covers(p) for s, p in zip(stock.error, package.error, strict=True)
    )
    if not errors_match:
        found["error"] = (stock.error, package.error)
    return found


def check_parity(
    stock: Observation,
    package: Observation,
    declared: dict[str, frozenset[str]],
    expected: set[str],
    tolerated: frozenset[str] = frozenset(),
) -> list[str]:
    """Problems: a difference no expected declaration covers, or an expected declaration that did not show.

    ``declared`` maps each difference that applies on this Airflow to its fields; ``expected`` are those
    this scenario is meant to show here. ``tolerated`` fields may differ without being required to: an
    older provider's missing fix (declared ``older-provider-fixes``) that this scenario may touch.
    """
    diff = differing(stock, package)
    allowed = set().union(*(declared[d] for d in expected)) if expected else set()
    allowed |= tolerated
    problems = [
        f"undeclared difference in {name}:\n    stock:   {values[0]!r}\n    package: {values[1]!r}"
        for name, values in diff.items()
        if name not in allowed
    ]
    problems += [
        f"declared difference {d!r} no longer happens here (fields {sorted(declared[d])} are the same)"
        for d in sorted(expected)
        if not set(diff) & declared[d]
    ]
    return problems


def run_both(
    name: str,
    scenario: Scenario,
    stock_operator: Any,
    package_operator: Any,
    package_warning: type[Warning],
) -> tuple[Observation, Observation, float]:
    """Observe stock, then the package, each from the same starting point; returns both and the seconds."""
    import contextlib

    started = time.perf_counter()
    observations = []
    for side, operator, extra in (
        ("stock", stock_operator, {}),
        ("package", package_operator, scenario.package_kwargs),
    ):
        made = _make_existing(f"{name}_{side}", scenario)
        side_scenario = Scenario(**{**scenario.__dict__, "kwargs": {**scenario.kwargs, **extra}})
        before = {c.run_id for c in _harness.child_runs()}
        with scenario.around() if scenario.around else contextlib.nullcontext():
            observations.append(observe(f"{name}_{side}", operator, side_scenario, package_warning))
        created = {c.run_id for c in _harness.child_runs()} - before
        _harness.delete_child_runs(created | made)
    return observations[0], observations[1], time.perf_counter() - started


def _make_existing(prefix: str, scenario: Scenario) -> set[str]:
    """Create the scenario's pre-existing child runs (a stock fire-and-forget trigger each)."""
    from _subject import StockOperator

    made = set()
    for n, kwargs in enumerate(scenario.existing):
        kwargs = {"trigger_dag_id": _harness.CHILD_DAG_ID, **kwargs}
        result = _harness.run_parent(f"{prefix}_existing_{n}", StockOperator, **kwargs)
        assert result.state == "success", f"could not create the existing run {kwargs}: {result}"
        made.add(kwargs["trigger_run_id"])
    return made

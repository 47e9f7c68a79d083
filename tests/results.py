"""The results schema: every ``results/*.json`` the project writes, one validated shape, one reader.

Test tooling, not part of the package.
Stdlib only, no relative imports: the behavioural suite, the live harnesses and scripts/results_table.py
load it by file path where the package is not installed (the ``provider`` sessions)::

    spec = importlib.util.spec_from_file_location("_results", "tests/results.py")

A document (``SCHEMA``)::

    {"schema": "airflow-trigger-compat-results/1",
     "suite": "behaviour" | "live" | "bench",
     "run": which table it belongs to (RUNS[suite]: "releases", "oldest-provider", "provider", "next",
            "accessor"; "local", "provider-local", "accessor-local", "celery"; "bench"; "accessor...": on
            the Task SDK built with ti.trigger_dag_run(), ``nox -s accessor``),
     "airflow": the release that ran ("3.3.2"),
     "environment": {"python", "package", "provider_standard", "executor", "strategy", ...},
     "exitstatus": int | null, "error": str | null, "duration_s": float | null,
     "written_at": UTC ISO timestamp (set by write()),
     "summary": {...}, "rows": [{...}], "not_run": [{"case", "reason", ...}],
     "timings": {name: seconds}, "details": {...}}

``rows`` are a suite's records (ROW_FIELDS: the fields every row has); ``summary`` holds what a row
cannot: per suite, SUMMARY_FIELDS. ``write()`` validates and writes, ``load()`` refuses any other shape
with the file and the fix, and the renderers turn documents into the tables the docs quote.
"""

from __future__ import annotations

import datetime
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SCHEMA = "airflow-trigger-compat-results/1"
#: suite -> the runs it has (the table a document belongs to).
RUNS: dict[str, tuple[str, ...]] = {
    "behaviour": ("releases", "oldest-provider", "provider", "next", "accessor"),
    "live": ("local", "provider-local", "accessor-local", "celery"),
    "bench": ("bench",),
}
OUTCOMES = ("passed", "not_applicable", "failed", "skipped")
_NONE = type(None)
#: field -> accepted types, for the document, its environment, and a row of each suite.
FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (str,),
    "suite": (str,),
    "run": (str,),
    "airflow": (str,),
    "environment": (dict,),
    "exitstatus": (int, _NONE),
    "error": (str, _NONE),
    "duration_s": (int, float, _NONE),
    "written_at": (str,),
    "summary": (dict,),
    "rows": (list,),
    "not_run": (list,),
    "timings": (dict,),
    "details": (dict,),
}
ENVIRONMENT_FIELDS: dict[str, tuple[type, ...]] = {
    "python": (str,),
    "package": (str, _NONE),
    "provider_standard": (str, _NONE),
    "executor": (str, _NONE),
    "strategy": (str, _NONE),
}
ROW_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "behaviour": {"name": (str,), "outcome": (str,), "duration_s": (int, float)},
    "live": {
        "case": (str,),
        "variant": (str,),
        "kill": (str,),
        "child_runs": (int,),
        "parent_state": (str, _NONE),
        "error": (str, _NONE),
    },
    "bench": {"case": (str,), "stock_us": (int, float), "shim_us": (int, float), "ratio": (int, float)},
}
SUMMARY_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "behaviour": {"outcomes": (dict,), "declared": (list,)},
    "live": {"cases": (int,), "errors": (int,)},
    "bench": {
        "import_ms_median": (int, float),
        "import_ms_min": (int, float),
        "airflow_modules_imported": (list,),
    },
}
#: What a run's summary has beyond its suite's: CeleryExecutor's groups (one per case and operator, the
#: harness's summarize()) and the load case's figures.
RUN_SUMMARY_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {"celery": {"groups": (list,), "load": (dict,)}}
#: The live harness's operator and kill labels, for the tables.
VARIANT = {
    "stock": "stock provider operator",
    "shim_nodur": "shim durable=False",
    "shim_durable": "shim durable=True",
}
KILL = {
    "midwait": "task process, mid-wait",
    "workerkill": "whole worker (supervisor + task), mid-wait",
    "winbefore": "window: run_id kept, before the trigger",
    "winafter": "window: right after the trigger",
    "doublekill": "task process (3.0: whole worker) in try 1, then in try 2",
    "childfail": "none: the child fails on its first run only",
    "clear": "none: the task is cleared after it succeeded",
    "clearwait": "none: the task is cleared while it waits",
    "recreate": "none: the parent run is deleted and triggered again",
    "mapped": "mapped parent, 3 indices: 0 and 1 mid-wait (3.0: whole worker)",
    # CeleryExecutor
    "sigkill": "1. SIGKILL of the worker running the parent",
    "sigterm": "2. SIGTERM of that worker (warm shutdown), SIGKILL after 10 s",
    "schedkill": "3. SIGKILL of the scheduler, restarted after 5 s",
    "load": "4. 10 parents (one mapped x3), a worker SIGKILLed every 10-20 s for 2 min",
}


class ResultsError(ValueError):
    """A results file (or the fields given to write()) that is not a SCHEMA document."""


# -- the schema ----------------------------------------------------------------------------------------


def _check(fields: Mapping[str, Any], spec: Mapping[str, tuple[type, ...]], where: str) -> list[str]:
    problems = []
    for name, types in spec.items():
        if name not in fields:
            problems.append(f"{where} has no {name!r}")
        elif not isinstance(fields[name], types) or (isinstance(fields[name], bool) and bool not in types):
            wanted = " or ".join("null" if t is _NONE else t.__name__ for t in types)
            problems.append(f"{where}[{name!r}] is {fields[name]!r}, not {wanted}")
    return problems


def problems(doc: Any) -> list[str]:
    """Everything that keeps ``doc`` from being a SCHEMA document (empty: it is one)."""
    if not isinstance(doc, dict):
        return [f"the document is a {type(doc).__name__}, not a JSON object"]
    if doc.get("schema") != SCHEMA:
        return [f"schema is {doc.get('schema')!r}, not {SCHEMA!r}"]
    found = _check(doc, FIELDS, "the document")
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        found.append(f"unknown fields {unknown} (put a suite's own data in 'details')")
    if found:
        return found
    suite = doc["suite"]
    if suite not in RUNS:
        return [f"suite is {suite!r}, not one of {sorted(RUNS)}"]
    if doc["run"] not in RUNS[suite]:
        found.append(f"run is {doc['run']!r}, not one of {list(RUNS[suite])} (suite {suite!r})")
    found += _check(doc["environment"], ENVIRONMENT_FIELDS, "environment")
    found += _check(doc["summary"], SUMMARY_FIELDS[suite], "summary")
    found += _check(doc["summary"], RUN_SUMMARY_FIELDS.get(doc["run"], {}), "summary")
    for i, row in enumerate(doc["rows"]):
        if not isinstance(row, dict):
            found.append(f"rows[{i}] is not an object")
            continue
        found += _check(row, ROW_FIELDS[suite], f"rows[{i}]")
        if suite == "behaviour" and row.get("outcome") not in OUTCOMES:
            found.append(f"rows[{i}]['outcome'] is {row.get('outcome')!r}, not one of {list(OUTCOMES)}")
    for i, absent in enumerate(doc["not_run"]):
        found += _check(
            absent if isinstance(absent, dict) else {}, {"case": (str,), "reason": (str,)}, f"not_run[{i}]"
        )
    # Where the summary is derived from the rows, a file where they disagree was edited or half-written.
    derived = {"behaviour": behaviour_summary, "live": live_summary}.get(suite)
    if not found and derived is not None:
        expected = derived(doc["rows"])
        if {k: doc["summary"].get(k) for k in expected} != expected:
            found.append(f"summary does not match the rows ({suite}_summary(rows) is {expected})")
    return found


def behaviour_summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A behavioural run's summary: how many scenarios had each outcome, the declared differences shown."""
    rows = list(rows)
    counts = Counter(r.get("outcome") for r in rows)
    return {
        "outcomes": {o: counts[o] for o in OUTCOMES},
        "declared": sorted({d for r in rows for d in r.get("declared") or []}),
    }


def live_summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """A live run's least summary: the cases (parent runs) and how many recorded an error."""
    rows = list(rows)
    return {"cases": len(rows), "errors": sum(1 for r in rows if r.get("error"))}


def document(**fields: Any) -> dict[str, Any]:
    """A SCHEMA document from ``fields`` (``schema`` and ``written_at`` are filled in), validated.

    Optional fields default to empty: ``exitstatus``, ``error``, ``duration_s`` to null, ``not_run`` and
    ``rows`` to ``[]``, ``timings`` and ``details`` to ``{}``; a behavioural summary is derived from the
    rows when not given.
    """
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "exitstatus": None,
        "error": None,
        "duration_s": None,
        "rows": [],
        "not_run": [],
        "timings": {},
        "details": {},
        **fields,
    }
    rows = doc["rows"]
    if not (isinstance(rows, list) and all(isinstance(r, dict) for r in rows)):
        pass  # problems() names it
    elif doc.get("suite") == "behaviour" and "summary" not in doc:
        doc["summary"] = behaviour_summary(rows)
    elif doc.get("suite") == "live":
        doc["summary"] = {**(doc.get("summary") or {}), **live_summary(doc["rows"])}
    found = problems(doc)
    if found:
        raise ResultsError("cannot write this results document: " + "; ".join(found))
    return doc


def write(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Validate ``fields`` as a document (see :func:`document`), write it to ``path``, return it."""
    doc = document(**fields)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return doc


def load(path: str | Path) -> list[dict[str, Any]]:
    """The documents of ``path``: a results file, or every ``*.json`` in a directory (sorted by suite, run
    and Airflow release). Any other shape is refused, naming the file and how to get a valid one."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    docs = []
    for file in files:
        try:
            doc = json.loads(file.read_text())
        except (OSError, ValueError) as err:
            raise ResultsError(f"{file}: cannot read it as JSON ({err})") from err
        found = problems(doc)
        if found:
            raise ResultsError(
                f"{file} is not a {SCHEMA} document: {'; '.join(found)}. It was written by an older "
                "checkout or by hand: run the session that writes it again (docs/development.md), or "
                "move it out of the results directory"
            )
        docs.append(doc)
    return sorted(
        docs, key=lambda d: (d["suite"], RUNS[d["suite"]].index(d["run"]), release_key(d["airflow"]))
    )


def release_key(release: str) -> tuple[int, ...]:
    """``"3.1.8"`` -> ``(3, 1, 8)``, for sorting (a pre-release's suffix is ignored)."""
    key = []
    for part in release.split("."):
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        key.append(int(digits))
    return tuple(key)


def select(docs: Iterable[dict[str, Any]], run: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["run"] == run]


def installed(distribution: str) -> str | None:
    """The version of ``distribution`` installed beside this interpreter (for ``environment``), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


# -- rendering -----------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def _minor(release: str) -> str:
    return ".".join(release.split(".")[:2])


def grid(rows: list[list[str]], markdown: bool = True) -> list[str]:
    """A header row and rows as Markdown, or as aligned plain text."""
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return lines + ["| " + " | ".join(row) + " |" for row in rows[1:]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*rows[0]), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*row).rstrip() for row in rows[1:]
    ]


def _padded(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table padded to its columns (what a live run prints at its end)."""
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return [line, sep, *body]


# The behavioural matrix --------------------------------------------------------------------------------

_SYMBOL = {"passed": "ok", "failed": "FAIL", "not_applicable": "n/a", "skipped": "SKIP"}
_BAD = {"failed", "skipped"}


def _cell(row: Mapping[str, Any] | None, legend: dict[str, int]) -> str:
    """``ok``, ``n/a``, ``FAIL``; a parity scenario that passed showing a declared difference: ``ok ≠[n]``."""
    if not row:
        return "-"
    symbol = _SYMBOL[row["outcome"]]
    declared = row.get("declared") or []
    if symbol == "ok" and declared:
        symbol += " ≠" + "".join(f"[{legend.setdefault(d, len(legend) + 1)}]" for d in declared)
    return symbol


def _counts(doc: Mapping[str, Any]) -> list[str]:
    """(passed, n/a, failed or skipped), from the summary (load() checked it against the rows)."""
    o = doc["summary"]["outcomes"]
    return [str(o["passed"]), str(o["not_applicable"]), str(o["failed"] + o["skipped"])]


def _fuzz(doc: Mapping[str, Any]) -> str:
    found = [r["fuzz"] for r in doc["rows"] if r.get("fuzz")]
    return f"{found[0]['examples']} in {found[0]['seconds']} s" if found else "-"


def _crash_summary(release: str, live: list[dict[str, Any]]) -> str:
    """The live crash test that runs instead of the behavioural suite, when its results are here."""
    local = [d for d in select(live, "local") if d["airflow"] == release]
    if not local:
        return f"live crash test instead: no results of tests({release}) here"
    s = local[-1]["summary"]
    return f"live crash test instead: {s['cases']} cases, {s['errors']} with an error"


def matrix_summary(
    docs: list[dict[str, Any]], declared: Mapping[str, Mapping[str, str]], live: list[dict[str, Any]]
) -> list[list[str]]:
    """One row per release: its strategy, the outcome counts, the fuzz; the declared gaps beside them."""
    rows = [
        [
            "Airflow",
            "strategy",
            "passed",
            "n/a",
            "failed/skipped",
            "declared differences seen",
            "fuzz (or why not run)",
        ]
    ]
    for d in docs:
        seen = str(len(d["summary"]["declared"]))
        rows.append([d["airflow"], _fmt(d["environment"]["strategy"]), *_counts(d), seen, _fuzz(d)])
    for release, why in declared.get("unavailable", {}).items():
        rows.append([release, "-", "-", "-", "-", "-", f"not installable (declared): {why}"])
    for release, why in declared.get("behaviour_unavailable", {}).items():
        crash = _crash_summary(release, live)
        rows.append([release, "-", "-", "-", "-", "-", f"no behavioural suite (declared): {why}; {crash}"])
    rows[1:] = sorted(rows[1:], key=lambda row: release_key(row[0]))
    return rows


def _columns(
    docs: list[dict[str, Any]], scenarios: list[str], legend: dict[str, int]
) -> list[tuple[str, list[str]]]:
    """Consecutive releases of one minor with identical cells, merged into one column ("3.1.0-3.1.8")."""
    columns: list[tuple[list[str], str, list[str]]] = []  # (releases, strategy, cells)
    for d in docs:
        by_name = {r["name"]: r for r in d["rows"]}
        cells = [_cell(by_name.get(name), legend) for name in scenarios]
        strategy = _fmt(d["environment"]["strategy"])
        last = columns[-1] if columns else None
        if last and last[2] == cells and last[1] == strategy and _minor(last[0][-1]) == _minor(d["airflow"]):
            last[0].append(d["airflow"])
        else:
            columns.append(([d["airflow"]], strategy, cells))
    out = []
    for releases, strategy, cells in columns:
        span = releases[0] if len(releases) == 1 else f"{releases[0]}-{releases[-1]}"
        out.append((f"{span} ({strategy})", cells))
    return out


def provider_axis(docs: list[dict[str, Any]]) -> list[list[str]]:
    """One row per minor run with its oldest providers-standard (the ``oldest_provider`` sessions)."""
    rows = [["Airflow", "providers-standard", "passed", "n/a", "failed/skipped", "declared differences seen"]]
    for d in docs:
        seen = ", ".join(d["summary"]["declared"]) or "-"
        rows.append([d["airflow"], _fmt(d["environment"]["provider_standard"]), *_counts(d), seen])
    return rows


def matrix_table(
    docs: list[dict[str, Any]],
    declared: Mapping[str, Mapping[str, str]] | None = None,
    markdown: bool = False,
) -> tuple[str, int]:
    """The behavioural matrix: a row per release, scenario x release outcomes (identical patch releases
    merged), the provider axis, then every outcome other than passed with its reason. Exit status 1 when
    there is no behavioural result, a scenario failed or was skipped, or a session exited non-zero.
    ``declared``: constraints/releases.toml's ``unavailable`` and ``behaviour_unavailable`` tables."""
    releases, axis = select(docs, "releases"), select(docs, "oldest-provider")
    if not releases:
        return "no behavioural results (run `nox -t matrix`, or `-t matrix-full`, first)", 1
    scenarios = sorted({r["name"] for d in releases for r in d["rows"]})
    legend: dict[str, int] = {}
    columns = _columns(releases, scenarios, legend)
    outcomes = [["scenario", *(title for title, _ in columns)]]
    outcomes += [[name, *(cells[i] for _, cells in columns)] for i, name in enumerate(scenarios)]
    lines = [*grid(matrix_summary(releases, declared or {}, select(docs, "local")), markdown), ""]
    lines += [
        *grid(outcomes, markdown),
        "",
        *(f"≠[{n}]: declared difference `{d}`" for d, n in legend.items()),
    ]
    if axis:
        title = "Provider axis (`nox -t provider-axis`): each minor's last release, oldest providers-standard"
        lines += ["", title, *grid(provider_axis(axis), markdown)]
    notes = [
        f"{label} {r['name']}: {r['outcome']}: {r.get('reason', '')}"
        for d in releases + axis
        for label in [d["airflow"] + (" (providers-standard)" if d["run"] == "oldest-provider" else "")]
        for r in sorted(d["rows"], key=lambda r: r["name"])
        if r["outcome"] != "passed"
    ]
    if notes:
        lines += ["", *notes]
    bad = any(r["outcome"] in _BAD for d in releases + axis for r in d["rows"])
    return "\n".join(lines), int(bad or any(d["exitstatus"] for d in releases + axis))


# The live crash tests ----------------------------------------------------------------------------------


def _wait(row: Mapping[str, Any]) -> Any:
    return (
        row["kill_to_reconnect_s"]
        if row.get("kill_to_reconnect_s") is not None
        else row.get("kill_to_new_child_s")
    )


def crash_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    """LocalExecutor: one row per (operator, kill), repeated cases folded (child runs per parent run each)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in doc["rows"]:
        groups.setdefault((row["variant"], row["kill"]), []).append(row)
    order = list(VARIANT)
    out = []
    for (variant, kill), rows in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        waits = [w for w in map(_wait, rows) if w is not None]
        out.append(
            [
                doc["airflow"],
                VARIANT.get(variant, variant),
                KILL.get(kill, kill),
                " / ".join(
                    # a mapped parent: child runs per map index
                    "+".join(map(str, r["children_per_index"]))
                    if r.get("children_per_index")
                    else str(r["child_runs"])
                    for r in rows
                ),
                ", ".join(sorted({f"{r['parent_state']} (try {r.get('try_number')})" for r in rows})),
                f"{statistics.median(waits):.1f}" if waits else "-",
            ]
        )
    for absent in doc["not_run"]:  # declared in the harness (NOT_RUN): a skip, never a pass
        variant, kill = absent.get("variant", "-"), absent.get("kill", absent["case"])
        out.append(
            [
                doc["airflow"],
                VARIANT.get(variant, variant),
                KILL.get(kill, kill),
                f"not run here: {absent['reason']}",
                "-",
                "-",
            ]
        )
    return out


CRASH_HEAD = [
    "Airflow",
    "operator",
    "SIGKILL of",
    "child runs per parent run",
    "parent final state",
    "kill to reconnect / re-trigger (s, median)",
]


def crash_table(docs: list[dict[str, Any]]) -> tuple[str, int]:
    """The live crash test on LocalExecutor, every version; then the same cases through the vendored
    provider. Exit status 1 when there is none, or a case recorded an error."""
    local, provider = select(docs, "local"), select(docs, "provider-local")
    accessor = select(docs, "accessor-local")
    if not local:
        return "no LocalExecutor crash-test results (run `nox -t e2e` first)", 1
    lines = grid([CRASH_HEAD, *(row for d in local for row in crash_rows(d))])
    if provider:
        lines += ["", "Through the vendored provider (`nox -t provider`):"]
        lines += grid([CRASH_HEAD, *(row for d in provider for row in crash_rows(d))])
    if accessor:
        lines += ["", "On the Task SDK built with ti.trigger_dag_run() (`nox -s accessor`):"]
        lines += grid([CRASH_HEAD, *(row for d in accessor for row in crash_rows(d))])
    return "\n".join(lines), int(any(d["summary"]["errors"] for d in local + provider + accessor))


def _per_ti(counts: list[int], sep: str = " / ") -> str:
    if len(counts) <= 3:
        return sep.join(map(str, counts))
    hist = Counter(counts)
    return ", ".join(f"{n} x{count}" for n, count in sorted(hist.items()))


def celery_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    """CeleryExecutor: one row per (case, operator) from the summary's groups."""
    out = []
    for g in doc["summary"]["groups"]:
        workers = (
            "w1 and w2"
            if g["case"] == "load"
            else f"{','.join(g['worker_try1'])} -> {','.join(g['worker_retry'])}"
        )
        out.append(
            [
                doc["airflow"],
                KILL.get(g["case"], g["case"]),
                VARIANT.get(g["variant"], g["variant"]),
                _per_ti(g["child_runs_per_ti"]),
                f"{'/'.join(g['parent_states'])} (max try {_fmt(g['max_try'])})",
                workers,
                _fmt(g["kill_to_reconnect_median_s"]),
                _fmt(g["kill_to_retrigger_median_s"]),
            ]
        )
    return out


def celery_load_row(doc: Mapping[str, Any]) -> list[str]:
    load = doc["summary"].get("load") or {}

    def both(key: str) -> str:
        values = load.get(key) or {}
        return f"{_fmt(values.get('stock'))} / {_fmt(values.get('shim_durable'))}"

    return [
        doc["airflow"],
        both("throughput_per_min"),
        _fmt(load.get("ratio_durable_over_stock")),
        both("median_parent_duration_s"),
        both("child_runs"),
        both("stuck_in_queued_requeues"),
        f"{len(load.get('kills', []))} (seed {_fmt(load.get('seed'))})",
        _fmt(doc["duration_s"]),
    ]


def celery_table(docs: list[dict[str, Any]]) -> tuple[str, int]:
    """The crash test on CeleryExecutor, every version, then the load case's throughput. Exit status 1
    when there is none, or a run recorded an error."""
    celery = select(docs, "celery")
    if not celery:
        return "no CeleryExecutor crash-test results (run `nox -t celery` first)", 1
    head = [
        "Airflow",
        "case",
        "operator",
        "child runs per parent (per index)",
        "parent final state",
        "try 1 -> retry worker",
        "kill to reconnect (s, median)",
        "kill to new child (s, median)",
    ]
    load_head = [
        "Airflow",
        "parents finished per minute, stock / durable",
        "durable / stock",
        "median parent duration s",
        "child runs (12 task instances each)",
        "stuck-in-queued requeues",
        "worker kills",
        "run s",
    ]
    lines = [*grid([head, *(row for d in celery for row in celery_rows(d))]), ""]
    lines += grid([load_head, *(celery_load_row(d) for d in celery)])
    errors = [f"ERROR {d['airflow']}: {d['error']}" for d in celery if d["error"]]
    return "\n".join(lines + errors), int(bool(errors))


def run_table(doc: Mapping[str, Any]) -> str:
    """The table a live run prints at its end: each case (each group on Celery) of one document."""
    if doc["run"] == "celery":
        head = [
            "case",
            "variant",
            "child runs per parent (per index)",
            "final / max try",
            "try 1 -> retry worker",
            "kill->reconnect median s",
            "kill->new child median s",
        ]
        rows = [
            [
                KILL.get(g["case"], g["case"]),
                VARIANT.get(g["variant"], g["variant"]),
                _per_ti(g["child_runs_per_ti"], " "),
                f"{'/'.join(g['parent_states'])} / {_fmt(g['max_try'])}",
                f"{','.join(g['worker_try1'])} -> {','.join(g['worker_retry'])}",
                _fmt(g["kill_to_reconnect_median_s"]),
                _fmt(g["kill_to_retrigger_median_s"]),
            ]
            for g in doc["summary"]["groups"]
        ]
        out = [f"Airflow {doc['airflow']} on CeleryExecutor", *_padded(head, rows)]
        load = doc["summary"].get("load") or {}
        tp = load.get("throughput_per_min") or {}
        if tp:
            out.append(
                f"case 4 throughput (parents finished per minute): stock {_fmt(tp.get('stock'))}, "
                f"durable {_fmt(tp.get('shim_durable'))}, "
                f"durable/stock {_fmt(load.get('ratio_durable_over_stock'))} "
                f"(seed {load.get('seed')}, {len(load.get('kills', []))} worker kills)"
            )
        return "\n".join(out)
    head = [
        "variant",
        "kill",
        "child runs",
        "parent / try",
        "kill->try2 running s",
        "kill->reconnect / re-trigger s",
        "outcome",
    ]
    rows = [
        [
            VARIANT.get(r["variant"], r["variant"]) + f" #{r['case'].rsplit('__', 1)[-1]}",
            KILL.get(r["kill"], r["kill"]),
            _fmt(r["child_runs"] if r["child_runs"] >= 0 else None),
            f"{_fmt(r['parent_state'])} / {_fmt(r.get('try_number'))}",
            _fmt(r.get("kill_to_try2_running_s")),
            _fmt(_wait(r)),
            r["error"] or r.get("outcome") or "",
        ]
        for r in doc["rows"]
    ]
    for n in doc["not_run"]:
        variant, kill = n.get("variant", "-"), n.get("kill", n["case"])
        rows.append(
            [
                VARIANT.get(variant, variant),
                KILL.get(kill, kill),
                "-",
                "-",
                "-",
                "-",
                f"not run here: {n['reason']}",
            ]
        )
    return "\n".join([f"Airflow {doc['airflow']}", *_padded(head, rows)])


# Benchmarks --------------------------------------------------------------------------------------------


def bench_lines(doc: Mapping[str, Any]) -> list[str]:
    """A benchmark run's figures against their targets (benchmarks/bench_trigger.py)."""
    s = doc["summary"]
    env = doc["environment"]
    lines = [f"Airflow {doc['airflow']} ({_fmt(env['strategy'])}), Python {env['python']}"]
    for r in doc["rows"]:
        lines.append(
            f"  whole trigger, {r['case']:<16} shim {r['shim_us']:>8} us  stock {r['stock_us']:>8} us  "
            f"ratio {r['ratio']:.3f}  (target <= 1.05)"
        )
    if s.get("cached_lookup_ns") is not None:
        lines.append(f"  cached strategy lookup       {s['cached_lookup_ns']} ns  (target < 1000 ns)")
    lines.append(
        f"  import airflow_trigger_compat {s['import_ms_median']} ms median, {s['import_ms_min']} ms min "
        f"(target < 10 ms); airflow modules imported: {s['airflow_modules_imported'] or 'none'}"
    )
    return lines


def bench_table(docs: list[dict[str, Any]]) -> tuple[str, int]:
    bench = select(docs, "bench")
    if not bench:
        return "no benchmark results (run `nox -t bench` first)", 1
    return "\n".join(line for d in bench for line in bench_lines(d)), 0


#: ``scripts/results_table.py --only <name>``: the renderers over a results directory, and the runs each
#: shows (a directory without any of them has no such table).
TABLES = {"matrix": matrix_table, "crash": crash_table, "celery": celery_table, "bench": bench_table}
TABLE_RUNS = {
    "matrix": ("releases", "oldest-provider"),
    "crash": ("local", "provider-local", "accessor-local"),
    "celery": ("celery",),
    "bench": ("bench",),
}

"""Draw docs/policy-timeline.svg: each minor's first release, the day Airflow's rule allows dropping it,
the provider's current minimum and the as-of day, from src/airflow_trigger_compat/_policy.json.

    python scripts/policy_chart.py [--as-of YYYY-MM-DD]    # nox -s policy runs it

matplotlib is a maintainer tool here, never a dependency of the package.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from airflow_trigger_compat._policy import _release, add_months, allowed_from, load_data

OUT = Path(__file__).resolve().parent.parent / "docs" / "policy-timeline.svg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date.today())
    as_of = parser.parse_args().as_of
    data = load_data()
    first = {m: dt.date.fromisoformat(d) for m, d in data["first_release"].items()}
    minors = sorted(first, key=_release)
    floor = _release(data["provider"]["requires_airflow"])
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(minors) + 1.6))
    for y, minor in enumerate(minors):
        # Dropping a minor means requiring the next one: allowed once every minor below it had 12 months.
        later = [m for m in minors if _release(m) > _release(minor)]
        rule = allowed_from(_release(later[0]), floor, first) if later else None
        own = add_months(first[minor], 12)
        current = _release(minor) == floor
        ax.plot([first[minor], own], [y, y], color="tab:blue", linewidth=6, alpha=0.35, solid_capstyle="butt")
        ax.plot(first[minor], y, "o", color="tab:blue")
        ax.annotate(
            f"{minor}.0  {first[minor]}",
            (first[minor], y),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=9,
        )
        if rule and _release(minor) >= floor:
            ax.plot(rule[0], y, "D", color="tab:red" if rule[0] <= as_of else "tab:orange")
            ax.annotate(
                f"may be dropped from {rule[0]}",
                (rule[0], y),
                xytext=(8, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
            )
        if current:
            ax.annotate(
                "provider's minimum now",
                (first[minor], y),
                xytext=(0, 10),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color="tab:green",
            )
    ax.axvline(as_of, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"as of {as_of}", (as_of, len(minors) - 0.4), ha="center", fontsize=9)
    ax.set_yticks(range(len(minors)), [f"Airflow {m}" for m in minors])
    ax.set_ylim(-0.7, len(minors))
    ax.set_xlim(min(first.values()) - dt.timedelta(days=200), max(first.values()) + dt.timedelta(days=520))
    ax.invert_yaxis()
    ax.set_title(
        f"{data['provider']['distribution']} {data['provider']['version']} (requires "
        f"apache-airflow{data['provider']['requires_airflow']}): 12 months from each minor's first release",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    plt.rcParams["svg.hashsalt"] = "policy"  # stable ids: the SVG changes only when the picture does
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""Refresh ``[first_release]`` in constraints/releases.toml from the package index's JSON API.

A minor's first release is the earliest upload of any file of its final releases (``X.Y.0`` in
practice), as a UTC date. The minors are those of the ``releases`` list. Rerunnable; it rewrites only
the ``[first_release]`` table and prints what changed.

    python scripts/update_release_dates.py
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import tomllib

RELEASES_TOML = Path(__file__).resolve().parent.parent / "constraints" / "releases.toml"
INDEX = "https://pypi.org/pypi/apache-airflow/json"


def first_releases(index: dict[str, object], minors: list[str]) -> dict[str, str]:
    """Minor -> the UTC date of its earliest uploaded file, from the index's ``releases`` mapping."""
    found: dict[str, str] = {}
    releases = index["releases"]
    assert isinstance(releases, dict)
    for version, files in releases.items():
        match = re.fullmatch(r"(\d+\.\d+)\.\d+", version)  # final releases only
        if not match or match[1] not in minors or not files:
            continue
        uploaded = min(f["upload_time_iso_8601"][:10] for f in files)
        found[match[1]] = min(found.get(match[1], uploaded), uploaded)
    return {minor: found[minor] for minor in minors if minor in found}


def main() -> None:
    text = RELEASES_TOML.read_text()
    data = tomllib.loads(text)
    minors = list(dict.fromkeys(".".join(r.split(".")[:2]) for r in data["releases"]))
    with urllib.request.urlopen(INDEX, timeout=60) as response:
        dates = first_releases(json.load(response), minors)
    missing = sorted(set(minors) - set(dates))
    if missing:
        raise SystemExit(f"no release on the index for {missing}")
    table = "[first_release]\n" + "".join(f'"{m}" = "{d}"\n' for m, d in dates.items())
    new, count = re.subn(r"\[first_release\]\n(?:\"[^\n]*\n)*", table, text)
    if count != 1:
        raise SystemExit(f"expected one [first_release] table in {RELEASES_TOML}")
    old = data.get("first_release", {})
    for minor, date in dates.items():
        print(f"{minor}: {date}" + ("" if old.get(minor) == date else f" (was {old.get(minor)})"))
    RELEASES_TOML.write_text(new)


if __name__ == "__main__":
    main()

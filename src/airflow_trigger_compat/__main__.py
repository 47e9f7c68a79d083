"""``python -m airflow_trigger_compat``: see :mod:`._cli` for the commands."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Who ships this copy of the runtime: named in messages that tell a user what to upgrade."""

# ``python -m airflow_trigger_compat vendor`` writes this file anew in a vendored copy (the one file it
# generates); every other file is copied with its relative imports made absolute.
from __future__ import annotations

SHIPPED_BY = "airflow-trigger-compat"

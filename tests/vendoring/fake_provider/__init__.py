"""A provider-shaped package that ships airflow-trigger-compat vendored under ``_vendor`` (built by
``tests/vendoring/build.py``; ``_vendor`` is generated, never committed)."""

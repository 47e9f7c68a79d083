"""The runtime under test, and every name the behavioural suite takes from it.

By default that is the installed ``airflow_trigger_compat``'s runtime and its drop-in operator. The
``provider`` nox sessions point both elsewhere, so the same suite drives a copy vendored into a provider:

* ``AIRFLOW_TRIGGER_COMPAT_PACKAGE``: the runtime to import, e.g.
  ``airflow.providers.standard._vendor.airflow_trigger_compat``.
* ``AIRFLOW_TRIGGER_COMPAT_OPERATOR``: ``"module:Class"`` of the operator to run (the provider's own).

Nothing else in the suite imports ``airflow_trigger_compat``: a test that did would test the installed
package, or fail to import, instead of the copy. Anything that patches the runtime patches ``compat``'s
own submodules (``durable_port()``), the ones the operator under test calls. The declared differences and the
provider facts are documentation data, not runtime: they come from ``airflow_trigger_compat._differences``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "STOCK_LACKS",
    "STOCK_STALE_FIXES",
    "DurableUnavailableWarning",
    "Feature",
    "FeatureNotSupported",
    "FlagIgnoredWarning",
    "RetryUnavailableWarning",
    "StockOperator",
    "TriggerCompatWarning",
    "TriggerDagRunOperator",
    "compat",
    "differences",
    "durable_port",
    "reset",
    "select_row",
]

compat = importlib.import_module(
    os.environ.get("AIRFLOW_TRIGGER_COMPAT_PACKAGE", "airflow_trigger_compat._runtime")
)


def _operator(spec: str | None) -> Any:
    if not spec:
        return importlib.import_module("airflow_trigger_compat").TriggerDagRunOperator
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise ValueError(f"AIRFLOW_TRIGGER_COMPAT_OPERATOR={spec!r} must be 'module:Class'")
    return getattr(importlib.import_module(module_name), class_name)


TriggerDagRunOperator = _operator(os.environ.get("AIRFLOW_TRIGGER_COMPAT_OPERATOR"))

DurableUnavailableWarning = compat.DurableUnavailableWarning
Feature = importlib.import_module(f"{compat.__name__}._registry").Feature
FeatureNotSupported = compat.FeatureNotSupported
RetryUnavailableWarning = compat.RetryUnavailableWarning
TriggerCompatWarning = compat.TriggerCompatWarning
reset = compat.reset
select_row = compat.select_row


def durable_port(selection: Any) -> Any:
    """The port durable=True reads Airflow through on this row: the ``Port`` of stock's path module
    (``TaskPort``, the Task SDK's public API, on 3.x; ``OrmPort`` on 2.11), with its ``run_state``,
    ``dagrun_state`` and (2.11) ``trigger``."""
    return importlib.import_module(f"{compat.__name__}._strategies.{selection.entry.path}").Port


def _stock_operator(spec: str | None) -> Any:
    if spec:
        return _operator(spec)
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator as stock

    return stock


#: The oracle: the standard provider's operator as installed (``AIRFLOW_TRIGGER_COMPAT_STOCK_OPERATOR``
#: names another ``module:Class``, e.g. an unpatched copy where the installed provider is the patched one).
StockOperator = _stock_operator(os.environ.get("AIRFLOW_TRIGGER_COMPAT_STOCK_OPERATOR"))
FlagIgnoredWarning = compat.FlagIgnoredWarning


def _differences() -> Any:
    try:
        return importlib.import_module("airflow_trigger_compat._differences")
    except ModuleNotFoundError:  # a provider session: only the vendored copy is installed; read the data here
        sys.path.append(str(Path(__file__).resolve().parents[2] / "src"))
        return importlib.import_module("airflow_trigger_compat._differences")


#: The declared differences from the stock operator (``_differences.DIFFERENCES``), and the provider facts.
differences = _differences()


def _stock_lacks() -> frozenset[str]:
    import inspect

    return frozenset(differences.PROVIDER_PARAMETERS) - frozenset(
        inspect.signature(StockOperator.__init__).parameters
    )


#: The current standard operator's parameters that the installed (older) provider's operator lacks.
STOCK_LACKS = _stock_lacks()


def _stock_stale_fixes() -> frozenset[str]:
    from airflow.providers.standard import __version__ as provider
    from packaging.version import Version

    fixes = differences.PROVIDER_FIXES
    return frozenset(n for n, f in fixes.items() if Version(provider) < Version(f.since))


#: The fixes of the current standard operator the installed (older) provider lacks (PROVIDER_FIXES).
STOCK_STALE_FIXES = _stock_stale_fixes()

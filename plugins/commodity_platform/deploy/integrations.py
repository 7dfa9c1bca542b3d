"""Phases 5 and 8 hand over to the packages that own that logic.

The connectors phase calls the ``kafka_connect_register`` reconcile logic and the use-cases phase calls the
``doris_schema_migrate`` migrations. Those packages are written for their own issues; the contract assumed
here is deliberately small so wiring them in is a one-line change in each function below:

* ``commodity_platform.kafka_connect.reconcile.reconcile_all(*, dry_run: bool) -> Mapping | object``
* ``commodity_platform.doris.migrations.run_migrations(*, dry_run: bool) -> Mapping | object``

Both are expected to read their own Airflow connections (Kafka Connect REST, Doris FE), be idempotent, and
raise ``PermanentError``/``TemporaryError`` from ``commodity_platform.errors``. Whatever they return is
summarised into a small JSON-safe dict (no secrets) for XCom.

The imports are inside the functions so the DAG file parses without those packages or their clients.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from commodity_platform.errors import ConfigError

log = logging.getLogger(__name__)


def _scalar_items(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items:
        if any(word in str(key).lower() for word in ("password", "secret", "token")):
            continue
        if isinstance(value, (bool, int, float)) or value is None:
            out[str(key)] = value
        elif isinstance(value, str):
            out[str(key)] = value[:200]
        elif isinstance(value, Mapping):
            out[str(key)] = {
                str(k): v for k, v in value.items() if isinstance(v, (bool, int, float, str)) and len(str(v)) <= 200
            } or len(value)
        elif isinstance(value, (list, tuple, set)):
            out[str(key)] = len(value)
    return out


def _summarise(result: Any) -> dict[str, Any]:
    """Keep only small scalar facts of whatever the other package returned (XCom-safe, no secrets)."""
    if result is None:
        return {}
    if hasattr(result, "as_dict"):  # e.g. kafka_connect.reconcile.ReconcileReport
        result = result.as_dict()
    if isinstance(result, Mapping):
        return _scalar_items(result.items())
    if hasattr(result, "__dict__"):
        return _scalar_items(vars(result).items())
    return {"result": str(result)[:200]}


def _missing(what: str, exc: ImportError) -> ConfigError:
    return ConfigError(f"{what} is not available ({exc}); install/merge the package that provides it")


def run_connectors_phase(*, dry_run: bool) -> dict[str, Any]:
    """Phase 5: register/update the Kafka Connect connectors."""
    try:
        from commodity_platform.kafka_connect.reconcile import reconcile_all
    except ImportError as exc:
        raise _missing("commodity_platform.kafka_connect.reconcile.reconcile_all", exc) from exc
    return _call("connectors", reconcile_all, dry_run=dry_run)


def run_use_cases_phase(*, dry_run: bool) -> dict[str, Any]:
    """Phase 8: Doris schema, routine loads and views used by the use-case queries."""
    try:
        from commodity_platform.doris.tasks import run_migrations
    except ImportError as exc:
        raise _missing("commodity_platform.doris.tasks.run_migrations", exc) from exc
    return _call("use-cases", run_migrations, dry_run=dry_run)


def _call(label: str, func: Callable[..., Any], *, dry_run: bool) -> dict[str, Any]:
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', type(func).__name__)}"
    log.info("%s: calling %s(dry_run=%s)", label, name, dry_run)
    summary = _summarise(func(dry_run=dry_run))
    log.info("%s: %s", label, summary)
    return summary


ACTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "connectors": run_connectors_phase,
    "use-cases": run_use_cases_phase,
}

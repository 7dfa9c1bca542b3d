"""Phases 5 and 8 hand over to the packages that own that logic.

* connectors (phase 5): :func:`commodity_platform.kafka_connect.reconcile.reconcile_all`, the reconcile of the
  ``kafka_connect_register`` DAG, with the run's ``connectors_retry_budget_seconds`` as its retry budget;
* use-cases (phase 8): :func:`commodity_platform.doris.tasks.run_migrations`, the plan/apply/reconcile of the
  ``doris_schema_migrate`` DAG.

Both read their own Airflow connections (Kafka Connect REST, Doris FE), are idempotent, and raise
``PermanentError``/``TemporaryError`` from ``commodity_platform.errors``. What they return is summarised into
a small JSON-safe dict (no secrets) for XCom.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.doris.tasks import run_migrations
from commodity_platform.kafka_connect.reconcile import reconcile_all

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


def run_connectors_phase(options: PhaseOptions) -> dict[str, Any]:
    """Phase 5: register/update the Kafka Connect connectors within the run's retry budget."""
    return _call("connectors", reconcile_all, dry_run=options.dry_run,
                 retry_budget_seconds=options.connectors_retry_budget_seconds)


def run_use_cases_phase(options: PhaseOptions) -> dict[str, Any]:
    """Phase 8: Doris schema, routine loads and views used by the use-case queries."""
    return _call("use-cases", run_migrations, dry_run=options.dry_run)


def _call(label: str, func: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', type(func).__name__)}"
    log.info("%s: calling %s(%s)", label, name, ", ".join(f"{k}={v}" for k, v in kwargs.items()))
    summary = _summarise(func(**kwargs))
    log.info("%s: %s", label, summary)
    return summary


ACTIONS: dict[str, Callable[[PhaseOptions], dict[str, Any]]] = {
    "connectors": run_connectors_phase,
    "use-cases": run_use_cases_phase,
}

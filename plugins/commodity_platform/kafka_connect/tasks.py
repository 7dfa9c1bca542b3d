"""Task bodies of the ``kafka_connect_register`` DAG (and reusable by other DAGs).

The DAG file only wires these together. Each function translates the package's error classes into
Airflow's vocabulary: a :class:`PermanentError` (bad spec, 4xx, a task that keeps failing) becomes
``AirflowFailException`` so no retry is wasted on it; a :class:`TemporaryError` (rebalance that outlived
the hook's retries, 5xx, slow workers) propagates so the task's retries with exponential backoff apply.

Return values go to XCom, so they carry connector names, states and changed *key names* only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from commodity_platform.errors import PermanentError
from commodity_platform.kafka_connect.hook import (
    DEFAULT_RETRY_BUDGET_SECONDS,
    KafkaConnectHook,
    RetryBudget,
    RetryBudgetExhausted,
)
from commodity_platform.kafka_connect.reconcile import ConnectorReconciler, reconcile_all
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR, load_specs
from commodity_platform.validation import cap_list

log = logging.getLogger(__name__)


@contextmanager
def fail_fast_on_permanent() -> Iterator[None]:
    """Turn permanent errors into ``AirflowFailException`` (no retries); let the rest propagate."""
    try:
        yield
    except PermanentError as exc:
        raise AirflowFailException(str(exc)) from exc


def plan_connectors(
    *, connectors: Sequence[str] | None = None, specs_dir: Path = CONNECTORS_DIR
) -> list[str]:
    """Validate *all* spec files and return the names to reconcile (``connectors`` subset or all).

    Runs before anything touches the cluster, so a broken spec fails the run with no partial changes.
    """
    with fail_fast_on_permanent():
        load_specs(specs_dir)  # strict validation of every file, even for a subset run
        selected = load_specs(specs_dir, only=list(connectors) if connectors else None)
    names = [s.name for s in selected]
    log.info("Connectors to reconcile (%d): %s", len(names), cap_list(names))
    return names


def reconcile_connector_task(
    name: str,
    *,
    dry_run: bool,
    conn_id: str = KafkaConnectHook.default_conn_name,
    specs_dir: Path = CONNECTORS_DIR,
    wait_timeout: float = 180.0,
    poll_interval: float = 2.0,
    max_restarts: int = 3,
    retry_deadline: float | None = None,
) -> dict[str, Any]:
    """Reconcile one connector (one mapped task instance) from its own fresh GETs.

    ``retry_deadline`` (epoch seconds) is the run's shared retry budget: every mapped task and every Airflow
    retry of it stops retrying at the same instant, and fails without further retries naming the connector.
    """
    budget = RetryBudget(retry_deadline) if retry_deadline is not None else None
    with fail_fast_on_permanent(), KafkaConnectHook(kafka_connect_conn_id=conn_id, budget=budget) as hook:
        (spec,) = load_specs(specs_dir, only=[name])
        reconciler = ConnectorReconciler(
            hook,
            dry_run=dry_run,
            wait_timeout=wait_timeout,
            poll_interval=poll_interval,
            max_restarts=max_restarts,
        )
        try:
            result = reconciler.reconcile_one(spec)
        except RetryBudgetExhausted as exc:
            raise RetryBudgetExhausted(f"connector {name} not reconciled: {exc}") from exc
        log.info("%s: requests sent %s", name, hook.request_counts)
        return result.as_dict()


def prune_task(
    *,
    prune: bool,
    dry_run: bool,
    conn_id: str = KafkaConnectHook.default_conn_name,
    specs_dir: Path = CONNECTORS_DIR,
) -> list[str]:
    """Delete managed connectors without a spec (``prune``); list them only when ``dry_run``."""
    if not prune:
        log.info("prune=false: not looking for orphaned connectors")
        return []
    with fail_fast_on_permanent(), KafkaConnectHook(kafka_connect_conn_id=conn_id) as hook:
        all_specs = load_specs(specs_dir)  # the complete set: a subset run must never prune the rest
        orphans = ConnectorReconciler(hook, dry_run=dry_run).prune(all_specs)
    log.info("%s %d orphaned connector(s): %s", "Would prune" if dry_run else "Pruned", len(orphans), cap_list(orphans))
    return orphans


def reconcile_all_task(
    *,
    dry_run: bool = False,
    prune: bool = False,
    connectors: Sequence[str] | None = None,
    conn_id: str = KafkaConnectHook.default_conn_name,
    specs_dir: Path = CONNECTORS_DIR,
    retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS,
) -> dict[str, Any]:
    """One-task variant for other DAGs (the deploy DAG's connectors phase): snapshot, reconcile, prune."""
    with fail_fast_on_permanent(), KafkaConnectHook(kafka_connect_conn_id=conn_id) as hook:
        report = reconcile_all(hook, specs_dir=specs_dir, only=connectors, dry_run=dry_run, prune=prune,
                               retry_budget_seconds=retry_budget_seconds)
        log.info("requests sent %s", hook.request_counts)
        return report.as_dict()

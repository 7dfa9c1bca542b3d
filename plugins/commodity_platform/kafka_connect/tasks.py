"""Task bodies of the ``kafka_connect_register`` DAG; the DAG file only wires these together.

Each reads the run's Params from the one table (:data:`~.params.REGISTER_PARAMS`) and translates the
package's errors at the one boundary (:func:`~commodity_platform.task_errors.permanent_errors_fail_fast`): a
:class:`PermanentError` (bad spec, 4xx, a task that keeps failing, the retry budget spent) fails the task with
no retry; a :class:`TemporaryError` propagates so the task's retries with exponential backoff apply.

Bounded time per run (issue 14 #10): the ``retry_budget_seconds`` Param is a wall-clock deadline counted from
the run's start and shared by every mapped reconcile task. Inside a budgeted task the hook's retries are
bounded by that deadline alone (not by an attempt count), so a Connect cluster answering 5xx is retried until
the deadline and then the task fails without an Airflow retry whose delay (30 s, doubling) would stretch the
run past the budget. The ``summarize`` task then fails naming every connector not reconciled.

Return values go to XCom, so they carry connector names, states and changed *key names* only.
(The deploy DAG's connectors phase calls :func:`~.reconcile.reconcile_all` directly, through
``deploy/integrations.py``; there is no one-task wrapper here.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from commodity_platform.connections import KAFKA_CONNECT_CONN_ID
from commodity_platform.errors import PermanentError
from commodity_platform.kafka_connect.hook import KafkaConnectHook, RetryBudget, RetryBudgetExhausted
from commodity_platform.kafka_connect.params import REGISTER_PARAMS
from commodity_platform.kafka_connect.reconcile import ConnectorReconciler
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR, load_specs
from commodity_platform.params import resolve_params
from commodity_platform.task_errors import permanent_errors_fail_fast
from commodity_platform.validation import cap_list

log = logging.getLogger(__name__)

#: Task ids the summary reads results from (the DAG file uses the same names for its tasks).
PLAN_TASK_ID = "plan"
RECONCILE_TASK_ID = "reconcile"


def plan_connectors(*, connectors: Sequence[str] | None = None, specs_dir: Path = CONNECTORS_DIR) -> list[str]:
    """Validate *all* spec files and return the names to reconcile (``connectors`` subset or all).

    Runs before anything touches the cluster, so a broken spec fails the run with no partial changes.
    """
    with permanent_errors_fail_fast():
        # load_specs validates every file even for a subset; an unknown name in ``only`` is an error.
        selected = load_specs(specs_dir, only=list(connectors) if connectors else None)
    names = [s.name for s in selected]
    log.info("Connectors to reconcile (%d): %s", len(names), cap_list(names))
    return names


def plan_task(params: Mapping[str, Any] | None) -> list[str]:
    """The ``plan`` task: the connectors this run reconciles (the ``connectors`` Param, empty = all)."""
    with permanent_errors_fail_fast():
        run = resolve_params(REGISTER_PARAMS, params)
    return plan_connectors(connectors=run["connectors"] or None)


def reconcile_connector_task(
    name: str,
    *,
    dry_run: bool,
    conn_id: str = KAFKA_CONNECT_CONN_ID,
    specs_dir: Path = CONNECTORS_DIR,
    wait_timeout: float = 180.0,
    poll_interval: float = 2.0,
    max_restarts: int = 3,
    retry_deadline: float | None = None,
) -> dict[str, Any]:
    """Reconcile one connector (one mapped task instance) from its own fresh GETs.

    ``retry_deadline`` (epoch seconds) is the run's shared retry budget: every mapped task retries transient
    Connect errors until that instant and no longer (the deadline, not an attempt count, bounds the retries),
    then fails without further retries naming the connector.
    """
    budget = RetryBudget(retry_deadline) if retry_deadline is not None else None
    retries = None if budget is not None else 5
    with (
        permanent_errors_fail_fast(),
        KafkaConnectHook(kafka_connect_conn_id=conn_id, budget=budget, retries=retries) as hook,
    ):
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
        finally:
            log.info("%s: requests sent %s", name, hook.request_counts)
        return result.as_dict()


def reconcile_task(name: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The mapped ``reconcile`` task for connector ``name``; its retry deadline is the run's start plus
    ``retry_budget_seconds``, so every mapped task and every retry of it shares one budget."""
    with permanent_errors_fail_fast():
        run = resolve_params(REGISTER_PARAMS, context["params"])
    run_started: datetime = context["dag_run"].start_date
    return reconcile_connector_task(
        name, dry_run=run["dry_run"], retry_deadline=run_started.timestamp() + run["retry_budget_seconds"]
    )


def summarize_results(planned: Sequence[str] | None, results: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """The run's outcome from the planned names and the mapped tasks' results (each names its connector; a
    task that failed or never ran has none). Raises :class:`PermanentError` naming every connector not
    reconciled, so one task's message lists them all."""
    if planned is None:
        raise PermanentError("plan failed: no connector was reconciled (the plan task's log names the cause)")
    by_name = {r["name"]: r for r in results if r}
    not_reconciled = [name for name in planned if name not in by_name]
    if not_reconciled:
        raise PermanentError(
            f"{len(not_reconciled)} of {len(planned)} connector(s) not reconciled: {cap_list(not_reconciled)} "
            "(each connector's reconcile task log names the cause)"
        )
    changed = [name for name in planned if by_name[name]["outcome"] != "unchanged"]
    log.info("All %d connector(s) reconciled; %d changed: %s", len(planned), len(changed), cap_list(changed))
    return {"reconciled": list(planned), "changed": changed}


def summarize_task(context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``summarize`` task (trigger rule ``all_done``): reads the plan and every mapped result from XCom
    and fails, without retry, listing every connector not reconciled."""
    ti = context["ti"]
    planned = ti.xcom_pull(task_ids=PLAN_TASK_ID)
    # Without map_indexes: every result that exists, in one request (a failed index has none). One result
    # comes back bare, none as None.
    results = ti.xcom_pull(task_ids=RECONCILE_TASK_ID) if planned else []
    if results is None or isinstance(results, Mapping):
        results = [results]
    with permanent_errors_fail_fast():
        return summarize_results(planned, results)


def prune_task(params: Mapping[str, Any] | None, *, conn_id: str = KAFKA_CONNECT_CONN_ID,
               specs_dir: Path = CONNECTORS_DIR) -> list[str]:
    """Delete managed connectors without a spec (``prune``); list them only when ``dry_run``."""
    with permanent_errors_fail_fast():
        run = resolve_params(REGISTER_PARAMS, params)
        if not run["prune"]:
            log.info("prune=false: not looking for orphaned connectors")
            return []
        with KafkaConnectHook(kafka_connect_conn_id=conn_id) as hook:
            all_specs = load_specs(specs_dir)  # the complete set: a subset run must never prune the rest
            orphans = ConnectorReconciler(hook, dry_run=run["dry_run"]).prune(all_specs)
    verb = "Would prune" if run["dry_run"] else "Pruned"
    log.info("%s %d orphaned connector(s): %s", verb, len(orphans), cap_list(orphans))
    return orphans

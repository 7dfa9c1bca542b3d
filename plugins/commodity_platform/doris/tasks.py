"""Task bodies of the ``doris_schema_migrate`` DAG, and the one-call variant the deploy DAG's use-cases phase runs.

Both go through the same steps: :func:`build_migrator` (settings from the DAG's Param table), plan, apply,
reconcile the Routine Loads. Each DAG task translates a :class:`PermanentError` into ``AirflowFailException``
(no retry); temporary errors propagate so the task's retries with exponential backoff apply. Return values go
to XCom: script names, counts and states only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from commodity_platform.assets import DORIS_SCHEMA
from commodity_platform.connections import DORIS_CONN_ID
from commodity_platform.doris.migration_files import SchemaSettings
from commodity_platform.doris.migrations import MigrationPlan, SchemaMigrator
from commodity_platform.doris.params import SCHEMA_MIGRATE_PARAMS
from commodity_platform.doris.routine_load import RoutineLoadReconciler
from commodity_platform.params import resolve_params
from commodity_platform.task_errors import permanent_errors_fail_fast

log = logging.getLogger(__name__)

DAG_ID = "doris_schema_migrate"


def build_migrator(
    params: Mapping[str, Any] | None = None, *, conn_id: str = DORIS_CONN_ID, installed_by: str = DAG_ID
) -> SchemaMigrator:
    """A migrator for ``conn_id`` with the placeholder settings of a run's Params (defaults: the Param table).

    The platform database is the connection's schema; the migrator connects to ``information_schema`` so it
    can create that database on a new server.
    """
    from commodity_platform.doris.hook import DorisHook

    values = resolve_params(SCHEMA_MIGRATE_PARAMS, params)
    settings = SchemaSettings.from_params(values, database=DorisHook(doris_conn_id=conn_id).platform_database)
    hook = DorisHook(doris_conn_id=conn_id, schema="information_schema")
    return SchemaMigrator(hook, settings=settings, installed_by=installed_by)


def _planned(migrator: SchemaMigrator, target_version: int | None) -> MigrationPlan:
    plan = migrator.plan(target_version=target_version)
    for line in plan.describe():
        log.info("plan: %s", line)
    return plan


def _reconcile_routine_loads(migrator: SchemaMigrator, target_version: int | None) -> dict[str, Any]:
    """Reconcile the R__ definitions against a fresh plan (the history just written by the apply step)."""
    plan = migrator.plan(target_version=target_version)
    if not migrator.is_doris:
        log.info(
            "routine loads skipped: the server is not Doris; %d definitions not applied: %s",
            len(plan.routine_loads), [m.file.script for m in plan.routine_loads],
        )
        return {"skipped": "server is not Doris", "definitions": len(plan.routine_loads)}
    return RoutineLoadReconciler(migrator).reconcile(plan.routine_loads, plan.applied).as_dict()


def plan_task(params: Mapping[str, Any] | None, *, conn_id: str = DORIS_CONN_ID) -> dict[str, Any] | bool:
    """Validate every file and log the plan; False on a dry run (a short-circuit: nothing downstream runs)."""
    with permanent_errors_fail_fast():
        values = resolve_params(SCHEMA_MIGRATE_PARAMS, params)
        plan = _planned(build_migrator(values, conn_id=conn_id), values["target_version"])
    return False if values["dry_run"] else plan.as_dict()


def apply_task(
    params: Mapping[str, Any] | None, *, run_id: str | None, outlet_events: Any = None, conn_id: str = DORIS_CONN_ID
) -> dict[str, Any]:
    """Create the database and history table if missing, apply the pending versions; emits ``doris_schema``."""
    with permanent_errors_fail_fast():
        values = resolve_params(SCHEMA_MIGRATE_PARAMS, params)
        migrator = build_migrator(values, conn_id=conn_id, installed_by=f"{DAG_ID}/{run_id}")
        report = migrator.migrate(migrator.plan(target_version=values["target_version"]))
    if outlet_events is not None:
        outlet_events[DORIS_SCHEMA].extra = {"applied": report.applied, "database": migrator.settings.database}
    return report.as_dict()


def reconcile_task(
    params: Mapping[str, Any] | None, *, run_id: str | None, conn_id: str = DORIS_CONN_ID
) -> dict[str, Any]:
    """Bring every Routine Load to its definition and RUNNING (skipped, with a log line, when not Doris)."""
    with permanent_errors_fail_fast():
        values = resolve_params(SCHEMA_MIGRATE_PARAMS, params)
        migrator = build_migrator(values, conn_id=conn_id, installed_by=f"{DAG_ID}/{run_id}")
        return _reconcile_routine_loads(migrator, values["target_version"])


def run_migrations(
    *,
    dry_run: bool = False,
    params: Mapping[str, Any] | None = None,
    target_version: int | None = None,
    conn_id: str = DORIS_CONN_ID,
    installed_by: str = DAG_ID,
) -> dict[str, Any]:
    """Plan, apply and reconcile in one call: the deploy DAG's use-cases phase, the sandbox and the tests.

    Raises the package's errors as they are (the calling task translates them).
    """
    migrator = build_migrator(params, conn_id=conn_id, installed_by=installed_by)
    plan = _planned(migrator, target_version)
    if dry_run:
        return {"dry_run": True, "plan": plan.as_dict()}
    return {
        "dry_run": False,
        "migrations": migrator.migrate(plan).as_dict(),
        "routine_loads": _reconcile_routine_loads(migrator, target_version),
    }

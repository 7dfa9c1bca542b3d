"""
### Doris schema migrations

Applies the versioned migrations under `include/sql/migrations/` to the warehouse of the
`doris_default` connection (database from the connection's *schema*, `commodity_realtime`), records each
one in `schema_history`, and reconciles the Routine Load jobs that feed it from Kafka.

* **plan_migrations** parses and lints every file (Doris rules: key column order, merge-on-write,
  dynamic partitions, replication), refuses edited files (checksum), and logs the plan. With
  `dry_run` it stops here.
* **apply_migrations** creates the database and the history table if missing, then applies pending
  versions in order, waiting for Doris's asynchronous schema changes and materialized-view builds.
  A second run executes no DDL. Emits the `doris_schema` asset.
* **reconcile_routine_loads** creates missing jobs, pauses/alters/resumes changed ones, resumes paused
  ones and fails unless every job is RUNNING.

Against a server that is not Doris (the local sandbox's MariaDB) the same files run with Doris-only
clauses dropped or translated and every such change logged; Routine Loads and materialized views are
skipped with a log line.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from commodity_platform.assets import DORIS_SCHEMA
from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.validation import KAFKA_BROKER_LIST_PATTERN, strict_param_pattern

CONN_ID = "doris_default"


@dag(
    dag_id="doris_schema_migrate",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["doris", "schema", "commodity-platform"],
    params={
        "dry_run": Param(
            False, type="boolean", title="Dry run",
            description="Only validate the files and log the plan; change nothing.",
        ),
        "target_version": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Target version",
            description="Apply versions up to and including this one, e.g. 3 for V003 (empty: all pending).",
        ),
        "replication_num": Param(
            3, type="integer", minimum=1, maximum=7, title="Replication number",
            description="Doris replicas per tablet for new tables and partitions (${replication_num}).",
        ),
        "raw_retention_days": Param(
            30, type="integer", minimum=1, title="Raw data retention (days)",
            description="Days of raw ticks/weather events kept by dynamic partitions (${raw_retention_days}).",
        ),
        "agg_retention_days": Param(
            730, type="integer", minimum=1, title="Aggregate retention (days)",
            description="Days of bars, alerts and signals kept by dynamic partitions (${agg_retention_days}).",
        ),
        "kafka_broker_list": Param(
            "platform-kafka-bootstrap.data-platform.svc:9092",
            type="string",
            pattern=strict_param_pattern(KAFKA_BROKER_LIST_PATTERN),
            title="Kafka broker list",
            description="Comma-separated host:port list the Routine Loads consume from, e.g. "
                        "kafka-0:9092,kafka-1:9092 (${kafka_broker_list}).",
        ),
    },
)
def doris_schema_migrate() -> None:
    @task.short_circuit
    def plan_migrations(params: dict[str, Any] | None = None) -> dict[str, Any] | bool:
        """Validate all files and log the plan; returns False on dry runs so nothing downstream runs."""
        from commodity_platform.doris.migrations import build_migrator
        from commodity_platform.task_errors import permanent_errors_fail_fast

        assert params is not None
        with permanent_errors_fail_fast():
            migrator = build_migrator(conn_id=CONN_ID, params=params)
            plan = migrator.plan(target_version=params["target_version"])
        for line in plan.describe():
            print(line)  # noqa: T201 - the plan is the task's output, shown as-is in the log
        return False if params["dry_run"] else plan.summary()

    @task(outlets=[DORIS_SCHEMA])
    def apply_migrations(
        params: dict[str, Any] | None = None, run_id: str | None = None, outlet_events: Any = None
    ) -> dict[str, Any]:
        from commodity_platform.doris.migrations import build_migrator
        from commodity_platform.task_errors import permanent_errors_fail_fast

        assert params is not None
        with permanent_errors_fail_fast():
            migrator = build_migrator(conn_id=CONN_ID, params=params, installed_by=f"doris_schema_migrate/{run_id}")
            report = migrator.migrate(migrator.plan(target_version=params["target_version"]))
        outlet_events[DORIS_SCHEMA].extra = {"applied": report.applied, "database": migrator.settings.database}
        return report.summary()

    @task
    def reconcile_routine_loads(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        import logging

        from commodity_platform.doris.migrations import build_migrator
        from commodity_platform.doris.routine_load import RoutineLoadReconciler
        from commodity_platform.task_errors import permanent_errors_fail_fast

        assert params is not None
        with permanent_errors_fail_fast():
            migrator = build_migrator(conn_id=CONN_ID, params=params, installed_by=f"doris_schema_migrate/{run_id}")
            plan = migrator.plan(target_version=params["target_version"])
            if not migrator.is_doris:
                logging.getLogger(__name__).info(
                    "routine loads skipped: the server is not Doris; %d definitions not applied: %s",
                    len(plan.routine_loads), [m.file.script for m in plan.routine_loads],
                )
                return {"skipped": "server is not Doris", "definitions": len(plan.routine_loads)}
            return RoutineLoadReconciler(migrator).reconcile(plan.routine_loads, plan.applied).summary()

    plan_migrations() >> apply_migrations() >> reconcile_routine_loads()


doris_schema_migrate()

"""
### Doris schema migrations

Applies the versioned migrations under `include/sql/migrations/` to the warehouse of the
`doris_default` connection (database from the connection's *schema*, `commodity_realtime`), records each
one in `schema_history`, and reconciles the Routine Load jobs that feed it from Kafka.

* **plan_migrations** parses and lints every file (Doris rules: key column order, merge-on-write,
  dynamic partitions, replication, destructive statements), refuses edited files (checksum), and logs the
  plan. With `dry_run` it stops here.
* **apply_migrations** creates the database and the history table if missing, then applies pending
  versions in order, waiting for Doris's asynchronous schema changes. A second run executes no DDL.
  Emits the `doris_schema` asset.
* **reconcile_routine_loads** creates missing jobs, pauses/alters/resumes changed ones, resumes paused
  ones and fails unless every job is RUNNING.

Against a server that is not Doris (the sandbox's MariaDB) Doris-only clauses are dropped or translated, each
change logged; Routine Loads are skipped with a log line. Code: `commodity_platform/doris/tasks.py`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from commodity_platform.assets import DORIS_SCHEMA
from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.doris.params import SCHEMA_MIGRATE_PARAMS
from commodity_platform.params import dag_params


@dag(
    dag_id="doris_schema_migrate",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["doris", "schema", "commodity-platform"],
    params=dag_params(SCHEMA_MIGRATE_PARAMS),
)
def doris_schema_migrate() -> None:
    @task.short_circuit
    def plan_migrations(params: dict[str, Any] | None = None) -> dict[str, Any] | bool:
        """Validate all files and log the plan; returns False on dry runs so nothing downstream runs."""
        from commodity_platform.doris.tasks import plan_task

        return plan_task(params)

    @task(outlets=[DORIS_SCHEMA])
    def apply_migrations(
        params: dict[str, Any] | None = None, run_id: str | None = None, outlet_events: Any = None
    ) -> dict[str, Any]:
        from commodity_platform.doris.tasks import apply_task

        return apply_task(params, run_id=run_id, outlet_events=outlet_events)

    @task
    def reconcile_routine_loads(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        from commodity_platform.doris.tasks import reconcile_task

        return reconcile_task(params, run_id=run_id)

    plan_migrations() >> apply_migrations() >> reconcile_routine_loads()


doris_schema_migrate()

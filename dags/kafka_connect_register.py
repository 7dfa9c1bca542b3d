"""
### kafka_connect_register - Kafka Connect connectors as code

Reconciles the Kafka Connect cluster with the connector specs in `include/connectors/` (one YAML file per
connector: `name`, `state`, `config`). Replaces the hand-run curl scripts.

1. **plan** - strictly validates *every* spec file (unknown keys, missing `connector.class`, plaintext
   secrets are refused naming file and key) and selects the connectors to reconcile.
2. **reconcile** - one mapped task per connector: diff against the live config (logged, secrets masked,
   config-provider references shown as references); if it differs, validate it with
   `PUT /connector-plugins/{class}/config/validate` and `PUT /connectors/{name}/config`; bring it to its
   desired state (running / paused / stopped) and wait until the connector and all tasks are there;
   restart failed tasks (`onlyFailed=true`) a bounded number of times. An unchanged connector costs GETs only.
3. **prune** - with `prune=true`, deletes connectors named with the managed prefix `cp-` that have no spec.
   Connectors without the prefix are never touched. Runs only if every reconcile succeeded.

Connection: `kafka_connect_default` (type `http`: host, port, schema, optional basic-auth login/password,
extras `timeout`, `verify`). Manual trigger only; the deploy DAG calls the same code for its connectors phase.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.validation import strict_param_pattern

CONN_ID = "kafka_connect_default"


@dag(
    dag_id="kafka_connect_register",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,  # two concurrent reconciles of the same cluster would fight each other
    tags=["kafka-connect", "connectors", "platform"],
    default_args={**DEFAULT_ARGS, "retries": 3},
    params={
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Only log the config diffs and state changes (validation still runs); write nothing.",
        ),
        "connectors": Param(
            [],
            type="array",
            items={"type": "string", "pattern": strict_param_pattern("cp-[a-z0-9-]+")},
            title="Connectors",
            # An array of strings renders as a textarea that splits on new lines (Airflow UI FlexibleForm).
            description="Connector names to reconcile, one per line (e.g. cp-sink-doris). Empty = all specs.",
        ),
        "prune": Param(
            False,
            type="boolean",
            title="Prune connectors without a spec",
            description="Delete cp-* connectors that have no spec file. Never touches any other connector.",
        ),
        "retry_budget_seconds": Param(
            300,
            type="integer",
            minimum=1,
            maximum=3600,
            title="Retry budget (s)",
            description="Total time this run may spend retrying Kafka Connect requests (409, 5xx, timeouts), "
            "shared by every connector and every task retry, counted from the run's start. When it is spent "
            "the run fails at once, naming the connectors not reconciled.",
        ),
    },
)
def kafka_connect_register() -> None:
    @task
    def plan(params: dict[str, Any] | None = None) -> list[str]:
        from commodity_platform.kafka_connect.tasks import plan_connectors

        return plan_connectors(connectors=(params or {}).get("connectors") or None)

    @task(map_index_template="{{ connector_name }}")
    def reconcile(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from commodity_platform.kafka_connect.tasks import reconcile_connector_task

        context = get_current_context()
        context["connector_name"] = name  # type: ignore[typeddict-unknown-key]
        params = params or {}
        run_started = context["dag_run"].start_date
        return reconcile_connector_task(
            name,
            dry_run=bool(params.get("dry_run")),
            conn_id=CONN_ID,
            retry_deadline=run_started.timestamp() + float(params.get("retry_budget_seconds") or 300),
        )

    @task(trigger_rule="none_failed")
    def prune(results: list[dict[str, Any]], params: dict[str, Any] | None = None) -> list[str]:
        from commodity_platform.kafka_connect.tasks import prune_task

        params = params or {}
        return prune_task(
            prune=bool(params.get("prune")), dry_run=bool(params.get("dry_run")), conn_id=CONN_ID
        )

    results = reconcile.expand(name=plan())
    prune(results)


kafka_connect_register()

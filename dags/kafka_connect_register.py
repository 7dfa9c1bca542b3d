"""
### kafka_connect_register - Kafka Connect connectors as code

Reconciles the Kafka Connect cluster with the connector specs in `include/connectors/` (one YAML file per
connector: `name`, `state`, `config`). Replaces the hand-run curl scripts.

1. **plan** - strictly validates *every* spec file (unknown keys, missing `connector.class`, plaintext
   secrets are refused naming file and key) and selects the connectors to reconcile.
2. **reconcile** - one mapped task per connector: diff against the live config (logged, secrets masked);
   if it differs, validate it and `PUT /connectors/{name}/config`; bring it to its desired state
   (running / paused / stopped), wait for connector and tasks; restart failed tasks a bounded number of times.
3. **summarize** - runs even when some reconcile failed; fails naming **every** connector not reconciled.
   Transient errors (409, 5xx, timeouts) are retried until `retry_budget_seconds` after the run's start,
   shared by all connectors, then the run ends.
4. **prune** - with `prune=true`, deletes connectors named `cp-*` that have no spec; never any other
   connector. Runs only if every connector reconciled.

Connection `kafka_connect_default` (type *Kafka Connect*). Code: `commodity_platform/kafka_connect/tasks.py`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.kafka_connect.params import REGISTER_PARAMS
from commodity_platform.params import dag_params


@dag(
    dag_id="kafka_connect_register",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,  # two concurrent reconciles of the same cluster would fight each other
    tags=["kafka-connect", "connectors", "platform"],
    default_args={**DEFAULT_ARGS, "retries": 3},
    params=dag_params(REGISTER_PARAMS),
)
def kafka_connect_register() -> None:
    @task
    def plan(params: dict[str, Any] | None = None) -> list[str]:
        from commodity_platform.kafka_connect.tasks import plan_task

        return plan_task(params)

    @task(map_index_template="{{ connector_name }}")
    def reconcile(name: str) -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from commodity_platform.kafka_connect.tasks import reconcile_task

        context = get_current_context()
        context["connector_name"] = name  # type: ignore[typeddict-unknown-key]
        return reconcile_task(name, context)

    @task(trigger_rule="all_done")
    def summarize() -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from commodity_platform.kafka_connect.tasks import summarize_task

        return summarize_task(get_current_context())

    @task
    def prune(params: dict[str, Any] | None = None) -> list[str]:
        from commodity_platform.kafka_connect.tasks import prune_task

        return prune_task(params)

    reconcile.expand(name=plan()) >> summarize() >> prune()


kafka_connect_register()

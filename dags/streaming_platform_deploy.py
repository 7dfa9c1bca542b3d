"""
### streaming_platform_deploy

Deploys or upgrades the commodity streaming platform into Kubernetes in eight phases (`include/manifests/NN-phase/`):

| # | phase | what | waits for |
|---|-------|------|-----------|
| 1 | kafka | Strimzi operator (pinned chart), 3-broker KRaft Kafka, topics | Kafka `Ready`, topics `Ready` |
| 2 | flink-operator | Flink Kubernetes Operator (pinned chart, 2 replicas), job RBAC | operator rollout |
| 3 | kafka-connect | Secret `kafka-connect-credentials`, Schema Registry, 3 Connect workers | rollouts |
| 4 | doris | Secret `doris-credentials`, doris-operator (pinned chart), 3 FE + 3 BE | fe/be `available` |
| 5 | connectors | connector registration (`kafka_connect_register`) within `connectors_retry_budget_seconds` | - |
| 6 | flink-apps | FlinkDeployments (image `flink_jobs`), Secret `doris-credentials` | RUNNING + STABLE + READY |
| 7 | monitoring | ServiceMonitors, PrometheusRules, Grafana dashboards | - |
| 8 | use-cases | Doris schema + routine loads (`doris_schema_migrate`), use-case queries | - |

Edges follow real dependencies (kafka → kafka-connect → connectors ← doris; flink-operator → flink-apps ← kafka;
doris, kafka → use-cases); independent phases run in parallel. Objects are applied with **server-side apply** (field
manager `commodity-platform-deploy`) via `kubernetes_default`; a re-run reports 0 changed. `dry_run` logs a diff per
object and changes nothing. A readiness timeout leaves a diagnosis in the log (events, pod conditions, containers).
Secrets come from Airflow connections at run time (values never in logs, XCom or diffs): `doris_default` →
`doris-credentials`; `kafka_connect_secrets` (`extra` JSON key → value) → `kafka-connect-credentials`. Phases not in
`phases` are skipped; selected ones assume skipped upstream phases are deployed. Code: `commodity_platform/deploy/`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TaskGroup, dag, task

from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.deploy.params import DEPLOY_PARAMS
from commodity_platform.deploy.phases import PHASES
from commodity_platform.deploy.tasks import deploy_task, plan_task, summary_task
from commodity_platform.params import dag_params


@task(trigger_rule="none_failed")
def plan(phase_name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return plan_task(phase_name, params)


@task(execution_timeout=timedelta(hours=1))
def deploy(phase_name: str, planned: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    return deploy_task(phase_name, params)


@task(trigger_rule="none_failed")
def summary(ti: Any = None) -> dict[str, Any]:
    return summary_task(ti)


@dag(
    dag_id="streaming_platform_deploy",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["platform", "kubernetes", "deploy"],
    default_args={**DEFAULT_ARGS, "max_retry_delay": timedelta(minutes=5)},  # API hiccups are retried in-task
    params=dag_params(DEPLOY_PARAMS),
)
def streaming_platform_deploy() -> None:
    groups: dict[str, TaskGroup] = {}
    deploys = []
    for phase in PHASES:
        with TaskGroup(group_id=phase.task_group_id, tooltip=phase.description) as group:
            planned = plan.override(task_id="plan")(phase.name)
            deploys.append(deploy.override(task_id="deploy")(phase.name, planned))
        groups[phase.name] = group
    for phase in PHASES:
        for upstream in phase.depends_on:
            groups[upstream] >> groups[phase.name]
    deploys >> summary()


streaming_platform_deploy()

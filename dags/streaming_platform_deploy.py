"""
### streaming_platform_deploy

Deploys or upgrades the whole commodity streaming platform into Kubernetes, in eight phases:

| # | phase | what | waits for |
|---|-------|------|-----------|
| 1 | kafka | Strimzi operator (pinned chart), 3-broker KRaft Kafka, topics | Kafka `Ready`, topics `Ready` |
| 2 | flink-operator | Flink Kubernetes Operator (pinned chart, 2 replicas), job RBAC | operator rollout |
| 3 | kafka-connect | Secret `kafka-connect-credentials`, Schema Registry, 3 Connect workers | rollouts |
| 4 | doris | Secret `doris-credentials`, doris-operator (pinned chart), 3 FE + 3 BE | fe/be `available` |
| 5 | connectors | connector registration (`kafka_connect_register`) | - |
| 6 | flink-apps | FlinkDeployments (image `flink_jobs`), Secret `doris-credentials` | RUNNING + STABLE + READY |
| 7 | monitoring | ServiceMonitors, PrometheusRules, Grafana dashboards | - |
| 8 | use-cases | Doris schema + routine loads (`doris_schema_migrate`), use-case queries | - |

Edges follow real dependencies (kafka → kafka-connect → connectors ← doris; flink-operator → flink-apps ← kafka;
doris, kafka → use-cases); monitoring is independent, so independent phases run in parallel.

Manifests live in `include/manifests/<NN>-<phase>/` and are applied with **server-side apply** (field manager
`commodity-platform-deploy`) through the `kubernetes_default` connection (cncf.kubernetes `KubernetesHook`).
A re-run reports 0 changed objects. `dry_run` performs a server-side dry run and logs a diff without changing
anything. On a readiness timeout the task log holds a diagnosis (events, pod conditions, container states).

Secrets are built from Airflow connections at run time and applied the same way (values never in logs, XCom
or diffs, which show key names only): `doris_default` (login/password) → `doris-credentials`;
`kafka_connect_secrets` (conn_type generic, `extra` JSON key → value) → `kafka-connect-credentials`, which must
hold every key the connector specs reference. A missing connection or key fails the phase's `plan` task.

Phases not selected in `phases` are skipped; selected phases still run when their upstream phases were
skipped (they are assumed deployed already), but not when one failed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, TaskGroup, dag, get_current_context, task

from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS, NAMESPACE_RE, PHASE_NAMES, PHASES, default_timeouts
from commodity_platform.validation import finite_number_schema, strict_param_pattern

K8S_CONN_ID = "kubernetes_default"


def _phase_params() -> dict[str, Any]:
    """Resolved params of the current run (typed by the Param schemas below)."""
    return dict(get_current_context()["params"])


@task(trigger_rule="none_failed")
def plan(phase_name: str) -> dict[str, Any]:
    """Skip unselected phases; render the manifests and resolve the Secrets so bad input fails before applying.

    Returns object references and Secret *key names* only: Secret values never reach XCom.
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from commodity_platform.deploy.execution import plan_phase, plan_secrets
    from commodity_platform.deploy.phases import PHASES_BY_NAME, PhaseOptions
    from commodity_platform.errors import PermanentError

    params = _phase_params()
    if phase_name not in params["phases"]:
        raise AirflowSkipException(f"phase {phase_name} not selected (phases={params['phases']})")
    options = PhaseOptions(namespace=params["namespace"], image_tags=params["image_tags"])
    phase = PHASES_BY_NAME[phase_name]
    try:
        plans = plan_phase(phase, options)
        secrets = plan_secrets(phase)
    except PermanentError as exc:
        raise AirflowFailException(str(exc)) from exc
    return {
        "phase": phase_name,
        "secrets": secrets,
        "stages": {p.stage.name: [m.ref for m in p.manifests] for p in plans},
    }


@task(execution_timeout=timedelta(hours=1))
def deploy(phase_name: str, planned: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply the phase, wait for readiness gates, run the phase's action; report the changes."""
    from airflow.sdk.exceptions import AirflowFailException
    from kubernetes.client import Configuration

    from commodity_platform.deploy.cluster import kubernetes_api_client
    from commodity_platform.deploy.execution import deploy_phase
    from commodity_platform.deploy.phases import PhaseOptions
    from commodity_platform.errors import PermanentError

    params = _phase_params()
    configuration = Configuration()
    # Readiness watches run one thread per object; a bigger pool avoids reconnect churn.
    configuration.connection_pool_maxsize = 32
    options = PhaseOptions(
        namespace=params["namespace"],
        dry_run=params["dry_run"],
        timeout_seconds=float(params["wait_timeout_seconds"].get(phase_name, 600)),
        image_tags=params["image_tags"],
        recheck_seconds=float(params.get("recheck_seconds", 5)),
    )
    try:
        # A connection without a usable kube config is a ConfigError: fails once, no retries.
        report = deploy_phase(phase_name, kubernetes_api_client(K8S_CONN_ID, configuration), options)
    except PermanentError as exc:
        raise AirflowFailException(str(exc)) from exc
    return report.to_dict()


@task(trigger_rule="none_failed")
def summary() -> dict[str, Any]:
    """Totals over all phases; ``changed`` is 0 on a re-run of an unchanged platform."""
    import logging

    context = get_current_context()
    ti = context["ti"]
    totals: dict[str, Any] = {"changed": 0, "created": 0, "configured": 0, "unchanged": 0, "phases": {}}
    for phase in PHASES:
        report = ti.xcom_pull(task_ids=f"{phase.task_group_id}.deploy")
        if not report:
            continue
        totals["phases"][phase.name] = {k: report[k] for k in ("created", "configured", "unchanged", "seconds")}
        for key in ("changed", "created", "configured", "unchanged"):
            totals[key] += report[key]
    logging.getLogger(__name__).info(
        "deploy summary: %d changed (%d created, %d configured), %d unchanged",
        totals["changed"],
        totals["created"],
        totals["configured"],
        totals["unchanged"],
    )
    return totals


@dag(
    dag_id="streaming_platform_deploy",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["platform", "kubernetes", "deploy"],
    # Kubernetes API hiccups are retried inside a task already (tenacity); task retries cover longer outages.
    default_args={**DEFAULT_ARGS, "max_retry_delay": timedelta(minutes=5)},
    params={
        "phases": Param(
            PHASE_NAMES,
            type="array",
            items={"type": "string", "enum": PHASE_NAMES},
            uniqueItems=True,
            minItems=1,
            examples=PHASE_NAMES,
            title="Phases",
            description="Phases to deploy (default: all). Unselected phases are skipped; selected phases "
            "assume skipped upstream phases are already deployed.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Server-side dry run (dryRun=All): log a diff per object, change nothing, do not wait.",
        ),
        "namespace": Param(
            "data-platform",
            type="string",
            pattern=strict_param_pattern(NAMESPACE_RE.pattern),
            maxLength=63,
            title="Namespace",
            description="Kubernetes namespace of the platform; forced onto every namespaced object.",
        ),
        "wait_timeout_seconds": Param(
            default_timeouts(),
            type="object",
            properties={name: {"type": "integer", "minimum": 1} for name in PHASE_NAMES},
            additionalProperties=False,
            title="Readiness timeout per phase (s)",
            description="How long each phase may take to become ready before it fails with a diagnosis.",
        ),
        "image_tags": Param(
            DEFAULT_IMAGE_TAGS,
            type="object",
            properties={name: {"type": "string", "minLength": 1} for name in DEFAULT_IMAGE_TAGS},
            additionalProperties=False,
            title="Images and chart versions",
            description="Container images and pinned operator chart versions used by the manifests.",
        ),
        "recheck_seconds": Param(
            5,
            **finite_number_schema(type="number", minimum=0.1, maximum=3600),
            title="Readiness re-check interval (s)",
            description="Watches re-evaluate gates at least this often (progress that lives on other objects).",
        ),
    },
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

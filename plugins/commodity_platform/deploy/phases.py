"""The eight deployment phases of the platform: what each applies, what it waits for, what it depends on.

This module is imported by the DAG file at parse time, so it holds plain data only (no Kubernetes client).

Dependencies (the DAG's edges and the benchmark's critical path both come from ``depends_on``):

* ``kafka-connect`` needs Kafka (workers store config/offsets/status in Kafka topics);
* ``connectors`` needs Kafka Connect (REST API) and Doris (sink connectors write into Doris FE/BE);
* ``flink-apps`` needs the Flink operator (FlinkDeployment CRD) and Kafka (jobs read and write topics);
* ``use-cases`` needs Doris (schema) and Kafka (routine loads consume the enriched topics);
* ``monitoring`` depends on nothing: ServiceMonitors and dashboards for targets that do not exist yet are
  harmless (Prometheus finds no endpoints, panels show "no data") and deploying them first lets operators
  watch the rest of the rollout on the dashboards. It only needs the prometheus-operator CRDs of the
  cluster's monitoring stack, which it waits for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commodity_platform.artifacts import deploy_image_tags
from commodity_platform.errors import ConfigError
from commodity_platform.validation import cap_list, check_image_reference, check_semver, preview

STRIMZI_GROUP = "kafka.strimzi.io"


@dataclass(frozen=True)
class ObjectRef:
    """An object created by someone else (an operator chart) that a stage needs before it can apply."""

    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class Stage:
    """Files of a phase applied together, after the CRDs/objects they need are ready.

    After a stage is applied, every applied object with a readiness gate is waited for before the next stage.
    """

    name: str
    pattern: str
    requires_crds: tuple[str, ...] = ()
    requires_objects: tuple[ObjectRef, ...] = ()


@dataclass(frozen=True)
class Phase:
    number: int
    name: str
    depends_on: tuple[str, ...]
    stages: tuple[Stage, ...]
    default_timeout_seconds: int
    description: str
    # Work beyond manifests, done by another package (see commodity_platform.deploy.integrations).
    action: str | None = None
    optional_manifests: bool = False
    # Kubernetes Secrets built from Airflow connections (commodity_platform.deploy.secrets) and applied
    # before the phase's first stage, because its workloads mount or reference them.
    secrets: tuple[str, ...] = ()

    @property
    def directory_name(self) -> str:
        return f"{self.number:02d}-{self.name}"

    @property
    def task_group_id(self) -> str:
        return self.name.replace("-", "_")


_OPERATOR_STAGE = "0*.yaml"
_RESOURCE_STAGE = "[1-9]*.yaml"

PHASES: tuple[Phase, ...] = (
    Phase(
        1,
        "kafka",
        (),
        (
            Stage("strimzi-operator", _OPERATOR_STAGE),
            Stage(
                "kafka-cluster",
                _RESOURCE_STAGE,
                requires_crds=(
                    f"kafkas.{STRIMZI_GROUP}",
                    f"kafkanodepools.{STRIMZI_GROUP}",
                    f"kafkatopics.{STRIMZI_GROUP}",
                ),
                requires_objects=(ObjectRef("apps/v1", "Deployment", "strimzi-cluster-operator"),),
            ),
        ),
        900,
        "Strimzi operator (pinned Helm chart) and a 3-broker KRaft Kafka with the platform topics",
    ),
    Phase(
        2,
        "flink-operator",
        (),
        (
            Stage("flink-operator-install", _OPERATOR_STAGE),
            Stage(
                "flink-job-rbac-and-metrics",
                _RESOURCE_STAGE,
                requires_crds=("flinkdeployments.flink.apache.org", "flinksessionjobs.flink.apache.org"),
                requires_objects=(ObjectRef("apps/v1", "Deployment", "flink-kubernetes-operator"),),
            ),
        ),
        600,
        "Flink Kubernetes Operator (pinned Helm chart, 2 replicas, leader election), job RBAC, metrics",
    ),
    Phase(
        3,
        "kafka-connect",
        ("kafka",),
        (Stage("kafka-connect", "*.yaml", requires_crds=(f"kafkatopics.{STRIMZI_GROUP}",)),),
        600,
        "Secret kafka-connect-credentials, Schema Registry and a 3-worker Kafka Connect cluster",
        secrets=("kafka-connect-credentials",),
    ),
    Phase(
        4,
        "doris",
        (),
        (
            Stage("doris-operator", _OPERATOR_STAGE),
            Stage(
                "doris-cluster",
                _RESOURCE_STAGE,
                requires_crds=("dorisclusters.doris.selectdb.com",),
                requires_objects=(ObjectRef("apps/v1", "Deployment", "doris-operator"),),
            ),
        ),
        1200,
        "Secret doris-credentials, doris-operator (pinned Helm chart) and a DorisCluster with 3 FE + 3 BE",
        secrets=("doris-credentials",),
    ),
    Phase(
        5,
        "connectors",
        ("kafka-connect", "doris"),
        (Stage("connectors", "*.yaml"),),
        300,
        "Registers the Kafka Connect connectors (kafka_connect_register reconcile logic)",
        action="connectors",
        optional_manifests=True,
    ),
    Phase(
        6,
        "flink-apps",
        ("flink-operator", "kafka"),
        (Stage("flink-apps", "*.yaml", requires_crds=("flinkdeployments.flink.apache.org",)),),
        900,
        "FlinkDeployments: data-enricher, price-aggregator, anomaly-detector (Secret doris-credentials)",
        optional_manifests=True,
        # The price-aggregator reads DORIS_USER/DORIS_PASSWORD from it; applied here too (idempotent, same
        # field manager) so flink-apps can be deployed without the doris phase.
        secrets=("doris-credentials",),
    ),
    Phase(
        7,
        "monitoring",
        (),
        (
            Stage(
                "monitoring",
                "*.yaml",
                requires_crds=(
                    "servicemonitors.monitoring.coreos.com",
                    "prometheusrules.monitoring.coreos.com",
                ),
            ),
        ),
        300,
        "ServiceMonitors, PrometheusRules and Grafana dashboards",
    ),
    Phase(
        8,
        "use-cases",
        ("doris", "kafka"),
        (Stage("use-case-queries", "*.yaml"),),
        600,
        "Doris schema and routine loads (doris_schema_migrate) and the use-case queries for dashboards",
        action="use-cases",
    ),
)

PHASES_BY_NAME: dict[str, Phase] = {p.name: p for p in PHASES}
PHASE_NAMES: list[str] = [p.name for p in PHASES]

# Image tags and chart versions; every entry can be overridden by the DAG's ``image_tags`` param.
# They come from the one catalogue of external artifacts, include/contracts/artifacts.yaml (entries with a
# ``deploy_key``), where each has its upstream evidence; docker-compose.yaml and the Dockerfiles are tested
# against the same file (tests/contracts/test_artifacts.py). Parse-time cost: one small local YAML read.
DEFAULT_IMAGE_TAGS: dict[str, str] = deploy_image_tags()


#: A Kubernetes namespace is an RFC 1123 DNS label (kubernetes apimachinery validation.IsDNS1123Label).
NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAMESPACE_MAX_LENGTH = 63


def render_variables(namespace: str, image_tags: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The ``${dp:...}`` variables available to manifests, each validated (they are Params: user input).

    Keys ending in ``_version`` are chart/product versions and must be SemVer; every other key is a container
    image reference (distribution/reference grammar). A ConfigError names the Param key
    (``image_tags.<key>``); nothing is rendered or applied then.
    """
    if not isinstance(namespace, str) or len(namespace) > NAMESPACE_MAX_LENGTH or not NAMESPACE_RE.fullmatch(namespace):
        raise ConfigError(f"namespace: {preview(namespace)} is not a DNS-1123 label (a-z, 0-9, '-', at most 63)")
    unknown = sorted(set(image_tags or {}) - set(DEFAULT_IMAGE_TAGS))
    if unknown:
        raise ConfigError(f"image_tags: unknown key(s) {cap_list(unknown)}; known: {', '.join(DEFAULT_IMAGE_TAGS)}")
    tags = {**DEFAULT_IMAGE_TAGS, **{k: v for k, v in (image_tags or {}).items() if v not in (None, "")}}
    for key, value in tags.items():
        if key.endswith("_version"):
            check_semver(f"image_tags.{key}", value)
        else:
            check_image_reference(f"image_tags.{key}", value)
    variables = {"namespace": namespace}
    variables.update({f"image.{k}": v for k, v in tags.items()})
    return variables


def default_timeouts() -> dict[str, int]:
    return {p.name: p.default_timeout_seconds for p in PHASES}


def dependency_closure(selected: list[str]) -> set[str]:
    """Every phase ``selected`` transitively depends on (used to warn about deploying on missing bases)."""
    seen: set[str] = set()
    stack = list(selected)
    while stack:
        name = stack.pop()
        for dep in PHASES_BY_NAME[name].depends_on:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen

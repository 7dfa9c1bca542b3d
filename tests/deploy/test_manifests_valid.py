"""Every manifest of every phase validates against the upstream schemas.

Built-in kinds: kubernetes-validate in strict mode (unknown fields are errors). Custom kinds: jsonschema against
the ``openAPIV3Schema`` of the upstream CRD in /work/shared/reference/crds, made strict the same way
(``additionalProperties: false`` wherever the CRD lists properties and does not preserve unknown fields), so a
misspelt field fails here instead of being silently pruned by the API server.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from commodity_platform.deploy.execution import plan_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES
from commodity_platform.k8s.manifests import Manifest

from .conftest import REFERENCE_CRDS

K8S_VERSION = "1.33"


def _all_manifests() -> list[Manifest]:
    manifests = []
    for phase in PHASES:
        for plan in plan_phase(phase, PhaseOptions()):
            manifests.extend(plan.manifests)
    return manifests


MANIFESTS = _all_manifests()


def _crd_index() -> dict[tuple[str, str], dict[str, Any]]:
    index = {}
    for path in sorted(REFERENCE_CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                index[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = version["schema"][
                    "openAPIV3Schema"
                ]
    return index


CRD_SCHEMAS = _crd_index()


def strict_schema(schema: Any) -> Any:
    """Close every object schema that lists its properties (mirrors kubernetes-validate's strict mode)."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def _is_builtin(manifest: Manifest) -> bool:
    return (manifest.api_version, manifest.kind) not in CRD_SCHEMAS


def test_every_phase_directory_has_manifests_or_an_action() -> None:
    phases_with_objects = {p.name for p in PHASES for plan in plan_phase(p, PhaseOptions()) if plan.manifests}
    for phase in PHASES:
        assert phase.name in phases_with_objects or phase.action or phase.optional_manifests, phase.name
    assert len(MANIFESTS) > 40


@pytest.mark.parametrize("manifest", [m for m in MANIFESTS if _is_builtin(m)], ids=lambda m: f"{m.source}:{m.ref}")
def test_builtin_kinds_validate_strictly(manifest: Manifest) -> None:
    try:
        kubernetes_validate.validate(manifest.body, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{manifest.source} {manifest.ref}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("manifest", [m for m in MANIFESTS if not _is_builtin(m)], ids=lambda m: f"{m.source}:{m.ref}")
def test_custom_resources_validate_against_upstream_crds(manifest: Manifest) -> None:
    schema = strict_schema(CRD_SCHEMAS[(manifest.api_version, manifest.kind)])
    body = copy.deepcopy(manifest.body)
    # apiVersion/kind/metadata are validated by the API server itself, not by the CRD's schema.
    schema.setdefault("properties", {}).update({"apiVersion": {}, "kind": {}, "metadata": {}})
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{manifest.source} {manifest.ref} at {list(e.path)}: {e.message}" for e in errors)


def test_strict_schema_catches_a_misspelt_field() -> None:
    """The strict CRD check is not vacuous: a typo in a Kafka spec is reported."""
    kafka = next(m for m in MANIFESTS if m.kind == "Kafka")
    body = copy.deepcopy(kafka.body)
    body["spec"]["kafka"]["replicaz"] = 3
    schema = strict_schema(CRD_SCHEMAS[(kafka.api_version, "Kafka")])
    schema.setdefault("properties", {}).update({"apiVersion": {}, "kind": {}, "metadata": {}})
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(body))
    assert any("replicaz" in e.message for e in errors)


def test_custom_kinds_only_use_served_upstream_versions() -> None:
    custom = {(m.api_version, m.kind) for m in MANIFESTS if m.api_version.split("/")[0].count(".") >= 2}
    unknown = {c for c in custom if c not in CRD_SCHEMAS and not c[0].endswith(".k8s.io/v1")}
    assert not unknown, f"custom kinds without an upstream CRD: {unknown}"
    assert ("kafka.strimzi.io/v1", "Kafka") in custom  # Strimzi 1.0 serves only v1


def test_design_sizing() -> None:
    """The sizing the platform design asks for (brokers, RF/ISR, storage, resources, replicas)."""
    by_ref = {m.ref: m.body for m in MANIFESTS}
    pool = by_ref["KafkaNodePool/dual-role"]["spec"]
    assert pool["replicas"] == 3 and set(pool["roles"]) == {"controller", "broker"}
    assert pool["storage"]["volumes"][0]["size"] == "50Gi"
    assert pool["resources"] == {"requests": {"memory": "4Gi", "cpu": "1"}, "limits": {"memory": "6Gi", "cpu": "2"}}
    kafka_config = by_ref["Kafka/commodity-kafka"]["spec"]["kafka"]["config"]
    assert kafka_config["default.replication.factor"] == 3 and kafka_config["min.insync.replicas"] == 2
    assert kafka_config["compression.type"] == "lz4"
    topics = {m.name for m in MANIFESTS if m.kind == "KafkaTopic"}
    assert {"commodity-prices-raw", "commodity-prices-enriched", "market-alerts", "weather-events"} <= topics
    assert any(t.startswith("dlq-") for t in topics)
    connect = by_ref["Deployment/kafka-connect"]["spec"]
    container = connect["template"]["spec"]["containers"][0]
    assert connect["replicas"] == 3
    assert container["resources"] == {
        "requests": {"memory": "2Gi", "cpu": "500m"},
        "limits": {"memory": "4Gi", "cpu": "2"},
    }
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "AvroConverter" in env["CONNECT_VALUE_CONVERTER"] and env["CONNECT_PLUGIN_PATH"]
    assert env["CONNECT_CONFIG_PROVIDERS"] == "file,env,dir"
    doris = by_ref["DorisCluster/commodity-doris"]["spec"]
    assert doris["feSpec"]["replicas"] == 3 and doris["beSpec"]["replicas"] == 3
    assert (doris["feSpec"]["requests"], doris["feSpec"]["limits"]) == (
        {"cpu": "2", "memory": "4Gi"},
        {"cpu": "4", "memory": "8Gi"},
    )
    assert (doris["beSpec"]["requests"], doris["beSpec"]["limits"]) == (
        {"cpu": "2", "memory": "8Gi"},
        {"cpu": "8", "memory": "16Gi"},
    )
    ports = {
        p["port"]
        for m in MANIFESTS
        if m.kind == "Service" and m.name.startswith("doris")
        for p in m.body["spec"]["ports"]
    }
    assert {9030, 8030, 8040} <= ports
    flink_job = by_ref["Job/flink-operator-helm-install"]["spec"]["template"]["spec"]["containers"][0]
    values = yaml.safe_load(next(e["value"] for e in flink_job["env"] if e["name"] == "HELM_VALUES"))
    assert values["replicas"] == 2
    assert "kubernetes.operator.leader-election.enabled: true" in values["defaultConfiguration"]["flink-conf.yaml"]


def test_helm_values_and_dashboards_parse() -> None:
    jobs = [m for m in MANIFESTS if m.kind == "Job"]
    assert {j.name for j in jobs} >= {
        "strimzi-helm-install",
        "flink-operator-helm-install",
        "doris-operator-helm-install",
    }
    for job in jobs:
        env = {e["name"]: e.get("value") for e in job.body["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert isinstance(yaml.safe_load(env["HELM_VALUES"]), dict), job.source
        assert env["CHART_VERSION"] and "${" not in env["CHART_VERSION"]
    dashboards = [m for m in MANIFESTS if m.kind == "ConfigMap" and m.name.startswith("grafana-dashboard-")]
    titles = set()
    for cm in dashboards:
        for key, text in cm.body["data"].items():
            titles.add(json.loads(text)["title"])
            assert key.endswith(".json")
    assert {"Kafka Connect", "Flink jobs", "Doris", "Streaming platform overview", "Data quality"} <= titles


def test_use_case_sql_is_shipped_from_include_sql() -> None:
    from commodity_platform.paths import SQL_DIR

    queries = next(m for m in MANIFESTS if m.ref == "ConfigMap/use-case-queries").body["data"]
    for name in ("vwap.sql", "top_movers.sql", "alert_heatmap.sql"):
        assert queries[name] == (Path(SQL_DIR) / "use_cases" / name).read_text()  # byte for byte

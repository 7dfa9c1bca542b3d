"""What the sandbox's Kubernetes API emulator installs in place of the real charts, for the demo.

The deploy DAG installs Strimzi, the Flink operator and the Doris operator with Helm-install Jobs; on a
real cluster those Jobs create the operators' CRDs and Deployments. The emulator runs no Helm, so when such
a Job completes it creates stand-ins: CRDs with the upstream group, version, kind and plural (and a status
subresource) but an open schema, and a Deployment per operator. The test suite does the same with the
upstream CRD files from ``../shared/reference/crds`` so schemas are checked there; the demo must also run
on a machine without that folder.
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]

# (group, version, kind, plural) per chart, as the upstream CRDs declare them.
_CHART_KINDS: dict[str, list[tuple[str, str, str, str]]] = {
    "strimzi-helm-install": [
        ("kafka.strimzi.io", "v1", "Kafka", "kafkas"),
        ("kafka.strimzi.io", "v1", "KafkaNodePool", "kafkanodepools"),
        ("kafka.strimzi.io", "v1", "KafkaTopic", "kafkatopics"),
        ("kafka.strimzi.io", "v1", "KafkaConnect", "kafkaconnects"),
        ("kafka.strimzi.io", "v1", "KafkaConnector", "kafkaconnectors"),
    ],
    "flink-operator-helm-install": [
        ("flink.apache.org", "v1beta1", "FlinkDeployment", "flinkdeployments"),
        ("flink.apache.org", "v1beta1", "FlinkSessionJob", "flinksessionjobs"),
    ],
    "doris-operator-helm-install": [("doris.selectdb.com", "v1", "DorisCluster", "dorisclusters")],
}
_OPERATORS = {
    "strimzi-helm-install": ("strimzi-cluster-operator", 1),
    "flink-operator-helm-install": ("flink-kubernetes-operator", 2),
    "doris-operator-helm-install": ("doris-operator", 1),
}
# kube-prometheus-stack is a precondition of the monitoring phase, not something the DAG installs.
_MONITORING = [
    ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"),
    ("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors"),
    ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
]


def stand_in_crd(group: str, version: str, kind: str, plural: str) -> JsonDict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [{
                "name": version, "served": True, "storage": True, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }


def operator_deployment(name: str, replicas: int = 1) -> JsonDict:
    """The Deployment an operator chart creates (what the readiness gate waits for)."""
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "operator", "image": name}]}},
        },
    }


def job_effects() -> dict[str, list[JsonDict]]:
    """For each Helm-install Job name: the objects its chart would create."""
    return {
        job: [stand_in_crd(*kind) for kind in kinds] + [operator_deployment(*_OPERATORS[job])]
        for job, kinds in _CHART_KINDS.items()
    }


def monitoring_crds() -> list[JsonDict]:
    return [stand_in_crd(*kind) for kind in _MONITORING]

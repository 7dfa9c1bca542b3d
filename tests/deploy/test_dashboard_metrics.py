"""Every metric a Grafana dashboard queries is one its source actually exports.

The data-quality dashboard used to chart invented ``commodity_dq_*`` metrics of a ``data_quality`` job; the
streaming_data_quality DAG pushes ``streaming_dq_*`` as job ``streaming_data_quality``. Kafka and Kafka Connect
names are checked by running the JMX exporter rules shipped in the manifests (first matching rule wins, name
lower-cased and sanitised like the exporter does) over the MBeans Kafka and Kafka Connect register, so a name
the rules cannot produce (``..._messagesin_rate1m`` instead of ``..._messagesinpersec_rate1m``) fails here.
Flink, Doris and the other exporters have no rules in this repository: their names are checked against the
metric catalogue include/contracts/metrics.yaml (upstream file per metric; tests/contracts/test_metric_names.py
checks every PromQL expression against it in detail, labels included).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from commodity_platform.deploy.execution import plan_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES
from commodity_platform.k8s.manifests import Manifest
from tests.contracts.metric_catalogue import jmx_config, jmx_exporter_names, load_catalogue

#: The data-quality metric contract (issue 5): job and the metrics dashboards may chart.
DQ_JOB = "streaming_data_quality"
DQ_CONTRACT = {
    "streaming_dq_check_success",
    "streaming_dq_freshness_lag_seconds",
    "streaming_dq_error_rate",
    "streaming_dq_ohlc_mismatched_bars",
    "streaming_dq_last_run_timestamp_seconds",
}
DQ_CHECKS = {"freshness", "error_rate", "ohlc_correctness"}

#: MBeans (JMX exporter match strings) that Kafka brokers/controllers and Connect workers register.
KAFKA_MBEANS = [
    "kafka.server<type=BrokerTopicMetrics, name=MessagesInPerSec, topic=commodity-prices-raw><>OneMinuteRate",
    "kafka.server<type=BrokerTopicMetrics, name=BytesInPerSec, topic=commodity-prices-raw><>OneMinuteRate",
    "kafka.server<type=BrokerTopicMetrics, name=MessagesInPerSec><>OneMinuteRate",
    "kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value",
    "kafka.server<type=ReplicaManager, name=PartitionCount><>Value",
    "kafka.controller<type=KafkaController, name=OfflinePartitionsCount><>Value",
    "kafka.controller<type=KafkaController, name=ActiveControllerCount><>Value",
]
CONNECT_MBEANS = [
    "kafka.connect<type=connect-worker-metrics><>connector-count: 3",
    "kafka.connect<type=connect-worker-metrics><>task-count: 3",
    "kafka.connect<type=connect-worker-rebalance-metrics><>completed-rebalances-total: 2",
    "kafka.connect<type=connect-worker-rebalance-metrics><>rebalancing: 0",
    "kafka.connect<type=connector-metrics, connector=cp-sink-s3-archive><>status: running",
    "kafka.connect<type=connector-task-metrics, connector=cp-sink-s3-archive, task=0><>status: failed",
    "kafka.connect<type=source-task-metrics, connector=cp-source-eia-prices, task=0><>source-record-poll-rate: 1.5",
    "kafka.connect<type=source-task-metrics, connector=cp-source-eia-prices, task=0><>source-record-write-rate: 1",
    "kafka.connect<type=sink-task-metrics, connector=cp-sink-s3-archive, task=0><>sink-record-send-rate: 2.5",
    "kafka.connect<type=sink-task-metrics, connector=cp-sink-s3-archive, task=0><>sink-record-read-rate: 2.5",
    "kafka.connect<type=task-error-metrics, connector=cp-sink-s3-archive, task=0><>total-record-errors: 0",
    "kafka.connect<type=task-error-metrics, connector=cp-sink-s3-archive, task=0><>total-record-failures: 0",
    "kafka.connect<type=task-error-metrics, connector=cp-sink-s3-archive, task=0><>deadletterqueue-produce-requests: 0",
]
#: Names of the non-JMX exporters (Flink reporter, Flink Kubernetes Operator, Doris FE/BE /metrics, Strimzi Kafka
#: Exporter, JVM collectors, Prometheus itself), each with its upstream file in include/contracts/metrics.yaml.
CATALOGUE = load_catalogue()
UPSTREAM = {
    name
    for name, entry in CATALOGUE["metrics"].items()
    if not entry.get("mbean") and entry["exporter"] != "streaming-data-quality"
}
#: JMX exporter agent versions (0.x and 1.x name differently), as catalogued.
JMX_VERSION = {
    configmap: CATALOGUE["exporters"][exporter]["jmx_exporter"]["version"]
    for configmap, exporter in (
        ("kafka-metrics", "kafka-broker-jmx"),
        ("kafka-connect-jmx-exporter", "kafka-connect-jmx"),
    )
}
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def _manifests() -> list[Manifest]:
    return [m for phase in PHASES for plan in plan_phase(phase, PhaseOptions()) for m in plan.manifests]


MANIFESTS = _manifests()


def _dashboards() -> dict[str, dict[str, Any]]:
    out = {}
    for m in MANIFESTS:
        if m.kind == "ConfigMap" and m.body["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            for key, text in m.body["data"].items():
                out[f"{m.name}/{key}"] = json.loads(text)
    return out


DASHBOARDS = _dashboards()


def prometheus_exprs() -> dict[str, list[str]]:
    """PromQL of every panel whose datasource is Prometheus, per dashboard."""
    out: dict[str, list[str]] = {}
    for name, dash in DASHBOARDS.items():
        for panel in dash["panels"]:
            if panel.get("datasource", {}).get("type") == "prometheus":
                out.setdefault(name, []).extend(t["expr"] for t in panel.get("targets", []))
    return out


def metric_names(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, ``__name__`` regexes) of a PromQL expression."""
    patterns = set(re.findall(r'__name__\s*=~\s*"([^"]+)"', expr))
    text = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    text = re.sub(r'"[^"]*"', " ", text)  # strings
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function or an operator keyword
        names.add(word)
    return names, patterns


def _jmx_names(configmap: str, key: str, mbeans: list[str]) -> set[str]:
    return jmx_exporter_names(jmx_config(configmap, key), mbeans, JMX_VERSION[configmap])


def known_metrics() -> set[str]:
    return (
        _jmx_names("kafka-metrics", "kafka-metrics-config.yml", KAFKA_MBEANS)
        | _jmx_names("kafka-connect-jmx-exporter", "kafka-connect.yml", CONNECT_MBEANS)
        | UPSTREAM
        | DQ_CONTRACT
    )


def test_the_jmx_rule_emulation_is_not_vacuous() -> None:
    produced = _jmx_names("kafka-metrics", "kafka-metrics-config.yml", KAFKA_MBEANS)
    assert "kafka_server_brokertopicmetrics_messagesinpersec_rate1m" in produced
    assert "kafka_server_brokertopicmetrics_messagesin_rate1m" not in produced
    connect = _jmx_names("kafka-connect-jmx-exporter", "kafka-connect.yml", CONNECT_MBEANS)
    assert {
        "kafka_connect_connector_status",
        "kafka_connect_worker_rebalance_completed_rebalances_total",
        "kafka_connect_source_task_source_record_poll_rate",
    } <= connect
    assert metric_names('sum by (a) (rate(x_total{b="c"}[5m])) / on (a) y or time() - z')[0] == {"x_total", "y", "z"}


def test_every_dashboard_metric_is_exported_by_its_source() -> None:
    known = known_metrics()
    problems = []
    for dashboard, exprs in prometheus_exprs().items():
        for expr in exprs:
            names, patterns = metric_names(expr)
            problems += [f"{dashboard}: {name} in {expr}" for name in sorted(names - known)]
            for pattern in patterns:
                if not any(re.fullmatch(pattern, name) for name in known):
                    problems.append(f"{dashboard}: __name__=~{pattern!r} matches no known metric")
    assert not problems, "\n".join(problems)


def test_data_quality_panels_use_the_metric_contract() -> None:
    exprs = [e for es in prometheus_exprs().values() for e in es]
    assert not [e for e in exprs if "commodity_dq_" in e or 'job="data_quality"' in e]
    dq_exprs = [e for e in exprs if "streaming_dq_" in e]
    used = set().union(*(metric_names(e)[0] for e in dq_exprs))
    dq_used = {n for n in used if n.startswith("streaming_dq_")}
    assert dq_used <= DQ_CONTRACT, dq_used - DQ_CONTRACT
    assert dq_used == DQ_CONTRACT, f"contract metrics without a panel: {DQ_CONTRACT - dq_used}"
    for expr in dq_exprs:
        assert f'job="{DQ_JOB}"' in expr, expr
        for check in re.findall(r'check="([^"]+)"', expr):
            assert check in DQ_CHECKS, expr
    dq_dashboard = next(d for d in DASHBOARDS.values() if d["title"] == "Data quality")
    assert any("streaming_dq_check_success" in t["expr"] for p in dq_dashboard["panels"] for t in p["targets"])


def test_contract_matches_the_quality_package() -> None:
    """The contract above is the one the streaming_data_quality DAG pushes (its own module documents it)."""
    from commodity_platform.quality import metrics, settings

    assert set(metrics.HELP) >= DQ_CONTRACT, DQ_CONTRACT - set(metrics.HELP)
    assert settings.PUSH_JOB == DQ_JOB
    assert set(settings.CHECKS) == DQ_CHECKS


@pytest.mark.parametrize("bad", ['commodity_dq_checks_failed{job="data_quality"}', "kafka_connect_rebalance_total"])
def test_an_invented_metric_would_be_reported(bad: str) -> None:
    names, _ = metric_names(bad)
    assert names - known_metrics() == names

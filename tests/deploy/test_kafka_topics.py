"""Every Kafka topic the platform uses is declared as a KafkaTopic, and nothing else is.

Brokers run with ``auto.create.topics.enable=false``, so a topic that a connector, a Flink job or a Doris
routine load names but no KafkaTopic declares only shows up as a failing task at runtime. The references
are collected from their sources of truth:

* connector specs ``include/connectors/*.yaml``: ``topics``, ``kafka.topic``, dead-letter queues,
  ``iceberg.control.topic``, Debezium ``<topic.prefix>.<table>`` change topics, schema history and heartbeat
  topics;
* Doris routine loads ``include/sql/migrations/R__*.sql``: ``"kafka_topic"``;
* Flink jobs: the topics ``commodity_flink.connectors.ProductionSettings.from_env`` resolves from each
  FlinkDeployment's container environment (defaults included, e.g. the metadata topic of the enricher);
* Kafka Connect workers: their config/offset/status storage topics.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from commodity_platform.deploy.execution import plan_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES_BY_NAME
from commodity_platform.paths import CONNECTORS_DIR, INCLUDE_DIR, SQL_DIR

FLINK_DIR = INCLUDE_DIR / "flink"
DEBEZIUM_HEARTBEAT_PREFIX = "__debezium-heartbeat"  # Debezium's default heartbeat.topics.prefix


def _as_list(value: Any) -> list[str]:
    return [str(v).strip() for v in value] if isinstance(value, list) else [s.strip() for s in str(value).split(",")]


def connector_topics() -> dict[str, set[str]]:
    """Topic -> the connector specs that use it."""
    used: dict[str, set[str]] = {}
    for path in sorted(CONNECTORS_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        config = spec["config"]
        topics: list[str] = []
        for key in (
            "topics",
            "kafka.topic",
            "errors.deadletterqueue.topic.name",
            "iceberg.control.topic",
            "schema.history.internal.kafka.topic",
        ):
            if key in config:
                topics += _as_list(config[key])
        if "topic.prefix" in config:  # Debezium: one topic per captured table, plus heartbeats
            prefix = config["topic.prefix"]
            topics += [f"{prefix}.{table}" for table in _as_list(config["table.include.list"])]
            if int(config.get("heartbeat.interval.ms", 0)) > 0:
                topics.append(f"{config.get('heartbeat.topics.prefix', DEBEZIUM_HEARTBEAT_PREFIX)}.{prefix}")
            # Only the binlog-based connectors publish schema-change events (to the prefix itself).
            schema_changes = str(config.get("include.schema.changes", "true")).lower() == "true"
            if schema_changes and "MySqlConnector" in config["connector.class"]:
                topics.append(prefix)
        for topic in topics:
            used.setdefault(topic, set()).add(spec["name"])
    return used


def routine_load_topics() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in sorted(Path(SQL_DIR, "migrations").glob("R__*.sql")):
        for topic in re.findall(r'"kafka_topic"\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8")):
            used.setdefault(topic, set()).add(path.name)
    return used


def _plan(phase: str) -> list[Any]:
    return [m for plan in plan_phase(PHASES_BY_NAME[phase], PhaseOptions()) for m in plan.manifests]


def flink_topics() -> dict[str, set[str]]:
    sys.path.insert(0, str(FLINK_DIR))
    try:
        from commodity_flink.connectors import ProductionSettings
    finally:
        sys.path.remove(str(FLINK_DIR))
    used: dict[str, set[str]] = {}
    for manifest in _plan("flink-apps"):
        if manifest.kind != "FlinkDeployment":
            continue
        (container,) = manifest.body["spec"]["podTemplate"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        settings = ProductionSettings.from_env(env)
        for field in ("raw_topic", "enriched_topic", "alerts_topic", "metadata_topic"):
            used.setdefault(getattr(settings, field), set()).add(manifest.name)
    return used


def connect_worker_topics() -> dict[str, set[str]]:
    deployment = next(m for m in _plan("kafka-connect") if m.ref == "Deployment/kafka-connect")
    env = {e["name"]: e.get("value") for e in deployment.body["spec"]["template"]["spec"]["containers"][0]["env"]}
    return {env[k]: {"kafka-connect workers"} for k in env if re.fullmatch(r"CONNECT_\w+_STORAGE_TOPIC", k)}


def declared_topics() -> dict[str, tuple[str, dict[str, Any]]]:
    """Kafka topic name -> (source file, KafkaTopic spec)."""
    out = {}
    for manifest in [*_plan("kafka"), *_plan("kafka-connect")]:
        if manifest.kind == "KafkaTopic":
            spec = manifest.body["spec"]
            out[spec.get("topicName", manifest.name)] = (manifest.source, spec)
    return out


def all_references() -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {}
    for part in (connector_topics(), routine_load_topics(), flink_topics(), connect_worker_topics()):
        for topic, users in part.items():
            refs.setdefault(topic, set()).update(users)
    return refs


def test_references_are_collected_from_every_source() -> None:
    refs = all_references()
    # One witness per source, so a collector that silently finds nothing fails here.
    assert "dlq-cp-sink-doris-realtime" in refs  # connector DLQ
    assert "cdc.postgres.public.trading_calendar" in refs  # Debezium table topic
    assert "commodity-prices-enriched" in routine_load_topics()
    assert flink_topics()["commodity-metadata"] == {"data-enricher", "price-aggregator", "anomaly-detector"}
    assert "connect-offsets" in refs


def test_every_referenced_topic_is_declared() -> None:
    declared = declared_topics()
    missing = {topic: sorted(users) for topic, users in all_references().items() if topic not in declared}
    assert not missing, f"topics used but not declared as KafkaTopic: {missing}"


def test_every_declared_topic_is_used() -> None:
    refs = all_references()
    unused = sorted(topic for topic in declared_topics() if topic not in refs and topic != "_schemas")
    assert not unused, f"KafkaTopics nobody reads or writes: {unused}"


def test_topics_are_replicated_for_durability() -> None:
    for topic, (source, spec) in declared_topics().items():
        assert spec["replicas"] == 3, (topic, source)
        assert int(spec["config"]["min.insync.replicas"]) == 2, (topic, source)


@pytest.mark.parametrize(
    ("topic", "policy"),
    [
        ("commodity-metadata", "compact"),  # the enricher's temporal join needs the latest version per key
        ("cdc.mysql.trading.orders", "compact"),
        ("cdc.mysql.schema-history", "delete"),  # Debezium refuses a compacted history topic
        ("dlq-cp-sink-s3-archive", "delete"),
    ],
)
def test_cleanup_policies(topic: str, policy: str) -> None:
    assert declared_topics()[topic][1]["config"]["cleanup.policy"] == policy


def test_schema_history_topic_keeps_everything_in_one_partition() -> None:
    spec = declared_topics()["cdc.mysql.schema-history"][1]
    assert spec["partitions"] == 1
    assert int(spec["config"]["retention.ms"]) == -1 and int(spec["config"]["retention.bytes"]) == -1


def test_dead_letter_topics_match_the_connectors_that_name_them() -> None:
    dlqs = {t for t in declared_topics() if t.startswith("dlq-") or t.endswith("-dlq")}
    named = {
        yaml.safe_load(p.read_text())["config"].get("errors.deadletterqueue.topic.name")
        for p in CONNECTORS_DIR.glob("*.yaml")
    } - {None}
    assert dlqs == named

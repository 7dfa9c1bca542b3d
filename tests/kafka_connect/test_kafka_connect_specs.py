"""Spec files: the repository's specs are complete and secret-free; bad specs are refused clearly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from commodity_platform.errors import ConfigError
from commodity_platform.kafka_connect.specs import (
    MANAGED_PREFIX,
    REFERENCE_RE,
    desired_config_diff,
    format_diff,
    is_reference,
    is_secret_key,
    load_specs,
    mask_value,
    plaintext_secret_problem,
)

PLATFORM_TOPICS = {"commodity-prices-raw", "commodity-prices-enriched", "market-alerts", "weather-events"}


@pytest.fixture(scope="module")
def repo_specs():
    return load_specs()


def test_repo_has_a_spec_for_every_platform_connector(repo_specs) -> None:
    classes = [s.connector_class for s in repo_specs]
    # three HTTP pollers (EIA, FRED, NOAA), two Debezium CDC sources, five sinks
    assert classes.count("com.github.castorm.kafka.connect.http.HttpSourceConnector") == 3
    assert {
        "io.debezium.connector.postgresql.PostgresConnector",
        "io.debezium.connector.mysql.MySqlConnector",
        "org.apache.iceberg.connect.IcebergSinkConnector",
        "org.apache.doris.kafka.connector.DorisSinkConnector",
        "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "io.confluent.connect.s3.S3SinkConnector",
        "io.confluent.connect.jdbc.JdbcSinkConnector",
    } <= set(classes)
    urls = " ".join(s.config.get("http.request.url", "") for s in repo_specs)
    for api in ("api.eia.gov", "api.stlouisfed.org", "ncei.noaa.gov"):
        assert api in urls


def test_repo_specs_follow_platform_conventions(repo_specs) -> None:
    produced = {s.config["kafka.topic"] for s in repo_specs if "kafka.topic" in s.config}
    assert produced == {"commodity-prices-raw", "weather-events"}
    consumed = set()
    for spec in repo_specs:
        assert spec.name.startswith(MANAGED_PREFIX)
        assert spec.state in ("running", "paused", "stopped")
        assert int(spec.config["tasks.max"]) >= 1
        assert spec.config["name"] == spec.name
        if "topics" in spec.config:  # sinks: tolerate bad records only with a dead-letter queue
            consumed |= set(spec.config["topics"].split(","))
            assert spec.config["errors.tolerance"] == "all"
            assert spec.config["errors.deadletterqueue.topic.name"].startswith("dlq-")
    assert consumed >= PLATFORM_TOPICS
    doris = next(s for s in repo_specs if "Doris" in s.connector_class)
    assert doris.config["doris.database"] == "commodity_realtime"
    tables = {pair.split(":")[1] for pair in doris.config["doris.topic2table.map"].split(",")}
    # The tables no Routine Load feeds (one loader per table: tests/contracts/test_topics.py).
    assert tables == {"price_1min_agg", "trading_signals"}
    s3 = next(s for s in repo_specs if "S3Sink" in s.connector_class)
    assert s3.config["partitioner.class"].endswith("TimeBasedPartitioner")


def test_repo_specs_hold_no_plaintext_secret(repo_specs) -> None:
    secret_keys = 0
    for spec in repo_specs:
        for key, value in spec.config.items():
            assert plaintext_secret_problem(key, value) is None, (spec.name, key)
            if is_secret_key(key):
                secret_keys += 1
                assert is_reference(value), (spec.name, key)
    assert secret_keys >= 7  # every database / Doris / Elasticsearch / MinIO password is a reference
    # the API keys of the HTTP sources are references inside the request parameters / headers
    for name in ("cp-source-eia-prices", "cp-source-fred-prices", "cp-source-noaa-weather"):
        spec = next(s for s in repo_specs if s.name == name)
        refs = [m.group(0) for v in spec.config.values() for m in REFERENCE_RE.finditer(v)]
        assert refs, name


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return tmp_path


GOOD = """\
    name: cp-sink-test
    state: running
    config:
      connector.class: io.confluent.connect.jdbc.JdbcSinkConnector
      tasks.max: 2
      topics: [market-alerts, weather-events]
      auto.create: false
      connection.url: jdbc:postgresql://db:5432/ops
      connection.password: ${file:/opt/kafka/secrets/db.properties:password}
    """


def test_good_spec_is_normalised_to_connect_strings(tmp_path: Path) -> None:
    (spec,) = load_specs(_write(tmp_path, "cp-sink-test", GOOD))
    assert spec.config["tasks.max"] == "2"
    assert spec.config["topics"] == "market-alerts,weather-events"
    assert spec.config["auto.create"] == "false"
    assert spec.config["name"] == "cp-sink-test"
    assert spec.connect_state == "RUNNING"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  connector.class: io.confluent.connect.jdbc.JdbcSinkConnector\n",
            "",
            "config key 'connector.class' is missing",
        ),
        (
            "${file:/opt/kafka/secrets/db.properties:password}",
            "hunter2-plaintext",
            "config key 'connection.password' holds a plaintext secret",
        ),
        (
            "jdbc:postgresql://db:5432/ops",
            "jdbc:postgresql://db:5432/ops?user=a&password=hunter2-plaintext",
            "config key 'connection.url' holds a plaintext secret",
        ),
        ("${file:", "${vault:", "unknown config provider 'vault'"),
        ("state: running", "state: started", "key 'state': 'started' is not one of"),
        ("name: cp-sink-test", "name: sink-test", "must start with the managed prefix"),
        ("tasks.max: 2", "tasks.max: 0", "config key 'tasks.max': '0' must be a positive integer"),
        ("auto.create: false", "auto.create:", "config key 'auto.create' has no value"),
        ("auto.create: false", "auto.create: {a: 1}", "config key 'auto.create' must be a string"),
        ("state: running", "state: running\nstatus: running", "unknown top-level key(s) ['status']"),
        ("auto.create: false", "auto.create: false\n  auto.create: true", "duplicate key 'auto.create'"),
        (
            "tasks.max: 2",
            "tasks.max: 2\n  errors.tolerance: all",
            "'errors.deadletterqueue.topic.name' is required",
        ),
    ],
)
def test_bad_spec_is_refused_naming_file_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    body = textwrap.dedent(GOOD)
    assert old in body
    (tmp_path / "cp-sink-test.yaml").write_text(body.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_specs(tmp_path)
    message = str(info.value)
    assert "cp-sink-test.yaml" in message
    assert expected in message
    assert "hunter2-plaintext" not in message  # the refused value is never echoed


def test_name_must_match_file_and_be_unique(tmp_path: Path) -> None:
    _write(tmp_path, "cp-other-name", GOOD)
    with pytest.raises(ConfigError, match=r"cp-other-name.yaml: key 'name': 'cp-sink-test' must equal"):
        load_specs(tmp_path)


def test_subset_with_unknown_name_and_empty_dir_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no connector spec files"):
        load_specs(tmp_path)
    _write(tmp_path, "cp-sink-test", GOOD)
    with pytest.raises(ConfigError, match=r"param 'connectors': no spec for \['cp-nope'\]"):
        load_specs(tmp_path, only=["cp-nope"])
    assert [s.name for s in load_specs(tmp_path, only=["cp-sink-test"])] == ["cp-sink-test"]


def test_invalid_yaml_names_file(tmp_path: Path) -> None:
    (tmp_path / "cp-broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cp-broken.yaml: not valid YAML"):
        load_specs(tmp_path)


@pytest.mark.parametrize(
    ("key", "value", "refused"),
    [
        ("sasl.jaas.config", 'PlainLoginModule required username="u" password="p1";', True),
        (
            "sasl.jaas.config",
            'PlainLoginModule required username="u" password="${file:/s.properties:pw}";',
            False,
        ),
        ("value.converter.basic.auth.user.info", "user:pw", True),
        ("value.converter.basic.auth.user.info", "${env:SR_USER_INFO}", False),
        ("http.request.headers", "Authorization: Bearer abc123", True),
        ("http.request.headers", "Authorization: Bearer ${env:TOKEN}", False),
        ("http.request.headers", "token: abc123", True),
        ("connection.url", "https://user:pw@es:9200", True),
        ("connection.url", "https://user:${env:ES_PW}@es:9200", False),
        ("ssl.truststore.password", "changeit", True),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp/token", False),
        ("ssl.keystore.type", "PKCS12", False),
        ("key.converter", "org.apache.kafka.connect.storage.StringConverter", False),
        ("api.key", "${env::EIA_API_KEY}", False),
    ],
)
def test_secret_detection(key: str, value: str, refused: bool) -> None:
    assert (plaintext_secret_problem(key, value) is not None) is refused


def test_diff_masks_secrets_but_shows_references() -> None:
    live = {"connection.password": "hunter2", "topics": "a", "gone": "x"}
    desired = {"connection.password": "${env:PW}", "topics": "a,b", "new": "y"}
    diff = desired_config_diff(desired, live)
    assert [k for k, _, _ in diff] == ["connection.password", "gone", "new", "topics"]
    text = "\n".join(format_diff(diff))
    assert "hunter2" not in text
    assert "~ connection.password: *** -> ${env:PW}" in text
    assert "- gone = x" in text
    assert "+ new = y" in text
    assert mask_value("http.request.params", "api_key=abc") == "***"


# Debezium config keys removed upstream, with the release that removed them. An unknown key is not an error for
# Connect or Debezium: it is ignored, and the connector silently runs with the default behaviour instead.
#   * ExtractNewRecordState drop.tombstones / delete.handling.mode: removed in 3.2.0.Final by DBZ-6068
#     (debezium/debezium commit dbaedd7590 "DBZ-6068 Remove deprecated delete/tombstone config options",
#     debezium-core/.../transforms/ExtractNewRecordStateConfigDefinition.java; replacement
#     delete.tombstone.handling.mode = drop | tombstone | rewrite | rewrite-with-tombstone | delete-to-tombstone).
#   * database.server.name and database.history.* : gone since 2.0.0.Final (replaced by topic.prefix and
#     schema.history.internal.*; absent from every */src/main/java of tags v2.0.0.Final .. v3.2.6.Final).
DEBEZIUM_REMOVED_SMT_KEYS = {"drop.tombstones": (3, 2), "delete.handling.mode": (3, 2)}
DEBEZIUM_REMOVED_CONNECTOR_KEYS = {"database.server.name": (2, 0)}
DEBEZIUM_REMOVED_CONNECTOR_PREFIXES = {"database.history.": (2, 0)}
EXTRACT_NEW_RECORD_STATE = "io.debezium.transforms.ExtractNewRecordState"


def _pinned_debezium_version() -> tuple[int, int]:
    """Major.minor of the Debezium plugins the Connect image installs (include/contracts/artifacts.yaml)."""
    import yaml

    from commodity_platform.paths import INCLUDE_DIR

    def walk(node: object):
        if isinstance(node, dict):
            if str(node.get("name", "")).startswith("debezium-connector-"):
                yield str(node["version"])
            for child in node.values():
                yield from walk(child)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    versions = set(walk(yaml.safe_load((INCLUDE_DIR / "contracts" / "artifacts.yaml").read_text(encoding="utf-8"))))
    assert len(versions) == 1, f"Debezium plugins pinned at several versions: {versions}"
    major, minor = versions.pop().split(".")[:2]
    return int(major), int(minor)


def removed_debezium_keys(config: dict[str, str], pinned: tuple[int, int]) -> list[str]:
    """Keys of a connector config that the pinned Debezium line no longer has."""
    found = [k for k, since in DEBEZIUM_REMOVED_CONNECTOR_KEYS.items() if k in config and pinned >= since]
    found += [
        k
        for k in config
        for prefix, since in DEBEZIUM_REMOVED_CONNECTOR_PREFIXES.items()
        if k.startswith(prefix) and pinned >= since
    ]
    for alias in [a.strip() for a in config.get("transforms", "").split(",") if a.strip()]:
        if config.get(f"transforms.{alias}.type") == EXTRACT_NEW_RECORD_STATE:
            found += [
                f"transforms.{alias}.{key}"
                for key, since in DEBEZIUM_REMOVED_SMT_KEYS.items()
                if f"transforms.{alias}.{key}" in config and pinned >= since
            ]
    return found


def test_debezium_specs_use_no_key_removed_in_the_pinned_release(repo_specs) -> None:
    pinned = _pinned_debezium_version()
    assert pinned >= (3, 2), pinned  # the Connect image installs Debezium 3.2+ (artifacts.yaml)
    debezium = [s for s in repo_specs if s.connector_class.startswith("io.debezium.")]
    assert len(debezium) == 2
    for spec in debezium:
        assert removed_debezium_keys(spec.config, pinned) == [], spec.name
        assert spec.config["transforms.unwrap.delete.tombstone.handling.mode"] == "rewrite-with-tombstone"


def test_removed_debezium_keys_are_found() -> None:
    old = {
        "database.server.name": "cdc",
        "database.history.kafka.topic": "h",
        "transforms": "unwrap",
        "transforms.unwrap.type": EXTRACT_NEW_RECORD_STATE,
        "transforms.unwrap.drop.tombstones": "false",
    }
    assert removed_debezium_keys(old, (3, 2)) == [
        "database.server.name",
        "database.history.kafka.topic",
        "transforms.unwrap.drop.tombstones",
    ]
    assert removed_debezium_keys(old, (3, 1)) == ["database.server.name", "database.history.kafka.topic"]

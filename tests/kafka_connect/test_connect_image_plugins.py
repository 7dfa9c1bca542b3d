"""The Connect emulator serves the plugins of the Connect image build, so a missing plugin fails as in production.

The plugin list comes from include/contracts/artifacts.yaml (kafka_connect), which
tests/contracts/test_artifacts.py keeps equal to what include/kafka-connect/Dockerfile installs. Removing a
plugin from that build makes the reconcile of the connectors that need it fail, the way a real worker of that
image would refuse them (Apache Kafka 3.9: Plugins.connectorClass -> ConnectException -> HTTP 500 "Failed to
find any class that implements Connector and which name matches ..."; a missing transform is ConfigDef's
"Class ... could not be found.").
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from commodity_platform.artifacts import connect_image, load_catalogue
from commodity_platform.errors import PermanentError
from commodity_platform.kafka_connect.hook import KafkaConnectHook
from commodity_platform.kafka_connect.reconcile import reconcile_all
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR, load_specs
from sandbox.connect_emulator import ConnectEmulator
from tests.kafka_connect.conftest import CONN_ENV, conn_json

FAST = {"poll_interval": 0, "wait_timeout": 30, "max_restarts": 3}


def _without_plugin(name: str) -> dict[str, Any]:
    """The catalogue as if the image build no longer installed plugin ``name``."""
    data = copy.deepcopy(load_catalogue())
    plugins = data["kafka_connect"]["plugins"]
    kept = [p for p in plugins if p["name"] != name]
    assert len(kept) == len(plugins) - 1, f"no plugin {name} in the catalogue"
    data["kafka_connect"]["plugins"] = kept
    return data


@pytest.fixture
def hook_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``hook_for(emulator)``: a hook on kafka_connect_default pointing at that emulator (no retry waits)."""
    hooks: list[KafkaConnectHook] = []

    def make(emulator: ConnectEmulator) -> KafkaConnectHook:
        monkeypatch.setenv(CONN_ENV, conn_json(emulator))
        hook = KafkaConnectHook(retries=2, backoff_seconds=0, max_backoff_seconds=0)
        hooks.append(hook)
        return hook

    yield make
    for hook in hooks:
        hook.close()


def test_the_emulator_serves_exactly_the_image_build_plugins() -> None:
    image = connect_image()
    with ConnectEmulator() as emu:
        served = httpx.get(f"{emu.url}/connector-plugins", params={"connectorsOnly": "true"}).json()
    assert sorted((p["class"], p["type"], p["version"]) for p in served) == sorted(
        (c.cls, c.type, c.version) for c in image.connectors
    )
    classes = {p["class"] for p in served}
    # Every spec's connector is there, and nothing the image does not install (no FileStream demo connectors).
    assert {s.connector_class for s in load_specs(CONNECTORS_DIR)} <= classes
    assert "org.apache.kafka.connect.file.FileStreamSinkConnector" not in classes
    assert ("io.debezium.connector.postgresql.PostgresConnector", "3.2.6.Final") in {
        (p["class"], p["version"]) for p in served
    }


def test_every_spec_reconciles_on_a_worker_of_the_image(hook_for: Any) -> None:
    with ConnectEmulator() as emu:
        report = reconcile_all(hook_for(emu), specs_dir=CONNECTORS_DIR, **FAST)
    assert {r.final_state for r in report.results} == {"RUNNING"}
    assert len(report.results) == len(load_specs(CONNECTORS_DIR))


def test_a_connector_class_missing_from_the_image_is_refused_as_connect_does() -> None:
    image = connect_image(_without_plugin("debezium-connector-postgres"))
    spec = {s.name: s for s in load_specs(CONNECTORS_DIR)}["cp-source-postgres-cdc"]
    with ConnectEmulator(image=image) as emu:
        validate = httpx.put(
            f"{emu.url}/connector-plugins/{spec.connector_class}/config/validate", json=dict(spec.config)
        )
        create = httpx.put(f"{emu.url}/connectors/{spec.name}/config", json=dict(spec.config))
    for response in (validate, create):
        assert response.status_code == 500
        body = response.json()
        assert body["error_code"] == 500
        assert body["message"].startswith(
            "Failed to find any class that implements Connector and which name matches "
            "io.debezium.connector.postgresql.PostgresConnector, available connectors are: PluginDesc{klass=class "
        )
        assert "io.debezium.connector.mysql.MySqlConnector" in body["message"]  # the rest of the image is there


def test_removing_a_plugin_from_the_build_fails_the_reconcile(hook_for: Any) -> None:
    image = connect_image(_without_plugin("debezium-connector-postgres"))
    with ConnectEmulator(image=image) as emu, pytest.raises(PermanentError) as failure:
        reconcile_all(hook_for(emu), specs_dir=CONNECTORS_DIR, **FAST)
    message = str(failure.value)
    assert "1 connector(s) failed to reconcile" in message
    assert "cp-source-postgres-cdc" in message
    assert "'io.debezium.connector.postgresql.PostgresConnector' is not installed on the Connect cluster" in message
    # The connectors whose plugins the image has were still created; the one without stays absent.
    assert "cp-source-postgres-cdc" not in emu.connectors
    assert "cp-source-mysql-cdc" in emu.connectors


def test_removing_a_transform_plugin_from_the_build_fails_validation(hook_for: Any) -> None:
    """cp-sink-jdbc-operational uses FromJson (jcustenborder/kafka-connect-json-schema); without that plugin
    the worker's ConfigDef cannot load transforms.fromJson.type."""
    image = connect_image(_without_plugin("jcustenborder-kafka-connect-json-schema"))
    with ConnectEmulator(image=image) as emu, pytest.raises(PermanentError) as failure:
        reconcile_all(hook_for(emu), specs_dir=CONNECTORS_DIR, only=["cp-sink-jdbc-operational"], **FAST)
    assert (
        "transforms.fromJson.type: Invalid value com.github.jcustenborder.kafka.connect.json.FromJson$Value for "
        "configuration transforms.fromJson.type: Class com.github.jcustenborder.kafka.connect.json.FromJson$Value "
        "could not be found."
    ) in str(failure.value)
    assert emu.connectors == {}


def test_debezium_transform_comes_with_the_debezium_plugins() -> None:
    """ExtractNewRecordState ships inside the Debezium connector archives: without both, no worker has it."""
    data = _without_plugin("debezium-connector-postgres")
    assert connect_image(data).has_class("io.debezium.transforms.ExtractNewRecordState")  # mysql still has it
    data["kafka_connect"]["plugins"] = [p for p in data["kafka_connect"]["plugins"] if "debezium" not in p["name"]]
    assert not connect_image(data).has_class("io.debezium.transforms.ExtractNewRecordState")


def test_a_kafka_transform_the_worker_does_not_have_is_a_field_error() -> None:
    """Kafka's own transforms are listed class by class (apache/kafka 3.9), so a misspelt one is refused too."""
    config = {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "connection.url": "jdbc:postgresql://db/x",
        "transforms": "a,b",
        "transforms.a.type": "org.apache.kafka.connect.transforms.InsertHeader",
        "transforms.b.type": "org.apache.kafka.connect.transforms.InsertFields$Value",
    }
    with ConnectEmulator() as emu:
        body = httpx.put(f"{emu.url}/connector-plugins/JdbcSinkConnector/config/validate", json=config).json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"] if c["value"]["errors"]}
    assert errors == {
        "transforms.b.type": [
            "Invalid value org.apache.kafka.connect.transforms.InsertFields$Value for configuration "
            "transforms.b.type: Class org.apache.kafka.connect.transforms.InsertFields$Value could not be found."
        ]
    }

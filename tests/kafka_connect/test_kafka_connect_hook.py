"""KafkaConnectHook against the emulator over real HTTP: retry policy, error messages, auth hygiene."""

from __future__ import annotations

import logging
import socket

import pytest

from commodity_platform.errors import PermanentError, TemporaryError
from commodity_platform.kafka_connect.hook import (
    ConnectorAlreadyExists,
    ConnectorNotFound,
    KafkaConnectError,
    KafkaConnectHook,
    KafkaConnectTemporaryError,
)
from sandbox.connect_emulator import ConnectEmulator
from tests.kafka_connect.conftest import CONN_ENV, conn_json

CONFIG = {"connector.class": "FileStreamSink", "tasks.max": "1", "file": "/tmp/out.txt", "topics": "t"}


def test_provider_style_attributes() -> None:
    assert KafkaConnectHook.conn_name_attr == "kafka_connect_conn_id"
    assert KafkaConnectHook.default_conn_name == "kafka_connect_default"
    assert KafkaConnectHook.conn_type == "kafka_connect"  # registered by commodity_platform.provider_info
    assert KafkaConnectHook.hook_name == "Kafka Connect"


def test_test_connection_reports_version(hook: KafkaConnectHook) -> None:
    ok, message = hook.test_connection()
    assert ok, message
    assert message.startswith("Kafka Connect 3.9.0")


def test_put_config_201_then_200(hook: KafkaConnectHook, emulator: ConnectEmulator) -> None:
    assert hook.put_config("cp-file", CONFIG) is True
    assert hook.put_config("cp-file", CONFIG) is False
    assert [r.status for r in emulator.requests("PUT")] == [201, 200]
    assert hook.get_connector("cp-file")["config"]["file"] == "/tmp/out.txt"


def test_rebalance_409_is_retried_until_it_clears(
    hook: KafkaConnectHook, emulator: ConnectEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.begin_rebalance(requests=2)
    with caplog.at_level(logging.WARNING):
        assert hook.put_config("cp-file", CONFIG) is True
    assert [r.status for r in emulator.requests("PUT")] == [409, 409, 201]
    assert "attempt 1/4" in caplog.text
    assert "attempt 2/4" in caplog.text
    assert "stale configuration" in caplog.text  # Connect's message is quoted


def test_5xx_retries_are_bounded_and_quote_connect_message(
    hook: KafkaConnectHook, emulator: ConnectEmulator
) -> None:
    emulator.inject_error(503, count=10, path_contains="/connectors", message="Worker is shutting down")
    with pytest.raises(KafkaConnectTemporaryError) as info:
        hook.list_connector_names()
    assert isinstance(info.value, TemporaryError)
    assert "HTTP 503: Worker is shutting down" in str(info.value)
    assert len(emulator.requests("GET", path_contains="/connectors")) == 4  # retries=4


def test_404_and_400_fail_at_once(hook: KafkaConnectHook, emulator: ConnectEmulator) -> None:
    with pytest.raises(ConnectorNotFound, match="HTTP 404: Connector cp-missing not found"):
        hook.get_status("cp-missing")
    bad = {**CONFIG, "name": "other"}
    with pytest.raises(KafkaConnectError) as info:
        hook.put_config("cp-file", bad)
    assert info.value.status == 400
    assert "doesn't match connector name in the URL" in info.value.connect_message
    assert isinstance(info.value, PermanentError)
    assert len(emulator.requests()) == 2  # one request each, no retries


def test_post_existing_connector_is_not_mistaken_for_a_rebalance(
    hook: KafkaConnectHook, emulator: ConnectEmulator
) -> None:
    hook.put_config("cp-file", CONFIG)
    with pytest.raises(ConnectorAlreadyExists):
        hook.create_connector("cp-file", CONFIG, initial_state="PAUSED")
    assert len(emulator.requests("POST")) == 1


def test_connection_refused_is_temporary(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(CONN_ENV, f"http://127.0.0.1:{port}")
    with KafkaConnectHook(retries=3, backoff_seconds=0) as hook:
        with pytest.raises(KafkaConnectTemporaryError, match="ConnectError"):
            hook.server_info()
        assert hook.request_counts == {"GET": 3}
        ok, message = hook.test_connection()
        assert not ok
        assert "ConnectError" in message


def test_basic_auth_from_connection_and_never_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-connect-pw"
    with ConnectEmulator(auth=("airflow", secret)) as emu:
        monkeypatch.setenv(CONN_ENV, conn_json(emu, login="airflow", password="wrong-password"))
        with (
            KafkaConnectHook(retries=2, backoff_seconds=0) as hook,
            caplog.at_level(logging.DEBUG),
            pytest.raises(KafkaConnectError, match="HTTP 401: User cannot access the resource"),
        ):
            hook.server_info()
        monkeypatch.setenv(CONN_ENV, conn_json(emu, login="airflow", password=secret))
        with KafkaConnectHook(retries=2, backoff_seconds=0) as hook, caplog.at_level(logging.DEBUG):
            emu.begin_rebalance(1)
            assert hook.list_connector_names() == []
        assert [r.status for r in emu.requests()] == [401, 409, 200]
    assert secret not in caplog.text
    assert "wrong-password" not in caplog.text

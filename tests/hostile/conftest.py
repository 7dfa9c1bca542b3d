"""Fixtures of the hostile-input catalogue: the deploy tests' Kubernetes emulator, a Kafka Connect emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from commodity_platform.kafka_connect.hook import KafkaConnectHook
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR
from sandbox.connect_emulator import ConnectEmulator
from tests.deploy.conftest import api_client_for, make_emulator  # noqa: F401  (fixtures re-used)
from tests.ohlc.conftest import connect_db, db  # noqa: F401  (fixtures re-used)

CONNECT_CONN_ENV = "AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT"


@pytest.fixture
def connect_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectEmulator]:
    with ConnectEmulator() as emulator:
        connection = {"conn_type": "http", "host": "127.0.0.1", "port": emulator.port, "schema": "http",
                      "extra": {"timeout": 10}}
        monkeypatch.setenv(CONNECT_CONN_ENV, json.dumps(connection))
        yield emulator


@pytest.fixture
def connect_hook(connect_emulator: ConnectEmulator) -> Iterator[KafkaConnectHook]:
    with KafkaConnectHook(retries=3, backoff_seconds=0, max_backoff_seconds=0) as hook:
        yield hook


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """A private copy of the repository's connector specs (cases add or break one)."""
    target = tmp_path / "connectors"
    target.mkdir()
    for spec in CONNECTORS_DIR.glob("*.yaml"):
        (target / spec.name).write_text(spec.read_text(encoding="utf-8"), encoding="utf-8")
    return target

"""Fixtures for the Kafka Connect tests: an emulator on a free loopback port and a hook pointing at it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Airflow reads its configuration at import time; set a private home before anything imports it.
# setdefault: a shared tests/conftest.py that already configured Airflow wins.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kc-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).resolve().parents[2] / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(Path(__file__).resolve().parents[2] / "plugins"))

import pytest

from commodity_platform.kafka_connect.hook import KafkaConnectHook
from commodity_platform.kafka_connect.reconcile import ConnectorReconciler
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR
from sandbox.connect_emulator import FILESTREAM_PLUGINS, ConnectEmulator, image_plugins

CONN_ENV = "AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT"


def conn_json(emulator: ConnectEmulator, *, login: str | None = None, password: str | None = None) -> str:
    """Airflow connection (JSON form) for the emulator."""
    conn: dict[str, object] = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": emulator.port,
        "schema": "http",
        "extra": {"timeout": 10},
    }
    if login:
        conn["login"] = login
        conn["password"] = password
    return json.dumps(conn)


@pytest.fixture
def emulator() -> Iterator[ConnectEmulator]:
    """A worker of the platform's Connect image (plugins from include/contracts/artifacts.yaml) whose
    plugin.path also lists Kafka's FileStream demo connectors, which the generic tests use as a connector
    without external systems."""
    with ConnectEmulator((*image_plugins(), *FILESTREAM_PLUGINS)) as emu:
        yield emu


@pytest.fixture
def hook(emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[KafkaConnectHook]:
    monkeypatch.setenv(CONN_ENV, conn_json(emulator))
    # backoff 0: retries happen immediately, the tests count them instead of timing them
    with KafkaConnectHook(retries=4, backoff_seconds=0, max_backoff_seconds=0) as h:
        yield h


@pytest.fixture
def reconciler(hook: KafkaConnectHook) -> ConnectorReconciler:
    return ConnectorReconciler(hook, poll_interval=0, max_restarts=3, wait_timeout=30)


@pytest.fixture
def specs_dir(tmp_path: Path) -> Path:
    """A private copy of the repository's spec files, for tests that edit or add specs."""
    target = tmp_path / "connectors"
    target.mkdir()
    for spec in CONNECTORS_DIR.glob("*.yaml"):
        shutil.copy(spec, target / spec.name)
    return target

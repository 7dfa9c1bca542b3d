"""The connection form and its Test button on the real Airflow (issue 15 #6): the api-server knows the
project's ``doris`` and ``kafka_connect`` connection types from the installed distribution's provider info
(``GET /ui/connections/hook_meta``, what the form is built from), and ``POST /api/v2/connections/test`` (the
Test button; ``[core] test_connection = Enabled`` in the sandbox) runs each hook's ``test_connection``."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test(live_airflow: Any, **body: Any) -> dict[str, Any]:
    return live_airflow.request("POST", "/api/v2/connections/test", json=body).json()


def test_the_form_lists_both_types_with_their_fields(live_airflow) -> None:
    meta = {entry["connection_type"]: entry for entry in live_airflow.get("/ui/connections/hook_meta")}
    assert meta["doris"]["hook_class_name"] == "commodity_platform.doris.hook.DorisHook"
    assert meta["doris"]["hook_name"] == "Apache Doris"
    assert meta["doris"]["standard_fields"]["url_schema"]["title"] == "Database"
    assert meta["kafka_connect"]["hook_class_name"] == "commodity_platform.kafka_connect.hook.KafkaConnectHook"
    assert set(meta["kafka_connect"]["extra_fields"]) == {"timeout", "verify", "base_path"}


def test_the_test_button_for_kafka_connect_and_doris(live_airflow, emulators, sandbox) -> None:
    connect = {"conn_type": "kafka_connect", "host": "127.0.0.1", "schema": "http"}
    ok = _test(live_airflow, connection_id="e2e_test_kafka_connect", port=emulators.connect.port, **connect)
    assert ok["status"] is True, ok
    assert ok["message"].startswith("Kafka Connect 3.9.0")
    wrong = _free_port()
    failed = _test(live_airflow, connection_id="e2e_test_kafka_connect", port=wrong, **connect)
    assert failed["status"] is False
    assert f"cannot reach Kafka Connect at http://127.0.0.1:{wrong}" in failed["message"]

    stored = json.loads(sandbox.connection_env()["AIRFLOW_CONN_DORIS_DEFAULT"])
    doris = {"conn_type": "doris", **{k: stored[k] for k in ("host", "login", "password")}}
    ok = _test(live_airflow, connection_id="e2e_test_doris", port=stored["port"], **doris)
    assert ok["status"] is True, ok
    assert ok["message"].startswith(f"connected to 127.0.0.1:{stored['port']}: ")
    failed = _test(live_airflow, connection_id="e2e_test_doris", port=wrong, **doris)
    assert failed["status"] is False
    assert failed["message"].startswith(f"cannot query 127.0.0.1:{wrong}: ")
    assert stored["password"] not in failed["message"]

"""The project's connection types, registered the Airflow way (issue 15 #6): the ``apache_airflow_provider``
entry point of the installed distribution (pyproject.toml, installed editable by scripts/setup.sh) gives
``doris`` -> DorisHook and ``kafka_connect`` -> KafkaConnectHook with their form fields, and each hook's
``test_connection`` (the UI's Test button) answers (True, what answered) or (False, what failed and where)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from commodity_platform.provider_info import DISTRIBUTION_NAME, get_provider_info
from sandbox.connect_emulator import ConnectEmulator

ROOT = Path(__file__).resolve().parents[2]

# Run in a clean interpreter: no PYTHONPATH, no project plugins folder, a private AIRFLOW_HOME, started outside
# the project, so only the installed distribution can make the types known (as for an API server or worker).
_LIST_TYPES = textwrap.dedent(
    """
    import json, warnings
    warnings.simplefilter("ignore")
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    out = {"providers": sorted(pm.providers), "hooks": {}, "widgets": {}, "behaviours": {}}
    for conn_type in ("doris", "kafka_connect"):
        info = pm.hooks[conn_type]
        out["hooks"][conn_type] = [info.hook_class_name, info.connection_id_attribute_name, info.hook_name]
        out["behaviours"][conn_type] = pm.field_behaviours.get(conn_type)
    out["widgets"] = {k: v.field for k, v in pm.connection_form_widgets.items()
                      if k.startswith(("extra__doris__", "extra__kafka_connect__"))}
    try:
        import sandbox  # noqa: F401
        out["sandbox_importable"] = True
    except ImportError:
        out["sandbox_importable"] = False
    print("RESULT=" + json.dumps(out))
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("provider-home")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "AIRFLOW_HOME": str(home),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run([sys.executable, "-c", _LIST_TYPES], cwd=home, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT=")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT="))


def test_the_installed_distribution_registers_both_connection_types(registered: dict[str, Any]) -> None:
    assert DISTRIBUTION_NAME in registered["providers"]
    assert registered["hooks"] == {
        "doris": ["commodity_platform.doris.hook.DorisHook", "doris_conn_id", "Apache Doris"],
        "kafka_connect": ["commodity_platform.kafka_connect.hook.KafkaConnectHook", "kafka_connect_conn_id",
                          "Kafka Connect"],
    }


def test_the_connection_forms_get_their_fields(registered: dict[str, Any]) -> None:
    widgets = registered["widgets"]
    assert set(widgets) == {"extra__doris__charset", "extra__kafka_connect__timeout",
                            "extra__kafka_connect__verify", "extra__kafka_connect__base_path"}
    assert widgets["extra__kafka_connect__timeout"]["schema"]["title"] == "Timeout (s)"
    assert widgets["extra__kafka_connect__timeout"]["value"] == 30
    assert registered["behaviours"]["doris"]["relabeling"]["schema"] == "Database"
    assert registered["behaviours"]["doris"]["placeholders"]["port"] == "9030"
    assert registered["behaviours"]["kafka_connect"]["placeholders"]["port"] == "8083"


def test_the_distribution_holds_the_product_package_only(registered: dict[str, Any]) -> None:
    """The sandbox, tests and benchmarks are not in it (and the provider info names only product classes)."""
    assert registered["sandbox_importable"] is False
    classes = [entry["hook-class-name"] for entry in get_provider_info()["connection-types"]]
    assert all(name.startswith("commodity_platform.") for name in classes)


def test_provider_info_is_valid_for_airflow() -> None:
    """Against Airflow's own runtime schema and the provider.yaml schema that defines conn-fields."""
    import airflow
    import jsonschema

    base = Path(airflow.__file__).parent
    info = get_provider_info()
    jsonschema.validate(info, json.loads((base / "provider_info.schema.json").read_text()))
    yaml_schema = json.loads((base / "provider.yaml.schema.json").read_text())
    connection_types_schema = {**yaml_schema["properties"]["connection-types"],
                               "definitions": yaml_schema.get("definitions", {})}
    jsonschema.validate(info["connection-types"], connection_types_schema)


def _connection(conn_type: str, **fields: Any) -> Any:
    from airflow.models.connection import Connection

    return Connection(conn_id=f"test_{conn_type}", conn_type=conn_type, **fields)


def _test_through_airflow(conn: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, str]:
    """What the API's test endpoint does: the connection as an env var, then ``Connection.test_connection``
    (which picks the hook by ``conn_type`` from ProvidersManager)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", conn.get_uri())
    return conn.test_connection()


def test_kafka_connect_test_button(monkeypatch: pytest.MonkeyPatch) -> None:
    with ConnectEmulator() as emulator:
        ok, message = _test_through_airflow(
            _connection("kafka_connect", host="127.0.0.1", port=emulator.port, schema="http"), monkeypatch
        )
        assert ok, message
        assert message.startswith("Kafka Connect 3.9.0") and f"127.0.0.1:{emulator.port}" in message
        assert len(emulator.requests()) == 1  # one GET /, no retries while the user waits

    wrong_port = _free_port()
    ok, message = _test_through_airflow(
        _connection("kafka_connect", host="127.0.0.1", port=wrong_port, schema="http", login="u", password="s3cr3t"),
        monkeypatch,
    )
    assert not ok
    assert f"cannot reach Kafka Connect at http://127.0.0.1:{wrong_port}" in message
    assert "ConnectError" in message
    assert "s3cr3t" not in message


@pytest.mark.sandbox
def test_doris_test_button_against_the_sandbox_mariadb(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = json.loads(sandbox.connection_env()["AIRFLOW_CONN_DORIS_DEFAULT"])
    fields = {k: stored[k] for k in ("host", "port", "login", "password")}
    ok, message = _test_through_airflow(_connection("doris", **fields), monkeypatch)
    assert ok, message
    assert message.startswith(f"connected to 127.0.0.1:{stored['port']}: ")
    assert "mariadb" in message.lower()  # the sandbox's stand-in says what it is (Doris would say Doris)

    wrong_port = _free_port()
    ok, message = _test_through_airflow(_connection("doris", **{**fields, "port": wrong_port}), monkeypatch)
    assert not ok
    assert message.startswith(f"cannot query 127.0.0.1:{wrong_port}: ")
    assert "Can't connect" in message
    assert stored["password"] not in message

"""Secrets from Airflow connections: built right, applied idempotently, never shown, all-or-nothing.

The Secrets are applied to the Kubernetes API emulator over HTTP through the same ApplyEngine as every
manifest; the connection side goes through the Task SDK (``AIRFLOW_CONN_*``) or a fake getter.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

import pytest

from commodity_platform.deploy.execution import deploy_phase, plan_secrets
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES, PHASES_BY_NAME
from commodity_platform.deploy.secrets import (
    SECRETS,
    ConnectionValues,
    airflow_connection,
    build_secrets,
    connector_secret_keys,
    describe_secrets,
)
from commodity_platform.errors import ConfigError
from commodity_platform.k8s.apply import scrub
from commodity_platform.paths import INCLUDE_DIR

from .conftest import FAKE_DORIS, fake_connect_secret_values, fake_connections
from .conftest import NAMESPACE as NS


def _values(manifest: Any) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in manifest.body["data"].items()}


def _all_values() -> list[str]:
    values = [FAKE_DORIS["password"], *fake_connect_secret_values().values()]
    return values + [base64.b64encode(v.encode()).decode() for v in values]


def test_secrets_are_built_with_the_right_keys_types_and_values() -> None:
    doris, connect = build_secrets(["doris-credentials", "kafka-connect-credentials"], fake_connections())
    assert doris.body["type"] == "kubernetes.io/basic-auth"
    assert _values(doris) == {"username": FAKE_DORIS["login"].encode(), "password": FAKE_DORIS["password"].encode()}
    assert connect.body["type"] == "Opaque"
    expected = fake_connect_secret_values()
    assert set(_values(connect)) == set(expected) >= connector_secret_keys()
    assert _values(connect)["doris-password"] == expected["doris-password"].encode()
    assert _values(connect)["elasticsearch-truststore.p12"] == b"\x00\x01p12\xff"  # base64: -> binary file
    assert connect.body["metadata"]["annotations"]["platform.commodity.io/source-connection"] == "kafka_connect_secrets"


def test_required_keys_come_from_the_connector_specs_and_the_readme_lists_them() -> None:
    keys = connector_secret_keys()
    # Every ${dir:/mnt/secrets:<key>} of every spec, plus files referenced by path (the ES truststore).
    assert {"eia-api-key", "doris-password", "elasticsearch-truststore.p12"} <= keys
    readme = (INCLUDE_DIR / "connectors" / "README.md").read_text()
    table = set(re.findall(r"`([-._a-zA-Z0-9]+)`", readme.split("Keys the specs expect", 1)[1].split("\n\n", 2)[1]))
    assert keys <= table, keys - table
    assert "kafka_connect_secrets" in readme


def test_secret_names_match_what_the_manifests_reference() -> None:
    refs: set[str] = set()
    for phase in PHASES:
        from commodity_platform.deploy.execution import plan_phase

        for plan in plan_phase(phase, PhaseOptions()):
            for m in plan.manifests:
                text = json.dumps(m.body)
                refs.update(re.findall(r'"secretName": "([^"]+)"', text))
                refs.update(re.findall(r'"secretKeyRef": \{"name": "([^"]+)"', text))
                refs.update(re.findall(r'"authSecret": "([^"]+)"', text))
    assert refs == set(SECRETS), refs ^ set(SECRETS)
    # Each referencing phase applies the Secret itself (phases can be deployed separately).
    assert PHASES_BY_NAME["kafka-connect"].secrets == ("kafka-connect-credentials",)
    assert "doris-credentials" in PHASES_BY_NAME["doris"].secrets
    assert "doris-credentials" in PHASES_BY_NAME["flink-apps"].secrets


def test_apply_is_idempotent_and_rotation_is_a_change(engine: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        first = engine.apply_all(build_secrets(list(SECRETS), fake_connections()))
        assert [r.action for r in first] == ["created", "created"]
        stored = engine.emulator.get_object("v1", "Secret", "doris-credentials", NS)
        assert base64.b64decode(stored["data"]["password"]).decode() == FAKE_DORIS["password"]
        rv = engine.emulator.current_resource_version()
        again = engine.apply_all(build_secrets(list(SECRETS), fake_connections()))
        assert [r.action for r in again] == ["unchanged", "unchanged"]
        assert engine.emulator.current_resource_version() == rv
        rotated = fake_connections(doris={**FAKE_DORIS, "password": "Rotated-pw-0c4f-never-log"})
        assert engine.apply(build_secrets(["doris-credentials"], rotated)[0]).action == "configured"
    results_text = repr([r.body for r in [*first, *again]])
    for value in [*_all_values(), "Rotated-pw-0c4f-never-log"]:
        assert value not in caplog.text and value not in results_text


def test_dry_run_shows_key_names_only(engine: Any, caplog: pytest.LogCaptureFixture) -> None:
    engine.apply_all(build_secrets(["doris-credentials"], fake_connections()))
    engine.dry_run = True
    rotated = fake_connections(doris={**FAKE_DORIS, "password": "Rotated-pw-0c4f-never-log"})
    with caplog.at_level(logging.INFO):
        [result] = engine.apply_all(build_secrets(["doris-credentials"], rotated))
        [new] = engine.apply_all(build_secrets(["kafka-connect-credentials"], fake_connections()))
    assert result.action == "would-configure"
    assert "-  password: '<redacted: old value>'" in result.diff
    assert "+  password: '<redacted: new value>'" in result.diff
    assert "  username: <redacted>" in result.diff  # unchanged key: named, not marked as changed
    assert new.action == "would-create" and "+  eia-api-key: '<redacted: new value>'" in new.diff
    for text in (result.diff, new.diff, caplog.text, repr(result.body), repr(new.body)):
        for value in [*_all_values(), "Rotated-pw-0c4f-never-log"]:
            assert value not in text
    stored = engine.emulator.get_object("v1", "Secret", "doris-credentials", NS)
    assert base64.b64decode(stored["data"]["password"]).decode() == FAKE_DORIS["password"]  # unchanged


@pytest.mark.parametrize(
    ("doris", "extra", "message"),
    [
        (
            {"login": "u"},
            None,
            r"connection 'doris_default' \(Secret doris-credentials\): missing required key\(s\): "
            r"password \(connection field password\)",
        ),
        (
            None,
            {k: v for k, v in fake_connect_secret_values().items() if k != "doris-password"},
            r"connection 'kafka_connect_secrets' \(Secret kafka-connect-credentials\): missing required key\(s\) "
            r"doris-password",
        ),
        (None, {**fake_connect_secret_values(), "bad key": "x"}, r"key 'bad key' is not a valid Secret key"),
        (None, {**fake_connect_secret_values(), "eia-api-key": {"nested": 1}}, r"key 'eia-api-key' must be a string"),
        (None, {**fake_connect_secret_values(), "x.p12": "base64:!!"}, r"key 'x\.p12' .* not valid base64"),
    ],
    ids=["doris-password", "connect-key", "bad-key-name", "nested-value", "bad-base64"],
)
def test_bad_connections_are_clear_config_errors(doris: Any, extra: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build_secrets(list(SECRETS), fake_connections(doris=doris, extra=extra))
    assert not any(v in str(info.value) for v in _all_values())


def test_missing_key_applies_nothing(engine: Any, api_client_for: Any) -> None:
    """All or nothing: the phase fails before its first object, so no half-filled Secret and no workload."""
    broken = fake_connections(extra={"eia-api-key": "val-eia-api-key-5b2e8d"})
    before = engine.emulator.current_resource_version()
    with pytest.raises(ConfigError, match=r"kafka_connect_secrets.*missing required key\(s\) doris-password"):
        deploy_phase("kafka-connect", api_client_for(engine.emulator), PhaseOptions(), connections=broken)
    assert engine.emulator.current_resource_version() == before
    assert engine.emulator.get_object("v1", "Secret", "kafka-connect-credentials", NS) is None
    with pytest.raises(ConfigError, match="missing required key"):
        plan_secrets(PHASES_BY_NAME["kafka-connect"], broken)


def test_airflow_connections_are_read_through_the_task_sdk(platform_connections: Any, monkeypatch: Any) -> None:
    assert describe_secrets(list(SECRETS)) == {
        "doris-credentials": ["password", "username"],
        "kafka-connect-credentials": sorted(platform_connections["kafka_connect"]),
    }
    conn = airflow_connection("doris_default")
    assert isinstance(conn, ConnectionValues) and conn.login == FAKE_DORIS["login"]
    assert FAKE_DORIS["password"] not in repr(conn)
    monkeypatch.delenv("AIRFLOW_CONN_KAFKA_CONNECT_SECRETS")
    with pytest.raises(ConfigError, match=r"Airflow connection 'kafka_connect_secrets' is not defined"):
        describe_secrets(["kafka-connect-credentials"])


def test_api_errors_about_a_secret_are_scrubbed() -> None:
    [manifest] = build_secrets(["doris-credentials"], fake_connections())
    encoded = manifest.body["data"]["password"]
    message = (
        f'Secret "doris-credentials" is invalid: data[password]: Invalid value: "{encoded}" ({FAKE_DORIS["password"]})'
    )
    cleaned = scrub(message, manifest.body)
    assert encoded not in cleaned and FAKE_DORIS["password"] not in cleaned and "data[password]" in cleaned

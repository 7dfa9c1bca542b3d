"""Kubernetes Secrets of the platform, built from Airflow connections at deploy time.

Why: credentials must never be in git, and operators already keep them in Airflow connections (or the
secrets backend behind them). The deploy DAG reads the connection in the task, builds the Secret in memory
and applies it with server-side apply through the same engine as every manifest, so a re-run is a no-op
and a rotated password in the connection is rolled out by the next deploy.

=============================  ============================  ==============================================
Secret                         Airflow connection            keys
=============================  ============================  ==============================================
``doris-credentials``          ``doris_default``             ``username`` (login), ``password`` (password);
(kubernetes.io/basic-auth)                                   DorisCluster ``authSecret`` and the Flink
                                                             price-aggregator (``DORIS_USER/PASSWORD``)
``kafka-connect-credentials``  ``kafka_connect_secrets``     every key of the connection's ``extra`` JSON;
(Opaque)                       (conn_type generic)           required: every key the connector specs
                                                             reference (``${dir:/mnt/secrets:<key>}`` or
                                                             ``/mnt/secrets/<file>``); mounted at
                                                             ``/mnt/secrets`` of the Connect workers
=============================  ============================  ==============================================

An ``extra`` value written as ``base64:<data>`` is taken as base64-encoded bytes (binary files such as a
PKCS12 truststore); every other value is UTF-8 text.

Every secret of a phase is resolved and validated before the first object of the phase is applied: a
missing connection or key is a :class:`ConfigError` naming the connection and the key, and nothing is
applied (never a half-filled Secret). Values live only in the Secret body sent to the API server: the
engine redacts Secret data in diffs, results and errors, and callers only ever see key names.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commodity_platform.connections import DORIS_CONN_ID
from commodity_platform.errors import ConfigError
from commodity_platform.k8s.manifests import Manifest
from commodity_platform.paths import CONNECTORS_DIR

log = logging.getLogger(__name__)

KAFKA_CONNECT_SECRETS_CONN_ID = "kafka_connect_secrets"
SOURCE_ANNOTATION = "platform.commodity.io/source-connection"
BASE64_PREFIX = "base64:"
# Kubernetes Secret keys: a file name in the mounted volume.
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_DIR_REFERENCE = re.compile(r"\$\{dir:/mnt/secrets:([-._a-zA-Z0-9]+)\}")
_FILE_REFERENCE = re.compile(r"/mnt/secrets/([-._a-zA-Z0-9]+)")


@dataclass(frozen=True)
class ConnectionValues:
    """The parts of an Airflow connection a Secret is built from (``repr`` shows no value)."""

    conn_id: str
    login: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)


ConnectionGetter = Callable[[str], ConnectionValues]


@dataclass(frozen=True)
class SecretSpec:
    """How one Kubernetes Secret is filled from one Airflow connection."""

    name: str
    conn_id: str
    source: str  # "login_password": login/password fields; "extra": the extra JSON, key by key
    secret_type: str
    used_by: str

    def required_keys(self) -> tuple[str, ...]:
        if self.source == "login_password":
            return ("username", "password")
        return tuple(sorted(connector_secret_keys()))


SECRETS: dict[str, SecretSpec] = {
    "doris-credentials": SecretSpec(
        "doris-credentials",
        DORIS_CONN_ID,
        "login_password",
        "kubernetes.io/basic-auth",
        "DorisCluster commodity-doris (authSecret), FlinkDeployment price-aggregator (DORIS_USER/DORIS_PASSWORD)",
    ),
    "kafka-connect-credentials": SecretSpec(
        "kafka-connect-credentials",
        KAFKA_CONNECT_SECRETS_CONN_ID,
        "extra",
        "Opaque",
        "Deployment kafka-connect (mounted at /mnt/secrets; read by the connectors' dir config provider)",
    ),
}


def connector_secret_keys(connectors_dir: Path = CONNECTORS_DIR) -> set[str]:
    """Keys of ``kafka-connect-credentials`` the connector specs reference (config providers or file paths)."""
    keys: set[str] = set()
    for path in sorted(connectors_dir.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        keys.update(_DIR_REFERENCE.findall(text))
        keys.update(_FILE_REFERENCE.findall(text))
    return keys


def airflow_connection(conn_id: str) -> ConnectionValues:
    """Read a connection through the Task SDK (secrets backends, env vars, metadata DB) and mask its values."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise ConfigError(f"Airflow connection {conn_id!r} is not defined (needed for a Kubernetes Secret)") from exc
    extra = conn.extra_dejson if conn.extra else {}
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older SDKs; the values still never reach our own logs
        mask_secret = None
    if mask_secret is not None:
        # Airflow masks the password already; extra values are only masked for "sensitive" key names.
        for value in [conn.password, *(v for v in extra.values() if isinstance(v, str))]:
            if value:
                mask_secret(value)
    return ConnectionValues(conn_id, conn.login, conn.password, extra)


def _text(value: str) -> bytes:
    return value.encode("utf-8")


def resolve_values(spec: SecretSpec, conn: ConnectionValues) -> dict[str, bytes]:
    """The Secret's key -> value bytes from the connection; every problem names the connection and key."""
    where = f"Airflow connection {spec.conn_id!r} (Secret {spec.name})"
    if spec.source == "login_password":
        fields = {"username": ("login", conn.login), "password": ("password", conn.password)}
        missing = [f"{key} (connection field {name})" for key, (name, value) in fields.items() if not value]
        if missing:
            raise ConfigError(f"{where}: missing required key(s): {', '.join(missing)}")
        return {key: _text(str(value)) for key, (_, value) in fields.items()}

    if not isinstance(conn.extra, Mapping):
        raise ConfigError(f"{where}: extra must be a JSON object mapping secret key -> value")
    values: dict[str, bytes] = {}
    problems: list[str] = []
    for key, value in sorted(conn.extra.items()):
        if not _KEY.fullmatch(str(key)):
            problems.append(f"key {key!r} is not a valid Secret key (letters, digits, '-', '_', '.')")
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append(f"key {key!r} must be a string, got {type(value).__name__}")
        elif isinstance(value, str) and value.startswith(BASE64_PREFIX):
            try:
                values[str(key)] = base64.b64decode(value[len(BASE64_PREFIX) :], validate=True)
            except (binascii.Error, ValueError):
                problems.append(f"key {key!r} starts with {BASE64_PREFIX!r} but is not valid base64")
        elif value == "":
            problems.append(f"key {key!r} is empty")
        else:
            values[str(key)] = _text(str(value))
    missing = [key for key in spec.required_keys() if key not in conn.extra]
    if missing:
        problems.insert(0, f"missing required key(s) {', '.join(missing)} (referenced by include/connectors)")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return values


def secret_manifest(spec: SecretSpec, values: Mapping[str, bytes]) -> Manifest:
    """The Secret object; ``data`` (base64) rather than ``stringData`` so the stored object equals what is applied
    and a re-apply is a true no-op."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": spec.name,
            "labels": {
                "app.kubernetes.io/name": spec.name,
                "app.kubernetes.io/part-of": "commodity-platform",
                "app.kubernetes.io/managed-by": "streaming_platform_deploy",
            },
            "annotations": {SOURCE_ANNOTATION: spec.conn_id},
        },
        "type": spec.secret_type,
        "data": {key: base64.b64encode(value).decode("ascii") for key, value in sorted(values.items())},
    }
    return Manifest(body, f"<secret {spec.name} from connection {spec.conn_id}>")


def _specs(names: Iterable[str]) -> list[SecretSpec]:
    unknown = [n for n in names if n not in SECRETS]
    if unknown:
        raise ConfigError(f"unknown secret(s) {unknown}; known: {sorted(SECRETS)}")
    return [SECRETS[n] for n in names]


def build_secrets(names: Iterable[str], connections: ConnectionGetter | None = None) -> list[Manifest]:
    """Resolve every named Secret first (all or nothing), then build the manifests."""
    getter = connections or airflow_connection
    resolved = [(spec, resolve_values(spec, getter(spec.conn_id))) for spec in _specs(names)]
    return [secret_manifest(spec, values) for spec, values in resolved]


def describe_secrets(names: Iterable[str], connections: ConnectionGetter | None = None) -> dict[str, list[str]]:
    """Secret name -> key names (validated like :func:`build_secrets`; no value leaves this function)."""
    return {m.name: sorted(m.body["data"]) for m in build_secrets(names, connections)}

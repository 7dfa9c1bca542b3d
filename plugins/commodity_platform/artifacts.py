"""The catalogue of external artifacts (``include/contracts/artifacts.yaml``), read once.

Imported at DAG parse time (the deploy DAG's ``DEFAULT_IMAGE_TAGS`` come from here), so it only reads one
small local YAML file: no network, no Airflow imports. A malformed catalogue is a :class:`ConfigError`
naming the file and the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from commodity_platform.errors import ConfigError
from commodity_platform.paths import INCLUDE_DIR

CATALOGUE_PATH: Path = INCLUDE_DIR / "contracts" / "artifacts.yaml"

_SECTIONS_WITH_DEPLOY_KEYS = ("images", "charts", "versions")


@dataclass(frozen=True)
class ConnectorPlugin:
    """One connector class a Connect worker can load, and the plugin (installed archive) it comes from."""

    cls: str
    type: str  # "source" | "sink"
    version: str
    plugin: str


@dataclass(frozen=True)
class ConnectImage:
    """What the Kafka Connect image build puts on the workers' plugin path."""

    connectors: tuple[ConnectorPlugin, ...]
    # Transforms, predicates and converters by exact class name (Kafka's own, the base image's, the plugins').
    classes: frozenset[str]
    plugin_path: str

    def has_class(self, class_name: str) -> bool:
        """True when a worker of this image can load ``class_name`` as a transform, predicate or converter."""
        return class_name in self.classes


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ConfigError(f"{CATALOGUE_PATH}: {where} has no '{key}'")
    return mapping[key]


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, Any]:
    """The parsed catalogue (uncached: tests load edited copies)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the artifact catalogue: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise ConfigError(f"{path}: not an artifact catalogue (schema_version 1 expected)")
    return data


@cache
def catalogue() -> dict[str, Any]:
    """The repository's catalogue, read once per process."""
    return load_catalogue()


def deploy_image_tags(data: dict[str, Any] | None = None) -> dict[str, str]:
    """``DEFAULT_IMAGE_TAGS`` of the deploy DAG: every catalogue entry with a ``deploy_key``.

    Images give their full reference, charts and versions their version. A key defined twice is refused.
    """
    data = catalogue() if data is None else data
    tags: dict[str, str] = {}
    for section in _SECTIONS_WITH_DEPLOY_KEYS:
        for name, entry in (data.get(section) or {}).items():
            if not isinstance(entry, dict) or "deploy_key" not in entry:
                continue
            key = str(entry["deploy_key"])
            value = _require(entry, "image" if section == "images" else "version", f"{section}.{name}")
            if key in tags:
                raise ConfigError(f"{CATALOGUE_PATH}: deploy_key {key!r} is defined twice ({section}.{name})")
            tags[key] = str(value)
    return tags


def image(name: str, data: dict[str, Any] | None = None) -> str:
    """The full reference of ``images.<name>``."""
    data = catalogue() if data is None else data
    return str(_require(_require(data, "images", "the catalogue").get(name), "image", f"images.{name}"))


def connect_image(data: dict[str, Any] | None = None) -> ConnectImage:
    """The plugins the Kafka Connect image build installs, plus what the base image ships on the plugin path."""
    data = catalogue() if data is None else data
    section = _require(data, "kafka_connect", "the catalogue")
    builtin = _require(section, "builtin", "kafka_connect")
    connectors: list[ConnectorPlugin] = []
    classes: set[str] = {
        str(c) for key in ("transforms", "kafka_converters", "converters") for c in builtin.get(key) or []
    }
    platform = _require(_require(data, "versions", "the catalogue"), "confluent_platform", "versions")
    base_version = str(_require(platform, "version", "versions.confluent_platform"))
    for entry in builtin.get("connectors") or []:
        connectors.append(
            ConnectorPlugin(
                str(entry["class"]), str(entry["type"]), str(entry.get("version", base_version)), "cp-kafka-connect"
            )
        )
    for index, plugin in enumerate(_require(section, "plugins", "kafka_connect")):
        where = f"kafka_connect.plugins[{index}]"
        name, version = str(_require(plugin, "name", where)), str(_require(plugin, "version", where))
        for entry in _require(plugin, "connectors", where):
            if entry.get("type") not in ("source", "sink"):
                raise ConfigError(f"{CATALOGUE_PATH}: {where} connector {entry.get('class')}: type must be source|sink")
            connectors.append(ConnectorPlugin(str(entry["class"]), str(entry["type"]), version, name))
        classes.update(str(c) for c in plugin.get("transforms") or [])
        classes.update(str(c) for c in plugin.get("converters") or [])
    return ConnectImage(
        connectors=tuple(connectors),
        classes=frozenset(classes),
        plugin_path=str(_require(section, "plugin_path", "kafka_connect")),
    )


def jmx_exporter_agent_path(data: dict[str, Any] | None = None) -> str:
    """Where the base image installs the Prometheus JMX exporter java agent (versioned file name)."""
    data = catalogue() if data is None else data
    agent = _require(_require(data, "kafka_connect", "the catalogue"), "jmx_exporter_agent", "kafka_connect")
    return str(_require(agent, "path", "kafka_connect.jmx_exporter_agent"))

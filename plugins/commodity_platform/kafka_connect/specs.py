"""Declarative connector specs: loading, strict validation and plaintext-secret refusal.

One YAML file per connector lives in ``include/connectors/``. The format is deliberately small::

    name: cp-sink-doris            # must start with the managed prefix and equal the file name stem
    state: running                 # desired state: running | paused | stopped
    description: free text         # optional, for humans
    config:                        # the Kafka Connect config, as Connect stores it
      connector.class: org.apache.doris.kafka.connector.DorisSinkConnector
      tasks.max: 3
      topics: [commodity-prices-enriched, market-alerts]   # lists are joined with ","
      doris.password: ${dir:/opt/kafka/external-configuration/doris-credentials:password}

Why so strict: the files are the source of truth that the reconcile loop *writes* to a production Connect
cluster, so a typo (an unknown top-level key, a duplicated YAML key silently overriding another, a
plaintext password) must stop the run before anything is sent, with a message naming the file and key.

Secrets are never in these files. Keys that look like secrets must hold a Kafka config-provider
reference (``${env:VAR}``, ``${file:/path:key}``, ``${dir:/path:key}``); the Connect workers resolve
them at runtime from Kubernetes Secrets that the deployment fills from Airflow connections.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from commodity_platform.errors import ConfigError
from commodity_platform.paths import CONNECTORS_DIR, INCLUDE_DIR
from commodity_platform.redaction import (  # noqa: F401  (re-exported: the classifier's public home was here)
    _KNOWN_PROVIDERS,
    REFERENCE_RE,
    is_reference,
    is_secret_key,
    mask_value,
    plaintext_secret_problem,
)
from commodity_platform.validation import (
    MAX_CONFIG_VALUE_CHARS,
    MAX_SPEC_FILE_BYTES,
    cap_list,
    preview,
    read_text_limited,
)

#: Every connector this project manages is named with this prefix. Pruning relies on it: a connector
#: without the prefix was created by someone else and is never touched.
MANAGED_PREFIX = "cp-"

VALID_STATES: tuple[str, ...] = ("running", "paused", "stopped")
#: Desired spec state -> the state Kafka Connect reports in ``GET /connectors/{name}/status``.
CONNECT_STATE: dict[str, str] = {"running": "RUNNING", "paused": "PAUSED", "stopped": "STOPPED"}

_TOP_LEVEL_REQUIRED = ("name", "state", "config")
_TOP_LEVEL_OPTIONAL = ("description",)
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")
_CONFIG_KEY_RE = re.compile(r"[A-Za-z0-9_.\-]{1,255}")




@dataclass(frozen=True)
class ConnectorSpec:
    """One managed connector as declared in its spec file.

    ``config`` is normalised to ``dict[str, str]`` exactly as Kafka Connect stores and returns it
    (including ``name``), so it can be compared with the live config key by key.
    """

    name: str
    state: str
    config: dict[str, str]
    source_file: Path
    description: str = ""
    #: Only for messages: the spec file path relative to the project (or as given).
    display_path: str = field(default="", compare=False)

    @property
    def connector_class(self) -> str:
        return self.config["connector.class"]

    @property
    def connect_state(self) -> str:
        """The state Connect reports when the connector is where the spec wants it."""
        return CONNECT_STATE[self.state]

    @property
    def location(self) -> str:
        return self.display_path or str(self.source_file)


def _normalise_value(path: str, key: str, raw: Any) -> str:
    """Render a YAML value as the string Connect stores, refusing shapes Connect cannot hold."""
    if isinstance(raw, bool):  # before int: bool is an int subclass
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        items = []
        for item in raw:
            if isinstance(item, dict | list) or item is None:
                raise ConfigError(f"{path}: config key '{key}': list items must be scalars, got {item!r}")
            items.append(_normalise_value(path, key, item))
        return ",".join(items)
    if raw is None:
        raise ConfigError(f"{path}: config key '{key}' has no value (null); give a value or remove the key")
    raise ConfigError(
        f"{path}: config key '{key}' must be a string, number, boolean or list, got {type(raw).__name__}"
    )


# The libyaml-backed loader is several times faster; it matters when a cluster has hundreds of specs,
# because every run parses every file.
_SafeLoaderBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoaderBase):  # type: ignore[misc,valid-type]
    """Safe loader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"duplicate key '{key}' (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_spec(text: str, path: str, *, expected_name: str | None = None) -> ConnectorSpec:
    """Parse and validate one spec document. ``path`` is used in every error message."""
    try:
        doc = yaml.load(text, Loader=_StrictLoader)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a spec must be a mapping with keys {', '.join(_TOP_LEVEL_REQUIRED)}")

    unknown = sorted(set(doc) - set(_TOP_LEVEL_REQUIRED) - set(_TOP_LEVEL_OPTIONAL), key=str)
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key(s) {unknown}; allowed: "
            f"{', '.join(_TOP_LEVEL_REQUIRED + _TOP_LEVEL_OPTIONAL)}"
        )
    for key in _TOP_LEVEL_REQUIRED:
        if key not in doc:
            raise ConfigError(f"{path}: missing required key '{key}'")

    name = doc["name"]
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{path}: key 'name': {preview(name)} must be 3-64 lowercase letters, digits or '-' "
            "(it becomes the Connect connector name)"
        )
    if not name.startswith(MANAGED_PREFIX):
        raise ConfigError(
            f"{path}: key 'name': {name!r} must start with the managed prefix {MANAGED_PREFIX!r}"
        )
    if expected_name is not None and name != expected_name:
        raise ConfigError(f"{path}: key 'name': {name!r} must equal the file name stem {expected_name!r}")

    state = doc["state"]
    if state not in VALID_STATES:
        raise ConfigError(f"{path}: key 'state': {preview(state)} is not one of {', '.join(VALID_STATES)}")

    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{path}: key 'description' must be a string")

    raw_config = doc["config"]
    if not isinstance(raw_config, dict) or not raw_config:
        raise ConfigError(f"{path}: key 'config' must be a non-empty mapping of Connect config keys")

    config: dict[str, str] = {}
    for key, raw in raw_config.items():
        if not isinstance(key, str) or not _CONFIG_KEY_RE.fullmatch(key):
            raise ConfigError(f"{path}: config key {preview(key)} is not a valid Connect config key")
        config[key] = _normalise_value(path, key, raw)
        if len(config[key]) > MAX_CONFIG_VALUE_CHARS:
            # The value is not echoed: it is large, and it may be a secret.
            raise ConfigError(
                f"{path}: config key '{key}': value of {len(config[key]):,} characters is longer than the "
                f"limit of {MAX_CONFIG_VALUE_CHARS:,}"
            )

    _check_config(path, name, config)
    config["name"] = name  # Connect stores the name inside the config; keep both sides comparable.
    return ConnectorSpec(
        name=name,
        state=state,
        config=config,
        source_file=Path(path),
        description=description.strip(),
        display_path=path,
    )


def _check_config(path: str, name: str, config: Mapping[str, str]) -> None:
    connector_class = config.get("connector.class", "").strip()
    if not connector_class:
        raise ConfigError(f"{path}: config key 'connector.class' is missing or empty")
    if "name" in config and config["name"] != name:
        raise ConfigError(f"{path}: config key 'name': {config['name']!r} differs from spec name {name!r}")

    tasks_max = config.get("tasks.max")
    if tasks_max is None:
        raise ConfigError(f"{path}: config key 'tasks.max' is missing; set it explicitly")
    if not tasks_max.isdigit() or int(tasks_max) < 1:
        raise ConfigError(f"{path}: config key 'tasks.max': {tasks_max!r} must be a positive integer")

    for key, value in config.items():
        for match in REFERENCE_RE.finditer(value):
            if match.group("provider") not in _KNOWN_PROVIDERS:
                raise ConfigError(
                    f"{path}: config key '{key}': unknown config provider '{match.group('provider')}' "
                    f"(workers configure {', '.join(sorted(_KNOWN_PROVIDERS))})"
                )
        problem = plaintext_secret_problem(key, value)
        if problem:
            # The value itself is never echoed: it may be the secret.
            raise ConfigError(f"{path}: config key '{key}' holds a plaintext secret: {problem}")

    is_sink = "topics" in config or "topics.regex" in config
    if (
        is_sink
        and config.get("errors.tolerance") == "all"
        and not config.get("errors.deadletterqueue.topic.name")
    ):
        # Tolerating every error without a DLQ silently drops records; refuse that combination.
        raise ConfigError(
            f"{path}: config key 'errors.deadletterqueue.topic.name' is required for a sink with "
            "errors.tolerance=all"
        )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(INCLUDE_DIR.parent))
    except ValueError:
        return str(path)


def load_spec_file(path: Path) -> ConnectorSpec:
    """Load one spec file; its ``name`` must equal the file name stem so files are easy to find."""
    display = _display(path)
    text = read_text_limited(path, MAX_SPEC_FILE_BYTES, what="connector spec file", display=display)
    return parse_spec(text, display, expected_name=path.stem)


def load_specs(directory: Path = CONNECTORS_DIR, *, only: Iterable[str] | None = None) -> list[ConnectorSpec]:
    """Load and validate every ``*.yaml`` spec in ``directory`` (all of them, even with ``only``).

    Every file is validated on every run so one broken spec cannot hide behind a subset run, and so
    pruning (which needs the full set of names) is never computed from a partial view.
    ``only`` then restricts the returned specs; an unknown name there is an error, not a silent no-op.
    """
    if not directory.is_dir():
        raise ConfigError(f"{_display(directory)}: connector spec directory does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise ConfigError(f"{_display(directory)}: no connector spec files (*.yaml)")
    specs = [load_spec_file(p) for p in files]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(
                f"{spec.location}: connector name {spec.name!r} also declared in {seen[spec.name]}"
            )
        seen[spec.name] = spec.location
    if only is None:
        return specs
    wanted = list(dict.fromkeys(only))
    unknown = [n for n in wanted if n not in seen]
    if unknown:
        raise ConfigError(
            f"param 'connectors': no spec for {cap_list(unknown)} in {_display(directory)}; "
            f"known: {cap_list(sorted(seen))}"
        )
    return [s for s in specs if s.name in set(wanted)]


def desired_config_diff(
    desired: Mapping[str, str], live: Mapping[str, str] | None
) -> list[tuple[str, str | None, str | None]]:
    """Keys whose value differs: ``(key, live, desired)``, sorted; ``live`` None for a new connector."""
    live = live or {}
    keys: Sequence[str] = sorted(set(desired) | set(live))
    return [(k, live.get(k), desired.get(k)) for k in keys if live.get(k) != desired.get(k)]


def format_diff(diff: Sequence[tuple[str, str | None, str | None]]) -> list[str]:
    """Render a diff for logs with :func:`mask_value` applied to both sides."""
    lines = []
    for key, old, new in diff:
        if old is None:
            lines.append(f"+ {key} = {mask_value(key, new)}")
        elif new is None:
            lines.append(f"- {key} = {mask_value(key, old)}")
        else:
            lines.append(f"~ {key}: {mask_value(key, old)} -> {mask_value(key, new)}")
    return lines

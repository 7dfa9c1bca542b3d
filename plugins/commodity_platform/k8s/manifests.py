"""Loading and rendering the YAML manifests of a deployment phase.

Manifests are plain Kubernetes YAML so they validate as-is against the upstream schemas. The few values that
depend on the DAG run (namespace, image tags, rendered SQL) are written as ``${dp:<name>}`` placeholders: the
``dp:`` prefix keeps them apart from Grafana (``${datasource}``, ``$__rate_interval``) and Prometheus
(``{{ $labels }}``) templating inside dashboards and rules, which must reach the cluster untouched.

Every error names the file and the document index so an operator can go straight to the broken manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from commodity_platform.errors import ConfigError
from commodity_platform.paths import INCLUDE_DIR

PLACEHOLDER = re.compile(r"\$\{dp:([a-z0-9_.:/-]+)\}", re.IGNORECASE)

# Kinds that must exist before the objects that reference them; applied first within a stage.
_KIND_ORDER = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "ServiceAccount": 2,
    "ClusterRole": 3,
    "Role": 3,
    "ClusterRoleBinding": 4,
    "RoleBinding": 4,
    "ConfigMap": 5,
    "Secret": 5,
    "PersistentVolumeClaim": 6,
    "Service": 7,
}


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object from a YAML document, with where it came from (for error messages)."""

    body: dict[str, Any]
    source: str  # "<file>#<document index>"

    @property
    def api_version(self) -> str:
        return str(self.body["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        ns = self.body.get("metadata", {}).get("namespace")
        return str(ns) if ns else None

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


#: The time-range parameters of the use-case SQL (pyformat, as MySQLdb/DorisHook take them) and the Grafana
#: MySQL-datasource macros they become inside a dashboard panel.
GRAFANA_TIME_MACROS: dict[str, str] = {"%(start)s": "$__timeFrom()", "%(end)s": "$__timeTo()"}
_PYFORMAT = re.compile(r"%\((\w+)\)s")


def _sql_file(name: str, source: str) -> str:
    path = INCLUDE_DIR / "sql" / name.split(":", 1)[1]
    if not path.is_file():
        raise ConfigError(f"{source}: placeholder ${{dp:{name}}} refers to missing file {path}")
    return path.read_text(encoding="utf-8")


def grafana_sql(sql: str, *, source: str) -> str:
    """The use-case SQL with its ``%(start)s``/``%(end)s`` parameters replaced by Grafana's time macros.

    Any other pyformat parameter has no Grafana equivalent, so it is a :class:`ConfigError`.
    """
    unknown = sorted({m.group(0) for m in _PYFORMAT.finditer(sql)} - set(GRAFANA_TIME_MACROS))
    if unknown:
        raise ConfigError(f"{source}: parameters {unknown} have no Grafana macro (known: start, end)")
    for parameter, macro in GRAFANA_TIME_MACROS.items():
        sql = sql.replace(parameter, macro)
    return sql


def render_text(text: str, variables: Mapping[str, str], *, source: str) -> str:
    """Substitute ``${dp:name}`` placeholders; an unknown name is a :class:`ConfigError` naming the file.

    Two placeholders insert a SQL file of ``include/sql`` JSON-escaped (valid inside a double-quoted YAML
    scalar and inside dashboard JSON), so the use-case queries have a single source of truth in
    ``include/sql/use_cases/``:

    * ``${dp:sqljson:<path>}`` the file exactly as it is (the ``use-case-queries`` ConfigMap);
    * ``${dp:sqlgrafana:<path>}`` the same with ``%(start)s``/``%(end)s`` turned into Grafana's
      ``$__timeFrom()``/``$__timeTo()`` (dashboard panels).
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("sqljson:"):
            return json.dumps(_sql_file(name, source))[1:-1]
        if name.startswith("sqlgrafana:"):
            return json.dumps(grafana_sql(_sql_file(name, source), source=source))[1:-1]
        if name not in variables:
            known = ", ".join(sorted(variables))
            raise ConfigError(f"{source}: unknown placeholder ${{dp:{name}}} (known: {known})")
        return str(variables[name])

    return PLACEHOLDER.sub(substitute, text)


def load_file(path: Path, variables: Mapping[str, str]) -> list[Manifest]:
    """Parse one multi-document YAML file into manifests, rendering placeholders first."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read manifest file: {exc}") from exc
    manifests: list[Manifest] = []
    # Split on document markers ourselves so a syntax error can name the document it is in.
    raw_docs = re.split(r"^---[ \t]*(?:#.*)?$", text, flags=re.MULTILINE)
    index = 0
    for raw in raw_docs:
        if not raw.strip() or all(line.strip().startswith("#") or not line.strip() for line in raw.splitlines()):
            continue
        source = f"{path.name}#{index}"
        index += 1
        rendered = render_text(raw, variables, source=f"{path}#{index - 1}")
        try:
            doc = yaml.safe_load(rendered)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} document {index - 1}: malformed YAML: {exc}") from exc
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ConfigError(f"{path} document {index - 1}: expected a mapping, got {type(doc).__name__}")
        missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
        if not doc.get("metadata", {}).get("name"):
            missing.append("metadata.name")
        if missing:
            raise ConfigError(f"{path} document {index - 1}: missing required field(s) {', '.join(missing)}")
        manifests.append(Manifest(doc, source))
    return manifests


def load_directory(directory: Path, variables: Mapping[str, str], pattern: str = "*.yaml") -> list[Manifest]:
    """Load every ``pattern`` file of ``directory`` in name order (the file prefixes encode intent order)."""
    if not directory.is_dir():
        return []
    manifests: list[Manifest] = []
    for path in sorted([*directory.glob(pattern), *directory.glob(pattern.replace(".yaml", ".yml"))]):
        manifests.extend(load_file(path, variables))
    seen: dict[tuple[str, str, str | None], str] = {}
    for m in manifests:
        key = (m.kind, m.name, m.namespace)
        if key in seen:
            raise ConfigError(f"{m.source}: {m.ref} is also defined in {seen[key]}")
        seen[key] = m.source
    return manifests


def apply_order(manifests: list[Manifest]) -> list[Manifest]:
    """Stable sort putting prerequisites (CRDs, namespaces, RBAC, config) before workloads."""
    return sorted(manifests, key=lambda m: _KIND_ORDER.get(m.kind, 10))


def content_hash(manifests: list[Manifest]) -> str:
    """A short digest of rendered content (used to tell whether a plan changed between runs)."""
    digest = hashlib.sha256()
    for m in manifests:
        digest.update(json.dumps(m.body, sort_keys=True).encode())
    return digest.hexdigest()[:12]

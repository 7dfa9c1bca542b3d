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
from commodity_platform.paths import SQL_DIR
from commodity_platform.validation import MAX_MANIFEST_FILE_BYTES, read_text_limited

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
    path = SQL_DIR / name.split(":", 1)[1]
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


def _file_placeholder(name: str, source: str) -> str | None:
    """The text of a ``sqljson:``/``sqlgrafana:`` placeholder, or None for a plain variable."""
    if name.startswith("sqljson:"):
        return _sql_file(name, source)
    if name.startswith("sqlgrafana:"):
        return grafana_sql(_sql_file(name, source), source=source)
    return None


def render_string(value: str, variables: Mapping[str, str], *, source: str) -> str:
    """Substitute the ``${dp:name}`` placeholders of one string scalar; an unknown name is a ConfigError.

    Substitution happens in a *parsed* document, so a value stays inside the scalar it was written in: a
    newline or a ``key: value`` in a value cannot add fields or objects (Params are user input). A
    placeholder that is the whole scalar becomes the value; one inside a longer string is replaced within
    that string only.

    Two placeholders insert a SQL file of ``include/sql`` so the use-case queries have a single source of
    truth in ``include/sql/use_cases/``:

    * ``${dp:sqljson:<path>}`` the file exactly as it is (the ``use-case-queries`` ConfigMap);
    * ``${dp:sqlgrafana:<path>}`` the same with ``%(start)s``/``%(end)s`` turned into Grafana's
      ``$__timeFrom()``/``$__timeTo()`` (dashboard panels).

    Inside a longer string (a dashboard's JSON text) a file is inserted JSON-escaped, so it stays one JSON
    string there; plain variables are inserted as they are, which is safe because
    :func:`commodity_platform.deploy.phases.render_variables` admits only names, image references and
    versions (no quotes, newlines or spaces).
    """
    whole = PLACEHOLDER.fullmatch(value)
    if whole:
        name = whole.group(1)
        text = _file_placeholder(name, source)
        return text if text is not None else _variable(name, variables, source)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        text = _file_placeholder(name, source)
        if text is not None:
            return json.dumps(text)[1:-1]
        return _variable(name, variables, source)

    return PLACEHOLDER.sub(substitute, value)


def _variable(name: str, variables: Mapping[str, str], source: str) -> str:
    if name not in variables:
        known = ", ".join(sorted(variables))
        raise ConfigError(f"{source}: unknown placeholder ${{dp:{name}}} (known: {known})")
    return str(variables[name])


def render_document(doc: Any, variables: Mapping[str, str], *, source: str) -> Any:
    """A copy of a parsed YAML document with placeholders substituted in every string scalar.

    Mapping keys are not rendered: a key is structure, and a placeholder there is refused.
    """
    if isinstance(doc, str):
        return render_string(doc, variables, source=source)
    if isinstance(doc, list):
        return [render_document(item, variables, source=source) for item in doc]
    if isinstance(doc, dict):
        rendered: dict[Any, Any] = {}
        for key, value in doc.items():
            if isinstance(key, str) and PLACEHOLDER.search(key):
                raise ConfigError(f"{source}: placeholder in mapping key {key!r}; placeholders go in values only")
            rendered[key] = render_document(value, variables, source=source)
        return rendered
    return doc


def render_text(text: str, variables: Mapping[str, str], *, source: str) -> Any:
    """Parse one YAML document and render its placeholders (see :func:`render_string`)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {exc}") from exc
    return render_document(doc, variables, source=source)


def load_file(path: Path, variables: Mapping[str, str]) -> list[Manifest]:
    """Parse one multi-document YAML file into manifests, then render placeholders inside each document."""
    text = read_text_limited(path, MAX_MANIFEST_FILE_BYTES, what="manifest file")
    manifests: list[Manifest] = []
    # Split on document markers ourselves so a syntax error can name the document it is in.
    raw_docs = re.split(r"^---[ \t]*(?:#.*)?$", text, flags=re.MULTILINE)
    index = 0
    for raw in raw_docs:
        if not raw.strip() or all(line.strip().startswith("#") or not line.strip() for line in raw.splitlines()):
            continue
        source = f"{path.name}#{index}"
        index += 1
        try:
            parsed = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} document {index - 1}: malformed YAML: {exc}") from exc
        doc = render_document(parsed, variables, source=f"{path}#{index - 1}")
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ConfigError(f"{path} document {index - 1}: expected a mapping, got {type(doc).__name__}")
        missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
        if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
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

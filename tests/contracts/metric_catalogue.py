"""The metric catalogue (include/contracts/metrics.yaml) and the tools that check names against it.

* :func:`promql_selectors` parses PromQL with a real PromQL parser (PyPI ``promql-parser``, the Rust
  ``promql-parser`` crate GreptimeDB maintains) and returns every vector selector (metric name or
  ``__name__`` regex, label matchers) and every aggregation's grouping labels: no regex tokenizer that
  could mistake a label, a function or a keyword for a metric.
* :func:`jmx_exporter_output` reproduces what the Prometheus JMX exporter makes of one MBean attribute with
  a rules file: the pattern wrapped as ``^.*(?:pattern).*$`` and matched on
  ``domain<key=value, ...><>attribute: value``, first matching rule wins, ``$n`` substituted, unsafe
  characters collapsed to one ``_``, lower-cased when asked; and, for agent versions 1.x, the reserved
  suffixes (``_total``, ``_created``, ``_bucket``, ``_info``) stripped from the name as
  ``MatchedRule`` does through client_java's ``PrometheusNaming.sanitizeMetricName``
  (prometheus/jmx_exporter tags parent-0.18.0 and 1.5.0, collector/.../JmxCollector.java, MatchedRule.java).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from commodity_platform.paths import INCLUDE_DIR, MANIFESTS_DIR

CATALOGUE_PATH: Path = INCLUDE_DIR / "contracts" / "metrics.yaml"
RULE_MANIFESTS: list[Path] = sorted((MANIFESTS_DIR / "07-monitoring").glob("prometheusrule-*.yaml"))
DASHBOARD_MANIFESTS: list[Path] = [
    MANIFESTS_DIR / "07-monitoring" / "20-grafana-dashboards.yaml",
    MANIFESTS_DIR / "08-use-cases" / "20-use-case-dashboard.yaml",
]
MONITOR_MANIFEST: Path = MANIFESTS_DIR / "07-monitoring" / "10-servicemonitors.yaml"
METRIC_TYPES = {"gauge", "counter", "summary", "histogram", "untyped"}
#: Grafana's interval variables are not PromQL; they stand for a duration.
GRAFANA_DURATION_VARIABLE = re.compile(r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}")
#: client_java 1.x PrometheusNaming.RESERVED_METRIC_NAME_SUFFIXES (the "." forms cannot occur after safe names).
RESERVED_SUFFIXES = ("_total", "_created", "_bucket", "_info")


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------ PromQL
@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # "=", "!=", "=~", "!~"
    value: str


@dataclass
class Selector:
    """One vector selector: a metric name, or (for ``{__name__=~"..."}``) a name regex."""

    name: str | None
    name_regex: str | None
    matchers: list[Matcher] = field(default_factory=list)


@dataclass
class ParsedExpr:
    selectors: list[Selector]
    #: (grouping labels, metric names and name regexes below the aggregation) per ``by (...)`` aggregation.
    groupings: list[tuple[list[str], list[Selector]]]


#: promql_parser.MatchOp values are not hashable; they are told apart by their names.
_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _selector(node: Any) -> Selector:
    matchers = [Matcher(m.name, _OPS[str(m.op)], m.value) for m in node.matchers.matchers]
    name_regex = None
    name = node.name
    if not name:
        by_name = [m for m in matchers if m.label == "__name__"]
        if len(by_name) == 1 and by_name[0].op == "=":
            name = by_name[0].value
        elif len(by_name) == 1 and by_name[0].op == "=~":
            name_regex = by_name[0].value
        else:
            raise ValueError(f"selector without a usable metric name: {node}")
    return Selector(name, name_regex, [m for m in matchers if m.label != "__name__"])


def promql_selectors(expr: str) -> ParsedExpr:
    """Every vector selector and every ``by``-grouping of ``expr`` (Grafana interval variables allowed)."""
    text = GRAFANA_DURATION_VARIABLE.sub("5m", expr)
    try:
        tree = promql_parser.parse(text)
    except ValueError as err:
        raise ValueError(f"not valid PromQL: {expr!r}: {err}") from err
    selectors: list[Selector] = []
    groupings: list[tuple[list[str], list[Selector]]] = []

    def collect(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            selectors.append(_selector(node))
        elif isinstance(node, promql_parser.AggregateExpr):
            modifier = node.modifier
            if modifier is not None and modifier.type == promql_parser.AggModifierType.By and modifier.labels:
                inner: list[Selector] = []
                promql_parser.walk(node.expr, lambda n: inner.append(_selector(n))
                                   if isinstance(n, promql_parser.VectorSelector) else None)
                groupings.append((list(modifier.labels), inner))

    promql_parser.walk(tree, collect)
    return ParsedExpr(selectors, groupings)


def rule_exprs() -> dict[str, str]:
    """``"<file>: <alert or record>" -> expr`` for every PrometheusRule manifest."""
    out = {}
    for path in RULE_MANIFESTS:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["spec"]["groups"]:
            for rule in group["rules"]:
                out[f"{path.name}: {rule.get('alert') or rule.get('record')}"] = rule["expr"]
    return out


def dashboard_exprs() -> dict[str, str]:
    """``"<file>/<dashboard key>: <panel title> #n" -> expr`` for every Prometheus target of the dashboards.

    The ConfigMaps are read as files (not rendered): ``${dp:...}`` placeholders only occur in SQL panels.
    """
    out = {}
    for path in DASHBOARD_MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "ConfigMap":
                continue
            for key, text in (doc.get("data") or {}).items():
                dashboard = json.loads(text)
                for panel in dashboard.get("panels", []):
                    for n, target in enumerate(panel.get("targets", [])):
                        if "expr" in target:
                            out[f"{path.name}/{key}: {panel.get('title')} #{n}"] = target["expr"]
    return out


# ------------------------------------------------------------------------------------ JMX exporter
def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _safe_name(name: str) -> str:
    """JmxCollector.safeName/toSafeName: unsafe characters and runs of "_" become one "_"."""
    out = re.sub(r"[^a-zA-Z0-9:_]", "_", name)
    out = re.sub(r"_+", "_", out)
    return f"_{out}" if out[:1].isdigit() else out


def _strip_reserved_suffixes(name: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for suffix in RESERVED_SUFFIXES:
            if name.endswith(suffix) and name != suffix:
                name, stripped = name[: -len(suffix)], True
                break
    return name


def _substitute(template: str, match: re.Match[str]) -> str:
    return re.sub(r"\$(\d+)", lambda g: match.group(int(g.group(1))) or "", template)


def jmx_exporter_output(config: dict[str, Any], match_string: str, version: str) -> tuple[str, dict[str, str]] | None:
    """(name, labels) the JMX exporter ``version`` exports for one MBean attribute, or None if no rule matches."""
    for rule in config.get("rules", []):
        match = re.fullmatch(r"^.*(?:" + rule["pattern"] + r").*$", match_string)
        if not match:
            continue
        if "name" not in rule:
            raise ValueError(f"rule {rule['pattern']!r} has no name: the default export format is not emulated")
        name = _safe_name(_substitute(rule["name"], match))
        if config.get("lowercaseOutputName"):
            name = name.lower()
        if _major(version) >= 1:
            name = _strip_reserved_suffixes(name)
        labels = {}
        for key, value in (rule.get("labels") or {}).items():
            label = _safe_name(_substitute(key, match))
            labels[label.lower() if config.get("lowercaseOutputLabelNames") else label] = _substitute(value, match)
        return name, labels
    return None


def jmx_exporter_names(config: dict[str, Any], mbeans: list[str], version: str) -> set[str]:
    """Names the JMX exporter ``version`` produces for ``mbeans`` with ``config``."""
    return {out[0] for mbean in mbeans if (out := jmx_exporter_output(config, mbean, version))}


def jmx_config(configmap: str, key: str) -> dict[str, Any]:
    """The rules file ``key`` of ConfigMap ``configmap`` in the manifests."""
    for path in sorted(MANIFESTS_DIR.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == configmap:
                return yaml.safe_load(doc["data"][key])
    raise LookupError(f"ConfigMap {configmap} not found under {MANIFESTS_DIR}")

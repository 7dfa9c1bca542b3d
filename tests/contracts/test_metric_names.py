"""Every metric the alert rules, the dashboards and the promtool tests use is one its upstream exports.

The catalogue (include/contracts/metrics.yaml) names, for each metric, the upstream file that exports it,
its type and its labels. Here every PromQL expression is parsed with a real PromQL parser and each
selector is checked against the catalogue: the metric name, every matcher's label name (the exporter's
labels plus the labels the scrape adds), enumerated label values, and, where the catalogue lists the
label combinations an exporter emits (Doris ``node_info``), that the selector can match one of them.
Names made by the JMX exporter are re-derived from the upstream MBean with the project's rules and the
agent version's naming; the streaming_dq_* entries are compared with the quality package's own code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from commodity_platform.paths import INCLUDE_DIR, MANIFESTS_DIR, PROJECT_ROOT
from tests.contracts.metric_catalogue import (
    METRIC_TYPES,
    MONITOR_MANIFEST,
    Selector,
    dashboard_exprs,
    jmx_config,
    jmx_exporter_output,
    load_catalogue,
    promql_selectors,
    rule_exprs,
)

CATALOGUE = load_catalogue()
METRICS: dict[str, dict[str, Any]] = CATALOGUE["metrics"]
EXPORTERS: dict[str, dict[str, Any]] = CATALOGUE["exporters"]
PROMTOOL_TESTS = sorted((PROJECT_ROOT / "tests" / "quality" / "promtool").glob("*.test.yml"))
QUALITY_PACKAGE = PROJECT_ROOT / "plugins" / "commodity_platform" / "quality"
ALL_EXPRS = {**rule_exprs(), **dashboard_exprs()}


def allowed_labels(name: str) -> set[str]:
    entry = METRICS[name]
    return set(entry["labels"]) | set(EXPORTERS[entry["exporter"]]["target_labels"])


def _series_problem(name: str, equalities: dict[str, str]) -> str | None:
    """A problem if no label combination the exporter emits for ``name`` has the ``=`` matchers' values."""
    series: list[dict[str, str]] | None = METRICS[name].get("series")
    if not series:
        return None
    keys = set().union(*series)
    wanted = {k: v for k, v in equalities.items() if k in keys}
    if any(all(combo.get(k, "") == v for k, v in wanted.items()) for combo in series):
        return None
    return f"{name}{wanted}: the exporter never emits this combination (it emits {series})"


def selector_problems(selector: Selector, *, query: bool = True) -> list[str]:
    """Why ``selector`` cannot match what the catalogued exporters export (empty list: it can).

    For a query (not a promtool input series) a metric the exporter writes both as a total and per value
    of a label (``total_without``) must be selected with that label, ``=""`` for the total.
    """
    if selector.name is not None:
        if selector.name not in METRICS:
            return [f"metric {selector.name!r} is not in include/contracts/metrics.yaml"]
        names = [selector.name]
    else:
        names = [n for n in METRICS if re.fullmatch(selector.name_regex or "", n)]
        if not names:
            return [f"__name__=~{selector.name_regex!r} matches no catalogued metric"]
    problems = []
    for name in names:
        allowed = allowed_labels(name)
        values: dict[str, list[str]] = METRICS[name].get("label_values") or {}
        for matcher in selector.matchers:
            if matcher.label not in allowed:
                problems.append(f"{name}: label {matcher.label!r} is neither exported nor added by the scrape "
                                f"(allowed: {sorted(allowed)})")
            elif matcher.op == "=" and matcher.label in values and matcher.value not in values[matcher.label]:
                problems.append(f"{name}: {matcher.label}={matcher.value!r} never occurs "
                                f"(values: {values[matcher.label]})")
        equalities = {m.label: m.value for m in selector.matchers if m.op == "="}
        if problem := _series_problem(name, equalities):
            problems.append(problem)
        if query:
            problems += [f'{name}: the exporter writes a total and one series per {label}; select {label}="" '
                         f"(the total) or one {label}, or the total is counted twice"
                         for label in METRICS[name].get("total_without", []) if label not in equalities]
    return problems


def expr_problems(expr: str) -> list[str]:
    parsed = promql_selectors(expr)
    problems = [p for selector in parsed.selectors for p in selector_problems(selector)]
    for labels, inner in parsed.groupings:
        names = [s.name for s in inner if s.name in METRICS]
        names += [n for s in inner if s.name_regex for n in METRICS if re.fullmatch(s.name_regex, n)]
        if not names:
            continue
        available = set().union(*(allowed_labels(n) for n in names)) | {"__name__"}
        problems += [f"by ({label}): no metric below the aggregation has it ({sorted(set(names))})"
                     for label in labels if label not in available]
    return problems


# ----------------------------------------------------------------------------------- the catalogue itself
@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_entry_names_its_upstream_source(name: str) -> None:
    entry = METRICS[name]
    assert entry["exporter"] in EXPORTERS, f"{name}: unknown exporter {entry['exporter']!r}"
    upstream = entry.get("upstream") or {}
    missing = [key for key in ("repo", "path", "version") if not str(upstream.get(key) or "").strip()]
    assert not missing, f"{name}: upstream lacks {missing}"
    assert entry["type"] in METRIC_TYPES, f"{name}: type {entry['type']!r}"
    labels = set(entry["labels"])
    assert set().union(*(entry.get("series") or [{}])) <= labels, f"{name}: series use undeclared labels"
    assert set(entry.get("label_values") or {}) <= labels, f"{name}: label_values for undeclared labels"
    assert set(entry.get("total_without") or []) <= labels, f"{name}: total_without names undeclared labels"


def test_every_exporter_is_scraped_by_a_monitor_of_the_project() -> None:
    monitors = {f"{d['kind']}/{d['metadata']['name']}": d
                for d in yaml.safe_load_all(MONITOR_MANIFEST.read_text(encoding="utf-8")) if d}
    for exporter_id, exporter in EXPORTERS.items():
        scraped_by = exporter["scraped_by"]
        if scraped_by in ("pushgateway", "prometheus"):
            continue
        assert scraped_by in monitors, f"{exporter_id}: {scraped_by} is not in {MONITOR_MANIFEST.name}"
        spec = monitors[scraped_by]["spec"]
        endpoints = spec.get("endpoints") or spec.get("podMetricsEndpoints") or []
        relabeled = {r["targetLabel"] for ep in endpoints for r in ep.get("relabelings", []) if "targetLabel" in r}
        assert relabeled <= set(exporter["target_labels"]), (
            f"{exporter_id}: {scraped_by} relabels into {sorted(relabeled)}, catalogue target_labels "
            f"{exporter['target_labels']}")


# ----------------------------------------------------------------- rules, dashboards and promtool tests
def test_the_rules_and_dashboards_have_promql_to_check() -> None:
    assert len(rule_exprs()) >= 20 and len(dashboard_exprs()) >= 30


@pytest.mark.parametrize("where", sorted(ALL_EXPRS))
def test_every_metric_in_rules_and_dashboards_is_catalogued(where: str) -> None:
    problems = expr_problems(ALL_EXPRS[where])
    assert not problems, f"{where}: {ALL_EXPRS[where]}\n" + "\n".join(problems)


def _input_series(test_file: Path) -> list[str]:
    spec = yaml.safe_load(test_file.read_text(encoding="utf-8"))
    return [s["series"] for test in spec["tests"] for s in test.get("input_series", [])]


@pytest.mark.parametrize("test_file", PROMTOOL_TESTS, ids=lambda p: p.name)
def test_promtool_inputs_are_series_the_exporters_really_write(test_file: Path) -> None:
    """The alert unit tests feed the names and labels the exporters emit (not the rules' assumptions)."""
    problems = [f"{series}: {p}" for series in _input_series(test_file)
                for selector in promql_selectors(series).selectors for p in selector_problems(selector, query=False)]
    assert not problems, "\n".join(problems)


def scrape_jobs() -> set[str]:
    """The ``job`` label values the project's scrapes produce (prometheus-operator defaults: a ServiceMonitor's
    job is the Service's name, a PodMonitor's ``<namespace>/<name>``; the Pushgateway keeps the pushed job)."""
    from commodity_platform.quality.settings import PUSH_JOB

    docs = [d for path in sorted(MANIFESTS_DIR.rglob("*.yaml"))
            for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    services = [d for d in docs if d.get("kind") == "Service"]
    jobs = {PUSH_JOB}
    for monitor in yaml.safe_load_all(MONITOR_MANIFEST.read_text(encoding="utf-8")):
        if not monitor:
            continue
        assert "jobLabel" not in monitor["spec"], "jobLabel changes the job names: teach scrape_jobs()"
        wanted = monitor["spec"]["selector"].get("matchLabels", {})
        if monitor["kind"] == "ServiceMonitor":
            jobs |= {svc["metadata"]["name"] for svc in services
                     if wanted.items() <= (svc["metadata"].get("labels") or {}).items()}
        else:
            jobs.add(f"data-platform/{monitor['metadata']['name']}")
    return jobs


def test_job_matchers_name_jobs_the_scrapes_produce() -> None:
    jobs = scrape_jobs()
    assert {"doris-fe", "doris-be", "kafka-connect", "streaming_data_quality"} <= jobs, jobs
    used = [(where, m) for where, expr in ALL_EXPRS.items() for sel in promql_selectors(expr).selectors
            for m in sel.matchers if m.label == "job"]
    used += [(f.name, m) for f in PROMTOOL_TESTS for series in _input_series(f)
             for sel in promql_selectors(series).selectors for m in sel.matchers if m.label == "job"]
    assert used

    def produced(op: str, value: str) -> bool:
        return value in jobs if op == "=" else op != "=~" or any(re.fullmatch(value, job) for job in jobs)

    bad = [f"{where}: job{m.op}{m.value!r}" for where, m in used if not produced(m.op, m.value)]
    assert not bad, f"job values no scrape produces (jobs: {sorted(jobs)}):\n" + "\n".join(bad)


@pytest.mark.parametrize(("expr", "expected"), [
    # The DorisBackendDown / DorisFrontendDown expressions before issue 12: a name the FE never exports ...
    ('max(doris_fe_node_info{type="be_node_num", state="dead"}) > 0', "'doris_fe_node_info' is not in"),
    # ... and, with the real name, a combination getNodeInfo never writes (FEs only have state="total").
    ('max(node_info{type="fe_node_num", state="dead"}) > 0', "never emits this combination"),
    ('sum(rate(doris_fe_query_total{quantile="0.99"}[5m]))', "label 'quantile' is neither exported"),
    ('sum by (job_name) (kafka_connect_connector_status)', "by (job_name): no metric"),
    ('kafka_connect_connector_status{status="FAILED"}', "status='FAILED' never occurs"),
    ('sum(rate(doris_fe_query_total[5m]))', "the total is counted twice"),
    ('sum by (a) (rate(kafka_connect_rebalance_total[5m])) / on (a) group_left up', "'kafka_connect_rebalance_total'"),
])
def test_the_checker_rejects_names_and_labels_upstream_does_not_export(expr: str, expected: str) -> None:
    problems = expr_problems(expr)
    assert any(expected in p for p in problems), problems


def test_the_checker_accepts_the_real_doris_node_series() -> None:
    assert expr_problems('max(node_info{component="fe", type="be_node_num", state="alive"})') == []
    assert expr_problems('max(node_info{type="fe_node_num", state="total"}) > count(up{component="fe"} == 1)') == []


# ---------------------------------------------------------------------------------------- JMX exporter
JMX_ENTRIES = sorted(name for name, entry in METRICS.items() if entry.get("mbean"))


@pytest.mark.parametrize("name", JMX_ENTRIES)
def test_jmx_metric_names_come_from_the_upstream_mbean_and_the_project_rules(name: str) -> None:
    entry = METRICS[name]
    jmx = EXPORTERS[entry["exporter"]]["jmx_exporter"]
    config = jmx_config(jmx["config"]["configmap"], jmx["config"]["key"])
    produced = jmx_exporter_output(config, entry["mbean"], jmx["version"])
    assert produced is not None, f"no rule of ConfigMap {jmx['config']['configmap']} matches {entry['mbean']}"
    produced_name, produced_labels = produced
    assert produced_name == name, f"jmx_exporter {jmx['version']} exports {produced_name}, catalogue says {name}"
    assert set(produced_labels) <= set(entry["labels"]), (produced_labels, entry["labels"])


def test_jmx_exporter_1x_naming_is_emulated() -> None:
    """1.x strips reserved suffixes from rule names (MatchedRule -> sanitizeMetricName); 0.x keeps them."""
    config = jmx_config("kafka-connect-jmx-exporter", "kafka-connect.yml")
    mbean = METRICS["kafka_connect_worker_rebalance_completed_rebalances_total"]["mbean"]
    name = "kafka_connect_worker_rebalance_completed_rebalances"
    assert jmx_exporter_output(config, mbean, "0.18.0")[0] == f"{name}_total"
    assert jmx_exporter_output(config, mbean, "1.5.0")[0] == name


AGENT_JAR = re.compile(r"jmx_prometheus_javaagent[-_/](\d+\.\d+\.\d+)")


def test_connect_jmx_agent_version_is_the_catalogued_one() -> None:
    """Names depend on the agent's major version: a jar or image that brings another one must update the catalogue."""
    from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS

    catalogued = EXPORTERS["kafka-connect-jmx"]["jmx_exporter"]["version"]
    sources = [*(MANIFESTS_DIR / "03-kafka-connect").glob("*.yaml"), *INCLUDE_DIR.rglob("Dockerfile*")]
    found = {(path.relative_to(PROJECT_ROOT).as_posix(), version) for path in sources
             for version in AGENT_JAR.findall(path.read_text(encoding="utf-8"))}
    assert all(version == catalogued for _, version in found), (found, catalogued)
    image = DEFAULT_IMAGE_TAGS["kafka_connect"]
    if image.startswith("confluentinc/cp-kafka-connect:") and not found:
        # The agent comes with cp-base-new: CP 7.9.0 pins jmx_prometheus_javaagent 0.18.0 (confluentinc/common pom.xml).
        assert image.endswith(":7.9.0") and catalogued == "0.18.0", (image, catalogued)


def test_strimzi_jmx_agent_version_is_the_catalogued_one() -> None:
    from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS

    # strimzi/strimzi-kafka-operator 1.0.0 docker-images/kafka-based/kafka/Dockerfile: JMX_EXPORTER_VERSION=1.5.0.
    assert DEFAULT_IMAGE_TAGS["strimzi_chart_version"] == "1.0.0"
    assert EXPORTERS["kafka-broker-jmx"]["jmx_exporter"]["version"] == "1.5.0"


# --------------------------------------------------------------------------- the project's own metrics
def _code_labels() -> dict[str, set[str]]:
    """Label names per metric, from every ``MetricSample("<name>", {<labels>}, ...)`` in the quality package."""
    labels: dict[str, set[str]] = {}
    for path in QUALITY_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "MetricSample"
                    and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[1], ast.Dict)):
                keys = {k.value for k in node.args[1].keys if isinstance(k, ast.Constant)}
                labels.setdefault(node.args[0].value, set()).update(keys)
    return labels


DQ_ENTRIES = sorted(name for name, entry in METRICS.items() if entry["exporter"] == "streaming-data-quality")


def test_dq_entries_are_the_metric_objects_of_the_quality_package() -> None:
    from prometheus_client import generate_latest

    from commodity_platform.quality import metrics
    from commodity_platform.quality.results import MetricSample
    from commodity_platform.quality.settings import CHECKS

    assert DQ_ENTRIES, "no streaming_dq_* entry in the catalogue"
    code_labels = _code_labels()
    for name in DQ_ENTRIES:
        assert name in metrics.HELP, f"{name} is not a metric of commodity_platform.quality.metrics"
        assert set(METRICS[name]["labels"]) == code_labels.get(name, set()), (name, code_labels.get(name))
    assert METRICS["streaming_dq_check_success"]["label_values"]["check"] == list(CHECKS)
    # The registry the DAG pushes: one gauge per catalogued name, labelled as catalogued.
    samples = [MetricSample(name, dict.fromkeys(METRICS[name]["labels"], "x"), 1.0) for name in DQ_ENTRIES]
    exposition = generate_latest(metrics.build_registry(samples)).decode()
    for name in DQ_ENTRIES:
        assert f"# TYPE {name} {METRICS[name]['type']}" in exposition, name

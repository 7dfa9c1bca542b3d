"""The platform's PrometheusRules: valid against the upstream CRD, and unit-tested with promtool.

Each ``promtool/<name>.test.yml`` holds firing and non-firing cases for one rule file; the rule files
are the ``.spec`` of the manifests, extracted exactly as the sandbox Prometheus loads them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from commodity_platform.paths import MANIFESTS_DIR
from sandbox.services import extract_prometheus_rules

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TESTS_DIR = Path(__file__).parent / "promtool"
RULE_MANIFESTS = sorted((MANIFESTS_DIR / "07-monitoring").glob("prometheusrule-*.yaml"))
CRD = Path("/work/shared/reference/crds/prometheusrules.monitoring.coreos.com.yaml")
EXPECTED_ALERTS = {
    "StreamingDataQualityCheckFailed", "StreamingDataDelayed", "StreamingNoDataReceived", "StreamingHighErrorRate",
    "StreamingOhlcMismatch", "StreamingIngestLatencyHigh", "StreamingDataQualityNotReporting",
    "KafkaConnectConnectorFailed", "KafkaConnectTaskFailed", "KafkaConnectTaskFailureRateHigh",
    "KafkaConnectWorkerUnavailable", "FlinkJobNotRunning", "FlinkJobRestarting", "FlinkJobFrequentRestarts",
    "FlinkBackpressureHigh", "FlinkCheckpointFailures", "DorisFrontendDown", "DorisBackendDown",
    "DorisQueryLatencyHigh", "DorisDiskUsageHigh", "DorisLoadJobFailures",
}


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("rules")
    return extract_prometheus_rules(MANIFESTS_DIR, out)


def _alerts(paths: list[Path]) -> dict[str, dict]:
    return {rule["alert"]: rule for path in paths for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule}


def test_promtool_is_installed() -> None:
    assert Path(PROMTOOL).exists(), "promtool missing: apt-get install prometheus"


@pytest.mark.skipif(not CRD.exists(), reason="reference CRD not available on this machine")
@pytest.mark.parametrize("manifest", RULE_MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_the_prometheusrule_crd(manifest: Path) -> None:
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    doc = yaml.safe_load(manifest.read_text())
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["namespace"] == "data-platform"
    # No meta-schema check: the CRD carries Go regexes ("(?i)" mid-pattern) Python's re rejects.
    errors = list(jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"]).iter_errors(doc))
    assert errors == [], [e.message for e in errors]


def test_rule_files_pass_promtool_check(rule_files: list[Path]) -> None:
    result = subprocess.run([PROMTOOL, "check", "rules", *map(str, rule_files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_platform_alert_exists_and_is_unit_tested(rule_files: list[Path]) -> None:
    alerts = _alerts(rule_files)
    assert set(alerts) >= EXPECTED_ALERTS
    tested = {case["alertname"] for f in TESTS_DIR.glob("*.test.yml")
              for test in yaml.safe_load(f.read_text())["tests"] for case in test.get("alert_rule_test", [])}
    assert set(alerts) - tested == set()
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"].get("summary") and rule["annotations"].get("description"), name


def test_check_failed_alert_fires_without_delay(rule_files: list[Path]) -> None:
    rule = _alerts(rule_files)["StreamingDataQualityCheckFailed"]
    assert rule["for"] == "0m"
    assert "streaming_dq_check_success" in rule["expr"]


@pytest.mark.parametrize("test_file", sorted(TESTS_DIR.glob("*.test.yml")), ids=lambda p: p.name)
def test_promtool_unit_tests(test_file: Path, rule_files: list[Path], tmp_path: Path) -> None:
    spec = yaml.safe_load(test_file.read_text())
    spec["rule_files"] = [str(p) for p in rule_files]
    target = tmp_path / test_file.name
    target.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run([PROMTOOL, "test", "rules", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr

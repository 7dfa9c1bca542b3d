"""The sandbox's services are private, on loopback, and loaded with the project's alert rules."""

from __future__ import annotations

import subprocess

import httpx
import pytest
import yaml

from commodity_platform.paths import MANIFESTS_DIR, PROJECT_ROOT
from sandbox.services import extract_prometheus_rules

pytestmark = pytest.mark.sandbox


def test_services_listen_on_loopback_with_state_in_the_project(sandbox) -> None:
    endpoints = sandbox.endpoints()
    assert all("127.0.0.1:" in value for value in endpoints.values())
    ports = {sandbox.mariadb_port, sandbox.pushgateway_port, sandbox.prometheus_port}
    assert len(ports) == 3 and 3306 not in ports and 9090 not in ports
    assert sandbox.root.is_relative_to(PROJECT_ROOT / ".sandbox")
    ((datadir, port),) = sandbox.query("SELECT @@datadir, @@port", database=None)
    assert datadir.startswith(str(sandbox.root)) and port == sandbox.mariadb_port


def test_prometheus_loaded_every_prometheusrule_of_the_project(sandbox, tmp_path) -> None:
    rule_files = extract_prometheus_rules(MANIFESTS_DIR, tmp_path)
    assert rule_files, "no PrometheusRule manifests found"
    check = subprocess.run(["promtool", "check", "rules", *map(str, rule_files)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    expected = {group["name"] for path in rule_files for group in yaml.safe_load(path.read_text())["groups"]}
    loaded = httpx.get(f"{sandbox.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {g["name"] for g in loaded} == expected


def test_pushgateway_accepts_and_serves_a_push(sandbox) -> None:
    from prometheus_client import CollectorRegistry, Gauge, delete_from_gateway, push_to_gateway

    registry = CollectorRegistry()
    Gauge("sandbox_probe", "probe", registry=registry).set(7)
    push_to_gateway(sandbox.pushgateway_url, job="sandbox_probe", registry=registry)
    try:
        body = httpx.get(f"{sandbox.pushgateway_url}/metrics", timeout=5).text
        assert 'sandbox_probe{instance="",job="sandbox_probe"} 7' in body
    finally:
        delete_from_gateway(sandbox.pushgateway_url, job="sandbox_probe")

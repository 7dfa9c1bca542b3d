"""The apply engine and readiness gates against the emulator over HTTP (the client boundary)."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from commodity_platform.deploy.execution import deploy_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.k8s.apply import RECREATE_ANNOTATION
from commodity_platform.k8s.manifests import Manifest
from commodity_platform.k8s.readiness import ReadinessTimeoutError, WaitTarget, wait_ready

from .conftest import fake_connections

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "web:1"}]}},
    },
}


@pytest.fixture
def emulator_delay() -> float:
    """The engine fixture's emulator (tests/deploy/conftest.py) at the emulator's own default pace, 0.3 s."""
    return 0.3


def test_server_side_apply_is_idempotent_and_detects_changes(engine: Any) -> None:
    manifest = Manifest(copy.deepcopy(DEPLOYMENT), "web.yaml#0")
    assert engine.apply(manifest).action == "created"
    live = engine.get("apps/v1", "Deployment", "web")
    assert live["metadata"]["namespace"] == "data-platform"
    assert [m["manager"] for m in live["metadata"]["managedFields"]] == ["commodity-platform-deploy"]
    writes = len(engine.emulator.request_log)
    assert engine.apply(manifest).action == "unchanged"
    again = engine.get("apps/v1", "Deployment", "web")
    assert len(engine.emulator.request_log) == writes + 1  # the apply was sent ...
    assert again["metadata"]["generation"] == live["metadata"]["generation"]  # ... and stored nothing new
    assert again["metadata"]["managedFields"] == live["metadata"]["managedFields"]

    changed = copy.deepcopy(DEPLOYMENT)
    changed["spec"]["replicas"] = 4
    del changed["metadata"]["labels"]
    assert engine.apply(Manifest(changed, "web.yaml#0")).action == "configured"
    after = engine.get("apps/v1", "Deployment", "web")
    assert after["spec"]["replicas"] == 4
    assert "labels" not in after["metadata"]  # a field dropped from the manifest is removed (apply semantics)
    assert after["metadata"]["generation"] == live["metadata"]["generation"] + 1


def test_dry_run_reports_diff_and_stores_nothing(engine: Any) -> None:
    engine.apply(Manifest(copy.deepcopy(DEPLOYMENT), "web.yaml#0"))
    before = engine.get("apps/v1", "Deployment", "web")
    engine.dry_run = True
    changed = copy.deepcopy(DEPLOYMENT)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    result = engine.apply(Manifest(changed, "web.yaml#0"))
    assert result.action == "would-configure"
    assert "-      - image: web:1" in result.diff and "+      - image: web:2" in result.diff
    new = engine.apply(Manifest({**copy.deepcopy(DEPLOYMENT), "metadata": {"name": "other"}}, "o.yaml#0"))
    assert new.action == "would-create"
    after = engine.get("apps/v1", "Deployment", "web")
    assert after["spec"] == before["spec"] and after["metadata"]["generation"] == before["metadata"]["generation"]
    assert all("dryRun=All" in path for _, path in engine.emulator.request_log[-2:])
    assert engine.emulator.get_object("apps/v1", "Deployment", "other", "data-platform") is None


def test_immutable_job_is_recreated_when_annotated(engine: Any) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "install", "annotations": {RECREATE_ANNOTATION: "true"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "h", "image": "helm:1"}]}}},
    }
    engine.apply(Manifest(copy.deepcopy(job), "j.yaml#0"))
    uid = engine.get("batch/v1", "Job", "install")["metadata"]["uid"]
    job["spec"]["template"]["spec"]["containers"][0]["image"] = "helm:2"
    assert engine.apply(Manifest(job, "j.yaml#0")).action == "configured"
    recreated = engine.get("batch/v1", "Job", "install")
    assert recreated["metadata"]["uid"] != uid
    assert recreated["spec"]["template"]["spec"]["containers"][0]["image"] == "helm:2"


def test_unserved_kind_is_a_clear_error(engine: Any) -> None:
    from commodity_platform.errors import PermanentError

    manifest = Manifest({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "w.yaml#2")
    with pytest.raises(PermanentError, match=r"w\.yaml#2: example\.com/v1/Widget is not served"):
        engine.apply(manifest)


def test_watch_wait_logs_progress_and_times_out_with_diagnosis(
    make_engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # "web" takes 4 s (a replica every 1.3 s), so its partial states are seen even on a busy machine.
    engine = make_engine(delay=0.6, delays={"web": 4.0}, stuck={"stuck-web"})
    engine.apply(Manifest(copy.deepcopy(DEPLOYMENT), "web.yaml#0"))
    stuck = copy.deepcopy(DEPLOYMENT)
    stuck["metadata"]["name"] = "stuck-web"
    stuck["spec"]["selector"]["matchLabels"] = stuck["spec"]["template"]["metadata"]["labels"] = {"app": "stuck"}
    engine.apply(Manifest(stuck, "s.yaml#0"))
    with caplog.at_level(logging.INFO):
        wait_ready(engine, [WaitTarget("apps/v1", "Deployment", "web")], timeout=10, label="demo", recheck_seconds=5)
        assert "demo: Deployment/web 3/3 replicas available" in caplog.text
        assert "demo: Deployment/web 1/3 replicas available" in caplog.text or "2/3" in caplog.text
        from commodity_platform.k8s.diagnosis import log_diagnosis

        with pytest.raises(ReadinessTimeoutError, match=r"stuck-web: 2/3 replicas available.*ImagePullBackOff"):
            wait_ready(
                engine,
                [WaitTarget("apps/v1", "Deployment", "stuck-web")],
                timeout=1.5,
                label="demo",
                on_timeout=lambda bad: log_diagnosis(engine, bad, "demo"),
            )
    assert "pod stuck-web-2: phase=Pending" in caplog.text


def test_phase_with_custom_manifest_root_waits_for_flink_deployments(
    tmp_path: Any, make_emulator: Any, api_client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Phase 6 applies whatever YAML is in its directory (here a fixture) and gates on RUNNING+STABLE+READY."""
    emulator = make_emulator(delay=0.4)
    api = api_client_for(emulator)
    deploy_phase("flink-operator", api, PhaseOptions(timeout_seconds=20, recheck_seconds=0.5))
    apps = tmp_path / "06-flink-apps"
    apps.mkdir()
    (apps / "10-demo.yaml").write_text(
        """apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: demo-job
spec:
  image: flink:1.20
  flinkVersion: v1_20
  serviceAccount: flink
  jobManager: {resource: {cpu: 1, memory: 1024m}}
  taskManager: {resource: {cpu: 1, memory: 1024m}}
  job: {jarURI: "local:///opt/flink/opt/flink-python.jar", upgradeMode: stateless}
"""
    )
    with caplog.at_level(logging.INFO):
        report = deploy_phase(
            "flink-apps",
            api,
            PhaseOptions(manifests_root=str(tmp_path), timeout_seconds=20, recheck_seconds=0.5),
            connections=fake_connections(),
        )
    assert report.objects["FlinkDeployment/demo-job"] == "created"
    assert report.objects["Secret/doris-credentials"] == "created"  # the job's credentials come with the phase
    assert "flink-apps: FlinkDeployment/demo-job job RUNNING, lifecycle STABLE, jobmanager READY" in caplog.text

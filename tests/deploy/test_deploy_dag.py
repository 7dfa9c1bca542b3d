"""The DAG end to end with dag.test() against the Kubernetes API emulator over HTTP on loopback.

The ``kubernetes_default`` connection is given by ``AIRFLOW_CONN_KUBERNETES_DEFAULT`` (JSON, extra
``kube_config`` = the emulator's kubeconfig), so the tasks build their client exactly as in production:
``KubernetesHook(conn_id="kubernetes_default").api_client``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS, PHASES, PHASES_BY_NAME, default_timeouts

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "streaming_platform_deploy.py"
FAST = {"recheck_seconds": 0.5}


@pytest.fixture(scope="module")
def deploy_dag(airflow_db: Any) -> Any:
    """The DAG as the DagBag parses it (the metadata DB must exist: DagBag.get_dag consults it)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag("streaming_platform_deploy")


def _run(dag: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch, **conf: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", emulator.airflow_connection_uri_json())
    # Every param explicitly: in-process dag.test() runs share the DAG object, whose params keep the last conf.
    full_conf = {
        "phases": [p.name for p in PHASES],
        "dry_run": False,
        "namespace": "data-platform",
        "wait_timeout_seconds": default_timeouts(),
        "image_tags": dict(DEFAULT_IMAGE_TAGS),
        **FAST,
        **conf,
    }
    run = dag.test(run_conf=full_conf)
    with create_session() as session:
        tis = {ti.task_id: ti for ti in run.get_task_instances(session=session)}
        states = {tid: str(ti.state) for tid, ti in tis.items()}
        windows = {tid: (ti.start_date, ti.end_date) for tid, ti in tis.items()}
        rows = session.query(XComModel).filter(XComModel.run_id == run.run_id, XComModel.dag_id == dag.dag_id).all()
        xcoms = {row.task_id: XComModel.deserialize_value(row) for row in rows if row.key == "return_value"}
    return {"state": str(run.state), "states": states, "windows": windows, "xcoms": xcoms}


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def _assert_no_secret_values(connections: dict[str, Any], log_text: str, xcoms: dict[str, Any]) -> None:
    values = [connections["doris"]["password"], *connections["kafka_connect"].values()]
    values += [v.removeprefix("base64:") for v in values]
    values += [base64.b64encode(v.encode()).decode() for v in values]
    dumped = json.dumps(xcoms, default=str)
    assert log_text and dumped
    leaked = [v for v in values if v in log_text or v in dumped]
    assert not leaked, f"{len(leaked)} secret value(s) in logs or XCom"


def test_dag_structure_follows_phase_dependencies(deploy_dag: Any) -> None:
    assert deploy_dag.schedule is None or str(deploy_dag.timetable.summary) in ("None", "Never, external triggers only")
    for phase in PHASES:
        plan_task = deploy_dag.get_task(f"{phase.task_group_id}.plan")
        upstream = {t.split(".")[0] for t in plan_task.upstream_task_ids}
        assert upstream == {PHASES_BY_NAME[d].task_group_id for d in phase.depends_on}, phase.name
    # monitoring has no upstream: it runs in parallel with the first phases
    assert not deploy_dag.get_task("monitoring.plan").upstream_task_ids
    assert set(deploy_dag.params.keys()) >= {"phases", "dry_run", "namespace", "wait_timeout_seconds", "image_tags",
                                             "connectors_retry_budget_seconds"}


def test_full_deploy_then_rerun_changes_nothing(
    deploy_dag: Any,
    airflow_db: Any,
    make_emulator: Any,
    fake_integrations: Any,
    platform_connections: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = make_emulator(delay=0.3)
    with caplog.at_level("DEBUG"):
        first = _run(deploy_dag, emulator, monkeypatch)
    assert first["state"] == "success", first["states"]
    assert all(s == "success" for s in first["states"].values()), first["states"]

    # Dependency order: every phase's deploy started after each upstream phase's deploy finished.
    for phase in PHASES:
        start = first["windows"][f"{phase.task_group_id}.deploy"][0]
        for dep in phase.depends_on:
            assert start >= first["windows"][f"{PHASES_BY_NAME[dep].task_group_id}.deploy"][1], (phase.name, dep)

    summary = first["xcoms"]["summary"]
    assert summary["changed"] > 40 and set(summary["phases"]) == {p.name for p in PHASES}
    # The cluster now holds what the phases declare, ready.
    kafka = emulator.get_object("kafka.strimzi.io/v1", "Kafka", "commodity-kafka", "data-platform")
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in kafka["status"]["conditions"])
    doris = emulator.get_object("doris.selectdb.com/v1", "DorisCluster", "commodity-doris", "data-platform")
    assert doris["status"]["feStatus"]["componentCondition"]["phase"] == "available"
    for name in ("data-enricher", "price-aggregator", "anomaly-detector"):
        flink = emulator.get_object("flink.apache.org/v1beta1", "FlinkDeployment", name, "data-platform")
        assert flink["status"]["lifecycleState"] == "STABLE"
    assert fake_integrations["connectors"].calls == [{"dry_run": False}]
    assert fake_integrations["use-cases"].calls == [{"dry_run": False}]
    # The Secrets were built from the Airflow connections, with exactly the expected keys and values ...
    doris_secret = emulator.get_object("v1", "Secret", "doris-credentials", "data-platform")
    assert doris_secret["type"] == "kubernetes.io/basic-auth"
    assert _decoded(doris_secret) == {
        "username": platform_connections["doris"]["login"],
        "password": platform_connections["doris"]["password"],
    }
    connect_secret = emulator.get_object("v1", "Secret", "kafka-connect-credentials", "data-platform")
    assert set(connect_secret["data"]) == set(platform_connections["kafka_connect"])
    assert first["xcoms"]["kafka_connect.plan"]["secrets"] == {
        "kafka-connect-credentials": sorted(platform_connections["kafka_connect"])
    }
    assert first["xcoms"]["kafka_connect.deploy"]["objects"]["Secret/kafka-connect-credentials"] == "created"
    # ... and no value reached a log or an XCom.
    _assert_no_secret_values(platform_connections, caplog.text, first["xcoms"])

    rv_before = emulator.current_resource_version()
    writes_before = len(emulator.request_log)
    second = _run(deploy_dag, emulator, monkeypatch)
    assert second["state"] == "success", second["states"]
    assert second["xcoms"]["summary"]["changed"] == 0
    assert second["xcoms"]["summary"]["unchanged"] == summary["changed"] + summary["unchanged"]
    # Server-side applies were sent again, but the API server stored nothing new.
    assert len(emulator.request_log) > writes_before
    assert emulator.current_resource_version() == rv_before


def test_dry_run_changes_nothing_and_reports_diffs(
    deploy_dag: Any,
    airflow_db: Any,
    make_emulator: Any,
    fake_integrations: Any,
    platform_connections: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = make_emulator()
    objects_before = len(emulator.objects())
    rv_before = emulator.current_resource_version()
    with caplog.at_level("DEBUG"):
        result = _run(deploy_dag, emulator, monkeypatch, dry_run=True)
    assert result["state"] == "success", result["states"]
    assert emulator.current_resource_version() == rv_before
    assert len(emulator.objects()) == objects_before
    patches = [path for method, path in emulator.request_log if method == "PATCH"]
    assert patches and all("dryRun=All" in path for path in patches)
    assert result["xcoms"]["kafka.deploy"]["created"] > 0  # "would-create" counted as planned changes
    assert fake_integrations["connectors"].calls == [{"dry_run": True}]
    # The dry run's diff of a Secret names its keys only.
    assert "+  doris-password: '<redacted: new value>'" in caplog.text
    assert result["xcoms"]["doris.deploy"]["objects"]["Secret/doris-credentials"] == "would-create"
    _assert_no_secret_values(platform_connections, caplog.text, result["xcoms"])


def test_only_selected_phases_run(
    deploy_dag: Any,
    airflow_db: Any,
    make_emulator: Any,
    fake_integrations: Any,
    platform_connections: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = make_emulator()
    result = _run(deploy_dag, emulator, monkeypatch, phases=["monitoring", "flink-operator"])
    assert result["state"] == "success", result["states"]
    assert result["states"]["kafka.deploy"] == "skipped"
    assert result["states"]["monitoring.deploy"] == "success"
    assert result["states"]["flink_operator.deploy"] == "success"
    assert emulator.get_object("kafka.strimzi.io/v1", "Kafka", "commodity-kafka", "data-platform") is None
    assert fake_integrations["connectors"].calls == []


def test_stuck_workload_fails_its_phase_with_a_diagnosis(
    deploy_dag: Any,
    airflow_db: Any,
    make_emulator: Any,
    fake_integrations: Any,
    platform_connections: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = make_emulator(stuck={"kafka-connect"})
    timeouts = {p.name: 20 for p in PHASES}
    timeouts["kafka-connect"] = 3
    with caplog.at_level("INFO"):
        result = _run(
            deploy_dag,
            emulator,
            monkeypatch,
            phases=["kafka", "kafka-connect", "connectors"],
            wait_timeout_seconds=timeouts,
        )
    assert result["state"] == "failed", result["states"]
    assert result["states"]["kafka.deploy"] == "success"
    assert result["states"]["kafka_connect.deploy"] == "failed"
    assert result["states"]["connectors.plan"] == "upstream_failed"
    assert fake_integrations["connectors"].calls == []
    text = caplog.text
    assert "kafka-connect: Deployment/kafka-connect 2/3 replicas available" in text
    assert "diagnosis of objects that are not ready" in text
    assert "ImagePullBackOff" in text and "kafka-connect-2" in text

"""Each of the five DAGs triggered through the REST API v2 of a real Airflow (scheduler, LocalExecutor),
as a user triggers them from the UI, with the outcome checked where it lands: the warehouse, the Kafka
Connect and Kubernetes emulators, the Pushgateway. Plus a run the scheduler creates on its own, and
configuration errors that must fail once, without retries."""

from __future__ import annotations

import base64
import os
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from commodity_platform.deploy.secrets import connector_secret_keys
from commodity_platform.paths import PROJECT_ROOT
from sandbox.live_feed import LiveFeed
from sandbox.quality_demo import pushed_samples
from tests.dag_runs import task_states
from tests.e2e.conftest import E2E_DATABASE
from tests.ohlc.reference import assert_bars_match, reference_bars, stored_bars

pytestmark = pytest.mark.sandbox

DQ_INSTANCE = f"e2e-{os.getpid()}"


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_minute() -> datetime:
    return datetime.now(timezone.utc).replace(second=0, microsecond=0, tzinfo=None)


def test_doris_schema_migrate_creates_the_database_then_executes_no_ddl(live_airflow, sandbox, e2e_query) -> None:
    # This run starts from a server without the database.
    sandbox.drop_database(E2E_DATABASE)
    first = live_airflow.trigger("doris_schema_migrate", {"dry_run": False, "replication_num": 1})
    assert live_airflow.wait_for_run("doris_schema_migrate", first)["state"] == "success"
    applied = live_airflow.xcom("doris_schema_migrate", first, "apply_migrations")
    assert applied["executed_statements"] > 0
    history = e2e_query("SELECT script, success FROM schema_history ORDER BY installed_on")
    assert history and all(success for _, success in history), history
    tables = {name for (name,) in e2e_query("SHOW TABLES")}
    assert {"energy_prices_rt", "price_1min_agg", "market_alerts", "weather_events_rt", "trading_signals",
            "dq_results"} <= tables

    second = live_airflow.trigger("doris_schema_migrate", {"dry_run": False, "replication_num": 1})
    assert live_airflow.wait_for_run("doris_schema_migrate", second)["state"] == "success"
    assert live_airflow.xcom("doris_schema_migrate", second, "apply_migrations")["executed_statements"] == 0


def test_kafka_connect_register_reconciles_every_connector_on_the_emulator(live_airflow, emulators) -> None:
    run_id = live_airflow.trigger("kafka_connect_register", {"prune": True, "dry_run": False})
    run = live_airflow.wait_for_run("kafka_connect_register", run_id)
    assert run["state"] == "success", task_states(
        live_airflow.task_instances("kafka_connect_register", run_id), tries=True)
    specs = {path.stem for path in (PROJECT_ROOT / "include" / "connectors").glob("cp-*.yaml")}
    listed = httpx.get(f"{emulators.connect.url}/connectors", params={"expand": "status"}, timeout=10).json()
    assert set(listed) == specs
    for name, entry in listed.items():
        status = entry["status"]
        assert status["connector"]["state"] == "RUNNING", (name, status)
        assert status["tasks"] and all(t["state"] == "RUNNING" for t in status["tasks"]), (name, status)
    # One mapped reconcile task per connector, each ran once.
    states = task_states(live_airflow.task_instances("kafka_connect_register", run_id), tries=True)
    assert sum(key.startswith("reconcile[") for key in states) == len(specs)
    assert all(try_number == 1 for _, try_number in states.values()), states


def test_ohlc_backfill_then_data_quality_green_on_fresh_data(migrated, sandbox, e2e_query,
                                                              load_e2e_ticks) -> None:
    airflow = migrated
    end = _now_minute()
    start = end - timedelta(minutes=60)
    ticks = load_e2e_ticks(start, end, everything=True, n_ticks=20_000, commodities=4, seed=13)

    backfill = airflow.trigger("ohlc_backfill", {"start": _iso(start), "end": _iso(end)})
    assert airflow.wait_for_run("ohlc_backfill", backfill)["state"] == "success"
    conn = sandbox.mysql_connect(E2E_DATABASE)
    try:
        assert_bars_match(stored_bars(conn, start, end), reference_bars(ticks.rows(), start, end))
    finally:
        conn.close()
    verified = airflow.xcom("ohlc_backfill", backfill, "verify_bars")
    assert verified["bars_written"] > 0

    conf = {"as_of": _iso(end), "freshness_tables": {"energy_prices_rt": 300, "price_1min_agg": 360},
            "instance": DQ_INSTANCE}
    quality = airflow.trigger("streaming_data_quality", conf)
    run = airflow.wait_for_run("streaming_data_quality", quality)
    try:
        assert run["state"] == "success", task_states(
            airflow.task_instances("streaming_data_quality", quality), tries=True)
        rows = e2e_query("SELECT check_name, success FROM dq_results WHERE run_id = %s", [quality])
        assert dict(rows) == {"freshness": 1, "error_rate": 1, "ohlc_correctness": 1}
        success = {labels["check"]: value for name, labels, value in
                   pushed_samples(sandbox.pushgateway_url, instance=DQ_INSTANCE)
                   if name == "streaming_dq_check_success"}
        assert success == {"freshness": 1.0, "error_rate": 1.0, "ohlc_correctness": 1.0}
    finally:
        airflow.set_paused("streaming_data_quality", True)  # the scheduled-run test unpauses it itself


def test_streaming_platform_deploy_applies_all_phases_to_the_kubernetes_emulator(live_airflow, emulators) -> None:
    run_id = live_airflow.trigger("streaming_platform_deploy", {"namespace": "data-platform", "dry_run": False})
    run = live_airflow.wait_for_run("streaming_platform_deploy", run_id, timeout=600)
    states = task_states(live_airflow.task_instances("streaming_platform_deploy", run_id), tries=True)
    assert run["state"] == "success", states
    assert all(state == "success" and try_number == 1 for state, try_number in states.values()), states
    summary = live_airflow.xcom("streaming_platform_deploy", run_id, "summary")
    assert len(summary["phases"]) == 8 and summary["created"] > 0

    k8s = emulators.kubernetes
    assert len(k8s.objects("FlinkDeployment")) == 3
    assert [o["metadata"]["name"] for o in k8s.objects("Kafka")] == ["commodity-kafka"]
    assert len(k8s.objects("DorisCluster")) == 1
    secret = k8s.get_object("v1", "Secret", "kafka-connect-credentials", "data-platform")
    assert secret is not None and set(secret["data"]) == connector_secret_keys()
    assert {key: base64.b64decode(value).decode() for key, value in secret["data"].items()} == \
        emulators.connector_secrets
    # The Secret's values never reach a task log.
    log_text = live_airflow.task_log("streaming_platform_deploy", run_id, "kafka_connect.deploy")
    assert "kafka-connect-credentials" in log_text
    assert not [key for key, value in emulators.connector_secrets.items() if value in log_text]


def test_unusable_kubernetes_connection_fails_once_without_retry(live_airflow, emulators) -> None:
    """The issue's "Invalid kube-config file", retried for minutes: now one try, failed, the cause in the log."""
    emulators.kubeconfig_path.unlink()  # kubernetes_default's kube_config_path now names no file
    try:
        run_id = live_airflow.trigger("streaming_platform_deploy", {"phases": ["monitoring"]})
        run = live_airflow.wait_for_run("streaming_platform_deploy", run_id, timeout=150)
    finally:
        emulators.write_kubeconfig()
    states = task_states(live_airflow.task_instances("streaming_platform_deploy", run_id), tries=True)
    assert run["state"] == "failed"
    assert states["monitoring.deploy"] == ("failed", 1), states
    log_text = live_airflow.task_log("streaming_platform_deploy", run_id, "monitoring.deploy")
    assert "Invalid kube-config file" in log_text and "kubernetes_default" in log_text, log_text[-3000:]


def test_bad_param_value_fails_once_without_retry(live_airflow) -> None:
    run_id = live_airflow.trigger("ohlc_backfill", {"start": "2026-06-01T01:00:00Z", "end": "2026-06-01T00:00:00Z"})
    run = live_airflow.wait_for_run("ohlc_backfill", run_id, timeout=150)
    states = task_states(live_airflow.task_instances("ohlc_backfill", run_id), tries=True)
    assert run["state"] == "failed"
    assert states["resolve_window"] == ("failed", 1), states
    assert states["rebuild_bars"][0] == "upstream_failed", states
    log_text = live_airflow.task_log("ohlc_backfill", run_id, "resolve_window")
    assert "end" in log_text and "start" in log_text, log_text[-3000:]


def test_the_scheduler_runs_data_quality_on_its_schedule_green_on_the_live_feed(migrated, sandbox, e2e_query) -> None:
    """With the live feed writing (as in ``./dev ui``), the scheduler creates a data-quality run by itself
    (every minute in this session, STREAMING_DQ_SCHEDULE) and its default checks pass."""
    live_airflow = migrated
    # A healthy sandbox holds only what the feed writes: rows left by earlier tests (other commodities,
    # stations) stop arriving and would rightly fail freshness.
    for table in ("energy_prices_rt", "price_1min_agg", "market_alerts", "trading_signals", "weather_events_rt"):
        e2e_query(f"DELETE FROM {table}")
    with LiveFeed(sandbox, database=E2E_DATABASE, commodities=4):
        began = datetime.now(timezone.utc)
        live_airflow.set_paused("streaming_data_quality", False)
        try:
            deadline = began + timedelta(minutes=3)
            scheduled: list[dict] = []
            while not scheduled and datetime.now(timezone.utc) < deadline:
                scheduled = [r for r in live_airflow.dag_runs("streaming_data_quality", run_type=["scheduled"])
                             if datetime.fromisoformat(r["queued_at"].replace("Z", "+00:00")) >= began]
                if not scheduled:
                    time.sleep(2)
            assert scheduled, "no scheduled run within 3 minutes"
            run = live_airflow.wait_for_run("streaming_data_quality", scheduled[0]["dag_run_id"])
        finally:
            live_airflow.set_paused("streaming_data_quality", True)
    assert run["run_type"] == "scheduled"
    states = task_states(live_airflow.task_instances("streaming_data_quality", run["dag_run_id"]), tries=True)
    assert set(states) == {"run_checks", "freshness", "error_rate", "ohlc_correctness", "publish", "verdict"}
    rows = e2e_query("SELECT check_name, success, summary FROM dq_results WHERE run_id = %s", [run["dag_run_id"]])
    results = {name: success for name, success, _ in rows}
    assert results == {"freshness": 1, "error_rate": 1, "ohlc_correctness": 1}, (rows, states)
    assert run["state"] == "success", states
    assert set(states.values()) == {("success", 1)}, states

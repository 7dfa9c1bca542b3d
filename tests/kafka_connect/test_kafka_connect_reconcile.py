"""The reconcile loop against the Connect emulator over real HTTP.

Covers idempotency (request counts), drift repair, desired states, rebalances, failed-task restarts,
prune safety, dry runs and Connect-side validation errors.
"""

from __future__ import annotations

import itertools
import logging
import re
from pathlib import Path

import pytest

from commodity_platform.errors import ConfigError, PermanentError, TemporaryError
from commodity_platform.kafka_connect.hook import KafkaConnectHook
from commodity_platform.kafka_connect.reconcile import ConnectorReconciler, find_orphans, reconcile_all
from commodity_platform.kafka_connect.specs import load_specs
from sandbox.connect_emulator import ConnectEmulator

FAST = {"poll_interval": 0, "wait_timeout": 30, "max_restarts": 3}


def _set_state(specs_dir: Path, name: str, state: str) -> None:
    path = specs_dir / f"{name}.yaml"
    path.write_text(re.sub(r"(?m)^state: \w+$", f"state: {state}", path.read_text(), count=1))


def _all_at(emulator: ConnectEmulator, state: str) -> None:
    for name in emulator.connectors:
        status = emulator.status_of(name)
        assert status["connector"]["state"] == state, status
        assert status["tasks"], status
        assert all(t["state"] == state for t in status["tasks"]), status


def test_first_run_creates_everything_second_run_sends_one_get(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    specs = load_specs(specs_dir)
    report = reconcile_all(hook, specs_dir=specs_dir, **FAST)
    assert {r.name for r in report.results} == {s.name for s in specs}
    assert all(r.outcome == "created" and r.final_state == "RUNNING" for r in report.results)
    assert len(emulator.requests("PUT", path_contains="/config/validate")) == len(specs)
    assert [r.status for r in emulator.requests("PUT") if r.path.endswith("/config")] == [201] * len(specs)
    _all_at(emulator, "RUNNING")
    # stored configs equal the specs (numbers and lists rendered as Connect strings)
    for spec in specs:
        assert emulator.connectors[spec.name].config == spec.config

    emulator.reset_log()
    second = reconcile_all(hook, specs_dir=specs_dir, **FAST)
    assert all(r.outcome == "unchanged" and not r.actions for r in second.results)
    assert [(r.method, r.path, r.query) for r in emulator.requests()] == [
        ("GET", "/connectors", "expand=status&expand=info")
    ]


def test_per_connector_path_is_idempotent_too(
    reconciler: ConnectorReconciler, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    (spec,) = load_specs(specs_dir, only=["cp-sink-doris-realtime"])
    assert reconciler.reconcile_one(spec).outcome == "created"
    emulator.reset_log()
    assert reconciler.reconcile_one(spec).outcome == "unchanged"
    assert {r.method for r in emulator.requests()} == {"GET"}
    assert len(emulator.requests()) == 2  # GET /connectors/{name} and its /status


def test_drift_is_repaired_only_where_it_happened(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reconcile_all(hook, specs_dir=specs_dir, **FAST)
    emulator.drift_config("cp-sink-doris-realtime", "buffer.flush.time", "60")
    emulator.drift_config("cp-sink-doris-realtime", "doris.password", "hand-typed-plaintext")
    emulator.drift_config("cp-sink-doris-realtime", "debug.extra", "1")
    emulator.reset_log()

    with caplog.at_level(logging.INFO):
        report = reconcile_all(hook, specs_dir=specs_dir, **FAST)
    changed = {r.name: r for r in report.results if r.outcome != "unchanged"}
    assert list(changed) == ["cp-sink-doris-realtime"]
    assert changed["cp-sink-doris-realtime"].outcome == "updated"
    assert changed["cp-sink-doris-realtime"].changed_keys == [
        "buffer.flush.time",
        "debug.extra",
        "doris.password",
    ]
    writes = emulator.writes()
    assert [(w.method, w.path, w.status) for w in writes] == [
        ("PUT", "/connectors/cp-sink-doris-realtime/config", 200)
    ]
    assert emulator.connectors["cp-sink-doris-realtime"].config["buffer.flush.time"] == "10"
    # the diff is logged; the hand-typed secret is masked, the reference is shown as a reference
    assert "~ buffer.flush.time: 60 -> 10" in caplog.text
    assert "- debug.extra = 1" in caplog.text
    assert "doris.password: *** -> ${dir:/mnt/secrets:doris-password}" in (caplog.text)
    assert "hand-typed-plaintext" not in caplog.text
    _all_at(emulator, "RUNNING")


def test_desired_states_paused_and_stopped(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    _set_state(specs_dir, "cp-source-fred-prices", "paused")
    _set_state(specs_dir, "cp-sink-jdbc-operational", "stopped")
    report = {r.name: r for r in reconcile_all(hook, specs_dir=specs_dir, **FAST).results}
    # new connectors that must not run are created in that state, never started first
    assert report["cp-source-fred-prices"].actions == ["created (PAUSED)"]
    assert report["cp-sink-jdbc-operational"].final_state == "STOPPED"
    posts = emulator.requests("POST", path_contains="/connectors")
    assert sorted(r.path for r in posts) == ["/connectors", "/connectors"]
    jdbc = emulator.status_of("cp-sink-jdbc-operational")
    assert (jdbc["connector"]["state"], jdbc["tasks"], jdbc["type"]) == ("STOPPED", [], "sink")
    fred = emulator.status_of("cp-source-fred-prices")
    assert fred["connector"]["state"] == "PAUSED"
    assert [t["state"] for t in fred["tasks"]] == ["PAUSED"]

    # back to running: resume (202), no config write, wait until tasks run
    _set_state(specs_dir, "cp-source-fred-prices", "running")
    emulator.reset_log()
    report = {r.name: r for r in reconcile_all(hook, specs_dir=specs_dir, **FAST).results}
    assert report["cp-source-fred-prices"].actions == ["resume"]
    assert [(w.path, w.status) for w in emulator.writes()] == [
        ("/connectors/cp-source-fred-prices/resume", 202)
    ]
    assert [t["state"] for t in emulator.status_of("cp-source-fred-prices")["tasks"]] == ["RUNNING"]


def test_out_of_band_pause_and_stop_are_reverted(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    reconcile_all(hook, specs_dir=specs_dir, **FAST)
    emulator.set_target("cp-sink-s3-archive", "PAUSED")
    emulator.set_target("cp-source-mysql-cdc", "STOPPED")
    emulator.reset_log()
    report = {r.name: r for r in reconcile_all(hook, specs_dir=specs_dir, **FAST).results}
    assert report["cp-sink-s3-archive"].actions == ["resume"]
    assert report["cp-source-mysql-cdc"].actions == ["resume"]
    assert report["cp-source-mysql-cdc"].outcome == "state-changed"
    assert not emulator.requests("PUT", path_contains="/config")
    _all_at(emulator, "RUNNING")


def test_rebalance_during_the_run_is_survived(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    emulator.begin_rebalance(requests=3)  # the snapshot GET meets the rebalance
    reconcile_all(hook, specs_dir=specs_dir, **FAST)
    assert [r.status for r in emulator.requests("GET", path_contains="/connectors")][:4] == [
        409,
        409,
        409,
        200,
    ]
    _all_at(emulator, "RUNNING")

    for name in ("cp-sink-doris-realtime", "cp-source-eia-prices"):
        emulator.drift_config(name, "tasks.max", "7")
    emulator.reset_log()
    emulator.begin_rebalance(requests=3, method="PUT")  # now the config writes meet one
    report = reconcile_all(hook, specs_dir=specs_dir, **FAST)
    assert sorted(r.name for r in report.results if r.outcome == "updated") == [
        "cp-sink-doris-realtime",
        "cp-source-eia-prices",
    ]
    puts = [(r.path.split("/")[2], r.status) for r in emulator.requests("PUT") if r.path.endswith("/config")]
    assert puts == [("cp-sink-doris-realtime", 409)] * 3 + [
        ("cp-sink-doris-realtime", 200),
        ("cp-source-eia-prices", 200),
    ]
    _all_at(emulator, "RUNNING")


def test_rebalance_outlasting_the_retries_is_temporary(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    emulator.begin_rebalance(requests=100)
    with pytest.raises(TemporaryError, match="HTTP 409"):
        reconcile_all(hook, specs_dir=specs_dir, **FAST)
    assert not emulator.connectors


def test_failed_tasks_are_restarted_with_only_failed(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    emulator.fail_task("cp-sink-elasticsearch-alerts", 1, times=2)
    report = {r.name: r for r in reconcile_all(hook, specs_dir=specs_dir, **FAST).results}
    es = report["cp-sink-elasticsearch-alerts"]
    assert es.restarts == 2
    assert es.final_state == "RUNNING"
    restarts = emulator.requests("POST", path_contains="/restart")
    assert [(r.path, r.query, r.status) for r in restarts] == [
        ("/connectors/cp-sink-elasticsearch-alerts/restart", "includeTasks=true&onlyFailed=true", 202)
    ] * 2
    _all_at(emulator, "RUNNING")


def test_crashed_task_on_a_healthy_cluster_is_repaired_without_config_write(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    reconcile_all(hook, specs_dir=specs_dir, **FAST)
    emulator.crash_task("cp-sink-s3-archive", 2)
    emulator.reset_log()
    report = {r.name: r for r in reconcile_all(hook, specs_dir=specs_dir, **FAST).results}
    assert report["cp-sink-s3-archive"].outcome == "repaired"
    assert [w.path for w in emulator.writes()] == ["/connectors/cp-sink-s3-archive/restart"]
    _all_at(emulator, "RUNNING")


def test_task_that_keeps_failing_gives_up_with_its_trace(
    reconciler: ConnectorReconciler, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    emulator.fail_task("cp-sink-doris-realtime", 0, times=100)
    (spec,) = load_specs(specs_dir, only=["cp-sink-doris-realtime"])
    with pytest.raises(PermanentError) as info:
        reconciler.reconcile_one(spec)
    message = str(info.value)
    assert "still FAILED after 3 restart(s)" in message
    assert "task 0 on connect-" in message
    assert "ConnectException: Task cp-sink-doris-realtime-0 failed" in message
    assert len(emulator.requests("POST", path_contains="/restart")) == 3


def test_waiting_is_bounded(hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path) -> None:
    emulator.settle_reads = 10_000  # the worker never brings the tasks up
    ticks = itertools.count()
    reconciler = ConnectorReconciler(
        hook, poll_interval=0, wait_timeout=5, clock=lambda: float(next(ticks)), sleep=lambda _: None
    )
    (spec,) = load_specs(specs_dir, only=["cp-source-eia-prices"])
    with pytest.raises(TemporaryError, match=r"cp-source-eia-prices: not RUNNING after 5s \(\d+ polls\)"):
        reconciler.reconcile_one(spec)


def test_dry_run_writes_nothing(hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path) -> None:
    emulator.seed_connector(
        "cp-orphan", {"connector.class": "FileStreamSink", "tasks.max": "1", "file": "/x"}
    )
    report = reconcile_all(hook, specs_dir=specs_dir, dry_run=True, prune=True, **FAST)
    assert not emulator.writes()
    assert all(r.outcome == "dry-run" and r.actions == ["would create config"] for r in report.results)
    assert report.pruned == ["cp-orphan"]
    assert "cp-orphan" in emulator.connectors
    assert set(emulator.connectors) == {"cp-orphan"}


def test_prune_deletes_only_managed_connectors_without_spec(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    file_sink = {"connector.class": "FileStreamSink", "tasks.max": "1", "file": "/x", "topics": "t"}
    emulator.seed_connector("cp-retired-connector", file_sink)
    emulator.seed_connector("team-x-connector", file_sink)  # not ours
    emulator.seed_connector("cp", file_sink)  # not prefixed "cp-"
    emulator.seed_connector("CP-upper", file_sink)

    # a subset run with prune still knows every spec: the other managed connectors survive
    reconcile_all(hook, specs_dir=specs_dir, only=["cp-source-eia-prices"], **FAST)
    report = reconcile_all(hook, specs_dir=specs_dir, only=["cp-sink-s3-archive"], prune=True, **FAST)
    assert report.pruned == ["cp-retired-connector"]
    assert [(r.method, r.path, r.status) for r in emulator.requests("DELETE")] == [
        ("DELETE", "/connectors/cp-retired-connector", 204)
    ]
    assert set(emulator.connectors) == {
        "cp-source-eia-prices",
        "cp-sink-s3-archive",
        "team-x-connector",
        "cp",
        "CP-upper",
    }


def test_prune_refuses_without_specs_or_prefix(
    reconciler: ConnectorReconciler, emulator: ConnectEmulator
) -> None:
    emulator.seed_connector(
        "cp-anything", {"connector.class": "FileStreamSink", "tasks.max": "1", "file": "/x"}
    )
    with pytest.raises(ConfigError, match="no connector specs loaded; refusing to prune"):
        reconciler.prune([])
    with pytest.raises(ConfigError, match="prefix is empty"):
        find_orphans(["cp-anything"], [], prefix="")
    assert not emulator.writes()


def test_prune_is_skipped_when_a_connector_failed(
    hook: KafkaConnectHook, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    emulator.seed_connector(
        "cp-retired", {"connector.class": "FileStreamSink", "tasks.max": "1", "file": "/x"}
    )
    emulator.reject_field(
        "io.confluent.connect.jdbc.JdbcSinkConnector",
        "pk.fields",
        "Invalid value alert_id: field not found in value schema",
    )
    with pytest.raises(PermanentError) as info:
        reconcile_all(hook, specs_dir=specs_dir, prune=True, **FAST)
    assert "1 connector(s) failed to reconcile" in str(info.value)
    assert "cp-retired" in emulator.connectors
    assert len(emulator.connectors) == 10  # the other nine were still reconciled (plus cp-retired)


def test_connect_validation_errors_are_reported_per_field(
    reconciler: ConnectorReconciler, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    path = specs_dir / "cp-sink-doris-realtime.yaml"
    path.write_text(path.read_text().replace("  doris.urls: doris-fe.data-platform.svc.cluster.local\n", ""))
    emulator.reject_field(
        "org.apache.doris.kafka.connector.DorisSinkConnector",
        "buffer.flush.time",
        "Invalid value 10 for configuration buffer.flush.time: Value must be at least 30",
    )
    (spec,) = load_specs(specs_dir, only=["cp-sink-doris-realtime"])
    with pytest.raises(ConfigError) as info:
        reconciler.reconcile_one(spec)
    message = str(info.value)
    assert message.startswith(str(path)) or "cp-sink-doris-realtime.yaml" in message
    assert "(2 error(s))" in message
    assert 'doris.urls: Missing required configuration "doris.urls" which has no default value.' in message
    assert "buffer.flush.time: Invalid value 10" in message
    assert not emulator.writes()


def test_unknown_plugin_is_refused_before_any_write(
    reconciler: ConnectorReconciler, emulator: ConnectEmulator, specs_dir: Path
) -> None:
    path = specs_dir / "cp-sink-jdbc-operational.yaml"
    path.write_text(
        path.read_text().replace(
            "io.confluent.connect.jdbc.JdbcSinkConnector", "io.debezium.connector.jdbc.JdbcSinkConnector"
        )
    )
    (spec,) = load_specs(specs_dir, only=["cp-sink-jdbc-operational"])
    with pytest.raises(ConfigError) as info:
        reconciler.reconcile_one(spec)
    message = str(info.value)
    assert "cp-sink-jdbc-operational.yaml: config key 'connector.class'" in message
    assert "'io.debezium.connector.jdbc.JdbcSinkConnector' is not installed" in message
    assert not emulator.requests("PUT")


def test_deploy_dag_contract_reconcile_all_with_only_dry_run(
    hook: KafkaConnectHook, emulator: ConnectEmulator
) -> None:
    """The deploy DAG's connectors phase calls ``reconcile_all(dry_run=...)`` with nothing else: the
    default connection (``kafka_connect_default``, here from the env var) and the repository's specs."""
    planned = reconcile_all(dry_run=True)
    assert (planned.changed, planned.unchanged, planned.dry_run) == (10, 0, True)
    assert not emulator.writes()
    applied = reconcile_all(dry_run=False, poll_interval=0)
    assert (applied.changed, applied.unchanged) == (10, 0)
    again = reconcile_all(dry_run=False)
    assert (again.changed, again.unchanged) == (0, 10)
    assert again.as_dict()["results"][0].keys() == {
        "name",
        "desired_state",
        "outcome",
        "actions",
        "changed_keys",
        "final_state",
        "restarts",
    }

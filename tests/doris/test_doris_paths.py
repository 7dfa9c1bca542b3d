"""Doris-only behaviour of the migrator, against a fake FE that answers like Doris (client boundary)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from commodity_platform.doris.migrations import MIGRATIONS_DIR, SchemaMigrator, SchemaSettings
from commodity_platform.doris.routine_load import RoutineLoadReconciler
from commodity_platform.errors import PermanentError
from tests.doris.fake_doris import FakeDorisHook, FakeDorisServer

JOBS = ["rl_energy_prices_rt", "rl_market_alerts", "rl_weather_events_rt"]


def make(server: FakeDorisServer, migrations_dir: Path = MIGRATIONS_DIR, **settings) -> SchemaMigrator:
    return SchemaMigrator(FakeDorisHook(server), settings=SchemaSettings(**settings),
                          migrations_dir=migrations_dir, poll_interval_s=0, sleep=lambda _s: None)


def migrate_and_reconcile(server: FakeDorisServer, **settings) -> RoutineLoadReconciler:
    m = make(server, **settings)
    plan = m.plan()
    m.migrate(plan)
    plan = m.plan()
    RoutineLoadReconciler(m).reconcile(plan.routine_loads, plan.applied)
    return RoutineLoadReconciler(m)


def test_doris_gets_the_files_verbatim_and_waits_for_the_mv_build() -> None:
    # First poll: no earlier job in flight; then the MV build runs for two polls.
    server = FakeDorisServer(alter_states={"energy_prices_rt": ["FINISHED", "RUNNING", "RUNNING", "FINISHED"]})
    m = make(server)
    report = m.migrate(m.plan())
    sent = server.statements
    assert any("DUPLICATE KEY(commodity_code, event_time)" in s and '"dynamic_partition.enable" = "true"' in s
               for s in sent), "Doris must receive the DDL as written"
    mv = next(i for i, s in enumerate(sent) if s.startswith("CREATE MATERIALIZED VIEW"))
    polls_after = [s for s in sent[mv:] if s.startswith("SHOW ALTER TABLE MATERIALIZED VIEW")]
    assert len(polls_after) == 3  # RUNNING, RUNNING, FINISHED
    assert "V004__create_tick_rollup_materialized_view.sql" in report.applied


def test_cancelled_schema_change_fails_with_dorises_message() -> None:
    server = FakeDorisServer(alter_states={"energy_prices_rt": ["FINISHED", "CANCELLED"]})
    m = make(server)
    expected = r"V004.*cancelled the materialized view job on energy_prices_rt: disk full"
    with pytest.raises(PermanentError, match=expected):
        m.migrate(m.plan())
    assert [h["success"] for h in server.history if h["script"].startswith("V004")] == [False]


def test_routine_loads_are_created_then_left_alone() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    assert {n: j["State"] for n, j in server.routine_loads.items()} == dict.fromkeys(JOBS, "RUNNING")

    sent_before = len(server.statements)
    m = make(server)
    plan = m.plan()
    m.migrate(plan)
    report = RoutineLoadReconciler(m).reconcile(plan.routine_loads, m.plan().applied)
    new = server.statements[sent_before:]
    assert report.executed == []
    assert not [s for s in new if not s.startswith(("SELECT", "SHOW", "USE"))], new


def test_changed_definition_is_paused_altered_resumed() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    sent_before = len(server.statements)

    m = make(server, kafka_broker_list="kafka-0:9092,kafka-1:9092")
    plan = m.plan()
    report = RoutineLoadReconciler(m).reconcile(plan.routine_loads, plan.applied)

    writes = [s for s in server.statements[sent_before:] if not s.startswith(("SELECT", "SHOW", "USE", "INSERT"))]
    expected = []
    for job in JOBS:
        expected += [f"PAUSE ROUTINE LOAD FOR commodity_realtime.{job}",
                     f"ALTER ROUTINE LOAD FOR commodity_realtime.{job}",
                     f"RESUME ROUTINE LOAD FOR commodity_realtime.{job}"]
    assert [w[: len(e)] for w, e in zip(writes, expected, strict=True)] == expected
    altered = server.routine_loads["rl_energy_prices_rt"]["altered"]
    assert '"kafka_broker_list" = "kafka-0:9092,kafka-1:9092"' in altered
    assert '"format"' not in altered  # not alterable in place
    assert report.states == dict.fromkeys(JOBS, "RUNNING")


def test_paused_job_is_resumed_and_a_stuck_one_fails_with_the_reason() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    server.routine_loads["rl_market_alerts"].update(State="PAUSED", Reason="ErrorReason{code=errCode = 102}")
    server.resume_state = "PAUSED"  # the cluster re-pauses it at once (errors above max_error_number)

    m = make(server)
    plan = m.plan()
    with pytest.raises(PermanentError, match=r"rl_market_alerts is PAUSED: ErrorReason\{code=errCode = 102\}"):
        RoutineLoadReconciler(m).reconcile(plan.routine_loads, plan.applied)
    assert "RESUME ROUTINE LOAD FOR commodity_realtime.rl_market_alerts" in server.statements


def test_stopped_job_is_recreated() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    server.routine_loads["rl_weather_events_rt"]["State"] = "STOPPED"
    m = make(server)
    plan = m.plan()
    report = RoutineLoadReconciler(m).reconcile(plan.routine_loads, plan.applied)
    assert "rl_weather_events_rt: created (is STOPPED (terminal))" in report.actions
    assert report.states["rl_weather_events_rt"] == "RUNNING"


def test_routine_load_outside_an_r_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "m"
    shutil.copytree(MIGRATIONS_DIR, target)
    body = (target / "R__routine_load_market_alerts.sql").read_text()
    (target / "V999__sneaky_load.sql").write_text(body.replace("rl_market_alerts", "rl_other"))
    from commodity_platform.errors import ConfigError

    with pytest.raises(ConfigError, match=r"V999__sneaky_load\.sql statement 1: Routine Loads belong in R__ files"):
        make(FakeDorisServer(), target).plan()

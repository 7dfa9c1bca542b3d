"""Doris-only behaviour of the migrator, against a fake FE that answers like Doris (client boundary)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from commodity_platform.doris.migration_files import (
    MIGRATIONS_DIR,
    SchemaSettings,
    discover_migrations,
    render,
    split_statements,
)
from commodity_platform.doris.migrations import SchemaMigrator
from commodity_platform.doris.routine_load import RoutineLoadReconciler
from commodity_platform.errors import ConfigError, PermanentError
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


# -- issue 12: what real Doris does that the reconciler must respect ---------------------------------


def test_routine_loads_are_listed_in_the_current_database_not_with_from() -> None:
    # Doris has no SHOW ROUTINE LOAD FROM <db> (DorisParser.g4 #showRoutineLoad); the fake refuses it.
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    shows = [s for s in server.statements if "ROUTINE LOAD" in s and s.startswith("SHOW")]
    assert shows and set(shows) == {"SHOW ALL ROUTINE LOAD"}
    assert not [s for s in server.statements if "ROUTINE LOAD FROM" in s]
    cur = server.connect().cursor()
    with pytest.raises(Exception, match="No database selected"):
        cur.execute("SHOW ALL ROUTINE LOAD")
    with pytest.raises(Exception, match="Syntax error"):
        cur.execute("SHOW ALL ROUTINE LOAD FROM `commodity_realtime`")


def test_fake_fe_alters_only_paused_jobs() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    cur = server.connect().cursor()
    with pytest.raises(Exception, match="Only supports modification of PAUSED jobs"):
        cur.execute('ALTER ROUTINE LOAD FOR commodity_realtime.rl_market_alerts PROPERTIES ("max_error_number" = "1")')


def test_alter_keeps_the_offsets_so_messages_sent_while_paused_are_loaded() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    server.produce("commodity-prices-enriched", 100)
    server.consume()
    job = server.routine_loads["rl_energy_prices_rt"]
    assert job["loaded"] == 100
    job["State"] = "PAUSED"  # paused by an operator or by Doris after errors
    server.produce("commodity-prices-enriched", 50)  # arrives while the job is paused

    m = make(server, kafka_broker_list="kafka-0:9092,kafka-1:9092")  # a definition change: ALTER
    plan = m.plan()
    RoutineLoadReconciler(m).reconcile(plan.routine_loads, plan.applied)
    server.consume()

    assert '"kafka_topic"' not in job["altered"]  # unchanged topic: not sent, Doris would reset progress
    assert job["brokers"] == "kafka-0:9092,kafka-1:9092"
    assert (job["loaded"], job["skipped"]) == (150, 0), "messages that arrived while paused were skipped"


def test_a_changed_topic_is_sent_and_doris_restarts_the_offsets(tmp_path: Path) -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    target = tmp_path / "m"
    shutil.copytree(MIGRATIONS_DIR, target)
    path = target / "R__routine_load_market_alerts.sql"
    path.write_text(path.read_text().replace('"kafka_topic" = "market-alerts"', '"kafka_topic" = "market-alerts-v2"'))

    server.produce("market-alerts-v2", 10)  # already on the new topic before the switch

    m = make(server, target)
    plan = m.plan()
    RoutineLoadReconciler(m).reconcile(plan.routine_loads, plan.applied)
    job = server.routine_loads["rl_market_alerts"]
    assert '"kafka_topic" = "market-alerts-v2"' in job["altered"]
    assert job["topic"] == "market-alerts-v2"
    # Doris dropped the progress with the topic: the job started at kafka_default_offsets (OFFSET_END).
    assert job["progress"] == {"0": 10} and job["skipped"] == 10 and job["loaded"] == 0
    assert '"kafka_topic"' not in server.routine_loads["rl_energy_prices_rt"].get("altered", "")


def test_alter_without_a_readable_live_topic_is_refused() -> None:
    from commodity_platform.doris.routine_load import live_topic

    with pytest.raises(PermanentError, match="no topic in DataSourceProperties"):
        live_topic({"Name": "rl_x", "DataSourceProperties": "{}"})
    assert live_topic({"DataSourceProperties": '{"topic":"t","currentKafkaPartitions":"0","brokerList":"b:1"}'}) == "t"


def _unbounded_history(text: str) -> str:
    """A migration as first released: create_history_partition without history_partition_num."""
    return re.sub(r',\s*"dynamic_partition.history_partition_num" = "[^"]*"', "", text)


def test_fake_fe_refuses_too_many_dynamic_partitions_like_doris(tmp_path: Path) -> None:
    target = tmp_path / "m"
    shutil.copytree(MIGRATIONS_DIR, target)
    path = target / "V002__create_price_1min_agg.sql"
    path.write_text(_unbounded_history(path.read_text()))
    server = FakeDorisServer()
    m = make(server)
    files = {f.script: f for f in discover_migrations(target)}
    sql = render(files[path.name].path.read_text(), SchemaSettings().placeholders(), where=path.name)
    cur = server.connect().cursor()
    with pytest.raises(Exception, match=r"Too many dynamic partitions: 733\. Limit: 500"):
        cur.execute(split_statements(sql)[0])
    # The project's lint refuses the same file before anything runs, naming file and table.
    with pytest.raises(ConfigError, match=r"V002__create_price_1min_agg\.sql statement 1: table price_1min_agg: "
                                          r".*create 733 partitions.*max_dynamic_partition_num \(500\)"):
        make(server, target).plan()
    assert m.plan().pending  # the shipped files pass


def test_shipped_migrations_run_on_the_fake_fe_with_its_partition_limit() -> None:
    server = FakeDorisServer()
    m = make(server)
    report = m.migrate(m.plan())
    assert {"V002__create_price_1min_agg.sql", "V003__create_market_alerts_and_trading_signals.sql",
            "V005__create_dq_results.sql"} <= set(report.applied)
    assert {"price_1min_agg", "market_alerts", "trading_signals", "dq_results"} <= server.tables


@pytest.mark.parametrize(("props", "count"), [
    ({"end": "3", "start": "-730", "create_history_partition": "true"}, 733),
    ({"end": "3", "start": "-730", "create_history_partition": "true", "history_partition_num": "30"}, 33),
    ({"end": "3", "start": "-730"}, 3),  # no history partitions: only today .. end
    ({"end": "3", "start": "-10", "create_history_partition": "TRUE", "history_partition_num": "30"}, 13),
])
def test_partition_count_follows_dynamic_partition_util(props: dict[str, str], count: int) -> None:
    from commodity_platform.doris.dynamic_partitions import partition_count

    counted = partition_count({f"dynamic_partition.{k}": v for k, v in props.items()})
    assert counted is not None and counted.count == count


def test_history_needs_a_start_or_a_number() -> None:
    from commodity_platform.doris.dynamic_partitions import lint_dynamic_partitions

    problems = lint_dynamic_partitions({"dynamic_partition.end": "3",
                                        "dynamic_partition.create_history_partition": "true"}, table="t")
    assert problems and "Provide start or history_partition_num" in problems[0]


def test_a_sandbox_that_applied_the_released_text_is_not_refused() -> None:
    server = FakeDorisServer()
    m = make(server)
    m.migrate(m.plan())
    released = {"V002__create_price_1min_agg.sql": "d9e83b97afb656636b8a40557d08c3ecdbc35c874b93760246c1e7fbf8e2100c"}
    for row in server.history:
        if row["script"] in released:
            row["checksum"] = released[row["script"]]
    assert make(server).plan().pending == []
    server.history[-1]["checksum"] = "0" * 64  # any other edit is still refused
    with pytest.raises(ConfigError, match="edited after release"):
        make(server).plan()


def test_a_retention_that_needs_too_many_partitions_is_refused_naming_files_and_tables() -> None:
    # history_partition_num follows raw_retention_days: 600 days of history + 3 ahead > 500.
    with pytest.raises(ConfigError, match=r"V001__create_raw_tick_and_weather_tables\.sql statement 1: table "
                                          r"energy_prices_rt: .*create 603 partitions"):
        make(FakeDorisServer(), raw_retention_days=600).plan()

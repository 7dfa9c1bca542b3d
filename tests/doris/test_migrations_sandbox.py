"""Migrations applied for real on the sandbox MariaDB (the Doris stand-in)."""

from __future__ import annotations

import shutil
from pathlib import Path

import MySQLdb
import pytest

from commodity_platform.doris.hook import DorisHook
from commodity_platform.doris.migration_files import MIGRATIONS_DIR, SchemaSettings, discover_migrations
from commodity_platform.doris.migrations import SchemaMigrator
from commodity_platform.errors import ConfigError, PermanentError

pytestmark = pytest.mark.sandbox
DB = "commodity_realtime"
VERSIONS = [f.version for f in discover_migrations() if f.version is not None]
NEXT = f"V{max(VERSIONS) + 1:03d}"  # file-name prefix of a migration added by a test
DDL_COUNTERS = ("Com_create_db", "Com_create_table", "Com_alter_table", "Com_drop_table", "Com_create_index",
                "Com_insert")


def ddl_counters(sandbox) -> dict[str, int]:
    names = ", ".join(f"'{n}'" for n in DDL_COUNTERS)
    rows = sandbox.query(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})", database=None)
    return {name: int(value) for name, value in rows}


def migrator(migrations_dir: Path = MIGRATIONS_DIR, **settings) -> SchemaMigrator:
    hook = DorisHook(schema="information_schema")
    return SchemaMigrator(hook, settings=SchemaSettings(**settings), migrations_dir=migrations_dir,
                          installed_by="pytest")


@pytest.fixture
def fresh_server(sandbox):
    """The sandbox MariaDB without the platform database, as on a new server."""
    sandbox.drop_database(DB)
    yield sandbox
    sandbox.drop_database(DB)


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def test_fresh_server_gets_database_tables_and_history(fresh_server) -> None:
    m = migrator()
    plan = m.plan()
    assert not plan.database_exists
    assert [p.file.version for p in plan.pending] == VERSIONS

    report = m.migrate(plan)

    tables = {r[0] for r in fresh_server.query("SHOW TABLES")}
    assert {"energy_prices_rt", "price_1min_agg", "market_alerts", "weather_events_rt", "trading_signals",
            "schema_history"} <= tables
    history = fresh_server.query("SELECT script, version, checksum, success, description FROM schema_history "
                                 "ORDER BY version")
    files = {f.script: f for f in discover_migrations()}
    assert [(h[0], h[1], h[3]) for h in history] == [(s, f.version, 1) for s, f in files.items() if f.version]
    assert all(h[2] == files[h[0]].checksum for h in history)
    assert report.applied == [h[0] for h in history]
    # Doris-only clauses were not silently lost: every adaptation is in the report (and the log).
    assert any("materialized view mv_ticks_by_commodity_source skipped" in n for n in report.skipped_notes)
    assert any("PROPERTIES dropped" in n for n in report.skipped_notes)


def test_second_run_executes_no_ddl(fresh_server) -> None:
    migrator().migrate(migrator().plan())
    before = ddl_counters(fresh_server)

    m = migrator()
    plan = m.plan()
    report = m.migrate(plan)

    assert plan.pending == []
    assert report.executed == [] and report.applied == []
    assert ddl_counters(fresh_server) == before


def test_data_contract_on_the_server(fresh_server) -> None:
    migrator().migrate(migrator().plan())
    conn = fresh_server.mysql_connect(DB)
    try:
        cur = conn.cursor()
        cur.execute("INSERT INTO energy_prices_rt (commodity_code, event_time, price, volume) "
                    "VALUES ('WTI', '2026-01-01 10:00:00.250', 71.25, 3.5)")
        cur.execute("SELECT event_time, price, volume FROM energy_prices_rt")
        assert [tuple(map(str, r)) for r in cur.fetchall()] == [("2026-01-01 10:00:00.250000", "71.250000",
                                                                   "3.5000")]
        bar = ("('WTI', '2026-01-01 10:00:00', 1, 1, 1, 1, 1, 1, 1)")
        cur.execute(f"INSERT INTO price_1min_agg VALUES {bar}")
        with pytest.raises(MySQLdb.IntegrityError):
            cur.execute(f"INSERT INTO price_1min_agg VALUES {bar}")
    finally:
        conn.close()


def test_edited_applied_file_is_refused_before_anything_runs(fresh_server, migrations_copy: Path) -> None:
    migrator(migrations_copy).migrate(migrator(migrations_copy).plan())
    v2 = migrations_copy / "V002__create_price_1min_agg.sql"
    v2.write_text(v2.read_text().replace("BUCKETS 8", "BUCKETS 16"))
    before = ddl_counters(fresh_server)

    with pytest.raises(ConfigError, match=r"edited after release: V002__create_price_1min_agg\.sql \(applied checksum"):
        migrator(migrations_copy).plan()
    assert ddl_counters(fresh_server) == before


def test_malformed_file_names_file_and_statement_and_records_nothing(fresh_server, migrations_copy) -> None:
    (migrations_copy / f"{NEXT}__add_broken_table.sql").write_text(
        "CREATE TABLE IF NOT EXISTS fine_one (a INT) DUPLICATE KEY(a) DISTRIBUTED BY HASH(a) BUCKETS 1 "
        "PROPERTIES (\"replication_num\" = \"1\");\n"
        "CREATE TABLE IF NOT EXISTS broken (a INT;\n"
    )
    with pytest.raises(ConfigError, match=rf"{NEXT}__add_broken_table\.sql statement 2: not valid Doris SQL"):
        migrator(migrations_copy).plan()
    # Validation happens before any statement: the new server is still untouched.
    assert fresh_server.query("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [DB],
                              database=None) == [(0,)]


def test_statement_rejected_by_server_is_recorded_failed_not_applied(fresh_server, migrations_copy) -> None:
    migrator(migrations_copy).migrate(migrator(migrations_copy).plan())
    # Valid Doris syntax, but the column already exists: only the server can tell.
    (migrations_copy / f"{NEXT}__add_currency_again.sql").write_text(
        "ALTER TABLE energy_prices_rt ADD COLUMN currency VARCHAR(8) NULL;\n"
    )
    with pytest.raises(PermanentError, match=rf"{NEXT}__add_currency_again\.sql statement 1 \[ALTER TABLE"):
        migrator(migrations_copy).migrate(migrator(migrations_copy).plan())

    history = fresh_server.query("SELECT success, error_message FROM schema_history "
                                 f"WHERE script = '{NEXT}__add_currency_again.sql'")
    assert len(history) == 1 and history[0][0] == 0 and "Duplicate column" in history[0][1]
    assert [p.file.script for p in migrator(migrations_copy).plan().pending] == [f"{NEXT}__add_currency_again.sql"]


def test_target_version_applies_a_prefix(fresh_server) -> None:
    report = migrator().migrate(migrator().plan(target_version=2))
    assert report.applied == ["V001__create_raw_tick_and_weather_tables.sql", "V002__create_price_1min_agg.sql"]
    assert [p.file.version for p in migrator().plan().pending] == VERSIONS[2:]
    with pytest.raises(ConfigError, match="target_version: 42 is not a migration version"):
        migrator().plan(target_version=42)


def test_file_older_than_applied_versions_is_refused(fresh_server, migrations_copy) -> None:
    migrator(migrations_copy).migrate(migrator(migrations_copy).plan())
    (migrations_copy / "V000__sneaked_in.sql").write_text("CREATE DATABASE IF NOT EXISTS other_db;")
    with pytest.raises(ConfigError, match=rf"V000__sneaked_in\.sql.*older than the applied version {max(VERSIONS)}"):
        migrator(migrations_copy).plan()


def test_unknown_placeholder_and_bad_settings_are_named(migrations_copy) -> None:
    (migrations_copy / f"{NEXT}__typo.sql").write_text("CREATE DATABASE IF NOT EXISTS ${databse};")
    with pytest.raises(ConfigError, match=NEXT + r"__typo\.sql: unknown placeholder \$\{databse\}"):
        migrator(migrations_copy).plan()
    with pytest.raises(ConfigError, match="kafka_broker_list"):
        SchemaSettings(kafka_broker_list="kafka:9092,not a broker")
    with pytest.raises(ConfigError, match="replication_num"):
        SchemaSettings(replication_num=0)

"""Unit tests of the Doris DDL parser, linter and MySQL adaptation (no server needed)."""

from __future__ import annotations

import pytest

from commodity_platform.doris.dialect import StatementKind, adapt_for_mysql, lint_create_table, parse_statement
from commodity_platform.errors import ConfigError

GOOD_UNIQUE = """CREATE TABLE IF NOT EXISTS bars (
    code VARCHAR(8) NOT NULL,
    bar_start DATETIME NOT NULL,
    price DECIMAL(18,6) NULL
)
UNIQUE KEY(code, bar_start)
PARTITION BY RANGE(bar_start) ()
DISTRIBUTED BY HASH(code) BUCKETS 4
PROPERTIES (
    "replication_num" = "3",
    "enable_unique_key_merge_on_write" = "true",
    "dynamic_partition.enable" = "true",
    "dynamic_partition.time_unit" = "DAY",
    "dynamic_partition.start" = "-7",
    "dynamic_partition.end" = "3",
    "dynamic_partition.prefix" = "p"
)"""


def lint(sql: str) -> list[str]:
    return lint_create_table(parse_statement(sql, where="t.sql statement 1"), where="t.sql statement 1")


def test_dynamic_partition_table_parses_and_passes_lint() -> None:
    stmt = parse_statement(GOOD_UNIQUE, where="x")
    assert stmt.kind is StatementKind.CREATE_TABLE
    assert stmt.table == "bars"
    assert lint(GOOD_UNIQUE) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("IF NOT EXISTS ", ""), "IF NOT EXISTS"),
        (("UNIQUE KEY(code, bar_start)", "UNIQUE KEY(bar_start, code)"), "leading columns in order"),
        (('"enable_unique_key_merge_on_write" = "true",', ""), "merge_on_write"),
        (("UNIQUE KEY(code, bar_start)", "UNIQUE KEY(code)"), "must be a key column"),
        (('"replication_num" = "3",', ""), "replication_num"),
        (('"dynamic_partition.prefix" = "p"', '"dynamic_partition.buckets" = "4"'), "dynamic_partition.prefix"),
        (("DISTRIBUTED BY HASH(code) BUCKETS 4", "DISTRIBUTED BY RANDOM BUCKETS 4"), "HASH"),
        (("UNIQUE KEY(code, bar_start)\n", ""), "DUPLICATE KEY or UNIQUE KEY"),
        (("PARTITION BY RANGE(bar_start) ()", "PARTITION BY RANGE(price) ()"), "DATE/DATETIME"),
    ],
)
def test_lint_reports_each_doris_rule(change: tuple[str, str], expected: str) -> None:
    sql = GOOD_UNIQUE.replace(*change)
    assert sql != GOOD_UNIQUE
    problems = lint(sql)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("t.sql statement 1: ") for p in problems)


def test_malformed_statement_names_where() -> None:
    with pytest.raises(ConfigError, match=r"^V9.sql statement 2: not valid Doris SQL"):
        parse_statement("CREATE TABLE broken (a INT", where="V9.sql statement 2")


def test_unknown_command_is_refused() -> None:
    with pytest.raises(ConfigError, match="not valid Doris SQL"):
        parse_statement("CREATE TABLEE t (a INT)", where="f")


def test_adaptation_translates_keys_and_reports_every_dropped_clause() -> None:
    adapted = adapt_for_mysql(parse_statement(GOOD_UNIQUE, where="x"))
    assert adapted.sql is not None
    assert "PRIMARY KEY (code, bar_start)" in adapted.sql
    for doris_only in ("DISTRIBUTED", "PARTITION", "replication_num", "UNIQUE KEY"):
        assert doris_only not in adapted.sql
    notes = " | ".join(adapted.notes)
    assert "UNIQUE KEY(code, bar_start) became PRIMARY KEY" in notes
    assert "PARTITION BY RANGE(bar_start) became INDEX doris_partition_key" in notes
    assert "INDEX doris_partition_key (bar_start)" in adapted.sql
    assert "DISTRIBUTED BY dropped" in notes
    assert "replication_num" in notes and "dynamic_partition.enable" in notes
    assert adapted.sql.endswith("DEFAULT CHARACTER SET=utf8mb4 COLLATE=utf8mb4_nopad_bin")
    assert "strings compare byte-wise as in Doris" in notes


def test_duplicate_key_becomes_an_index_and_the_partition_column_the_clustered_key() -> None:
    sql = GOOD_UNIQUE.replace("UNIQUE KEY", "DUPLICATE KEY")
    adapted = adapt_for_mysql(parse_statement(sql, where="x"))
    assert "INDEX doris_sort_key (code, bar_start)" in adapted.sql
    # Doris reads only the partitions of a bar_start range: the sandbox clusters the rows on it instead.
    assert "doris_row_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE" in adapted.sql
    assert "PRIMARY KEY (bar_start, doris_row_id)" in adapted.sql
    assert "UNIQUE doris_row (doris_row_id)" in adapted.sql
    assert any("became the clustered PRIMARY KEY (bar_start, doris_row_id)" in n for n in adapted.notes)


def test_the_tick_table_gets_the_bars_minute_column_and_covering_index_and_no_other_table_does() -> None:
    ticks = """CREATE TABLE IF NOT EXISTS energy_prices_rt (
        commodity_code VARCHAR(32) NULL,
        event_time DATETIME(3) NOT NULL,
        price DECIMAL(18,6) NULL,
        volume DECIMAL(18,4) NULL
    )
    DUPLICATE KEY(commodity_code, event_time)
    PARTITION BY RANGE(event_time) ()
    DISTRIBUTED BY HASH(commodity_code) BUCKETS 4
    PROPERTIES ("replication_num" = "1", "dynamic_partition.enable" = "true", "dynamic_partition.time_unit" = "DAY",
                "dynamic_partition.start" = "-7", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p")"""
    adapted = adapt_for_mysql(parse_statement(ticks, where="x"))
    assert ("doris_bar_minute BIGINT GENERATED ALWAYS AS (TIMESTAMPDIFF(MINUTE, '1970-01-01 00:00:00', event_time)) "
            "STORED INVISIBLE") in adapted.sql
    assert "INDEX doris_minute_scan (doris_bar_minute, commodity_code, event_time, price, volume)" in adapted.sql
    assert any("doris_bar_minute" in note and "doris_minute_scan" in note for note in adapted.notes)
    other = adapt_for_mysql(parse_statement(GOOD_UNIQUE.replace("UNIQUE KEY", "DUPLICATE KEY"), where="x"))
    assert "doris_bar_minute" not in other.sql


def test_a_null_able_partition_column_gets_an_index_not_a_primary_key() -> None:
    sql = GOOD_UNIQUE.replace("UNIQUE KEY", "DUPLICATE KEY").replace("bar_start DATETIME NOT NULL",
                                                                     "bar_start DATETIME NULL")
    adapted = adapt_for_mysql(parse_statement(sql, where="x"))
    assert "PRIMARY KEY" not in adapted.sql  # would make bar_start NOT NULL and refuse rows Doris keeps
    assert "INDEX doris_partition_key (bar_start)" in adapted.sql


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("CREATE MATERIALIZED VIEW mv AS SELECT a, SUM(b) FROM t GROUP BY a", StatementKind.CREATE_SYNC_MV),
        ("CREATE ROUTINE LOAD db.j ON t PROPERTIES (\"format\"=\"json\") FROM KAFKA (\"kafka_topic\"=\"x\")",
         StatementKind.CREATE_ROUTINE_LOAD),
        ("ALTER TABLE t SET (\"dynamic_partition.start\" = \"-60\")", StatementKind.ALTER_TABLE),
    ],
)
def test_doris_only_statements_are_skipped_with_a_note(sql: str, kind: StatementKind) -> None:
    stmt = parse_statement(sql, where="x")
    assert stmt.kind is kind
    adapted = adapt_for_mysql(stmt)
    assert adapted.sql is None
    assert adapted.notes and "skipped" in adapted.notes[0]


def test_portable_alter_runs_unchanged() -> None:
    adapted = adapt_for_mysql(parse_statement("ALTER TABLE t ADD COLUMN x INT NULL", where="x"))
    assert adapted.sql == "ALTER TABLE t ADD COLUMN x INT NULL"
    assert adapted.notes == []

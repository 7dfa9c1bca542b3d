"""The shipped migration files: Doris syntax, Doris rules, and the data contract other DAGs rely on."""

from __future__ import annotations

import json
import re

import pytest
from sqlglot import exp

from commodity_platform.doris.dialect import StatementKind, table_properties
from commodity_platform.doris.migration_files import (
    MIGRATIONS_DIR,
    SchemaSettings,
    discover_migrations,
    prepare,
    prepare_all,
)
from commodity_platform.doris.routine_load import RoutineLoadDefinition

FILES = discover_migrations(MIGRATIONS_DIR)
PREPARED = prepare_all(FILES, SchemaSettings())
TABLES = {
    stmt.table: stmt
    for migration in PREPARED
    for stmt in migration.statements
    if stmt.kind is StatementKind.CREATE_TABLE
}
PLATFORM_TABLES = {"energy_prices_rt", "price_1min_agg", "market_alerts", "weather_events_rt", "trading_signals"}


def columns(table: str) -> dict[str, exp.ColumnDef]:
    return {c.name: c for c in TABLES[table].tree.this.expressions if isinstance(c, exp.ColumnDef)}


def is_nullable_or_defaulted(column: exp.ColumnDef) -> bool:
    kinds = [type(c.args["kind"]) for c in column.args.get("constraints") or []]
    not_null = any(k is exp.NotNullColumnConstraint and not c.args["kind"].args.get("allow_null")
                   for k, c in zip(kinds, column.args.get("constraints") or [], strict=True))
    return not not_null or exp.DefaultColumnConstraint in kinds


def test_versions_are_ordered_and_files_named() -> None:
    versions = [f.version for f in FILES if f.version is not None]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))


@pytest.mark.parametrize("migration", PREPARED, ids=lambda m: m.file.script)
def test_every_file_parses_as_doris_and_passes_lint(migration) -> None:
    # prepare() parses with sqlglot's doris dialect and lints every CREATE TABLE; re-run per file for ids.
    assert prepare(migration.file, SchemaSettings()).statements


def test_the_five_platform_tables_exist_with_daily_dynamic_partitions() -> None:
    assert set(TABLES) >= PLATFORM_TABLES
    for table in PLATFORM_TABLES:
        props = table_properties(TABLES[table].tree)
        assert props["dynamic_partition.enable"] == "true", table
        assert props["dynamic_partition.time_unit"] == "DAY", table
        assert props["replication_num"] == "3", table
        assert int(props["dynamic_partition.start"]) < 0, table


def test_settings_reach_the_rendered_ddl() -> None:
    settings = SchemaSettings(replication_num=1, raw_retention_days=7, agg_retention_days=90)
    tables = {s.table: s for m in prepare_all(FILES, settings) for s in m.statements
              if s.kind is StatementKind.CREATE_TABLE}
    raw = table_properties(tables["energy_prices_rt"].tree)
    agg = table_properties(tables["price_1min_agg"].tree)
    assert (raw["replication_num"], raw["dynamic_partition.start"]) == ("1", "-7")
    assert agg["dynamic_partition.start"] == "-90"


def test_data_model_per_table() -> None:
    models = {t: next(type(p).__name__ for p in TABLES[t].tree.args["properties"].expressions
                      if isinstance(p, (exp.DuplicateKeyProperty, exp.UniqueKeyProperty)))
              for t in PLATFORM_TABLES}
    assert models.pop("price_1min_agg") == "UniqueKeyProperty"
    assert set(models.values()) == {"DuplicateKeyProperty"}


def test_energy_prices_contract() -> None:
    cols = columns("energy_prices_rt")
    assert cols["commodity_code"].args["kind"].sql("doris").startswith("VARCHAR")
    assert cols["event_time"].args["kind"].sql("doris") == "DATETIME(3)"
    assert cols["price"].args["kind"].sql("doris") == "DECIMAL(18, 6)"
    assert cols["volume"].args["kind"].sql("doris") == "DECIMAL(18, 4)"
    others = [name for name in cols if name not in {"commodity_code", "event_time", "price", "volume"}]
    assert others, "expected enrichment columns beyond the contract"
    assert [n for n in others if not is_nullable_or_defaulted(cols[n])] == []


def test_price_1min_agg_contract() -> None:
    cols = list(columns("price_1min_agg"))
    assert cols[:9] == ["commodity_code", "bar_start", "open_price", "high_price", "low_price",
                        "close_price", "volume", "vwap", "tick_count"]
    key = next(p for p in TABLES["price_1min_agg"].tree.args["properties"].expressions
               if isinstance(p, exp.UniqueKeyProperty))
    assert [e.name for e in key.expressions] == ["commodity_code", "bar_start"]


def test_a_materialized_view_pre_aggregates_ticks() -> None:
    mvs = [s for m in PREPARED for s in m.statements if s.kind is StatementKind.CREATE_SYNC_MV]
    assert [mv.table for mv in mvs] == ["energy_prices_rt"]
    assert mvs[0].tree.find(exp.Sum) is not None


def test_routine_loads_cover_the_three_topics_with_matching_jsonpaths() -> None:
    loads = {RoutineLoadDefinition.from_migration(m).table: RoutineLoadDefinition.from_migration(m)
             for m in PREPARED if m.file.repeatable}
    topics = {table: d.source_properties["kafka_topic"] for table, d in loads.items()}
    assert topics == {
        "energy_prices_rt": "commodity-prices-enriched",
        "market_alerts": "market-alerts",
        "weather_events_rt": "weather-events",
    }
    for table, definition in loads.items():
        props = definition.job_properties
        assert props["format"] == "json"
        assert int(props["max_error_number"]) > 0 and 0 < float(props["max_filter_ratio"]) < 1
        paths = json.loads(props["jsonpaths"].replace('\\"', '"'))
        # COLUMNS(...): the jsonpaths fill the leading plain names in order; `name = expr` computes a table
        # column from them (Doris load-data-convert). A plain name that is no table column is a temporary one,
        # which some expression must use. Top-level commas only (expressions have their own parentheses).
        body = definition.create_sql.split("COLUMNS", 1)[1]
        items, depth, current = [], 0, ""
        for char in body[body.index("(") + 1:]:
            depth += (char == "(") - (char == ")")
            if depth < 0:
                break
            if char == "," and depth == 0:
                items, current = [*items, current.strip()], ""
            else:
                current += char
        items.append(current.strip())
        plain = [c for c in items if "=" not in c]
        computed = {c.split("=", 1)[0].strip(): c.split("=", 1)[1] for c in items if "=" in c}
        assert items[: len(plain)] == plain, f"{table}: plain columns must lead the COLUMNS list"
        assert len(paths) == len(plain), f"{table}: {len(paths)} jsonpaths for the plain columns {plain}"
        if not computed:  # no expressions: each column is read from the JSON field of its own name
            assert [p.removeprefix("$.") for p in paths] == plain, table
        assert set(computed) <= set(columns(table)), table
        for name in set(plain) - set(columns(table)):
            assert any(re.search(rf"\b{name}\b", expr) for expr in computed.values()), f"{table}: {name} unused"
        assert definition.source_properties["kafka_broker_list"] == SchemaSettings().kafka_broker_list

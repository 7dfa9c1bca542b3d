"""The SQL files: one bar definition, spliced (not copied) into both write variants; Doris variant parses."""

from __future__ import annotations

from datetime import datetime

import sqlglot
from sqlglot import exp

from commodity_platform.ohlc.definition import BARS_SQL_PATH, MINUTE_COLUMN, MINUTE_EXPRESSION, bars_sql
from commodity_platform.ohlc.statements import OHLC_SQL_DIR, write_plan

START, END = datetime(2026, 1, 1), datetime(2026, 1, 2)


def bind(sql: str, params: dict) -> str:
    """Inline the parameters as SQL literals (only for parsing; execution always binds them)."""
    return sql % {k: "'" + str(v).replace("'", "''") + "'" for k, v in params.items()}


def test_bars_sql_binds_window_and_codes_as_parameters() -> None:
    sql, params = bars_sql(START, END, commodity_codes=["WTI", "BRENT"])
    assert params == {"code_0": "WTI", "code_1": "BRENT", "window_start": "2026-01-01 00:00:00",
                      "window_end": "2026-01-02 00:00:00"}
    assert "commodity_code IN (%(code_0)s, %(code_1)s)" in sql and "WTI" not in sql
    unfiltered, params = bars_sql(START, END)
    assert " IN (" not in unfiltered and set(params) == {"window_start", "window_end"}


def test_the_definition_exists_once_and_both_writes_embed_it() -> None:
    marker = "GROUP BY commodity_code, bar_start"
    for name in ("write_mariadb.sql", "write_doris.sql"):
        text = (OHLC_SQL_DIR / name).read_text()
        assert marker not in text and "tick_key" not in text, f"{name} copies the bar definition"
    for doris in (False, True):
        # The sandbox's write reads the minute index the adapter gives its tick table; Doris' the file as is.
        definition, _ = bars_sql(START, END, minute_index=not doris)
        plan = write_plan(START, END, doris=doris)
        assert sum(definition in s for s in plan.statements) == 1
    assert marker in BARS_SQL_PATH.read_text()


def test_the_minute_index_form_changes_only_where_level_one_reads_its_minute() -> None:
    """bars_sql(minute_index=True) differs from bars.sql in exactly two places: level 1 selects the stored
    minute column instead of computing it, and bounds that column by the window's minutes; the rest of the
    definition (filters, aggregates, lookups, the bar_start arithmetic) is the same text."""
    plain, params = bars_sql(START, END)
    indexed, indexed_params = bars_sql(START, END, minute_index=True)
    assert params == indexed_params
    assert f"{MINUTE_EXPRESSION} AS bar_minute" in plain and MINUTE_COLUMN not in plain
    removed = [line for line in plain.splitlines() if line not in indexed.splitlines()]
    added = [line.strip() for line in indexed.splitlines() if line not in plain.splitlines()]
    assert [line.strip() for line in removed] == [f"{MINUTE_EXPRESSION} AS bar_minute,"]
    assert added[0] == f"{MINUTE_COLUMN} AS bar_minute,"
    assert added[1].startswith(f"AND {MINUTE_COLUMN} >= ") and f"AND {MINUTE_COLUMN} <= " in added[1]
    assert len(added) == 2
    # Both parse as MySQL-protocol SQL and group by the minute first (the index's order).
    for sql in (plain, indexed):
        tree = sqlglot.parse_one(bind(sql, params), read="mysql")
        groupings = [[g.sql() for g in select.args["group"].expressions]
                     for select in tree.find_all(exp.Select) if select.args.get("group")]
        assert sorted(groupings) == [["bar_minute", "commodity_code"], ["commodity_code", "bar_start"]]


def test_doris_variant_is_well_formed_doris_sql() -> None:
    plan = write_plan(START, END, commodity_codes=["WTI"], doris=True)
    assert len(plan.statements) == 1
    (tree,) = sqlglot.parse(bind(plan.statements[0], plan.params), read="doris")
    assert isinstance(tree, exp.Insert)
    assert tree.this.this.name == "price_1min_agg"
    columns = [c.name for c in tree.this.expressions]
    assert columns[-1] == "__DORIS_DELETE_SIGN__" and columns[:2] == ["commodity_code", "bar_start"]
    union = tree.expression
    assert isinstance(union, exp.Union) and union.args.get("distinct") is False  # UNION ALL
    assert "new_bars" in {cte.alias for cte in tree.find_all(exp.CTE)}
    # Both arms filter on the window and the code; the delete arm reads only the stored chunk. The window
    # start appears in the bars' scan, in its two open/close lookups (partition pruning on Doris) and in
    # the delete arm.
    rendered = tree.sql("doris")
    assert rendered.count("'WTI'") == 2 and rendered.count("'2026-01-01 00:00:00'") == 4
    assert "NOT EXISTS" in rendered


def test_mariadb_variant_stages_the_bars_then_deletes_and_inserts_from_the_stage() -> None:
    plan = write_plan(START, END, commodity_codes=["WTI"], doris=False)
    drop_stale, stage, delete, insert, drop_staged = (sqlglot.parse_one(bind(s, plan.params), read="mysql")
                                                      for s in plan.statements)
    assert isinstance(drop_stale, exp.Drop) and isinstance(drop_staged, exp.Drop)
    assert isinstance(stage, exp.Create) and isinstance(stage.expression, exp.Select)
    assert isinstance(delete, exp.Delete) and isinstance(insert, exp.Insert)
    assert "'WTI'" in stage.sql("mysql") and "'WTI'" in delete.sql("mysql")
    assert insert.find(exp.Table, bfs=False).name == "price_1min_agg"
    assert {t.name for t in insert.expression.find_all(exp.Table)} == {"ohlc_shard_bars"}

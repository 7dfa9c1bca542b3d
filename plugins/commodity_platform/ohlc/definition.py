"""The one definition of a 1-minute OHLC bar, as SQL, for every consumer in the project.

``include/sql/ohlc/bars.sql`` is the single copy of the bar definition (valid-tick filter, minute
flooring, the (event_time, price, volume) tie-break for open/close, VWAP). This module loads it and
binds its parameters; the backfill's write statements (:mod:`commodity_platform.ohlc.statements`) are
*generated* from it and the data-quality DAG's OHLC-correctness check calls :func:`bars_sql` too, so the
definition cannot drift between them.

Stable interface (the streaming_data_quality DAG depends on it)::

    from commodity_platform.ohlc.definition import bars_sql
    sql, params = bars_sql(start, end, commodity_codes=["WTI", "BRENT"])
    rows = hook.get_records(sql, parameters=params)   # or cursor.execute(sql, params)

Each row is ``(commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap,
tick_count)`` (:data:`BAR_COLUMNS`), one per minute of ``[start, end)`` with at least one valid tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.paths import SQL_DIR
from commodity_platform.sql_files import load_sql

BARS_SQL_PATH = SQL_DIR / "ohlc" / "bars.sql"

#: Output columns of bars.sql, in order; the same names and types as price_1min_agg.
BAR_COLUMNS: tuple[str, ...] = (
    "commodity_code", "bar_start", "open_price", "high_price", "low_price", "close_price",
    "volume", "vwap", "tick_count",
)
#: The columns that identify a bar (price_1min_agg's key).
BAR_KEY: tuple[str, str] = ("commodity_code", "bar_start")

COMMODITY_FILTER_MARKER = "-- @commodity_filter"
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: The table bars.sql reads its ticks from.
TICKS_TABLE = "energy_prices_rt"
#: bars.sql's minute of a time value (minutes since 1970-01-01 00:00, UTC), as it is written there.
_MINUTE_OF = "TIMESTAMPDIFF(MINUTE, CAST('1970-01-01 00:00:00' AS DATETIME), {})"
#: bars.sql's minute of a tick.
MINUTE_EXPRESSION = _MINUTE_OF.format("event_time")
#: The same minute as the sandbox stores it (see "Minute index" in bars.sql): a generated column may not
#: CAST (MariaDB error 1901), and a DATETIME string literal is converted the same way. tests/ohlc checks
#: that the column equals MINUTE_EXPRESSION on the sandbox.
MINUTE_COLUMN = "doris_bar_minute"
MINUTE_COLUMN_EXPRESSION = "TIMESTAMPDIFF(MINUTE, '1970-01-01 00:00:00', event_time)"
#: The covering index that lets MariaDB aggregate level 1 in group order: the grouped columns first, then
#: every other column level 1 reads, so the table itself is not visited.
MINUTE_INDEX = "doris_minute_scan"
MINUTE_INDEX_COLUMNS: tuple[str, ...] = (MINUTE_COLUMN, "commodity_code", "event_time", "price", "volume")
#: Their definitions, as both CREATE TABLE (the migration adapter) and ALTER TABLE ... ADD (a kept sandbox)
#: take them: the column is STORED (computed once, when the tick is written) and INVISIBLE (writers,
#: ``SELECT *`` and ``LOAD DATA`` never see it).
MINUTE_COLUMN_DDL = f"{MINUTE_COLUMN} BIGINT AS ({MINUTE_COLUMN_EXPRESSION}) STORED INVISIBLE"
MINUTE_INDEX_DDL = f"INDEX {MINUTE_INDEX} ({', '.join(MINUTE_INDEX_COLUMNS)})"
MINUTE_RANGE_MARKER = "-- @minute_index_range"
#: The window's minutes, a superset of its ticks' (the end minute itself is included; the event_time bounds
#: beside it stay exact), as a range on the index's first column.
_MINUTE_RANGE = (f"AND {MINUTE_COLUMN} >= {_MINUTE_OF.format('%(window_start)s')} "
                 f"AND {MINUTE_COLUMN} <= {_MINUTE_OF.format('%(window_end)s')}")


@lru_cache(maxsize=2)
def bars_sql_template(*, minute_index: bool = False) -> str:
    """bars.sql without its comment lines (the filter marker line is kept: it is where codes go).

    Comment lines are dropped because pyformat substitution would otherwise scan them too, and because
    the statement lands in task logs, where the header would be noise.

    :param minute_index: the tick table has the sandbox's minute column and index (tables the migration
        runner created on a server that is not Doris): level 1 reads ``doris_bar_minute`` and bounds it by
        the window, so MariaDB aggregates in index order. False: bars.sql as written (Doris).
    """
    sql = load_sql(BARS_SQL_PATH, keep_markers={COMMODITY_FILTER_MARKER, MINUTE_RANGE_MARKER})
    for marker in (COMMODITY_FILTER_MARKER, MINUTE_RANGE_MARKER):
        if sum(line.strip() == marker for line in sql.splitlines()) != 1:
            raise ConfigError(f"{BARS_SQL_PATH}: expected exactly one line {marker!r}")
    minute_select = f"{MINUTE_EXPRESSION} AS bar_minute"
    if sql.count(minute_select) != 1:
        raise ConfigError(f"{BARS_SQL_PATH}: expected {minute_select!r} exactly once (level 1's minute)")
    lines = []
    for line in sql.splitlines():
        if line.strip() == MINUTE_RANGE_MARKER:
            if minute_index:
                lines.append(line[: len(line) - len(line.lstrip())] + _MINUTE_RANGE)
        else:
            lines.append(line.replace(minute_select, f"{MINUTE_COLUMN} AS bar_minute") if minute_index else line)
    return "\n".join(lines)


def format_sql_datetime(value: datetime) -> str:
    """A UTC datetime as the 'YYYY-MM-DD HH:MM:SS' literal both MariaDB and Doris compare exactly.

    Aware datetimes are converted to UTC first; naive ones are taken as UTC already (the warehouse
    stores naive UTC). Sub-second parts are refused: windows are minute-aligned by contract.
    """
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    if value.microsecond:
        raise ConfigError(f"window bound {value.isoformat()} has a fractional second; bounds must be whole minutes")
    return value.strftime(_DATETIME_FORMAT)


def commodity_filter_sql(commodity_codes: Sequence[str] | None, *, column: str = "commodity_code",
                         prefix: str = "code") -> tuple[str, dict[str, str]]:
    """``AND <column> IN (%(code_0)s, ...)`` and its parameters; empty when ``commodity_codes`` is empty.

    Codes are always bound as parameters, never spliced into the SQL text.
    """
    if not commodity_codes:
        return "", {}
    params = {f"{prefix}_{i}": str(code) for i, code in enumerate(commodity_codes)}
    placeholders = ", ".join(f"%({name})s" for name in params)
    return f"AND {column} IN ({placeholders})", params


def apply_commodity_filter(sql: str, commodity_codes: Sequence[str] | None) -> str:
    """Resolve each ``-- @commodity_filter [column]`` line: the IN filter on ``column`` or nothing."""
    out = []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith(COMMODITY_FILTER_MARKER):
            column = stripped[len(COMMODITY_FILTER_MARKER):].strip() or "commodity_code"
            filter_sql, _ = commodity_filter_sql(commodity_codes, column=column)
            if filter_sql:
                out.append(line[: len(line) - len(line.lstrip())] + filter_sql)
        else:
            out.append(line)
    return "\n".join(out)


def bars_sql(start: datetime, end: datetime, *, commodity_codes: Sequence[str] | None = None,
             minute_index: bool = False) -> tuple[str, dict[str, Any]]:
    """The bar definition as ``(sql, params)`` for the half-open window ``[start, end)``.

    :param start: inclusive lower bound of ``event_time`` (UTC; aware or naive-UTC datetime).
    :param end: exclusive upper bound of ``event_time``.
    :param commodity_codes: restrict to these codes; ``None`` or empty means all codes.
    :param minute_index: read the sandbox's minute index (see :func:`bars_sql_template`); same result.
    :return: SQL with pyformat placeholders and the dict to execute it with; see :data:`BAR_COLUMNS`.
    """
    _, params = commodity_filter_sql(commodity_codes)
    sql = apply_commodity_filter(bars_sql_template(minute_index=minute_index), commodity_codes)
    params.update(window_start=format_sql_datetime(start), window_end=format_sql_datetime(end))
    return sql, params

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


@lru_cache(maxsize=1)
def bars_sql_template() -> str:
    """bars.sql without its comment lines (the filter marker line is kept: it is where codes go).

    Comment lines are dropped because pyformat substitution would otherwise scan them too, and because
    the statement lands in task logs, where the header would be noise.
    """
    sql = load_sql(BARS_SQL_PATH, keep_markers={COMMODITY_FILTER_MARKER})
    if sum(line.strip() == COMMODITY_FILTER_MARKER for line in sql.splitlines()) != 1:
        raise ConfigError(f"{BARS_SQL_PATH}: expected exactly one line {COMMODITY_FILTER_MARKER!r}")
    return sql


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


def bars_sql(start: datetime, end: datetime, *,
             commodity_codes: Sequence[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The bar definition as ``(sql, params)`` for the half-open window ``[start, end)``.

    :param start: inclusive lower bound of ``event_time`` (UTC; aware or naive-UTC datetime).
    :param end: exclusive upper bound of ``event_time``.
    :param commodity_codes: restrict to these codes; ``None`` or empty means all codes.
    :return: SQL with pyformat placeholders and the dict to execute it with; see :data:`BAR_COLUMNS`.
    """
    _, params = commodity_filter_sql(commodity_codes)
    sql = apply_commodity_filter(bars_sql_template(), commodity_codes)
    params.update(window_start=format_sql_datetime(start), window_end=format_sql_datetime(end))
    return sql, params

"""The baseline both warehouse benchmarks measure against: a bare per-minute aggregate scan of the ticks.

Issues #4 and #5 state their goals against "a bare ``GROUP BY commodity_code, minute`` aggregate scan of the
same table in the same run". This module is that query, once, so ``bench_ohlc_backfill.py`` and
``bench_data_quality.py`` cannot drift apart: no valid-tick filter, no open/close, four aggregates (COUNT, MIN,
MAX, SUM), the same minute expression as ``include/sql/ohlc/bars.sql`` so only the aggregation differs.
"""

from __future__ import annotations

from typing import Any

MINUTE = ("TIMESTAMPADD(MINUTE, TIMESTAMPDIFF(MINUTE, CAST('1970-01-01 00:00:00' AS DATETIME), event_time), "
          "CAST('1970-01-01 00:00:00' AS DATETIME))")
BARE_SCAN = (
    f"SELECT commodity_code, {MINUTE} AS minute, COUNT(*), MIN(price), MAX(price), SUM(volume) "
    "FROM energy_prices_rt WHERE event_time >= %(window_start)s AND event_time < %(window_end)s "
    "GROUP BY commodity_code, minute"
)


def run_bare_scan(conn: Any, params: dict[str, str]) -> int:
    """Execute the bare scan on a DB-API connection; returns the number of (code, minute) groups."""
    cur = conn.cursor()
    try:
        cur.execute(BARE_SCAN, params)
        return len(cur.fetchall())
    finally:
        cur.close()

-- Use case: the 10 commodities that moved most (absolute percentage change) over the dashboard's time range.
--
-- The move is from the open of a commodity's first 1-minute bar in the range to the close of its last one,
-- read from price_1min_agg (database commodity_realtime): the first/last bars are found by their
-- bar_start (the bar table's key), so no per-tick scan and no Doris-only MIN_BY/MAX_BY is needed.
-- Range high/low, traded volume and the number of bars come from the same bars. Commodities whose first
-- open is not positive have no meaningful percentage and are left out. Ties are broken by commodity_code
-- so the result is deterministic.
--
-- Portable: plain SQL that runs unchanged on Apache Doris and on MariaDB/MySQL (the sandbox warehouse).
-- Tables are unqualified: run it with commodity_realtime as the current database.
-- Parameters: named DB-API "pyformat" placeholders (MySQLdb / MySqlHook / DorisHook style):
--   start  DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), inclusive: bars with bar_start >= start
--   end    DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), exclusive: bars with bar_start <  end
-- In the Grafana dashboard the deploy DAG replaces them with the macros $__timeFrom() and $__timeTo().
-- No percent sign may appear in this file outside the two placeholders (pyformat reads comments too).
--
-- Output: commodity_code, first_price, last_price, change_pct (signed, 2 decimals), high_price, low_price,
-- volume, bars; at most 10 rows, largest absolute change first.
SELECT
    r.commodity_code,
    f.open_price AS first_price,
    l.close_price AS last_price,
    ROUND(100 * (l.close_price - f.open_price) / f.open_price, 2) AS change_pct,
    r.high_price,
    r.low_price,
    r.volume,
    r.bars
FROM (
    SELECT
        commodity_code,
        MIN(bar_start) AS first_bar,
        MAX(bar_start) AS last_bar,
        MAX(high_price) AS high_price,
        MIN(low_price) AS low_price,
        SUM(volume) AS volume,
        COUNT(*) AS bars
    FROM price_1min_agg
    WHERE bar_start >= %(start)s
      AND bar_start < %(end)s
    GROUP BY commodity_code
) r
JOIN price_1min_agg f ON f.commodity_code = r.commodity_code AND f.bar_start = r.first_bar
JOIN price_1min_agg l ON l.commodity_code = r.commodity_code AND l.bar_start = r.last_bar
WHERE f.open_price > 0
ORDER BY ABS(l.close_price - f.open_price) / f.open_price DESC, r.commodity_code
LIMIT 10

-- Use case: volume-weighted average price (VWAP) per commodity and minute, for the dashboard's time range.
--
-- Reads the 1-minute bars of price_1min_agg (database commodity_realtime, written by the Flink
-- price-aggregator and repaired by ohlc_backfill): one row per commodity and minute instead of every tick,
-- and the bar's vwap column is already sum(price * volume) / sum(volume) over the minute's valid ticks.
-- Bars with no volume have vwap NULL and are left out (no trade, no VWAP).
--
-- Portable: plain SQL that runs unchanged on Apache Doris and on MariaDB/MySQL (the sandbox warehouse).
-- Tables are unqualified: run it with commodity_realtime as the current database.
-- Parameters: named DB-API "pyformat" placeholders (MySQLdb / MySqlHook / DorisHook style):
--   start  DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), inclusive: bars with bar_start >= start
--   end    DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), exclusive: bars with bar_start <  end
-- In the Grafana dashboard the deploy DAG replaces them with the macros $__timeFrom() and $__timeTo().
-- No percent sign may appear in this file outside the two placeholders (pyformat reads comments too).
--
-- Output: time (bar_start), commodity_code, vwap, volume, tick_count; ordered by time, commodity_code.
SELECT
    bar_start AS time,
    commodity_code,
    vwap,
    volume,
    tick_count
FROM price_1min_agg
WHERE bar_start >= %(start)s
  AND bar_start < %(end)s
  AND vwap IS NOT NULL
ORDER BY time, commodity_code

-- ohlc_backfill write on Apache Doris: one chunk [window_start, window_end) in ONE statement, which Doris
-- commits atomically (a single load transaction), so a failed chunk leaves the old bars untouched.
--
-- price_1min_agg is a UNIQUE KEY merge-on-write table: loading a row upserts by (commodity_code, bar_start),
-- and a row loaded with the hidden column __DORIS_DELETE_SIGN__ = 1 deletes that key. So the statement
-- loads (a) every bar the ticks define now, sign 0 (upsert), plus (b) every stored bar of the chunk that
-- the ticks no longer define, sign 1 (delete: its minute lost all valid ticks). Upsert and range delete
-- happen in the same transaction, without rewriting whole daily partitions (INSERT OVERWRITE would
-- rewrite the untouched hours of the day too, and race with the Flink sink writing the current day).
--
-- "-- @bars" is replaced by include/sql/ohlc/bars.sql (the single bar definition; never copied here) and
-- each "-- @commodity_filter [column]" by "AND <column, default commodity_code> IN (...)" when codes are given.
-- Parameters: window_start, window_end (pyformat, as in bars.sql).
INSERT INTO price_1min_agg
    (commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, tick_count,
     __DORIS_DELETE_SIGN__)
WITH new_bars AS (
-- @bars
)
SELECT
    commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, tick_count,
    0 AS __DORIS_DELETE_SIGN__
FROM new_bars
UNION ALL
SELECT
    stored.commodity_code, stored.bar_start, stored.open_price, stored.high_price, stored.low_price,
    stored.close_price, stored.volume, stored.vwap, stored.tick_count,
    1 AS __DORIS_DELETE_SIGN__
FROM price_1min_agg AS stored
WHERE stored.bar_start >= %(window_start)s
  AND stored.bar_start < %(window_end)s
  -- @commodity_filter stored.commodity_code
  AND NOT EXISTS (
      SELECT 1
      FROM new_bars
      WHERE new_bars.commodity_code = stored.commodity_code
        AND new_bars.bar_start = stored.bar_start
  )
;

-- ohlc_backfill write for a MySQL-protocol server without Doris idioms (the sandbox MariaDB): one chunk
-- [window_start, window_end) is rewritten by these two statements inside ONE transaction (the runner
-- issues START TRANSACTION / COMMIT, READ COMMITTED so reading the ticks takes no locks on them):
-- the DELETE removes every stored bar of the chunk (also bars whose minute no longer has a valid tick),
-- the INSERT writes the bars the ticks define now. Readers see the old or the new bars, never a mix,
-- and a failure mid-chunk rolls back to the old ones.
--
-- "-- @bars" is replaced by include/sql/ohlc/bars.sql (the single bar definition; never copied here) and
-- "-- @commodity_filter" by "AND commodity_code IN (...)" when codes are given. Statements end with ";"
-- on its own line. Parameters: window_start, window_end (pyformat, as in bars.sql).
DELETE FROM price_1min_agg
WHERE bar_start >= %(window_start)s
  AND bar_start < %(window_end)s
  -- @commodity_filter
;
INSERT INTO price_1min_agg
    (commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, tick_count)
-- @bars
-- READ COMMITTED takes no gap locks, so a streaming writer (the Flink aggregator; the sandbox's live feed)
-- may insert a bar of this chunk between the DELETE and this INSERT: the recomputed bar then replaces it
-- instead of failing the chunk with a duplicate key (1062). Same definition, so the result is exact.
ON DUPLICATE KEY UPDATE
    open_price = VALUES(open_price), high_price = VALUES(high_price), low_price = VALUES(low_price),
    close_price = VALUES(close_price), volume = VALUES(volume), vwap = VALUES(vwap),
    tick_count = VALUES(tick_count)
;

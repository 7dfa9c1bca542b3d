-- ohlc_backfill write for a MySQL-protocol server without Doris idioms (the sandbox MariaDB): one shard
-- [window_start, window_end) is rewritten in two steps, run by ohlc/backfill.py in this order:
--
--   1. Stage (no transaction, READ COMMITTED so reading the ticks takes no locks on them): the bars the ticks
--      define now go into a session-private temporary table. This is the expensive part (the whole scan),
--      and it takes no lock that another shard or the streaming writer could wait for.
--   2. Swap, in ONE short transaction: the DELETE removes every stored bar of the shard (also bars whose
--      minute no longer has a valid tick), the INSERT copies the staged bars. Readers see the old or the
--      new bars, never a mix, and a failure rolls back to the old ones.
--
-- Why staged (measured, tests/ohlc/test_backfill_sandbox.py): a DELETE's range scan locks and then waits on
-- the first row past its range, which belongs to the neighbouring time slice; with the scan inside the
-- transaction, concurrent shards held those locks for the whole scan and ran one after the other.
--
-- "-- @bars" is replaced by include/sql/ohlc/bars.sql (the single bar definition; never copied here) and
-- "-- @commodity_filter" by "AND commodity_code IN (...)" when codes are given. Statements end with ";"
-- on its own line; the runner expects exactly these five. Parameters: window_start, window_end (pyformat).
DROP TEMPORARY TABLE IF EXISTS ohlc_shard_bars
;
CREATE TEMPORARY TABLE ohlc_shard_bars AS
-- @bars
;
DELETE FROM price_1min_agg
WHERE bar_start >= %(window_start)s
  AND bar_start < %(window_end)s
  -- @commodity_filter
;
INSERT INTO price_1min_agg
    (commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, tick_count)
SELECT commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, tick_count
FROM ohlc_shard_bars
-- READ COMMITTED takes no gap locks, so a streaming writer (the Flink aggregator; the sandbox's live feed)
-- may insert a bar of this shard between the DELETE and this INSERT: the recomputed bar then replaces it
-- instead of failing the shard with a duplicate key (1062). Same definition, so the result is exact.
ON DUPLICATE KEY UPDATE
    open_price = VALUES(open_price), high_price = VALUES(high_price), low_price = VALUES(low_price),
    close_price = VALUES(close_price), volume = VALUES(volume), vwap = VALUES(vwap),
    tick_count = VALUES(tick_count)
;
DROP TEMPORARY TABLE ohlc_shard_bars
;

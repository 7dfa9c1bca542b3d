-- THE definition of a 1-minute OHLC bar: the single copy, read by ohlc_backfill (its write statements are
-- generated from this file) and by the streaming_data_quality OHLC-correctness check. Do not copy it;
-- call commodity_platform.ohlc.definition.bars_sql() (returns this SQL plus its parameters).
--
-- Parameters: named DB-API "pyformat" placeholders (the style MySQLdb, MySqlHook and DorisHook take):
--   window_start  DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), inclusive: ticks with event_time >= it
--   window_end    DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), exclusive: ticks with event_time <  it
--   The window should be minute-aligned: the result is then exactly the bars whose bar_start is in it.
--   The line "-- @commodity_filter" is where bars_sql() inserts "AND commodity_code IN (...)" with one
--   placeholder per code when codes are given; run verbatim, the query covers all codes.
--   No percent sign may appear in this file outside placeholders: pyformat substitution reads every one
--   (comments included). bars_sql() drops the comment lines.
--
-- Output: one row per (commodity_code, bar_start) that has at least one valid tick, columns
--   commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, tick_count
-- typed like price_1min_agg (DECIMAL(18,6) prices, DECIMAL(28,4) volume, DECIMAL(28,10) vwap, INT count).
--
-- Definition (shared with the Flink aggregator, include/flink/commodity_flink/transforms.py):
--   valid tick: commodity_code NOT NULL and <> '', price NOT NULL and > 0, volume NOT NULL and >= 0.
--     Invalid ticks are excluded here (the data-quality DAG counts them).
--   bar_start = event_time floored to the minute, UTC (computed by calendar arithmetic from a fixed
--     origin, so neither the session time zone nor DST can shift it).
--   Within a minute ticks are totally ordered by (event_time, price, volume) ascending:
--     open = price of the first tick, close = price of the last.
--   high/low = MAX/MIN(price); volume = SUM(volume); tick_count = COUNT of valid ticks;
--   vwap = SUM(price * volume) / SUM(volume), NULL when SUM(volume) = 0 (rounded half-up to 10 decimals).
--   A minute without a valid tick has no bar.
--
-- How open/close are found (two levels; chosen by measurement, see "Performance" below):
--   1. One GROUP BY scan of the window computes, per bar, high/low/volume/notional/count plus first_time =
--      MIN(event_time) and last_time = MAX(event_time).
--   2. open = MIN(price) of the valid ticks AT first_time, close = MAX(price) of the valid ticks AT
--      last_time: two equality lookups per bar, (commodity_code, event_time) being the tick table's sort
--      key (Doris DUPLICATE KEY prefix; the index doris_sort_key on MariaDB). This is exactly the
--      (event_time, price, volume) order: among ticks tied on event_time the lowest price comes first and
--      the highest last, and volume can never change the price of a tie. The joins can return several
--      rows per bar only when event_time ties; the outer GROUP BY folds them (the bar columns are equal
--      within a bar, so MIN() of them just passes the value through, portable where ANY_VALUE is not).
--
-- Minute index (non-Doris servers only; issue 16, "a month in under a minute"):
--   MariaDB aggregates a GROUP BY either through a temporary table (each tick: find its group's row, read,
--   update and write back every aggregate) or, when the grouped columns lead an index it scans in order, as
--   a stream (the aggregates stay in memory, a group is emitted when the next begins). Its GROUP BY cannot
--   follow an expression, so the adapter that creates the sandbox tables (commodity_platform.doris.dialect)
--   gives energy_prices_rt a stored generated column doris_bar_minute (this minute) and a covering index
--   doris_minute_scan (doris_bar_minute, commodity_code, event_time, price, volume). bars_sql(
--   minute_index=True) then selects doris_bar_minute and, at "-- @minute_index_range", bounds it by the
--   window's minutes (a superset: the event_time bounds stay and are exact), so level 1 is a range read of
--   that index in group order. Measured (1M ticks / 24 h, ratios to the bare scan of the same run): level 1
--   1.35-1.64x through the temporary table against 0.59-0.82x streamed; the whole bars query 1.33-1.68x
--   against 0.87-0.96x. Doris aggregates in parallel and vectorised; there the file runs as it is.
--
-- Performance (sandbox MariaDB 10.11, 1,000,000 ticks / 24 h / 20 codes, 23,838 bars; ratios to the bare
-- 4-aggregate GROUP BY scan of benchmarks/bench_ohlc_backfill.py measured in the same run; 2 shared cores,
-- so +-10 percent noise):
--   before: one level, open/close as MIN/MAX of a DECIMAL(27,0) (time, price) key: select 1.92x, backfill
--     1.79-1.89x (the key is DECIMAL arithmetic per row, computed for MIN and again for MAX, and each
--     DECIMAL MIN/MAX is a decimal read-compare-write per row in MariaDB's GROUP BY temp table).
--   now: select 1.41-1.47x, backfill (DELETE + INSERT ... SELECT + COMMIT) 1.44-1.50x (bench: 1.860 s vs
--   1.256 s, median of 7, byte-wise collation).
--   pieces (server CPU): scan + valid filter ~0.2 s; hashing 1M rows into the group temp table ~0.7 s (the
--   baseline pays it too); each further aggregate in that temp table ~0.1-0.3 s (SUM(price * volume)
--   the dearest, DATETIME MIN/MAX next); the integer minute key instead of a DATETIME one saves ~0.15 s;
--   the 47,676 lookups ~0.3 s; DELETE + INSERT of the bars + COMMIT ~0.06-0.1 s.
--   Not better: MIN/MAX of a BIGINT (time, price) key (~ +0.1 s over MIN/MAX(event_time), and exact only
--   for prices below 2^37 / 10^6); correlated scalar subqueries instead of the joins (no faster);
--   SQL_BIG_RESULT (sorting 1M rows costs what the hash saves); first/last tick time as integer
--   microseconds within the minute, ORDER BY NULL, BKA joins for the lookups, a binary-collated group
--   key (each within the +-10 percent noise of the whole backfill, or MariaDB-only syntax); the window
--   as two half-day chunks on two connections (1.68x against 1.48x for one: each chunk still scans
--   the unpartitioned table and the two threads share the same 2 vCPUs). Through its temporary table 1.2x was
--   out of reach for one MariaDB thread: level 1 alone (7 aggregates vs the baseline's 4) measured ~1.25x.
--   The minute index (above) took that table out of level 1.
-- Sharded (issue 16; ohlc/shards.py, benchmarks/bench_ohlc_backfill.py, 2 vCPUs, two runs):
--   before, 2 commodity-code shards on the heap table: backfill 1.93x wall (each shard scanned the whole
--   table). Then the sandbox table was clustered on event_time and the window cut into 2 equal time
--   slices: 2 workers 1.11-1.24x wall (the slices held 41 and 59 percent of the ticks: the trading
--   session). Now 8 slices taken by the workers as they free up: 2 workers 0.86x, 1 worker 1.50x; the
--   OHLC check 0.83x on 2 workers. Per-code shards through the doris_sort_key index (row lookups)
--   measured 3.6x: rejected. With the minute index (bench_ohlc_backfill.py --repeat 5, one run so far):
--   backfill 1 worker 0.84x, 2 workers 0.54x; OHLC check 1 worker 0.87x, 2 workers 0.47x.
SELECT
    commodity_code,
    TIMESTAMPADD(MINUTE, bar.bar_minute, CAST('1970-01-01 00:00:00' AS DATETIME)) AS bar_start,
    MIN(first_tick.tick_price) AS open_price,
    MIN(bar.high_price) AS high_price,
    MIN(bar.low_price) AS low_price,
    MAX(last_tick.tick_price) AS close_price,
    CAST(MIN(bar.volume) AS DECIMAL(28, 4)) AS volume,
    CAST(MIN(bar.notional) / NULLIF(MIN(bar.volume), 0) AS DECIMAL(28, 10)) AS vwap,
    CAST(MIN(bar.tick_count) AS INT) AS tick_count
FROM (
    -- Level 1. The minute is grouped as an integer (minutes since the origin) and turned into a DATETIME
    -- once per bar above, not once per tick: that is ~0.15 s of the 1M-tick scan. On the sandbox
    -- (bars_sql(minute_index=True)) this line reads the stored minute column instead; see "Minute index".
    SELECT
        commodity_code,
        TIMESTAMPDIFF(MINUTE, CAST('1970-01-01 00:00:00' AS DATETIME), event_time) AS bar_minute,
        MIN(event_time) AS first_time,
        MAX(event_time) AS last_time,
        MAX(price) AS high_price,
        MIN(price) AS low_price,
        SUM(volume) AS volume,
        SUM(price * volume) AS notional,
        COUNT(*) AS tick_count
    FROM energy_prices_rt
    WHERE event_time >= %(window_start)s
      AND event_time < %(window_end)s
      AND commodity_code IS NOT NULL
      AND commodity_code <> ''
      AND price IS NOT NULL
      AND price > 0
      AND volume IS NOT NULL
      AND volume >= 0
      -- @minute_index_range
      -- @commodity_filter
    -- Minute first: the order of the sandbox's minute index, so MariaDB aggregates in index order.
    GROUP BY bar_minute, commodity_code
) AS bar
-- Level 2: the valid ticks at first_time / last_time. The lookups repeat the valid-tick test (price > 0
-- and volume >= 0 are false for NULL; the code equals the bar's). Their columns are renamed so that the
-- bar's commodity_code is the only one in scope. (They carry no window predicate of their own: the
-- equality on event_time already confines them, and tests/ohlc pins the window placeholders to one use.)
JOIN (
    SELECT commodity_code AS tick_code, event_time AS tick_time, price AS tick_price
    FROM energy_prices_rt
    -- The window again: free on MariaDB, and on Doris it prunes the lookup to the window's partitions.
    WHERE event_time >= %(window_start)s AND event_time < %(window_end)s AND price > 0 AND volume >= 0
) AS first_tick
    ON first_tick.tick_code = bar.commodity_code AND first_tick.tick_time = bar.first_time
JOIN (
    SELECT commodity_code AS tick_code, event_time AS tick_time, price AS tick_price
    FROM energy_prices_rt
    -- The window again: free on MariaDB, and on Doris it prunes the lookup to the window's partitions.
    WHERE event_time >= %(window_start)s AND event_time < %(window_end)s AND price > 0 AND volume >= 0
) AS last_tick
    ON last_tick.tick_code = bar.commodity_code AND last_tick.tick_time = bar.last_time
GROUP BY commodity_code, bar_start

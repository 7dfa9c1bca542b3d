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
-- How open/close avoid a sort or a self-join: each tick gets a numeric key that sorts exactly like
-- (event_time within the minute, price):
--     tick_key = (SECOND(event_time) * 1000000 + MICROSECOND(event_time)) * 10^18 + price * 10^6
-- The time part is < 6 * 10^7 and price * 10^6 < 10^18 (DECIMAL(18,6) is integral once scaled), so the
-- key is an exact integer of at most 26 digits (DECIMAL(27,0): fits Doris DECIMALV3 and MariaDB) and
-- MIN(tick_key) / MAX(tick_key) identify the first / last tick. The price is recovered exactly with
-- MOD(key, 10^18) / 10^6. Volume, the third sort component, is left out of the key on purpose: two
-- ticks that tie on (event_time, price) have the same price, so volume can never change open or close.
-- Plain MIN/MAX aggregates stream through the same GROUP BY as high/low, which keeps the whole bar
-- computation one scan of the window (on Doris MIN_BY/MAX_BY would do the same, but only on Doris).
SELECT
    commodity_code,
    bar_start,
    CAST(MOD(MIN(tick_key), 1000000000000000000) / 1000000 AS DECIMAL(18, 6)) AS open_price,
    MAX(price) AS high_price,
    MIN(price) AS low_price,
    CAST(MOD(MAX(tick_key), 1000000000000000000) / 1000000 AS DECIMAL(18, 6)) AS close_price,
    CAST(SUM(volume) AS DECIMAL(28, 4)) AS volume,
    CAST(SUM(price * volume) / NULLIF(SUM(volume), 0) AS DECIMAL(28, 10)) AS vwap,
    CAST(COUNT(*) AS INT) AS tick_count
FROM (
    SELECT
        commodity_code,
        TIMESTAMPADD(
            MINUTE,
            TIMESTAMPDIFF(MINUTE, CAST('1970-01-01 00:00:00' AS DATETIME), event_time),
            CAST('1970-01-01 00:00:00' AS DATETIME)
        ) AS bar_start,
        price,
        volume,
        CAST(SECOND(event_time) * 1000000 + MICROSECOND(event_time) AS DECIMAL(8, 0))
            * CAST(1000000000000000000 AS DECIMAL(19, 0))
            + CAST(price * 1000000 AS DECIMAL(18, 0)) AS tick_key
    FROM energy_prices_rt
    WHERE event_time >= %(window_start)s
      AND event_time < %(window_end)s
      AND commodity_code IS NOT NULL
      AND commodity_code <> ''
      AND price IS NOT NULL
      AND price > 0
      AND volume IS NOT NULL
      AND volume >= 0
      -- @commodity_filter
) AS valid_ticks
GROUP BY commodity_code, bar_start

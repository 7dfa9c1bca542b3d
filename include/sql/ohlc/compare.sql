-- OHLC correctness for the window [window_start, window_end): the bars recomputed from the raw ticks by the
-- shared definition (include/sql/ohlc/bars.sql, spliced in at the "-- @bars" line) against the stored bars
-- ({batch}: price_1min_agg, or the table compare_bars() is given; Great Expectations substitutes it too).
-- Read by commodity_platform.ohlc.comparison (DB-API, bound parameters) and, with the parameters inlined
-- as validated literals, by the data-quality check (commodity_platform.quality.ohlc.comparison_sql).
-- Parameters (pyformat): window_start, window_end ('YYYY-MM-DD HH:MM:SS'), tolerance (DECIMAL, bound
-- unquoted so the arithmetic stays DECIMAL), examples and max_mismatched (integers); each
-- "-- @commodity_filter [column]" line becomes "AND <column> IN (...)" when codes are given.
-- No percent sign outside placeholders (pyformat reads every one).
--
-- A FULL OUTER JOIN on (commodity_code, bar_start) that MariaDB lacks is emulated by UNION ALL of both
-- sides, tagged, then GROUP BY the key: each side is read once (two LEFT JOINs would compute the expected
-- bars twice, doubling the cost of the expensive side).
--
-- Per bar: missing (expected, not stored), extra (stored, not expected), differs (a value differs beyond
-- the tolerance: |expected - stored| > %(tolerance)s * max(1, |expected|); tick_count exactly) and
-- invariant (the stored bar breaks low <= open/close <= high, low > 0, volume >= 0, tick_count >= 1,
-- vwap within [low, high] and NULL exactly when volume = 0).
-- Output: up to %(examples)s problem bars, each row carrying the window totals (window functions run before
-- LIMIT); dq_violations = problem bars when they exceed %(max_mismatched)s, else 0.
SELECT
    commodity_code,
    bar_start,
    CONCAT_WS(',',
        CASE WHEN missing = 1 THEN 'missing' END,
        CASE WHEN extra = 1 THEN 'extra' END,
        CASE WHEN d_open = 1 THEN 'open' END,
        CASE WHEN d_high = 1 THEN 'high' END,
        CASE WHEN d_low = 1 THEN 'low' END,
        CASE WHEN d_close = 1 THEN 'close' END,
        CASE WHEN d_volume = 1 THEN 'volume' END,
        CASE WHEN d_vwap = 1 THEN 'vwap' END,
        CASE WHEN d_ticks = 1 THEN 'tick_count' END,
        CASE WHEN invariant = 1 THEN 'invariant' END
    ) AS problems,
    exp_open, act_open, exp_high, act_high, exp_low, act_low, exp_close, act_close,
    exp_volume, act_volume, exp_vwap, act_vwap, exp_ticks, act_ticks,
    COUNT(*) OVER () AS mismatched_bars,
    SUM(missing) OVER () AS missing_bars,
    SUM(extra) OVER () AS extra_bars,
    SUM(CASE WHEN missing = 0 AND extra = 0 AND differs = 1 THEN 1 ELSE 0 END) OVER () AS differing_bars,
    SUM(invariant) OVER () AS invariant_bars,
    CASE WHEN COUNT(*) OVER () > %(max_mismatched)s THEN COUNT(*) OVER () ELSE 0 END AS dq_violations
FROM (
    SELECT
        flagged.*,
        CASE WHEN d_open + d_high + d_low + d_close + d_volume + d_vwap + d_ticks > 0 THEN 1 ELSE 0 END AS differs
    FROM (
        SELECT
            paired.*,
            CASE WHEN has_act = 0 THEN 1 ELSE 0 END AS missing,
            CASE WHEN has_exp = 0 THEN 1 ELSE 0 END AS extra,
            CASE WHEN has_exp = 1 AND has_act = 1
                  AND ABS(exp_open - act_open) > %(tolerance)s * GREATEST(1, ABS(exp_open)) THEN 1 ELSE 0 END AS d_open,
            CASE WHEN has_exp = 1 AND has_act = 1
                  AND ABS(exp_high - act_high) > %(tolerance)s * GREATEST(1, ABS(exp_high)) THEN 1 ELSE 0 END AS d_high,
            CASE WHEN has_exp = 1 AND has_act = 1
                  AND ABS(exp_low - act_low) > %(tolerance)s * GREATEST(1, ABS(exp_low)) THEN 1 ELSE 0 END AS d_low,
            CASE WHEN has_exp = 1 AND has_act = 1
                  AND ABS(exp_close - act_close) > %(tolerance)s * GREATEST(1, ABS(exp_close)) THEN 1 ELSE 0 END AS d_close,
            CASE WHEN has_exp = 1 AND has_act = 1
                  AND ABS(exp_volume - act_volume) > %(tolerance)s * GREATEST(1, ABS(exp_volume)) THEN 1 ELSE 0 END AS d_volume,
            CASE WHEN has_exp = 0 OR has_act = 0 THEN 0
                 WHEN exp_vwap IS NULL AND act_vwap IS NULL THEN 0
                 WHEN exp_vwap IS NULL OR act_vwap IS NULL THEN 1
                 WHEN ABS(exp_vwap - act_vwap) > %(tolerance)s * GREATEST(1, ABS(exp_vwap)) THEN 1 ELSE 0 END AS d_vwap,
            CASE WHEN has_exp = 1 AND has_act = 1 AND exp_ticks <> act_ticks THEN 1 ELSE 0 END AS d_ticks,
            CASE WHEN has_act = 1 AND NOT (
                    act_low > 0
                    AND act_low <= act_open AND act_open <= act_high
                    AND act_low <= act_close AND act_close <= act_high
                    AND act_volume >= 0 AND act_ticks >= 1
                    AND ((act_volume = 0 AND act_vwap IS NULL)
                         OR (act_volume > 0 AND act_vwap IS NOT NULL
                             AND act_vwap >= act_low - %(tolerance)s * GREATEST(1, act_low)
                             AND act_vwap <= act_high + %(tolerance)s * GREATEST(1, act_high)))
                 ) THEN 1 ELSE 0 END AS invariant
        FROM (
            SELECT
                commodity_code,
                bar_start,
                SUM(CASE WHEN src = 'e' THEN 1 ELSE 0 END) AS has_exp,
                SUM(CASE WHEN src = 'a' THEN 1 ELSE 0 END) AS has_act,
                MAX(CASE WHEN src = 'e' THEN open_price END) AS exp_open,
                MAX(CASE WHEN src = 'a' THEN open_price END) AS act_open,
                MAX(CASE WHEN src = 'e' THEN high_price END) AS exp_high,
                MAX(CASE WHEN src = 'a' THEN high_price END) AS act_high,
                MAX(CASE WHEN src = 'e' THEN low_price END) AS exp_low,
                MAX(CASE WHEN src = 'a' THEN low_price END) AS act_low,
                MAX(CASE WHEN src = 'e' THEN close_price END) AS exp_close,
                MAX(CASE WHEN src = 'a' THEN close_price END) AS act_close,
                MAX(CASE WHEN src = 'e' THEN volume END) AS exp_volume,
                MAX(CASE WHEN src = 'a' THEN volume END) AS act_volume,
                MAX(CASE WHEN src = 'e' THEN vwap END) AS exp_vwap,
                MAX(CASE WHEN src = 'a' THEN vwap END) AS act_vwap,
                MAX(CASE WHEN src = 'e' THEN tick_count END) AS exp_ticks,
                MAX(CASE WHEN src = 'a' THEN tick_count END) AS act_ticks
            FROM (
                SELECT 'e' AS src, commodity_code, bar_start, open_price, high_price, low_price, close_price,
                       volume, vwap, tick_count
                FROM (
-- @bars
                ) AS expected_bars
                UNION ALL
                SELECT 'a' AS src, commodity_code, bar_start, open_price, high_price, low_price, close_price,
                       volume, vwap, tick_count
                FROM {batch}
                WHERE bar_start >= CAST(%(window_start)s AS DATETIME)
                  AND bar_start < CAST(%(window_end)s AS DATETIME)
                  -- @commodity_filter
            ) AS both_sides
            GROUP BY commodity_code, bar_start
        ) AS paired
    ) AS flagged
) AS compared
WHERE missing = 1 OR extra = 1 OR differs = 1 OR invariant = 1
ORDER BY bar_start, commodity_code
LIMIT %(examples)s

-- Share of invalid ticks in the window [${window_start}, ${window_end}). {batch} is energy_prices_rt.
-- Valid ticks are counted by the shared bar definition itself (tick_count of the bars it computes), so
-- "invalid" is exactly "every tick the bars ignore" and cannot drift from include/sql/ohlc/bars.sql.
--
-- Output: one row; violates/dq_violations = 1 when invalid_ticks > ${max_rate} * total_ticks (compared
-- without division: the server's division keeps only a few decimals).
SELECT
    total_ticks,
    invalid_ticks,
    invalid_rate,
    ${max_rate} AS max_rate,
    CASE WHEN invalid_ticks > ${max_rate} * total_ticks THEN 1 ELSE 0 END AS violates,
    CASE WHEN invalid_ticks > ${max_rate} * total_ticks THEN 1 ELSE 0 END AS dq_violations
FROM (
    SELECT
        all_ticks.total_ticks,
        all_ticks.total_ticks - COALESCE(valid.valid_ticks, 0) AS invalid_ticks,
        CASE WHEN all_ticks.total_ticks = 0 THEN 0
             ELSE (all_ticks.total_ticks - COALESCE(valid.valid_ticks, 0)) / all_ticks.total_ticks END AS invalid_rate
    FROM (
        SELECT COUNT(*) AS total_ticks
        FROM {batch}
        WHERE event_time >= CAST('${window_start}' AS DATETIME)
          AND event_time < CAST('${window_end}' AS DATETIME)
    ) AS all_ticks
    CROSS JOIN (
        SELECT SUM(tick_count) AS valid_ticks FROM (${bars_sql}) AS bars
    ) AS valid
) AS rates

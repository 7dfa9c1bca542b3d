-- Freshness of one table as of ${as_of}: age of its newest row, for the whole table (scope 'ALL') and,
-- where the table has a group column, per group (per commodity_code), so one stale commodity cannot hide
-- behind fresh ones. Run by Great Expectations against the table asset: {batch} is the table.
--
-- Only rows with ${time_column} in (as_of - lookback, as_of] count: rows after as_of did not exist yet
-- when re-checking history, and the lookback bounds the scan to the newest partitions on Doris. A table
-- (or group) with no row in the lookback has lag = lookback (at least that old), which always violates.
--
-- Output: one row per scope; violates = 1 when lag_seconds > max_lag_seconds; dq_violations = number of
-- violating scopes (the same on every row) is what the expectation tests.
SELECT
    scope,
    lag_seconds,
    newest,
    rows_in_lookback,
    ${max_lag_seconds} AS max_lag_seconds,
    CASE WHEN lag_seconds > ${max_lag_seconds} THEN 1 ELSE 0 END AS violates,
    SUM(CASE WHEN lag_seconds > ${max_lag_seconds} THEN 1 ELSE 0 END) OVER () AS dq_violations
FROM (
    SELECT
        scope,
        newest,
        rows_in_lookback,
        COALESCE(TIMESTAMPDIFF(SECOND, newest, CAST('${as_of}' AS DATETIME)), ${lookback_seconds}) AS lag_seconds
    FROM (
        SELECT 'ALL' AS scope, MAX(${time_column}) AS newest, COUNT(*) AS rows_in_lookback
        FROM {batch}
        WHERE ${time_column} > CAST('${lookback_start}' AS DATETIME)
          AND ${time_column} <= CAST('${as_of}' AS DATETIME)
        ${group_union}
    ) AS newest_rows
) AS lags
ORDER BY violates DESC, lag_seconds DESC, scope

-- Fragment of freshness.sql for tables with a group column: the newest row per group. Groups with an
-- empty key are faulty rows (counted by error_rate), not a commodity.
UNION ALL
SELECT ${group_column} AS scope, MAX(${time_column}) AS newest, COUNT(*) AS rows_in_lookback
FROM {batch}
WHERE ${time_column} > CAST('${lookback_start}' AS DATETIME)
  AND ${time_column} <= CAST('${as_of}' AS DATETIME)
  AND ${group_column} IS NOT NULL
  AND ${group_column} <> ''
GROUP BY ${group_column}

-- Processing latency of one table: p95 of (${latency_column} - ${time_column}) over the rows of the check
-- window [${window_start}, ${window_end}) where ${latency_column} is filled. Nearest-rank percentile with
-- ROW_NUMBER, which MariaDB and Doris both run (their percentile functions differ). {batch} is the table.
-- ${latency_seconds_expr} is the dialect's sub-second difference, filled in by the check.
--
-- Output: no row when no row has ${latency_column} (not applicable); otherwise one row with the p95,
-- the sample count and violates/dq_violations = 1 when the p95 exceeds ${max_p95_seconds} (NULL: report only).
SELECT
    latency_seconds AS p95_seconds,
    samples,
    ${max_p95_seconds} AS max_p95_seconds,
    CASE WHEN latency_seconds > ${max_p95_seconds} THEN 1 ELSE 0 END AS violates,
    CASE WHEN latency_seconds > ${max_p95_seconds} THEN 1 ELSE 0 END AS dq_violations
FROM (
    SELECT
        latency_seconds,
        ROW_NUMBER() OVER (ORDER BY latency_seconds) AS rn,
        COUNT(*) OVER () AS samples
    FROM (
        SELECT ${latency_seconds_expr} AS latency_seconds
        FROM {batch}
        WHERE ${time_column} >= CAST('${window_start}' AS DATETIME)
          AND ${time_column} < CAST('${window_end}' AS DATETIME)
          AND ${latency_column} IS NOT NULL
    ) AS latencies
) AS ranked
WHERE rn = CEIL(0.95 * samples)

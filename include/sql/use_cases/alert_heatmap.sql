-- Use case: market alerts per commodity and hour (heatmap: one row per commodity, one column per hour).
--
-- Reads market_alerts (database commodity_realtime, loaded from the market-alerts topic by the
-- rl_market_alerts routine load). alert_time is UTC; the hour bucket is whole hours since a fixed epoch
-- (TIMESTAMPDIFF) added back with DATE_ADD ... INTERVAL n HOUR, which both engines support: Doris'
-- HOUR_FLOOR / DATE_TRUNC and MySQL's DATE_FORMAT are not portable, and a format string would need a
-- percent sign. Per severity counts let the panel colour by the worst alert.
--
-- Portable: plain SQL that runs unchanged on Apache Doris and on MariaDB/MySQL (the sandbox warehouse).
-- Tables are unqualified: run it with commodity_realtime as the current database.
-- Parameters: named DB-API "pyformat" placeholders (MySQLdb / MySqlHook / DorisHook style):
--   start  DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), inclusive: alerts with alert_time >= start
--   end    DATETIME 'YYYY-MM-DD HH:MM:SS' (UTC), exclusive: alerts with alert_time <  end
-- In the Grafana dashboard the deploy DAG replaces them with the macros $__timeFrom() and $__timeTo().
-- No percent sign may appear in this file outside the two placeholders (pyformat reads comments too).
--
-- Output: time (start of the hour), commodity_code, alerts, critical_alerts, high_alerts, medium_alerts,
-- max_abs_change_pct; ordered by time, commodity_code.
SELECT
    DATE_ADD(CAST('1970-01-01 00:00:00' AS DATETIME),
             INTERVAL TIMESTAMPDIFF(HOUR, CAST('1970-01-01 00:00:00' AS DATETIME), alert_time) HOUR) AS time,
    commodity_code,
    COUNT(*) AS alerts,
    SUM(CASE WHEN severity = 'CRITICAL' THEN 1 ELSE 0 END) AS critical_alerts,
    SUM(CASE WHEN severity = 'HIGH' THEN 1 ELSE 0 END) AS high_alerts,
    SUM(CASE WHEN severity = 'MEDIUM' THEN 1 ELSE 0 END) AS medium_alerts,
    MAX(ABS(price_change_pct)) AS max_abs_change_pct
FROM market_alerts
WHERE alert_time >= %(start)s
  AND alert_time < %(end)s
  AND commodity_code IS NOT NULL
GROUP BY
    DATE_ADD(CAST('1970-01-01 00:00:00' AS DATETIME),
             INTERVAL TIMESTAMPDIFF(HOUR, CAST('1970-01-01 00:00:00' AS DATETIME), alert_time) HOUR),
    commodity_code
ORDER BY time, commodity_code

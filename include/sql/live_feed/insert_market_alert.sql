-- One anomaly-detector alert (the columns of market_alerts, V003; the Routine Load's field names).
INSERT INTO market_alerts (commodity_code, alert_time, alert_id, alert_type, severity, price_change_pct,
                           reference_price, current_price, message, ingest_time)
VALUES (%(commodity_code)s, %(alert_time)s, %(alert_id)s, %(alert_type)s, %(severity)s, %(price_change_pct)s,
        %(reference_price)s, %(current_price)s, %(message)s, %(ingest_time)s)

-- Where the live sandbox feed picks up after a restart: the newest tick and the newest market alert.
SELECT
    (SELECT MAX(event_time) FROM energy_prices_rt) AS newest_tick,
    (SELECT MAX(alert_time) FROM market_alerts) AS newest_alert

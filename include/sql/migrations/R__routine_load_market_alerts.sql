-- Anomaly-detector alerts from Kafka into market_alerts.
CREATE ROUTINE LOAD ${database}.rl_market_alerts ON market_alerts
COLUMNS(commodity_code, alert_time, alert_id, alert_type, severity, price_change_pct, reference_price, current_price, message, ingest_time)
PROPERTIES (
    "format" = "json",
    "jsonpaths" = "[\"$.commodity_code\",\"$.alert_time\",\"$.alert_id\",\"$.alert_type\",\"$.severity\",\"$.price_change_pct\",\"$.reference_price\",\"$.current_price\",\"$.message\",\"$.ingest_time\"]",
    "strip_outer_array" = "false",
    "timezone" = "UTC",
    "desired_concurrent_number" = "1",
    "max_batch_interval" = "5",
    "max_error_number" = "100",
    "max_filter_ratio" = "0.01",
    "strict_mode" = "false"
)
FROM KAFKA (
    "kafka_broker_list" = "${kafka_broker_list}",
    "kafka_topic" = "market-alerts",
    "property.group.id" = "doris-rl-market-alerts",
    "property.kafka_default_offsets" = "OFFSET_END"
);

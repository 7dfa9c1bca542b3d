-- Enriched ticks from Kafka into energy_prices_rt. Repeatable: reconciled on every run
-- (created when missing, paused/altered/resumed when this definition changes, resumed when paused).
CREATE ROUTINE LOAD ${database}.rl_energy_prices_rt ON energy_prices_rt
COLUMNS(commodity_code, event_time, price, volume, currency, unit, source, commodity_name, category, ingest_time)
PROPERTIES (
    "format" = "json",
    "jsonpaths" = "[\"$.commodity_code\",\"$.event_time\",\"$.price\",\"$.volume\",\"$.currency\",\"$.unit\",\"$.source\",\"$.commodity_name\",\"$.category\",\"$.ingest_time\"]",
    "strip_outer_array" = "false",
    "timezone" = "UTC",
    "desired_concurrent_number" = "3",
    "max_batch_interval" = "10",
    "max_batch_rows" = "300000",
    "max_batch_size" = "209715200",
    "max_error_number" = "1000",
    "max_filter_ratio" = "0.01",
    "strict_mode" = "false"
)
FROM KAFKA (
    "kafka_broker_list" = "${kafka_broker_list}",
    "kafka_topic" = "commodity-prices-enriched",
    "property.group.id" = "doris-rl-energy-prices-rt",
    "property.kafka_default_offsets" = "OFFSET_END"
);

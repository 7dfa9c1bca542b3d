-- NOAA weather events from Kafka into weather_events_rt.
CREATE ROUTINE LOAD ${database}.rl_weather_events_rt ON weather_events_rt
COLUMNS(station_id, event_time, region, event_type, temperature_c, precipitation_mm, wind_speed_ms, severity, source, ingest_time)
PROPERTIES (
    "format" = "json",
    "jsonpaths" = "[\"$.station_id\",\"$.event_time\",\"$.region\",\"$.event_type\",\"$.temperature_c\",\"$.precipitation_mm\",\"$.wind_speed_ms\",\"$.severity\",\"$.source\",\"$.ingest_time\"]",
    "strip_outer_array" = "false",
    "timezone" = "UTC",
    "desired_concurrent_number" = "1",
    "max_batch_interval" = "20",
    "max_error_number" = "100",
    "max_filter_ratio" = "0.05",
    "strict_mode" = "false"
)
FROM KAFKA (
    "kafka_broker_list" = "${kafka_broker_list}",
    "kafka_topic" = "weather-events",
    "property.group.id" = "doris-rl-weather-events-rt",
    "property.kafka_default_offsets" = "OFFSET_END"
);

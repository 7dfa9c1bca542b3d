-- NOAA weather observations from Kafka into weather_events_rt.
-- A record is one NOAA CDO v2 /data results[] item, written verbatim by cp-source-noaa-weather
-- (https://www.ncei.noaa.gov/cdo-web/webservices/v2#data): {"date": "2024-01-01T00:00:00", "datatype": "TMAX",
-- "station": "GHCND:USW00012960", "attributes": ",,W,2400", "value": 16.1}, i.e. one datatype of one station
-- and day. The connector asks for TMAX, TMIN and PRCP with units=metric ("data will be scaled and converted
-- to the specified units": degrees Celsius, millimetres). The jsonpaths fill the four leading (temporary)
-- columns in order; the table's columns are computed from them (Doris "data transformation during load":
-- COLUMNS with column mappings and expressions, doris.apache.org data-operate/import/load-data-convert).
-- event_type keeps the datatype (observation:TMAX / TMIN / PRCP): TMAX and TMIN of a station and day are two
-- rows of the same key. region, wind_speed_ms and severity are not in CDO items and stay NULL; the topic has
-- one producer (include/contracts/topics.yaml), so source is that feed's name.
CREATE ROUTINE LOAD ${database}.rl_weather_events_rt ON weather_events_rt
COLUMNS(
    cdo_date, cdo_datatype, cdo_station, cdo_value,
    station_id = cdo_station,
    event_time = str_to_date(cdo_date, '%Y-%m-%dT%H:%i:%s'),
    event_type = concat('observation:', cdo_datatype),
    temperature_c = CASE WHEN cdo_datatype IN ('TMAX', 'TMIN') THEN cdo_value END,
    precipitation_mm = CASE WHEN cdo_datatype = 'PRCP' THEN cdo_value END,
    source = 'NOAA',
    ingest_time = now()
)
PROPERTIES (
    "format" = "json",
    "jsonpaths" = "[\"$.date\",\"$.datatype\",\"$.station\",\"$.value\"]",
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

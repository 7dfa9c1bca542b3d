-- Raw price ticks (from commodity-prices-enriched) and weather events: append-only event tables.
-- Data contract: commodity_code, event_time (UTC), price, volume are stable; every other column is
-- nullable so an INSERT naming only those four works. Ticks with NULL or non-positive prices are kept
-- here on purpose: the data-quality DAG counts them; bars ignore them.
CREATE TABLE IF NOT EXISTS energy_prices_rt (
    commodity_code VARCHAR(32)   NULL     COMMENT 'e.g. WTI, BRENT, HENRY_HUB; NULL only in faulty ticks',
    event_time     DATETIME(3)   NOT NULL COMMENT 'tick time at the source, UTC',
    price          DECIMAL(18,6) NULL     COMMENT 'price in currency per unit',
    volume         DECIMAL(18,4) NULL     COMMENT 'traded quantity of the tick',
    currency       VARCHAR(8)    NULL     COMMENT 'ISO 4217, e.g. USD',
    unit           VARCHAR(16)   NULL     COMMENT 'e.g. BBL, MMBTU, MWH',
    source         VARCHAR(32)   NULL     COMMENT 'EIA, FRED, CDC_POSTGRES, ...',
    commodity_name VARCHAR(128)  NULL     COMMENT 'added by the enricher',
    category       VARCHAR(32)   NULL     COMMENT 'crude, natural_gas, power, ... (enricher)',
    ingest_time    DATETIME(3)   NULL     COMMENT 'when the enricher emitted the tick, UTC'
)
DUPLICATE KEY(commodity_code, event_time)
COMMENT 'raw commodity price ticks, one row per tick'
PARTITION BY RANGE(event_time) ()
DISTRIBUTED BY HASH(commodity_code) BUCKETS 8
PROPERTIES (
    "replication_num" = "${replication_num}",
    "dynamic_partition.enable" = "true",
    "dynamic_partition.time_unit" = "DAY",
    "dynamic_partition.start" = "-${raw_retention_days}",
    "dynamic_partition.end" = "3",
    "dynamic_partition.prefix" = "p",
    "dynamic_partition.buckets" = "8",
    "dynamic_partition.replication_num" = "${replication_num}",
    "dynamic_partition.create_history_partition" = "true",
    "compression" = "LZ4"
);

CREATE TABLE IF NOT EXISTS weather_events_rt (
    station_id       VARCHAR(32)  NULL     COMMENT 'NOAA station identifier',
    event_time       DATETIME(3)  NOT NULL COMMENT 'observation time, UTC',
    region           VARCHAR(64)  NULL     COMMENT 'market region the station maps to, e.g. PJM, ERCOT',
    event_type       VARCHAR(32)  NULL     COMMENT 'observation, heat_wave, cold_snap, storm, ...',
    temperature_c    DECIMAL(6,2) NULL,
    precipitation_mm DECIMAL(8,2) NULL,
    wind_speed_ms    DECIMAL(6,2) NULL,
    severity         VARCHAR(16)  NULL     COMMENT 'NOAA severity for alerts, NULL for observations',
    source           VARCHAR(32)  NULL,
    ingest_time      DATETIME(3)  NULL
)
DUPLICATE KEY(station_id, event_time)
COMMENT 'NOAA weather observations and alerts relevant to energy demand'
PARTITION BY RANGE(event_time) ()
DISTRIBUTED BY HASH(station_id) BUCKETS 4
PROPERTIES (
    "replication_num" = "${replication_num}",
    "dynamic_partition.enable" = "true",
    "dynamic_partition.time_unit" = "DAY",
    "dynamic_partition.start" = "-${raw_retention_days}",
    "dynamic_partition.end" = "3",
    "dynamic_partition.prefix" = "p",
    "dynamic_partition.buckets" = "4",
    "dynamic_partition.replication_num" = "${replication_num}",
    "dynamic_partition.create_history_partition" = "true"
);

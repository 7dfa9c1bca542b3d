-- Anomaly-detector alerts (from market-alerts) and derived trading signals.
-- Fixed in place (issue 12), not in a new version: as first released this file asked Doris for 733
-- partitions at once (start -730 .. end 3 with create_history_partition) and Doris refuses more than
-- max_dynamic_partition_num (500: "Too many dynamic partitions"), so it never succeeded on any Doris and
-- every later version waited behind it. history_partition_num bounds the partitions created up front to the
-- raw-tick retention (what ohlc_backfill can rebuild from); dynamic_partition.start still sets the retention.
-- Sandboxes (MariaDB, where PROPERTIES are dropped) that applied the released text are accepted through
-- commodity_platform.doris.migrations.REPAIRED_CHECKSUMS.
CREATE TABLE IF NOT EXISTS market_alerts (
    commodity_code   VARCHAR(32)    NULL,
    alert_time       DATETIME(3)    NOT NULL COMMENT 'event time of the tick that triggered the alert, UTC',
    alert_id         VARCHAR(64)    NULL     COMMENT 'deterministic id from the detector (dedup key)',
    alert_type       VARCHAR(32)    NULL     COMMENT 'PRICE_SPIKE or PRICE_DROP',
    severity         VARCHAR(16)    NULL     COMMENT 'CRITICAL, HIGH or MEDIUM',
    price_change_pct DECIMAL(10,4)  NULL     COMMENT 'signed % change within the 1-minute window',
    reference_price  DECIMAL(18,6)  NULL,
    current_price    DECIMAL(18,6)  NULL,
    message          VARCHAR(512)   NULL,
    ingest_time      DATETIME(3)    NULL
)
DUPLICATE KEY(commodity_code, alert_time)
COMMENT 'price moves above 5 % per minute detected by Flink'
PARTITION BY RANGE(alert_time) ()
DISTRIBUTED BY HASH(commodity_code) BUCKETS 4
PROPERTIES (
    "replication_num" = "${replication_num}",
    "dynamic_partition.enable" = "true",
    "dynamic_partition.time_unit" = "DAY",
    "dynamic_partition.start" = "-${agg_retention_days}",
    "dynamic_partition.end" = "3",
    "dynamic_partition.prefix" = "p",
    "dynamic_partition.buckets" = "4",
    "dynamic_partition.replication_num" = "${replication_num}",
    "dynamic_partition.create_history_partition" = "true",
    "dynamic_partition.history_partition_num" = "${raw_retention_days}"
);

CREATE TABLE IF NOT EXISTS trading_signals (
    commodity_code VARCHAR(32)    NULL,
    signal_time    DATETIME(3)    NOT NULL COMMENT 'UTC',
    signal_type    VARCHAR(16)    NULL     COMMENT 'BUY, SELL or HOLD',
    strategy       VARCHAR(64)    NULL     COMMENT 'e.g. vwap_reversion, momentum_1m',
    strength       DECIMAL(6,4)   NULL     COMMENT '0..1 confidence',
    price          DECIMAL(18,6)  NULL,
    vwap           DECIMAL(28,10) NULL,
    ingest_time    DATETIME(3)    NULL
)
DUPLICATE KEY(commodity_code, signal_time)
COMMENT 'trading signals derived from bars and alerts'
PARTITION BY RANGE(signal_time) ()
DISTRIBUTED BY HASH(commodity_code) BUCKETS 4
PROPERTIES (
    "replication_num" = "${replication_num}",
    "dynamic_partition.enable" = "true",
    "dynamic_partition.time_unit" = "DAY",
    "dynamic_partition.start" = "-${agg_retention_days}",
    "dynamic_partition.end" = "3",
    "dynamic_partition.prefix" = "p",
    "dynamic_partition.buckets" = "4",
    "dynamic_partition.replication_num" = "${replication_num}",
    "dynamic_partition.create_history_partition" = "true",
    "dynamic_partition.history_partition_num" = "${raw_retention_days}"
);

-- 1-minute OHLC bars with VWAP, written by the Flink price aggregator and by ohlc_backfill.
-- UNIQUE KEY merge-on-write: a bar rewritten for the same (commodity_code, bar_start) replaces the old
-- one, which is what makes both the streaming sink and the backfill idempotent.
-- Fixed in place (issue 12), not in a new version: as first released this file asked Doris for 733
-- partitions at once (start -730 .. end 3 with create_history_partition) and Doris refuses more than
-- max_dynamic_partition_num (500: "Too many dynamic partitions"), so it never succeeded on any Doris and
-- every later version waited behind it. history_partition_num bounds the partitions created up front to the
-- raw-tick retention (what ohlc_backfill can rebuild from); dynamic_partition.start still sets the retention.
-- Sandboxes (MariaDB, where PROPERTIES are dropped) that applied the released text are accepted through
-- commodity_platform.doris.migrations.REPAIRED_CHECKSUMS.
CREATE TABLE IF NOT EXISTS price_1min_agg (
    commodity_code VARCHAR(32)    NOT NULL,
    bar_start      DATETIME       NOT NULL COMMENT 'start of the minute, UTC',
    open_price     DECIMAL(18,6)  NOT NULL COMMENT 'price of the first valid tick (by event_time, price, volume)',
    high_price     DECIMAL(18,6)  NOT NULL,
    low_price      DECIMAL(18,6)  NOT NULL,
    close_price    DECIMAL(18,6)  NOT NULL COMMENT 'price of the last valid tick (by event_time, price, volume)',
    volume         DECIMAL(28,4)  NOT NULL COMMENT 'sum of tick volumes',
    vwap           DECIMAL(28,10) NULL     COMMENT 'sum(price*volume)/sum(volume); NULL when volume is 0',
    tick_count     INT            NOT NULL COMMENT 'number of valid ticks in the minute'
)
UNIQUE KEY(commodity_code, bar_start)
COMMENT '1-minute OHLC + VWAP bars per commodity'
PARTITION BY RANGE(bar_start) ()
DISTRIBUTED BY HASH(commodity_code) BUCKETS 8
PROPERTIES (
    "replication_num" = "${replication_num}",
    "enable_unique_key_merge_on_write" = "true",
    "dynamic_partition.enable" = "true",
    "dynamic_partition.time_unit" = "DAY",
    "dynamic_partition.start" = "-${agg_retention_days}",
    "dynamic_partition.end" = "3",
    "dynamic_partition.prefix" = "p",
    "dynamic_partition.buckets" = "8",
    "dynamic_partition.replication_num" = "${replication_num}",
    "dynamic_partition.create_history_partition" = "true",
    "dynamic_partition.history_partition_num" = "${raw_retention_days}"
);

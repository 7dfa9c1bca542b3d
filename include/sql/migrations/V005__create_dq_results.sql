-- Results of the streaming_data_quality DAG, one row per (run, check). The check task writes its row
-- before it fails, so the push task (and anyone after a Pushgateway outage) can read every check of a
-- run from here. UNIQUE KEY merge-on-write: a retried check task replaces its row, never duplicates it.
-- Fixed in place (issue 12), not in a new version: as first released this file asked Doris for 733
-- partitions at once (start -730 .. end 3 with create_history_partition) and Doris refuses more than
-- max_dynamic_partition_num (500: "Too many dynamic partitions"), so it never succeeded on any Doris and
-- every later version waited behind it. history_partition_num bounds the partitions created up front to the
-- raw-tick retention (what ohlc_backfill can rebuild from); dynamic_partition.start still sets the retention.
-- Sandboxes (MariaDB, where PROPERTIES are dropped) that applied the released text are accepted through
-- commodity_platform.doris.migrations.REPAIRED_CHECKSUMS.
CREATE TABLE IF NOT EXISTS dq_results (
    run_id        VARCHAR(250)  NOT NULL COMMENT 'Airflow run id of streaming_data_quality',
    check_name    VARCHAR(32)   NOT NULL COMMENT 'freshness, error_rate or ohlc_correctness',
    as_of         DATETIME      NOT NULL COMMENT 'instant the check evaluated the data at, UTC',
    window_start  DATETIME      NULL     COMMENT 'start of the checked window (error_rate, ohlc_correctness)',
    window_end    DATETIME      NULL     COMMENT 'end (exclusive) of the checked window',
    success       BOOLEAN       NOT NULL COMMENT 'true when every expectation of the check passed',
    status        VARCHAR(16)   NOT NULL COMMENT 'pass, fail (data broke a threshold) or error (could not check)',
    summary       VARCHAR(1024) NULL     COMMENT 'one-line human summary',
    metrics       JSON          NULL     COMMENT 'list of {name, labels, value}: the samples pushed to Prometheus',
    details       JSON          NULL     COMMENT 'per-expectation results and example rows',
    report_path   VARCHAR(512)  NULL     COMMENT 'HTML report written for the run',
    checked_at    DATETIME(3)   NOT NULL COMMENT 'wall-clock time the row was written, UTC'
)
UNIQUE KEY(run_id, check_name, as_of)
COMMENT 'data-quality check results of streaming_data_quality (history survives a Pushgateway outage)'
PARTITION BY RANGE(as_of) ()
DISTRIBUTED BY HASH(run_id) BUCKETS 2
PROPERTIES (
    "replication_num" = "${replication_num}",
    "enable_unique_key_merge_on_write" = "true",
    "dynamic_partition.enable" = "true",
    "dynamic_partition.time_unit" = "DAY",
    "dynamic_partition.start" = "-${agg_retention_days}",
    "dynamic_partition.end" = "3",
    "dynamic_partition.prefix" = "p",
    "dynamic_partition.buckets" = "2",
    "dynamic_partition.replication_num" = "${replication_num}",
    "dynamic_partition.create_history_partition" = "true",
    "dynamic_partition.history_partition_num" = "${raw_retention_days}"
);

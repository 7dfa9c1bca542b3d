-- One row per attempt to apply a migration file (failed attempts too, with success = false).
-- A version counts as applied once it has a successful row; its checksum is then frozen.
CREATE TABLE IF NOT EXISTS schema_history (
    script        VARCHAR(255)  NOT NULL COMMENT 'file name, e.g. V001__create_raw_tables.sql',
    installed_on  DATETIME(3)   NOT NULL COMMENT 'UTC start of the attempt',
    version       INT           NULL     COMMENT 'NULL for repeatable (R__) files',
    description   VARCHAR(255)  NOT NULL,
    checksum      VARCHAR(64)   NOT NULL COMMENT 'sha256 of the file (V) or of the rendered statement (R)',
    execution_ms  BIGINT        NOT NULL,
    success       BOOLEAN       NOT NULL,
    installed_by  VARCHAR(128)  NULL,
    error_message VARCHAR(2000) NULL
)
UNIQUE KEY(script, installed_on)
COMMENT 'applied schema migrations (doris_schema_migrate)'
DISTRIBUTED BY HASH(script) BUCKETS 1
PROPERTIES (
    "replication_num" = "${replication_num}",
    "enable_unique_key_merge_on_write" = "true"
);

"""The Param table of the ``doris_schema_migrate`` DAG: each setting's default, schema and help, stated once.

The DAG file builds its ``params=`` from :data:`SCHEMA_MIGRATE_PARAMS`; :class:`SchemaSettings`
(``doris/migration_files.py``) takes its placeholder defaults from the same table, and the tasks read a run's
values with ``resolve_params``. Cheap to import (the DAG file imports it at parse time).
"""

from __future__ import annotations

from commodity_platform.params import ParamSpec, ParamTable
from commodity_platform.validation import KAFKA_BROKER_LIST_PATTERN, strict_param_pattern

#: Params that fill the ``${...}`` placeholders of the migration files (the rest steer the run).
PLACEHOLDER_PARAMS = ("replication_num", "raw_retention_days", "agg_retention_days", "kafka_broker_list")

SCHEMA_MIGRATE_PARAMS: ParamTable = {
    "dry_run": ParamSpec(
        False, "Dry run", "Only validate the files and log the plan; change nothing.", {"type": "boolean"},
    ),
    "target_version": ParamSpec(
        None,
        "Target version",
        "Apply versions up to and including this one, e.g. 3 for V003 (empty: all pending).",
        {"type": ["null", "integer"], "minimum": 1},
    ),
    "replication_num": ParamSpec(
        3,
        "Replication number",
        "Doris replicas per tablet for new tables and partitions (${replication_num}).",
        {"type": "integer", "minimum": 1, "maximum": 7},
    ),
    "raw_retention_days": ParamSpec(
        30,
        "Raw data retention (days)",
        "Days of raw ticks/weather events kept by dynamic partitions (${raw_retention_days}).",
        {"type": "integer", "minimum": 1},
    ),
    "agg_retention_days": ParamSpec(
        730,
        "Aggregate retention (days)",
        "Days of bars, alerts and signals kept by dynamic partitions (${agg_retention_days}).",
        {"type": "integer", "minimum": 1},
    ),
    "kafka_broker_list": ParamSpec(
        "platform-kafka-bootstrap.data-platform.svc:9092",
        "Kafka broker list",
        "Comma-separated host:port list the Routine Loads consume from, e.g. kafka-0:9092,kafka-1:9092 "
        "(${kafka_broker_list}).",
        {"type": "string", "pattern": strict_param_pattern(KAFKA_BROKER_LIST_PATTERN)},
    ),
}

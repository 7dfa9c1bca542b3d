"""``CREATE TABLE`` statements for the logical tables the transformations read and write.

Two families, same columns (from :mod:`commodity_flink.schema`):

* production -- Kafka (JSON) for the raw API items (mapped to ticks, :mod:`commodity_flink.api_items`)
  and enriched prices/alerts, upsert-Kafka for the commodity
  metadata, the Doris connector for bars; every sink is exactly-once (Kafka transactions, Doris
  two-phase commit), both committing on Flink checkpoints.
* local -- the filesystem connector on header-less CSV files (ticks, metadata, outputs), or on a JSON-lines
  file of raw API records through the production item mapping; used by ``run_local.py`` and the tests.

Sources declare the event-time watermark, so the transformations are identical in both families.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from commodity_flink import api_items
from commodity_flink.schema import METADATA_COLUMNS, TICK_COLUMNS, Column, column_ddl
from commodity_flink.transforms import MAX_OUT_OF_ORDERNESS_SECONDS

TICK_WATERMARK = f"WATERMARK FOR `event_time` AS `event_time` - INTERVAL '{MAX_OUT_OF_ORDERNESS_SECONDS}' SECOND"
#: Metadata versions are valid from ``updated_at``; no lateness is tolerated on reference data.
METADATA_WATERMARK = "WATERMARK FOR `updated_at` AS `updated_at`"
#: The ``source`` column of ticks read from a CSV file (which names no feed).
LOCAL_TICK_SOURCE = "`source` AS CAST(NULL AS STRING)"


class SettingsError(ValueError):
    """A required environment variable is missing or invalid (a permanent configuration error)."""


def sql_literal(value: str) -> str:
    """``value`` as a Flink SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _with_clause(options: Mapping[str, str]) -> str:
    return ",\n  ".join(f"{sql_literal(key)} = {sql_literal(value)}" for key, value in options.items())


def create_table(
    name: str, columns: tuple[Column, ...], options: Mapping[str, str], extra: tuple[str, ...] = ()
) -> str:
    """A ``CREATE TEMPORARY TABLE`` statement (temporary: nothing outlives the job's session)."""
    body = ",\n  ".join([column_ddl(columns), *extra])
    return f"CREATE TEMPORARY TABLE `{name}` (\n  {body}\n) WITH (\n  {_with_clause(options)}\n)"


@dataclass(frozen=True)
class ProductionSettings:
    """Connection settings of the production jobs, read from the pod environment.

    Why environment variables: the FlinkDeployment injects them (the Doris password from a Kubernetes
    Secret via ``secretKeyRef``), so no endpoint or secret is baked into the image or the manifests.
    """

    kafka_bootstrap_servers: str
    raw_topic: str = "commodity-prices-raw"
    enriched_topic: str = "commodity-prices-enriched"
    alerts_topic: str = "market-alerts"
    metadata_topic: str = "commodity-metadata"
    doris_fenodes: str = ""
    doris_table: str = "commodity_realtime.price_1min_agg"
    doris_user: str = ""
    doris_password: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProductionSettings:
        """Read the settings; a missing ``KAFKA_BOOTSTRAP_SERVERS`` fails at once, naming the variable."""
        env = os.environ if env is None else env
        bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        if not bootstrap:
            raise SettingsError("environment variable KAFKA_BOOTSTRAP_SERVERS is not set (host:port[,...])")
        defaults = cls(kafka_bootstrap_servers=bootstrap)
        return cls(
            kafka_bootstrap_servers=bootstrap,
            raw_topic=env.get("RAW_TOPIC", defaults.raw_topic),
            enriched_topic=env.get("ENRICHED_TOPIC", defaults.enriched_topic),
            alerts_topic=env.get("ALERTS_TOPIC", defaults.alerts_topic),
            metadata_topic=env.get("METADATA_TOPIC", defaults.metadata_topic),
            doris_fenodes=env.get("DORIS_FENODES", ""),
            doris_table=env.get("DORIS_TABLE", defaults.doris_table),
            doris_user=env.get("DORIS_USER", ""),
            doris_password=env.get("DORIS_PASSWORD", ""),
        )

    def require_doris(self) -> None:
        """Fail with the variable names if the Doris sink cannot be configured."""
        missing = [
            name
            for name, value in (("DORIS_FENODES", self.doris_fenodes), ("DORIS_USER", self.doris_user))
            if not value
        ]
        if missing:
            raise SettingsError(f"environment variable(s) {', '.join(missing)} not set for the Doris sink")


# ---------------------------------------------------------------------------------------------- production


#: The table over ``commodity-prices-raw``: the API items, with the tick computed from each (api_items).
API_ITEMS_TABLE = "raw_api_items"


def _api_items_tables(headers_column: str, options: Mapping[str, str]) -> list[str]:
    """The items table (item fields + headers + computed tick + watermark) and the ``raw_ticks`` view."""
    return [
        create_table(
            API_ITEMS_TABLE,
            api_items.item_columns(),
            options,
            extra=(headers_column, *api_items.computed_columns(), TICK_WATERMARK),
        ),
        api_items.raw_ticks_view(API_ITEMS_TABLE),
    ]


def kafka_ticks_source(settings: ProductionSettings, group_id: str) -> list[str]:
    """Raw ticks from the API items the HTTP sources write to Kafka (see :mod:`commodity_flink.api_items`).

    The record headers (the feed's name, FRED's series id) come from the Kafka connector's ``headers``
    metadata (read-only, hence VIRTUAL). ``json.ignore-parse-errors`` turns a malformed message into NULL
    fields, which the ``raw_ticks`` view then drops (no commodity): one bad producer must not stop the
    platform's stream processing. Offsets live in Flink checkpoints; the consumer group only matters for
    the very first start (earliest).
    """
    return _api_items_tables(
        f"`{api_items.HEADERS_COLUMN}` {api_items.HEADERS_TYPE} METADATA VIRTUAL",
        {
            "connector": "kafka",
            "topic": settings.raw_topic,
            "properties.bootstrap.servers": settings.kafka_bootstrap_servers,
            "properties.group.id": group_id,
            "properties.auto.offset.reset": "earliest",
            # Only read what transactional producers committed (matches our exactly-once sinks).
            "properties.isolation.level": "read_committed",
            "scan.startup.mode": "group-offsets",
            "format": "json",
            "json.ignore-parse-errors": "true",
        },
    )


def kafka_metadata_source(settings: ProductionSettings, group_id: str) -> str:
    """Commodity metadata from a compacted topic keyed by the commodity code (raw UTF-8 key).

    upsert-Kafka with a primary key and a watermark is a versioned table, which is what the event-time
    temporal join needs. The topic is rarely written, so the deployment sets
    ``table.exec.source.idle-timeout``: otherwise its watermark would hold the join back forever.
    """
    return create_table(
        "commodity_metadata_versioned",
        METADATA_COLUMNS,
        {
            "connector": "upsert-kafka",
            "topic": settings.metadata_topic,
            "properties.bootstrap.servers": settings.kafka_bootstrap_servers,
            "properties.group.id": group_id,
            "key.format": "raw",
            "value.format": "json",
            "value.json.timestamp-format.standard": "SQL",
            "value.fields-include": "ALL",
        },
        extra=("PRIMARY KEY (`commodity_code`) NOT ENFORCED", METADATA_WATERMARK),
    )


def kafka_sink(
    name: str, columns: tuple[Column, ...], *, topic: str, settings: ProductionSettings, transactional_id: str
) -> str:
    """An exactly-once Kafka sink keyed by commodity code (per-commodity order is kept per partition).

    The transaction timeout must exceed the checkpoint interval plus restart time, and stay below the
    brokers' ``transaction.max.timeout.ms`` (15 min by default).
    """
    return create_table(
        name,
        columns,
        {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": settings.kafka_bootstrap_servers,
            "properties.transaction.timeout.ms": "900000",
            "sink.delivery-guarantee": "exactly-once",
            "sink.transactional-id-prefix": transactional_id,
            "key.format": "raw",
            "key.fields": "commodity_code",
            "value.format": "json",
            "value.fields-include": "ALL",
            "value.json.timestamp-format.standard": "SQL",
            "value.json.encode.decimal-as-plain-number": "true",
        },
    )


def doris_bars_sink(name: str, columns: tuple[Column, ...], settings: ProductionSettings, label: str) -> str:
    """Bars into Doris through the Doris connector's two-phase-commit stream load (exactly-once).

    ``price_1min_agg`` is a UNIQUE KEY table on (commodity_code, bar_start), so a replayed bar
    overwrites itself instead of duplicating.
    """
    settings.require_doris()
    return create_table(
        name,
        columns,
        {
            "connector": "doris",
            "fenodes": settings.doris_fenodes,
            "table.identifier": settings.doris_table,
            "username": settings.doris_user,
            "password": settings.doris_password,
            "sink.label-prefix": label,
            "sink.enable-2pc": "true",
            "sink.properties.format": "json",
            "sink.properties.read_json_by_line": "true",
        },
    )


# --------------------------------------------------------------------------------------------------- local


def csv_options(path: str) -> dict[str, str]:
    """Filesystem/CSV options; ``csv.null-literal`` makes an empty field NULL for every type."""
    return {
        "connector": "filesystem",
        "path": path,
        "format": "csv",
        "csv.null-literal": "",
    }


def csv_ticks_source(path: str) -> list[str]:
    """Raw ticks from a header-less CSV file, with the same watermark as the Kafka source.

    A tick file names no feed, so its ticks' ``source`` is NULL.
    """
    return [create_table("raw_ticks", TICK_COLUMNS, csv_options(path), extra=(LOCAL_TICK_SOURCE, TICK_WATERMARK))]


def json_api_items_source(path: str) -> list[str]:
    """Raw ticks from a JSON-lines file of ``commodity-prices-raw`` records, through the production mapping.

    Each line is one record: the API item's fields plus ``"headers"``, the record's Kafka headers as a
    JSON object of base64 strings (Flink's json format reads BYTES as base64). Only the connector
    differs from :func:`kafka_ticks_source`: the same columns, computed tick, watermark and view.
    """
    return _api_items_tables(
        f"`{api_items.HEADERS_COLUMN}` {api_items.HEADERS_TYPE}",
        {"connector": "filesystem", "path": path, "format": "json"},
    )


def csv_metadata_source(path: str) -> list[str]:
    """Commodity metadata from a CSV file, exposed as the versioned view the enricher joins.

    A file is append-only, so the versioned table is a "keep last row per key by event time"
    deduplication view -- the pattern Flink documents for turning an append-only history into a
    versioned table.
    """
    names = ", ".join(f"`{column.name}`" for column in METADATA_COLUMNS)
    return [
        create_table("commodity_metadata_history", METADATA_COLUMNS, csv_options(path), extra=(METADATA_WATERMARK,)),
        f"""
CREATE TEMPORARY VIEW commodity_metadata_versioned AS
SELECT {names}
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY `commodity_code` ORDER BY `updated_at` DESC) AS row_num
  FROM commodity_metadata_history
)
WHERE row_num = 1
""",
    ]


def csv_sink(name: str, columns: tuple[Column, ...], directory: str) -> str:
    """A sink writing header-less CSV part files into ``directory``."""
    return create_table(name, columns, csv_options(directory))

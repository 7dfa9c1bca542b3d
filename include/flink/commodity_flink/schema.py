"""Column lists of every logical table the jobs read or write.

A single definition per table keeps the production DDL (Kafka/Doris), the local CSV DDL and the CSV
headers of the local runner from drifting apart: they are all generated from these tuples.

Types follow the bar definition shared with the Doris backfill and the data-quality check: prices are
``DECIMAL(18, 6)`` and volumes ``DECIMAL(18, 4)`` (never ``DOUBLE``) so open/high/low/close are exact.
Output columns use the types of the Doris tables they end up in (``include/sql/migrations``): bar volume
``DECIMAL(28, 4)``, VWAP ``DECIMAL(28, 10)``; the JSON field names of the two Kafka outputs are the
``jsonpaths`` of the Doris routine loads reading those topics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column of a logical table: its name and its Flink SQL type."""

    name: str
    sql_type: str


PRICE_TYPE = "DECIMAL(18, 6)"
VOLUME_TYPE = "DECIMAL(18, 4)"
BAR_VOLUME_TYPE = "DECIMAL(28, 4)"
VWAP_TYPE = "DECIMAL(28, 10)"
#: Event times are UTC wall-clock values; TIMESTAMP(3) is what Flink accepts as a rowtime attribute.
EVENT_TIME_TYPE = "TIMESTAMP(3)"

#: Raw ticks as the local runner reads them (CSV header in this order). The logical table ``raw_ticks``
#: has one more column, ``source`` (the feed's name): in production all five are computed from the API
#: items on Kafka (:mod:`commodity_flink.api_items`).
TICK_COLUMNS: tuple[Column, ...] = (
    Column("commodity_code", "STRING"),
    Column("event_time", EVENT_TIME_TYPE),
    Column("price", PRICE_TYPE),
    Column("volume", VOLUME_TYPE),
)

#: Commodity reference data. ``updated_at`` is the time from which a version is valid: the enricher
#: joins each tick with the version valid at the tick's event time (event-time temporal join).
METADATA_COLUMNS: tuple[Column, ...] = (
    Column("commodity_code", "STRING"),
    Column("commodity_name", "STRING"),
    Column("category", "STRING"),
    Column("exchange", "STRING"),
    Column("currency", "STRING"),
    Column("unit", "STRING"),
    Column("updated_at", EVENT_TIME_TYPE),
)

#: Output of the data enricher (topic ``commodity-prices-enriched``).
ENRICHED_COLUMNS: tuple[Column, ...] = (
    Column("commodity_code", "STRING"),
    Column("event_time", EVENT_TIME_TYPE),
    Column("price", PRICE_TYPE),
    Column("volume", VOLUME_TYPE),
    Column("commodity_name", "STRING"),
    Column("category", "STRING"),
    Column("exchange", "STRING"),
    Column("currency", "STRING"),
    Column("unit", "STRING"),
    # Feed the tick came from (EIA, FRED: the records' "source" header, upper-cased; NULL for a tick
    # file); Doris energy_prices_rt.source.
    Column("source", "STRING"),
    # Processing time at which the enricher emitted the tick (UTC); Doris energy_prices_rt.ingest_time.
    Column("ingest_time", "TIMESTAMP(3)"),
)

#: Output of the price aggregator (Doris table ``price_1min_agg``), one row per commodity and minute.
BAR_COLUMNS: tuple[Column, ...] = (
    Column("commodity_code", "STRING"),
    Column("bar_start", "TIMESTAMP(3)"),
    Column("open_price", PRICE_TYPE),
    Column("high_price", PRICE_TYPE),
    Column("low_price", PRICE_TYPE),
    Column("close_price", PRICE_TYPE),
    Column("volume", BAR_VOLUME_TYPE),
    Column("vwap", VWAP_TYPE),
    Column("tick_count", "INT"),
)

#: Output of the anomaly detector (topic ``market-alerts`` -> Doris ``market_alerts``).
ALERT_COLUMNS: tuple[Column, ...] = (
    Column("alert_id", "STRING"),
    Column("commodity_code", "STRING"),
    Column("alert_time", "TIMESTAMP(3)"),
    Column("alert_type", "STRING"),
    Column("severity", "STRING"),
    Column("price_change_pct", "DECIMAL(10, 4)"),
    Column("reference_time", "TIMESTAMP(3)"),
    Column("reference_price", PRICE_TYPE),
    Column("current_price", PRICE_TYPE),
    Column("message", "STRING"),
    Column("ingest_time", "TIMESTAMP(3)"),
)


def column_names(columns: tuple[Column, ...]) -> list[str]:
    """The names of ``columns``, in order (the CSV header of a local file)."""
    return [column.name for column in columns]


def column_ddl(columns: tuple[Column, ...]) -> str:
    """The column part of a ``CREATE TABLE`` statement."""
    return ",\n  ".join(f"`{column.name}` {column.sql_type}" for column in columns)

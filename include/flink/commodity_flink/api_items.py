"""From the API items on ``commodity-prices-raw`` to ticks: the one place that knows the APIs' fields.

The castorm HTTP sources write each API item verbatim as JSON (``include/connectors/cp-source-*.yaml``,
``include/contracts/topics.yaml``) and name the feed in the Kafka header ``source`` (InsertHeader SMT).
The FRED item carries no series id, so the FRED connector also adds it as header ``series_id``. The jobs
read those records through a table declared with the items' fields (:mod:`commodity_flink.connectors`)
whose computed columns are the tick (``commodity_code, event_time, price, volume, source``), and the
view ``raw_ticks`` keeps the items that are price observations of a commodity the platform knows.

Upstream shapes (field names exactly as documented):

* EIA API v2, route ``petroleum/pri/spt`` (https://www.eia.gov/opendata/documentation.php and the route's
  browser https://www.eia.gov/opendata/browser/petroleum/pri/spt): ``response.data[]`` items with
  ``period`` ("2024-06-03" for frequency=daily), ``series`` (e.g. RWTC), ``value`` and ``units``
  ("$/BBL"). Since API v2.1.6 (January 2024) "the API has been standardized to return data values as
  strings", so ``value`` is read as STRING and cast.
* FRED ``fred/series/observations`` (https://fred.stlouisfed.org/docs/api/fred/series_observations.html):
  ``observations[]`` items ``{realtime_start, realtime_end, date, value}``; ``value`` is a string and
  "." marks a missing observation (a holiday for DCOILWTICO): such an item is not a price and is
  dropped, never parsed.

The sources publish assessed daily spot prices, not trades: there is no traded quantity, so ``volume`` is
0 (a valid tick; the aggregator's VWAP is NULL for a bar without volume). A ``value`` that is present
but not a number becomes a NULL price: a faulty tick that the enricher passes on for the data-quality
checks to count, as with any other producer.

Known limit, not fixed (issue 12): the daily feeds and the 1-minute windowed jobs. Both feeds share one
topic and one watermark (``MAX_OUT_OF_ORDERNESS_SECONDS``, 10 s, sized for real-time ticks). castorm emits
each poll's items oldest first, but the feeds are polled independently (EIA every 5 min, FRED hourly) and
FRED's DCOILWTICO republishes EIA's RWTC assessment (its source is the EIA) once FRED has updated, so FRED's
item for a day can arrive after EIA's items of a later day. In production the source watermark is the
minimum over the topic's 12 partitions, except that ``table.exec.source.idle-timeout`` (30 s in the
FlinkDeployments) marks the many partitions without records idle: in effect it is the newest event time
seen minus 10 s. The lagging feed's ticks are then late
for ``price_aggregator`` (TUMBLE windows) and ``anomaly_detector`` (MATCH_RECOGNIZE), which drop them; the
enricher keeps them, so Doris ``energy_prices_rt`` has them. Seen on PyFlink's local cluster
(tests/flink/test_api_item_mapping.py ``test_known_limit_a_lagging_feed_misses_the_bars``): EIA WTI for June
3, 4, 5, then FRED WTI for June 3 and 4 gives three one-tick bars without FRED's ticks, while the enricher
emits all five. The data-quality ``ohlc_correctness`` check, which recomputes bars from
``energy_prices_rt`` (include/sql/ohlc/bars.sql), then reports those bars as differing (tick_count 2 vs 1).

Why there is no small fix here: what the windowed jobs compute has no meaning for daily assessments. A
daily value is one observation per series and day, stamped 00:00 UTC: its 1-minute bar is degenerate
(open = high = low = close, volume 0, VWAP NULL), and a >5 % move within one minute needs two observations
a minute apart, which a daily series never has. The only way two daily ticks meet in one window is EIA
RWTC and FRED DCOILWTICO, the same WTI Cushing assessment counted twice (tick_count 2) or, after a
revision, a spurious alert. A longer watermark for the API items (days, to cover FRED's lag) would hold
every bar and alert of the topic back by days, against the jobs' purpose (bars 10 s after the minute); a
watermark per feed needs a topic per feed (one topic read as two tables shares its partitions, and a
partition holding only the other feed's records would hold that table's watermark back for ever) and
would still lose a feed's ticks after the 30 s idle timeout. The sound fix is to keep daily feeds out of
the intraday computations, consistently: the windowed jobs read only intraday ticks (``raw_ticks``
without the feeds of ``FEEDS``, all daily) and the warehouse bar definition used by ``ohlc_backfill`` and
``ohlc_correctness`` (include/sql/ohlc/bars.sql) excludes the same sources; the enricher keeps loading
them into ``energy_prices_rt``. Changing only the Flink half would make ``ohlc_correctness`` report every
daily tick as a missing bar, so it is left to one change across both (and the dashboards that read bars).
"""

from __future__ import annotations

from dataclasses import dataclass

from commodity_flink.schema import EVENT_TIME_TYPE, PRICE_TYPE, VOLUME_TYPE, Column

#: Kafka header naming the feed (value literal of the connectors' InsertHeader transform ``addSource``).
SOURCE_HEADER = "source"
#: Kafka header with the FRED series id (the FRED item has none; cp-source-fred-prices adds it).
SERIES_HEADER = "series_id"
#: The Kafka record headers as the Flink Kafka connector exposes them (metadata key ``headers``,
#: MAP<STRING, BYTES>: flink-connector-kafka docs, "Available Metadata").
HEADERS_COLUMN = "headers"
HEADERS_TYPE = "MAP<STRING, BYTES>"
#: Both APIs give daily observations as a date only ("2024-06-03"); the tick time is that day, 00:00 UTC.
DATE_PATTERN = "yyyy-MM-dd"
#: FRED's marker of a missing observation.
FRED_MISSING_VALUE = "."


@dataclass(frozen=True)
class Feed:
    """One HTTP source on ``commodity-prices-raw``: the item fields and headers its mapping reads.

    :param source: value of the ``source`` header its connector writes (InsertHeader literal).
    :param date_field: item field with the observation date (``DATE_PATTERN``).
    :param series_field: item field with the series id, or ``None`` when it travels in ``SERIES_HEADER``.
    :param units_field: item field with the unit of the value, or ``None`` if the item has none.
    :param series: series id -> (commodity code, unit the value must be in; ``None``: not checked).
    """

    source: str
    date_field: str
    series_field: str | None
    units_field: str | None
    series: dict[str, tuple[str, str | None]]

    @property
    def item_fields(self) -> tuple[str, ...]:
        """The JSON fields of this feed's items that the mapping reads."""
        fields = [self.date_field, self.series_field, self.units_field, "value"]
        return tuple(f for f in fields if f is not None)

    @property
    def headers(self) -> tuple[str, ...]:
        """The Kafka headers of this feed's records that the mapping reads."""
        return (SOURCE_HEADER,) if self.series_field else (SOURCE_HEADER, SERIES_HEADER)


FEEDS: tuple[Feed, ...] = (
    Feed(
        source="eia",
        date_field="period",
        series_field="series",
        units_field="units",
        # EIA petroleum/pri/spt series: RWTC "Cushing, OK WTI Spot Price FOB", RBRTE "Europe Brent Spot
        # Price FOB", both in dollars per barrel (units "$/BBL"); the connector asks for exactly these
        # (facets[series][] in its request, checked by tests/flink/test_api_item_mapping.py).
        series={"RWTC": ("WTI", "$/BBL"), "RBRTE": ("BRENT", "$/BBL")},
    ),
    Feed(
        source="fred",
        date_field="date",
        series_field=None,
        units_field=None,  # FRED gives units per series, not per observation: DCOILWTICO is Dollars per Barrel
        series={"DCOILWTICO": ("WTI", None)},  # "Crude Oil Prices: West Texas Intermediate (WTI) - Cushing"
    ),
)


def feed(source: str) -> Feed:
    """The feed whose records carry ``source`` in their ``source`` header."""
    for candidate in FEEDS:
        if candidate.source == source:
            return candidate
    raise ValueError(f"no item mapping for source {source!r}; known: {', '.join(f.source for f in FEEDS)}")


def item_columns() -> tuple[Column, ...]:
    """The physical (JSON) columns of the items table: every field a feed's mapping reads, as STRING."""
    names: list[str] = []
    for each in FEEDS:
        names.extend(name for name in each.item_fields if name not in names)
    return tuple(Column(name, "STRING") for name in names)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _header(name: str) -> str:
    # CAST(BYTES AS STRING) decodes UTF-8 (Flink >= 1.15 cast rules); Connect's header converter
    # (SimpleHeaderConverter) writes a string header literal as its UTF-8 text.
    return f"CAST(`{HEADERS_COLUMN}`[{_literal(name)}] AS STRING)"


def _is(each: Feed) -> str:
    return f"{_header(SOURCE_HEADER)} = {_literal(each.source)}"


def _commodity_code() -> str:
    whens = []
    for each in FEEDS:
        series = f"`{each.series_field}`" if each.series_field else _header(SERIES_HEADER)
        for series_id, (code, units) in each.series.items():
            condition = f"{_is(each)} AND {series} = {_literal(series_id)}"
            if units is not None and each.units_field:
                condition += f" AND `{each.units_field}` = {_literal(units)}"
            whens.append(f"WHEN {condition} THEN {_literal(code)}")
    return "CASE " + " ".join(whens) + " END"


#: Event time of a record that has none (no known feed, or a date that does not parse). The watermark
#: assigner refuses a NULL rowtime ("RowTime field should not be null"), which would fail the job on one
#: bad record; this value never advances the watermark and ``raw_ticks`` drops such records.
NO_EVENT_TIME = "TIMESTAMP '1970-01-01 00:00:00'"


def _event_time() -> str:
    whens = " ".join(
        f"WHEN {_is(each)} THEN TO_TIMESTAMP(`{each.date_field}`, {_literal(DATE_PATTERN)})" for each in FEEDS
    )
    return f"COALESCE(CAST(CASE {whens} END AS {EVENT_TIME_TYPE}), {NO_EVENT_TIME})"


def computed_columns() -> tuple[str, ...]:
    """The tick columns, computed from an item and its headers (a computed column cannot use another)."""
    return (
        f"`commodity_code` AS {_commodity_code()}",
        f"`event_time` AS {_event_time()}",
        f"`price` AS TRY_CAST(`value` AS {PRICE_TYPE})",
        f"`volume` AS CAST(0 AS {VOLUME_TYPE})",
        f"`source` AS UPPER({_header(SOURCE_HEADER)})",
    )


def raw_ticks_view(items_table: str) -> str:
    """``raw_ticks``: the items that are observations of a known commodity (projection and filter only,
    so the event-time attribute and its watermark carry over from the items table)."""
    return f"""
CREATE TEMPORARY VIEW raw_ticks AS
SELECT `commodity_code`, `event_time`, `price`, `volume`, `source`
FROM `{items_table}`
WHERE `commodity_code` IS NOT NULL
  AND `event_time` <> {NO_EVENT_TIME}
  AND `value` IS NOT NULL AND `value` <> {_literal(FRED_MISSING_VALUE)}
"""

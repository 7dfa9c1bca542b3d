"""The transformations: the SQL that *is* each job, independent of where data comes from or goes to.

Every job reads the logical table ``raw_ticks`` (plus ``commodity_metadata_versioned`` for the enricher)
and writes one logical sink table. :mod:`commodity_flink.connectors` declares those tables either on
Kafka/Doris (production) or on CSV files (local runner, tests); the statements below never change.

Valid tick (shared with the Doris backfill and the data-quality check): ``price`` not NULL and > 0,
``volume`` not NULL and >= 0, ``commodity_code`` not NULL and not empty. The aggregator and the anomaly
detector use valid ticks only. The enricher deliberately does *not* filter on price/volume: its output
feeds Doris ``energy_prices_rt``, where the data-quality DAG counts faulty ticks; it drops only ticks
it cannot enrich (unknown, NULL or empty code) and ticks without an event time.
"""

from __future__ import annotations

from decimal import Decimal

#: How far behind the newest event time the watermark trails. A tick arriving more than this much
#: later than a newer tick of any commodity in the same source split may fall into an already emitted
#: window and is then dropped, so the value trades latency (a bar is emitted this long after its
#: minute ends) against tolerance for producer/partition skew.
MAX_OUT_OF_ORDERNESS_SECONDS = 10

#: A move strictly greater than this (as a fraction of the reference price) within one minute alerts.
ANOMALY_THRESHOLD = Decimal("0.05")
#: Severity by absolute percentage change: > 5 % MEDIUM, >= 10 % HIGH, >= 20 % CRITICAL.
SEVERITY_HIGH_PCT = Decimal("10")
SEVERITY_CRITICAL_PCT = Decimal("20")

VALID_TICKS_VIEW = """
CREATE TEMPORARY VIEW valid_ticks AS
SELECT commodity_code, event_time, price, volume
FROM raw_ticks
WHERE commodity_code IS NOT NULL AND commodity_code <> ''
  AND price IS NOT NULL AND price > 0
  AND volume IS NOT NULL AND volume >= 0
  AND event_time IS NOT NULL
"""

# Open/close must follow the total order (event_time, price, volume) whatever order ticks arrive in;
# FIRST_VALUE/LAST_VALUE follow arrival order and Flink 1.20 has no ARG_MIN/ARG_MAX, so each tick gets
# a string key that sorts exactly like that tuple, and MIN/MAX of the key pick the first/last tick:
#   chars  1-23  event_time 'yyyy-MM-dd HH:mm:ss.SSS' (fixed width, so lexical order = time order)
#   chars 24-42  price, plain decimal with its fixed 6 decimals, left-padded with '0' to 19 chars
#   chars 43-61  volume, plain decimal with its fixed 4 decimals, left-padded with '0' to 19 chars
# Prices are > 0 and volumes >= 0 after validation and DECIMAL(18, s) never needs more than 19 chars,
# so zero-padding keeps numeric order. The price is cut back out of the key and cast, which is exact.
ORDERED_TICKS_VIEW = """
CREATE TEMPORARY VIEW ordered_ticks AS
SELECT
  commodity_code, event_time, price, volume,
  DATE_FORMAT(event_time, 'yyyy-MM-dd HH:mm:ss.SSS')
    || LPAD(CAST(price AS STRING), 19, '0')
    || LPAD(CAST(volume AS STRING), 19, '0') AS order_key
FROM valid_ticks
"""

# VWAP: without the inner casts Flink's DECIMAL division rules would shrink DECIMAL(38, 10) /
# DECIMAL(38, 4) to 6 decimals; DECIMAL(32, 10) / DECIMAL(20, 4) keeps 12, rounded (half up) to the 10
# of Doris' price_1min_agg.vwap.
PRICE_AGGREGATOR_INSERT = """
INSERT INTO price_aggregator_sink
SELECT
  commodity_code,
  window_start AS bar_start,
  CAST(SUBSTRING(MIN(order_key) FROM 24 FOR 19) AS DECIMAL(18, 6)) AS open_price,
  MAX(price) AS high_price,
  MIN(price) AS low_price,
  CAST(SUBSTRING(MAX(order_key) FROM 24 FOR 19) AS DECIMAL(18, 6)) AS close_price,
  CAST(SUM(volume) AS DECIMAL(28, 4)) AS volume,
  CASE
    WHEN SUM(volume) = 0 THEN CAST(NULL AS DECIMAL(28, 10))
    ELSE CAST(
      CAST(SUM(price * volume) AS DECIMAL(32, 10)) / CAST(SUM(volume) AS DECIMAL(20, 4))
      AS DECIMAL(28, 10))
  END AS vwap,
  CAST(COUNT(*) AS INT) AS tick_count
FROM TABLE(TUMBLE(TABLE ordered_ticks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY commodity_code, window_start, window_end
"""

# Event-time temporal join: each tick meets the metadata version valid at its event time, so replays
# give the same result as the live run. An inner join, so ticks whose code has no metadata (or only
# versions newer than the tick; NULL and empty codes never match) are dropped -- they cannot be
# labelled and downstream consumers rely on the metadata columns being present. ingest_time is the
# only processing-time value in the platform's outputs; it records when the tick left the enricher.
DATA_ENRICHER_INSERT = """
INSERT INTO data_enricher_sink
SELECT
  t.commodity_code, t.event_time, t.price, t.volume,
  m.commodity_name, m.category, m.`exchange`, m.currency, m.unit, t.source,
  CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3)) AS ingest_time
FROM raw_ticks AS t
JOIN commodity_metadata_versioned FOR SYSTEM_TIME AS OF t.event_time AS m
  ON t.commodity_code = m.commodity_code
WHERE t.event_time IS NOT NULL
"""

# Per commodity, ticks in (event_time, price, volume) order. A match starts at a tick S and ends at the
# first later tick E, less than one minute after S, whose price differs from S's by strictly more than
# 5 % of S's price. Flink emits the earliest-starting match, then resumes *at* E (SKIP TO LAST E): a
# level shift alerts once, and a move back (a spike) is a move of its own and alerts again.
_PCT = "CAST((E.price - S.price) * 100 / S.price AS DECIMAL(10, 4))"
PRICE_MOVES_VIEW = f"""
CREATE TEMPORARY VIEW price_moves AS
SELECT *
FROM valid_ticks
MATCH_RECOGNIZE (
  PARTITION BY commodity_code
  ORDER BY event_time, price, volume
  MEASURES
    S.event_time AS reference_time,
    S.price AS reference_price,
    E.event_time AS alert_time,
    E.price AS current_price,
    {_PCT} AS price_change_pct
  ONE ROW PER MATCH
  AFTER MATCH SKIP TO LAST E
  PATTERN (S M*? E) WITHIN INTERVAL '1' MINUTE
  DEFINE
    E AS ABS(E.price - S.price) > S.price * {ANOMALY_THRESHOLD}
)
"""

# alert_id (code + alert time) is deterministic, so a replay after a failover yields the same ids and
# consumers can de-duplicate. Field names follow the Doris routine load into market_alerts.
CLASSIFIED_MOVES_VIEW = f"""
CREATE TEMPORARY VIEW classified_moves AS
SELECT
  commodity_code || '|' || DATE_FORMAT(alert_time, 'yyyy-MM-dd HH:mm:ss.SSS') AS alert_id,
  commodity_code, alert_time,
  CASE WHEN price_change_pct > 0 THEN 'PRICE_SPIKE' ELSE 'PRICE_DROP' END AS alert_type,
  CASE
    WHEN ABS(price_change_pct) >= {SEVERITY_CRITICAL_PCT} THEN 'CRITICAL'
    WHEN ABS(price_change_pct) >= {SEVERITY_HIGH_PCT} THEN 'HIGH'
    ELSE 'MEDIUM'
  END AS severity,
  price_change_pct, reference_time, reference_price, current_price
FROM price_moves
"""

ANOMALY_DETECTOR_INSERT = """
INSERT INTO anomaly_detector_sink
SELECT
  alert_id, commodity_code, alert_time, alert_type, severity, price_change_pct,
  reference_time, reference_price, current_price,
  severity || ' ' || alert_type || ' ' || commodity_code || ' '
    || CASE WHEN price_change_pct > 0 THEN '+' ELSE '' END || CAST(price_change_pct AS STRING)
    || ' % in ' || CAST(TIMESTAMPDIFF(SECOND, reference_time, alert_time) AS STRING) || ' s ('
    || CAST(reference_price AS STRING) || ' -> ' || CAST(current_price AS STRING) || ')' AS message,
  CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3)) AS ingest_time
FROM classified_moves
"""


def price_aggregator_statements() -> list[str]:
    """Views and the final INSERT of the price aggregator (1-minute OHLC + VWAP bars)."""
    return [VALID_TICKS_VIEW, ORDERED_TICKS_VIEW, PRICE_AGGREGATOR_INSERT]


def data_enricher_statements() -> list[str]:
    """Views and the final INSERT of the data enricher (ticks joined with commodity metadata)."""
    return [DATA_ENRICHER_INSERT]


def anomaly_detector_statements() -> list[str]:
    """Views and the final INSERT of the anomaly detector (> 5 % moves within one minute)."""
    return [VALID_TICKS_VIEW, PRICE_MOVES_VIEW, CLASSIFIED_MOVES_VIEW, ANOMALY_DETECTOR_INSERT]

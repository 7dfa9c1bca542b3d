"""Realistic synthetic price ticks for ``energy_prices_rt``, and a fast loader into the sandbox warehouse.

Why synthetic ticks look the way they do: the backfill and the data-quality check must be exercised on
data with the shapes that break naive OHLC code -- quiet minutes with no ticks, several ticks on the same
millisecond, ticks inserted out of event-time order, prices quoted on a tick grid (so equal prices are
common), zero-volume ticks, and the faults the data-quality DAG counts. Each commodity follows a
geometric random walk around a realistic price level (WTI ~75 USD/bbl, HENRY_HUB ~3 USD/MMBtu, ...),
busier in its trading session than overnight.

Values are generated as exact integers (milliseconds, price in 1e-6, volume in 1e-4 units) so that a
test's reference computation in Python and the warehouse see exactly the same decimals. Loading uses
``LOAD DATA LOCAL INFILE`` of a TSV (1M ticks in seconds) with the decimal scaling done by the server;
``method="insert"`` uses multi-row INSERT batches for servers without local infile.

CLI: ``python -m sandbox.ticks --help``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from commodity_platform.connections import DORIS_CONN_ID, DORIS_DATABASE
from commodity_platform.errors import ConfigError
from commodity_platform.window import normalize_commodity_codes, parse_utc, to_naive_utc

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1)
_PRICE_SCALE = 1_000_000  # DECIMAL(18,6)
_VOLUME_SCALE = 10_000  # DECIMAL(18,4)


@dataclass(frozen=True)
class CommoditySpec:
    """A commodity's price level and behaviour; the metadata columns match the enricher's reference CSV."""

    code: str
    name: str
    category: str
    currency: str
    unit: str
    price: float  # typical level
    tick_size: float  # quoting grid: prices are multiples of it
    daily_vol: float  # daily volatility of log price
    lot: int  # typical traded quantity per tick
    session_utc: tuple[int, int]  # busy hours [from, to) UTC
    source: str = "EIA"


COMMODITIES: tuple[CommoditySpec, ...] = (
    CommoditySpec("WTI", "WTI Crude Oil", "crude", "USD", "BBL", 75.0, 0.01, 0.02, 100, (13, 21)),
    CommoditySpec("BRENT", "Brent Crude Oil", "crude", "USD", "BBL", 80.0, 0.01, 0.02, 100, (7, 19)),
    CommoditySpec("HENRY_HUB", "Henry Hub Natural Gas", "natural_gas", "USD", "MMBTU", 3.0, 0.001, 0.04, 250,
                  (13, 21)),
    CommoditySpec("TTF", "Dutch TTF Natural Gas", "natural_gas", "EUR", "MWH", 35.0, 0.005, 0.035, 50, (7, 17)),
    CommoditySpec("RBOB", "RBOB Gasoline", "refined_products", "USD", "GAL", 2.3, 0.0001, 0.022, 42, (13, 21)),
    CommoditySpec("HEATING_OIL", "NY Harbor ULSD", "refined_products", "USD", "GAL", 2.5, 0.0001, 0.022, 42,
                  (13, 21)),
    CommoditySpec("PJM_WEST", "PJM Western Hub Power", "power", "USD", "MWH", 45.0, 0.05, 0.06, 25, (12, 22)),
    CommoditySpec("ERCOT_NORTH", "ERCOT North Hub Power", "power", "USD", "MWH", 40.0, 0.05, 0.08, 25, (12, 23)),
    CommoditySpec("COAL_API2", "Coal API2 Rotterdam", "coal", "USD", "T", 110.0, 0.05, 0.015, 1000, (7, 17)),
    CommoditySpec("NBP", "UK NBP Natural Gas", "natural_gas", "GBP", "THERM", 0.85, 0.0001, 0.035, 5000, (7, 17),
                  "FRED"),
    CommoditySpec("JKM", "JKM LNG", "natural_gas", "USD", "MMBTU", 12.0, 0.005, 0.03, 100, (0, 10), "FRED"),
    CommoditySpec("CAISO_SP15", "CAISO SP15 Power", "power", "USD", "MWH", 50.0, 0.05, 0.07, 25, (15, 24)),
    CommoditySpec("MISO_INDIANA", "MISO Indiana Hub Power", "power", "USD", "MWH", 42.0, 0.05, 0.06, 25,
                  (12, 22)),
    CommoditySpec("NYISO_ZONE_J", "NYISO Zone J Power", "power", "USD", "MWH", 55.0, 0.05, 0.07, 25, (12, 22)),
    CommoditySpec("DUBAI", "Dubai Crude", "crude", "USD", "BBL", 78.0, 0.01, 0.02, 100, (1, 10), "FRED"),
    CommoditySpec("WCS", "Western Canadian Select", "crude", "USD", "BBL", 60.0, 0.01, 0.025, 100, (13, 21)),
    CommoditySpec("PROPANE", "Mont Belvieu Propane", "ngl", "USD", "GAL", 0.7, 0.0001, 0.025, 420, (13, 21)),
    CommoditySpec("ETHANOL", "Chicago Ethanol", "biofuels", "USD", "GAL", 1.8, 0.0001, 0.02, 290, (13, 21)),
    CommoditySpec("EUA", "EU Carbon Allowance", "emissions", "EUR", "T", 70.0, 0.01, 0.025, 1000, (7, 17),
                  "FRED"),
    CommoditySpec("COAL_NEWC", "Newcastle Coal", "coal", "USD", "T", 130.0, 0.05, 0.015, 1000, (0, 10), "FRED"),
)
COMMODITY_BY_CODE: dict[str, CommoditySpec] = {c.code: c for c in COMMODITIES}


@dataclass(frozen=True)
class Faults:
    """Faults to inject, as fractions of all ticks (0 disables each).

    ``invalid`` ticks get one of: NULL price, zero price, negative price, NULL volume, negative volume,
    NULL code, empty code. ``duplicate_ts`` ticks copy the event time of their predecessor (same
    millisecond, different price). ``late`` ticks arrive minutes after their event time (ingest_time)
    and are written after newer ticks. ``stale_commodity`` stops ticking halfway through the window.
    """

    invalid: float = 0.0
    duplicate_ts: float = 0.0
    late: float = 0.0
    stale_commodity: str | None = None

    @classmethod
    def realistic(cls) -> Faults:
        """A mix like a bad day in production: 1 % invalid, 2 % same-ms ticks, 1 % late, one stale feed."""
        return cls(invalid=0.01, duplicate_ts=0.02, late=0.01, stale_commodity="COAL_API2")


@dataclass
class Ticks:
    """Generated ticks as exact integer columns (``None``/masked where a value is NULL)."""

    code: np.ndarray  # object: str, '' or None
    event_ms: np.ndarray  # int64 ms since epoch (UTC)
    price_e6: np.ndarray  # int64 price * 1e6
    price_null: np.ndarray  # bool
    volume_e4: np.ndarray  # int64 volume * 1e4
    volume_null: np.ndarray  # bool
    ingest_ms: np.ndarray  # int64
    meta: dict[str, CommoditySpec] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.event_ms)

    def rows(self) -> Iterator[tuple[str | None, datetime, Decimal | None, Decimal | None]]:
        """(code, event_time naive UTC, price, volume) with exact Decimals, in load order (for tests)."""
        for i in range(len(self)):
            code = self.code[i]
            yield (
                None if code is None else str(code),
                _EPOCH + timedelta(milliseconds=int(self.event_ms[i])),
                None if self.price_null[i] else Decimal(int(self.price_e6[i])).scaleb(-6),
                None if self.volume_null[i] else Decimal(int(self.volume_e4[i])).scaleb(-4),
            )

    def last_valid_prices(self) -> dict[str, float]:
        """Each commodity's price at its newest valid tick: where a continued walk picks up (the live feed)."""
        code_ok = np.array([c is not None and c != "" for c in self.code], dtype=bool)
        valid = code_ok & ~self.price_null & (self.price_e6 > 0) & ~self.volume_null & (self.volume_e4 >= 0)
        last: dict[str, tuple[int, float]] = {}
        for i in np.flatnonzero(valid):
            code, at = str(self.code[i]), int(self.event_ms[i])
            if code not in last or at >= last[code][0]:
                last[code] = (at, int(self.price_e6[i]) / _PRICE_SCALE)
        return {code: price for code, (_, price) in last.items()}


def _to_epoch_ms(value: datetime) -> int:
    value = to_naive_utc(value)
    return int((value - _EPOCH) / timedelta(milliseconds=1))


def generate_ticks(
    start: datetime,
    end: datetime,
    *,
    n_ticks: int | None = None,
    per_minute: int | None = None,
    commodities: Sequence[str] | int = 8,
    faults: Faults | None = None,
    quiet_fraction: float = 0.15,
    seed: int = 42,
    start_prices: Mapping[str, float] | None = None,
) -> Ticks:
    """Generate about ``n_ticks`` ticks in ``[start, end)`` (exactly ``n_ticks`` valid+invalid rows).

    :param n_ticks: how many ticks in all, spread over busy and quiet minutes.
    :param per_minute: instead of ``n_ticks``: exactly this many ticks per commodity in every minute, the
        i-th at a random millisecond of the i-th equal slice of the minute (no quiet minutes, no session
        weighting), so a window's tick count is known exactly (the data-quality tests count them).
    :param commodities: codes from :data:`COMMODITIES`, or how many of them (first N).
    :param quiet_fraction: share of minutes per commodity without any tick (no bar for them).
    :param seed: same seed, same ticks.
    :param start_prices: where each commodity's walk starts (default its typical level): a caller that
        generates consecutive windows (the live sandbox feed) passes the previous window's
        :meth:`Ticks.last_valid_prices` so prices continue instead of restarting at the level.
    """
    faults = faults or Faults()
    specs = _resolve_commodities(commodities)
    start_ms, end_ms = _to_epoch_ms(start), _to_epoch_ms(end)
    if end_ms <= start_ms:
        raise ConfigError(f"generate_ticks: end {end} must be after start {start}")
    if (n_ticks is None) == (per_minute is None):
        raise ConfigError("generate_ticks: give either n_ticks or per_minute")
    if n_ticks is not None and n_ticks < 0:
        raise ConfigError(f"generate_ticks: n_ticks must be >= 0, got {n_ticks}")
    if per_minute is not None and not 1 <= per_minute <= 60_000:
        raise ConfigError(f"generate_ticks: per_minute must be between 1 and 60000, got {per_minute}")
    rng = np.random.default_rng(seed)
    first_minute = start_ms // 60_000
    n_minutes = max(1, -(-(end_ms - start_ms) // 60_000))

    if n_ticks is not None:
        per_code = np.full(len(specs), n_ticks // len(specs), dtype=np.int64)
        per_code[: n_ticks % len(specs)] += 1
        counts: list[int | None] = [int(count) for count in per_code]
    else:
        counts = [None] * len(specs)  # per_minute: the window decides
    parts: list[dict[str, np.ndarray]] = []
    for spec, count in zip(specs, counts, strict=True):
        if count == 0:
            continue
        stale = spec.code == faults.stale_commodity
        start_price = (start_prices or {}).get(spec.code, spec.price)
        if not start_price > 0:
            raise ConfigError(f"generate_ticks: start price of {spec.code} must be > 0, got {start_price!r}")
        if count is None:
            assert per_minute is not None
            event_ms = _regular_times(rng, per_minute, start_ms, end_ms, first_minute, n_minutes, stale=stale)
        else:
            event_ms = _session_times(rng, spec, count, start_ms, end_ms, first_minute, n_minutes, quiet_fraction,
                                      stale=stale)
        if len(event_ms):
            parts.append(_walk(rng, spec, event_ms, start_price=float(start_price)))

    code = np.concatenate([p["code"] for p in parts]) if parts else np.array([], dtype=object)
    event_ms = np.concatenate([p["event_ms"] for p in parts]) if parts else np.array([], dtype=np.int64)
    price = np.concatenate([p["price"] for p in parts]) if parts else np.array([], dtype=np.int64)
    volume = np.concatenate([p["volume"] for p in parts]) if parts else np.array([], dtype=np.int64)
    n = len(event_ms)
    price_null = np.zeros(n, dtype=bool)
    volume_null = np.zeros(n, dtype=bool)

    # Same-millisecond ticks: the predecessor's time (same commodity, since parts are per commodity
    # and sorted by time), so open/close depend on the price tie-break.
    if faults.duplicate_ts > 0 and n > 1:
        idx = rng.choice(np.arange(1, n), size=int(faults.duplicate_ts * n), replace=False)
        same_code = code[idx] == code[idx - 1]
        idx = idx[same_code]
        event_ms[idx] = event_ms[idx - 1]

    # Latency: 50-900 ms normally; late ticks arrive 1-30 minutes after their event time.
    latency = rng.integers(50, 900, size=n)
    if faults.late > 0 and n:
        late_idx = rng.choice(n, size=int(faults.late * n), replace=False)
        latency[late_idx] = rng.integers(60_000, 1_800_000, size=len(late_idx))
    ingest_ms = event_ms + latency

    if faults.invalid > 0 and n:
        bad = rng.choice(n, size=int(faults.invalid * n), replace=False)
        kind = rng.integers(0, 7, size=len(bad))
        price_null[bad[kind == 0]] = True
        price[bad[kind == 1]] = 0
        price[bad[kind == 2]] = -np.abs(price[bad[kind == 2]])
        volume_null[bad[kind == 3]] = True
        volume[bad[kind == 4]] = -np.maximum(volume[bad[kind == 4]], 1)
        code[bad[kind == 5]] = None
        code[bad[kind == 6]] = ""

    # Rows in arrival order, as a streaming sink writes them: late ticks land after newer ones.
    order = np.argsort(ingest_ms, kind="stable")
    return Ticks(code=code[order], event_ms=event_ms[order], price_e6=price[order], price_null=price_null[order],
                 volume_e4=volume[order], volume_null=volume_null[order], ingest_ms=ingest_ms[order],
                 meta={s.code: s for s in specs})


def _resolve_commodities(commodities: Sequence[str] | int) -> list[CommoditySpec]:
    if isinstance(commodities, int):
        if not 1 <= commodities <= len(COMMODITIES):
            raise ConfigError(f"commodities must be between 1 and {len(COMMODITIES)}, got {commodities}")
        return list(COMMODITIES[:commodities])
    unknown = [c for c in commodities if c not in COMMODITY_BY_CODE]
    if unknown:
        raise ConfigError(f"unknown commodity codes {unknown}; known: {sorted(COMMODITY_BY_CODE)}")
    if not commodities:
        raise ConfigError("commodities must not be empty")
    return [COMMODITY_BY_CODE[c] for c in commodities]


def _session_times(rng: np.random.Generator, spec: CommoditySpec, count: int, start_ms: int, end_ms: int,
                   first_minute: int, n_minutes: int, quiet_fraction: float, *, stale: bool) -> np.ndarray:
    """``count`` event times (ms, sorted) of one commodity: minutes weighted by its session, some quiet,
    uniform ms within a minute."""
    minutes = first_minute + np.arange(n_minutes)
    hour = (minutes // 60) % 24
    lo, hi = spec.session_utc
    weight = np.where((hour >= lo) & (hour < hi), 4.0, 1.0)
    weight[rng.random(n_minutes) < quiet_fraction] = 0.0  # quiet minutes: no tick at all
    if stale:
        weight[n_minutes // 2:] = 0.0  # the feed dies halfway
    if weight.sum() == 0:
        weight[0] = 1.0
    chosen = rng.choice(minutes, size=count, p=weight / weight.sum())
    event_ms = chosen * 60_000 + rng.integers(0, 60_000, size=count)
    event_ms = np.clip(event_ms, start_ms, end_ms - 1)
    event_ms.sort()
    return event_ms


def _regular_times(rng: np.random.Generator, per_minute: int, start_ms: int, end_ms: int, first_minute: int,
                   n_minutes: int, *, stale: bool) -> np.ndarray:
    """``per_minute`` event times (ms, sorted) in every minute of ``[start_ms, end_ms)``: the i-th at a random
    millisecond of the i-th of ``per_minute`` equal slices of its minute."""
    slots = np.arange(n_minutes * per_minute)
    minute = first_minute + slots // per_minute
    offset = ((slots % per_minute) + rng.random(len(slots))) * (60_000 / per_minute)
    event_ms = minute * 60_000 + offset.astype(np.int64)
    keep = (event_ms >= start_ms) & (event_ms < end_ms)
    if stale:
        keep &= minute < first_minute + n_minutes // 2  # the feed dies halfway, as with session times
    return event_ms[keep]


def _walk(rng: np.random.Generator, spec: CommoditySpec, event_ms: np.ndarray, *,
          start_price: float) -> dict[str, np.ndarray]:
    """One commodity's ticks at ``event_ms``: GBM prices on its tick grid, lot-sized volumes."""
    count = len(event_ms)
    # Geometric random walk in event time; step variance proportional to elapsed time.
    dt_days = np.diff(event_ms, prepend=event_ms[0]) / 86_400_000
    steps = rng.standard_normal(count) * spec.daily_vol * np.sqrt(dt_days)
    level = start_price * np.exp(np.cumsum(steps))
    ticks = np.maximum(np.round(level / spec.tick_size), 1)
    price = np.rint(ticks * spec.tick_size * _PRICE_SCALE).astype(np.int64)
    # Quantities: mostly whole lots, some fractional (4 decimals), a few zero-volume quotes.
    volume = np.rint(rng.gamma(2.0, spec.lot / 2.0, size=count) * _VOLUME_SCALE).astype(np.int64)
    whole = rng.random(count) < 0.7
    volume[whole] = (volume[whole] // _VOLUME_SCALE) * _VOLUME_SCALE
    volume[rng.random(count) < 0.01] = 0
    return {"code": np.full(count, spec.code, dtype=object), "event_ms": event_ms, "price": price,
            "volume": volume}


# -- loading ----------------------------------------------------------------------------------------------

_LOAD_COLUMNS = (
    "(@code, @event_ms, @price_e6, @volume_e4, @ingest_ms, currency, unit, source, commodity_name, category)"
)
_LOAD_SET = (
    "SET commodity_code = @code, "
    "event_time = TIMESTAMPADD(MICROSECOND, @event_ms * 1000, CAST('1970-01-01 00:00:00' AS DATETIME(3))), "
    "price = CAST(@price_e6 AS DECIMAL(24, 0)) * 0.000001, "
    "volume = CAST(@volume_e4 AS DECIMAL(24, 0)) * 0.0001, "
    "ingest_time = TIMESTAMPADD(MICROSECOND, @ingest_ms * 1000, CAST('1970-01-01 00:00:00' AS DATETIME(3)))"
)


def write_tsv(ticks: Ticks, path: Path) -> None:
    """Ticks as integer TSV (``\\N`` for NULL): the server does the exact decimal scaling on load."""
    n = len(ticks)
    null = "\\N"
    code = np.array([null if c is None else c for c in ticks.code], dtype=object)
    price = ticks.price_e6.astype(str).astype(object)
    price[ticks.price_null] = null
    volume = ticks.volume_e4.astype(str).astype(object)
    volume[ticks.volume_null] = null
    # Enricher columns from the commodity's metadata (NULL for faulty codes, like the enricher drops them).
    meta = {s.code: [s.currency, s.unit, s.source, s.name, s.category] for s in ticks.meta.values()}
    missing = [null] * 5
    meta_cols = list(zip(*(meta.get(c, missing) if c else missing for c in ticks.code), strict=True)) if n else []
    columns = [code, ticks.event_ms.astype(str).astype(object), price, volume,
               ticks.ingest_ms.astype(str).astype(object), *(np.array(col, dtype=object) for col in meta_cols)]
    with path.open("w", encoding="utf-8") as out:
        for begin in range(0, n, 200_000):
            chunk = [col[begin:begin + 200_000] for col in columns]
            out.write("".join("\t".join(row) + "\n" for row in zip(*chunk, strict=True)))


def load_ticks(conn: Any, ticks: Ticks, *, method: str = "infile", table: str = "energy_prices_rt",
               batch_size: int = 5_000) -> float:
    """Append ``ticks`` to ``table`` over a DB-API connection; returns the elapsed seconds.

    ``infile`` needs the connection opened with ``local_infile`` (see :func:`connect_for_load`);
    ``insert`` sends multi-row INSERTs of ``batch_size`` rows (raw columns only). With ``infile`` the
    enricher's columns (name, category, unit, currency, source) are filled from :data:`COMMODITIES`.
    """
    started = time.monotonic()
    cur = conn.cursor()
    if method == "infile":
        with tempfile.TemporaryDirectory(prefix="ticks-") as tmp:
            path = Path(tmp) / "ticks.tsv"
            write_tsv(ticks, path)
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} "
                f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' {_LOAD_COLUMNS} {_LOAD_SET}",
                [str(path)],
            )
    elif method == "insert":
        sql = f"INSERT INTO {table} (commodity_code, event_time, price, volume, ingest_time) VALUES "
        for begin in range(0, len(ticks), batch_size):
            rows = []
            for i in range(begin, min(begin + batch_size, len(ticks))):
                rows.append(
                    "({}, TIMESTAMPADD(MICROSECOND, {} * 1000, CAST('1970-01-01 00:00:00' AS DATETIME(3))), {}, {}, "
                    "TIMESTAMPADD(MICROSECOND, {} * 1000, CAST('1970-01-01 00:00:00' AS DATETIME(3))))".format(
                        "NULL" if ticks.code[i] is None else conn.literal(str(ticks.code[i])).decode(),
                        int(ticks.event_ms[i]),
                        "NULL" if ticks.price_null[i] else f"{int(ticks.price_e6[i])} * 0.000001",
                        "NULL" if ticks.volume_null[i] else f"{int(ticks.volume_e4[i])} * 0.0001",
                        int(ticks.ingest_ms[i]),
                    )
                )
            cur.execute(sql + ", ".join(rows))
    else:
        raise ConfigError(f"load method must be 'infile' or 'insert', got {method!r}")
    conn.commit()
    # A bulk load refreshes the optimizer's statistics, as Doris' automatic analyze does after loads.
    # InnoDB recalculates them only in the background once 10 % of the rows changed: a window loaded
    # and rebuilt at once would be planned on an empty table's statistics, and with the time-clustered
    # tick table (doris.dialect: PRIMARY KEY (event_time, doris_row_id)) that plan drives the join from
    # the ticks instead of the bars (a 20,000-tick rebuild measured 33 s instead of 0.03 s).
    cur.execute(f"ANALYZE TABLE {table}")
    cur.fetchall()
    cur.close()
    return time.monotonic() - started


def connect_for_load(conn_id: str = DORIS_CONN_ID) -> Any:
    """A MySQLdb connection of an Airflow connection with ``local_infile`` enabled (for LOAD DATA)."""
    import MySQLdb

    from commodity_platform.doris.hook import DorisHook

    conn = DorisHook.get_connection(conn_id)
    return MySQLdb.connect(host=conn.host or "127.0.0.1", port=int(conn.port or 3306), user=conn.login or "",
                           passwd=conn.password or "", db=conn.schema or DORIS_DATABASE,
                           local_infile=1, autocommit=False, charset="utf8mb4")


def generate_and_load(
    start: datetime,
    end: datetime,
    *,
    n_ticks: int,
    commodities: Sequence[str] | int = 8,
    faults: Faults | None = None,
    seed: int = 42,
    conn: Any = None,
    conn_id: str = DORIS_CONN_ID,
    method: str = "infile",
) -> dict[str, Any]:
    """Generate ticks for ``[start, end)`` and append them to ``energy_prices_rt`` (for the demo).

    Uses ``conn`` if given, else opens ``conn_id`` (``AIRFLOW_CONN_DORIS_DEFAULT`` in the sandbox).
    Returns counts and timings for the demo to print.
    """
    began = time.monotonic()
    ticks = generate_ticks(start, end, n_ticks=n_ticks, commodities=commodities, faults=faults, seed=seed)
    generated = time.monotonic() - began
    own = conn is None
    conn = conn or connect_for_load(conn_id)
    try:
        load_seconds = load_ticks(conn, ticks, method=method)
    finally:
        if own:
            conn.close()
    invalid = int(np.sum(ticks.price_null | ticks.volume_null | (ticks.price_e6 <= 0) | (ticks.volume_e4 < 0)
                         | np.array([c is None or c == "" for c in ticks.code], dtype=bool)))
    return {
        "ticks": len(ticks), "invalid_ticks": invalid, "commodities": sorted(ticks.meta),
        "window": [start.isoformat(), end.isoformat()],
        "generate_seconds": round(generated, 2), "load_seconds": round(load_seconds, 2),
    }


def _window_bound(value: str) -> datetime:
    """An argparse type: a window bound by the shared rule (ISO-8601, UTC; no zone means UTC)."""
    try:
        return parse_utc(value, field_name="window bound")
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.ticks",
        description="Generate realistic synthetic commodity ticks and load them into energy_prices_rt "
                    "(the Airflow connection --conn-id, e.g. AIRFLOW_CONN_DORIS_DEFAULT) or write a TSV.",
    )
    parser.add_argument("--start", type=_window_bound, required=True, help="window start, ISO-8601 UTC")
    parser.add_argument("--end", type=_window_bound, required=True, help="window end (exclusive), ISO-8601")
    parser.add_argument("--ticks", type=int, default=100_000, help="number of ticks (default 100000)")
    parser.add_argument("--commodities", default="8",
                        help=f"how many commodities (1-{len(COMMODITIES)}) or a comma-separated list of codes "
                             f"({', '.join(COMMODITY_BY_CODE)})")
    parser.add_argument("--faults", choices=["none", "realistic"], default="none",
                        help="inject invalid/duplicate-time/late ticks and a stale feed (realistic)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--conn-id", default=DORIS_CONN_ID, help="Airflow connection to load into")
    parser.add_argument("--method", choices=["infile", "insert"], default="infile",
                        help="LOAD DATA LOCAL INFILE (fast) or multi-row INSERT batches")
    parser.add_argument("--tsv", type=Path, help="only write the integer TSV here; do not load")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    commodities: Sequence[str] | int = (
        int(args.commodities) if args.commodities.isdigit()
        else list(normalize_commodity_codes(args.commodities, field_name="--commodities"))
    )
    faults = Faults.realistic() if args.faults == "realistic" else Faults()
    if args.tsv:
        ticks = generate_ticks(args.start, args.end, n_ticks=args.ticks, commodities=commodities, faults=faults,
                               seed=args.seed)
        write_tsv(ticks, args.tsv)
        log.info("wrote %d ticks to %s", len(ticks), args.tsv)
        return 0
    summary = generate_and_load(args.start, args.end, n_ticks=args.ticks, commodities=commodities, faults=faults,
                                seed=args.seed, conn_id=args.conn_id, method=args.method)
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


# -- stored bars for the data-quality tests: the correct ones, and single deliberate faults ----------------

#: The bar columns a fault may change (a column name is part of the UPDATE's text, so only these).
BAR_VALUE_COLUMNS = ("open_price", "high_price", "low_price", "close_price", "volume", "vwap", "tick_count")


def ensure_minute_index(sandbox: Any, database: str = DORIS_DATABASE) -> bool:
    """Give a tick table that an older version of the project created the minute column and index the
    migration adapter now creates (commodity_platform.doris.dialect); True when they had to be added.

    A kept sandbox (./dev ui's, a developer's test sandbox) has its migrations recorded as applied, so they
    would not run again, and the backfill and the OHLC checks read the column (an unknown column otherwise).
    ``sandbox``: a :class:`sandbox.services.Sandbox` (its ``query``).
    """
    from commodity_platform.ohlc.definition import (
        MINUTE_COLUMN,
        MINUTE_COLUMN_DDL,
        MINUTE_INDEX,
        MINUTE_INDEX_DDL,
        TICKS_TABLE,
    )

    present = sandbox.query(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "AND column_name = %s", [database, TICKS_TABLE, MINUTE_COLUMN], database=None)
    if present[0][0]:
        return False
    log.info("adding %s and INDEX %s to the %s an older version created", MINUTE_COLUMN, MINUTE_INDEX, TICKS_TABLE)
    sandbox.query(f"ALTER TABLE {TICKS_TABLE} ADD COLUMN {MINUTE_COLUMN_DDL}, ADD {MINUTE_INDEX_DDL}",
                  database=database)
    return True


def wipe(conn: Any, tables: Sequence[str] = ("energy_prices_rt", "price_1min_agg")) -> None:
    """Empty ``tables`` (default: the ticks and the bars)."""
    cur = conn.cursor()
    for table in tables:
        cur.execute(f"DELETE FROM {table}")
    cur.close()


def materialize_bars(conn: Any, start: datetime, end: datetime, *, table: str = "price_1min_agg") -> int:
    """Write the bars of ``[start, end)`` derived from the stored ticks by the shared bar definition
    (:func:`commodity_platform.ohlc.definition.bars_sql`); returns the rows written. Clean data is then
    correct by construction, so a fault a test injects afterwards is its only error."""
    from commodity_platform.ohlc.definition import bars_sql

    sql, params = bars_sql(start, end, minute_index=True)  # the sandbox's tables have the minute index
    cur = conn.cursor()
    cur.execute(
        f"REPLACE INTO {table} (commodity_code, bar_start, open_price, high_price, low_price, close_price, "
        f"volume, vwap, tick_count) {sql}",
        params,
    )
    written = cur.rowcount
    cur.close()
    return written


def _change_one_bar(conn: Any, sql: str, params: Sequence[Any], *, what: str) -> None:
    cur = conn.cursor()
    cur.execute(sql, params)
    changed = cur.rowcount
    cur.close()
    if changed != 1:
        raise ConfigError(f"{what}: expected to change 1 bar, changed {changed}")


def corrupt_bar(conn: Any, code: str, bar_start: datetime, *, column: str = "close_price",
                delta: str = "0.5") -> None:
    """Add ``delta`` to one stored bar's ``column`` (its ticks unchanged): a bar the OHLC check must report."""
    if column not in BAR_VALUE_COLUMNS:
        raise ConfigError(f"corrupt_bar: column must be one of {BAR_VALUE_COLUMNS}, got {column!r}")
    _change_one_bar(conn, f"UPDATE price_1min_agg SET {column} = {column} + %s "
                          "WHERE commodity_code = %s AND bar_start = %s",
                    (Decimal(delta), code, bar_start), what=f"corrupt bar {code} {bar_start}")


def delete_bar(conn: Any, code: str, bar_start: datetime) -> None:
    """Delete one stored bar (its ticks stay): a missing bar for the OHLC check."""
    _change_one_bar(conn, "DELETE FROM price_1min_agg WHERE commodity_code = %s AND bar_start = %s",
                    (code, bar_start), what=f"delete bar {code} {bar_start}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Deterministic synthetic ticks and fault injection for the data-quality tests and benchmark.

Ticks are written with multi-row INSERTs over the sandbox's DB-API connection; the stored bars are then
*derived with the shared bar definition* (``INSERT ... SELECT`` of ``bars_sql``), so clean data is
correct by construction and each fault is a deliberate, single edit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from commodity_platform.ohlc.definition import bars_sql

TICK_TABLES = ("energy_prices_rt", "price_1min_agg", "dq_results")


@dataclass(frozen=True)
class TickSpec:
    code: str
    start: datetime
    end: datetime  # exclusive
    per_minute: int = 6
    base_price: float = 70.0


def wipe(conn: Any, tables: Sequence[str] = ("energy_prices_rt", "price_1min_agg")) -> None:
    cur = conn.cursor()
    for table in tables:
        cur.execute(f"DELETE FROM {table}")
    cur.close()


def insert_ticks(conn: Any, specs: Sequence[TickSpec], *, seed: int = 7, latency_ms: int = 200,
                 table: str = "energy_prices_rt", batch: int = 5000) -> int:
    """Insert ``per_minute`` ticks per minute for each spec; returns the number of rows written."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    for spec in specs:
        price = spec.base_price
        minute = spec.start
        while minute < spec.end:
            for i in range(spec.per_minute):
                offset_us = int((i + rng.random()) * 60_000_000 / spec.per_minute)
                event_time = minute + timedelta(microseconds=offset_us - offset_us % 1000)
                price = max(1.0, price * (1 + rng.uniform(-0.002, 0.002)))
                volume = Decimal(rng.randint(1, 500)) / 10
                ingest = event_time + timedelta(milliseconds=latency_ms + rng.randint(0, 50))
                rows.append((spec.code, event_time, Decimal(f"{price:.6f}"), volume, "USD", "BBL", "TEST", ingest))
            minute += timedelta(minutes=1)
    cur = conn.cursor()
    sql = (f"INSERT INTO {table} (commodity_code, event_time, price, volume, currency, unit, source, ingest_time) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    for i in range(0, len(rows), batch):
        cur.executemany(sql, rows[i:i + batch])
    cur.close()
    return len(rows)


def insert_invalid_ticks(conn: Any, code: str | None, at: datetime, count: int) -> None:
    """Ticks the bar definition ignores (non-positive price), all at ``at`` + i ms."""
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO energy_prices_rt (commodity_code, event_time, price, volume, ingest_time) "
        "VALUES (%s, %s, %s, %s, %s)",
        [(code, at + timedelta(milliseconds=i), Decimal("-1"), Decimal("1"), at + timedelta(milliseconds=i + 200))
         for i in range(count)],
    )
    cur.close()


def materialize_bars(conn: Any, start: datetime, end: datetime, *, table: str = "price_1min_agg") -> int:
    """Write the correct bars for ``[start, end)`` with the shared definition; returns bars written."""
    sql, params = bars_sql(start, end)
    cur = conn.cursor()
    cur.execute(
        f"REPLACE INTO {table} (commodity_code, bar_start, open_price, high_price, low_price, close_price, "
        f"volume, vwap, tick_count) {sql}",
        params,
    )
    written = cur.rowcount
    cur.close()
    return written


def corrupt_bar(conn: Any, code: str, bar_start: datetime, *, column: str = "close_price",
                delta: str = "0.5") -> None:
    cur = conn.cursor()
    cur.execute(f"UPDATE price_1min_agg SET {column} = {column} + %s WHERE commodity_code = %s AND bar_start = %s",
                (Decimal(delta), code, bar_start))
    assert cur.rowcount == 1, f"no bar {code} {bar_start} to corrupt"
    cur.close()


def delete_bar(conn: Any, code: str, bar_start: datetime) -> None:
    cur = conn.cursor()
    cur.execute("DELETE FROM price_1min_agg WHERE commodity_code = %s AND bar_start = %s", (code, bar_start))
    assert cur.rowcount == 1, f"no bar {code} {bar_start} to delete"
    cur.close()

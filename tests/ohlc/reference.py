"""An independent, deliberately naive bar computation in plain Python (no SQL, no shared code).

It follows the written definition literally: filter valid ticks, bucket by the minute, sort each bucket
by (event_time, price, volume) and take first/last. The backfill's SQL uses a different technique (a
packed MIN/MAX key), so agreement between the two is evidence, not tautology.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

Tick = tuple[str | None, datetime, Decimal | None, Decimal | None]


def is_valid(tick: Tick) -> bool:
    code, _, price, volume = tick
    return bool(code) and price is not None and price > 0 and volume is not None and volume >= 0


def reference_bars(ticks: Iterable[Tick], start: datetime, end: datetime,
                   codes: Iterable[str] | None = None) -> dict[tuple[str, datetime], dict[str, Any]]:
    wanted = set(codes) if codes else None
    buckets: dict[tuple[str, datetime], list[Tick]] = defaultdict(list)
    for tick in ticks:
        code, event_time = tick[0], tick[1]
        if not is_valid(tick) or not (start <= event_time < end):
            continue
        if wanted is not None and code not in wanted:
            continue
        buckets[(code, event_time.replace(second=0, microsecond=0))].append(tick)
    bars = {}
    for key, group in buckets.items():
        group.sort(key=lambda t: (t[1], t[2], t[3]))
        volume = sum((t[3] for t in group), Decimal(0))
        notional = sum((t[2] * t[3] for t in group), Decimal(0))
        bars[key] = {
            "open_price": group[0][2],
            "high_price": max(t[2] for t in group),
            "low_price": min(t[2] for t in group),
            "close_price": group[-1][2],
            "volume": volume,
            "vwap": (notional / volume) if volume else None,
            "tick_count": len(group),
        }
    return bars


def stored_bars(conn: Any, start: datetime | None = None,
                end: datetime | None = None) -> dict[tuple[str, datetime], dict[str, Any]]:
    cur = conn.cursor()
    sql = ("SELECT commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, "
           "tick_count FROM price_1min_agg")
    if start is not None:
        sql += " WHERE bar_start >= %s AND bar_start < %s"
        cur.execute(sql, [start, end])
    else:
        cur.execute(sql)
    out = {}
    for code, bar_start, o, h, lo, c, v, vwap, n in cur.fetchall():
        out[(code, bar_start)] = {"open_price": o, "high_price": h, "low_price": lo, "close_price": c,
                                  "volume": v, "vwap": vwap, "tick_count": n}
    cur.close()
    return out


def assert_bars_match(actual: dict, expected: dict, *, rel: float = 1e-6) -> None:
    """Same keys; prices, volume and tick_count exact; vwap to ``rel`` relative (NULL exactly when volume 0)."""
    missing = sorted(set(expected) - set(actual))[:5]
    extra = sorted(set(actual) - set(expected))[:5]
    assert not missing and not extra, f"missing bars {missing}, extra bars {extra}"
    for key, exp in expected.items():
        act = actual[key]
        for col in ("open_price", "high_price", "low_price", "close_price", "volume", "tick_count"):
            assert act[col] == exp[col], f"{key} {col}: stored {act[col]} != reference {exp[col]}"
        if exp["vwap"] is None:
            assert act["vwap"] is None, f"{key} vwap: stored {act['vwap']}, reference NULL (zero volume)"
        else:
            assert act["vwap"] is not None, f"{key} vwap: stored NULL, reference {exp['vwap']}"
            assert abs(act["vwap"] - exp["vwap"]) <= Decimal(str(rel)) * abs(exp["vwap"]), (
                f"{key} vwap: stored {act['vwap']} vs reference {exp['vwap']}")

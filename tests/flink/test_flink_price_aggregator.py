"""The price aggregator on a real local Flink: its bars equal an independent plain-Python reference.

One mini-cluster run (session fixture) over generated ticks that contain everything the bar definition
cares about: out-of-order arrival across minute boundaries (within the watermark), ties on event_time
(and on event_time + price) at the open and the close, invalid ticks with extreme prices, a minute with
zero volume (VWAP NULL) and a minute with only invalid ticks (no bar).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.flink.flink_testlib import (
    Tick,
    count_inversions,
    disorder,
    parse_time,
    read_rows,
    run_job,
    write_ticks,
)

START = datetime(2024, 3, 4, 9, 0, 0)
MINUTES = 7
CODES = {
    "BRENT": Decimal("82.5"),
    "GOLD": Decimal("2050"),
    "WHEAT": Decimal("5.9"),
    "COPPER": Decimal("8400"),
}
ZERO_VOLUME_MINUTE = ("COPPER", START + timedelta(minutes=4))
ONLY_INVALID_MINUTE = ("WHEAT", START + timedelta(minutes=5))
#: Below the jobs' 10 s watermark delay: reordering must not change a single bar.
MAX_ARRIVAL_DELAY_SECONDS = 8.0
BAR_HEADER = [
    "commodity_code", "bar_start", "open_price", "high_price", "low_price", "close_price",
    "volume", "vwap", "tick_count",
]  # fmt: skip


@dataclass(frozen=True)
class Bar:
    commodity_code: str
    bar_start: datetime
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    close_price: Decimal
    volume: Decimal
    vwap: Decimal | None
    tick_count: int


def _price(rng: random.Random, base: Decimal) -> Decimal:
    return (base * (1 + Decimal(rng.randrange(-150, 151)) / 10000)).quantize(Decimal("0.000001"))


def _volume(rng: random.Random) -> Decimal:
    return Decimal(rng.randrange(0, 2_000_000)) / 10000


def _invalid_variant(tick: Tick, rng: random.Random) -> Tick:
    """An invalid copy with an extreme value, so that including it would visibly change the bar."""
    extreme = tick.price * 50 if tick.price is not None else Decimal(1)
    return rng.choice(
        [
            Tick(tick.commodity_code, tick.event_time, None, tick.volume),
            Tick(tick.commodity_code, tick.event_time, Decimal(0), tick.volume),
            Tick(tick.commodity_code, tick.event_time, -extreme, tick.volume),
            Tick(tick.commodity_code, tick.event_time, extreme, None),
            Tick(tick.commodity_code, tick.event_time, extreme, Decimal("-3.5")),
            Tick("", tick.event_time, extreme, tick.volume),
            Tick(None, tick.event_time, extreme, tick.volume),
        ]
    )


def generate_ticks(seed: int) -> list[Tick]:
    """Ticks in event-time order (the caller shuffles them into arrival order)."""
    rng = random.Random(seed)
    ticks: list[Tick] = []
    for code, base in CODES.items():
        moment = START + timedelta(milliseconds=rng.randrange(0, 2000))
        while moment < START + timedelta(minutes=MINUTES):
            minute = (code, moment.replace(second=0, microsecond=0))
            volume = Decimal(0) if minute == ZERO_VOLUME_MINUTE else _volume(rng)
            tick = Tick(code, moment, _price(rng, base), volume)
            ticks.append(tick)
            roll = rng.random()
            if roll < 0.08:  # same event_time, other price: the order falls back to price
                ticks.append(Tick(code, moment, _price(rng, base), volume))
            elif roll < 0.14:  # same event_time and price: the order falls back to volume
                ticks.append(Tick(code, moment, tick.price, _volume(rng) if volume else volume))
            elif roll < 0.22:
                ticks.append(_invalid_variant(tick, rng))
            moment += timedelta(milliseconds=rng.randrange(300, 5000))
        # Ties exactly at the first and the last instant of a minute decide open and close.
        for boundary in (
            START + timedelta(minutes=2),
            START + timedelta(minutes=3) - timedelta(milliseconds=1),
        ):
            for _ in range(3):
                ticks.append(Tick(code, boundary, _price(rng, base), _volume(rng)))
            ticks.append(Tick(code, boundary, ticks[-1].price, _volume(rng)))
    ticks = [
        _invalid_variant(tick, rng)
        if (tick.commodity_code, tick.event_time.replace(second=0, microsecond=0)) == ONLY_INVALID_MINUTE
        else tick
        for tick in ticks
    ]
    ticks.sort(key=lambda tick: tick.event_time)
    return ticks


def reference_bars(ticks: list[Tick]) -> dict[tuple[str, datetime], Bar]:
    """The bar definition, computed directly: group valid ticks by (code, minute), order, aggregate."""
    groups: dict[tuple[str, datetime], list[Tick]] = defaultdict(list)
    for tick in ticks:
        if tick.is_valid():
            assert tick.commodity_code is not None
            groups[(tick.commodity_code, tick.event_time.replace(second=0, microsecond=0))].append(tick)
    bars = {}
    for (code, bar_start), members in groups.items():
        ordered = sorted(members, key=lambda t: (t.event_time, t.price, t.volume))
        prices = [t.price for t in ordered if t.price is not None]
        volumes = [t.volume for t in ordered if t.volume is not None]
        total_volume = sum(volumes, Decimal(0))
        turnover = sum((p * v for p, v in zip(prices, volumes, strict=True)), Decimal(0))
        bars[(code, bar_start)] = Bar(
            commodity_code=code,
            bar_start=bar_start,
            open_price=prices[0],
            high_price=max(prices),
            low_price=min(prices),
            close_price=prices[-1],
            volume=total_volume,
            vwap=turnover / total_volume if total_volume else None,
            tick_count=len(ordered),
        )
    return bars


def parse_bar(row: dict[str, str]) -> Bar:
    return Bar(
        commodity_code=row["commodity_code"],
        bar_start=parse_time(row["bar_start"]),
        open_price=Decimal(row["open_price"]),
        high_price=Decimal(row["high_price"]),
        low_price=Decimal(row["low_price"]),
        close_price=Decimal(row["close_price"]),
        volume=Decimal(row["volume"]),
        vwap=Decimal(row["vwap"]) if row["vwap"] else None,
        tick_count=int(row["tick_count"]),
    )


@pytest.fixture(scope="session")
def aggregator_run(pyflink_python: Path, tmp_path_factory: pytest.TempPathFactory):
    """One run of the aggregator (parallelism 2, as deployed) over disordered generated ticks."""
    work = tmp_path_factory.mktemp("price_aggregator")
    ticks = generate_ticks(seed=20240304)
    arrival = disorder(ticks, MAX_ARRIVAL_DELAY_SECONDS, random.Random(7))
    write_ticks(work / "ticks.csv", arrival)
    run_job(pyflink_python, "price_aggregator", work / "ticks.csv", work / "bars.csv", parallelism=2)
    header, rows = read_rows(work / "bars.csv")
    return ticks, arrival, header, rows


def test_input_is_really_out_of_order_and_has_the_edge_cases(aggregator_run) -> None:
    """Guard the generator: without disorder, ties and invalid ticks the comparison proves little."""
    ticks, arrival, _, _ = aggregator_run
    assert count_inversions(arrival) > len(arrival) // 5
    crossing = [
        (a, b)
        for a, b in itertools.pairwise(arrival)
        if b.event_time.replace(second=0, microsecond=0) < a.event_time.replace(second=0, microsecond=0)
    ]
    assert len(crossing) > 10, "some ticks must arrive after ticks of the next minute"
    keys = [(t.commodity_code, t.event_time) for t in ticks if t.is_valid()]
    assert len(keys) - len(set(keys)) > 20, "ties on event_time must exist"
    assert sum(not t.is_valid() for t in ticks) > 50


def test_bars_equal_the_reference(aggregator_run) -> None:
    ticks, _, header, rows = aggregator_run
    assert header == BAR_HEADER
    expected = reference_bars(ticks)
    actual = {(bar.commodity_code, bar.bar_start): bar for bar in map(parse_bar, rows)}
    assert len(actual) == len(rows), "one bar per commodity and minute"
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        got = actual[key]
        # Prices, volume and count are DECIMAL/BIGINT end to end: exact equality.
        assert (got.open_price, got.high_price, got.low_price, got.close_price) == (
            want.open_price, want.high_price, want.low_price, want.close_price,
        ), key  # fmt: skip
        assert (got.volume, got.tick_count) == (want.volume, want.tick_count), key
        if want.vwap is None:
            assert got.vwap is None, key
        else:
            assert got.vwap is not None, key
            assert abs(got.vwap - want.vwap) <= want.vwap * Decimal("1e-6"), (key, got.vwap, want.vwap)


def test_zero_volume_minute_has_null_vwap_and_invalid_only_minute_has_no_bar(aggregator_run) -> None:
    _, _, _, rows = aggregator_run
    bars = {(bar.commodity_code, bar.bar_start): bar for bar in map(parse_bar, rows)}
    zero = bars[ZERO_VOLUME_MINUTE]
    assert zero.volume == 0
    assert zero.vwap is None
    assert zero.tick_count > 0
    assert ONLY_INVALID_MINUTE not in bars
    # Neighbouring minutes of the same commodity do have bars, so the gap is the rule, not missing data.
    code, minute = ONLY_INVALID_MINUTE
    assert (code, minute - timedelta(minutes=1)) in bars
    assert (code, minute + timedelta(minutes=1)) in bars


def test_ties_at_open_and_close_follow_price_then_volume(aggregator_run) -> None:
    """Open = lowest price among the first instant's ticks; close = highest among the last instant's."""
    ticks, _, _, rows = aggregator_run
    bars = {(bar.commodity_code, bar.bar_start): bar for bar in map(parse_bar, rows)}
    minute = START + timedelta(minutes=2)
    last_instant = minute + timedelta(minutes=1) - timedelta(milliseconds=1)
    for code in CODES:
        at_open = [
            t.price for t in ticks if t.is_valid() and t.commodity_code == code and t.event_time == minute
        ]
        at_close = [
            t.price
            for t in ticks
            if t.is_valid() and t.commodity_code == code and t.event_time == last_instant
        ]
        assert len(at_open) >= 4
        assert len(at_close) >= 4
        assert bars[(code, minute)].open_price == min(p for p in at_open if p is not None)
        assert bars[(code, minute)].close_price == max(p for p in at_close if p is not None)

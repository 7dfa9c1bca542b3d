"""The synthetic tick generator: realistic levels, the requested faults, deterministic, loads exactly."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from decimal import Decimal

import numpy as np
import pytest

from sandbox.ticks import COMMODITY_BY_CODE, Faults, generate_ticks, load_ticks
from tests.ohlc.reference import is_valid

START, END = datetime(2031, 6, 1), datetime(2031, 6, 1, 6)


def test_price_levels_are_realistic_and_quiet_minutes_exist() -> None:
    ticks = generate_ticks(START, END, n_ticks=30_000, commodities=["WTI", "HENRY_HUB"], seed=1)
    rows = list(ticks.rows())
    for code in ("WTI", "HENRY_HUB"):
        prices = [float(r[2]) for r in rows if r[0] == code]
        level = COMMODITY_BY_CODE[code].price
        assert 0.8 * level < float(np.median(prices)) < 1.2 * level
        minutes = {r[1].replace(second=0, microsecond=0) for r in rows if r[0] == code}
        assert len(minutes) < 360  # some minutes have no tick
    assert len(rows) == 30_000


def test_faults_are_injected_and_the_seed_makes_it_deterministic() -> None:
    faults = Faults(invalid=0.05, duplicate_ts=0.05, late=0.05, stale_commodity="BRENT")
    a = generate_ticks(START, END, n_ticks=10_000, commodities=["WTI", "BRENT"], faults=faults, seed=4)
    b = generate_ticks(START, END, n_ticks=10_000, commodities=["WTI", "BRENT"], faults=faults, seed=4)
    assert list(a.rows()) == list(b.rows())
    rows = list(a.rows())
    invalid = [r for r in rows if not is_valid(r)]
    assert 300 < len(invalid) <= 500
    assert any(r[0] is None for r in invalid) and any(r[0] == "" for r in invalid)
    assert any(r[2] is None for r in invalid) and any(r[3] is not None and r[3] < 0 for r in invalid)
    times = [(r[0], r[1]) for r in rows]
    assert len(set(times)) < len(times)  # same-millisecond ticks
    assert any(later < earlier for earlier, later in zip(a.event_ms, a.event_ms[1:], strict=False))  # out of order
    brent_last = max(r[1] for r in rows if r[0] == "BRENT")
    assert brent_last < datetime(2031, 6, 1, 3, 1)  # the stale feed stops halfway


def test_unknown_commodity_is_refused() -> None:
    from commodity_platform.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown commodity codes"):
        generate_ticks(START, END, n_ticks=10, commodities=["GOLD"])


def test_per_minute_puts_exactly_that_many_ticks_in_every_minute() -> None:
    """The data-quality tests' layout (was tests/quality/ticks.py): a window's tick count is exact, each tick
    in its own slice of the minute, all valid, prices at the commodity's level; the same seed, the same ticks."""
    from collections import Counter

    end = datetime(2031, 6, 1, 1, 10, 30)  # a partial last minute keeps only its ticks before the end
    ticks = generate_ticks(START, end, per_minute=6, commodities=["WTI", "BRENT"], seed=7)
    rows = list(ticks.rows())
    per_minute = Counter((r[0], r[1].replace(second=0, microsecond=0)) for r in rows)
    assert {n for (_, minute), n in per_minute.items() if minute < datetime(2031, 6, 1, 1, 10)} == {6}
    assert len(per_minute) == 2 * 71 and all(r[1] < end for r in rows)
    assert all(is_valid(r) for r in rows)
    for code in ("WTI", "BRENT"):
        slices = sorted((r[1].second * 1000 + r[1].microsecond // 1000) // 10_000 for r in rows
                        if r[0] == code and r[1] < datetime(2031, 6, 1, 0, 1))
        assert slices == [0, 1, 2, 3, 4, 5]
        assert 0.9 * COMMODITY_BY_CODE[code].price < float(next(r[2] for r in rows if r[0] == code)) < 1.1 * (
            COMMODITY_BY_CODE[code].price)
    assert rows == list(generate_ticks(START, end, per_minute=6, commodities=["WTI", "BRENT"], seed=7).rows())


def test_a_tick_count_is_given_one_way() -> None:
    from commodity_platform.errors import ConfigError

    with pytest.raises(ConfigError, match="either n_ticks or per_minute"):
        generate_ticks(START, END, n_ticks=10, per_minute=6)
    with pytest.raises(ConfigError, match="either n_ticks or per_minute"):
        generate_ticks(START, END)
    with pytest.raises(ConfigError, match="per_minute must be between 1 and 60000"):
        generate_ticks(START, END, per_minute=0)


@pytest.mark.sandbox
@pytest.mark.parametrize("method", ["infile", "insert"])
def test_loaded_rows_equal_the_generated_ones(db, method: str) -> None:
    ticks = generate_ticks(START, END, n_ticks=3_000, commodities=3, faults=Faults.realistic(), seed=8)
    load_ticks(db, ticks, method=method)
    cur = db.cursor()
    cur.execute("SELECT commodity_code, event_time, price, volume FROM energy_prices_rt")
    stored = sorted(cur.fetchall(), key=repr)
    assert stored == sorted(ticks.rows(), key=repr)
    assert all(isinstance(r[2], Decimal) for r in stored if r[2] is not None)


def test_cli_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "sandbox.ticks", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--ticks" in proc.stdout and "--faults" in proc.stdout

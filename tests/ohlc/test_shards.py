"""Sharding of a rebuild/check: the plan, the worker count, the code discovery and the parallel runner."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import pytest

from commodity_platform.errors import ConfigError, PermanentError, TemporaryError
from commodity_platform.ohlc.shards import (
    ShardsFailed,
    default_workers,
    plan_shards,
    resolve_workers,
    run_sharded,
    split_codes,
    window_codes,
)
from commodity_platform.window import Window

UTC = timezone.utc
WINDOW = Window(datetime(2026, 1, 1, 22, tzinfo=UTC), datetime(2026, 1, 2, 2, tzinfo=UTC))


def test_workers_default_to_the_cores_on_the_sandbox_and_one_on_doris(monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert default_workers(doris=False) == 6 and resolve_workers(0, doris=False) == 6
    assert default_workers(doris=True) == 1 and resolve_workers(0, doris=True) == 1
    assert resolve_workers(3, doris=True) == 3  # measured otherwise: an explicit value wins


@pytest.mark.parametrize("bad", [-1, 33, 1.5, True, "2"])
def test_bad_worker_counts_name_the_param(bad) -> None:
    with pytest.raises(ConfigError, match=r"^parallel_workers: "):
        resolve_workers(bad, doris=False)


def test_codes_are_dealt_into_disjoint_groups_and_crossed_with_the_chunks() -> None:
    groups = split_codes(["WTI", "BRENT", "TTF", "WTI", "JKM", "NBP"], 2)
    assert groups == [("BRENT", "NBP", "WTI"), ("JKM", "TTF")]
    assert split_codes(["WTI"], 4) == [("WTI",)] and split_codes([], 4) == []
    shards = plan_shards(WINDOW, chunk_minutes=1440, code_groups=groups)
    assert [(s.index, s.start.hour, s.end.hour, s.commodity_codes) for s in shards] == [
        (1, 22, 0, groups[0]), (2, 22, 0, groups[1]), (3, 0, 2, groups[0]), (4, 0, 2, groups[1])]
    assert [s.commodity_codes for s in plan_shards(WINDOW, chunk_minutes=1440, code_groups=None)] == [(), ()]
    assert shards[2].describe() == "shard 3 [2026-01-02T00:00:00Z, 2026-01-02T02:00:00Z) ['BRENT', 'NBP', 'WTI']"


def test_time_slices_give_every_worker_a_shard_in_whole_minutes() -> None:
    day = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), ("WTI",))
    # SLICES_PER_WORKER (4) slices per worker, for balance: a busy session does not sit in one worker's half.
    shards = plan_shards(day, chunk_minutes=1440, workers=2)
    assert [(s.start.hour, s.end.hour, s.end.day, s.commodity_codes) for s in shards] == [
        (h, (h + 3) % 24, 1 if h < 21 else 2, ("WTI",)) for h in range(0, 24, 3)]
    # ... but not below MIN_BALANCING_SLICE_MINUTES (60) for balance alone: a 6-hour window in 6 hours,
    # a 60-minute window in the 2 halves that give each worker one.
    six_hours = Window(datetime(2026, 1, 1, 6, tzinfo=UTC), datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert [s.start.hour for s in plan_shards(six_hours, chunk_minutes=1440, workers=2)] == [6, 7, 8, 9, 10, 11]
    hour = Window(datetime(2026, 1, 1, 6, tzinfo=UTC), datetime(2026, 1, 1, 7, tzinfo=UTC))
    assert [(s.start.minute, s.end.minute) for s in plan_shards(hour, chunk_minutes=1440, workers=2)] == [
        (0, 30), (30, 0)]
    # One worker, or enough chunks already: the chunks are the shards (taken by the workers as they free up).
    assert len(plan_shards(day, chunk_minutes=1440, workers=1)) == 1
    assert len(plan_shards(WINDOW, chunk_minutes=60, workers=2)) == 4
    month = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert len(plan_shards(month, chunk_minutes=1440, workers=2)) == 31
    # Fewer chunks than workers: each chunk is cut, never below a minute, and the pieces tile the window.
    three = plan_shards(WINDOW, chunk_minutes=1440, workers=3)  # 2 chunks -> 2 slices each
    assert [(s.start, s.end) for s in three] == [
        (datetime(2026, 1, 1, 22, tzinfo=UTC), datetime(2026, 1, 1, 23, tzinfo=UTC)),
        (datetime(2026, 1, 1, 23, tzinfo=UTC), datetime(2026, 1, 2, 0, tzinfo=UTC)),
        (datetime(2026, 1, 2, 0, tzinfo=UTC), datetime(2026, 1, 2, 1, tzinfo=UTC)),
        (datetime(2026, 1, 2, 1, tzinfo=UTC), datetime(2026, 1, 2, 2, tzinfo=UTC))]
    tiny = Window(datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, 0, 3, tzinfo=UTC))
    assert [(s.start.minute, s.end.minute) for s in plan_shards(tiny, chunk_minutes=1440, workers=8)] == [
        (0, 1), (1, 2), (2, 3)]
    odd = Window(datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, 0, 7, tzinfo=UTC))
    assert [(s.start.minute, s.end.minute) for s in plan_shards(odd, chunk_minutes=1440, workers=2)] == [
        (0, 3), (3, 7)]


def test_every_shard_runs_on_its_own_worker_state_even_when_one_fails() -> None:
    shards = plan_shards(WINDOW, chunk_minutes=60, code_groups=None)  # 4 hourly shards
    states: list[dict[str, Any]] = []
    lock = threading.Lock()

    def open_worker() -> dict[str, Any]:
        state = {"shards": [], "closed": False}
        with lock:
            states.append(state)
        return state

    def work(state: dict[str, Any], shard: Any) -> int:
        state["shards"].append(shard.index)
        if shard.index == 2:
            raise TemporaryError("lost connection")
        return shard.index * 10

    with pytest.raises(ShardsFailed) as info:
        run_sharded(shards, work, workers=2, open_worker=open_worker,
                    close_worker=lambda state: state.update(closed=True))
    assert [o.shard.index for o in info.value.failed] == [2]
    assert [(o.shard.index, o.result) for o in info.value.completed] == [(1, 10), (3, 30), (4, 40)]
    assert len(states) == 2 and all(s["closed"] for s in states)
    assert sorted(i for s in states for i in s["shards"]) == [1, 2, 3, 4]
    error = info.value.as_error("rebuild")
    assert isinstance(error, TemporaryError) and "shard 2 [2026-01-01T23:00:00Z" in str(error)
    assert isinstance(ShardsFailed([*info.value.failed, _failed(shards[0], ValueError("bad SQL"))], []).as_error("x"),
                      PermanentError)


def _failed(shard: Any, error: BaseException) -> Any:
    from commodity_platform.ohlc.shards import ShardOutcome

    return ShardOutcome(shard, error=error)


@pytest.mark.sandbox
def test_window_codes_come_from_ticks_and_stored_bars_by_a_loose_index_scan(db) -> None:
    cur = db.cursor()
    cur.executemany("INSERT INTO energy_prices_rt (commodity_code, event_time, price, volume) VALUES (%s,%s,1,1)",
                    [(code, datetime(2026, 1, 1, 23, m, s)) for code in ("WTI", "BRENT", "", None)
                     for m in range(60) for s in range(0, 60, 2)] + [("OUTSIDE", datetime(2026, 1, 3))])
    cur.execute("ANALYZE TABLE energy_prices_rt")
    cur.fetchall()
    cur.execute("INSERT INTO price_1min_agg VALUES ('GONE', '2026-01-02 01:00:00', 1, 1, 1, 1, 1, 1, 1)")
    assert window_codes(db, WINDOW.start, WINDOW.end) == ["BRENT", "GONE", "WTI"]
    # The one place the backfill and the comparisons take their Doris code groups from.
    from commodity_platform.ohlc.shards import WINDOW_CODES_SQL, code_groups

    assert code_groups(db, WINDOW, workers=2, doris=True) == [("BRENT", "WTI"), ("GONE",)]
    named = Window(WINDOW.start, WINDOW.end, ("WTI", "TTF"))
    assert code_groups(None, named, workers=2, doris=True) == [("TTF",), ("WTI",)]  # no query for named codes
    assert code_groups(db, WINDOW, workers=1, doris=True) is None  # one worker: chunks
    assert code_groups(db, WINDOW, workers=2, doris=False) is None  # not Doris: time slices
    empty = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    assert code_groups(db, empty, workers=2, doris=True) == []

    sql = "\n".join(line for line in WINDOW_CODES_SQL.read_text().splitlines()
                    if line.strip() and not line.startswith("--")).rstrip(";\n")
    cur.execute("EXPLAIN " + sql, {"window_start": "2026-01-01 22:00:00", "window_end": "2026-01-02 02:00:00"})
    plans = {row[2]: row[-1] for row in cur.fetchall() if row[2]}
    # MariaDB answers the ticks half from the key without reading the window's rows, and the bars half
    # from an index alone (the loose scan of the primary key, or for a window of few bars the covering
    # range on doris_partition_key (bar_start), which carries the primary key's commodity_code).
    assert "Using index for group-by" in plans["energy_prices_rt"], plans
    assert "Using index" in plans["price_1min_agg"], plans
    cur.close()


def test_a_comparison_of_airflows_pendulum_window_is_cut_into_plain_datetime_slices() -> None:
    """A scheduled data-quality run's window comes from its data interval: pendulum DateTimes, whose arithmetic
    with a plain timedelta raised AttributeError ('_to_microseconds') in the time slicing."""
    import pendulum

    from commodity_platform.ohlc.comparison import plan_comparison_shards
    from commodity_platform.window import to_naive_utc

    start = to_naive_utc(pendulum.datetime(2026, 3, 1, 10, 58, tz="UTC"))
    end = to_naive_utc(pendulum.datetime(2026, 3, 1, 12, 58, tz="Europe/Berlin"))  # 11:58 UTC
    assert type(start) is datetime and type(end) is datetime and end == datetime(2026, 3, 1, 11, 58)
    shards = plan_comparison_shards(None, start, end, ["WTI"], workers=2, doris=False)
    assert [(s.start, s.end, s.commodity_codes) for s in shards] == [
        (datetime(2026, 3, 1, 10, 58, tzinfo=UTC), datetime(2026, 3, 1, 11, 28, tzinfo=UTC), ("WTI",)),
        (datetime(2026, 3, 1, 11, 28, tzinfo=UTC), datetime(2026, 3, 1, 11, 58, tzinfo=UTC), ("WTI",))]

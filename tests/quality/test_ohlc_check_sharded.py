"""The data-quality OHLC check sharded like ohlc_backfill (issue 16 point 3), against the sandbox MariaDB through
Great Expectations: the same findings as the single expectation, one tolerance for the whole window, the shards
validated at once on their own GX lanes, and a failing shard named."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

from commodity_platform.errors import PermanentError
from sandbox.ticks import corrupt_bar, delete_bar
from tests.quality.conftest import AS_OF, WINDOW_END, WINDOW_START

pytestmark = pytest.mark.sandbox


def _settings(**overrides: Any) -> Any:
    from commodity_platform.quality.settings import DQSettings

    return DQSettings(run_id="pytest-sharded", as_of=AS_OF, window_start=WINDOW_START, window_end=WINDOW_END,
                      **{"examples": 10, **overrides})


def _check(settings: Any, *, workers: int, doris: bool = False) -> Any:
    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.quality.checks import ohlc_check
    from commodity_platform.quality.gx import GxWarehouse

    hook = DorisHook()
    with GxWarehouse(hook.get_uri()) as gx:
        return ohlc_check(settings, gx, workers=workers, doris=doris, hook=hook)


def _problems_in_both_halves(conn: Any) -> None:
    # The 60-minute window [10:58, 11:58) cut in two is [10:58, 11:28) and [11:28, 11:58).
    delete_bar(conn, "WTI", datetime(2026, 3, 1, 11, 0))
    corrupt_bar(conn, "HENRY_HUB", datetime(2026, 3, 1, 11, 10), column="low_price", delta="100")
    corrupt_bar(conn, "BRENT", datetime(2026, 3, 1, 11, 40), column="vwap", delta="0.001")


def test_sharded_check_finds_what_the_single_expectation_finds(clean_data) -> None:
    clean = _check(_settings(), workers=2)
    assert clean.status == "pass" and [d["shard"] for d in clean.details["shards"]] == [
        "shard 1 [2026-03-01T10:58:00Z, 2026-03-01T11:28:00Z) all codes",
        "shard 2 [2026-03-01T11:28:00Z, 2026-03-01T11:58:00Z) all codes"]

    _problems_in_both_halves(clean_data)
    single = _check(_settings(), workers=1)
    assert "shards" not in single.details and single.status == "fail"
    for workers in (2, 3):
        sharded = _check(_settings(), workers=workers)
        assert len(sharded.details["shards"]) == workers
        assert sharded.details["shards"][0]["problem_bars"] == 2  # WTI 11:00 and HENRY_HUB 11:10
        assert (sharded.status, sharded.summary) == (single.status, single.summary)
        assert sharded.samples == single.samples
        one, many = dict(single.details["comparison"]), dict(sharded.details["comparison"])
        one.pop("elapsed_s"), many.pop("elapsed_s")
        assert many == one
        assert [(e["commodity_code"], e["bar_start"]) for e in many["examples"]] == [
            ("WTI", "2026-03-01 11:00:00"), ("HENRY_HUB", "2026-03-01 11:10:00"), ("BRENT", "2026-03-01 11:40:00")]
    # The Doris split (commodity-code groups, the window's codes read through the hook), on the sandbox: it
    # runs the same statements with an IN list, so the findings must be the same.
    by_code = _check(_settings(), workers=2, doris=True)
    assert [d["shard"] for d in by_code.details["shards"]] == [
        "shard 1 [2026-03-01T10:58:00Z, 2026-03-01T11:58:00Z) ['BRENT', 'WTI']",
        "shard 2 [2026-03-01T10:58:00Z, 2026-03-01T11:58:00Z) ['HENRY_HUB']"]
    assert (by_code.status, by_code.summary, by_code.samples) == (single.status, single.summary, single.samples)
    limited = _check(_settings(examples=1), workers=2)
    assert [e["commodity_code"] for e in limited.details["comparison"]["examples"]] == ["WTI"]  # oldest kept


def test_tolerated_problem_bars_count_over_the_whole_window_not_per_shard(clean_data) -> None:
    _problems_in_both_halves(clean_data)  # 2 in the first shard, 1 in the second
    for allowed, status in ((2, "fail"), (3, "pass")):
        single = _check(_settings(ohlc_max_mismatched_bars=allowed), workers=1)
        sharded = _check(_settings(ohlc_max_mismatched_bars=allowed), workers=2)
        assert (single.status, sharded.status) == (status, status), allowed
        assert sharded.summary == single.summary
        assert sharded.details["expectation"]["success"] is (status == "pass")


def test_shards_are_validated_at_once_on_their_own_gx_lanes(clean_data, monkeypatch) -> None:
    """Shard 1's expectation may only finish after shard 2's has: run one after the other, this never ends."""
    from commodity_platform.quality.gx import GxWarehouse

    real_expect = GxWarehouse.expect
    shard_2_done = threading.Event()
    lanes: dict[str, str] = {}

    def expect(self: GxWarehouse, **kwargs: Any) -> Any:
        shard = kwargs["name"].split(" ")[2]
        lanes[shard] = self._datasource_name
        if shard == "1" and not shard_2_done.wait(timeout=60):
            raise AssertionError("shard 1 waited 60 s for shard 2: the shards did not run at once")
        outcome = real_expect(self, **kwargs)
        if shard == "2":
            shard_2_done.set()
        return outcome

    monkeypatch.setattr(GxWarehouse, "expect", expect)
    result = _check(_settings(), workers=2)
    assert result.status == "pass"
    assert lanes["1"] != lanes["2"], lanes  # each thread has its own GX data source (engine, connection)


def test_a_failing_shard_is_named_and_fails_the_check_at_once(clean_data, monkeypatch) -> None:
    from commodity_platform.quality import checks

    real_sql = checks.comparison_sql

    def broken_second_half(start: datetime, end: datetime, **kwargs: Any) -> str:
        sql = real_sql(start, end, **kwargs)
        return sql.replace("energy_prices_rt", "no_such_table") if start.hour == 11 and start.minute == 28 else sql

    monkeypatch.setattr(checks, "comparison_sql", broken_second_half)
    with pytest.raises(PermanentError, match=r"1 of 2 shard\(s\) failed \(shard 2 \[2026-03-01T11:28:00Z, "
                                             r"2026-03-01T11:58:00Z\) all codes: .*no_such_table"):
        _check(_settings(), workers=2)

"""compare_bars(), the OHLC comparison ohlc_backfill reuses, against the sandbox MariaDB; and the demo's
summary of what reached the Pushgateway and Prometheus."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from commodity_platform.ohlc.comparison import compare_bars
from sandbox.ticks import corrupt_bar, delete_bar, materialize_bars
from tests.quality.conftest import CODES, DATA_START, WINDOW_END, WINDOW_START

pytestmark = pytest.mark.sandbox


def test_clean_bars_match_through_a_hook_and_a_connection(clean_data, warehouse) -> None:
    from commodity_platform.doris.hook import DorisHook

    assert compare_bars(DorisHook(), WINDOW_START, WINDOW_END).ok
    result = compare_bars(clean_data, DATA_START, WINDOW_END)
    assert result.ok and result.examples == [] and result.mismatched_bars == 0


def test_each_kind_of_problem_is_counted_with_examples(clean_data) -> None:
    delete_bar(clean_data, "WTI", datetime(2026, 3, 1, 11, 0))
    corrupt_bar(clean_data, "BRENT", datetime(2026, 3, 1, 11, 5), column="vwap", delta="0.001")
    # a stored low above its open breaks the invariant low <= open as well as differing
    corrupt_bar(clean_data, "HENRY_HUB", datetime(2026, 3, 1, 11, 10), column="low_price", delta="100")
    cur = clean_data.cursor()
    cur.execute("INSERT INTO price_1min_agg VALUES ('WTI', '2026-03-01 11:20:00', 1, 1, 1, 1, 1, 1, 1) "
                "ON DUPLICATE KEY UPDATE tick_count = tick_count + 1")  # an existing bar gets a wrong count
    cur.execute("INSERT INTO price_1min_agg VALUES ('NEW', '2026-03-01 11:30:00', 1, 1, 1, 1, 1, 1, 1)")
    cur.close()

    result = compare_bars(clean_data, WINDOW_START, WINDOW_END, examples=2)
    assert (result.mismatched_bars, result.missing_bars, result.extra_bars) == (5, 1, 1)
    assert (result.differing_bars, result.invariant_bars) == (3, 1)
    assert len(result.examples) == 2  # oldest first
    assert [(e["commodity_code"], e["bar_start"], e["problems"]) for e in result.examples] == [
        ("WTI", "2026-03-01 11:00:00", "missing"), ("BRENT", "2026-03-01 11:05:00", "vwap")]
    assert not result.ok and "5 problem bars" in result.summary()

    # The same comparison sharded by code on two connections (the backfill's sharding): the same totals and
    # the same oldest examples, including the extra bar of a code ('NEW') that has no tick at all.
    from commodity_platform.doris.hook import DorisHook

    for examples in (2, 10):
        one = compare_bars(clean_data, WINDOW_START, WINDOW_END, examples=examples).as_dict()
        two = compare_bars(DorisHook(), WINDOW_START, WINDOW_END, examples=examples, workers=2).as_dict()
        one.pop("elapsed_s"), two.pop("elapsed_s")
        assert two == one
    assert any(e["commodity_code"] == "NEW" for e in one["examples"])


def test_codes_window_and_tolerance(clean_data) -> None:
    corrupt_bar(clean_data, "WTI", datetime(2026, 3, 1, 11, 15), column="volume", delta="0.01")
    assert compare_bars(clean_data, WINDOW_START, WINDOW_END, codes=["BRENT", "HENRY_HUB"]).ok
    assert compare_bars(clean_data, WINDOW_START, datetime(2026, 3, 1, 11, 15)).ok  # end is exclusive
    assert compare_bars(clean_data, WINDOW_START, WINDOW_END, codes=["WTI"]).differing_bars == 1
    # 0.01 on a bar volume of some hundreds (6 ticks of ~100-lot WTI trades) is a relative error of ~1e-5:
    # beyond 1e-6, within 1e-3
    assert compare_bars(clean_data, WINDOW_START, WINDOW_END, codes=["WTI"], tolerance=1e-3).ok


def test_zero_volume_bar_has_null_vwap_and_matches(clean_data) -> None:
    cur = clean_data.cursor()
    cur.execute("DELETE FROM energy_prices_rt WHERE commodity_code = 'WTI' AND event_time >= '2026-03-01 11:40:00' "
                "AND event_time < '2026-03-01 11:41:00'")
    cur.execute("INSERT INTO energy_prices_rt (commodity_code, event_time, price, volume) "
                "VALUES ('WTI', '2026-03-01 11:40:05', 61.5, 0)")
    cur.close()
    materialize_bars(clean_data, datetime(2026, 3, 1, 11, 40), datetime(2026, 3, 1, 11, 41))
    result = compare_bars(clean_data, WINDOW_START, WINDOW_END)
    assert result.ok, result.examples
    cur = clean_data.cursor()
    cur.execute("SELECT vwap, volume FROM price_1min_agg "
                "WHERE commodity_code = 'WTI' AND bar_start = '2026-03-01 11:40:00'")
    assert cur.fetchone() == (None, Decimal("0.0000"))
    cur.close()


def test_demo_summary_shows_checks_metrics_and_alerts(sandbox) -> None:
    from commodity_platform.quality.metrics import push, run_samples
    from commodity_platform.quality.results import CheckResult, MetricSample
    from sandbox.quality_demo import summarize

    results = [
        CheckResult("freshness", "pass", "ok"),
        CheckResult("error_rate", "pass", "ok", [MetricSample("streaming_dq_error_rate", {"source": "ticks"}, 0.0)]),
        CheckResult("ohlc_correctness", "fail", "1 problem bar",
                    [MetricSample("streaming_dq_ohlc_mismatched_bars", {}, 1)]),
    ]
    push(run_samples(results), gateway=sandbox.pushgateway_url, instance="pytest-demo", attempts=1)
    text = summarize(sandbox.pushgateway_url, sandbox.prometheus_url, instance="pytest-demo")
    assert "instance=pytest-demo" in text
    assert "ohlc_correctness   FAIL" in text and "freshness          PASS" in text
    assert "streaming_dq_ohlc_mismatched_bars{} 1" in text
    assert f"Alerts firing in Prometheus {sandbox.prometheus_url}:" in text
    assert len(CODES) == 3

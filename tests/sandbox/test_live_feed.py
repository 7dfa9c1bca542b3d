"""The live sandbox: with the feed running, streaming_data_quality is green with its default Params; each
``./dev fault`` kind turns exactly its check red and fires its alert in the sandbox's real Prometheus;
``clear`` heals.

The DAG runs with ``dag.test()`` (the same tasks and code the scheduler runs; the scheduled path is the
end-to-end tests' job), evaluated at "now" like a scheduled run whose data interval just ended. Faults go
through the same request files ``./dev fault`` writes. Alert rules are the production ones, unchanged:
their ``for:`` is 0m, and the sandbox Prometheus scrapes and evaluates every 5 s, so an alert fires within
seconds of the push.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from commodity_platform.paths import INCLUDE_DIR
from sandbox import live_feed as lf
from sandbox.live_feed import LiveFeed, fault_main, request_fault
from sandbox.quality_demo import firing_alerts
from sandbox.ticks import Ticks, ensure_minute_index, generate_ticks
from tests.dag_runs import task_states
from tests.quality.conftest import check_success, pushed_metrics

CHECKS = ("freshness", "error_rate", "ohlc_correctness")
PLATFORM_TABLES = ("energy_prices_rt", "price_1min_agg", "market_alerts", "trading_signals", "weather_events_rt")
INSTANCE = "pytest-live-feed"


# -- units: the detector and the generator's continuation ------------------------------------------------


def _ticks(rows: list[tuple[str, int, float]]) -> Ticks:
    """Valid ticks (code, event ms, price) with 200 ms latency and volume 1."""
    n = len(rows)
    return Ticks(code=np.array([r[0] for r in rows], dtype=object),
                 event_ms=np.array([r[1] for r in rows], dtype=np.int64),
                 price_e6=np.array([round(r[2] * 1_000_000) for r in rows], dtype=np.int64),
                 price_null=np.zeros(n, dtype=bool), volume_e4=np.full(n, 10_000, dtype=np.int64),
                 volume_null=np.zeros(n, dtype=bool),
                 ingest_ms=np.array([r[1] + 200 for r in rows], dtype=np.int64))


def test_detector_alerts_on_a_move_above_5_percent_within_a_minute_like_the_flink_job() -> None:
    base = 1_780_000_000_000
    detector = lf._Detector()
    alerts = detector.feed(_ticks([
        ("WTI", base, 100.0), ("WTI", base + 30_000, 104.9),  # 4.9 %: nothing
        ("WTI", base + 40_000, 105.01),                         # 5.01 % above the first tick: alert
        ("BRENT", base, 80.0), ("BRENT", base + 61_000, 90.0),  # 12.5 % but 61 s apart: nothing
    ]))
    assert [(a["commodity_code"], a["severity"], a["alert_type"], a["price_change_pct"]) for a in alerts] == [
        ("WTI", "MEDIUM", "PRICE_SPIKE", Decimal("5.0100"))]
    alert = alerts[0]
    assert alert["alert_id"] == f"WTI|{alert['alert_time']:%Y-%m-%d %H:%M:%S}.000"
    assert alert["message"] == "MEDIUM PRICE_SPIKE WTI +5.0100 % in 40 s (100.000000 -> 105.010000)"
    # The next match starts at the alerting tick: a further small rise does not alert again.
    assert detector.feed(_ticks([("WTI", base + 45_000, 106.0)])) == []
    drop = detector.feed(_ticks([("WTI", base + 50_000, 90.0)]))  # -14.3 % from 105.01
    assert [(a["severity"], a["alert_type"]) for a in drop] == [("HIGH", "PRICE_DROP")]


def test_detector_thresholds_are_the_flink_jobs() -> None:
    spec = importlib.util.spec_from_file_location(
        "flink_transforms", INCLUDE_DIR / "flink" / "commodity_flink" / "transforms.py")
    assert spec is not None and spec.loader is not None
    transforms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(transforms)
    assert (lf.ANOMALY_THRESHOLD, lf.SEVERITY_HIGH_PCT, lf.SEVERITY_CRITICAL_PCT) == (
        transforms.ANOMALY_THRESHOLD, transforms.SEVERITY_HIGH_PCT, transforms.SEVERITY_CRITICAL_PCT)
    assert lf.BAR_DELAY_SECONDS == transforms.MAX_OUT_OF_ORDERNESS_SECONDS


def test_generator_continues_a_walk_from_the_given_start_prices() -> None:
    start = datetime(2031, 6, 1)
    first = generate_ticks(start, start + timedelta(seconds=30), n_ticks=60, commodities=["WTI"], seed=3,
                           quiet_fraction=0.0)
    last = first.last_valid_prices()
    assert set(last) == {"WTI"}
    newest = int(np.argmax(first.event_ms))
    assert last["WTI"] == first.price_e6[newest] / 1_000_000
    moved = {"WTI": 150.0}  # far from WTI's typical 75: the next window must start there, not at 75
    second = generate_ticks(start + timedelta(seconds=30), start + timedelta(seconds=60), n_ticks=60,
                            commodities=["WTI"], seed=4, quiet_fraction=0.0, start_prices=moved)
    prices = second.price_e6 / 1_000_000
    assert prices.min() > 145 and prices.max() < 155


def test_fault_cli_without_a_running_feed_says_so(capsys) -> None:
    assert fault_main(["corrupt-bar", "--sandbox", "no-such-sandbox"]) == 2
    assert "no live feed" in capsys.readouterr().err


def test_a_tick_table_from_an_older_version_gets_the_minute_index_the_bars_read(sandbox) -> None:
    """./dev ui keeps its sandbox: its tick table may predate the minute column and index (the migrations count
    as applied there), and the backfill would fail on the unknown column. The feed adds them, once."""
    from commodity_platform.doris.tasks import run_migrations
    from commodity_platform.ohlc.definition import MINUTE_COLUMN, MINUTE_INDEX

    run_migrations(installed_by="pytest")

    def minute_index() -> tuple[int, int]:
        columns = sandbox.query("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
                                "AND table_name = 'energy_prices_rt' AND column_name = %s", [MINUTE_COLUMN])
        indexes = sandbox.query("SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE "
                                "table_schema = DATABASE() AND table_name = 'energy_prices_rt' AND index_name = %s",
                                [MINUTE_INDEX])
        return columns[0][0], indexes[0][0]

    assert minute_index() == (1, 1)
    sandbox.query(f"ALTER TABLE energy_prices_rt DROP INDEX {MINUTE_INDEX}, DROP COLUMN {MINUTE_COLUMN}")
    assert minute_index() == (0, 0)
    LiveFeed(sandbox)._ensure_schema()  # what ./dev ui runs on its kept sandbox
    assert minute_index() == (1, 1)
    assert ensure_minute_index(sandbox) is False  # already there: nothing to do
    assert minute_index() == (1, 1)


# -- the live sandbox ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feed(sandbox) -> Iterator[LiveFeed]:
    """The feed on the session sandbox, on emptied platform tables (other tests' rows must not count)."""
    from commodity_platform.doris.tasks import run_migrations

    run_migrations(installed_by="pytest")
    for table in PLATFORM_TABLES:
        sandbox.query(f"DELETE FROM {table}")
    live = LiveFeed(sandbox, seed=13)
    live.start()
    live.start()  # idempotent
    try:
        yield live
    finally:
        live.stop()
        live.stop()  # idempotent
        assert not live.running
        for table in PLATFORM_TABLES:  # later tests start from empty platform tables, as before
            sandbox.query(f"DELETE FROM {table}")


@pytest.fixture(scope="module")
def dq_dag(dagbag) -> Any:
    dag = dagbag.get_dag("streaming_data_quality")
    assert dag is not None, dagbag.import_errors
    return dag


def run_dq_now(dq_dag) -> Any:
    """A run with the DAG's default Params (only the Pushgateway instance set), evaluated at now."""
    conf = {name: dq_dag.params[name] for name in dq_dag.params}  # the defaults, stated: no lingering conf
    conf["instance"] = INSTANCE
    # Whole second: the run's data-interval end is the instant checked, like a scheduled run's.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return dq_dag.test(run_conf=conf, logical_date=now)


def assert_checks(run: Any, sandbox, *, failing: str | None) -> dict:
    states = task_states(run)
    assert {c: states[c] for c in CHECKS} == {c: "failed" if c == failing else "success" for c in CHECKS}, states
    assert states["publish"] == "success", states
    metrics = pushed_metrics(sandbox.pushgateway_url, INSTANCE)
    assert check_success(metrics) == {c: 0.0 if c == failing else 1.0 for c in CHECKS}
    return metrics


def wait_for_instance_alerts(sandbox, wanted: set[tuple[str, str]], *, timeout_s: float = 90.0) -> set:
    """Poll /api/v1/alerts until the firing alerts of INSTANCE (alertname, detail label) equal ``wanted``."""
    deadline = time.monotonic() + timeout_s
    while True:
        firing = {(a["labels"]["alertname"], a["labels"].get("check") or a["labels"].get("commodity_code")
                   or a["labels"].get("source") or "")
                  for a in firing_alerts(sandbox.prometheus_url) if a["labels"].get("instance") == INSTANCE}
        if firing == wanted or time.monotonic() > deadline:
            return firing
        time.sleep(1.0)


def test_warm_up_writes_an_hour_of_every_table(feed, sandbox) -> None:
    since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=65)
    per_code = dict(sandbox.query("SELECT commodity_code, COUNT(*) FROM energy_prices_rt WHERE event_time >= %s "
                                  "GROUP BY commodity_code", [since]))
    assert set(per_code) == set(feed.codes)
    assert all(n > 65 * 60 * feed.ticks_per_second * 0.8 for n in per_code.values()), per_code
    (bars,), = sandbox.query("SELECT COUNT(*) FROM price_1min_agg WHERE bar_start >= %s", [since])
    assert bars >= 62 * len(feed.codes)  # every closed minute since (63 or 64 of them, by the seconds)
    (signals,), = sandbox.query("SELECT COUNT(*) FROM trading_signals WHERE signal_time >= %s", [since])
    assert signals >= 62 * len(feed.codes)
    (weather,), = sandbox.query("SELECT COUNT(*) FROM weather_events_rt WHERE event_time >= %s", [since])
    assert weather >= 12 * len(lf.WEATHER_STATIONS)
    alerts = sandbox.query("SELECT alert_type, price_change_pct, ingest_time - alert_time FROM market_alerts")
    assert len(alerts) >= 1 and all(abs(pct) > 5 for _, pct, _ in alerts), alerts


def test_healthy_live_sandbox_is_green_with_the_default_params(feed, dq_dag, sandbox) -> None:
    run = run_dq_now(dq_dag)
    metrics = assert_checks(run, sandbox, failing=None)
    assert str(run.state) == "success"
    assert metrics[("streaming_dq_window_ticks", ())] > 50 * 60 * len(feed.codes)
    assert 0 < metrics[("streaming_dq_ingest_latency_p95_seconds", (("table", "energy_prices_rt"),))] <= 1
    assert wait_for_instance_alerts(sandbox, set()) == set()


def wait_until_fresh(feed: LiveFeed, sandbox, *, timeout_s: float = 120.0) -> None:
    """After a stale feed resumes, its bars are fresh again once the next minute closed (<= ~70 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=150)
        fresh = {code for (code,) in sandbox.query(
            "SELECT DISTINCT commodity_code FROM price_1min_agg WHERE bar_start >= %s", [since])}
        if fresh >= set(feed.codes):
            return
        time.sleep(2.0)
    raise AssertionError(f"bars of {set(feed.codes) - fresh} not fresh {timeout_s:.0f} s after clear")


@pytest.mark.parametrize(("kind", "args", "failing", "alerts"), [
    ("corrupt-bar", {"commodity": "BRENT"}, "ohlc_correctness",
     {("StreamingDataQualityCheckFailed", "ohlc_correctness"), ("StreamingOhlcMismatch", "")}),
    ("invalid-ticks", {}, "error_rate",
     {("StreamingDataQualityCheckFailed", "error_rate"), ("StreamingHighErrorRate", "ticks")}),
    ("stale-feed", {"commodity": "WTI"}, "freshness",
     {("StreamingDataQualityCheckFailed", "freshness"), ("StreamingDataDelayed", "WTI")}),
])
def test_a_fault_turns_its_check_red_and_fires_its_alert(feed, dq_dag, sandbox, kind: str, args: dict,
                                                        failing: str, alerts: set) -> None:
    answer = request_fault(sandbox.root, kind, **args)
    assert answer["kind"] == kind
    try:
        run = run_dq_now(dq_dag)
        metrics = assert_checks(run, sandbox, failing=failing)
        assert str(run.state) == "failed"
        assert wait_for_instance_alerts(sandbox, alerts) == alerts
        if kind == "stale-feed":
            lag = metrics[("streaming_dq_freshness_lag_seconds", (("commodity_code", "WTI"),
                                                                  ("table", "energy_prices_rt")))]
            assert lag > 300
        elif kind == "corrupt-bar":
            assert metrics[("streaming_dq_ohlc_problem_bars", (("kind", "differing"),))] == 1
        else:
            assert metrics[("streaming_dq_error_rate", (("source", "ticks"),))] > 0.01
    finally:
        request_fault(sandbox.root, "clear")
        if kind == "stale-feed":
            wait_until_fresh(feed, sandbox)


def test_clear_heals_and_the_alerts_resolve(feed, dq_dag, sandbox) -> None:
    request_fault(sandbox.root, "stale-feed")  # every commodity
    request_fault(sandbox.root, "corrupt-bar")
    request_fault(sandbox.root, "invalid-ticks", share=0.05)
    cleared = request_fault(sandbox.root, "clear")
    assert cleared["was"]["stale-feed"] == "all" and cleared["invalid_ticks_removed"] > 0
    wait_until_fresh(feed, sandbox)
    run = run_dq_now(dq_dag)
    # The stale minutes of every commodity have neither ticks nor bars: consistent, and fresh again.
    assert_checks(run, sandbox, failing=None)
    assert wait_for_instance_alerts(sandbox, set()) == set()
    assert feed.stats["step_errors"] == 0


def test_dev_fault_status_reaches_the_running_feed_from_another_process(feed, sandbox) -> None:
    """``./dev fault`` is a separate process: it finds the feed through the sandbox folder alone."""
    import json
    import subprocess

    from commodity_platform.paths import PROJECT_ROOT

    proc = subprocess.run([str(PROJECT_ROOT / "dev"), "fault", "status", "--sandbox", sandbox.name],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["running"] is True and status["commodities"] == feed.codes
    assert status["faults"] == {"stale-feed": [], "invalid-ticks": {"live_share": 0.0, "since": None},
                                "corrupt-bar": []}


def test_ticks_older_than_the_retention_are_pruned(feed, sandbox) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    old, kept = now - lf.TICK_RETENTION - timedelta(hours=1), now - lf.TICK_RETENTION + timedelta(hours=1)
    for at in (old, kept):
        sandbox.query("INSERT INTO energy_prices_rt (commodity_code, event_time, price, volume) "
                      "VALUES ('PRUNE_TEST', %s, 1, 1)", [at])
    try:
        feed._next_prune = now  # due now instead of within the hour
        deadline = time.monotonic() + 30
        while feed._next_prune <= now and time.monotonic() < deadline:
            time.sleep(0.5)
        left = [t for (t,) in sandbox.query(
            "SELECT event_time FROM energy_prices_rt WHERE commodity_code = 'PRUNE_TEST'")]
        assert left == [kept]
        assert feed.stats["pruned_ticks"] >= 1
    finally:
        sandbox.query("DELETE FROM energy_prices_rt WHERE commodity_code = 'PRUNE_TEST'")

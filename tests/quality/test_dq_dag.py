"""streaming_data_quality end to end on the sandbox: real MariaDB, real Pushgateway, real Prometheus.

Each fault is injected into otherwise clean data and must fail exactly its own check, both as a task
state and as the pushed metric read back from the Pushgateway.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from sandbox.ticks import corrupt_bar, delete_bar
from tests.dag_runs import task_states
from tests.quality.conftest import AS_OF, check_success, insert_invalid_ticks, lay_out_clean_data, pushed_metrics

pytestmark = pytest.mark.sandbox

CHECK_TASKS = ("freshness", "error_rate", "ohlc_correctness")


def assert_only_failing(run, sandbox, instance: str, failing: str | None) -> dict:
    states = task_states(run)
    expected = {c: ("failed" if c == failing else "success") for c in CHECK_TASKS}
    assert {c: states[c] for c in CHECK_TASKS} == expected, states
    assert states["publish"] == "success", states
    assert str(run.state) == ("failed" if failing else "success")
    metrics = pushed_metrics(sandbox.pushgateway_url, instance)
    assert check_success(metrics) == {c: (0.0 if c == failing else 1.0) for c in CHECK_TASKS}
    assert metrics[("streaming_dq_last_run_timestamp_seconds", ())] > time.time() - 600
    return metrics


def test_clean_data_passes_every_check(clean_data, run_dq, sandbox) -> None:
    run = run_dq("pytest-clean")
    metrics = assert_only_failing(run, sandbox, "pytest-clean", None)
    assert metrics[("streaming_dq_ohlc_mismatched_bars", ())] == 0
    assert metrics[("streaming_dq_error_rate", (("source", "ticks"),))] == 0
    # 3 codes x 60 minutes x 6 ticks in the default window [10:58, 11:58)
    assert metrics[("streaming_dq_window_ticks", ())] == 3 * 60 * 6
    lag = metrics[("streaming_dq_freshness_lag_seconds", (("commodity_code", "WTI"), ("table", "energy_prices_rt")))]
    assert 0 <= lag < 60
    assert 0 < metrics[("streaming_dq_ingest_latency_p95_seconds", (("table", "energy_prices_rt"),))] < 1


def test_a_scheduled_run_without_as_of_evaluates_at_its_data_interval_end(clean_data, run_dq, sandbox) -> None:
    """The scheduled path: no as_of in the conf, so the run's data-interval end (a pendulum DateTime from
    Airflow) is the instant evaluated; on clean data laid out for AS_OF every check passes."""
    run = run_dq("pytest-scheduled", as_of=None, logical_date=AS_OF.replace(tzinfo=timezone.utc))

    assert run.data_interval_end.replace(tzinfo=None) == AS_OF
    metrics = assert_only_failing(run, sandbox, "pytest-scheduled", None)
    assert metrics[("streaming_dq_window_ticks", ())] == 3 * 60 * 6


def test_stale_commodity_fails_freshness_only(dq_conn, run_dq, sandbox) -> None:
    lay_out_clean_data(dq_conn, stale={"HENRY_HUB": datetime(2026, 3, 1, 11, 50)})
    run = run_dq("pytest-stale")
    metrics = assert_only_failing(run, sandbox, "pytest-stale", "freshness")
    key = ("streaming_dq_freshness_lag_seconds", (("commodity_code", "HENRY_HUB"), ("table", "energy_prices_rt")))
    assert metrics[key] > 300
    fresh = ("streaming_dq_freshness_lag_seconds", (("commodity_code", "WTI"), ("table", "energy_prices_rt")))
    assert metrics[fresh] < 60


def test_corrupted_bar_fails_ohlc_only(clean_data, run_dq, sandbox) -> None:
    corrupt_bar(clean_data, "WTI", datetime(2026, 3, 1, 11, 30), column="close_price", delta="0.25")
    run = run_dq("pytest-corrupt")
    metrics = assert_only_failing(run, sandbox, "pytest-corrupt", "ohlc_correctness")
    assert metrics[("streaming_dq_ohlc_mismatched_bars", ())] == 1
    assert metrics[("streaming_dq_ohlc_problem_bars", (("kind", "differing"),))] == 1
    assert metrics[("streaming_dq_ohlc_problem_bars", (("kind", "missing"),))] == 0


def test_missing_bar_fails_ohlc_only(clean_data, run_dq, sandbox) -> None:
    delete_bar(clean_data, "BRENT", datetime(2026, 3, 1, 11, 20))
    run = run_dq("pytest-missing")
    metrics = assert_only_failing(run, sandbox, "pytest-missing", "ohlc_correctness")
    assert metrics[("streaming_dq_ohlc_mismatched_bars", ())] == 1
    assert metrics[("streaming_dq_ohlc_problem_bars", (("kind", "missing"),))] == 1


def test_invalid_ticks_over_threshold_fail_error_rate_only(clean_data, run_dq, sandbox) -> None:
    insert_invalid_ticks(clean_data, datetime(2026, 3, 1, 11, 40, 1), 50)
    run = run_dq("pytest-invalid")
    metrics = assert_only_failing(run, sandbox, "pytest-invalid", "error_rate")
    assert metrics[("streaming_dq_invalid_ticks", ())] == 50
    assert metrics[("streaming_dq_error_rate", (("source", "ticks"),))] == pytest.approx(50 / (3 * 60 * 6 + 50))


def test_invalid_ticks_under_threshold_pass(clean_data, run_dq, sandbox) -> None:
    insert_invalid_ticks(clean_data, datetime(2026, 3, 1, 11, 40, 1), 5)
    run = run_dq("pytest-invalid-few", invalid_tick_rate_max=0.01)
    metrics = assert_only_failing(run, sandbox, "pytest-invalid-few", None)
    assert metrics[("streaming_dq_invalid_ticks", ())] == 5


def test_results_are_saved_and_the_report_written(clean_data, run_dq, sandbox, tmp_path) -> None:
    delete_bar(clean_data, "WTI", datetime(2026, 3, 1, 11, 0))
    run = run_dq("pytest-history")
    cur = clean_data.cursor()
    cur.execute("SELECT check_name, status, report_path FROM dq_results WHERE run_id = %s", (run.run_id,))
    rows = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    assert {c: s for c, (s, _) in rows.items()} == {"freshness": "pass", "error_rate": "pass",
                                                    "ohlc_correctness": "fail"}
    report = rows["ohlc_correctness"][1]
    assert report.startswith(str(tmp_path))
    html = Path(report).read_text(encoding="utf-8")
    assert "ohlc_correctness" in html and "missing" in html and "2026-03-01 11:00:00" in html


def test_failing_push_fires_the_alert_in_prometheus(clean_data, run_dq, sandbox) -> None:
    """The sandbox Prometheus scrapes the Pushgateway every 5 s and evaluates the repository's rules."""
    corrupt_bar(clean_data, "BRENT", datetime(2026, 3, 1, 11, 10), column="high_price", delta="1")
    run_dq("pytest-e2e")
    deadline = time.monotonic() + 90
    firing: list[dict] = []
    while time.monotonic() < deadline:
        alerts = httpx.get(f"{sandbox.prometheus_url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        firing = [a for a in alerts if a["state"] == "firing" and a["labels"].get("instance") == "pytest-e2e"]
        names = {(a["labels"]["alertname"], a["labels"].get("check")) for a in firing}
        if {("StreamingDataQualityCheckFailed", "ohlc_correctness"), ("StreamingOhlcMismatch", None)} <= names:
            break
        time.sleep(1)
    names = {(a["labels"]["alertname"], a["labels"].get("check")) for a in firing}
    assert ("StreamingDataQualityCheckFailed", "ohlc_correctness") in names, firing
    assert ("StreamingOhlcMismatch", None) in names, firing
    # the passing checks raise nothing
    assert ("StreamingDataQualityCheckFailed", "freshness") not in names


def test_unreachable_pushgateway_fails_publish_after_retries_with_results_saved(clean_data, warehouse,
                                                                               monkeypatch, caplog) -> None:
    import json

    from commodity_platform.errors import TemporaryError
    from commodity_platform.quality.settings import settings_from_params
    from commodity_platform.quality.tasks import publish, run_checks
    from sandbox.services import free_port

    settings = settings_from_params({"as_of": "2026-03-01T12:00:30Z", "freshness_tables": {"energy_prices_rt": 300},
                                     "instance": "pytest-down"},
                                    run_id=f"pytest-down-{time.time_ns()}", default_as_of=AS_OF)
    run_checks(settings, checks=("freshness",))
    # a port nobody listens on: connection refused, a transient error
    monkeypatch.setenv("AIRFLOW_CONN_PUSHGATEWAY_DEFAULT",
                       json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": free_port(), "schema": "http"}))
    with pytest.raises(TemporaryError, match="Pushgateway unreachable"):
        publish(settings, push_attempts=3, push_backoff_s=0.01)
    assert "attempt 1/3" in caplog.text and "attempt 2/3" in caplog.text
    cur = clean_data.cursor()
    cur.execute("SELECT check_name, status FROM dq_results WHERE run_id = %s", (settings.run_id,))
    assert cur.fetchall() == (("freshness", "pass"),)
    assert settings.report_path.exists()  # written before the push


def test_history_recheck_uses_as_of_and_window(clean_data, run_dq, sandbox) -> None:
    """Re-checking an explicit past window: only bars in [start, end) are compared."""
    delete_bar(clean_data, "WTI", datetime(2026, 3, 1, 10, 52))
    run = run_dq("pytest-window", start="2026-03-01T11:00:00Z", end="2026-03-01T11:30:00Z")
    assert_only_failing(run, sandbox, "pytest-window", None)
    run = run_dq("pytest-window", start="2026-03-01T10:50:00Z", end="2026-03-01T11:00:00Z")
    assert_only_failing(run, sandbox, "pytest-window", "ohlc_correctness")
    assert timedelta(0) < AS_OF - datetime(2026, 3, 1, 11, 0)

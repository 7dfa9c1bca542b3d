"""The ohlc_backfill DAG run for real with dag.test() against the sandbox warehouse.

Several dag.test() calls share one DAG object in this process and an earlier run's conf can linger in
its params, so every run states its full conf explicitly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sandbox.ticks import Faults, generate_ticks, load_ticks
from tests.dag_runs import task_states
from tests.ohlc.reference import assert_bars_match, reference_bars, stored_bars

pytestmark = pytest.mark.sandbox

START, END = datetime(2031, 5, 1, 23, 0), datetime(2031, 5, 2, 1, 0)


def conf(**overrides: Any) -> dict[str, Any]:
    base = {"start": "2031-05-01T23:00:00Z", "end": "2031-05-02T01:00:00Z", "commodity_codes": None,
            "max_span_days": 31, "chunk_minutes": 1440, "parallel_workers": 0}
    return {**base, **overrides}


def asset_events(run) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_dag_id == run.dag_id,
                                                  AssetEvent.source_run_id == run.run_id).all()
        return [dict(e.extra or {}) for e in events]


@pytest.fixture
def ticks(db):
    generated = generate_ticks(START, END, n_ticks=6_000, commodities=["WTI", "BRENT", "HENRY_HUB"],
                               faults=Faults(invalid=0.02, duplicate_ts=0.03, late=0.02), seed=21)
    load_ticks(db, generated)
    return generated


def test_dag_rebuilds_the_window_verifies_and_emits_the_asset(dagbag, airflow_db, db, ticks) -> None:
    dag = dagbag.get_dag("ohlc_backfill")

    run = dag.test(run_conf=conf())

    assert str(run.state) == "success", task_states(run, tries=True)
    assert_bars_match(stored_bars(db), reference_bars(ticks.rows(), START, END))
    (extra,) = asset_events(run)
    assert extra["start"] == "2031-05-01T23:00:00Z" and extra["end"] == "2031-05-02T01:00:00Z"
    assert extra["bars_written"] == len(reference_bars(ticks.rows(), START, END))
    # parallel_workers 0: the machine's cores on the sandbox, so the default run is sharded when it has two.
    report = run.get_task_instance("rebuild_bars").xcom_pull(task_ids="rebuild_bars")
    cores = min(os.cpu_count() or 1, 32)
    # 2 day chunks (one hour each), each cut into ceil(cores / 2) time slices so that every worker has one.
    assert report["workers"] == cores and report["shards"] == 2 * -(-cores // 2)


def test_dag_with_commodity_codes_and_a_second_run_changing_nothing(dagbag, airflow_db, db, ticks) -> None:
    dag = dagbag.get_dag("ohlc_backfill")
    first = dag.test(run_conf=conf(commodity_codes=["WTI"], chunk_minutes=60))
    assert str(first.state) == "success", task_states(first, tries=True)
    assert {k[0] for k in stored_bars(db)} == {"WTI"}
    before = stored_bars(db)

    second = dag.test(run_conf=conf(commodity_codes=["WTI"], chunk_minutes=60))

    assert str(second.state) == "success", task_states(second, tries=True)
    assert stored_bars(db) == before


def test_the_airflow_dags_test_command_of_the_issue(airflow_db, db, ticks) -> None:
    """``airflow dags test ohlc_backfill -c '{"start": ..., "end": ...}'`` in a fresh process (real CLI)."""
    window = {"start": "2031-05-01T23:00:00Z", "end": "2031-05-02T00:00:00Z"}
    proc = subprocess.run([str(Path(sys.executable).with_name("airflow")), "dags", "test", "ohlc_backfill",
                           "-c", json.dumps(window)],
                          env=os.environ.copy(), capture_output=True, text=True, timeout=600)

    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_bars_match(stored_bars(db), reference_bars(ticks.rows(), START, datetime(2031, 5, 2, 0, 0)))


@pytest.mark.parametrize("bad", [
    {"end": "2031-05-01T22:00:00Z"},
    {"start": "2031-05-01T23:00:30Z"},
    {"end": "2031-07-01T00:00:00Z"},
    {"commodity_codes": ["NOT_A_CODE"]},
], ids=["end-before-start", "not-aligned", "span-over-31-days", "unknown-code"])
def test_bad_conf_fails_at_once_without_retry_and_writes_nothing(dagbag, airflow_db, db, ticks, bad) -> None:
    dag = dagbag.get_dag("ohlc_backfill")

    run = dag.test(run_conf=conf(**bad))

    states = task_states(run, tries=True)
    assert str(run.state) == "failed"
    assert states["resolve_window"] == ("failed", 1), states
    assert states["rebuild_bars"][0] == "upstream_failed"
    assert stored_bars(db) == {}


def test_backfill_ranges_map_to_hourly_windows_and_a_run_without_window_rebuilds_its_interval(
        dagbag, airflow_db, db) -> None:
    """What ``airflow backfill create`` relies on: the DAG's schedule has real hourly data intervals (an
    Airflow 3 cron schedule alone would give start == end), and a run without start/end rebuilds exactly
    its data interval. (Backfills refuse future dates, hence ticks in the past here.)"""
    from airflow.models.backfill import ReprocessBehavior, _do_dry_run
    from airflow.utils.session import create_session

    utc = timezone.utc
    first_hour, last_hour = datetime(2026, 1, 1, 22, 0), datetime(2026, 1, 2, 2, 0)
    ticks = generate_ticks(first_hour, last_hour, n_ticks=4_000, commodities=["WTI", "BRENT"],
                           faults=Faults(invalid=0.02, duplicate_ts=0.03), seed=7)
    load_ticks(db, ticks)
    dag = dagbag.get_dag("ohlc_backfill")

    # A manual run at 01:00 has the last complete hour, [00:00, 01:00), as its data interval.
    run = dag.test(logical_date=datetime(2026, 1, 2, 1, 0, tzinfo=utc),
                   run_conf=conf(start=None, end=None))

    assert str(run.state) == "success", task_states(run, tries=True)
    interval = (datetime(2026, 1, 2, 0, 0), datetime(2026, 1, 2, 1, 0))
    assert (run.data_interval_start.replace(tzinfo=None), run.data_interval_end.replace(tzinfo=None)) == interval
    expected = reference_bars(ticks.rows(), *interval)
    assert len(expected) > 60  # both codes, most minutes of the hour
    assert_bars_match(stored_bars(db), expected)  # all stored bars: nothing outside the interval was written
    # Airflow's own backfill planner (what `airflow backfill create --dry-run` prints) on the DAG as the
    # scheduler sees it: one run per hour, each with that hour as its data interval.
    with create_session() as session:
        planned = list(_do_dry_run(dag_id="ohlc_backfill", from_date=datetime(2026, 1, 1, 23, tzinfo=utc),
                                   to_date=datetime(2026, 1, 2, 1, tzinfo=utc), reverse=False,
                                   reprocess_behavior=ReprocessBehavior.COMPLETED, session=session))
    assert [(i.data_interval.start.replace(tzinfo=None), i.data_interval.end.replace(tzinfo=None))
            for i in planned] == [(datetime(2026, 1, 1, 23), datetime(2026, 1, 2, 0)),
                                  (datetime(2026, 1, 2, 0), datetime(2026, 1, 2, 1)),
                                  (datetime(2026, 1, 2, 1), datetime(2026, 1, 2, 2))]

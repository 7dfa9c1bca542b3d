"""``airflow backfill create`` over three hours of ohlc_backfill, run by the real scheduler, and rebuilding
hours that already ran (``--reprocess-behavior completed``), as the README tells operators to do."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from sandbox.live_airflow import airflow_bin
from tests.dag_runs import task_states
from tests.e2e.conftest import E2E_DATABASE
from tests.ohlc.reference import assert_bars_match, reference_bars, stored_bars

pytestmark = pytest.mark.sandbox

START = datetime(2026, 6, 1, 0, 0)
END = START + timedelta(hours=3)
# The CLI takes the logical dates of the runs, both inclusive; hourly data intervals start on the hour.
FROM_DATE, TO_DATE = "2026-06-01T00:00:00+00:00", "2026-06-01T02:00:00+00:00"
BACKFILL_CREATE = ("backfill", "create", "--dag-id", "ohlc_backfill", "--from-date", FROM_DATE, "--to-date", TO_DATE)


def _backfill(airflow: Any, *extra: str) -> str:
    """``airflow backfill create`` for the three hours, run once as a user would; it must succeed.

    (On the SQLite metadata DB the sandbox used before, a write colliding with the four components' could
    fail with "database is locked" and leave a half-created backfill: apache/airflow#68699.)
    """
    proc = airflow.airflow_cli(*BACKFILL_CREATE, *extra)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def _wait_backfill_completed(airflow: Any, *, timeout: float = 400.0) -> dict[str, Any]:
    """The newest backfill of ohlc_backfill once the scheduler marked it completed (all its runs done)."""
    deadline = time.monotonic() + timeout
    while True:
        backfills = airflow.get("/api/v2/backfills", params={"dag_id": "ohlc_backfill"})["backfills"]
        newest = max(backfills, key=lambda b: b["id"])
        if newest["completed_at"]:
            return newest
        assert time.monotonic() < deadline, f"backfill {newest} not completed after {timeout:.0f} s"
        time.sleep(2)


def _backfill_runs(airflow: Any) -> dict[str, dict[str, Any]]:
    return {r["logical_date"][:19]: r for r in airflow.dag_runs("ohlc_backfill", run_type=["backfill"])}


def test_backfill_create_rebuilds_three_hours_and_reprocesses_completed_ones(migrated, sandbox, e2e_query,
                                                                            load_e2e_ticks) -> None:
    airflow = migrated
    ticks = load_e2e_ticks(START, END, n_ticks=12_000, commodities=3, seed=21)
    expected = reference_bars(ticks.rows(), START, END)

    plan = _backfill(airflow, "--dry-run")
    assert all(f"2026-06-01 0{hour}:00:00+00:00" in plan for hour in (0, 1, 2)), plan
    assert "2026-06-01 03:00:00" not in plan, plan

    airflow.set_paused("ohlc_backfill", False)
    _backfill(airflow)
    _wait_backfill_completed(airflow)
    runs = _backfill_runs(airflow)
    assert sorted(runs) == ["2026-06-01T00:00:00", "2026-06-01T01:00:00", "2026-06-01T02:00:00"]
    assert {r["state"] for r in runs.values()} == {"success"}, runs
    for run in runs.values():  # each run rebuilt exactly its own data interval
        window = airflow.xcom("ohlc_backfill", run["dag_run_id"], "resolve_window")
        assert (window["start"][:19], window["end"][:19]) == (run["data_interval_start"][:19],
                                                              run["data_interval_end"][:19]), window
    conn = sandbox.mysql_connect(E2E_DATABASE)
    try:
        assert_bars_match(stored_bars(conn, START, END), expected)
    finally:
        conn.close()

    # The README's way next to ./dev ui: the CLI given only AIRFLOW_HOME reaches the same metadata DB (its
    # airflow.cfg names the private PostgreSQL), so it sees these runs and would skip them.
    plain = subprocess.run([str(airflow_bin()), *BACKFILL_CREATE, "--dry-run"], capture_output=True, text=True,
                           timeout=300, env={"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/bin:/bin",
                                             "AIRFLOW_HOME": str(airflow.home)})
    assert plain.returncode == 0, (plain.stdout + plain.stderr)[-3000:]
    # (A CLI on a metadata DB of its own would not know the DAG and fail.) The three hours have runs now, so
    # the dry run, which listed all three above, lists none.
    assert "2026-06-01" not in plain.stdout.split("Runs to be attempted:")[1], plain.stdout

    # A bar of the second hour goes bad after its run succeeded.
    (code, bar_start), _ = sorted(expected.items())[len(expected) // 2]
    assert START + timedelta(hours=1) <= bar_start < START + timedelta(hours=2)
    e2e_query("UPDATE price_1min_agg SET close_price = close_price * 1.07 WHERE commodity_code = %s "
              "AND bar_start = %s", [code, bar_start])
    before = {key: (r["dag_run_id"], r["end_date"]) for key, r in runs.items()}

    # Without --reprocess-behavior the completed hours are skipped: nothing runs, the bar stays wrong.
    _backfill(airflow)
    _wait_backfill_completed(airflow)
    assert {key: (r["dag_run_id"], r["end_date"]) for key, r in _backfill_runs(airflow).items()} == before
    ((close,),) = e2e_query("SELECT close_price FROM price_1min_agg WHERE commodity_code = %s AND bar_start = %s",
                            [code, bar_start])
    assert close != expected[(code, bar_start)]["close_price"]

    # With it, the three completed runs are cleared and run again: the bar is rebuilt from its ticks.
    _backfill(airflow, "--reprocess-behavior", "completed")
    _wait_backfill_completed(airflow)
    rerun = _backfill_runs(airflow)
    assert {key: r["dag_run_id"] for key, r in rerun.items()} == {key: v[0] for key, v in before.items()}
    assert all(rerun[key]["end_date"] != before[key][1] for key in rerun), (rerun, before)
    assert {r["state"] for r in rerun.values()} == {"success"}
    for run in rerun.values():  # cleared and run again: a second try of every task
        states = task_states(airflow.task_instances("ohlc_backfill", run["dag_run_id"]), tries=True)
        assert set(states.values()) == {("success", 2)}, states
    conn = sandbox.mysql_connect(E2E_DATABASE)
    try:
        assert_bars_match(stored_bars(conn, START, END), expected)
    finally:
        conn.close()

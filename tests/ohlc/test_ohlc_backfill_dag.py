"""The ohlc_backfill DAG run for real with dag.test() against the sandbox warehouse.

Several dag.test() calls share one DAG object in this process and an earlier run's conf can linger in
its params, so every run states its full conf explicitly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from commodity_platform.ohlc.generate import Faults, generate_ticks, load_ticks
from tests.ohlc.reference import assert_bars_match, reference_bars, stored_bars

pytestmark = pytest.mark.sandbox

START, END = datetime(2031, 5, 1, 23, 0), datetime(2031, 5, 2, 1, 0)


def conf(**overrides: Any) -> dict[str, Any]:
    base = {"start": "2031-05-01T23:00:00Z", "end": "2031-05-02T01:00:00Z", "commodity_codes": None,
            "max_span_days": 31, "chunk_minutes": 1440}
    return {**base, **overrides}


def task_states(run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}


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

    assert str(run.state) == "success", task_states(run)
    assert_bars_match(stored_bars(db), reference_bars(ticks.rows(), START, END))
    (extra,) = asset_events(run)
    assert extra["start"] == "2031-05-01T23:00:00Z" and extra["end"] == "2031-05-02T01:00:00Z"
    assert extra["bars_written"] == len(reference_bars(ticks.rows(), START, END))


def test_dag_with_commodity_codes_and_a_second_run_changing_nothing(dagbag, airflow_db, db, ticks) -> None:
    dag = dagbag.get_dag("ohlc_backfill")
    first = dag.test(run_conf=conf(commodity_codes=["WTI"], chunk_minutes=60))
    assert str(first.state) == "success", task_states(first)
    assert {k[0] for k in stored_bars(db)} == {"WTI"}
    before = stored_bars(db)

    second = dag.test(run_conf=conf(commodity_codes=["WTI"], chunk_minutes=60))

    assert str(second.state) == "success", task_states(second)
    assert stored_bars(db) == before


@pytest.mark.parametrize("bad", [
    {"end": "2031-05-01T22:00:00Z"},
    {"start": "2031-05-01T23:00:30Z"},
    {"end": "2031-07-01T00:00:00Z"},
    {"commodity_codes": ["NOT_A_CODE"]},
], ids=["end-before-start", "not-aligned", "span-over-31-days", "unknown-code"])
def test_bad_conf_fails_at_once_without_retry_and_writes_nothing(dagbag, airflow_db, db, ticks, bad) -> None:
    dag = dagbag.get_dag("ohlc_backfill")

    run = dag.test(run_conf=conf(**bad))

    states = task_states(run)
    assert str(run.state) == "failed"
    assert states["resolve_window"] == ("failed", 1), states
    assert states["rebuild_bars"][0] == "upstream_failed"
    assert stored_bars(db) == {}

"""Fixtures for the data-quality tests: a clean synthetic dataset in the sandbox warehouse, a dag.test
runner that always states its conf, and read-back of what really reached the Pushgateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from sandbox.services import DORIS_DATABASE
from sandbox.ticks import Faults, generate_ticks, load_ticks, materialize_bars, wipe

#: The instant every scenario is evaluated at; data is laid out relative to it.
AS_OF = datetime(2026, 3, 1, 12, 0, 30)
AS_OF_ISO = "2026-03-01T12:00:30Z"
DATA_START = datetime(2026, 3, 1, 10, 50)
CODES = ("WTI", "BRENT", "HENRY_HUB")
#: Default window for AS_OF: the 60 minutes that closed settle_seconds (120 s) before it.
WINDOW_START, WINDOW_END = datetime(2026, 3, 1, 10, 58), datetime(2026, 3, 1, 11, 58)
FRESHNESS_TABLES = {"energy_prices_rt": 300, "price_1min_agg": 360}


#: Valid ticks per code in every minute (the tests count a window's ticks: 3 codes x 60 minutes x 6).
TICKS_PER_MINUTE = 6


def lay_out_clean_data(conn: Any, *, stale: dict[str, datetime] | None = None) -> None:
    """TICKS_PER_MINUTE valid ticks a minute for each of CODES from DATA_START up to AS_OF (a code in
    ``stale`` stops at its datetime), from the sandbox's tick generator, and the bars the shared definition
    derives from them."""
    wipe(conn)
    end = AS_OF.replace(second=0) + timedelta(minutes=1)
    load_ticks(conn, generate_ticks(DATA_START, end, per_minute=TICKS_PER_MINUTE, commodities=list(CODES), seed=7),
               method="insert")
    cur = conn.cursor()
    cur.execute("DELETE FROM energy_prices_rt WHERE event_time > %s", (AS_OF,))
    for code, stops in (stale or {}).items():
        cur.execute("DELETE FROM energy_prices_rt WHERE commodity_code = %s AND event_time >= %s", (code, stops))
    cur.close()
    materialize_bars(conn, DATA_START, end)


def insert_invalid_ticks(conn: Any, at: datetime, count: int, *, seed: int = 11) -> None:
    """``count`` ticks in the minute from ``at`` that the bar definition ignores (the generator's invalid
    kinds: NULL/zero/negative price, NULL/negative volume, NULL/empty code)."""
    ticks = generate_ticks(at, at + timedelta(minutes=1), n_ticks=count, commodities=["WTI"],
                           faults=Faults(invalid=1.0), quiet_fraction=0.0, seed=seed)
    load_ticks(conn, ticks, method="insert")


@pytest.fixture
def dq_conn(warehouse):
    conn = warehouse.mysql_connect(DORIS_DATABASE)
    yield conn
    conn.close()


@pytest.fixture
def clean_data(dq_conn) -> Any:
    lay_out_clean_data(dq_conn)
    return dq_conn


@pytest.fixture(scope="session")
def dq_dag(dagbag):
    dag = dagbag.get_dag("streaming_data_quality")
    assert dag is not None, dagbag.import_errors
    return dag


@pytest.fixture
def run_dq(dq_dag, airflow_db, tmp_path, monkeypatch) -> Callable[..., Any]:
    """Run the DAG with dag.test(); the conf is always complete (an earlier run's params can linger)."""
    from commodity_platform.quality.settings import REPORT_BASE_ENV

    monkeypatch.setenv(REPORT_BASE_ENV, str(tmp_path))  # reports must go under the configured base

    def run(instance: str, *, logical_date: datetime | None = None, **overrides: Any) -> Any:
        conf = {
            "as_of": AS_OF_ISO,
            "start": None,
            "end": None,
            "freshness_tables": FRESHNESS_TABLES,
            "invalid_tick_rate_max": 0.01,
            "ohlc_tolerance": 1e-6,
            "examples": 5,
            "instance": instance,
            "report_dir": str(tmp_path / "reports"),
            **overrides,
        }
        if logical_date is None:
            return dq_dag.test(run_conf=conf)
        return dq_dag.test(run_conf=conf, logical_date=logical_date)

    return run


def pushed_metrics(pushgateway_url: str, instance: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples the Pushgateway serves for job streaming_data_quality / ``instance``, from its /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{pushgateway_url}/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("job") == "streaming_data_quality" and s.labels.get("instance") == instance:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("job", "instance")))
                samples[(s.name, labels)] = s.value
    return samples


def check_success(metrics: dict) -> dict[str, float]:
    return {dict(labels)["check"]: value for (name, labels), value in metrics.items()
            if name == "streaming_dq_check_success"}

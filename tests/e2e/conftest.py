"""The end-to-end fixture: one real Airflow for the session, started by the code ``./dev ui`` runs.

``LiveAirflow`` (api-server, scheduler with LocalExecutor, dag-processor, triggerer on free loopback ports)
on the session's sandbox services and both API emulators, with its own ``AIRFLOW_HOME`` under
``.sandbox/pytest-<pid>/live-airflow``. Its DAGs use their own warehouse database (``commodity_e2e``) so the
runs the scheduler makes do not touch the data of the other tests of the session. The data-quality DAG
runs every minute here (``STREAMING_DQ_SCHEDULE``) so a scheduled run happens within the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from sandbox.emulators import Emulators
from sandbox.live_airflow import PROJECT_DAG_IDS, LiveAirflow
from sandbox.services import Sandbox

E2E_DATABASE = "commodity_e2e"
DQ_SCHEDULE = "* * * * *"


@pytest.fixture(scope="session")
def emulators(sandbox: Sandbox) -> Iterator[Emulators]:
    with Emulators(sandbox.root / "emulators") as both:
        yield both


@pytest.fixture(scope="session")
def live_airflow(sandbox: Sandbox, emulators: Emulators) -> Iterator[LiveAirflow]:
    sandbox.drop_database(E2E_DATABASE)
    began = time.monotonic()
    with LiveAirflow(sandbox, emulators, home=sandbox.root / "live-airflow", doris_database=E2E_DATABASE,
                     extra_env={"STREAMING_DQ_SCHEDULE": DQ_SCHEDULE}) as airflow:
        print(f"\nlive Airflow {airflow.url} ready in {time.monotonic() - began:.1f} s (home {airflow.home})")
        yield airflow
        # Nothing scheduled keeps running while the rest of the session's tests use the sandbox.
        for dag_id in PROJECT_DAG_IDS:
            airflow.set_paused(dag_id, True)


@pytest.fixture
def e2e_query(sandbox: Sandbox):
    """Run SQL in the end-to-end warehouse database."""
    def query(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return sandbox.query(sql, params, database=E2E_DATABASE)
    return query


@pytest.fixture
def load_e2e_ticks(sandbox: Sandbox, e2e_query):
    """Replace the e2e warehouse's ticks and bars in [start, end) with generated ticks; returns the ticks.

    ``everything=True`` empties both tables first (tests that check the newest data, not one window).
    """
    from sandbox.ticks import Ticks, generate_ticks, load_ticks

    def load(start: datetime, end: datetime, *, everything: bool = False, **generator: Any) -> Ticks:
        window = "" if everything else " WHERE {col} >= %s AND {col} < %s"
        params = None if everything else [start, end]
        e2e_query("DELETE FROM energy_prices_rt" + window.format(col="event_time"), params)
        e2e_query("DELETE FROM price_1min_agg" + window.format(col="bar_start"), params)
        ticks = generate_ticks(start, end, **generator)
        conn = sandbox.mysql_connect(E2E_DATABASE)
        try:
            load_ticks(conn, ticks, method="insert")
        finally:
            conn.close()
        return ticks
    return load


@pytest.fixture(scope="session")
def migrated(live_airflow: LiveAirflow) -> LiveAirflow:
    """The e2e warehouse schema, applied by a real doris_schema_migrate run (the test of that DAG does it first)."""
    run = live_airflow.wait_for_run("doris_schema_migrate", live_airflow.trigger("doris_schema_migrate"))
    assert run["state"] == "success", run
    return live_airflow

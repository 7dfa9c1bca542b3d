"""Session fixtures: Airflow configured for this project, and the private sandbox services.

Airflow reads its configuration when first imported, so the environment is set here at import time,
before any test module imports airflow. Services start once per session (about a second) and stop at
the end; a test that needs them asks for the ``sandbox`` fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from sandbox.services import SANDBOX_HOME, Sandbox, airflow_env  # noqa: E402

# Private to this test session (concurrent sessions in one checkout must not share services or state).
SESSION_SANDBOX = f"pytest-{os.getpid()}"
AIRFLOW_HOME = SANDBOX_HOME / SESSION_SANDBOX / "airflow"
os.environ.update(airflow_env(AIRFLOW_HOME))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised Airflow metadata DB (SQLite under this session's sandbox folder) for dag.test()."""
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Private MariaDB, Pushgateway and Prometheus; AIRFLOW_CONN_* point at them for the session."""
    Sandbox.sweep_ephemeral("pytest")
    with Sandbox(SESSION_SANDBOX, ephemeral=True) as sb:
        os.environ.update(sb.connection_env())
        yield sb


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path):
    """All project DAGs, parsed once per session (``get_dag`` reads the metadata DB, hence airflow_db)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


@pytest.fixture
def warehouse(sandbox: Sandbox) -> Sandbox:
    """The sandbox with the platform schema applied (idempotent: a no-op when already up to date), its tick
    table with the minute index even when a kept test sandbox predates it.

    Function-scoped because some tests drop the database to start from a new server.
    """
    from commodity_platform.doris.tasks import run_migrations
    from sandbox.ticks import ensure_minute_index

    run_migrations(installed_by="pytest")
    ensure_minute_index(sandbox)
    return sandbox

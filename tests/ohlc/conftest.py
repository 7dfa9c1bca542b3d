"""Fixtures of the OHLC tests: a clean warehouse, a loader connection and an independent bar reference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.services import DORIS_DATABASE, Sandbox


def connect(sandbox: Sandbox) -> Any:
    """A connection to the warehouse that may LOAD DATA LOCAL INFILE (the generator's fast path)."""
    import MySQLdb

    return MySQLdb.connect(host="127.0.0.1", port=sandbox.mariadb_port, user="airflow", passwd=sandbox.password,
                           db=DORIS_DATABASE, local_infile=1, autocommit=True)


@pytest.fixture
def db(warehouse: Sandbox) -> Iterator[Any]:
    """Warehouse connection with empty tick and bar tables (the session's tests share one sandbox)."""
    conn = connect(warehouse)
    cur = conn.cursor()
    cur.execute("DELETE FROM energy_prices_rt")
    cur.execute("DELETE FROM price_1min_agg")
    cur.close()
    yield conn
    conn.close()


@pytest.fixture
def connect_db(warehouse: Sandbox):
    """A factory of new warehouse connections, as OhlcBackfill takes one (it opens its own)."""
    return lambda: connect(warehouse)

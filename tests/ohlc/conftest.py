"""Fixtures of the OHLC tests: a clean warehouse, a loader connection and an independent bar reference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.services import DORIS_DATABASE, Sandbox
from sandbox.ticks import wipe


@pytest.fixture
def db(warehouse: Sandbox) -> Iterator[Any]:
    """Warehouse connection with empty tick and bar tables (the session's tests share one sandbox)."""
    conn = warehouse.mysql_connect(DORIS_DATABASE, local_infile=True)  # the generator's LOAD DATA fast path
    wipe(conn)
    yield conn
    conn.close()


@pytest.fixture
def connect_db(warehouse: Sandbox):
    """A factory of new warehouse connections, as OhlcBackfill takes one (it opens its own)."""
    return lambda: warehouse.mysql_connect(DORIS_DATABASE, local_infile=True)

"""The Param table of the ``ohlc_backfill`` DAG: each setting's default, schema and help, stated once.

The DAG file builds its ``params=`` from :data:`BACKFILL_PARAMS`; the tasks read a run's values with
``resolve_params(BACKFILL_PARAMS, context["params"])``. Cheap to import (the DAG file imports it at parse time).
"""

from __future__ import annotations

from commodity_platform.ohlc.shards import MAX_WORKERS
from commodity_platform.ohlc.window import DEFAULT_MAX_SPAN_DAYS
from commodity_platform.params import ParamSpec, ParamTable
from commodity_platform.window import DEFAULT_CHUNK_MINUTES

#: The largest chunk: a whole default-length window (31 days) in one statement per shard.
MAX_CHUNK_MINUTES = 31 * 24 * 60


def parallel_workers_spec(purpose: str, *, title: str = "Parallel connections") -> ParamSpec:
    """The ``parallel_workers`` Param of both DAGs that shard a window (``ohlc_backfill`` and the
    data-quality OHLC check): connections ``purpose``, split as :mod:`commodity_platform.ohlc.shards` says."""
    return ParamSpec(
        0, title,
        f"Warehouse connections {purpose}, e.g. 2: the window is cut into time slices on a MySQL-protocol "
        "sandbox (its tick table is clustered on event_time), each daily chunk into commodity-code groups on "
        "Doris. 0: automatic, the worker's CPU cores on the sandbox, 1 on Doris (Doris already runs one "
        "statement on all its cores).",
        {"type": "integer", "minimum": 0, "maximum": MAX_WORKERS},
    )

BACKFILL_PARAMS: ParamTable = {
    "start": ParamSpec(
        None, "Window start (UTC)",
        "Window start, ISO-8601 UTC, whole minute, inclusive (e.g. 2026-01-01T00:00:00Z). "
        "Empty: the run's data interval.",
        {"type": ["null", "string"]},
    ),
    "end": ParamSpec(
        None, "Window end (UTC)",
        "Window end, ISO-8601 UTC, whole minute, exclusive (e.g. 2026-01-02T00:00:00Z). "
        "Give both start and end or neither.",
        {"type": ["null", "string"]},
    ),
    "commodity_codes": ParamSpec(
        None, "Commodity codes",
        # An array of strings renders as a textarea that splits on new lines (Airflow UI FlexibleForm).
        "Only rebuild these commodity codes, one code per line (e.g. WTI, then BRENT on the next line); "
        "upper-cased; empty: all. A code with no ticks at all fails the run.",
        {"type": ["null", "array"], "items": {"type": "string"}},
    ),
    "max_span_days": ParamSpec(
        DEFAULT_MAX_SPAN_DAYS, "Maximum window (days)",
        "Safety limit on the window length in days; raise deliberately for a bigger rebuild.",
        {"type": "integer", "minimum": 1},
    ),
    "chunk_minutes": ParamSpec(
        DEFAULT_CHUNK_MINUTES, "Chunk size (minutes)",
        "Minutes per write statement/transaction, aligned to UTC midnight (default 1440, a day: one daily "
        "partition on Doris, one contiguous range of the time-clustered sandbox table), e.g. 60 for hourly "
        "transactions.",
        {"type": "integer", "minimum": 1, "maximum": MAX_CHUNK_MINUTES},
    ),
    "parallel_workers": parallel_workers_spec("rebuilding shards at once"),
}

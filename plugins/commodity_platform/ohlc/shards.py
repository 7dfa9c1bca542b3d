"""Shards: the pieces of a window the warehouse scans independently, and running them on N connections.

A rebuild (and the OHLC comparison) is cut in time at the ``chunk_minutes`` boundaries (UTC midnights by
default: on Doris one daily partition of ``energy_prices_rt`` per statement), and, with ``workers`` > 1
connections, split further where the warehouse can read the pieces without reading each other's rows:

* **Doris: by commodity code** into ``workers`` groups. Doris hashes ``energy_prices_rt`` over
  ``commodity_code`` into buckets (``DISTRIBUTED BY HASH(commodity_code)``) and prunes the buckets of an
  ``IN`` list (the FE's ``HashDistributionPruner``: "binary equal predicate and in predicate" on the
  distribution columns, apache/doris fe/.../planner/HashDistributionPruner.java); within a daily partition
  a shorter time range would still read the whole partition. Doris
  parallelises one statement over its buckets itself, hence one worker there by default.
* **Elsewhere (the sandbox MariaDB): by time.** The sandbox stores each partitioned table clustered on its
  partition column (:func:`commodity_platform.doris.dialect.adapt_for_mysql`: ``PRIMARY KEY (event_time,
  doris_row_id)``; ``price_1min_agg`` has an index on ``bar_start``), so a time slice is one contiguous read
  (a shard's write still waits on its neighbour's boundary row while that one commits; the write is a short
  transaction after the scan, ``write_mariadb.sql``). When there are fewer than :data:`SLICES_PER_WORKER`
  chunks per worker, each chunk is cut into equal whole-minute slices (a one-day window on 2 workers: eight
  3-hour shards; a 60-minute window: two 30-minute ones); otherwise the chunks themselves are the shards.
  The workers take the shards as they free up, which evens out a trading session's busy hours. MariaDB
  runs one statement on one thread, so this is how a rebuild uses the machine's other cores. (Code groups
  there each scanned the whole time range: on the earlier heap table, measured slower than one worker.)

Each shard is exact on its own: it rewrites exactly the bars of its codes in its time range (code groups
are discovered from both the ticks and the stored bars of the window, :func:`window_codes`, so a bar whose
minute lost all its ticks is deleted by the shard of its code).
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from commodity_platform.errors import ConfigError, PermanentError, TemporaryError
from commodity_platform.ohlc.definition import format_sql_datetime
from commodity_platform.paths import SQL_DIR
from commodity_platform.sql_files import load_sql
from commodity_platform.validation import cap_list
from commodity_platform.window import Window, iso_z

log = logging.getLogger(__name__)

WINDOW_CODES_SQL = SQL_DIR / "ohlc" / "window_codes.sql"
#: Upper bound of the ``parallel_workers`` Param: each worker holds one warehouse connection.
MAX_WORKERS = 32
#: Time slices per worker when a window is cut in time. The workers take the slices as they free up, so a
#: busy trading session inside one slice does not leave the others idle: one sandbox day (session-shaped,
#: ``sandbox.ticks``) cut into 2 equal halves split the ticks 41/59; 2 workers rebuilt it in 0.95x the bare
#: scan as 2 slices, 0.89x as 4, 0.86x as 8, 0.88x as 16 (benchmarks/bench_ohlc_backfill.py's data, one run).
SLICES_PER_WORKER = 4
#: ...but a chunk is not cut below this for balance alone (each slice is a statement and a transaction, and
#: on the data-quality check a Great Expectations validation).
MIN_BALANCING_SLICE_MINUTES = 60

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """``[start, end)`` of the codes ``commodity_codes`` (empty: every code), numbered from 1."""

    index: int
    start: datetime
    end: datetime
    commodity_codes: tuple[str, ...] = ()

    def describe(self) -> str:
        codes = cap_list(list(self.commodity_codes)) if self.commodity_codes else "all codes"
        return f"shard {self.index} [{iso_z(self.start)}, {iso_z(self.end)}) {codes}"


def default_workers(*, doris: bool) -> int:
    """Connections a run uses when the Param leaves it to the machine: 1 on Doris (it parallelises one
    statement itself), else the cores of this worker machine (the sandbox's MariaDB runs on it)."""
    return 1 if doris else max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def resolve_workers(requested: int | None, *, doris: bool) -> int:
    """The Param value (``0``/``None``: :func:`default_workers`), validated."""
    if requested is None or requested == 0:
        return default_workers(doris=doris)
    if isinstance(requested, bool) or not isinstance(requested, int) or not 1 <= requested <= MAX_WORKERS:
        raise ConfigError(f"parallel_workers: expected 0 (automatic) or 1..{MAX_WORKERS}, got {requested!r}")
    return requested


def split_codes(codes: Sequence[str], groups: int) -> list[tuple[str, ...]]:
    """``codes`` dealt round-robin into at most ``groups`` non-empty groups (sorted, so runs are repeatable)."""
    ordered = sorted(set(codes))
    groups = max(1, min(groups, len(ordered)))
    return [tuple(ordered[i::groups]) for i in range(groups)] if ordered else []


def code_groups(conn: Any, window: Window, *, workers: int, doris: bool) -> list[tuple[str, ...]] | None:
    """The commodity-code groups of a split on Doris with several workers: the window's codes (read on
    ``conn`` when the window names none, :func:`window_codes`) in ``workers`` groups, ``[]`` when the window
    has no code at all; ``None`` where the window is cut in time instead (one worker, or not Doris)."""
    if workers == 1 or not doris:
        return None
    return split_codes(list(window.commodity_codes) or window_codes(conn, window.start, window.end), workers)


def time_slices(window: Window, *, chunk_minutes: int, workers: int) -> list[tuple[datetime, datetime]]:
    """The window's chunks, cut further when there are fewer than :data:`SLICES_PER_WORKER` per worker.

    Every worker gets at least one slice (never shorter than a minute); beyond that a chunk is cut into more
    slices for balance, none shorter than :data:`MIN_BALANCING_SLICE_MINUTES`. Slices are equal whole-minute
    pieces of their chunk and tile the window.
    """
    chunks = window.chunks(chunk_minutes)
    target = workers * SLICES_PER_WORKER
    if not chunks or len(chunks) >= target or workers == 1:
        return chunks
    every_worker = -(-workers // len(chunks))
    balanced = -(-target // len(chunks))
    slices: list[tuple[datetime, datetime]] = []
    for lower, upper in chunks:
        minutes = int((upper - lower).total_seconds() // 60)
        pieces = max(every_worker, min(balanced, minutes // MIN_BALANCING_SLICE_MINUTES))
        pieces = max(1, min(pieces, minutes))
        bounds = [lower + timedelta(minutes=minutes * i // pieces) for i in range(pieces)] + [upper]
        slices.extend(itertools.pairwise(bounds))
    return slices


def plan_shards(window: Window, *, chunk_minutes: int, workers: int = 1,
                code_groups: Sequence[tuple[str, ...]] | None = None) -> list[Shard]:
    """With ``code_groups`` (Doris): every chunk crossed with every group. Without: the window's
    :func:`time_slices` for ``workers`` connections, each over the window's codes (empty: all codes)."""
    if code_groups is not None:
        pieces = [(lower, upper, tuple(codes)) for lower, upper in window.chunks(chunk_minutes)
                  for codes in code_groups]
    else:
        pieces = [(lower, upper, tuple(window.commodity_codes))
                  for lower, upper in time_slices(window, chunk_minutes=chunk_minutes, workers=workers)]
    return [Shard(index=i + 1, start=lower, end=upper, commodity_codes=codes)
            for i, (lower, upper, codes) in enumerate(pieces)]


def window_codes(conn: Any, start: datetime, end: datetime) -> list[str]:
    """Codes with a valid-looking tick or a stored bar in ``[start, end)`` (see ``window_codes.sql``)."""
    sql = load_sql(WINDOW_CODES_SQL).rstrip().rstrip(";")
    cur = conn.cursor()
    try:
        cur.execute(sql, {"window_start": format_sql_datetime(start), "window_end": format_sql_datetime(end)})
        return sorted({row[0] for row in cur.fetchall() if row[0]})  # NULL and '' make no bar
    finally:
        cur.close()


@dataclass
class ShardOutcome(Generic[T]):
    shard: Shard
    result: T | None = None
    error: BaseException | None = None


class ShardsFailed(Exception):
    """Some shards failed; the others completed. Carries both so the caller can report them."""

    def __init__(self, failed: list[ShardOutcome[Any]], completed: list[ShardOutcome[Any]]) -> None:
        self.failed, self.completed = failed, completed
        names = "; ".join(f"{o.shard.describe()}: {o.error}" for o in failed[:5])
        more = f"; +{len(failed) - 5} more" if len(failed) > 5 else ""
        super().__init__(f"{len(failed)} of {len(failed) + len(completed)} shard(s) failed ({names}{more}); "
                         f"the other {len(completed)} completed")

    def as_error(self, what: str) -> Exception:
        """PermanentError if any shard failed permanently (a retry cannot help), else TemporaryError."""
        permanent = any(not isinstance(o.error, TemporaryError) for o in self.failed)
        return (PermanentError if permanent else TemporaryError)(f"{what}: {self}")


def run_sharded(shards: Sequence[Shard], work: Callable[[Any, Shard], T], *, workers: int,
                open_worker: Callable[[], Any], close_worker: Callable[[Any], None],
                initial_states: Sequence[Any] = ()) -> list[ShardOutcome[T]]:
    """Run ``work(state, shard)`` for every shard on ``workers`` threads; each thread has its own ``state``
    (a connection holder from ``open_worker``, closed with ``close_worker``).

    ``initial_states`` are handed to the first threads instead of opening new ones (the connection the
    caller already used to plan the shards); every state is closed with ``close_worker``, used or not.
    Every shard runs even when another fails (a failed shard leaves the others done); outcomes come back in
    shard order. Raises :class:`ShardsFailed` if any failed. One worker runs inline, without a thread.
    """
    todo: queue.SimpleQueue[Shard] = queue.SimpleQueue()
    for shard in shards:
        todo.put(shard)
    outcomes: dict[int, ShardOutcome[T]] = {}
    lock = threading.Lock()
    spare = list(initial_states)

    def claim_state() -> Any:
        with lock:
            if spare:
                return spare.pop()
        return open_worker()

    def drain() -> None:
        state = claim_state()
        try:
            while True:
                try:
                    shard = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome: ShardOutcome[T] = ShardOutcome(shard, result=work(state, shard))
                except Exception as err:  # recorded and named; the other shards go on
                    log.error("%s failed: %s", shard.describe(), err)
                    outcome = ShardOutcome(shard, error=err)
                with lock:
                    outcomes[shard.index] = outcome
        finally:
            close_worker(state)

    count = max(1, min(workers, len(shards)))
    try:
        if count == 1:
            drain()
        else:
            threads = [threading.Thread(target=drain, name=f"ohlc-shard-worker-{i + 1}", daemon=True)
                       for i in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        for unused in spare:
            close_worker(unused)
    ordered = [outcomes[s.index] for s in shards if s.index in outcomes]
    failed = [o for o in ordered if o.error is not None]
    if failed:
        raise ShardsFailed(failed, [o for o in ordered if o.error is None])
    return ordered

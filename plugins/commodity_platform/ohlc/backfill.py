"""Rebuild ``price_1min_agg`` for a window from ``energy_prices_rt``, inside the database, chunk by chunk.

Why this shape:

* **Push-down.** Each chunk is ``INSERT ... SELECT`` of the shared bar definition; no tick crosses the
  wire, so the cost is one scan of the chunk's ticks.
* **Exact and idempotent.** A chunk is replaced as a whole: on MariaDB ``DELETE`` + ``INSERT`` in one
  transaction; on Doris one atomic load that upserts the new bars and deletes (``__DORIS_DELETE_SIGN__``)
  stored bars whose minute lost all valid ticks. Re-running a window writes the same rows, never
  duplicates; a failed chunk leaves the previous bars.
* **Chunks and shards.** A day per statement by default keeps transactions bounded and makes progress
  visible (``shard i/n, rows, elapsed``). With ``workers`` > 1 the shards are rebuilt at once on separate
  connections: on Doris each chunk is split by commodity code, elsewhere the window is cut in time so each
  worker has its own slices (:mod:`commodity_platform.ohlc.shards` says why).
  Each shard is its own transaction over exactly its codes and minutes; a failed shard does not stop the
  others, and the error names every failed shard. A retry simply rewrites every shard again, which is safe.
* **Retries.** Connection loss, lock wait timeouts and deadlocks are temporary: the chunk is retried
  with exponential backoff (``attempt n/N`` logged) and then surfaced as :class:`TemporaryError` so the
  task's own retries apply. SQL or schema errors are permanent. A lost connection is re-opened with its
  own backoff (``reconnect n/N``) before the chunk is retried: a warehouse restarting or refusing
  connections for a few seconds must not end the run with a raw driver error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from commodity_platform.errors import ConfigError, PermanentError, TemporaryError, classify_mysql_error
from commodity_platform.ohlc.shards import Shard, ShardsFailed, code_groups, plan_shards, run_sharded
from commodity_platform.ohlc.statements import WritePlan, write_plan
from commodity_platform.validation import cap_list
from commodity_platform.window import DEFAULT_CHUNK_MINUTES, Window, iso_z

log = logging.getLogger(__name__)

CHUNK_ATTEMPTS = 3
#: Reconnect attempts (exponential backoff 0.5 s .. 8 s, about 30 s in all) before a chunk attempt gives up.
RECONNECT_ATTEMPTS = 7
RECONNECT_BACKOFF_MAX_S = 8.0
#: In-memory temp table a MySQL-protocol rebuild session may use for its GROUP BY (bytes): a month of 20
#: codes in one chunk is ~450k bars per shard at ~250 bytes each (MariaDB MEMORY rows are fixed-width).
MYSQL_GROUP_TABLE_BYTES = 512 * 1024 * 1024

FaultHook = Callable[[str, int], None]
"""Test hook: called with (stage, shard index) at "staged" (MariaDB: bars computed, no transaction open yet),
"before_commit" and "after_commit"; may raise."""


@dataclass
class ShardResult:
    index: int
    start: str
    end: str
    commodity_codes: list[str]
    bars_written: int
    bars_deleted: int
    seconds: float


@dataclass
class BackfillReport:
    window: dict[str, Any]
    dialect: str
    workers: int = 1
    shards: list[ShardResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bars_written(self) -> int:
        return sum(c.bars_written for c in self.shards)

    @property
    def bars_deleted(self) -> int:
        return sum(c.bars_deleted for c in self.shards)

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window, "dialect": self.dialect, "workers": self.workers, "shards": len(self.shards),
            "bars_written": self.bars_written, "bars_deleted": self.bars_deleted,
            "seconds": round(self.seconds, 3),
            "per_shard": [asdict(c) for c in self.shards],
        }


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("shard attempt %d/%d failed with a temporary error (%s); retrying", state.attempt_number,
                CHUNK_ATTEMPTS, exc)


class _Connection:
    """One worker's warehouse connection, (re)opened on demand."""

    def __init__(self, conn: Any = None) -> None:
        self.conn = conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                log.debug("closing a warehouse connection raised", exc_info=True)
            self.conn = None


class OhlcBackfill:
    """Rewrites the bars of a :class:`Window` through a DB-API connection factory.

    :param connect: returns a new DB-API connection to the platform database (e.g. ``DorisHook().get_conn``).
    :param doris: use the Doris write idiom (else MariaDB/MySQL's transaction); see ``DorisHook.is_doris``.
    :param chunk_minutes: chunk size; chunks are aligned to multiples of it (UTC midnights for a day).
    :param workers: connections rebuilding shards at once; > 1 splits the window into shards for them
        (:func:`commodity_platform.ohlc.shards.resolve_workers` turns the Param into this number).
    :param fault_hook: tests only: called at ``staged`` (MariaDB), ``before_commit`` / ``after_commit`` of
        each shard.
    """

    def __init__(self, connect: Callable[[], Any], *, doris: bool, chunk_minutes: int = DEFAULT_CHUNK_MINUTES,
                 workers: int = 1, fault_hook: FaultHook | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"parallel_workers: must be >= 1 here, got {workers}")
        self._connect = connect
        self.doris = doris
        self.chunk_minutes = chunk_minutes
        self.workers = workers
        self._fault_hook = fault_hook

    def run(self, window: Window) -> BackfillReport:
        report = BackfillReport(window=window.as_dict(), dialect="doris" if self.doris else "mysql",
                                workers=self.workers)
        started = time.monotonic()
        log.info("rebuilding bars of [%s, %s) codes=%s in chunks of up to %d min%s on up to %d connection(s), %s "
                 "idiom", iso_z(window.start), iso_z(window.end),
                 cap_list(window.commodity_codes) if window.commodity_codes else "all", self.chunk_minutes,
                 f" x {self.workers} code groups" if self.workers > 1 and self.doris else "", self.workers,
                 report.dialect)
        # The first connection is opened here, before any shard: a warehouse that cannot be reached at all
        # fails the run at once, as itself, instead of once per shard.
        first = _Connection(self._connect_with_backoff())
        try:
            shards = plan_shards(window, chunk_minutes=self.chunk_minutes, workers=self.workers,
                                 # No code at all on Doris: nothing to split by code, one shard per chunk.
                                 code_groups=code_groups(first.conn, window, workers=self.workers,
                                                         doris=self.doris) or None)
        except BaseException:
            first.close()
            raise
        log.info("%d shard(s)", len(shards))

        def work(holder: _Connection, shard: Shard) -> ShardResult:
            result = self._run_shard_with_retries(holder, shard)
            log.info("shard %d/%d [%s, %s) %s: %d bars written, %d deleted, %.2f s (elapsed %.2f s)",
                     shard.index, len(shards), result.start, result.end,
                     cap_list(result.commodity_codes) if result.commodity_codes else "all codes",
                     result.bars_written, result.bars_deleted, result.seconds, time.monotonic() - started)
            return result

        try:
            outcomes = run_sharded(shards, work, workers=self.workers, open_worker=_Connection,
                                   close_worker=_Connection.close, initial_states=[first])
        except ShardsFailed as failed:
            report.shards = [o.result for o in failed.completed if o.result is not None]
            first_error = failed.failed[0].error
            raise failed.as_error(
                f"rebuild of [{iso_z(window.start)}, {iso_z(window.end)})"
            ) from first_error
        report.shards = [o.result for o in outcomes if o.result is not None]
        report.seconds = time.monotonic() - started
        log.info("done: %d bars written, %d deleted in %d shard(s), %.2f s", report.bars_written,
                 report.bars_deleted, len(report.shards), report.seconds)
        return report

    def _run_shard_with_retries(self, holder: _Connection, shard: Shard) -> ShardResult:
        plan = write_plan(shard.start, shard.end, commodity_codes=shard.commodity_codes, doris=self.doris)

        @retry(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(CHUNK_ATTEMPTS),
            wait=wait_exponential(multiplier=1, min=1, max=20),
            before_sleep=_log_retry,
            reraise=True,
        )
        def attempt() -> ShardResult:
            if holder.conn is None:
                holder.conn = self._connect_with_backoff()
            try:
                return self._run_shard(holder.conn, plan, shard)
            except TemporaryError:
                # The connection may be dead (2006/2013): the next attempt opens a fresh one (with backoff).
                holder.close()
                raise

        return attempt()

    def _connect_with_backoff(self) -> Any:
        """A new connection; temporary refusals (server restarting, too many connections) are retried.

        Driver errors are classified (:func:`~commodity_platform.errors.classify_mysql_error`), so what
        escapes is a TemporaryError after the last attempt or a PermanentError (bad credentials, unknown
        database) at once, never a raw one.
        """
        import MySQLdb

        delay = 0.5
        for attempt in range(1, RECONNECT_ATTEMPTS + 1):
            try:
                return self._connect()
            except MySQLdb.Error as err:
                error = classify_mysql_error(err, where="connecting to the warehouse")
            if isinstance(error, PermanentError) or attempt == RECONNECT_ATTEMPTS:
                raise error
            log.warning("reconnect %d/%d failed (%s); retrying in %.1f s", attempt, RECONNECT_ATTEMPTS, error, delay)
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_BACKOFF_MAX_S)
        raise AssertionError("unreachable")

    def _run_shard(self, conn: Any, plan: WritePlan, shard: Shard) -> ShardResult:
        import MySQLdb

        started = time.monotonic()
        cur = conn.cursor()
        written = deleted = 0
        try:
            if plan.dialect == "mysql":
                # READ COMMITTED: INSERT ... SELECT then reads the ticks without share-locking them, so the
                # streaming writer is never blocked by a backfill.
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                # A chunk's GROUP BY keeps one row per bar in an in-memory temp table; past the server's
                # 16 MiB default (~60k bars: a few days of 20 codes) MariaDB moves it to an on-disk table
                # and the statement slows several-fold. The session may use up to MYSQL_GROUP_TABLE_BYTES.
                cur.execute(f"SET SESSION max_heap_table_size = {MYSQL_GROUP_TABLE_BYTES}, "
                            f"tmp_table_size = {MYSQL_GROUP_TABLE_BYTES}")
                # Stage the bars outside the transaction, then swap them in a short one (write_mariadb.sql
                # says why: concurrent shards would otherwise wait on each other's boundary row locks).
                drop_stale, stage, delete_sql, insert_sql, drop_staged = plan.statements  # STATEMENT_COUNTS
                cur.execute(drop_stale, plan.params)
                cur.execute(stage, plan.params)
                self._fault("staged", shard.index)
                cur.execute("START TRANSACTION")
                cur.execute(delete_sql, plan.params)
                deleted = cur.rowcount
                cur.execute(insert_sql, plan.params)
                written = cur.rowcount
                self._fault("before_commit", shard.index)
                conn.commit()
                cur.execute(drop_staged, plan.params)
            else:
                (upsert_sql,) = plan.statements
                cur.execute(upsert_sql, plan.params)
                # Doris reports loaded rows: new bars plus delete-sign rows for vanished ones.
                written = cur.rowcount
                self._fault("before_commit", shard.index)
                conn.commit()
            self._fault("after_commit", shard.index)
        except MySQLdb.Error as err:
            _rollback(conn)
            raise classify_mysql_error(err, where=shard.describe()) from err
        except BaseException:
            _rollback(conn)
            raise
        finally:
            cur.close()
        return ShardResult(index=shard.index, start=iso_z(shard.start), end=iso_z(shard.end),
                           commodity_codes=list(shard.commodity_codes), bars_written=max(written, 0),
                           bars_deleted=max(deleted, 0), seconds=round(time.monotonic() - started, 3))

    def _fault(self, stage: str, index: int) -> None:
        if self._fault_hook is not None:
            self._fault_hook(stage, index)


def _rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception:
        log.warning("rollback failed after a shard error", exc_info=True)

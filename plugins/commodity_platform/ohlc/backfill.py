"""Rebuild ``price_1min_agg`` for a window from ``energy_prices_rt``, inside the database, chunk by chunk.

Why this shape:

* **Push-down.** Each chunk is ``INSERT ... SELECT`` of the shared bar definition; no tick crosses the
  wire, so the cost is one scan of the chunk's ticks.
* **Exact and idempotent.** A chunk is replaced as a whole: on MariaDB ``DELETE`` + ``INSERT`` in one
  transaction; on Doris one atomic load that upserts the new bars and deletes (``__DORIS_DELETE_SIGN__``)
  stored bars whose minute lost all valid ticks. Re-running a window writes the same rows, never
  duplicates; a failed chunk leaves the previous bars.
* **Chunks.** A day per statement by default keeps transactions bounded and makes progress visible
  (``chunk i/n, rows, elapsed``); a retry simply rewrites every chunk again, which is safe.
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

from commodity_platform.errors import PermanentError, TemporaryError, classify_mysql_error
from commodity_platform.ohlc.statements import WritePlan, write_plan
from commodity_platform.window import DEFAULT_CHUNK_MINUTES, Window, iso_z
from commodity_platform.validation import cap_list

log = logging.getLogger(__name__)

CHUNK_ATTEMPTS = 3
#: Reconnect attempts (exponential backoff 0.5 s .. 8 s, about 30 s in all) before a chunk attempt gives up.
RECONNECT_ATTEMPTS = 7
RECONNECT_BACKOFF_MAX_S = 8.0

FaultHook = Callable[[str, int], None]
"""Test hook: called with (stage, chunk index) at "before_commit" and "after_commit"; may raise."""


@dataclass
class ChunkResult:
    index: int
    start: str
    end: str
    bars_written: int
    bars_deleted: int
    seconds: float


@dataclass
class BackfillReport:
    window: dict[str, Any]
    dialect: str
    chunks: list[ChunkResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bars_written(self) -> int:
        return sum(c.bars_written for c in self.chunks)

    @property
    def bars_deleted(self) -> int:
        return sum(c.bars_deleted for c in self.chunks)

    def summary(self) -> dict[str, Any]:
        return {
            "window": self.window, "dialect": self.dialect, "chunks": len(self.chunks),
            "bars_written": self.bars_written, "bars_deleted": self.bars_deleted,
            "seconds": round(self.seconds, 3),
            "per_chunk": [asdict(c) for c in self.chunks],
        }


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("chunk attempt %d/%d failed with a temporary error (%s); retrying", state.attempt_number,
                CHUNK_ATTEMPTS, exc)


class OhlcBackfill:
    """Rewrites the bars of a :class:`Window` through a DB-API connection factory.

    :param connect: returns a new DB-API connection to the platform database (e.g. ``DorisHook().get_conn``).
    :param doris: use the Doris write idiom (else MariaDB/MySQL's transaction); see ``DorisHook.is_doris``.
    :param chunk_minutes: chunk size; chunks are aligned to multiples of it (UTC midnights for a day).
    :param fault_hook: tests only: called at ``before_commit`` / ``after_commit`` of each chunk.
    """

    def __init__(self, connect: Callable[[], Any], *, doris: bool, chunk_minutes: int = DEFAULT_CHUNK_MINUTES,
                 fault_hook: FaultHook | None = None) -> None:
        self._connect = connect
        self.doris = doris
        self.chunk_minutes = chunk_minutes
        self._fault_hook = fault_hook

    def run(self, window: Window) -> BackfillReport:
        chunks = window.chunks(self.chunk_minutes)
        report = BackfillReport(window=window.as_dict(), dialect="doris" if self.doris else "mysql")
        started = time.monotonic()
        log.info("rebuilding bars of [%s, %s) codes=%s in %d chunk(s) of up to %d min, %s idiom",
                 iso_z(window.start), iso_z(window.end),
                 cap_list(window.commodity_codes) if window.commodity_codes else "all", len(chunks),
                 self.chunk_minutes, report.dialect)
        self._conn: Any = self._connect_with_backoff()
        try:
            for index, (lower, upper) in enumerate(chunks, start=1):
                plan = write_plan(lower, upper, commodity_codes=window.commodity_codes, doris=self.doris)
                result = self._run_chunk_with_retries(plan, index)
                result.start, result.end = iso_z(lower), iso_z(upper)
                report.chunks.append(result)
                log.info("chunk %d/%d [%s, %s): %d bars written, %d deleted, %.2f s (elapsed %.2f s)",
                         index, len(chunks), result.start, result.end, result.bars_written, result.bars_deleted,
                         result.seconds, time.monotonic() - started)
        finally:
            if self._conn is not None:
                self._conn.close()
        report.seconds = time.monotonic() - started
        log.info("done: %d bars written, %d deleted in %d chunk(s), %.2f s", report.bars_written,
                 report.bars_deleted, len(report.chunks), report.seconds)
        return report

    def _run_chunk_with_retries(self, plan: WritePlan, index: int) -> ChunkResult:
        @retry(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(CHUNK_ATTEMPTS),
            wait=wait_exponential(multiplier=1, min=1, max=20),
            before_sleep=_log_retry,
            reraise=True,
        )
        def attempt() -> ChunkResult:
            if self._conn is None:
                self._conn = self._connect_with_backoff()
            try:
                return self._run_chunk(self._conn, plan, index)
            except TemporaryError:
                # The connection may be dead (2006/2013): the next attempt opens a fresh one (with backoff).
                try:
                    self._conn.close()
                except Exception:
                    log.debug("closing the failed connection raised", exc_info=True)
                self._conn = None
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

    def _run_chunk(self, conn: Any, plan: WritePlan, index: int) -> ChunkResult:
        import MySQLdb

        started = time.monotonic()
        cur = conn.cursor()
        written = deleted = 0
        try:
            if plan.dialect == "mysql":
                # READ COMMITTED: INSERT ... SELECT then reads the ticks without share-locking them, so the
                # streaming writer is never blocked by a backfill.
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                cur.execute("START TRANSACTION")
                delete_sql, insert_sql = plan.statements
                cur.execute(delete_sql, plan.params)
                deleted = cur.rowcount
                cur.execute(insert_sql, plan.params)
                written = cur.rowcount
                self._fault("before_commit", index)
                conn.commit()
            else:
                (upsert_sql,) = plan.statements
                cur.execute(upsert_sql, plan.params)
                # Doris reports loaded rows: new bars plus delete-sign rows for vanished ones.
                written = cur.rowcount
                self._fault("before_commit", index)
                conn.commit()
            self._fault("after_commit", index)
        except MySQLdb.Error as err:
            _rollback(conn)
            raise classify_mysql_error(err, where=f"chunk {index} [{plan.params['window_start']}, "
                                               f"{plan.params['window_end']})") from err
        except BaseException:
            _rollback(conn)
            raise
        finally:
            cur.close()
        return ChunkResult(index=index, start="", end="", bars_written=max(written, 0),
                           bars_deleted=max(deleted, 0), seconds=round(time.monotonic() - started, 3))

    def _fault(self, stage: str, index: int) -> None:
        if self._fault_hook is not None:
            self._fault_hook(stage, index)


def _rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception:
        log.warning("rollback failed after a chunk error", exc_info=True)

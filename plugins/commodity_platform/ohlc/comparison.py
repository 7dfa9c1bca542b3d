"""OHLC correctness: bars recomputed from the raw ticks vs the stored bars, compared inside the database.

The expected bars come from the one bar definition (``include/sql/ohlc/bars.sql``, spliced into
``include/sql/ohlc/compare.sql`` at ``-- @bars``); this module never restates it. The comparison is a full
outer join on ``(commodity_code, bar_start)`` emulated with ``UNION ALL`` + ``GROUP BY`` so each side is read
once, and returns only the problem bars (at most ``examples`` of them) with the window's totals on every
row. Nothing but those rows leaves the database.

It lives next to the bar definition because both DAGs use it: ``ohlc_backfill`` re-validates the windows it
rewrote with :func:`compare_bars`, and the data-quality DAG's ``ohlc_correctness`` check runs the same
statement through Great Expectations (:func:`commodity_platform.quality.ohlc.comparison_sql`)::

    from commodity_platform.ohlc.comparison import compare_bars
    result = compare_bars(DorisHook(), start, end, codes=["WTI"], tolerance=1e-6, examples=5)
    if not result.ok:
        raise ...  # result.mismatched_bars, result.missing_bars, result.examples
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from commodity_platform.errors import ConfigError, classify_mysql_error
from commodity_platform.ohlc.definition import apply_commodity_filter, commodity_filter_sql, format_sql_datetime
from commodity_platform.ohlc.shards import Shard, ShardsFailed, code_groups, plan_shards, run_sharded
from commodity_platform.ohlc.statements import spliced_sql
from commodity_platform.window import DEFAULT_CHUNK_MINUTES, Window, to_naive_utc

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 1e-6
STORED_BARS_TABLE = "price_1min_agg"
COMPARE_SQL = "compare.sql"
#: Stands for the stored bars table in compare.sql (Great Expectations' ``UnexpectedRowsExpectation`` name).
BATCH_PLACEHOLDER = "{batch}"
_TOTAL_COLUMNS = ("mismatched_bars", "missing_bars", "extra_bars", "differing_bars", "invariant_bars",
                  "dq_violations")


@dataclass
class OhlcComparison:
    """Result of comparing recomputed and stored bars over ``[start, end)``.

    ``mismatched_bars`` counts each problem bar once, whatever its problems; the other counters split
    it by kind (a bar can be both ``differing`` and ``invariant``). ``examples`` holds at most the
    requested number of problem bars, oldest first, with expected (``exp_*``) and stored (``act_*``) values.
    """

    start: datetime
    end: datetime
    mismatched_bars: int = 0
    missing_bars: int = 0
    extra_bars: int = 0
    differing_bars: int = 0
    invariant_bars: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.mismatched_bars == 0

    def summary(self) -> str:
        if self.ok:
            return f"all bars in [{self.start}, {self.end}) match the ticks"
        return (
            f"{self.mismatched_bars} problem bars in [{self.start}, {self.end}): {self.missing_bars} missing, "
            f"{self.extra_bars} extra, {self.differing_bars} with differing values, "
            f"{self.invariant_bars} breaking OHLC invariants"
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = str(self.start), str(self.end)
        return data

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]], *, start: datetime, end: datetime,
                  elapsed_s: float = 0.0) -> OhlcComparison:
        """Build from the comparison query's rows (every row carries the window totals)."""
        if not rows:
            return cls(start, end, elapsed_s=elapsed_s)
        first = rows[0]
        examples = [{k: _plain(v) for k, v in row.items() if k not in _TOTAL_COLUMNS} for row in rows]
        return cls(
            start, end,
            mismatched_bars=int(first["mismatched_bars"]),
            missing_bars=int(first["missing_bars"] or 0),
            extra_bars=int(first["extra_bars"] or 0),
            differing_bars=int(first["differing_bars"] or 0),
            invariant_bars=int(first["invariant_bars"] or 0),
            examples=examples,
            elapsed_s=elapsed_s,
        )

    @classmethod
    def merge(cls, parts: Sequence[OhlcComparison], *, start: datetime, end: datetime, examples: int,
              elapsed_s: float) -> OhlcComparison:
        """One result from the results of disjoint shards: totals add up, the oldest ``examples`` are kept."""
        merged = cls(start, end, elapsed_s=elapsed_s)
        for part in parts:
            merged.mismatched_bars += part.mismatched_bars
            merged.missing_bars += part.missing_bars
            merged.extra_bars += part.extra_bars
            merged.differing_bars += part.differing_bars
            merged.invariant_bars += part.invariant_bars
            merged.examples.extend(part.examples)
        merged.examples.sort(key=lambda row: (str(row.get("bar_start")), str(row.get("commodity_code"))))
        del merged.examples[max(0, examples):]
        return merged


def _plain(value: Any) -> Any:
    """JSON/XCom-friendly scalars: Decimal as str keeps every digit, datetimes as ISO strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


def comparison_statement(start: datetime, end: datetime, *, codes: Sequence[str] | None = None,
                         tolerance: float = DEFAULT_TOLERANCE, examples: int = 10,
                         max_mismatched: int = 0, minute_index: bool = False) -> tuple[str, dict[str, Any]]:
    """The comparison for ``[start, end)`` as ``(sql, params)``; ``{batch}`` stands for the stored bars table.

    ``examples`` limits the rows returned (at least one, so the totals always come back);
    ``max_mismatched`` only sets the ``dq_violations`` column the Great Expectations check tests;
    ``minute_index``: the expected bars read the sandbox's minute index (not on Doris).
    """
    if tolerance < 0:
        raise ConfigError(f"tolerance: must be >= 0, got {tolerance!r}")
    codes = list(codes or [])
    _, params = commodity_filter_sql(codes)
    params.update(
        window_start=format_sql_datetime(start),
        window_end=format_sql_datetime(end),
        # A Decimal is bound as an unquoted fixed-point literal: the comparison stays DECIMAL arithmetic.
        tolerance=Decimal(repr(float(tolerance))),
        examples=max(1, int(examples)),
        max_mismatched=int(max_mismatched),
    )
    return apply_commodity_filter(spliced_sql(COMPARE_SQL, minute_index=minute_index), codes), params


def bind_table(sql: str, table: str) -> str:
    """Put the stored bars table where compare.sql says ``{batch}`` (a plain, validated table name)."""
    if not table.replace("_", "").isalnum():
        raise ConfigError(f"table: {table!r} is not a plain table name")
    return sql.replace(BATCH_PLACEHOLDER, table)


def _cursor_rows(conn: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        cur.close()


def compare_bars(hook_or_conn: Any, start: datetime, end: datetime, codes: Sequence[str] | None = None, *,
                 tolerance: float = DEFAULT_TOLERANCE, examples: int = 10,
                 table: str = STORED_BARS_TABLE, workers: int = 1, doris: bool = False) -> OhlcComparison:
    """Compare the bars stored in ``table`` with the bars the ticks define, over ``[start, end)``.

    :param hook_or_conn: a hook with ``get_conn()`` (e.g. ``DorisHook``; connections are opened and
        closed here) or an open DB-API connection (left open), connected to the platform database.
    :param start: inclusive, whole minute (UTC, naive or aware).
    :param end: exclusive, whole minute.
    :param codes: restrict to these commodity codes (both sides); ``None``: all.
    :param tolerance: relative tolerance for prices, volume and vwap: a value differs when
        ``|expected - stored| > tolerance * max(1, |expected|)``; tick_count must match exactly.
    :param examples: how many problem bars to return in :attr:`OhlcComparison.examples`.
    :param table: the stored bars (a scratch table in tests and benchmarks).
    :param workers: with a hook and more than one worker, the window is split into shards compared at
        once on their own connections, as the backfill splits it (:mod:`commodity_platform.ohlc.shards`):
        code groups on Doris, time slices elsewhere; the totals add up and the oldest examples are kept.
    :param doris: the warehouse is Doris (``DorisHook.is_doris()``): how the window is split, and whether the
        expected bars read the sandbox's minute index (only elsewhere).
    :return: counts by kind and examples; ``result.ok`` is True when nothing differs.
    """
    start, end = to_naive_utc(start), to_naive_utc(end)
    sql, params = comparison_statement(start, end, codes=codes, tolerance=tolerance, examples=examples,
                                       minute_index=not doris)
    statement = bind_table(sql, table)
    owns_conn = hasattr(hook_or_conn, "get_conn")
    started = time.monotonic()
    if owns_conn and workers > 1:
        result = _compare_sharded(hook_or_conn, start, end, codes, tolerance=tolerance, examples=examples,
                                  table=table, workers=workers, doris=doris)
        result.elapsed_s = time.monotonic() - started
    else:
        conn = hook_or_conn.get_conn() if owns_conn else hook_or_conn
        try:
            rows = _cursor_rows(conn, statement, params)
        finally:
            if owns_conn:
                conn.close()
        result = OhlcComparison.from_rows(rows, start=start, end=end, elapsed_s=time.monotonic() - started)
    log.info("OHLC comparison %s in %.3f s", result.summary(), result.elapsed_s)
    return result


def plan_comparison_shards(conn: Any, start: datetime, end: datetime, codes: Sequence[str] | None, *,
                           workers: int, doris: bool) -> list[Shard]:
    """How a comparison of ``[start, end)`` is split for ``workers`` connections, as the backfill splits its
    window (:mod:`commodity_platform.ohlc.shards`): code groups on Doris (``codes``, else the window's codes
    read on ``conn``), time slices elsewhere (``conn`` unused, may be ``None``). Empty: nothing to compare
    (Doris, and no tick or bar of any code in the window)."""
    # Any window the caller passes is compared (no Window validation of its length or codes here).
    window = Window(start.replace(tzinfo=timezone.utc), end.replace(tzinfo=timezone.utc), tuple(codes or ()))
    groups = code_groups(conn, window, workers=workers, doris=doris)
    if groups == []:
        return []
    return plan_shards(window, chunk_minutes=DEFAULT_CHUNK_MINUTES, workers=workers, code_groups=groups)


def compare_shards(shards: Sequence[Shard], compare_shard: Callable[[Any, Shard], OhlcComparison], *,
                   start: datetime, end: datetime, examples: int, workers: int, open_worker: Callable[[], Any],
                   close_worker: Callable[[Any], None], initial_states: Sequence[Any] = ()) -> OhlcComparison:
    """Run ``compare_shard(state, shard)`` for every shard on ``workers`` threads and merge the results.

    A shard that fails is named in the error (PermanentError if a retry cannot help, else TemporaryError).
    """
    try:
        outcomes = run_sharded(shards, compare_shard, workers=workers, open_worker=open_worker,
                               close_worker=close_worker, initial_states=initial_states)
    except ShardsFailed as failed:
        raise failed.as_error(f"OHLC comparison of [{start}, {end})") from failed.failed[0].error
    return OhlcComparison.merge([o.result for o in outcomes if o.result is not None], start=start, end=end,
                                examples=examples, elapsed_s=0.0)


def _compare_sharded(hook: Any, start: datetime, end: datetime, codes: Sequence[str] | None, *,
                     tolerance: float, examples: int, table: str, workers: int, doris: bool) -> OhlcComparison:
    first = hook.get_conn()
    try:
        shards = plan_comparison_shards(first, start, end, codes, workers=workers, doris=doris)
    except BaseException:
        first.close()
        raise
    if not shards:
        first.close()
        return OhlcComparison(start, end)

    def work(holder: list[Any], shard: Shard) -> OhlcComparison:
        if not holder:
            holder.append(hook.get_conn())
        sql, params = comparison_statement(to_naive_utc(shard.start), to_naive_utc(shard.end),
                                           codes=shard.commodity_codes, tolerance=tolerance, examples=examples,
                                           minute_index=not doris)
        try:
            rows = _cursor_rows(holder[0], bind_table(sql, table), params)
        except Exception as err:  # lost connection: temporary; SQL errors: permanent
            raise classify_mysql_error(err, where=shard.describe()) from err
        return OhlcComparison.from_rows(rows, start=to_naive_utc(shard.start), end=to_naive_utc(shard.end))

    def close(holder: list[Any]) -> None:
        for conn in holder:
            conn.close()

    return compare_shards(shards, work, start=start, end=end, examples=examples, workers=workers,
                          open_worker=list, close_worker=close, initial_states=[[first]])

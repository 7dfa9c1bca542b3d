"""OHLC correctness: bars recomputed from the raw ticks vs the stored bars, compared inside the database.

The expected bars come from the one bar definition, :func:`commodity_platform.ohlc.definition.bars_sql`
(``include/sql/ohlc/bars.sql``); this module never restates it. The comparison
(``include/sql/quality/ohlc_compare.sql``) is a full outer join on ``(commodity_code, bar_start)``
emulated with ``UNION ALL`` + ``GROUP BY`` so each side is read once, and returns only the problem bars
(at most ``examples`` of them) with the window's totals on every row. Nothing but those rows leaves the
database.

Two entry points share the same SQL text:

* :func:`comparison_sql` - the statement with ``{batch}`` left for Great Expectations (the data-quality
  DAG's ``ohlc_correctness`` check validates it as an expectation on the ``price_1min_agg`` asset).
* :func:`compare_bars` - a plain function over a DB-API connection or a hook, for ``ohlc_backfill`` to
  re-validate the windows it rewrote::

      from commodity_platform.quality.ohlc import compare_bars
      result = compare_bars(DorisHook(), start, end, codes=["WTI"], tolerance=1e-6, examples=5)
      if not result.ok:
          raise ...  # result.mismatched_bars, result.missing_bars, result.examples
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.quality import sql as qsql

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 1e-6
STORED_BARS_TABLE = "price_1min_agg"


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
        examples = [
            {k: _plain(v) for k, v in row.items()
             if k not in ("mismatched_bars", "missing_bars", "extra_bars", "differing_bars", "invariant_bars",
                          "dq_violations")}
            for row in rows
        ]
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


def _plain(value: Any) -> Any:
    """JSON/XCom-friendly scalars: Decimal as str keeps every digit, datetimes as ISO strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


def comparison_sql(start: datetime, end: datetime, *, codes: Sequence[str] | None = None,
                   tolerance: float = DEFAULT_TOLERANCE, examples: int = 10, max_mismatched: int = 0) -> str:
    """The comparison statement for ``[start, end)`` with ``{batch}`` standing for the stored bars table.

    ``examples`` limits the rows returned (at least one, so the totals always come back);
    ``max_mismatched`` only sets the ``dq_violations`` column the expectation tests.
    """
    from commodity_platform.ohlc.definition import bars_sql, format_sql_datetime

    if tolerance < 0:
        raise ConfigError(f"tolerance: must be >= 0, got {tolerance!r}")
    codes = list(codes or [])
    expected_sql, params = bars_sql(start, end, commodity_codes=codes)
    expected = qsql.escape_braces(qsql.inline_pyformat(expected_sql, params))
    return qsql.render(
        "ohlc_compare.sql",
        bars_sql=expected,
        window_start=format_sql_datetime(start),
        window_end=format_sql_datetime(end),
        stored_code_filter=qsql.in_list("commodity_code", codes),
        tolerance=qsql.number(tolerance),
        examples=max(1, int(examples)),
        max_mismatched=int(max_mismatched),
    )


def _cursor_rows(conn: Any, sql: str) -> list[dict[str, Any]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        cur.close()


def compare_bars(hook_or_conn: Any, start: datetime, end: datetime, codes: Sequence[str] | None = None, *,
                 tolerance: float = DEFAULT_TOLERANCE, examples: int = 10,
                 table: str = STORED_BARS_TABLE) -> OhlcComparison:
    """Compare the bars stored in ``table`` with the bars the ticks define, over ``[start, end)``.

    :param hook_or_conn: a hook with ``get_conn()`` (e.g. ``DorisHook``; the connection is opened and
        closed here) or an open DB-API connection (left open), connected to the platform database.
    :param start: inclusive, whole minute (UTC, naive or aware).
    :param end: exclusive, whole minute.
    :param codes: restrict to these commodity codes (both sides); ``None``: all.
    :param tolerance: relative tolerance for prices, volume and vwap: a value differs when
        ``|expected - stored| > tolerance * max(1, |expected|)``; tick_count must match exactly.
    :param examples: how many problem bars to return in :attr:`OhlcComparison.examples`.
    :param table: the stored bars (a scratch table in tests and benchmarks).
    :return: counts by kind and examples; ``result.ok`` is True when nothing differs.
    """
    from commodity_platform.quality.settings import to_naive_utc

    if not table.replace("_", "").isalnum():
        raise ConfigError(f"table: {table!r} is not a plain table name")
    start, end = to_naive_utc(start), to_naive_utc(end)
    statement = qsql.bind_batch(
        comparison_sql(start, end, codes=codes, tolerance=tolerance, examples=examples), table
    )
    owns_conn = hasattr(hook_or_conn, "get_conn")
    conn = hook_or_conn.get_conn() if owns_conn else hook_or_conn
    started = time.monotonic()
    try:
        rows = _cursor_rows(conn, statement)
    finally:
        if owns_conn:
            conn.close()
    result = OhlcComparison.from_rows(rows, start=start, end=end, elapsed_s=time.monotonic() - started)
    log.info("OHLC comparison %s in %.3f s", result.summary(), result.elapsed_s)
    return result

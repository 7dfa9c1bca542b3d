"""The data-quality DAG's OHLC-correctness check: the bar comparison as a Great Expectations query.

The comparison itself (``include/sql/ohlc/compare.sql``, :class:`OhlcComparison`, :func:`compare_bars`)
lives next to the bar definition in :mod:`commodity_platform.ohlc.comparison`, because ``ohlc_backfill``
re-validates its windows with it too; ``ohlc`` never imports ``quality``. This module adapts it for Great
Expectations, which executes a query as SQLAlchemy ``text()`` without bound parameters and substitutes
``{batch}`` itself: the parameters are inlined as validated literals (codes match the shared code pattern,
bounds are formatted datetimes, numbers are Python numbers).

The ``ohlc_correctness`` check (:mod:`commodity_platform.quality.checks`) validates :func:`comparison_sql`
as an expectation on the ``price_1min_agg`` asset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from commodity_platform.ohlc.comparison import (
    BATCH_PLACEHOLDER,
    DEFAULT_TOLERANCE,
    STORED_BARS_TABLE,
    OhlcComparison,
    compare_bars,
    comparison_statement,
)
from commodity_platform.quality import sql as qsql

__all__ = ["DEFAULT_TOLERANCE", "STORED_BARS_TABLE", "OhlcComparison", "compare_bars", "comparison_sql"]


def comparison_sql(start: datetime, end: datetime, *, codes: Sequence[str] | None = None,
                   tolerance: float = DEFAULT_TOLERANCE, examples: int = 10, max_mismatched: int = 0,
                   minute_index: bool = False) -> str:
    """The comparison statement for ``[start, end)`` with ``{batch}`` standing for the stored bars table.

    ``examples`` limits the rows returned (at least one, so the totals always come back);
    ``max_mismatched`` only sets the ``dq_violations`` column the expectation tests; ``minute_index``: the
    expected bars read the sandbox's minute index (not on Doris).
    """
    sql, params = comparison_statement(start, end, codes=codes, tolerance=tolerance, examples=examples,
                                       max_mismatched=max_mismatched, minute_index=minute_index)
    # A Great Expectations query is a str.format template: every brace but {batch} is doubled.
    escaped = qsql.escape_braces(qsql.inline_pyformat(sql, params))
    return escaped.replace(qsql.escape_braces(BATCH_PLACEHOLDER), BATCH_PLACEHOLDER)

"""The backfill's write statements, generated from the single bar definition.

``include/sql/ohlc/write_mariadb.sql`` and ``write_doris.sql`` hold only the *write idiom* of each server;
their ``-- @bars`` line is replaced by ``bars.sql`` (via :func:`~commodity_platform.ohlc.definition
.bars_sql_template`), so the bar definition exists once. ``-- @commodity_filter [column]`` lines become
``AND <column> IN (%(code_0)s, ...)`` when codes are given (bound parameters, never spliced values).

* MariaDB / MySQL (the sandbox): stage the chunk's bars in a temporary table, then ``DELETE`` the stored
  bars + ``INSERT`` the staged ones, run by the caller inside one short transaction.
* Doris: one ``INSERT ... SELECT`` into the UNIQUE KEY table that upserts new bars and deletes vanished
  ones through ``__DORIS_DELETE_SIGN__``; one statement is one atomic load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.ohlc.definition import (
    COMMODITY_FILTER_MARKER,
    apply_commodity_filter,
    bars_sql_template,
    commodity_filter_sql,
    format_sql_datetime,
)
from commodity_platform.paths import SQL_DIR

OHLC_SQL_DIR = SQL_DIR / "ohlc"
BARS_MARKER = "-- @bars"
TEMPLATES = {"doris": "write_doris.sql", "mysql": "write_mariadb.sql"}
#: How many statements each template holds, in the order ohlc/backfill.py runs them (Doris: the upsert;
#: MariaDB: drop a stale stage, stage the bars, DELETE, INSERT from the stage, drop the stage).
STATEMENT_COUNTS = {"doris": 1, "mysql": 5}


@dataclass(frozen=True)
class WritePlan:
    """The statements that rewrite one chunk, in order, and the parameters they all take."""

    dialect: str
    statements: tuple[str, ...]
    params: dict[str, Any]


@lru_cache(maxsize=8)
def spliced_sql(name: str, *, minute_index: bool = False) -> str:
    """``include/sql/ohlc/<name>`` with bars.sql spliced in at ``-- @bars``, comment lines dropped.

    The ``-- @commodity_filter [column]`` lines are kept: :func:`~commodity_platform.ohlc.definition
    .apply_commodity_filter` resolves them once the codes are known. ``minute_index``: bars.sql reads the
    sandbox's minute index (:func:`~commodity_platform.ohlc.definition.bars_sql_template`).
    """
    path = OHLC_SQL_DIR / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == BARS_MARKER:
            lines.append(bars_sql_template(minute_index=minute_index))
        elif stripped.startswith(COMMODITY_FILTER_MARKER) or (stripped and not stripped.startswith("--")):
            lines.append(line)
    spliced = "\n".join(lines)
    if BARS_MARKER in text and "GROUP BY commodity_code, bar_start" not in spliced:
        raise ConfigError(f"{path}: the bar definition was not spliced in")
    return spliced


@lru_cache(maxsize=4)
def _template_statements(dialect: str) -> tuple[str, ...]:
    """The dialect's template with bars.sql spliced in, comments dropped, split into statements."""
    if dialect not in TEMPLATES:
        raise ConfigError(f"unknown SQL dialect {dialect!r}; expected one of {sorted(TEMPLATES)}")
    path = OHLC_SQL_DIR / TEMPLATES[dialect]
    # The MySQL-protocol template runs on tables the migration runner created for a server that is not
    # Doris, which have the minute index (commodity_platform.doris.dialect).
    lines = [spliced_sql(TEMPLATES[dialect], minute_index=dialect == "mysql")]
    statements, current = [], []
    for line in "\n".join(lines).splitlines():
        if line.strip() == ";":
            statements.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    if "\n".join(current).strip():
        raise ConfigError(f"{path}: the last statement must end with a line holding only ';'")
    if len(statements) != STATEMENT_COUNTS[dialect]:
        raise ConfigError(f"{path}: expected {STATEMENT_COUNTS[dialect]} statement(s), got {len(statements)}")
    return tuple(statements)


def write_plan(start: datetime, end: datetime, *, commodity_codes: Sequence[str] | None = None,
               doris: bool) -> WritePlan:
    """Statements rewriting the bars of ``[start, end)`` (optionally only ``commodity_codes``)."""
    dialect = "doris" if doris else "mysql"
    _, params = commodity_filter_sql(commodity_codes)
    params.update(window_start=format_sql_datetime(start), window_end=format_sql_datetime(end))
    statements = tuple(apply_commodity_filter(s, commodity_codes) for s in _template_statements(dialect))
    return WritePlan(dialect=dialect, statements=statements, params=params)

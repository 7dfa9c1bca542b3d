"""Load and render the check SQL under ``include/sql/quality/``.

The files hold the SQL once, with two kinds of holes:

* ``${name}`` - values filled here (thresholds, window bounds, column names), always from validated
  settings: numbers are formatted by Python, datetimes by the bar definition's formatter, identifiers
  come from :data:`~commodity_platform.quality.settings.TABLE_SPECS`, codes match a strict pattern.
* ``{batch}`` - the table the expectation validates; Great Expectations substitutes it (its
  ``UnexpectedRowsExpectation`` contract); plain DB-API callers use
  :func:`commodity_platform.ohlc.comparison.bind_table`.

Statements are rendered with literals rather than bound parameters because Great Expectations executes
them as SQLAlchemy ``text()`` without parameters; everything inlined is validated first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from string import Template
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.paths import SQL_DIR
from commodity_platform.sql_files import load_sql

QUALITY_SQL_DIR = SQL_DIR / "quality"

_PYFORMAT_RE = re.compile(r"%\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)s")
_SAFE_LITERAL_RE = re.compile(r"^[A-Za-z0-9_.:\- ]{0,64}$")
# A colon that SQLAlchemy's text() would read as a bind parameter (":name"); escaped as "\:".
_TEXT_BIND_RE = re.compile(r"(?<![:\w\\]):(?=\w)")


@cache
def _template(name: str) -> Template:
    return Template(load_sql(QUALITY_SQL_DIR / name))


def render(name: str, **values: Any) -> str:
    """``include/sql/quality/<name>`` with its ``${...}`` placeholders filled; a missing one is an error."""
    try:
        return _template(name).substitute({k: _sql_value(v) for k, v in values.items()})
    except KeyError as err:
        raise ConfigError(f"{name}: placeholder ${{{err.args[0]}}} has no value") from err


def _sql_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def number(value: float | None) -> str:
    """A threshold as a plain decimal literal (``repr`` may give ``1e-06``, which is fine SQL, but a
    fixed-point literal keeps the arithmetic DECIMAL on both servers instead of DOUBLE)."""
    if value is None:
        return "NULL"
    text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text or "0"


def quote_literal(value: str) -> str:
    """A validated string as a SQL literal. Only plain identifiers/timestamps are accepted at all."""
    if not _SAFE_LITERAL_RE.fullmatch(value):
        raise ConfigError(f"refusing to inline {value!r} into SQL: unexpected characters")
    return f"'{value}'"


def inline_pyformat(sql: str, params: Mapping[str, Any]) -> str:
    """Replace ``%(name)s`` placeholders (the ``include/sql/ohlc`` style) with validated literals.

    Numbers stay numbers (an int for ``LIMIT``, a Decimal as a fixed-point literal so the arithmetic stays
    DECIMAL); everything else goes through :func:`quote_literal` (validated characters only).
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in params:
            raise ConfigError(f"SQL placeholder %({name})s has no value")
        value = params[name]
        if isinstance(value, bool):
            raise ConfigError(f"SQL placeholder %({name})s: a boolean is not a SQL value here")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, Decimal):
            return format(value, "f")
        return quote_literal(str(value))

    return _PYFORMAT_RE.sub(substitute, sql)


def in_list(column: str, values: Sequence[str]) -> str:
    """``AND column IN ('a', 'b')`` for validated values; empty when there are none."""
    if not values:
        return ""
    return f"AND {column} IN ({', '.join(quote_literal(v) for v in values)})"


def escape_braces(sql: str) -> str:
    """Make SQL safe inside a Great Expectations query, which is a ``str.format`` template."""
    return sql.replace("{", "{{").replace("}", "}}")


def for_sqlalchemy_text(sql: str) -> str:
    """Escape colons that SQLAlchemy ``text()`` would take for bind parameters."""
    return _TEXT_BIND_RE.sub(r"\\:", sql)


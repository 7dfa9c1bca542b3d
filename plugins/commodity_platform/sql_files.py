"""Loading the project's ``.sql`` files (``include/sql/...``): one helper for every reader.

The files carry their explanation as ``--`` comment lines. Those lines are dropped when a statement is
loaded: pyformat substitution (``%(name)s``) and ``string.Template`` (``${name}``) would otherwise scan
them too, and the statement lands in task logs and GX reports, where a header is noise. A few comment
lines are *markers* that say where generated SQL goes (``-- @commodity_filter``); a caller names the
markers it needs kept.

Cached per (path, markers): the files are part of the deployment and do not change while a process runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from commodity_platform.errors import ConfigError


def statement_lines(text: str, *, keep_markers: Iterable[str] = ()) -> list[str]:
    """The non-blank lines of ``text`` that are not ``--`` comments (marker lines, stripped, are kept)."""
    markers = frozenset(keep_markers)
    return [line for line in text.splitlines()
            if line.strip() and (not line.lstrip().startswith("--") or line.strip() in markers)]


def load_sql(path: Path, *, keep_markers: Iterable[str] = ()) -> str:
    """The SQL of ``path`` without blank and comment lines (see :func:`statement_lines`).

    A file that cannot be read is a ConfigError naming it (a broken deployment, not a transient fault).
    """
    return _load(Path(path), frozenset(keep_markers))


@cache
def _load(path: Path, keep_markers: frozenset[str]) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read SQL file {path}: {err}") from err
    return "\n".join(statement_lines(text, keep_markers=keep_markers))

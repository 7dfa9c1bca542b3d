"""One loader for the project's .sql files (commodity_platform.sql_files), used by the data-quality checks
and by the sandbox's live feed (which had its own copy, with its own error text and marker rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from commodity_platform.errors import ConfigError
from commodity_platform.ohlc.definition import COMMODITY_FILTER_MARKER
from commodity_platform.sql_files import load_sql, statement_lines


def test_comments_and_blank_lines_go_named_markers_stay(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("-- what this does\nSELECT 1\n\n  -- @commodity_filter\n  -- another note\nFROM t\n",
                    encoding="utf-8")
    assert load_sql(path) == "SELECT 1\nFROM t"
    assert load_sql(path, keep_markers=[COMMODITY_FILTER_MARKER]) == "SELECT 1\n  -- @commodity_filter\nFROM t"
    assert statement_lines("-- x\nSELECT 2") == ["SELECT 2"]


def test_both_readers_go_through_the_one_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quality checks and the live feed read the same way and fail with the same message."""
    from commodity_platform.quality import sql as qsql
    from sandbox import live_feed

    monkeypatch.setattr(qsql, "QUALITY_SQL_DIR", tmp_path)
    monkeypatch.setattr(live_feed, "LIVE_FEED_SQL_DIR", tmp_path)
    qsql._template.cache_clear()
    (tmp_path / "filtered.sql").write_text(
        "-- doc\nDELETE FROM t WHERE a >= %(since)s\n  -- @commodity_filter\n", encoding="utf-8")
    sql, params = live_feed.live_feed_sql("filtered.sql", ["WTI"])
    assert sql == "DELETE FROM t WHERE a >= %(since)s\n  AND commodity_code IN (%(code_0)s)"
    assert params == {"code_0": "WTI"}
    (tmp_path / "check.sql").write_text("-- doc\nSELECT ${x}\n", encoding="utf-8")
    assert qsql.render("check.sql", x=1) == "SELECT 1"
    for read in (lambda: live_feed.live_feed_sql("absent.sql"), lambda: qsql.render("absent2.sql")):
        with pytest.raises(ConfigError, match=r"^cannot read SQL file .*absent2?\.sql"):
            read()
    qsql._template.cache_clear()

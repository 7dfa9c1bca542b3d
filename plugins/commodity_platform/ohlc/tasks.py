"""What the ``ohlc_backfill`` tasks do, kept out of the DAG file so it parses without touching anything.

Each function takes plain values (Params, the data interval, a connection id) and returns JSON-friendly
dicts for XCom. Permanent errors become ``AirflowFailException`` (no retry); temporary ones propagate so
the task's retries with exponential backoff apply.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from commodity_platform.errors import PermanentError
from commodity_platform.ohlc.window import check_known_codes, resolve_window
from commodity_platform.window import DEFAULT_CHUNK_MINUTES, Window
from commodity_platform.task_errors import permanent_errors_fail_fast
from commodity_platform.validation import cap_list

log = logging.getLogger(__name__)


def _hook(conn_id: str) -> Any:
    from commodity_platform.doris.hook import DorisHook

    return DorisHook(doris_conn_id=conn_id)


def resolve_window_task(params: dict[str, Any], *, data_interval_start: datetime | None,
                        data_interval_end: datetime | None, conn_id: str) -> dict[str, Any]:
    """Validate Params (or take the data interval) and check the codes exist; returns the window."""
    with permanent_errors_fail_fast():
        window = resolve_window(params, data_interval_start=data_interval_start, data_interval_end=data_interval_end)
        if window.commodity_codes:
            conn = _hook(conn_id).get_conn()
            try:
                check_known_codes(conn, window.commodity_codes)
            except PermanentError:
                raise
            except Exception as err:
                from commodity_platform.errors import classify_mysql_error

                raise classify_mysql_error(err, where="checking commodity_codes") from err
            finally:
                conn.close()
    chunk_minutes = int(params.get("chunk_minutes") or DEFAULT_CHUNK_MINUTES)
    log.info("window [%s, %s) from %s, codes=%s: %d minutes in %d chunk(s)", window.start, window.end,
             window.source, cap_list(window.commodity_codes) if window.commodity_codes else "all", window.minutes,
             len(window.chunks(chunk_minutes)))
    return window.as_dict()


def rebuild_task(window: dict[str, Any], *, conn_id: str, chunk_minutes: int = DEFAULT_CHUNK_MINUTES) -> dict[str, Any]:
    """Rewrite the window's bars in the warehouse (Doris idiom on Doris, a transaction elsewhere)."""
    from commodity_platform.errors import classify_mysql_error
    from commodity_platform.ohlc.backfill import OhlcBackfill

    hook = _hook(conn_id)
    with permanent_errors_fail_fast():
        try:
            doris = hook.is_doris()
        except Exception as err:
            raise classify_mysql_error(err, where=f"connecting to {conn_id}") from err
        report = OhlcBackfill(hook.get_conn, doris=doris, chunk_minutes=chunk_minutes).run(Window.from_dict(window))
    return report.summary()


def verify_task(window: dict[str, Any], *, conn_id: str, tolerance: float = 1e-6) -> dict[str, Any]:
    """Re-validate the rewritten window with the data-quality DAG's OHLC comparison (missing/extra/different).

    Uses :func:`commodity_platform.ohlc.comparison.compare_bars` -- the same query the streaming_data_quality
    DAG runs, itself built on the shared bar definition -- so "backfilled" and "correct" mean the same.
    """
    from commodity_platform.ohlc.comparison import compare_bars

    win = Window.from_dict(window)
    with permanent_errors_fail_fast():
        result = compare_bars(_hook(conn_id), win.start, win.end, list(win.commodity_codes) or None,
                              tolerance=tolerance, examples=5)
        if not result.ok:
            raise PermanentError(
                f"bars of [{window['start']}, {window['end']}) do not match the ticks after the rebuild: "
                f"{result.summary()}; examples: {result.examples}. A concurrent writer (Flink sink) or a changed "
                "bar definition is the likely cause; re-run the window."
            )
    log.info("verified: %s", result.summary())
    return {"ok": True, "checked_in_seconds": round(result.elapsed_s, 3)}

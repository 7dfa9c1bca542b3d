"""What the ``ohlc_backfill`` tasks do, kept out of the DAG file so it parses without touching anything.

Each function takes the run's Params (read through the DAG's one table, :data:`~.params.BACKFILL_PARAMS`),
the data interval and a connection id, and returns JSON-friendly dicts for XCom. Permanent errors become
``AirflowFailException`` (no retry); temporary ones propagate so the task's retries with backoff apply.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from commodity_platform.connections import DORIS_CONN_ID
from commodity_platform.errors import PermanentError, classify_mysql_error
from commodity_platform.ohlc.params import BACKFILL_PARAMS
from commodity_platform.ohlc.window import check_known_codes, resolve_window
from commodity_platform.params import resolve_params
from commodity_platform.task_errors import permanent_errors_fail_fast
from commodity_platform.validation import cap_list
from commodity_platform.window import Window

log = logging.getLogger(__name__)


def _hook(conn_id: str) -> Any:
    from commodity_platform.doris.hook import DorisHook

    return DorisHook(doris_conn_id=conn_id)


def resolve_window_task(params: Mapping[str, Any] | None, *, data_interval_start: datetime | None,
                        data_interval_end: datetime | None, conn_id: str = DORIS_CONN_ID) -> dict[str, Any]:
    """Validate Params (or take the data interval) and check the codes exist; returns the window."""
    with permanent_errors_fail_fast():
        values = resolve_params(BACKFILL_PARAMS, params)
        window = resolve_window(values, data_interval_start=data_interval_start, data_interval_end=data_interval_end)
        if window.commodity_codes:
            conn = _hook(conn_id).get_conn()
            try:
                check_known_codes(conn, window.commodity_codes)
            except PermanentError:
                raise
            except Exception as err:
                raise classify_mysql_error(err, where="checking commodity_codes") from err
            finally:
                conn.close()
        chunks = len(window.chunks(int(values["chunk_minutes"])))
    log.info("window [%s, %s) from %s, codes=%s: %d minutes in %d chunk(s)", window.start, window.end,
             window.source, cap_list(window.commodity_codes) if window.commodity_codes else "all", window.minutes,
             chunks)
    return window.as_dict()


def rebuild_task(window: dict[str, Any], params: Mapping[str, Any] | None, *,
                 conn_id: str = DORIS_CONN_ID) -> dict[str, Any]:
    """Rewrite the window's bars in the warehouse (Doris idiom on Doris, a transaction elsewhere), shard by
    shard on ``parallel_workers`` connections."""
    from commodity_platform.ohlc.backfill import OhlcBackfill
    from commodity_platform.ohlc.shards import resolve_workers

    hook = _hook(conn_id)
    with permanent_errors_fail_fast():
        values = resolve_params(BACKFILL_PARAMS, params)
        try:
            doris = hook.is_doris()
        except Exception as err:
            raise classify_mysql_error(err, where=f"connecting to {conn_id}") from err
        workers = resolve_workers(values["parallel_workers"], doris=doris)
        report = OhlcBackfill(hook.get_conn, doris=doris, chunk_minutes=int(values["chunk_minutes"]),
                              workers=workers).run(Window.from_dict(window))
    return report.as_dict()


def verify_task(window: dict[str, Any], *, conn_id: str = DORIS_CONN_ID, tolerance: float = 1e-6,
                workers: int = 1) -> dict[str, Any]:
    """Re-validate the rewritten window with the data-quality DAG's OHLC comparison (missing/extra/different),
    sharded over ``workers`` connections like the rebuild.

    Uses :func:`commodity_platform.ohlc.comparison.compare_bars` -- the same query the streaming_data_quality
    DAG runs, itself built on the shared bar definition -- so "backfilled" and "correct" mean the same.
    """
    from commodity_platform.ohlc.comparison import compare_bars

    win = Window.from_dict(window)
    hook = _hook(conn_id)
    with permanent_errors_fail_fast():
        try:
            doris = hook.is_doris()
        except Exception as err:
            raise classify_mysql_error(err, where=f"connecting to {conn_id}") from err
        result = compare_bars(hook, win.start, win.end, list(win.commodity_codes) or None,
                              tolerance=tolerance, examples=5, workers=workers, doris=doris)
        if not result.ok:
            raise PermanentError(
                f"bars of [{window['start']}, {window['end']}) do not match the ticks after the rebuild: "
                f"{result.summary()}; examples: {result.examples}. A concurrent writer (Flink sink) or a changed "
                "bar definition is the likely cause; re-run the window."
            )
    log.info("verified: %s", result.summary())
    return {"ok": True, "checked_in_seconds": round(result.elapsed_s, 3)}


def asset_extra(window: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """What the ``price_1min_agg`` asset event says about this rebuild."""
    return {
        "start": window["start"], "end": window["end"], "commodity_codes": window["commodity_codes"],
        "bars_written": report["bars_written"], "bars_deleted": report["bars_deleted"], "source": "ohlc_backfill",
    }

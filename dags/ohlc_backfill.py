"""
### OHLC backfill: rebuild 1-minute bars from the raw ticks

Recomputes `price_1min_agg` for a window from `energy_prices_rt` inside the warehouse (`doris_default`;
no tick leaves the database), with the one bar definition shared with the Flink aggregator and the
data-quality check (`include/sql/ohlc/bars.sql`).

**Window.** Each run covers its data interval (hourly, UTC). The Params `start`/`end` (ISO-8601 UTC, whole
minutes, `end` exclusive) override it; `commodity_codes` narrows the codes (upper-cased).
Trigger with `start`/`end` in the UI, or: `airflow backfill create --dag-id ohlc_backfill --from-date
2026-01-01 --to-date 2026-01-03` (one run per hour; `catchup` is off).

**Tasks.** `resolve_window` validates (fails without retry on a bad window or an unknown code) ->
`rebuild_bars` rewrites the window shard by shard on `parallel_workers` connections (0: the worker's cores
on the sandbox, 1 on Doris): chunks of `chunk_minutes` (a day) x commodity-code groups on Doris, time slices
of the time-clustered tick table on the sandbox.
Each shard atomically replaces its bars, so re-runs are idempotent; a failed shard leaves the others rebuilt
and is named in the error -> `verify_bars` re-checks the window with the data-quality comparison and
emits the `price_1min_agg` asset. Details: `plugins/commodity_platform/ohlc/`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, task

from commodity_platform.assets import PRICE_1MIN_AGG
from commodity_platform.connections import DORIS_CONN_ID
from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.ohlc.params import BACKFILL_PARAMS
from commodity_platform.params import dag_params


@dag(
    dag_id="ohlc_backfill",
    doc_md=__doc__,
    # A data-interval timetable: each run owns [previous hour, this hour) (a plain cron string would give a
    # point-in-time trigger timetable in Airflow 3, data_interval_start == end).
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    tags=["ohlc", "doris", "backfill", "commodity-platform"],
    params=dag_params(BACKFILL_PARAMS),
)
def ohlc_backfill() -> None:
    @task
    def resolve_window(params: Any = None, data_interval_start: Any = None, data_interval_end: Any = None) -> Any:
        from commodity_platform.ohlc.tasks import resolve_window_task

        return resolve_window_task(params, data_interval_start=data_interval_start,
                                   data_interval_end=data_interval_end, conn_id=DORIS_CONN_ID)

    @task
    def rebuild_bars(window: dict[str, Any], params: Any = None) -> dict[str, Any]:
        from commodity_platform.ohlc.tasks import rebuild_task

        return rebuild_task(window, params, conn_id=DORIS_CONN_ID)

    @task(outlets=[PRICE_1MIN_AGG])
    def verify_bars(window: dict[str, Any], report: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        from commodity_platform.ohlc.tasks import asset_extra, verify_task

        result = verify_task(window, conn_id=DORIS_CONN_ID, workers=report["workers"])
        outlet_events[PRICE_1MIN_AGG].extra = asset_extra(window, report)
        return {**result, "bars_written": report["bars_written"], "seconds": report["seconds"]}

    window = resolve_window()
    verify_bars(window, rebuild_bars(window))


ohlc_backfill()

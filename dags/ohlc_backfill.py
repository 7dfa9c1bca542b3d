"""
### OHLC backfill: rebuild 1-minute bars from the raw ticks

Recomputes `price_1min_agg` for a window from `energy_prices_rt`, inside the warehouse of the
`doris_default` connection (no tick leaves the database), with the one bar definition shared with the
Flink aggregator and the data-quality check (`include/sql/ohlc/bars.sql`).

**Window.** Each run covers its data interval (hourly, `[hh:00, hh+1:00)` UTC). The Params `start` and
`end` (ISO-8601 UTC, whole minutes, `end` exclusive) override it; `commodity_codes` narrows the codes.

* Scheduled: every hour, re-finalizes the hour that just closed (late ticks, Flink restarts).
* UI: *Trigger* with `start`/`end`, or `airflow dags test ohlc_backfill -c '{"start": "2026-01-01T00:00:00Z",
  "end": "2026-01-02T00:00:00Z"}'`.
* Date ranges: `airflow backfill create --dag-id ohlc_backfill --from-date 2026-01-01 --to-date 2026-01-03`
  creates one run per hour in the range (backfills ignore `catchup`, which is off so that enabling the DAG
  does not queue every hour since `start_date`).

**Tasks.** `resolve_window` validates (fails without retry on: end <= start, a bound that is not a whole
minute or not UTC, a span over `max_span_days`, a code with no ticks at all) ->
`rebuild_bars` rewrites the window chunk by chunk (a day per statement, progress in the log); each chunk
atomically replaces the stored bars (MariaDB: DELETE + INSERT...SELECT in one transaction; Doris: one
upsert load with delete-sign rows for minutes that lost their ticks), so re-runs are idempotent ->
`verify_bars` re-checks the window with the data-quality DAG's OHLC comparison and emits the
`price_1min_agg` asset with the window in the event's extra.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from commodity_platform.assets import PRICE_1MIN_AGG
from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE

CONN_ID = "doris_default"


@dag(
    dag_id="ohlc_backfill",
    doc_md=__doc__,
    # A data-interval timetable: each run owns [previous hour, this hour), which is what backfill ranges
    # and the hourly re-finalization map to. (A plain cron string gives a point-in-time trigger timetable
    # in Airflow 3 unless [scheduler] create_cron_data_intervals is set: data_interval_start == end.)
    # The cron must fire on the hour: the interval runs between consecutive fire times.
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    tags=["ohlc", "doris", "backfill", "commodity-platform"],
    params={
        "start": Param(
            None, type=["null", "string"], title="Window start (UTC)",
            description="Window start, ISO-8601 UTC, whole minute, inclusive (e.g. 2026-01-01T00:00:00Z). "
                        "Empty: the run's data interval.",
        ),
        "end": Param(
            None, type=["null", "string"], title="Window end (UTC)",
            description="Window end, ISO-8601 UTC, whole minute, exclusive (e.g. 2026-01-02T00:00:00Z). "
                        "Give both start and end or neither.",
        ),
        "commodity_codes": Param(
            None, type=["null", "array"], items={"type": "string"}, title="Commodity codes",
            # An array of strings renders as a textarea that splits on new lines (Airflow UI FlexibleForm).
            description="Only rebuild these commodity codes, one code per line (e.g. WTI, then BRENT on the "
                        "next line); empty: all. A code with no ticks at all fails the run.",
        ),
        "max_span_days": Param(
            31, type="integer", minimum=1, title="Maximum window (days)",
            description="Safety limit on the window length in days; raise deliberately for a bigger rebuild.",
        ),
        "chunk_minutes": Param(
            1440, type="integer", minimum=1, maximum=10080, title="Chunk size (minutes)",
            description="Minutes per write statement/transaction (default a day, aligned to UTC midnight).",
        ),
    },
)
def ohlc_backfill() -> None:
    # Validation errors are permanent (AirflowFailException), so retries only cover the DB probe.
    @task
    def resolve_window(
        params: dict[str, Any] | None = None,
        data_interval_start: Any = None,
        data_interval_end: Any = None,
    ) -> dict[str, Any]:
        from commodity_platform.ohlc.tasks import resolve_window_task

        assert params is not None
        return resolve_window_task(dict(params), data_interval_start=data_interval_start,
                                   data_interval_end=data_interval_end, conn_id=CONN_ID)

    @task
    def rebuild_bars(window: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        from commodity_platform.ohlc.tasks import rebuild_task

        assert params is not None
        return rebuild_task(window, conn_id=CONN_ID, chunk_minutes=int(params["chunk_minutes"]))

    @task(outlets=[PRICE_1MIN_AGG])
    def verify_bars(window: dict[str, Any], report: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        from commodity_platform.ohlc.tasks import verify_task

        result = verify_task(window, conn_id=CONN_ID)
        outlet_events[PRICE_1MIN_AGG].extra = {
            "start": window["start"], "end": window["end"], "commodity_codes": window["commodity_codes"],
            "bars_written": report["bars_written"], "bars_deleted": report["bars_deleted"],
            "source": "ohlc_backfill",
        }
        return {**result, "bars_written": report["bars_written"], "seconds": report["seconds"]}

    window = resolve_window()
    report = rebuild_bars(window)
    verify_bars(window, report)


ohlc_backfill()

"""
### Streaming data quality

Proves, every few minutes, that the platform's prices are fresh and correct, and tells Prometheus when
they are not. Each check is a Great Expectations (GX Core) expectation executed *inside* the warehouse
of `doris_default` (SQL data source; nothing is pulled into pandas):

* **freshness** - age of the newest row of each table in `freshness_tables` (per `commodity_code` where
  it applies) as of `as_of`, against the table's threshold; plus the p95 ingest latency
  (`ingest_time - event_time`) against the < 1 s processing target (`latency_p95_max_seconds`).
* **error_rate** - invalid ticks / all ticks in the window (invalid = ignored by the shared bar
  definition); on Doris, Routine Load `errorRows/totalRows` per job and jobs not RUNNING; when
  `kafka_connect_default` exists, connectors/tasks not RUNNING. Sources that are not configured are
  reported as not applicable, not as failures.
* **ohlc_correctness** - bars recomputed from the ticks with the shared definition
  (`include/sql/ohlc/bars.sql`) vs `price_1min_agg`: missing, extra and differing bars and broken
  OHLC invariants, with example rows in the log.
* **publish** (runs even when checks fail) - reads the run's rows from `dq_results`, writes the HTML
  report (path in its log) and pushes all metrics to `pushgateway_default` as job
  `streaming_data_quality`, grouping key `instance=<instance>`.

* **verdict** - fails the run when a check did not pass or the push failed, so the run's state
  (which Airflow takes from its last task) is never green over a red check.

A failing check fails its own task; every check still runs and is pushed. Alert rules:
`include/manifests/07-monitoring/prometheusrule-data-quality.yaml`.

The schedule defaults to every 5 minutes; set `STREAMING_DQ_SCHEDULE` (cron) in the scheduler's
environment to change it.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import Param, dag, task

from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.quality.settings import DEFAULT_FRESHNESS_TABLES, DEFAULT_INSTANCE, INSTANCE_PATTERN
from commodity_platform.validation import finite_number_schema, strict_param_pattern

SCHEDULE = os.environ.get("STREAMING_DQ_SCHEDULE", "*/5 * * * *")
# Param schemas: numbers must be finite (NaN/inf refused by name), the instance matched whole.
_SHARE = finite_number_schema(type="number", minimum=0, maximum=1)
_POSITIVE_OR_NULL = finite_number_schema(type=["null", "number"], exclusiveMinimum=0)
_INSTANCE = strict_param_pattern(INSTANCE_PATTERN)

_TIMESTAMP = ["null", "string"]


def _settings() -> Any:
    """This run's validated settings; as_of defaults to the data-interval end so retries agree."""
    from airflow.sdk import get_current_context

    from commodity_platform.quality.tasks import build_settings

    context = get_current_context()
    dag_run = context["dag_run"]
    default_as_of = context.get("data_interval_end") or dag_run.run_after
    return build_settings(context["params"], run_id=context["run_id"], default_as_of=default_as_of)


def _check(name: str) -> dict[str, Any]:
    from commodity_platform.quality.tasks import run_check
    from commodity_platform.task_errors import permanent_errors_fail_fast

    with permanent_errors_fail_fast():
        return run_check(name, _settings())


@dag(
    dag_id="streaming_data_quality",
    doc_md=__doc__,
    schedule=SCHEDULE,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["data-quality", "monitoring", "commodity-platform"],
    params={
        "as_of": Param(None, type=_TIMESTAMP, title="Evaluate as of (UTC)", description=(
            "Evaluate as of this instant (ISO-8601, UTC if no offset, e.g. 2026-03-01T12:00:00Z) "
            "instead of the run's data-interval end; "
            "for re-checking history and for tests.")),
        "start": Param(None, type=_TIMESTAMP, title="Window start (UTC)", description=(
            "Start (inclusive, whole minute, e.g. 2026-03-01T11:00:00Z) of the error-rate/OHLC window. "
            "Empty: end - window_minutes.")),
        "end": Param(None, type=_TIMESTAMP, title="Window end (UTC)", description=(
            "End (exclusive, whole minute, e.g. 2026-03-01T12:00:00Z) of the window. "
            "Empty: the last minute closed settle_seconds "
            "before as_of.")),
        "window_minutes": Param(60, type="integer", minimum=1, maximum=10080, title="Window length (minutes)",
                                description="Length of the default window in minutes (the last N closed minutes)."),
        "settle_seconds": Param(120, type="integer", minimum=0, maximum=3600, title="Settle time (s)", description=(
            "A minute counts as closed this long after it ends (the aggregator's allowed lateness).")),
        "freshness_tables": Param(DEFAULT_FRESHNESS_TABLES, type="object", title="Freshness: max lag per table (s)",
                                  additionalProperties=_POSITIVE_OR_NULL,
                                  # An object renders as a JSON editor (Airflow UI FlexibleForm): JSON example.
                                  description=(
            "Tables to check for freshness and each one's maximum lag in seconds, as a JSON object, e.g. "
            '{"energy_prices_rt": 300, "price_1min_agg": 360} (default: all five platform tables).')),
        "freshness_lookback_minutes": Param(1440, type="integer", minimum=1, title="Freshness look-back (minutes)",
                                            description=(
            "Only rows this recent count for freshness; a commodity silent for longer drops out of the "
            "per-commodity lags (the table-level lag still fails).")),
        "latency_p95_max_seconds": Param(1.0, **finite_number_schema(type=["null", "number"], minimum=0),
                                         title="Maximum ingest latency p95 (s)", description=(
            "Maximum p95 of ingest_time - event_time (the platform's < 1 s target); empty = report only.")),
        "invalid_tick_rate_max": Param(0.01, **_SHARE, title="Maximum invalid-tick share",
                                       description="Maximum share of invalid ticks in the window (0.01 = 1 %)."),
        "routine_load_error_rate_max": Param(0.01, **_SHARE,
                                             title="Maximum Routine Load error share",
                                             description="Maximum errorRows/totalRows per Doris Routine Load job."),
        "ohlc_tolerance": Param(1e-6, **_SHARE, title="OHLC relative tolerance",
                                description=(
            "Relative tolerance for bar values: differ when |expected - stored| > tol * max(1, |expected|).")),
        "ohlc_max_mismatched_bars": Param(0, type="integer", minimum=0, title="Tolerated OHLC problem bars",
                                          description="Problem bars tolerated in the window before the check fails."),
        # An array of strings renders as a textarea that splits on new lines (Airflow UI FlexibleForm).
        "commodity_codes": Param(None, type=["null", "array"], items={"type": "string"}, title="Commodity codes",
                                 description=(
            "Restrict the OHLC check to these commodity codes, one code per line (e.g. WTI, then BRENT on the "
            "next line); empty: all.")),
        "examples": Param(10, type="integer", minimum=0, maximum=1000, title="Example rows",
                          description="Example rows logged and kept per failing expectation."),
        "instance": Param(DEFAULT_INSTANCE, type="string", pattern=_INSTANCE, title="Pushgateway instance label",
                          description=(
            "Pushgateway grouping key value (instance label), e.g. commodity-platform: one group per deployment.")),
        "report_dir": Param(None, type=["null", "string"], title="Report folder", description=(
            "Folder for the HTML reports, relative to (or inside) the base directory STREAMING_DQ_REPORT_BASE_DIR "
            "(default $AIRFLOW_HOME/dq-reports); a path resolving outside the base is refused. Empty: the base.")),
    },
)
def streaming_data_quality() -> None:
    @task
    def freshness() -> dict[str, Any]:
        return _check("freshness")

    @task
    def error_rate() -> dict[str, Any]:
        return _check("error_rate")

    @task
    def ohlc_correctness() -> dict[str, Any]:
        return _check("ohlc_correctness")

    @task(trigger_rule="all_done")
    def publish() -> dict[str, Any]:
        from commodity_platform.quality.tasks import publish as publish_results
        from commodity_platform.task_errors import permanent_errors_fail_fast

        with permanent_errors_fail_fast():
            return publish_results(_settings())

    @task(trigger_rule="all_done")
    def verdict(published: dict[str, Any] | None) -> None:
        """Fail the run when any check did not pass (the run's state follows its last task)."""
        from commodity_platform.quality.tasks import verdict as judge

        judge(published)

    published = publish()
    [freshness(), error_rate(), ohlc_correctness()] >> published
    verdict(published)


streaming_data_quality()

"""
### Streaming data quality

Proves, every few minutes, that the platform's prices are fresh and correct, and tells Prometheus when
they are not. Each check is a Great Expectations (GX Core) expectation executed *inside* the warehouse
of `doris_default` (nothing is pulled into pandas):

* **run_checks** - imports GX once and evaluates every check, saving each result to `dq_results`.
* **freshness** - newest row of each table in `freshness_tables` (per `commodity_code` where it applies)
  against its maximum lag, and the p95 ingest latency against `latency_p95_max_seconds`.
* **error_rate** - invalid ticks in the window; on Doris, Routine Load error rates and states; Kafka
  Connect connectors/tasks not RUNNING when `kafka_connect_default` exists (else: not applicable).
* **ohlc_correctness** - bars recomputed from the ticks (`include/sql/ohlc/bars.sql`) vs
  `price_1min_agg`: missing, extra, differing bars and broken invariants, examples in the log; split into
  shards compared at once on `parallel_workers` connections as `ohlc_backfill` splits its window.
* **publish** (runs even when checks fail) - HTML report (path in its log) and every metric pushed to
  `pushgateway_default`, job `streaming_data_quality`, grouping key `instance=<instance>`.
* **verdict** - fails the run when a check did not pass or the push failed.

Each check task logs its own result and fails when its check did not pass. Durations are in seconds.
Alert rules: `include/manifests/07-monitoring/prometheusrule-data-quality.yaml`. Schedule: every
5 minutes, or the cron in `STREAMING_DQ_SCHEDULE` (scheduler environment). Code:
`commodity_platform/quality/tasks.py`.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import dag, task

from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.params import dag_params
from commodity_platform.quality.params import DQ_PARAMS
from commodity_platform.quality.settings import CHECKS

SCHEDULE = os.environ.get("STREAMING_DQ_SCHEDULE", "*/5 * * * *")


@dag(dag_id="streaming_data_quality", doc_md=__doc__, schedule=SCHEDULE, start_date=START_DATE, catchup=False,
     max_active_runs=1, default_args=DEFAULT_ARGS, tags=["data-quality", "monitoring", "commodity-platform"],
     params=dag_params(DQ_PARAMS))
def streaming_data_quality() -> None:
    @task
    def run_checks() -> dict[str, Any]:
        from commodity_platform.quality.tasks import run_checks_task

        return run_checks_task()

    def check_task(check: str) -> Any:
        @task(task_id=check, trigger_rule="all_done")
        def report(results: dict[str, Any] | None) -> dict[str, Any]:
            from commodity_platform.quality.tasks import check_result_task

            return check_result_task(check, results)

        return report

    @task(trigger_rule="all_done")
    def publish() -> dict[str, Any]:
        from commodity_platform.quality.tasks import publish_task

        return publish_task()

    @task(trigger_rule="all_done")
    def verdict(published: dict[str, Any] | None) -> None:
        from commodity_platform.quality.tasks import verdict as judge

        judge(published)

    results = run_checks()
    published = publish()
    results >> published
    verdict(published) << [check_task(check)(results) for check in CHECKS]


streaming_data_quality()

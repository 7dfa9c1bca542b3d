"""The data-quality DAG's layout before issue 16 #4, kept for ``benchmarks/bench_dq_scheduled.py`` only.

Three check tasks, each evaluating its own check in its own process (so each imports Great Expectations
and builds its own GX context), then publish and verdict, exactly as the DAG ran before. Same Params,
same check code and same SQL as ``dags/streaming_data_quality.py``: the only difference is how the GX
work is spread over task processes. Never deployed: the benchmark copies it into a temporary DAG folder.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from commodity_platform.dag_defaults import DEFAULT_ARGS, START_DATE
from commodity_platform.params import dag_params
from commodity_platform.quality.params import DQ_PARAMS
from commodity_platform.quality.settings import CHECKS


@dag(dag_id="streaming_data_quality_before", schedule=None, start_date=START_DATE, catchup=False,
     max_active_runs=1, default_args=DEFAULT_ARGS, tags=["benchmark"], params=dag_params(DQ_PARAMS))
def streaming_data_quality_before() -> None:
    def check_task(check: str) -> Any:
        @task(task_id=check)
        def run_one() -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            from commodity_platform.quality.tasks import run_checks, run_settings

            result = run_checks(run_settings(), checks=(check,))[check]
            if result["status"] != "pass":
                raise AirflowFailException(f"data-quality check {check} failed: {result['summary']}")
            return result

        return run_one

    @task(trigger_rule="all_done")
    def publish() -> dict[str, Any]:
        from commodity_platform.quality.tasks import publish_task

        return publish_task()

    @task(trigger_rule="all_done")
    def verdict(published: dict[str, Any] | None) -> None:
        from commodity_platform.quality.tasks import verdict as judge

        judge(published)

    published = publish()
    [check_task(check)() for check in CHECKS] >> published
    verdict(published)


streaming_data_quality_before()

"""Task bodies of ``streaming_data_quality`` (the DAG file only wires them).

Why one task evaluates every check: each Airflow task is its own process, and ``import
great_expectations`` costs seconds of CPU (measured by ``benchmarks/bench_dq_scheduled.py``); three check
tasks paid it three times per run. Now:

* :func:`run_checks_task` imports GX once, evaluates every check in one ephemeral GX context (each check
  in its own ``try``: one check that cannot run does not stop the others), **saves each result to
  dq_results** and returns them as XCom. It fails only when retrying can help (a TemporaryError: the
  warehouse is unreachable), after saving the other checks' rows; Airflow then retries the whole task.
* :func:`check_result_task` - one cheap task per check (task ids ``freshness``, ``error_rate``,
  ``ohlc_correctness``, as before, so the grid, alerts and links keep their names): logs its check's
  summary, metric samples and example problem rows and **fails when the check did not pass**. It reads
  the XCom; when the GX task left none (it failed), the check's row in dq_results, and a check with no
  row fails as ``missing``. No GX, no warehouse connection in the common path.
* :func:`publish` runs whatever happened upstream (``all_done``), reads this run's rows, writes the HTML
  report, and pushes every check's metrics; a check with no row is pushed as failing.
* :func:`verdict` fails the run when a check did not pass or the push failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from commodity_platform.errors import PermanentError, TemporaryError
from commodity_platform.quality.results import CheckResult
from commodity_platform.quality.settings import CHECKS, DQSettings, settings_from_params

log = logging.getLogger(__name__)


def run_settings() -> DQSettings:
    """This run's validated settings; ``as_of`` defaults to the data-interval end so retries agree."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    default_as_of = context.get("data_interval_end") or context["dag_run"].run_after
    return settings_from_params(context["params"], run_id=context["run_id"], default_as_of=default_as_of)


def _connect_factory(conn_id: str) -> Callable[[], Any] | None:
    """A KafkaConnectHook factory when the connection exists; None means "not configured here"."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from commodity_platform.kafka_connect.hook import KafkaConnectHook

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    return lambda: KafkaConnectHook(kafka_connect_conn_id=conn_id, retries=3, backoff_seconds=1.0)


def evaluate(check: str, settings: DQSettings, gx: Any, *, hook: Any,
             connect_factory: Callable[[], Any] | str | None = "auto") -> CheckResult:
    """Run one check on an open :class:`~.gx.GxWarehouse` of ``hook``'s warehouse and return its result."""
    from commodity_platform.quality import checks

    if check not in CHECKS:
        raise PermanentError(f"unknown check {check!r}; known: {CHECKS}")
    is_doris = hook.is_doris()
    if check == "freshness":
        return checks.freshness_check(settings, gx, is_doris=is_doris)
    if check == "error_rate":
        factory = _connect_factory(settings.kafka_connect_conn_id) if connect_factory == "auto" else connect_factory
        return checks.error_rate_check(settings, gx, doris_hook=hook, is_doris=is_doris,
                                       connect_hook_factory=factory)  # type: ignore[arg-type]
    from commodity_platform.ohlc.shards import resolve_workers

    return checks.ohlc_check(settings, gx, workers=resolve_workers(settings.parallel_workers, doris=is_doris),
                             doris=is_doris, hook=hook)


def run_checks(settings: DQSettings, *, checks: Sequence[str] = CHECKS,
               connect_factory: Callable[[], Any] | str | None = "auto") -> dict[str, dict[str, Any]]:
    """Evaluate ``checks`` in one GX context, save each result (pass, fail or error), return them by check.

    A check that cannot be evaluated is recorded as ``error``; the others still run. A TemporaryError
    (warehouse unreachable) is raised after every check was tried, so Airflow retries the task.
    """
    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.quality import checks as check_module
    from commodity_platform.quality.gx import GxWarehouse
    from commodity_platform.quality.results import save_result

    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise PermanentError(f"unknown check(s) {unknown}; known: {CHECKS}")
    hook = DorisHook(doris_conn_id=settings.doris_conn_id)
    results: dict[str, CheckResult] = {}
    temporary: TemporaryError | None = None
    try:
        with GxWarehouse(hook.get_uri()) as gx:
            for check in checks:
                try:
                    results[check] = evaluate(check, settings, gx, hook=hook, connect_factory=connect_factory)
                except Exception as err:
                    log.exception("check %s could not be evaluated", check)
                    results[check] = check_module.error_result(check, settings, err)
                    if isinstance(err, TemporaryError):
                        temporary = temporary or err
    except Exception as err:  # the GX context itself could not be built: every check is an error
        log.exception("the GX context could not be built")
        results = {check: check_module.error_result(check, settings, err) for check in checks}
        temporary = err if isinstance(err, TemporaryError) else temporary
    for check, result in results.items():
        try:
            save_result(hook, run_id=settings.run_id, result=result, report_path=str(settings.report_path),
                        is_doris=hook.is_doris())
        except Exception:
            if result.status != "error":
                raise  # a result that cannot be saved is not published: let Airflow retry / fail the task
            # The warehouse may be why the check errored; publish reports the check as missing.
            log.exception("could not save the error result of %s to dq_results", check)
        _log_result(result, settings)
    if temporary is not None:
        raise temporary  # Airflow retries; the error rows are replaced by the retry's results
    return {check: result.as_dict() for check, result in results.items()}


def run_checks_task() -> dict[str, dict[str, Any]]:
    """The ``run_checks`` task: every check of this run, GX imported once."""
    from commodity_platform.task_errors import permanent_errors_fail_fast

    with permanent_errors_fail_fast():
        return run_checks(run_settings())


def check_result_task(check: str, results: Mapping[str, Any] | None) -> dict[str, Any]:
    """The per-check task: log ``check``'s result and fail unless it passed (see the module docstring)."""
    from airflow.sdk.exceptions import AirflowFailException

    result = (results or {}).get(check)
    if result is None:  # the GX task failed before returning: what did it record?
        from commodity_platform.doris.hook import DorisHook
        from commodity_platform.quality.results import load_results
        from commodity_platform.task_errors import permanent_errors_fail_fast

        with permanent_errors_fail_fast():  # bad Params: fail once, naming the field, as run_checks did
            settings = run_settings()
            rows = load_results(DorisHook(doris_conn_id=settings.doris_conn_id), run_id=settings.run_id)
        found = {r.check: r for r in rows}.get(check)
        if found is None:
            raise AirflowFailException(f"data-quality check {check}: no result recorded for this run "
                                       "(see the run_checks task log); pushed as missing")
        result = found.as_dict()
    log.info("check %s: %s - %s", check, str(result["status"]).upper(), result["summary"])
    for sample in result.get("samples") or []:
        log.info("  %s%s = %s", sample["name"], sample["labels"] or "", sample["value"])
    for example in result.get("examples") or []:
        log.info("  problem bar: %s", example)
    if result["status"] != "pass":
        raise AirflowFailException(f"data-quality check {check} {result['status']}: {result['summary']}")
    return dict(result)


def _log_result(result: CheckResult, settings: DQSettings) -> None:
    log.info("check %s: %s - %s", result.check, result.status.upper(), result.summary)
    for sample in result.samples:
        log.info("  %s%s = %s", sample.name, sample.labels or "", sample.value)
    comparison = result.details.get("comparison") or {}
    for example in (comparison.get("examples") or [])[: settings.examples]:
        log.info("  problem bar: %s", example)
    log.info("report (written by the publish task): %s", settings.report_path)


def publish(settings: DQSettings, *, push_attempts: int = 4, push_backoff_s: float = 2.0) -> dict[str, Any]:
    """Read this run's results, write the report, push the metrics. Fails when the push fails."""
    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.quality.metrics import push, pushgateway_url, run_samples
    from commodity_platform.quality.report import write_report
    from commodity_platform.quality.results import load_results

    results = load_results(DorisHook(doris_conn_id=settings.doris_conn_id), run_id=settings.run_id)
    missing = [c for c in CHECKS if c not in {r.check for r in results}]
    if missing:
        log.warning("no result recorded for %s: pushed as failing (status missing)", missing)
    path = write_report(settings.report_path, settings.run_id, results, instance=settings.instance)
    log.info("data-quality report: %s", path)
    samples = run_samples(results)
    push(samples, gateway=pushgateway_url(settings.pushgateway_conn_id), instance=settings.instance,
         attempts=push_attempts, backoff_s=push_backoff_s)
    return {
        "report": str(path),
        "checks": {r.check: r.status for r in results} | dict.fromkeys(missing, "missing"),
        "samples": len(samples),
    }


def publish_task() -> dict[str, Any]:
    """The ``publish`` task (trigger rule ``all_done``)."""
    from commodity_platform.task_errors import permanent_errors_fail_fast

    with permanent_errors_fail_fast():
        return publish(run_settings())


def verdict(published: Mapping[str, Any] | None) -> None:
    """Raise unless the publish task ran and every check passed."""
    from airflow.sdk.exceptions import AirflowFailException

    if not published:
        raise AirflowFailException("publish did not complete: results were not pushed (see the publish task log)")
    bad = {check: status for check, status in published.get("checks", {}).items() if status != "pass"}
    if bad:
        raise AirflowFailException(f"data-quality checks not passing: {bad}; report: {published.get('report')}")
    log.info("all data-quality checks passed; report: %s", published.get("report"))

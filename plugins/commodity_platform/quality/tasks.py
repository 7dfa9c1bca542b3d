"""Task bodies of ``streaming_data_quality`` (the DAG file only wires them).

Failure semantics, which the DAG's shape depends on:

* A check task computes its result, **saves it to dq_results, then** raises if the check failed: a
  failed task pushes no XCom, so the table is how the publish task learns about failures. Data that
  breaks a threshold raises ``AirflowFailException`` (retrying cannot change the data of a past window);
  a check that cannot run records an ``error`` row and raises too - TemporaryError (warehouse down)
  keeps Airflow's retries, anything else fails at once.
* The publish task runs whatever happened upstream (``all_done``), reads this run's rows, writes the
  HTML report, and pushes every check's metrics; a check with no row is pushed as failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from commodity_platform.errors import PermanentError, TemporaryError
from commodity_platform.quality.results import CheckResult
from commodity_platform.quality.settings import CHECKS, DQSettings, settings_from_params

log = logging.getLogger(__name__)


def build_settings(params: Mapping[str, Any], *, run_id: str, default_as_of: datetime) -> DQSettings:
    return settings_from_params(params, run_id=run_id, default_as_of=default_as_of)


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


def evaluate(check: str, settings: DQSettings, *, hook: Any | None = None,
             connect_factory: Callable[[], Any] | str | None = "auto") -> CheckResult:
    """Run one check against the warehouse of ``settings.doris_conn_id`` and return its result."""
    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.quality import checks
    from commodity_platform.quality.gx import GxWarehouse

    if check not in CHECKS:
        raise PermanentError(f"unknown check {check!r}; known: {CHECKS}")
    hook = hook or DorisHook(doris_conn_id=settings.doris_conn_id)
    is_doris = hook.is_doris()
    with GxWarehouse(hook.get_uri()) as gx:
        if check == "freshness":
            return checks.freshness_check(settings, gx, is_doris=is_doris)
        if check == "error_rate":
            factory = _connect_factory(settings.kafka_connect_conn_id) if connect_factory == "auto" else connect_factory
            return checks.error_rate_check(settings, gx, doris_hook=hook, is_doris=is_doris,
                                           connect_hook_factory=factory)  # type: ignore[arg-type]
        return checks.ohlc_check(settings, gx)


def _log_result(result: CheckResult, settings: DQSettings) -> None:
    log.info("check %s: %s - %s", result.check, result.status.upper(), result.summary)
    for sample in result.samples:
        log.info("  %s%s = %s", sample.name, sample.labels or "", sample.value)
    comparison = result.details.get("comparison") or {}
    for example in (comparison.get("examples") or [])[: settings.examples]:
        log.info("  problem bar: %s", example)
    log.info("report (written by the publish task): %s", settings.report_path)


def run_check(check: str, settings: DQSettings, *, connect_factory: Callable[[], Any] | str | None = "auto"
              ) -> dict[str, Any]:
    """Evaluate, save, log; raise when the check did not pass (after saving). Returns the XCom summary."""
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.quality import checks
    from commodity_platform.quality.results import save_result

    hook = DorisHook(doris_conn_id=settings.doris_conn_id)
    try:
        result = evaluate(check, settings, hook=hook, connect_factory=connect_factory)
    except Exception as err:
        result = checks.error_result(check, settings, err)
        _save_best_effort(hook, settings, result)
        if isinstance(err, TemporaryError):
            raise  # Airflow retries; the error row is replaced by the retry's result
        raise AirflowFailException(f"{check} could not be evaluated: {err}") from err
    save_result(hook, run_id=settings.run_id, result=result, report_path=str(settings.report_path),
                is_doris=hook.is_doris())
    _log_result(result, settings)
    if not result.success:
        raise AirflowFailException(f"data-quality check {check} failed: {result.summary}")
    return result.as_dict()


def _save_best_effort(hook: Any, settings: DQSettings, result: CheckResult) -> None:
    from commodity_platform.quality.results import save_result

    try:
        save_result(hook, run_id=settings.run_id, result=result, report_path=str(settings.report_path),
                    is_doris=hook.is_doris())
    except Exception:  # the warehouse may be the reason we are here; publish reports the check as missing
        log.exception("could not save the error result of %s to dq_results", result.check)


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


def verdict(published: Mapping[str, Any] | None) -> None:
    """Raise unless the publish task ran and every check passed."""
    from airflow.sdk.exceptions import AirflowFailException

    if not published:
        raise AirflowFailException("publish did not complete: results were not pushed (see the publish task log)")
    bad = {check: status for check, status in published.get("checks", {}).items() if status != "pass"}
    if bad:
        raise AirflowFailException(f"data-quality checks not passing: {bad}; report: {published.get('report')}")
    log.info("all data-quality checks passed; report: %s", published.get("report"))

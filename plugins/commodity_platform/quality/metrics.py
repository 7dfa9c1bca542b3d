"""The Prometheus metric contract of ``streaming_data_quality`` and the Pushgateway push.

Pushed once per run, by the publish task, as job ``streaming_data_quality`` with grouping key
``{"instance": <instance Param>}`` (default ``commodity-platform``; one group per deployment). The push is
a PUT: it replaces the group's previous metrics, so a series that disappears from a run disappears
from Prometheus instead of going stale. One ``CollectorRegistry`` per run; nothing global.

Metrics (gauges):

=============================================  ==================================================
``streaming_dq_check_success{check}``           1 pass, 0 fail or could-not-check; check is
                                                freshness | error_rate | ohlc_correctness
``streaming_dq_check_status{check,status}``     1 for the check's status (pass, fail, error, missing)
``streaming_dq_freshness_lag_seconds``          seconds since the newest row; ``{table,
                                                commodity_code}``, commodity_code="ALL" = whole table
``streaming_dq_freshness_threshold_seconds``    the lag threshold used, ``{table}``
``streaming_dq_ingest_latency_p95_seconds``     p95 of ingest_time - event_time in the window, ``{table}``
``streaming_dq_ingest_latency_samples``         rows behind that p95, ``{table}``
``streaming_dq_error_rate{source}``             ticks | routine_load:<job> | kafka_connect (0..1)
``streaming_dq_invalid_ticks``                  invalid ticks in the window
``streaming_dq_window_ticks``                   all ticks in the window
``streaming_dq_routine_load_running{job}``      1 when the Routine Load job is RUNNING (Doris only)
``streaming_dq_connect_not_running``            connectors + tasks not RUNNING (when Connect is configured)
``streaming_dq_source_applicable{source}``      0 when a source is not configured (reported, not failed)
``streaming_dq_ohlc_mismatched_bars``           problem bars in the window (each bar once)
``streaming_dq_ohlc_problem_bars{kind}``        missing | extra | differing | invariant
``streaming_dq_window_start_timestamp_seconds``  the checked window, ``..._end_...`` likewise
``streaming_dq_as_of_timestamp_seconds``        the instant evaluated
``streaming_dq_last_run_timestamp_seconds``     wall-clock time of the push
=============================================  ==================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from commodity_platform.connections import PUSHGATEWAY_CONN_ID
from commodity_platform.errors import ConfigError, PermanentError, TemporaryError
from commodity_platform.quality.results import CheckResult, MetricSample
from commodity_platform.quality.settings import CHECKS, PUSH_JOB

log = logging.getLogger(__name__)

HELP: dict[str, str] = {
    "streaming_dq_check_success": "1 when the data-quality check passed, 0 when it failed or could not run",
    "streaming_dq_check_status": "1 for the status of the check: pass, fail, error or missing",
    "streaming_dq_freshness_lag_seconds": "Seconds between as_of and the newest row (commodity_code=ALL: table)",
    "streaming_dq_freshness_threshold_seconds": "Freshness lag threshold of the table",
    "streaming_dq_ingest_latency_p95_seconds": "p95 of ingest_time - event_time over the check window",
    "streaming_dq_ingest_latency_samples": "Rows with ingest_time behind the latency p95",
    "streaming_dq_error_rate": "Error rate of a source (0..1): invalid ticks, Routine Load errorRows, Connect",
    "streaming_dq_invalid_ticks": "Invalid ticks in the check window",
    "streaming_dq_window_ticks": "All ticks in the check window",
    "streaming_dq_routine_load_running": "1 when the Doris Routine Load job is RUNNING",
    "streaming_dq_connect_not_running": "Kafka Connect connectors and tasks not RUNNING",
    "streaming_dq_source_applicable": "1 when the source is configured and was checked",
    "streaming_dq_ohlc_mismatched_bars": "Bars in the window that are missing, extra, differ or break invariants",
    "streaming_dq_ohlc_problem_bars": "Problem bars by kind",
    "streaming_dq_window_start_timestamp_seconds": "Start of the checked window (Unix time)",
    "streaming_dq_window_end_timestamp_seconds": "End (exclusive) of the checked window (Unix time)",
    "streaming_dq_as_of_timestamp_seconds": "Instant the checks evaluated (Unix time)",
    "streaming_dq_last_run_timestamp_seconds": "When the data-quality results were pushed (Unix time)",
}
STATUSES = ("pass", "fail", "error", "missing")


def _unix(value: datetime) -> float:
    return value.replace(tzinfo=timezone.utc).timestamp() if value.tzinfo is None else value.timestamp()


def run_samples(results: Iterable[CheckResult], *, pushed_at: float | None = None) -> list[MetricSample]:
    """Every sample of a run: per-check success/status plus each result's own samples.

    A check with no recorded result (its task died before writing it) is reported as ``missing`` and
    counts as failing: silence must never read as success.
    """
    by_check = {r.check: r for r in results}
    samples: list[MetricSample] = []
    for check in CHECKS:
        result = by_check.get(check)
        status = result.status if result else "missing"
        samples.append(MetricSample("streaming_dq_check_success", {"check": check},
                                    1.0 if result and result.success else 0.0))
        samples += [MetricSample("streaming_dq_check_status", {"check": check, "status": s}, float(s == status))
                    for s in STATUSES]
        if result:
            samples += result.samples
    anchor = next((r for r in by_check.values() if r.window_start is not None), None)
    if anchor is not None:
        samples.append(MetricSample("streaming_dq_window_start_timestamp_seconds", {}, _unix(anchor.window_start)))
        samples.append(MetricSample("streaming_dq_window_end_timestamp_seconds", {}, _unix(anchor.window_end)))
    as_of = next((r.as_of for r in by_check.values() if r.as_of is not None), None)
    if as_of is not None:
        samples.append(MetricSample("streaming_dq_as_of_timestamp_seconds", {}, _unix(as_of)))
    samples.append(MetricSample("streaming_dq_last_run_timestamp_seconds", {},
                                pushed_at if pushed_at is not None else time.time()))
    return samples


def build_registry(samples: Iterable[MetricSample]) -> Any:
    """A fresh CollectorRegistry holding the samples as gauges (label names fixed per metric name)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    gauges: dict[str, Any] = {}
    for sample in samples:
        labelnames = tuple(sorted(sample.labels))
        gauge = gauges.get(sample.name)
        if gauge is None:
            gauge = Gauge(sample.name, HELP.get(sample.name, sample.name), labelnames=labelnames, registry=registry)
            gauges[sample.name] = (gauge, labelnames)
        else:
            gauge, known = gauge
            if known != labelnames:
                raise PermanentError(f"metric {sample.name}: labels {labelnames} differ from {known}")
        target = gauge.labels(**sample.labels) if labelnames else gauge
        target.set(sample.value)
    return registry


def pushgateway_url(conn_id: str = PUSHGATEWAY_CONN_ID) -> str:
    """Base URL of the Pushgateway from an Airflow ``http`` connection (host, port, schema)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise ConfigError(f"connection {conn_id!r}: host is empty")
    if "://" in host:
        return host
    port = f":{conn.port}" if conn.port else ""
    return f"{conn.schema or 'http'}://{host}{port}"


def _httpx_handler(url: str, method: str, timeout: float | None, headers: list[tuple[str, str]],
                   data: bytes) -> Any:
    """prometheus_client push handler on httpx, classifying errors for the retry policy."""

    def handle() -> None:
        try:
            response = httpx.request(method, url, headers=dict(headers), content=data, timeout=timeout or 10.0)
        except httpx.TransportError as err:
            where = urlsplit(url).netloc
            raise TemporaryError(f"Pushgateway unreachable at {where}: {type(err).__name__}: {err}") from err
        if response.status_code >= 500:
            raise TemporaryError(f"Pushgateway {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            raise PermanentError(f"Pushgateway rejected the push ({response.status_code}): {response.text[:500]}")

    return handle


def push(samples: list[MetricSample], *, gateway: str, instance: str, attempts: int = 4,
         backoff_s: float = 1.0, timeout_s: float = 10.0) -> None:
    """PUT the run's metrics to ``gateway`` as job ``streaming_data_quality``, group ``instance``.

    Transient failures (connection refused, timeouts, 5xx) are retried with exponential backoff and
    logged as "attempt n/N"; after the last attempt the TemporaryError propagates so the task fails
    loudly (and Airflow's own retries apply). A 4xx (e.g. inconsistent metrics) fails at once.
    """
    from prometheus_client import push_to_gateway

    registry = build_registry(samples)

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("Pushgateway push failed (attempt %d/%d), retrying in %.1fs: %s",
                    state.attempt_number, attempts, wait, exc)

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_s, min=backoff_s, max=30),
        retry=retry_if_exception_type(TemporaryError),
        before_sleep=log_retry,
        reraise=True,
    )
    retrying(push_to_gateway, gateway, job=PUSH_JOB, registry=registry, grouping_key={"instance": instance},
             timeout=timeout_s, handler=_httpx_handler)
    log.info("pushed %d samples to %s (job=%s, instance=%s)", len(samples), gateway, PUSH_JOB, instance)

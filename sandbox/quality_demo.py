"""The "show" part of ``./dev demo``: what the data-quality run told the Pushgateway and Prometheus.

:func:`summarize` reads both over HTTP and returns plain text; :func:`wait_for_alerts` lets the demo
wait (bounded) for Prometheus to scrape the push and evaluate the rules before summarising.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import httpx

from commodity_platform.quality.settings import CHECKS, PUSH_JOB

_SHOWN = ("streaming_dq_freshness_lag_seconds", "streaming_dq_error_rate", "streaming_dq_ohlc_mismatched_bars",
          "streaming_dq_ohlc_problem_bars", "streaming_dq_invalid_ticks", "streaming_dq_window_ticks",
          "streaming_dq_ingest_latency_p95_seconds", "streaming_dq_last_run_timestamp_seconds")


def pushed_samples(pushgateway_url: str, *, instance: str | None = None) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every streaming_data_quality sample the Pushgateway serves."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{pushgateway_url.rstrip('/')}/metrics", timeout=10).raise_for_status().text
    found = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("job") == PUSH_JOB and (instance is None or s.labels.get("instance") == instance):
                found.append((s.name, dict(s.labels), float(s.value)))
    return found


def firing_alerts(prometheus_url: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{prometheus_url.rstrip('/')}/api/v1/alerts", timeout=10).raise_for_status().json()
    return [a for a in body["data"]["alerts"] if a.get("state") == "firing"]


def wait_for_alerts(prometheus_url: str, alertnames: set[str], *, timeout_s: float = 60.0,
                    poll_s: float = 1.0) -> list[dict[str, Any]]:
    """Poll until every alert in ``alertnames`` fires or ``timeout_s`` passes; returns the firing alerts."""
    deadline = time.monotonic() + timeout_s
    alerts = firing_alerts(prometheus_url)
    while not alertnames <= {a["labels"]["alertname"] for a in alerts} and time.monotonic() < deadline:
        time.sleep(poll_s)
        alerts = firing_alerts(prometheus_url)
    return alerts


def summarize(pushgateway_url: str, prometheus_url: str, *, instance: str | None = None) -> str:
    """Checks that passed/failed, the key metrics in the Pushgateway, and the alerts Prometheus fires."""
    samples = pushed_samples(pushgateway_url, instance=instance)
    by_instance: dict[str, list[tuple[str, dict[str, str], float]]] = defaultdict(list)
    for sample in samples:
        by_instance[sample[1].get("instance", "")].append(sample)
    lines: list[str] = []
    if not samples:
        lines.append(f"Pushgateway {pushgateway_url}: no streaming_data_quality metrics yet")
    for inst, inst_samples in sorted(by_instance.items()):
        success = {s[1]["check"]: s[2] for s in inst_samples if s[0] == "streaming_dq_check_success"}
        lines.append(f"Data-quality checks (Pushgateway {pushgateway_url}, job={PUSH_JOB}, instance={inst}):")
        for check in CHECKS:
            state = {1.0: "PASS", 0.0: "FAIL"}.get(success.get(check, -1.0), "not reported")
            lines.append(f"  {check:<18} {state}")
        lines.append("  metrics:")
        for name, labels, value in sorted(inst_samples, key=lambda s: (s[0], sorted(s[1].items()))):
            if name in _SHOWN:
                shown = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("job", "instance"))
                lines.append(f"    {name}{{{shown}}} {value:g}")
    alerts = firing_alerts(prometheus_url)
    lines.append(f"Alerts firing in Prometheus {prometheus_url}: {len(alerts)}")
    for alert in sorted(alerts, key=lambda a: a["labels"]["alertname"]):
        labels = alert["labels"]
        detail = ",".join(f"{k}={labels[k]}" for k in ("check", "table", "commodity_code", "source", "instance")
                          if k in labels)
        summary = alert.get("annotations", {}).get("summary", "")
        lines.append(f"  [{labels.get('severity', '?')}] {labels['alertname']} ({detail}) - {summary}")
    return "\n".join(lines)

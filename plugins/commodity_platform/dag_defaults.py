"""Defaults every DAG of the project shares, kept cheap to import (DAG files import it at parse time)."""

from __future__ import annotations

from datetime import timedelta

import pendulum

OWNER = "data-platform"
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

# Retries cover temporary failures only: tasks raise AirflowFailException for permanent ones
# (bad input, 4xx, tampered files), which Airflow never retries.
DEFAULT_ARGS: dict[str, object] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}

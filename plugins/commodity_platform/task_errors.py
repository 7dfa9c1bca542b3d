"""Translate the package's errors into Airflow's retry semantics at the task boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException

from commodity_platform.errors import PermanentError


@contextmanager
def permanent_errors_fail_fast() -> Iterator[None]:
    """Turn a :class:`PermanentError` into ``AirflowFailException`` so Airflow does not retry it.

    Temporary errors pass through unchanged and use the task's retries with exponential backoff.
    """
    try:
        yield
    except PermanentError as err:
        raise AirflowFailException(str(err)) from err

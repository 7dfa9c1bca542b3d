"""The package's small exception hierarchy.

Every failure is either *temporary* (a rebalance, a 5xx, a timeout: retrying later may succeed) or
*permanent* (bad input, a 4xx, a tampered file: retrying cannot help and must not hide the cause).
Tasks translate :class:`PermanentError` into ``AirflowFailException`` so Airflow does not burn retries on
it, and let :class:`TemporaryError` propagate so the task's retries with backoff apply.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Base class of all errors raised by this package."""


class TemporaryError(PlatformError):
    """A failure that may succeed when retried (transient network or server condition)."""


class PermanentError(PlatformError):
    """A failure that retrying cannot fix; the message says what to change."""


class ConfigError(PermanentError):
    """Invalid input: a file, field or value that must be corrected. The message names it."""

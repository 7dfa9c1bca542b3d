"""The window and commodity-code vocabulary every DAG shares: ISO-8601 UTC instants, ``Window``, codes.

One module for what ``ohlc_backfill`` (:mod:`commodity_platform.ohlc.window`), ``streaming_data_quality``
(:mod:`commodity_platform.quality.settings`) and the sandbox's tick generator parse and print, so a
timestamp or a code typed into either DAG means the same thing. It depends only on
:mod:`commodity_platform.errors` and :mod:`commodity_platform.validation`, so both subpackages import it
without importing each other.

Rules (each refusal is a :class:`~commodity_platform.errors.ConfigError` naming the field and the value):

* **Timestamps** are ISO-8601 (``datetime.fromisoformat``, plus the ``Z`` suffix). A window *bound* must be
  UTC (``Z``, ``+00:00`` or no zone, which means UTC): bars are UTC minutes, and a bound typed in local
  time is a likely mistake rather than an intent. An *instant* that is not a bound (the data-quality
  ``as_of``) may carry any offset; it is converted (``any_offset=True``).
* **Commodity codes** are upper-cased, then must fully match :data:`CODE_PATTERN` (letters, digits,
  ``_ . -``, 1..32 characters, the width of ``energy_prices_rt.commodity_code``). Upper-cased because the
  feeds write upper-case codes (``WTI``, ``HENRY_HUB``) and both warehouses compare strings byte-wise
  (Doris; the sandbox uses ``utf8mb4_nopad_bin`` to match): a ``wti`` kept as typed matches no tick and
  no bar, so a data-quality check of ``wti`` compared nothing and passed, while the backfill of ``wti``
  rebuilt ``WTI``. List entries are not trimmed (``"WTI\\n"`` is refused, as every validator here refuses
  a trailing newline); a comma-separated string is split on commas and the spaces around each code dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.validation import cap_list, preview

#: Default time chunk of a rebuild or a check: one UTC day per statement.
DEFAULT_CHUNK_MINUTES = 1440
#: A commodity code after upper-casing (``energy_prices_rt.commodity_code`` is VARCHAR(32)).
CODE_PATTERN = r"[A-Z0-9_.\-]{1,32}"
_CODE_RE = re.compile(CODE_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso_z(value: datetime) -> str:
    """A datetime as ISO-8601 UTC with a ``Z`` suffix, whole seconds (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_naive_utc(value: datetime) -> datetime:
    """Naive UTC, like the warehouses' DATETIME columns (naive input is already UTC), as a plain ``datetime``.

    Airflow hands out pendulum DateTimes (a run's data interval), a ``datetime`` subclass whose arithmetic
    returns pendulum types that plain ``timedelta`` code trips over (``time_slices`` did); the result is
    always the base class.
    """
    if value.tzinfo:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    if type(value) is not datetime:
        value = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                         value.microsecond)
    return value


def parse_utc(value: Any, *, field_name: str, any_offset: bool = False) -> datetime:
    """An ISO-8601 timestamp (string or datetime) as an aware UTC ``datetime``.

    :param any_offset: convert a non-UTC offset instead of refusing it (instants that are not window bounds).
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        except ValueError as err:
            raise ConfigError(
                f"{field_name}: {preview(value)} is not an ISO-8601 timestamp (e.g. 2026-01-01T00:00:00Z)"
            ) from err
    else:
        raise ConfigError(f"{field_name}: expected an ISO-8601 UTC timestamp string, got {preview(value)}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    elif parsed.utcoffset() != timedelta(0) and not any_offset:
        raise ConfigError(
            f"{field_name}: {value!r} has UTC offset {parsed.utcoffset()}; give UTC (suffix Z or +00:00) so bar "
            "minutes are unambiguous"
        )
    try:
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past datetime.max once in UTC
        raise ConfigError(f"{field_name}: {value!r} is out of the supported date range once converted to UTC") from None
    # A plain datetime even when Airflow hands a pendulum DateTime (its data intervals): pendulum's
    # differences are Interval objects that fail when divided by a timedelta.
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond,
                    tzinfo=timezone.utc)


def normalize_commodity_codes(raw: Any, *, field_name: str = "commodity_codes") -> tuple[str, ...]:
    """``None``/empty -> (); a list (or comma-separated string) of codes -> upper-cased, de-duplicated, in order."""
    if raw is None or raw == "" or raw == []:
        return ()
    if isinstance(raw, str):
        items: Any = [part.strip(" ") for part in raw.split(",") if part.strip(" ")]
    else:
        items = raw
    if not isinstance(items, Sequence) or isinstance(items, bytes):
        raise ConfigError(f"{field_name}: expected a list of codes, got {preview(raw)}")
    codes: list[str] = []
    bad: list[Any] = []
    for item in items:
        code = item.upper() if isinstance(item, str) else None
        if code is None or not _CODE_RE.fullmatch(code):
            bad.append(item)
        elif code not in codes:
            codes.append(code)
    if bad:
        raise ConfigError(f"{field_name}: invalid codes {cap_list(bad)} (letters, digits, _ . - up to 32)")
    return tuple(codes)


@dataclass(frozen=True)
class Window:
    """A validated half-open window ``[start, end)`` in UTC (aware datetimes), plus optional codes."""

    start: datetime
    end: datetime
    commodity_codes: tuple[str, ...] = field(default_factory=tuple)
    source: str = "params"  # "params" or "data_interval"

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) / timedelta(minutes=1))

    def chunks(self, chunk_minutes: int = DEFAULT_CHUNK_MINUTES) -> list[tuple[datetime, datetime]]:
        """Sub-windows aligned to multiples of ``chunk_minutes`` since the epoch (UTC midnights for a day)."""
        if chunk_minutes < 1:
            raise ConfigError(f"chunk_minutes must be >= 1, got {chunk_minutes}")
        step = timedelta(minutes=chunk_minutes)
        out = []
        lower = self.start
        while lower < self.end:
            try:
                boundary = _EPOCH + ((lower - _EPOCH) // step + 1) * step
            except OverflowError:  # the next boundary is past datetime.max: the window's end comes first
                boundary = self.end
            upper = min(boundary, self.end)
            out.append((lower, upper))
            lower = upper
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (XCom, asset extra): ISO strings with ``Z``."""
        return {
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "commodity_codes": list(self.commodity_codes),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        return cls(start=parse_utc(data["start"], field_name="start"), end=parse_utc(data["end"], field_name="end"),
                   commodity_codes=normalize_commodity_codes(data.get("commodity_codes")),
                   source=data.get("source", "params"))

"""The window an ``ohlc_backfill`` run rebuilds: resolved from Params or the data interval, and validated.

Every rule fails with a :class:`~commodity_platform.errors.ConfigError` naming the field and value, which
the task turns into ``AirflowFailException`` (no retry: a bad window stays bad).

* ``start``/``end``: ISO-8601, UTC (suffix ``Z``, ``+00:00`` or none), whole minutes, both or neither;
  they override the run's data interval. ``end`` > ``start``; span <= ``max_span_days``.
* ``commodity_codes``: optional list; a code with no tick at all in ``energy_prices_rt`` is unknown (a
  typo would otherwise silently rebuild nothing).
* Chunks: the window is cut at UTC midnights (``chunk_minutes`` apart by default a day) so each chunk
  is one statement/transaction of bounded size, and a retry resumes at chunk granularity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.validation import cap_list, preview

#: Window bounds must lie in [1970-01-01, 9999-12-31): chunk boundaries are multiples of ``chunk_minutes``
#: since the epoch and the verification looks a little past ``end``; the last day of the calendar leaves no
#: room for that (Python's datetime stops at 9999-12-31 23:59:59.999999 and raised a bare OverflowError
#: that Airflow retried). Both warehouses' DATETIME ranges (MariaDB 1000..9999, Doris 0000..9999) hold it.
EARLIEST_BOUND = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_BOUND = datetime(9999, 12, 31, tzinfo=timezone.utc)
DEFAULT_MAX_SPAN_DAYS = 31
DEFAULT_CHUNK_MINUTES = 1440
_CODE_MAX_LEN = 32  # energy_prices_rt.commodity_code VARCHAR(32)


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
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        out = []
        lower = self.start
        while lower < self.end:
            try:
                boundary = epoch + ((lower - epoch) // step + 1) * step
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
                   commodity_codes=tuple(data.get("commodity_codes") or ()), source=data.get("source", "params"))


def iso_z(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(value: Any, *, field_name: str) -> datetime:
    """Parse an ISO-8601 UTC timestamp (string or datetime) into an aware UTC datetime; refuse other zones."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        except ValueError as err:
            raise ConfigError(
                f"{field_name}: {value!r} is not an ISO-8601 timestamp (e.g. 2026-01-01T00:00:00Z)"
            ) from err
    else:
        raise ConfigError(f"{field_name}: expected an ISO-8601 UTC timestamp string, got {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    elif parsed.utcoffset() != timedelta(0):
        raise ConfigError(
            f"{field_name}: {value!r} has UTC offset {parsed.utcoffset()}; give UTC (suffix Z or +00:00) so bar "
            "minutes are unambiguous"
        )
    try:
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ConfigError(f"{field_name}: {value!r} is out of the supported date range") from None
    # A plain datetime even when Airflow hands a pendulum DateTime (its data intervals): pendulum's
    # differences are Interval objects that fail when divided by a timedelta.
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond,
                    tzinfo=timezone.utc)


def _check_aligned(value: datetime, field_name: str, raw: Any) -> None:
    if value.second or value.microsecond:
        raise ConfigError(
            f"{field_name}: {raw!r} is not minute-aligned (seconds must be 0); bars are whole minutes, use e.g. "
            f"{iso_z(value.replace(second=0, microsecond=0))}"
        )


def normalize_codes(raw: Any) -> tuple[str, ...]:
    """``None``/empty -> (); a list (or comma-separated string) of codes -> de-duplicated, upper-cased tuple."""
    if raw is None or raw == "" or raw == []:
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, Sequence) or isinstance(items, bytes):
        raise ConfigError(f"commodity_codes: expected a list of codes, got {preview(raw)}")
    codes: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"commodity_codes: every entry must be a non-empty string, got {preview(item)}")
        code = item.strip().upper()
        if len(code) > _CODE_MAX_LEN:
            raise ConfigError(f"commodity_codes: {preview(item)} is longer than {_CODE_MAX_LEN} characters")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def resolve_window(
    params: dict[str, Any],
    *,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
) -> Window:
    """The window to rebuild: Params ``start``/``end`` if given, else the run's data interval; validated.

    Known-code validation needs the database and is done separately (:func:`check_known_codes`).
    """
    raw_start, raw_end = params.get("start"), params.get("end")
    max_span_days = params.get("max_span_days", DEFAULT_MAX_SPAN_DAYS)
    if not isinstance(max_span_days, int) or isinstance(max_span_days, bool) or max_span_days < 1:
        raise ConfigError(f"max_span_days: expected a positive integer, got {max_span_days!r}")
    codes = normalize_codes(params.get("commodity_codes"))

    if raw_start in (None, "") and raw_end in (None, ""):
        if data_interval_start is None or data_interval_end is None:
            raise ConfigError("start/end: not given and the run has no data interval; pass both, e.g. "
                              '{"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}')
        start = parse_utc(data_interval_start, field_name="data_interval_start")
        end = parse_utc(data_interval_end, field_name="data_interval_end")
        source = "data_interval"
        raw_start, raw_end = iso_z(start), iso_z(end)
    elif raw_start in (None, "") or raw_end in (None, ""):
        missing = "start" if raw_start in (None, "") else "end"
        raise ConfigError(f"{missing}: missing; give both start and end (or neither, to use the data interval)")
    else:
        start = parse_utc(raw_start, field_name="start")
        end = parse_utc(raw_end, field_name="end")
        source = "params"
    for name, bound, raw in (("start", start, raw_start), ("end", end, raw_end)):
        if not EARLIEST_BOUND <= bound <= LATEST_BOUND:
            raise ConfigError(
                f"{name}: {raw!r} is outside the supported range [{iso_z(EARLIEST_BOUND)}, {iso_z(LATEST_BOUND)}]"
            )
    _check_aligned(start, "start", raw_start)
    _check_aligned(end, "end", raw_end)
    if end <= start:
        raise ConfigError(f"end: {raw_end!r} must be after start {raw_start!r} (the window is [start, end))")
    if end - start > timedelta(days=max_span_days):
        raise ConfigError(
            f"end: window {raw_start!r} to {raw_end!r} spans {(end - start) / timedelta(days=1):.2f} days, more than "
            f"max_span_days={max_span_days}; split it, or raise max_span_days deliberately"
        )
    return Window(start=start, end=end, commodity_codes=codes, source=source)


def check_known_codes(conn: Any, codes: Sequence[str], *, table: str = "energy_prices_rt") -> None:
    """Fail if a code has no tick at all in ``table``: one indexed probe per code (key prefix on Doris too)."""
    if not codes:
        return
    cur = conn.cursor()
    try:
        unknown = []
        for code in codes:
            cur.execute(f"SELECT 1 FROM {table} WHERE commodity_code = %s LIMIT 1", [code])
            if not cur.fetchall():
                unknown.append(code)
    finally:
        cur.close()
    if unknown:
        raise ConfigError(
            f"commodity_codes: unknown code(s) {cap_list(unknown)}: no tick at all in {table}; check the spelling"
        )

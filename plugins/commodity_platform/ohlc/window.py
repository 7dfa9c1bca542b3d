"""The window an ``ohlc_backfill`` run rebuilds: resolved from Params or the data interval, and validated.

Every rule fails with a :class:`~commodity_platform.errors.ConfigError` naming the field and value, which
the task turns into ``AirflowFailException`` (no retry: a bad window stays bad).

* ``start``/``end``: ISO-8601, UTC (suffix ``Z``, ``+00:00`` or none), whole minutes, both or neither;
  they override the run's data interval. ``end`` > ``start``; span <= ``max_span_days``. Parsing and
  the code rule are the shared vocabulary of :mod:`commodity_platform.window`.
* ``commodity_codes``: optional list, upper-cased; a code with no tick at all in ``energy_prices_rt`` is
  unknown (a typo would otherwise silently rebuild nothing).
* Chunks: the window is cut at UTC midnights (``chunk_minutes`` apart by default a day) so each chunk
  is one statement/transaction of bounded size, and a retry resumes at chunk granularity.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.validation import cap_list
from commodity_platform.window import Window, iso_z, normalize_commodity_codes, parse_utc

__all__ = ["DEFAULT_MAX_SPAN_DAYS", "Window", "check_known_codes", "resolve_window"]

#: Window bounds must lie in [1970-01-01, 9999-12-31): chunk boundaries are multiples of ``chunk_minutes``
#: since the epoch and the verification looks a little past ``end``; the last day of the calendar leaves no
#: room for that (Python's datetime stops at 9999-12-31 23:59:59.999999 and raised a bare OverflowError
#: that Airflow retried). Both warehouses' DATETIME ranges (MariaDB 1000..9999, Doris 0000..9999) hold it.
EARLIEST_BOUND = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_BOUND = datetime(9999, 12, 31, tzinfo=timezone.utc)
DEFAULT_MAX_SPAN_DAYS = 31


def _check_aligned(value: datetime, field_name: str, raw: Any) -> None:
    if value.second or value.microsecond:
        raise ConfigError(
            f"{field_name}: {raw!r} is not minute-aligned (seconds must be 0); bars are whole minutes, use e.g. "
            f"{iso_z(value.replace(second=0, microsecond=0))}"
        )


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
    codes = normalize_commodity_codes(params.get("commodity_codes"))

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

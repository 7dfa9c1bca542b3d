"""Validated settings of one data-quality run, built from the DAG's Params.

Everything that can be wrong with the input (a table that does not exist, a window that is not
minute-aligned, a negative threshold) is caught here, before the first query, with a message naming the
field and the value. The checks then receive plain, typed values.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from commodity_platform.errors import ConfigError
from commodity_platform.validation import cap_list, preview, require_finite_params

CHECKS: tuple[str, ...] = ("freshness", "error_rate", "ohlc_correctness")
PUSH_JOB = "streaming_data_quality"
DEFAULT_INSTANCE = "commodity-platform"

_CODE_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
#: The Pushgateway grouping-key value (``instance``); also the DAG Param's pattern (full match there too).
INSTANCE_PATTERN = r"[A-Za-z0-9_.:\-]{1,128}"
_INSTANCE_RE = re.compile(INSTANCE_PATTERN)

#: The one directory every data-quality report goes under (the ``report_dir`` Param picks a folder inside
#: it). Set by the deployment (the sandbox sets its own); by default ``$AIRFLOW_HOME/dq-reports``.
REPORT_BASE_ENV = "STREAMING_DQ_REPORT_BASE_DIR"


def report_base_dir() -> Path:
    """The configured base directory of the HTML reports (symlinks resolved)."""
    configured = os.environ.get(REPORT_BASE_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
    return (Path(airflow_home) / "dq-reports").resolve()


def contained_path(base: Path, candidate: Path, *, field_name: str) -> Path:
    """``candidate`` (relative paths are taken under ``base``) if it resolves inside ``base``, else ConfigError.

    Resolving follows symlinks and ``..``, so neither ``../../etc`` nor a symlink pointing out escapes.
    """
    base = base.resolve()
    resolved = (base / candidate).resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise ConfigError(
            f"{field_name}: {preview(str(candidate))} resolves to {resolved}, outside the report base directory "
            f"{base} (set {REPORT_BASE_ENV} to move the base)"
        )
    return resolved


@dataclass(frozen=True)
class TableSpec:
    """How freshness is measured on one platform table.

    :param time_column: the event-time column whose newest value says how fresh the table is.
    :param group_column: lag is also reported per value of this column (``commodity_code``) where a
        stale group would otherwise hide behind fresh ones; ``None`` for tables where it does not apply.
    :param latency_column: ``ingest_time``: where filled, ``ingest_time - event_time`` is the
        platform's processing latency (target < 1 s).
    """

    table: str
    time_column: str
    group_column: str | None
    latency_column: str | None


TABLE_SPECS: dict[str, TableSpec] = {
    "energy_prices_rt": TableSpec("energy_prices_rt", "event_time", "commodity_code", "ingest_time"),
    "price_1min_agg": TableSpec("price_1min_agg", "bar_start", "commodity_code", None),
    "trading_signals": TableSpec("trading_signals", "signal_time", "commodity_code", "ingest_time"),
    "market_alerts": TableSpec("market_alerts", "alert_time", None, "ingest_time"),
    "weather_events_rt": TableSpec("weather_events_rt", "event_time", None, "ingest_time"),
}

#: Default freshness threshold per table, in seconds. Ticks must be minutes old at most; a bar's
#: bar_start is the *start* of its minute, so bars are one minute older than the ticks they cover;
#: signals follow bars; NOAA observations are hourly; market alerts only exist when prices jump more
#: than 5 % in a minute, so a quiet day without one is normal.
DEFAULT_FRESHNESS_TABLES: dict[str, float] = {
    "energy_prices_rt": 300.0,
    "price_1min_agg": 360.0,
    "trading_signals": 900.0,
    "weather_events_rt": 7200.0,
    "market_alerts": 86400.0,
}


@dataclass(frozen=True)
class DQSettings:
    """One run's validated inputs. Datetimes are naive UTC, like the warehouse's DATETIME columns."""

    run_id: str
    as_of: datetime
    window_start: datetime
    window_end: datetime
    freshness_tables: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FRESHNESS_TABLES))
    freshness_lookback_s: int = 86400
    latency_p95_max_s: float | None = 1.0
    invalid_tick_rate_max: float = 0.01
    routine_load_error_rate_max: float = 0.01
    ohlc_tolerance: float = 1e-6
    ohlc_max_mismatched_bars: int = 0
    commodity_codes: tuple[str, ...] = ()
    examples: int = 10
    instance: str = DEFAULT_INSTANCE
    report_dir: Path = field(default_factory=report_base_dir)
    doris_conn_id: str = "doris_default"
    pushgateway_conn_id: str = "pushgateway_default"
    kafka_connect_conn_id: str = "kafka_connect_default"

    @property
    def report_path(self) -> Path:
        """Where this run's HTML report goes: one folder per run id (file-system safe)."""
        safe = re.sub(r"[^A-Za-z0-9_\-]+", "_", self.run_id)  # no '.': a run id of '..' stays a plain name
        return self.report_dir / safe / "report.html"

    def describe_window(self) -> str:
        return f"[{self.window_start:%Y-%m-%d %H:%M:%S}, {self.window_end:%Y-%m-%d %H:%M:%S})"


def to_naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def parse_instant(value: Any, *, name: str) -> datetime | None:
    """An ISO-8601 string (or datetime) as naive UTC; ``None``/"" stays ``None``. Naive input is UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_naive_utc(value)
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected an ISO-8601 timestamp string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigError(f"{name}: {preview(value)} is not an ISO-8601 timestamp (e.g. 2026-03-01T12:00:00Z)") from err
    try:
        return to_naive_utc(parsed)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past datetime.max in UTC
        raise ConfigError(f"{name}: {value!r} is out of the supported date range once converted to UTC") from None


def floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _number(params: Mapping[str, Any], name: str, default: float, *, minimum: float = 0.0,
            maximum: float | None = None, allow_none: bool = False) -> float | None:
    value = params.get(name, default)
    if value is None and allow_none:
        return None
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name}: {value!r} is not a finite number")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{name}: {value!r} must be {bound}")
    return float(value)


def _freshness_tables(value: Any) -> dict[str, float]:
    if value is None or value == {}:
        return dict(DEFAULT_FRESHNESS_TABLES)
    if isinstance(value, (list, tuple)):
        # A plain list of table names keeps each table's default threshold.
        value = {name: DEFAULT_FRESHNESS_TABLES.get(str(name), -1.0) for name in value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"freshness_tables: expected {{table: max_lag_seconds}} or a list of tables, got {value!r}")
    tables: dict[str, float] = {}
    for name, threshold in value.items():
        if name not in TABLE_SPECS:
            raise ConfigError(f"freshness_tables: unknown table {preview(name)}; known: {sorted(TABLE_SPECS)}")
        if threshold is None:
            threshold = DEFAULT_FRESHNESS_TABLES[name]
        if isinstance(threshold, float) and not math.isfinite(threshold):
            raise ConfigError(f"freshness_tables.{name}: {threshold!r} is not a finite number of seconds")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
            raise ConfigError(
                f"freshness_tables.{name}: max lag must be a positive number of seconds, got {threshold!r}"
            )
        tables[name] = float(threshold)
    return tables


def settings_from_params(params: Mapping[str, Any], *, run_id: str, default_as_of: datetime,
                         report_dir: Path | None = None) -> DQSettings:
    """Validate the DAG's Params (or a test's dict) into :class:`DQSettings`.

    ``as_of`` defaults to ``default_as_of`` (the run's data-interval end, so a retried task evaluates
    the same instant). The window defaults to the ``window_minutes`` whole minutes that closed at least
    ``settle_seconds`` before ``as_of``: a minute's bar is only final once the aggregator's allowed
    lateness has passed, and checking it earlier would report bars that are merely not written yet.
    """
    require_finite_params(params)
    as_of = parse_instant(params.get("as_of"), name="as_of") or to_naive_utc(default_as_of)
    start = parse_instant(params.get("start"), name="start")
    end = parse_instant(params.get("end"), name="end")
    window_minutes = int(_number(params, "window_minutes", 60, minimum=1, maximum=7 * 24 * 60) or 60)
    settle = _number(params, "settle_seconds", 120, minimum=0, maximum=3600) or 0.0
    # Window arithmetic at the edge of the calendar (year 1 or 9999) overflows: a Param error, not a retry.
    try:
        if end is None:
            end = floor_minute(as_of - timedelta(seconds=settle))
    except OverflowError:
        raise ConfigError(f"as_of: {params.get('as_of')!r} is too close to the start of the calendar") from None
    try:
        if start is None:
            start = end - timedelta(minutes=window_minutes)
    except OverflowError:
        raise ConfigError(f"end: {end.isoformat()} minus window_minutes={window_minutes} is before year 1") from None
    for name, bound in (("as_of", as_of), ("start", start), ("end", end)):
        if bound.year > 9998:  # the checks look up to a day past their bounds (freshness lookback, settle)
            raise ConfigError(f"{name}: {bound.isoformat()} is beyond the supported range (before year 9999)")
    for name, bound in (("start", start), ("end", end)):
        if bound != floor_minute(bound):
            raise ConfigError(f"{name}: {bound.isoformat()} is not a whole minute; bars are checked per minute")
    if start >= end:
        raise ConfigError(f"start/end: window [{start.isoformat()}, {end.isoformat()}) is empty")

    codes = params.get("commodity_codes") or ()
    if isinstance(codes, str):
        codes = [c.strip() for c in codes.split(",") if c.strip()]
    bad = [c for c in codes if not isinstance(c, str) or not _CODE_RE.fullmatch(c)]
    if bad:
        raise ConfigError(
            f"commodity_codes: invalid codes {cap_list(bad)} (letters, digits, _ . - up to 32)"
        )

    instance = str(params.get("instance") or DEFAULT_INSTANCE)
    if not _INSTANCE_RE.fullmatch(instance):
        raise ConfigError(f"instance: {preview(instance)} is not a valid Pushgateway grouping value")

    examples = int(_number(params, "examples", 10, minimum=0, maximum=1000) or 0)
    base = report_base_dir()
    directory = params.get("report_dir") or report_dir
    kwargs: dict[str, Any] = {"report_dir": base}
    if directory:
        kwargs["report_dir"] = contained_path(base, Path(str(directory)), field_name="report_dir")
    for conn_param in ("doris_conn_id", "pushgateway_conn_id", "kafka_connect_conn_id"):
        if params.get(conn_param):
            kwargs[conn_param] = str(params[conn_param])

    return DQSettings(
        run_id=run_id,
        as_of=as_of,
        window_start=start,
        window_end=end,
        freshness_tables=_freshness_tables(params.get("freshness_tables")),
        freshness_lookback_s=int(_number(params, "freshness_lookback_minutes", 1440, minimum=1) or 1440) * 60,
        latency_p95_max_s=_number(params, "latency_p95_max_seconds", 1.0, minimum=0, allow_none=True),
        invalid_tick_rate_max=_number(params, "invalid_tick_rate_max", 0.01, minimum=0, maximum=1) or 0.0,
        routine_load_error_rate_max=_number(params, "routine_load_error_rate_max", 0.01, minimum=0, maximum=1) or 0.0,
        ohlc_tolerance=_number(params, "ohlc_tolerance", 1e-6, minimum=0, maximum=1) or 0.0,
        ohlc_max_mismatched_bars=int(_number(params, "ohlc_max_mismatched_bars", 0, minimum=0) or 0),
        commodity_codes=tuple(codes),
        examples=examples,
        instance=instance,
        **kwargs,
    )

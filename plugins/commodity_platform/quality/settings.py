"""Validated settings of one data-quality run, built from the DAG's Params.

Everything that can be wrong with the input (a table that does not exist, a window that is not
minute-aligned, a negative threshold) is caught here, before the first query, with a message naming the
field and the value. The checks then receive plain, typed values.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from commodity_platform.connections import DORIS_CONN_ID, KAFKA_CONNECT_CONN_ID, PUSHGATEWAY_CONN_ID
from commodity_platform.errors import ConfigError
from commodity_platform.params import defaults, resolve_params
from commodity_platform.quality.params import DEFAULT_FRESHNESS_TABLES, DEFAULT_INSTANCE, DQ_PARAMS, INSTANCE_PATTERN
from commodity_platform.validation import preview, require_finite_params
from commodity_platform.window import normalize_commodity_codes, parse_utc, to_naive_utc

CHECKS: tuple[str, ...] = ("freshness", "error_rate", "ohlc_correctness")
PUSH_JOB = "streaming_data_quality"
#: Every Param's default, by name: the settings below take theirs from here, never restated.
_DEFAULTS = defaults(DQ_PARAMS)

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

@dataclass(frozen=True)
class DQSettings:
    """One run's validated inputs. Datetimes are naive UTC, like the warehouse's DATETIME columns."""

    run_id: str
    as_of: datetime
    window_start: datetime
    window_end: datetime
    freshness_tables: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FRESHNESS_TABLES))
    freshness_lookback_seconds: int = _DEFAULTS["freshness_lookback_seconds"]
    latency_p95_max_seconds: float | None = _DEFAULTS["latency_p95_max_seconds"]
    invalid_tick_rate_max: float = _DEFAULTS["invalid_tick_rate_max"]
    routine_load_error_rate_max: float = _DEFAULTS["routine_load_error_rate_max"]
    ohlc_tolerance: float = _DEFAULTS["ohlc_tolerance"]
    ohlc_max_mismatched_bars: int = _DEFAULTS["ohlc_max_mismatched_bars"]
    #: Connections of the OHLC check (0: automatic, see commodity_platform.ohlc.shards.resolve_workers).
    parallel_workers: int = _DEFAULTS["parallel_workers"]
    commodity_codes: tuple[str, ...] = ()
    examples: int = _DEFAULTS["examples"]
    instance: str = _DEFAULTS["instance"]
    report_dir: Path = field(default_factory=report_base_dir)
    doris_conn_id: str = DORIS_CONN_ID
    pushgateway_conn_id: str = PUSHGATEWAY_CONN_ID
    kafka_connect_conn_id: str = KAFKA_CONNECT_CONN_ID

    @property
    def report_path(self) -> Path:
        """Where this run's HTML report goes: one folder per run id (file-system safe)."""
        safe = re.sub(r"[^A-Za-z0-9_\-]+", "_", self.run_id)  # no '.': a run id of '..' stays a plain name
        return self.report_dir / safe / "report.html"

    def describe_window(self) -> str:
        return f"[{self.window_start:%Y-%m-%d %H:%M:%S}, {self.window_end:%Y-%m-%d %H:%M:%S})"


def parse_instant(value: Any, *, name: str, any_offset: bool = False) -> datetime | None:
    """An ISO-8601 string (or datetime) as naive UTC; ``None``/"" stays ``None``. Naive input is UTC.

    The shared parser (:func:`commodity_platform.window.parse_utc`): window bounds must be UTC, like the
    backfill's; ``any_offset`` converts other offsets (for ``as_of``, an instant rather than a bound).
    """
    if value is None or value == "":
        return None
    return to_naive_utc(parse_utc(value, field_name=name, any_offset=any_offset))


def floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _number(params: Mapping[str, Any], name: str, *, allow_none: bool = False) -> float | None:
    """``params[name]`` as a finite number within its Param's schema bounds; ``None`` is the table's default
    unless allowed. The bounds are read from :data:`~.params.DQ_PARAMS`, not restated."""
    schema = DQ_PARAMS[name].schema
    minimum = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    # finite_number_schema bounds the range by the largest float: no bound worth stating.
    maximum = schema.get("maximum") if schema.get("maximum") != sys.float_info.max else None
    value = params[name]
    if value is None and allow_none:
        return None
    if value is None:
        value = _DEFAULTS[name]
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


def settings_from_params(params: Mapping[str, Any] | None, *, run_id: str, default_as_of: datetime,
                         report_dir: Path | None = None) -> DQSettings:
    """Validate a run's Params (``context["params"]`` or a conf dict) into :class:`DQSettings`.

    Missing Params take the table's defaults (:data:`~.params.DQ_PARAMS`); a name the table does not
    define is refused by name. ``as_of`` defaults to ``default_as_of`` (the run's data-interval end, so a
    retried task evaluates the same instant). The window defaults to the ``window_seconds`` (whole minutes)
    that closed at least ``settle_seconds`` before ``as_of``: a minute's bar is only final once the
    aggregator's allowed lateness has passed, and checking it earlier would report bars that are merely
    not written yet.
    """
    require_finite_params(params or {})
    params = resolve_params(DQ_PARAMS, params)
    as_of = parse_instant(params["as_of"], name="as_of", any_offset=True) or to_naive_utc(default_as_of)
    start = parse_instant(params["start"], name="start")
    end = parse_instant(params["end"], name="end")
    window_seconds = int(_number(params, "window_seconds") or 0)
    if window_seconds % 60:
        raise ConfigError(f"window_seconds: {window_seconds} is not a whole number of minutes")
    settle = _number(params, "settle_seconds") or 0.0
    # Window arithmetic at the edge of the calendar (year 1 or 9999) overflows: a Param error, not a retry.
    try:
        if end is None:
            end = floor_minute(as_of - timedelta(seconds=settle))
    except OverflowError:
        raise ConfigError(f"as_of: {params['as_of']!r} is too close to the start of the calendar") from None
    try:
        if start is None:
            start = end - timedelta(seconds=window_seconds)
    except OverflowError:
        raise ConfigError(f"end: {end.isoformat()} minus window_seconds={window_seconds} is before year 1") from None
    for name, bound in (("as_of", as_of), ("start", start), ("end", end)):
        if bound.year > 9998:  # the checks look up to a day past their bounds (freshness lookback, settle)
            raise ConfigError(f"{name}: {bound.isoformat()} is beyond the supported range (before year 9999)")
    for name, bound in (("start", start), ("end", end)):
        if bound != floor_minute(bound):
            raise ConfigError(f"{name}: {bound.isoformat()} is not a whole minute; bars are checked per minute")
    if start >= end:
        raise ConfigError(f"start/end: window [{start.isoformat()}, {end.isoformat()}) is empty")

    # The one code rule of both DAGs (upper-cased, then validated): see commodity_platform.window.
    codes = normalize_commodity_codes(params["commodity_codes"])

    instance = str(params["instance"] or DEFAULT_INSTANCE)
    if not _INSTANCE_RE.fullmatch(instance):
        raise ConfigError(f"instance: {preview(instance)} is not a valid Pushgateway grouping value")

    base = report_base_dir()
    directory = params["report_dir"] or report_dir
    return DQSettings(
        run_id=run_id,
        as_of=as_of,
        window_start=start,
        window_end=end,
        freshness_tables=_freshness_tables(params["freshness_tables"]),
        freshness_lookback_seconds=int(_number(params, "freshness_lookback_seconds") or 0),
        latency_p95_max_seconds=_number(params, "latency_p95_max_seconds", allow_none=True),
        invalid_tick_rate_max=_number(params, "invalid_tick_rate_max") or 0.0,
        routine_load_error_rate_max=_number(params, "routine_load_error_rate_max") or 0.0,
        ohlc_tolerance=_number(params, "ohlc_tolerance") or 0.0,
        ohlc_max_mismatched_bars=int(_number(params, "ohlc_max_mismatched_bars") or 0),
        parallel_workers=int(_number(params, "parallel_workers") or 0),
        commodity_codes=tuple(codes),
        examples=int(_number(params, "examples") or 0),
        instance=instance,
        report_dir=contained_path(base, Path(str(directory)), field_name="report_dir") if directory else base,
    )

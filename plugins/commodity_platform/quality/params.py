"""The Param table of ``streaming_data_quality``: each setting's default, schema and help, stated once.

The DAG file builds its ``params=`` from :data:`DQ_PARAMS`; :class:`~.settings.DQSettings` takes its
defaults from the same table and :func:`~.settings.settings_from_params` reads a run's values with
``resolve_params``. Durations are in seconds everywhere (Params, settings, SQL, metrics).
Cheap to import (the DAG file imports it at parse time): no Airflow, no GX.
"""

from __future__ import annotations

from commodity_platform.ohlc.params import parallel_workers_spec
from commodity_platform.params import ParamSpec, ParamTable
from commodity_platform.validation import finite_number_schema, strict_param_pattern

DEFAULT_INSTANCE = "commodity-platform"
#: The Pushgateway grouping-key value (``instance``); also the Param's pattern (full match there too).
INSTANCE_PATTERN = r"[A-Za-z0-9_.:\-]{1,128}"

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

_TIMESTAMP = {"type": ["null", "string"]}
# Numbers must be finite (NaN/inf refused by name in the form and in the task).
_SHARE = finite_number_schema(type="number", minimum=0, maximum=1)

DQ_PARAMS: ParamTable = {
    "as_of": ParamSpec(
        None, "Evaluate as of (UTC)",
        "Evaluate as of this instant (ISO-8601, UTC if no offset, e.g. 2026-03-01T12:00:00Z) instead of the "
        "run's data-interval end; for re-checking history and for tests.",
        _TIMESTAMP,
    ),
    "start": ParamSpec(
        None, "Window start (UTC)",
        "Start (inclusive, whole minute, e.g. 2026-03-01T11:00:00Z) of the error-rate/OHLC window. "
        "Empty: end - window_seconds.",
        _TIMESTAMP,
    ),
    "end": ParamSpec(
        None, "Window end (UTC)",
        "End (exclusive, whole minute, e.g. 2026-03-01T12:00:00Z) of the window. "
        "Empty: the last minute closed settle_seconds before as_of.",
        _TIMESTAMP,
    ),
    "window_seconds": ParamSpec(
        3600, "Window length (s)",
        "Length of the default window in seconds, whole minutes (3600 = the last 60 closed minutes).",
        {"type": "integer", "minimum": 60, "maximum": 7 * 24 * 3600, "multipleOf": 60},
    ),
    "settle_seconds": ParamSpec(
        120, "Settle time (s)",
        "A minute counts as closed this long after it ends (the aggregator's allowed lateness).",
        {"type": "integer", "minimum": 0, "maximum": 3600},
    ),
    "freshness_tables": ParamSpec(
        DEFAULT_FRESHNESS_TABLES, "Freshness: max lag per table (s)",
        # An object renders as a JSON editor (Airflow UI FlexibleForm): a JSON example.
        "Tables to check for freshness and each one's maximum lag in seconds, as a JSON object, e.g. "
        '{"energy_prices_rt": 300, "price_1min_agg": 360} (default: all five platform tables).',
        {"type": "object",
         "additionalProperties": finite_number_schema(type=["null", "number"], exclusiveMinimum=0)},
    ),
    "freshness_lookback_seconds": ParamSpec(
        86400, "Freshness look-back (s)",
        "Only rows this recent (seconds before as_of) count for freshness; a commodity silent for longer drops "
        "out of the per-commodity lags (the table-level lag still fails).",
        {"type": "integer", "minimum": 60},
    ),
    "latency_p95_max_seconds": ParamSpec(
        1.0, "Maximum ingest latency p95 (s)",
        "Maximum p95 of ingest_time - event_time (the platform's < 1 s target); empty = report only.",
        finite_number_schema(type=["null", "number"], minimum=0),
    ),
    "invalid_tick_rate_max": ParamSpec(
        0.01, "Maximum invalid-tick share", "Maximum share of invalid ticks in the window (0.01 = 1 %).", _SHARE,
    ),
    "routine_load_error_rate_max": ParamSpec(
        0.01, "Maximum Routine Load error share", "Maximum errorRows/totalRows per Doris Routine Load job.", _SHARE,
    ),
    "ohlc_tolerance": ParamSpec(
        1e-6, "OHLC relative tolerance",
        "Relative tolerance for bar values: differ when |expected - stored| > tol * max(1, |expected|).", _SHARE,
    ),
    "ohlc_max_mismatched_bars": ParamSpec(
        0, "Tolerated OHLC problem bars", "Problem bars tolerated in the window before the check fails.",
        {"type": "integer", "minimum": 0},
    ),
    "parallel_workers": parallel_workers_spec(
        "comparing the OHLC check's shards at once (bars recomputed and compared per shard, totals added up)",
        title="OHLC check: parallel connections"),
    # An array of strings renders as a textarea that splits on new lines (Airflow UI FlexibleForm).
    "commodity_codes": ParamSpec(
        None, "Commodity codes",
        "Restrict the OHLC check to these commodity codes, one code per line (e.g. WTI, then BRENT on the next "
        "line); empty: all.",
        {"type": ["null", "array"], "items": {"type": "string"}},
    ),
    "examples": ParamSpec(
        10, "Example rows", "Example rows logged and kept per failing expectation.",
        {"type": "integer", "minimum": 0, "maximum": 1000},
    ),
    "instance": ParamSpec(
        DEFAULT_INSTANCE, "Pushgateway instance label",
        "Pushgateway grouping key value (instance label), e.g. commodity-platform: one group per deployment.",
        {"type": "string", "pattern": strict_param_pattern(INSTANCE_PATTERN)},
    ),
    "report_dir": ParamSpec(
        None, "Report folder",
        "Folder for the HTML reports, relative to (or inside) the base directory STREAMING_DQ_REPORT_BASE_DIR "
        "(default $AIRFLOW_HOME/dq-reports); a path resolving outside the base is refused. Empty: the base.",
        {"type": ["null", "string"]},
    ),
}

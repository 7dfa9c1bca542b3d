"""Window validation: one test per bad conf value, each failing with a message naming field and value."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from commodity_platform.errors import ConfigError
from commodity_platform.ohlc.window import Window, resolve_window
from commodity_platform.window import normalize_commodity_codes

UTC = timezone.utc
INTERVAL = {"data_interval_start": datetime(2026, 1, 1, 10, tzinfo=UTC),
            "data_interval_end": datetime(2026, 1, 1, 11, tzinfo=UTC)}


def resolve(**params):
    return resolve_window(params, **INTERVAL)


def test_params_override_the_data_interval() -> None:
    window = resolve(start="2026-01-02T00:00:00Z", end="2026-01-03T00:00", commodity_codes=["wti", "BRENT", "WTI"])
    assert (window.start, window.end) == (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))
    assert window.commodity_codes == ("WTI", "BRENT") and window.source == "params"


def test_without_params_the_data_interval_is_the_window() -> None:
    window = resolve(start=None, end=None, commodity_codes=None)
    assert (window.start, window.end, window.source) == (INTERVAL["data_interval_start"],
                                                         INTERVAL["data_interval_end"], "data_interval")


def test_a_pendulum_data_interval_as_airflow_passes_it_gives_a_plain_window() -> None:
    import pendulum

    window = resolve_window({}, data_interval_start=pendulum.datetime(2026, 1, 1, 10, tz="UTC"),
                            data_interval_end=pendulum.datetime(2026, 1, 1, 11, tz="UTC"))

    assert type(window.start) is datetime and type(window.end) is datetime
    assert window.minutes == 60 and len(window.chunks(15)) == 4


def test_chunks_cut_at_utc_midnight() -> None:
    window = Window(datetime(2026, 1, 1, 22, tzinfo=UTC), datetime(2026, 1, 3, 1, tzinfo=UTC))
    assert [(a.isoformat(), b.isoformat()) for a, b in window.chunks()] == [
        ("2026-01-01T22:00:00+00:00", "2026-01-02T00:00:00+00:00"),
        ("2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"),
        ("2026-01-03T00:00:00+00:00", "2026-01-03T01:00:00+00:00"),
    ]


@pytest.mark.parametrize(("params", "message"), [
    ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end: '2026-01-01T00:00:00Z' must be after"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "must be after start"),
    ({"start": "2026-01-01T00:00:30Z", "end": "2026-01-01T01:00:00Z"}, "start: '2026-01-01T00:00:30Z' is not minute"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00.500Z"}, "end: '2026-01-01T01:00:00.500Z' is not"),
    ({"start": "2026-01-01T00:00:00+01:00", "end": "2026-01-01T02:00:00Z"}, "give UTC"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-02-02T00:00:00Z"}, "more than max_span_days=31"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-03T00:00:00Z", "max_span_days": 1}, "max_span_days=1"),
    ({"start": "2026-01-01T00:00:00Z"}, "end: missing"),
    ({"end": "2026-01-01T00:00:00Z"}, "start: missing"),
    ({"start": "yesterday", "end": "2026-01-01T00:00:00Z"}, "start: 'yesterday' is not an ISO-8601"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "commodity_codes": [""]}, "commodity_codes"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "max_span_days": 0}, "max_span_days"),
], ids=["end-before-start", "empty-window", "start-not-aligned", "end-not-aligned", "not-utc", "span-too-long",
        "span-over-custom-limit", "end-missing", "start-missing", "not-iso", "empty-code", "bad-max-span"])
def test_bad_params_fail_with_a_message_naming_the_value(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.").replace("+", r"\+")):
        resolve(**params)


def test_no_params_and_no_data_interval_asks_for_start_and_end() -> None:
    with pytest.raises(ConfigError, match="not given and the run has no data interval"):
        resolve_window({}, data_interval_start=None, data_interval_end=None)


def test_codes_accept_a_comma_separated_string() -> None:
    assert normalize_commodity_codes("wti, brent") == ("WTI", "BRENT")

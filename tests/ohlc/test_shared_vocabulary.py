"""One window and commodity-code vocabulary for both DAGs (commodity_platform.window), and ohlc standing alone.

The rule chosen for codes: upper-cased, then full-matched against ``[A-Z0-9_.-]{1,32}`` (see the module's
docstring for why); before, the backfill upper-cased and the data-quality check kept ``wti`` as typed, so
the check compared nothing for ``wti`` and passed.
"""

from __future__ import annotations

import ast
from datetime import datetime, timezone

import pytest

from commodity_platform.errors import ConfigError
from commodity_platform.ohlc.window import resolve_window
from commodity_platform.paths import PROJECT_ROOT
from commodity_platform.quality.settings import settings_from_params
from commodity_platform.window import Window, iso_z, normalize_commodity_codes, parse_utc

UTC = timezone.utc
BOUNDS = {"start": "2026-03-01T10:00:00Z", "end": "2026-03-01T11:00:00Z"}


def backfill_codes(codes: object) -> tuple[str, ...]:
    return resolve_window({**BOUNDS, "commodity_codes": codes}, data_interval_start=None,
                          data_interval_end=None).commodity_codes


def dq_codes(codes: object) -> tuple[str, ...]:
    return settings_from_params({**BOUNDS, "commodity_codes": codes}, run_id="r",
                                default_as_of=datetime(2026, 3, 1, 12)).commodity_codes


@pytest.mark.parametrize("codes_of", [backfill_codes, dq_codes], ids=["ohlc_backfill", "streaming_data_quality"])
def test_both_dags_upper_case_and_deduplicate_codes(codes_of) -> None:
    assert codes_of(["wti", "Brent", "WTI", "henry_hub"]) == ("WTI", "BRENT", "HENRY_HUB")
    assert codes_of("wti, brent") == ("WTI", "BRENT")
    assert codes_of(None) == () and codes_of([]) == ()


@pytest.mark.parametrize("codes_of", [backfill_codes, dq_codes], ids=["ohlc_backfill", "streaming_data_quality"])
@pytest.mark.parametrize("bad", ["WTI\n", " WTI", "", "W" * 33, "WTI'; DROP TABLE x", "ÖL", 7])
def test_both_dags_refuse_the_same_codes_naming_the_field(codes_of, bad) -> None:
    with pytest.raises(ConfigError, match=r"^commodity_codes: invalid codes"):
        codes_of(["BRENT", bad])


@pytest.mark.parametrize("field", ["start", "end"])
def test_both_dags_refuse_a_window_bound_in_local_time(field: str) -> None:
    params = {**BOUNDS, field: BOUNDS[field].replace("Z", "+01:00")}
    with pytest.raises(ConfigError, match=rf"^{field}: .* give UTC"):
        resolve_window(params, data_interval_start=None, data_interval_end=None)
    with pytest.raises(ConfigError, match=rf"^{field}: .* give UTC"):
        settings_from_params(params, run_id="r", default_as_of=datetime(2026, 3, 1, 12))


def test_an_instant_that_is_not_a_bound_may_carry_an_offset() -> None:
    assert parse_utc("2026-03-01T12:00:00+01:00", field_name="as_of", any_offset=True) == datetime(
        2026, 3, 1, 11, tzinfo=UTC)
    assert parse_utc("2026-03-01T12:00", field_name="x") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert iso_z(datetime(2026, 3, 1, 12)) == "2026-03-01T12:00:00Z"


def test_window_round_trips_through_xcom_and_normalises_codes() -> None:
    window = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), ("WTI",))
    assert Window.from_dict(window.as_dict()) == window
    assert Window.from_dict({**window.as_dict(), "commodity_codes": ["wti"]}).commodity_codes == ("WTI",)
    assert normalize_commodity_codes(("a.b-c_1",)) == ("A.B-C_1",)


def _imports(path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_ohlc_does_not_reach_into_quality_and_the_vocabulary_into_neither() -> None:
    package = PROJECT_ROOT / "plugins" / "commodity_platform"
    offenders = {str(path.relative_to(package)): [m for m in sorted(_imports(path))
                                                  if m.startswith("commodity_platform.quality")]
                 for path in sorted((package / "ohlc").glob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}
    shared = _imports(package / "window.py")
    assert not [m for m in shared if m.startswith(("commodity_platform.ohlc", "commodity_platform.quality"))]

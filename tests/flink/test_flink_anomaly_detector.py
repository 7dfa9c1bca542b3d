"""The anomaly detector on a real local Flink: alerts fire exactly for the injected moves.

Calm series (noise within +-0.2 % of a level) get level shifts injected at known ticks. Expected alerts
are derived from the injection alone: one alert per shift larger than 5 %, at the first tick of the new
level, with the severity of the shift (> 5 % MEDIUM, >= 10 % HIGH, >= 20 % CRITICAL). Shifts are chosen
far from the thresholds so the noise cannot move them across. No alert is expected for a 3.5 % shift,
a slow drift (~0.4 %/min), or invalid ticks with absurd prices (0, negative, NULL, huge with a negative
volume or without a code), which would all look like > 5 % moves if they were not filtered out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.flink.flink_testlib import (
    Tick,
    count_inversions,
    disorder,
    parse_time,
    read_rows,
    run_job,
    write_ticks,
)

START = datetime(2024, 7, 1, 8, 0, 0)
SERIES_MINUTES = 12
ALERT_HEADER = [
    "alert_id", "commodity_code", "alert_time", "alert_type", "severity", "price_change_pct",
    "reference_time", "reference_price", "current_price", "message", "ingest_time",
]  # fmt: skip
#: code -> (start level, [(minute offset of the shift, relative shift)])
SCENARIO: dict[str, tuple[Decimal, list[tuple[float, Decimal]]]] = {
    "GOLD": (Decimal("2300"), [(2, Decimal("0.07")), (5, Decimal("-0.12")), (9, Decimal("0.25"))]),
    # A spike: up 8 %, back down 20 s later (a -7.4 % move of its own), then a crash.
    "BRENT": (
        Decimal("85"),
        [(3, Decimal("0.08")), (3 + 1 / 3, Decimal(1) / Decimal("1.08") - 1), (8, Decimal("-0.35"))],
    ),
    "COPPER": (Decimal("9100"), [(2, Decimal("-0.065")), (6, Decimal("0.15")), (10, Decimal("-0.22"))]),
    "WHEAT": (Decimal("6.2"), [(4, Decimal("0.035"))]),  # below the threshold: no alert
}
DRIFT_CODE = "CORN"  # +0.02 % per tick, ~0.4 % per minute: 2.4 % over the series, never 5 % in a minute


@dataclass(frozen=True)
class ExpectedAlert:
    commodity_code: str
    alert_time: datetime
    shift_pct: Decimal
    severity: str
    alert_type: str


def severity_of(shift_pct: Decimal) -> str:
    magnitude = abs(shift_pct)
    if magnitude >= 20:
        return "CRITICAL"
    if magnitude >= 10:
        return "HIGH"
    return "MEDIUM"


def _series_times(rng: random.Random) -> list[datetime]:
    times, moment = [], START + timedelta(milliseconds=rng.randrange(0, 2000))
    while moment < START + timedelta(minutes=SERIES_MINUTES):
        times.append(moment)
        moment += timedelta(milliseconds=rng.randrange(1500, 4500))
    return times


def _noisy(rng: random.Random, level: Decimal) -> Decimal:
    return (level * (1 + Decimal(rng.randrange(-20, 21)) / 10000)).quantize(Decimal("0.000001"))


def generate(seed: int) -> tuple[list[Tick], list[ExpectedAlert]]:
    rng = random.Random(seed)
    ticks: list[Tick] = []
    expected: list[ExpectedAlert] = []
    for code, (level, shifts) in SCENARIO.items():
        pending = sorted(shifts, key=lambda shift: shift[0])
        for moment in _series_times(rng):
            if pending and moment >= START + timedelta(minutes=pending[0][0]):
                _, shift = pending.pop(0)
                level *= 1 + shift
                shift_pct = shift * 100
                if abs(shift) > Decimal("0.05"):
                    alert_type = "PRICE_SPIKE" if shift > 0 else "PRICE_DROP"
                    expected.append(
                        ExpectedAlert(code, moment, shift_pct, severity_of(shift_pct), alert_type)
                    )
            ticks.append(Tick(code, moment, _noisy(rng, level), Decimal(rng.randrange(1, 5000)) / 10))
    level = Decimal("4.5")
    for moment in _series_times(rng):
        level *= Decimal("1.0002")
        ticks.append(Tick(DRIFT_CODE, moment, _noisy(rng, level), Decimal(10)))
    # Invalid ticks with absurd prices, at random moments of the series.
    for _ in range(25):
        code = rng.choice([*SCENARIO, DRIFT_CODE])
        moment = START + timedelta(seconds=rng.uniform(30, SERIES_MINUTES * 60 - 30))
        ticks.append(
            rng.choice(
                [
                    Tick(code, moment, Decimal(0), Decimal(5)),
                    Tick(code, moment, Decimal("-50"), Decimal(5)),
                    Tick(code, moment, None, Decimal(5)),
                    Tick(code, moment, Decimal("999999"), Decimal("-1")),
                    Tick(code, moment, Decimal("999999"), None),
                    Tick("", moment, Decimal("999999"), Decimal(5)),
                ]
            )
        )
    ticks.sort(key=lambda tick: tick.event_time)
    return ticks, expected


@pytest.fixture(scope="session")
def detector_run(pyflink_python: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("anomaly_detector")
    ticks, expected = generate(seed=701)
    arrival = disorder(ticks, 6.0, random.Random(3))
    assert count_inversions(arrival) > 20
    write_ticks(work / "ticks.csv", arrival)
    run_job(pyflink_python, "anomaly_detector", work / "ticks.csv", work / "alerts.csv", parallelism=2)
    header, rows = read_rows(work / "alerts.csv")
    return ticks, expected, header, rows


def test_alerts_fire_exactly_for_the_injected_moves(detector_run) -> None:
    _, expected, header, rows = detector_run
    assert header == ALERT_HEADER
    assert len(expected) == 9, "the scenario injects nine moves above 5 %"
    actual = sorted((row["commodity_code"], parse_time(row["alert_time"])) for row in rows)
    assert actual == sorted((alert.commodity_code, alert.alert_time) for alert in expected)


def test_severity_type_and_size_match_the_injected_move(detector_run) -> None:
    _, expected, _, rows = detector_run
    by_key = {(row["commodity_code"], parse_time(row["alert_time"])): row for row in rows}
    for alert in expected:
        row = by_key[(alert.commodity_code, alert.alert_time)]
        assert (row["severity"], row["alert_type"]) == (alert.severity, alert.alert_type), alert
        # The reference is a pre-shift tick, so the measured move is the shift +- the noise.
        assert abs(Decimal(row["price_change_pct"]) - alert.shift_pct) < Decimal("1"), (row, alert)
    severities = sorted(row["severity"] for row in rows)
    assert severities == sorted(alert.severity for alert in expected)
    assert {"MEDIUM", "HIGH", "CRITICAL"} <= set(severities)


def test_reference_is_a_real_tick_less_than_a_minute_before(detector_run) -> None:
    ticks, _, _, rows = detector_run
    valid = {(t.commodity_code, t.event_time, t.price) for t in ticks if t.is_valid()}
    for row in rows:
        code, alert_time = row["commodity_code"], parse_time(row["alert_time"])
        reference_time, reference_price = parse_time(row["reference_time"]), Decimal(row["reference_price"])
        price = Decimal(row["current_price"])
        assert alert_time - timedelta(minutes=1) < reference_time < alert_time, row
        assert (code, reference_time, reference_price) in valid, row
        assert (code, alert_time, price) in valid, row
        exact = ((price - reference_price) * 100 / reference_price).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        assert abs(Decimal(row["price_change_pct"]) - exact) <= Decimal("0.0001"), row
        assert abs(price - reference_price) > reference_price * Decimal("0.05"), row
        millis = alert_time.microsecond // 1000
        assert row["alert_id"] == f"{code}|{alert_time:%Y-%m-%d %H:%M:%S}.{millis:03d}", row


def test_message_and_ingest_time(detector_run) -> None:
    """The human-readable message restates the alert; ingest_time is a UTC timestamp of the run."""
    _, _, _, rows = detector_run
    assert rows
    for row in rows:
        sign = "+" if Decimal(row["price_change_pct"]) > 0 else ""
        head = (
            f"{row['severity']} {row['alert_type']} {row['commodity_code']} {sign}{row['price_change_pct']}"
        )
        assert row["message"].startswith(f"{head} % in "), row
        assert f"({row['reference_price']} -> {row['current_price']})" in row["message"], row
        assert parse_time(row["ingest_time"]) > parse_time(row["alert_time"])

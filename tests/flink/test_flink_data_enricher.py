"""The data enricher on a real local Flink: joins the valid version of the metadata, drops the rest.

Documented behaviour under test:
* every tick whose code has a metadata version valid at its event time (``updated_at <= event_time``)
  is emitted once, with that version's columns -- including ticks with a NULL/non-positive price or a
  negative volume, which Doris energy_prices_rt keeps for the data-quality DAG to count;
* a metadata change applies from its ``updated_at`` on (event-time temporal join), not retroactively;
* ticks with an unknown, empty or NULL code, or with only future metadata versions, are dropped;
* ``ingest_time`` is the (UTC) time the enricher emitted the row; ``source`` is the tick's feed (NULL here).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests.flink.flink_testlib import (
    Tick,
    count_inversions,
    disorder,
    format_time,
    parse_time,
    read_rows,
    run_job,
    write_ticks,
)

START = datetime(2024, 5, 6, 14, 0, 0)
EPOCH = datetime(1970, 1, 1)
BRENT_RENAMED_AT = START + timedelta(minutes=2)
WHEAT_KNOWN_FROM = START + timedelta(minutes=3)
ENRICHED_HEADER = [
    "commodity_code", "event_time", "price", "volume",
    "commodity_name", "category", "exchange", "currency", "unit", "source", "ingest_time",
]  # fmt: skip
METADATA_HEADER = [
    "commodity_code",
    "commodity_name",
    "category",
    "exchange",
    "currency",
    "unit",
    "updated_at",
]
#: (code, name, category, exchange, currency, unit, valid from)
METADATA = [
    ("GOLD", "Gold", "metals", "COMEX", "USD", "troy oz", EPOCH),
    ("BRENT", "Brent Crude Oil", "energy", "ICE", "USD", "bbl", EPOCH),
    (
        "BRENT",
        "Brent Crude Oil (front month)",
        "energy",
        "ICE Futures Europe",
        "USD",
        "bbl",
        BRENT_RENAMED_AT,
    ),
    ("WHEAT", "Wheat", "agriculture", "CBOT", "USD", "bu", WHEAT_KNOWN_FROM),
]
CODES = ("GOLD", "BRENT", "WHEAT", "LITHIUM")  # LITHIUM has no metadata at all


def generate_ticks(seed: int) -> list[Tick]:
    rng = random.Random(seed)
    ticks = []
    for code in CODES:
        moment = START + timedelta(milliseconds=rng.randrange(0, 3000))
        while moment < START + timedelta(minutes=5):
            price = Decimal(rng.randrange(1_000_000, 90_000_000)) / 10000
            ticks.append(Tick(code, moment, price, Decimal(rng.randrange(0, 100_000)) / 100))
            if rng.random() < 0.1:
                ticks.append(Tick(code, moment, Decimal(0) if rng.random() < 0.5 else None, Decimal(1)))
            moment += timedelta(milliseconds=rng.randrange(500, 6000))
    # Exactly at the instant a version becomes valid: the new version applies (updated_at <= event_time).
    ticks.append(Tick("BRENT", BRENT_RENAMED_AT, Decimal("80.25"), Decimal("3")))
    ticks.append(Tick("WHEAT", WHEAT_KNOWN_FROM, Decimal("6.125"), Decimal("2")))
    ticks.append(Tick("", START + timedelta(seconds=30), Decimal("10"), Decimal("1")))
    ticks.append(Tick("GOLD", START + timedelta(seconds=31), Decimal("2000"), Decimal("-1")))
    ticks.sort(key=lambda tick: tick.event_time)
    return ticks


def expected_rows(ticks: list[Tick]) -> Counter[tuple]:
    """For each tick, the newest metadata version of its code with ``updated_at <= event_time``, if any."""
    rows: Counter[tuple] = Counter()
    for tick in ticks:
        versions = [m for m in METADATA if m[0] == tick.commodity_code and m[6] <= tick.event_time]
        if versions:
            meta = max(versions, key=lambda m: m[6])
            rows[(tick.commodity_code, tick.event_time, tick.price, tick.volume, *meta[1:6])] += 1
    return rows


@pytest.fixture(scope="session")
def enricher_run(pyflink_python: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("data_enricher")
    with (work / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(METADATA_HEADER)
        writer.writerows([*meta[:6], format_time(meta[6])] for meta in METADATA)
    ticks = generate_ticks(seed=506)
    arrival = disorder(ticks, 5.0, random.Random(11))
    assert count_inversions(arrival) > 20
    write_ticks(work / "ticks.csv", arrival)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    run_job(
        pyflink_python, "data_enricher", work / "ticks.csv", work / "enriched.csv",
        metadata_csv=work / "metadata.csv", parallelism=2,
    )  # fmt: skip
    finished = datetime.now(timezone.utc).replace(tzinfo=None)
    header, rows = read_rows(work / "enriched.csv")
    return ticks, header, rows, (started, finished)


def _decimal(value: str) -> Decimal | None:
    return Decimal(value) if value else None


def _parse(row: dict[str, str]) -> tuple:
    return (
        row["commodity_code"], parse_time(row["event_time"]), _decimal(row["price"]), _decimal(row["volume"]),
        row["commodity_name"], row["category"], row["exchange"], row["currency"], row["unit"],
    )  # fmt: skip


def test_enriched_rows_equal_the_expected_join(enricher_run) -> None:
    ticks, header, rows, _ = enricher_run
    assert header == ENRICHED_HEADER
    expected = expected_rows(ticks)
    assert Counter(map(_parse, rows)) == expected
    assert len(rows) == sum(expected.values()) > 100
    assert {row["source"] for row in rows} == {""}  # a tick file names no feed (API records: test_api_item_mapping)


def test_unknown_codes_are_dropped_and_faulty_prices_kept(enricher_run) -> None:
    ticks, _, rows, _ = enricher_run
    emitted_codes = {row["commodity_code"] for row in rows}
    assert emitted_codes == {"GOLD", "BRENT", "WHEAT"}
    assert any(t.commodity_code == "LITHIUM" for t in ticks), "the unknown code must be in the input"
    assert any(t.commodity_code == "" for t in ticks), "an empty code must be in the input"

    def is_faulty(price: Decimal | None, volume: Decimal | None) -> bool:
        return price is None or price <= 0 or volume is None or volume < 0

    faulty = [row for row in map(_parse, rows) if is_faulty(row[2], row[3])]
    assert len(faulty) == sum(n for key, n in expected_rows(ticks).items() if is_faulty(key[2], key[3]))
    assert len(faulty) > 5


def test_metadata_versions_apply_from_their_valid_time(enricher_run) -> None:
    _, _, rows, _ = enricher_run
    brent = [
        (parse_time(r["event_time"]), r["commodity_name"]) for r in rows if r["commodity_code"] == "BRENT"
    ]
    assert {name for at, name in brent if at < BRENT_RENAMED_AT} == {"Brent Crude Oil"}
    assert {name for at, name in brent if at >= BRENT_RENAMED_AT} == {"Brent Crude Oil (front month)"}
    wheat_times = [parse_time(r["event_time"]) for r in rows if r["commodity_code"] == "WHEAT"]
    assert wheat_times
    assert min(wheat_times) == WHEAT_KNOWN_FROM


def test_ingest_time_is_the_utc_emission_time(enricher_run) -> None:
    _, _, rows, (started, finished) = enricher_run
    ingest_times = [parse_time(row["ingest_time"]) for row in rows]
    slack = timedelta(seconds=1)  # the clock of the JVM and of this process may round differently
    assert all(started - slack <= at <= finished + slack for at in ingest_times)

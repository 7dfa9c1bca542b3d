"""The backfill against the real sandbox MariaDB: exactness, idempotency, edges, recovery, filters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from commodity_platform.errors import PermanentError, TemporaryError
from commodity_platform.ohlc.backfill import OhlcBackfill
from commodity_platform.ohlc.window import Window
from sandbox.ticks import Faults, generate_ticks, load_ticks
from tests.ohlc.reference import assert_bars_match, reference_bars, stored_bars

pytestmark = pytest.mark.sandbox

UTC = timezone.utc
START = datetime(2031, 3, 1, 22, 0)  # naive UTC, as the warehouse stores it
END = datetime(2031, 3, 2, 2, 0)  # crosses midnight: two day-chunks


def window(start: datetime = START, end: datetime = END, codes: tuple[str, ...] = ()) -> Window:
    return Window(start=start.replace(tzinfo=UTC), end=end.replace(tzinfo=UTC), commodity_codes=codes)


def insert(conn: Any, rows: list[tuple]) -> None:
    cur = conn.cursor()
    cur.executemany("INSERT INTO energy_prices_rt (commodity_code, event_time, price, volume) VALUES (%s,%s,%s,%s)",
                    rows)
    cur.close()


def table_state(conn: Any) -> tuple[Any, list[tuple]]:
    cur = conn.cursor()
    cur.execute("CHECKSUM TABLE price_1min_agg")
    checksum = cur.fetchone()[1]
    cur.execute("SELECT * FROM price_1min_agg ORDER BY commodity_code, bar_start")
    rows = list(cur.fetchall())
    cur.close()
    return checksum, rows


# Hand-written ticks for the cases random data may miss: ties on event_time (open = lowest price of the
# earliest instant, close = highest price of the latest), a zero-volume minute (vwap NULL), a minute with
# only invalid ticks (no bar), and every kind of invalid tick.
EDGE_TICKS = [
    ("DUBAI", datetime(2031, 3, 1, 23, 30, 0, 0), Decimal("75.10"), Decimal("1")),
    ("DUBAI", datetime(2031, 3, 1, 23, 30, 0, 0), Decimal("75.05"), Decimal("2")),
    ("DUBAI", datetime(2031, 3, 1, 23, 30, 59, 999000), Decimal("75.30"), Decimal("0")),
    ("DUBAI", datetime(2031, 3, 1, 23, 30, 59, 999000), Decimal("75.20"), Decimal("3")),
    ("ETHANOL", datetime(2031, 3, 1, 23, 31, 5), Decimal("75.40"), Decimal("0")),
    ("WCS", datetime(2031, 3, 1, 23, 32, 1), None, Decimal("1")),
    ("WCS", datetime(2031, 3, 1, 23, 32, 2), Decimal("0"), Decimal("1")),
    ("WCS", datetime(2031, 3, 1, 23, 32, 3), Decimal("-4"), Decimal("1")),
    ("WCS", datetime(2031, 3, 1, 23, 32, 4), Decimal("75"), None),
    ("WCS", datetime(2031, 3, 1, 23, 32, 5), Decimal("75"), Decimal("-1")),
    (None, datetime(2031, 3, 1, 23, 32, 6), Decimal("75"), Decimal("1")),
    ("", datetime(2031, 3, 1, 23, 32, 7), Decimal("75"), Decimal("1")),
]


def test_bars_equal_an_independent_reference(db, connect_db) -> None:
    ticks = generate_ticks(START, END, n_ticks=20_000, commodities=["WTI", "BRENT", "HENRY_HUB", "PJM_WEST", "TTF"],
                           faults=Faults(invalid=0.03, duplicate_ts=0.05, late=0.02, stale_commodity="TTF"),
                           quiet_fraction=0.3, seed=11)
    load_ticks(db, ticks)
    insert(db, EDGE_TICKS)
    all_ticks = [*ticks.rows(), *EDGE_TICKS]
    expected = reference_bars(all_ticks, START, END)
    # The data really has the shapes the test is about.
    assert any(t[0] is None for t in all_ticks) and any(t[2] is not None and t[2] <= 0 for t in all_ticks)
    assert any(b["vwap"] is None for b in expected.values())
    minutes = int((END - START) / timedelta(minutes=1))
    assert len({k for k in expected if k[0] == "WTI"}) < minutes  # sparse: quiet minutes have no bar

    report = OhlcBackfill(connect_db, doris=False).run(window())

    assert [(c.start, c.end) for c in report.shards] == [("2031-03-01T22:00:00Z", "2031-03-02T00:00:00Z"),
                                                        ("2031-03-02T00:00:00Z", "2031-03-02T02:00:00Z")]
    assert report.bars_written == len(expected)
    assert_bars_match(stored_bars(db), expected)
    bars = stored_bars(db)
    tie = bars[("DUBAI", datetime(2031, 3, 1, 23, 30))]
    assert (tie["open_price"], tie["close_price"]) == (Decimal("75.05"), Decimal("75.30"))
    assert bars[("ETHANOL", datetime(2031, 3, 1, 23, 31))]["vwap"] is None
    assert ("WCS", datetime(2031, 3, 1, 23, 32)) not in bars  # only invalid ticks: no bar


def test_codes_differing_in_case_or_trailing_space_are_separate_bars_as_in_doris(db, connect_db) -> None:
    """Doris keys strings byte-wise; the sandbox tables are created byte-wise (NO PAD binary collation) so
    'wti' and 'WTI ' do not fold into 'WTI' here either (the default collation would merge all three)."""
    minute = datetime(2031, 3, 1, 23, 40)
    rows = [(code, minute + timedelta(seconds=i), Decimal(80 + i), Decimal("1"))
            for i, code in enumerate(["WTI", "wti", "WTI ", "WTI"])]
    insert(db, rows)

    OhlcBackfill(connect_db, doris=False).run(window())

    bars = stored_bars(db)
    assert sorted(code for code, _ in bars) == ["WTI", "WTI ", "wti"]
    assert bars[("WTI", minute)]["tick_count"] == 2
    assert_bars_match(bars, reference_bars(rows, START, END))


def test_second_run_changes_nothing(db, connect_db) -> None:
    load_ticks(db, generate_ticks(START, END, n_ticks=5_000, commodities=3, faults=Faults.realistic(), seed=3))
    OhlcBackfill(connect_db, doris=False).run(window())
    first = table_state(db)
    assert first[1], "the first run wrote no bars"

    OhlcBackfill(connect_db, doris=False).run(window())

    assert table_state(db) == first


def test_window_edges_start_inclusive_end_exclusive(db, connect_db) -> None:
    start, end = datetime(2031, 3, 1, 10, 0), datetime(2031, 3, 1, 10, 3)
    insert(db, [
        ("WTI", start - timedelta(milliseconds=1), Decimal("70"), Decimal("1")),  # before: not in the window
        ("WTI", start, Decimal("71"), Decimal("1")),  # exactly at start: in the first bar
        ("WTI", end - timedelta(milliseconds=1), Decimal("72"), Decimal("1")),  # last ms: in the last bar
        ("WTI", end, Decimal("73"), Decimal("1")),  # exactly at end: excluded
    ])
    cur = db.cursor()
    # Bars just outside the window must survive the rewrite untouched.
    cur.execute("INSERT INTO price_1min_agg VALUES ('WTI', %s, 1, 1, 1, 1, 1, 1, 1), ('WTI', %s, 2, 2, 2, 2, 2, 2, 2)",
                [start - timedelta(minutes=1), end])

    OhlcBackfill(connect_db, doris=False).run(window(start, end))

    bars = stored_bars(db)
    assert set(bars) == {("WTI", start - timedelta(minutes=1)), ("WTI", start),
                         ("WTI", end - timedelta(minutes=1)), ("WTI", end)}
    assert bars[("WTI", start)]["open_price"] == Decimal("71") and bars[("WTI", start)]["tick_count"] == 1
    assert bars[("WTI", end - timedelta(minutes=1))]["close_price"] == Decimal("72")
    assert bars[("WTI", end)]["open_price"] == Decimal("2")  # outside: not rewritten
    assert bars[("WTI", start - timedelta(minutes=1))]["open_price"] == Decimal("1")


def test_minute_whose_ticks_vanished_loses_its_bar(db, connect_db) -> None:
    start, end = datetime(2031, 3, 1, 10, 0), datetime(2031, 3, 1, 10, 5)
    insert(db, [("BRENT", start + timedelta(minutes=m, seconds=s), Decimal("80") + m, Decimal("2"))
                for m in range(5) for s in (1, 30)])
    OhlcBackfill(connect_db, doris=False).run(window(start, end))
    assert len(stored_bars(db)) == 5
    cur = db.cursor()
    # Minute 2's ticks are deleted, minute 3's become invalid (a corrected feed marks them bad).
    cur.execute("DELETE FROM energy_prices_rt WHERE event_time >= %s AND event_time < %s",
                [start + timedelta(minutes=2), start + timedelta(minutes=3)])
    cur.execute("UPDATE energy_prices_rt SET price = NULL WHERE event_time >= %s AND event_time < %s",
                [start + timedelta(minutes=3), start + timedelta(minutes=4)])

    report = OhlcBackfill(connect_db, doris=False).run(window(start, end))

    assert sorted(k[1] for k in stored_bars(db)) == [start, start + timedelta(minutes=1), start + timedelta(minutes=4)]
    assert report.bars_written == 3 and report.bars_deleted == 5


class InjectedFailure(RuntimeError):
    pass


def test_failure_mid_chunk_leaves_no_partial_state_others_rebuilt_and_rerun_recovers(db, connect_db) -> None:
    start, end = datetime(2031, 3, 1, 10, 0), datetime(2031, 3, 1, 13, 0)  # three one-hour chunks
    ticks = generate_ticks(start, end, n_ticks=3_000, commodities=2, seed=5)
    load_ticks(db, ticks)
    cur = db.cursor()
    # Stale bars everywhere (as if an old definition or lost ticks had produced them).
    cur.execute(
        "INSERT INTO price_1min_agg SELECT commodity_code, bar_start, 1, 1, 1, 1, 1, NULL, 1 FROM ("
        "SELECT DISTINCT commodity_code, TIMESTAMPADD(MINUTE, TIMESTAMPDIFF(MINUTE, '1970-01-01', event_time), "
        "CAST('1970-01-01' AS DATETIME)) AS bar_start FROM energy_prices_rt) AS m"
    )
    stale_before = stored_bars(db)

    def fail_in_chunk_2(stage: str, index: int) -> None:
        if index == 2 and stage == "before_commit":
            raise InjectedFailure("killed after DELETE + INSERT of chunk 2, before COMMIT")

    with pytest.raises(PermanentError, match=r"1 of 3 shard\(s\) failed \(shard 2 \[2031-03-01T11:00:00Z, "
                                             r"2031-03-01T12:00:00Z\) all codes: killed after .*the other 2 completed"):
        OhlcBackfill(connect_db, doris=False, chunk_minutes=60, fault_hook=fail_in_chunk_2).run(window(start, end))

    expected = reference_bars(ticks.rows(), start, end)
    after_failure = stored_bars(db)
    hour = timedelta(hours=1)
    # Chunks 1 and 3 committed: correct. Chunk 2 rolled back: exactly the old bars.
    for lo, hi in ((start, start + hour), (start + 2 * hour, end)):
        assert_bars_match({k: v for k, v in after_failure.items() if lo <= k[1] < hi},
                          {k: v for k, v in expected.items() if lo <= k[1] < hi})
    assert {k: v for k, v in after_failure.items() if start + hour <= k[1] < start + 2 * hour} == {
        k: v for k, v in stale_before.items() if start + hour <= k[1] < start + 2 * hour}

    OhlcBackfill(connect_db, doris=False, chunk_minutes=60).run(window(start, end))

    assert_bars_match(stored_bars(db), expected)


@pytest.mark.parametrize("chunk_minutes", [1440, 10080], ids=["two day chunks", "one chunk"])
def test_parallel_shards_write_exactly_what_one_connection_writes(db, connect_db, chunk_minutes) -> None:
    """Two connections rebuilding time slices at once: the table is byte-identical to the 1-worker run,
    including the deletion of a stored bar whose code has no tick left in the window."""
    ticks = generate_ticks(START, END, n_ticks=20_000, commodities=5, faults=Faults.realistic(), seed=12)
    load_ticks(db, ticks)
    insert(db, EDGE_TICKS)
    orphan = ("GONE", datetime(2031, 3, 1, 23, 0))
    stale = "INSERT INTO price_1min_agg VALUES (%s, %s, 1, 1, 1, 1, 1, NULL, 1)"
    cur = db.cursor()
    cur.execute(stale, orphan)
    OhlcBackfill(connect_db, doris=False, workers=1).run(window())
    one_worker = table_state(db)
    assert orphan not in stored_bars(db)
    cur.execute("DELETE FROM price_1min_agg")
    cur.execute(stale, orphan)

    report = OhlcBackfill(connect_db, doris=False, workers=2, chunk_minutes=chunk_minutes).run(window())

    assert table_state(db) == one_worker
    assert report.workers == 2
    assert all(s.commodity_codes == [] for s in report.shards)  # all codes: time slices on MariaDB
    # Either way hourly slices for balance (up to 4 per worker, none below an hour), tiling the window.
    assert [(s.start, s.end) for s in report.shards] == [
        ("2031-03-01T22:00:00Z", "2031-03-01T23:00:00Z"), ("2031-03-01T23:00:00Z", "2031-03-02T00:00:00Z"),
        ("2031-03-02T00:00:00Z", "2031-03-02T01:00:00Z"), ("2031-03-02T01:00:00Z", "2031-03-02T02:00:00Z")]


def test_concurrent_time_slices_do_not_wait_for_each_other(db, connect_db) -> None:
    """While shard 1 is in its expensive part (its bars computed from the ticks), shard 2 on the other
    connection rebuilds and commits. The scan is staged before the shard's transaction
    (write_mariadb.sql): with the scan inside it, shard 1 would hold its DELETE's row locks for the whole
    scan, and shard 2's DELETE, whose range scan locks the first row past its range (shard 1's), would wait
    for them: the two shards would run one after the other."""
    import threading

    ticks = generate_ticks(START, END, n_ticks=20_000, commodities=5, seed=15)
    load_ticks(db, ticks)
    OhlcBackfill(connect_db, doris=False).run(window())  # bars exist in both slices: the DELETEs lock rows
    second_committed = threading.Event()

    def hold_first_in_its_scan(stage: str, index: int) -> None:
        if index == 2 and stage == "after_commit":
            second_committed.set()
        if index == 1 and stage == "staged" and not second_committed.wait(timeout=15):
            raise InjectedFailure("shard 2 did not commit while shard 1 was computing its bars")

    report = OhlcBackfill(connect_db, doris=False, workers=2, fault_hook=hold_first_in_its_scan).run(window())

    assert second_committed.is_set() and len(report.shards) == 4
    assert_bars_match(stored_bars(db), reference_bars(ticks.rows(), START, END))


def test_a_failed_shard_is_named_and_the_other_shards_are_rebuilt(db, connect_db) -> None:
    ticks = generate_ticks(START, END, n_ticks=8_000, commodities=4, seed=13)
    load_ticks(db, ticks)
    plan = OhlcBackfill(connect_db, doris=False, workers=2, chunk_minutes=60)

    def fail_shard_3(stage: str, index: int) -> None:
        if index == 3 and stage == "before_commit":
            raise InjectedFailure("disk full")

    with pytest.raises(PermanentError, match=r"1 of 4 shard\(s\) failed \(shard 3 \[2031-03-02T00:00:00Z, "
                                             r"2031-03-02T01:00:00Z\) all codes: disk full\)"):
        OhlcBackfill(connect_db, doris=False, workers=2, chunk_minutes=60, fault_hook=fail_shard_3).run(window())

    expected = reference_bars(ticks.rows(), START, END)
    failed = {k for k in expected if datetime(2031, 3, 2) <= k[1] < datetime(2031, 3, 2, 1)}
    assert failed and set(stored_bars(db)) == set(expected) - failed
    assert_bars_match(stored_bars(db), {k: v for k, v in expected.items() if k not in failed})
    plan.run(window())
    assert_bars_match(stored_bars(db), expected)


def test_a_temporary_failure_in_one_shard_is_retried_as_temporary(db, connect_db) -> None:
    """A shard that keeps failing temporarily (after its own retries) makes the run's error temporary, so
    the task's retries apply; a permanent one anywhere makes it permanent (see the test above)."""
    load_ticks(db, generate_ticks(START, END, n_ticks=2_000, commodities=2, seed=14))

    def always_lost(stage: str, index: int) -> None:
        if index == 1 and stage == "before_commit":
            raise TemporaryError("connection lost (2013)")

    with pytest.raises(TemporaryError, match=r"1 of 4 shard\(s\) failed \(shard 1 "):
        OhlcBackfill(connect_db, doris=False, workers=2, fault_hook=always_lost).run(window())


def test_commodity_filter_touches_only_those_codes(db, connect_db) -> None:
    start, end = datetime(2031, 3, 1, 10, 0), datetime(2031, 3, 1, 11, 0)
    ticks = generate_ticks(start, end, n_ticks=2_000, commodities=["WTI", "BRENT", "RBOB"], seed=9)
    load_ticks(db, ticks)
    cur = db.cursor()
    cur.execute("INSERT INTO price_1min_agg VALUES ('RBOB', %s, 9, 9, 9, 9, 9, 9, 9)", [start])

    OhlcBackfill(connect_db, doris=False).run(window(start, end, codes=("WTI", "BRENT")))

    bars = stored_bars(db)
    expected = reference_bars(ticks.rows(), start, end, codes=["WTI", "BRENT"])
    assert_bars_match({k: v for k, v in bars.items() if k[0] != "RBOB"}, expected)
    assert {k: v["open_price"] for k, v in bars.items() if k[0] == "RBOB"} == {("RBOB", start): Decimal("9")}


def test_the_rebuild_session_keeps_a_month_sized_group_table_in_memory(db, connect_db) -> None:
    """A month chunk groups ~450k bars per shard; MariaDB's 16 MiB default spills that to an on-disk temp table
    (the bare month scan ran for minutes). The rebuild session raises both limits before its statements."""
    from commodity_platform.ohlc.backfill import MYSQL_GROUP_TABLE_BYTES

    seen: list[tuple[int, int]] = []

    class Recording:
        def __init__(self) -> None:
            self.conn = connect_db()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.conn, name)

        def close(self) -> None:
            cur = self.conn.cursor()
            cur.execute("SELECT @@SESSION.tmp_table_size, @@SESSION.max_heap_table_size")
            seen.append(cur.fetchone())
            self.conn.close()

    insert(db, [("WTI", START + timedelta(seconds=5), Decimal("70"), Decimal("1"))])
    OhlcBackfill(Recording, doris=False).run(window())

    assert seen == [(MYSQL_GROUP_TABLE_BYTES, MYSQL_GROUP_TABLE_BYTES)]


def test_the_stored_minute_column_is_the_definitions_minute(db) -> None:
    """The sandbox's generated minute column (spelled without CAST: MariaDB refuses it there) equals bars.sql's
    minute expression for every tick, at the edges of minutes, days, leap days and years."""
    from commodity_platform.ohlc.definition import MINUTE_COLUMN, MINUTE_EXPRESSION

    instants = [datetime(2031, 3, 1, 23, 59, 59, 999000), datetime(2031, 3, 2), datetime(2032, 2, 29, 12, 0, 0, 1000),
                datetime(2031, 12, 31, 23, 59, 59, 999000), datetime(1970, 1, 1, 0, 1), datetime(1970, 1, 1),
                datetime(2031, 3, 1, 0, 0, 0, 1000)]
    insert(db, [("WTI", instant, Decimal("70"), Decimal("1")) for instant in instants])
    cur = db.cursor()
    cur.execute(f"SELECT event_time, {MINUTE_COLUMN}, {MINUTE_EXPRESSION} FROM energy_prices_rt ORDER BY event_time")
    rows = cur.fetchall()
    cur.close()
    assert len(rows) == len(instants)
    assert [(when, stored) for when, stored, _ in rows] == [(when, computed) for when, _, computed in rows]
    assert rows[0][1:] == (0, 0) and rows[1][1:] == (1, 1)  # the origin and its next minute


def test_the_sandbox_aggregates_the_bars_along_the_minute_index_without_a_group_table(db) -> None:
    """The point of the minute index: MariaDB reads level 1 as a range of doris_minute_scan in group order
    ("Using index", no "Using temporary"). bars.sql as written (Doris' form) still needs the temporary table
    on the same data, which is what this check would see if the index, the range or the server's
    optimizer switch were lost."""
    from commodity_platform.ohlc.definition import MINUTE_INDEX, bars_sql

    load_ticks(db, generate_ticks(START, END, n_ticks=20_000, commodities=8, seed=5))
    cur = db.cursor()
    cur.execute("ANALYZE TABLE energy_prices_rt")
    cur.fetchall()

    def level_one_plan(minute_index: bool) -> tuple[str, str]:
        sql, params = bars_sql(START, END, minute_index=minute_index)
        cur.execute("EXPLAIN " + sql, params)
        columns = [d[0] for d in cur.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
        (derived,) = [r for r in rows if r["select_type"] == "DERIVED"]
        return derived["key"], derived["Extra"]

    key, extra = level_one_plan(True)
    assert key == MINUTE_INDEX and "Using index" in extra and "Using temporary" not in extra, (key, extra)
    _, plain_extra = level_one_plan(False)
    assert "Using temporary" in plain_extra
    cur.close()

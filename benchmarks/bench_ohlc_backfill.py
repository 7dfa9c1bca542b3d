"""Benchmark: ohlc_backfill over 1,000,000 ticks (24 h, 20 commodities) vs a bare aggregate scan and pandas.

Goal (issue #4): the backfill (DELETE + INSERT ... SELECT of the full bar definition, in one transaction)
takes <= 1.2x a bare ``SELECT commodity_code, <minute>, COUNT(*), MIN(price), MAX(price), SUM(volume)
... GROUP BY commodity_code, minute`` over the same ticks, measured in the same run. Second baseline:
pulling the ticks into pandas and computing the bars there. A third case rebuilds the window as two
half-day chunks on two connections at once, to show whether the second core helps (it does not here).

Runs on its own sandbox (``Sandbox("bench")``, a private MariaDB) and leaves nothing behind. Each
measurement is repeated ``--repeat`` times, interleaved so machine noise hits all of them alike; the
median is reported, and the minimum as well.

    /tmp/venvtry/.venv/bin/python benchmarks/bench_ohlc_backfill.py [--ticks 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT), str(ROOT / "benchmarks")]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ohlc-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import logging  # noqa: E402

from bare_scan import run_bare_scan  # noqa: E402

from commodity_platform.ohlc.backfill import OhlcBackfill  # noqa: E402
from commodity_platform.ohlc.window import Window  # noqa: E402
from sandbox.services import DORIS_DATABASE, Sandbox  # noqa: E402
from sandbox.ticks import Faults, generate_ticks, load_ticks  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 1, 2, tzinfo=timezone.utc)
PARAMS = {"window_start": "2026-01-01 00:00:00", "window_end": "2026-01-02 00:00:00"}
PULL_TICKS = ("SELECT commodity_code, event_time, price, volume FROM energy_prices_rt "
              "WHERE event_time >= %(window_start)s AND event_time < %(window_end)s")


def connect(sandbox: Sandbox) -> Any:
    import MySQLdb

    return MySQLdb.connect(host="127.0.0.1", port=sandbox.mariadb_port, user="airflow", passwd=sandbox.password,
                           db=DORIS_DATABASE, local_infile=1, autocommit=True)


def bare_scan(sandbox: Sandbox) -> int:
    conn = connect(sandbox)
    try:
        return run_bare_scan(conn, PARAMS)
    finally:
        conn.close()


def backfill(sandbox: Sandbox) -> int:
    report = OhlcBackfill(lambda: connect(sandbox), doris=False).run(Window(START, END))
    return report.bars_written


def backfill_two_connections(sandbox: Sandbox) -> int:
    """The window as two half-day chunks rebuilt at once on two connections (threads).

    Kept as evidence, not as the product's mode: MariaDB runs one query per thread, so this is the only
    way to use the second core; on this 2-vCPU machine it is slower than one connection, because each
    chunk still scans the whole (unpartitioned) table and the two threads contend for the same cores.
    """
    from concurrent.futures import ThreadPoolExecutor

    middle = START + (END - START) / 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda w: OhlcBackfill(lambda: connect(sandbox), doris=False).run(w),
                                [Window(START, middle), Window(middle, END)]))
    return sum(r.bars_written for r in reports)


def pandas_bars(sandbox: Sandbox) -> int:
    """Ticks pulled to the client and the same bar definition computed with pandas."""
    import pandas as pd

    conn = connect(sandbox)
    try:
        cur = conn.cursor()
        cur.execute(PULL_TICKS, PARAMS)
        frame = pd.DataFrame(cur.fetchall(), columns=["code", "event_time", "price", "volume"])
    finally:
        conn.close()
    # Decimals to floats: what a pandas job would do (and why it would not be exact).
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce")
    frame["volume"] = pd.to_numeric(frame["volume"], errors="coerce")
    valid = frame[frame["code"].notna() & (frame["code"] != "") & (frame["price"] > 0) & (frame["volume"] >= 0)]
    valid = valid.assign(bar_start=valid["event_time"].dt.floor("min"), notional=valid["price"] * valid["volume"])
    valid = valid.sort_values(["code", "bar_start", "event_time", "price", "volume"])
    grouped = valid.groupby(["code", "bar_start"], sort=False)
    bars = grouped.agg(open_price=("price", "first"), high_price=("price", "max"), low_price=("price", "min"),
                       close_price=("price", "last"), volume=("volume", "sum"), notional=("notional", "sum"),
                       tick_count=("price", "size"))
    bars["vwap"] = (bars["notional"] / bars["volume"]).where(bars["volume"] > 0)
    return len(bars)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--commodities", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with Sandbox("bench") as sandbox:
        sandbox.drop_database()
        os.environ.update(sandbox.connection_env())
        from commodity_platform.doris.tasks import run_migrations

        run_migrations(installed_by="bench")
        started = time.monotonic()
        ticks = generate_ticks(START, END, n_ticks=args.ticks, commodities=args.commodities,
                               faults=Faults.realistic(), seed=2026)
        generated = time.monotonic() - started
        conn = connect(sandbox)
        load_seconds = load_ticks(conn, ticks)
        conn.cursor().execute("ANALYZE TABLE energy_prices_rt")
        conn.close()
        print(f"generated {len(ticks):,} ticks ({args.commodities} commodities, 24 h, realistic faults) in "
              f"{generated:.1f} s, loaded (LOAD DATA LOCAL INFILE) in {load_seconds:.1f} s")

        cases: dict[str, Callable[[Sandbox], int]] = {
            "bare aggregate scan": bare_scan, "ohlc backfill": backfill,
            "backfill, 2 connections": backfill_two_connections, "pandas (pull + compute)": pandas_bars,
        }
        bare_scan(sandbox)  # warm the buffer pool so the first case does not pay the cold read
        times: dict[str, list[float]] = {name: [] for name in cases}
        rows: dict[str, int] = {}
        for _ in range(args.repeat):
            for name, fn in cases.items():
                began = time.perf_counter()
                rows[name] = fn(sandbox)
                times[name].append(time.perf_counter() - began)

        base_med = statistics.median(times["bare aggregate scan"])
        base_min = min(times["bare aggregate scan"])
        print(f"\n{'case':<26}{'median s':>10}{'min s':>9}{'x bare (median)':>17}{'x bare (min)':>14}{'rows':>9}")
        for name, values in times.items():
            med, low = statistics.median(values), min(values)
            print(f"{name:<26}{med:>10.3f}{low:>9.3f}{med / base_med:>17.2f}{low / base_min:>14.2f}{rows[name]:>9,}")
        ratio = statistics.median(times["ohlc backfill"]) / base_med
        print(f"\nbackfill / bare scan = {ratio:.2f}x (goal <= 1.2x): {'met' if ratio <= 1.2 else 'NOT met'}")
        pandas_ratio = statistics.median(times["pandas (pull + compute)"]) / statistics.median(times["ohlc backfill"])
        print(f"pandas / backfill = {pandas_ratio:.2f}x")
        sandbox.drop_database()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark (opt-in, minutes): a month of bars at once -- 31 days x 20 commodities, ~31 million ticks.

Goal (issue 16 point 2): the backfill of the month takes < 60 s on this machine, with the peak memory
(RSS) of the process doing it flat (no tick enters Python: the bars are computed inside the warehouse),
and the time per day compared with a one-day run on the same table (linear within 10 %).

Steps, each timed apart: generate the ticks with ``sandbox.ticks`` (day by day, so the generator's own
memory stays at one day) and load them (LOAD DATA LOCAL INFILE, the secondary indexes rebuilt once after);
then, in a fresh child process each (its peak RSS read from its own VmHWM): the one-day backfill (a day in
the middle of the month; twice: from disk, then from memory when the pool is smaller than the month), the bare
single-statement scan of that day (the baseline of the same run), the month backfill
(``--month-chunk-minutes``, default a day, as the Param), the month's OHLC check, and with ``--with-bare`` the
bare single-statement aggregate scan of the month (minutes on the sandbox: its 892k groups overflow MariaDB's
16 MiB in-memory temp table). Everything runs on a private sandbox (``Sandbox("bench-month")``), dropped
afterwards unless ``--keep`` (then ``--reuse`` skips the 15 minutes of generating and loading). Its MariaDB's
buffer pool is sized to hold the month (``--buffer-pool``, default 10G: the month is ~4.4 GiB of ticks plus
its sort-key index, ~1.5 GiB, and the bars' minute index), as a warehouse holding a month's ticks would be;
the default 1G of the test sandboxes makes the month run read most days from disk (``--buffer-pool 1G``
measures that). Each step reports the buffer-pool reads it caused (pages read from disk).

``./dev bench`` skips it (it prints how to run it); run it with::

    .venv/bin/python benchmarks/bench_ohlc_month.py --run [--days 31] [--ticks-per-day 1000000] [--workers N]
        [--month-chunk-minutes 1440] [--buffer-pool 10G] [--repeat N] [--with-bare] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT), str(ROOT / "benchmarks")]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ohlc-month-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import logging  # noqa: E402

from commodity_platform.ohlc.definition import MINUTE_INDEX  # noqa: E402
from commodity_platform.ohlc.shards import default_workers  # noqa: E402
from sandbox.services import DORIS_DATABASE, Sandbox  # noqa: E402
from sandbox.ticks import Faults, generate_ticks, load_ticks  # noqa: E402

MONTH_START = datetime(2026, 1, 1, tzinfo=timezone.utc)

# The child process: only what a worker's rebuild task does (no Airflow import, whose memory would hide
# the backfill's), connected to the sandbox through the environment.
CHILD = r"""
import json, os, sys, time
from datetime import datetime, timezone
sys.path[:0] = [os.environ["BENCH_ROOT"] + "/plugins", os.environ["BENCH_ROOT"]]
import MySQLdb
from commodity_platform.ohlc.backfill import OhlcBackfill
from commodity_platform.ohlc.comparison import compare_bars
from commodity_platform.window import Window, parse_utc

class Hook:
    def get_conn(self):
        return MySQLdb.connect(host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), user="airflow",
                               passwd=os.environ["BENCH_PASSWORD"], db=os.environ["BENCH_DB"], autocommit=True)

start = parse_utc(os.environ["BENCH_START"], field_name="start")
end = parse_utc(os.environ["BENCH_END"], field_name="end")
workers, chunk = int(os.environ["BENCH_WORKERS"]), int(os.environ["BENCH_CHUNK"])
began = time.perf_counter()
if os.environ["BENCH_WHAT"] == "backfill":
    out = OhlcBackfill(Hook().get_conn, doris=False, workers=workers, chunk_minutes=chunk).run(Window(start, end))
    result = {"bars_written": out.bars_written, "shards": len(out.shards)}
elif os.environ["BENCH_WHAT"] == "check":
    out = compare_bars(Hook(), start, end, workers=workers)
    result = {"ok": out.ok, "mismatched_bars": out.mismatched_bars}
else:
    sys.path.insert(0, os.environ["BENCH_ROOT"] + "/benchmarks")
    from bare_scan import run_bare_scan
    conn = Hook().get_conn()
    fmt = "%Y-%m-%d %H:%M:%S"
    result = {"groups": run_bare_scan(conn, {"window_start": start.strftime(fmt), "window_end": end.strftime(fmt)})}
    conn.close()
result["seconds"] = time.perf_counter() - began
# VmHWM: the peak RSS of this process image (ru_maxrss would carry the forking parent's peak over exec).
hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
result["peak_rss_mib"] = hwm_kib / 1024
print(json.dumps(result))
"""


def child_run(sandbox: Sandbox, what: str, start: datetime, end: datetime, *, workers: int = 1,
              chunk_minutes: int = 1440) -> dict[str, Any]:
    """Run one case in a fresh process; returns its JSON result plus wall seconds and peak RSS (MiB)."""
    env = {**os.environ, "BENCH_ROOT": str(ROOT), "BENCH_PORT": str(sandbox.mariadb_port),
           "BENCH_PASSWORD": sandbox.password, "BENCH_DB": DORIS_DATABASE, "BENCH_WHAT": what,
           "BENCH_START": start.isoformat(), "BENCH_END": end.isoformat(), "BENCH_WORKERS": str(workers),
           "BENCH_CHUNK": str(chunk_minutes)}
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed: {stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="really run it (it takes minutes)")
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--ticks-per-day", type=int, default=1_000_000)
    parser.add_argument("--commodities", type=int, default=20)
    parser.add_argument("--workers", type=int, default=default_workers(doris=False),
                        help="parallel_workers of the runs (default: this machine's cores)")
    parser.add_argument("--month-chunk-minutes", type=int, default=1440,
                        help="chunk_minutes of the month run (default a day, the Param's default)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the month backfill this many times, each after a bare scan of the day (median)")
    parser.add_argument("--buffer-pool", default="10G",
                        help="InnoDB buffer pool of the benchmark's MariaDB (default 10G: holds the month)")
    parser.add_argument("--with-bare", action="store_true",
                        help="also time the bare single-statement scan of the month (its 892k groups overflow "
                             "MariaDB's 16 MiB in-memory temp table: minutes, on an on-disk temp table)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the ticks an earlier --keep run loaded (skips generation and loading)")
    parser.add_argument("--keep", action="store_true", help="leave the ticks in the sandbox for a --reuse run")
    args = parser.parse_args()
    if not args.run and os.environ.get("OHLC_BENCH_MONTH") != "1":
        print("skipped: the month benchmark takes minutes; run it with "
              "`.venv/bin/python benchmarks/bench_ohlc_month.py --run` (or OHLC_BENCH_MONTH=1 ./dev bench)")
        return 0
    logging.basicConfig(level=logging.WARNING)
    end = MONTH_START + timedelta(days=args.days)

    with Sandbox("bench-month", mariadb_buffer_pool=args.buffer_pool) as sandbox:
        expected = args.days * args.ticks_per_day
        if not (args.reuse and _loaded_ticks(sandbox) == expected):
            _generate_and_load(sandbox, args)
        else:
            print(f"reusing the {expected:,} ticks an earlier run loaded")
            _warm_pool(sandbox)
        _runs(sandbox, args, end)
        if not args.keep:
            sandbox.drop_database()
    return 0


def _warm_pool(sandbox: Sandbox) -> None:
    """After a restart the pool is empty: when it can hold the ticks, read them once (as the load leaves them),
    so that a reused run measures the same warm warehouse as a fresh one."""
    data, _index, pool = _table_and_pool_bytes(sandbox)
    if data < 0.9 * pool:
        began = time.monotonic()
        sandbox.query("SELECT COUNT(*), SUM(price), SUM(volume) FROM energy_prices_rt")
        print(f"read the tick table into the buffer pool in {time.monotonic() - began:.1f} s (reused sandbox)")


def _table_and_pool_bytes(sandbox: Sandbox) -> tuple[int, int, int]:
    """The tick table's rows and indexes, and the InnoDB buffer pool, in bytes."""
    ((data, index),) = sandbox.query(
        "SELECT data_length, index_length FROM information_schema.tables WHERE table_schema = %s "
        "AND table_name = 'energy_prices_rt'", [DORIS_DATABASE], database=None)
    ((pool,),) = sandbox.query("SELECT @@innodb_buffer_pool_size", database=None)
    return int(data), int(index), int(pool)


def _pool_disk_reads(sandbox: Sandbox) -> int:
    """InnoDB's count of buffer-pool reads that had to go to disk (pages not in the pool), server-wide."""
    ((_name, value),) = sandbox.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'", database=None)
    return int(value)


def _table_vs_pool(sandbox: Sandbox) -> str:
    data, index, pool = _table_and_pool_bytes(sandbox)
    gib = 1024 ** 3
    return (f"tick table: {data / gib:.2f} GiB of rows + {index / gib:.2f} GiB of secondary indexes; "
            f"InnoDB buffer pool {pool / gib:.2f} GiB")


def _loaded_ticks(sandbox: Sandbox) -> int:
    try:
        return int(sandbox.query("SELECT COUNT(*) FROM energy_prices_rt", database=DORIS_DATABASE)[0][0])
    except Exception:  # no database or table yet
        return -1


def _generate_and_load(sandbox: Sandbox, args: argparse.Namespace) -> None:
    sandbox.drop_database()
    os.environ.update(sandbox.connection_env())
    from commodity_platform.doris.tasks import run_migrations

    run_migrations(installed_by="bench")
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=sandbox.mariadb_port, user="airflow", passwd=sandbox.password,
                           db=DORIS_DATABASE, local_infile=1, autocommit=True)
    generate_s = load_s = 0.0
    total = 0
    # Bulk-load idiom: the secondary indexes (the sort key and the bars' minute index) are dropped for the
    # load and rebuilt once afterwards (a sorted build instead of 31 million random index inserts each); the
    # table ends exactly as the migration made it.
    cur = conn.cursor()
    cur.execute("SHOW CREATE TABLE energy_prices_rt")
    key_lines = [line.strip().rstrip(",") for line in cur.fetchone()[1].splitlines()
                 if line.strip().startswith(("KEY `doris_sort_key`", f"KEY `{MINUTE_INDEX}`"))]
    if len(key_lines) != 2:
        raise SystemExit(f"energy_prices_rt: expected the indexes doris_sort_key and {MINUTE_INDEX}, found {key_lines}")
    cur.execute(f"ALTER TABLE energy_prices_rt DROP INDEX doris_sort_key, DROP INDEX {MINUTE_INDEX}")
    for day in range(args.days):
        lower = MONTH_START + timedelta(days=day)
        began = time.monotonic()
        ticks = generate_ticks(lower, lower + timedelta(days=1), n_ticks=args.ticks_per_day,
                               commodities=args.commodities, faults=Faults.realistic(), seed=2026 + day)
        generate_s += time.monotonic() - began
        load_s += load_ticks(conn, ticks)
        total += len(ticks)
    began = time.monotonic()
    cur.execute(f"ALTER TABLE energy_prices_rt {', '.join('ADD ' + line for line in key_lines)}")
    cur.execute("ANALYZE TABLE energy_prices_rt")
    load_s += time.monotonic() - began
    conn.close()
    print(f"generated {total:,} ticks ({args.days} days x {args.commodities} commodities, realistic faults) in "
          f"{generate_s:.1f} s; loaded (LOAD DATA LOCAL INFILE, day by day) in {load_s:.1f} s")


def _runs(sandbox: Sandbox, args: argparse.Namespace, end: datetime) -> None:
    middle = MONTH_START + timedelta(days=args.days // 2)
    results: dict[str, dict[str, Any]] = {}
    one_day = (middle, middle + timedelta(days=1))
    steps = [
        # The day twice: with a pool smaller than the month the first run reads from disk, as the month run
        # does for most days (its like-for-like reference), the second from memory; each step's pool reads
        # say which it was.
        ("backfill, one day", lambda: child_run(sandbox, "backfill", *one_day, workers=args.workers)),
        ("backfill, day again", lambda: child_run(sandbox, "backfill", *one_day, workers=args.workers)),
        ("bare scan, one day", lambda: child_run(sandbox, "bare", *one_day)),
        ("backfill, month", lambda: child_run(sandbox, "backfill", MONTH_START, end, workers=args.workers,
                                              chunk_minutes=args.month_chunk_minutes)),
        ("OHLC check, month", lambda: child_run(sandbox, "check", MONTH_START, end, workers=args.workers)),
    ]
    if args.with_bare:
        steps.append(("bare scan, month", lambda: child_run(sandbox, "bare", MONTH_START, end)))
    print(_table_vs_pool(sandbox))
    for name, step in steps:
        reads_before = _pool_disk_reads(sandbox)
        results[name] = step()
        results[name]["pool_disk_reads"] = _pool_disk_reads(sandbox) - reads_before
        print(f"{name:<20} {results[name]['wall_s']:8.2f} s  {json.dumps(results[name])}")

    months = [(results["backfill, month"]["wall_s"], results["bare scan, one day"]["seconds"])]
    for attempt in range(2, args.repeat + 1):
        bare = child_run(sandbox, "bare", *one_day)
        again = child_run(sandbox, "backfill", MONTH_START, end, workers=args.workers,
                          chunk_minutes=args.month_chunk_minutes)
        months.append((again["wall_s"], bare["seconds"]))
        print(f"backfill, month #{attempt} {again['wall_s']:8.2f} s  (bare scan of the day just before: "
              f"{bare['seconds']:.2f} s)  {json.dumps(again)}")
    if args.repeat > 1:
        walls = sorted(wall for wall, _ in months)
        print(f"month backfill, {args.repeat} runs: " + ", ".join(
            f"{wall:.1f} s ({wall / (args.days * bare):.2f}x {args.days} bare days)" for wall, bare in months)
            + f"; median {walls[len(walls) // 2]:.1f} s, min {walls[0]:.1f} s")

    month = results["backfill, month"]["wall_s"]
    # Per-day comparisons on the time inside each child (its interpreter start and imports left out).
    day = results["backfill, one day"]["seconds"]
    # InnoDB pages are 16 KiB: how much each step had to read from disk.
    where = {name: f"{r['pool_disk_reads'] * 16 / 1024:.0f} MiB read from disk" for name, r in results.items()}
    per_day = results["backfill, month"]["seconds"] / args.days
    print(f"\nmonth backfill: {month:.1f} s ({'met' if month < 60 else 'NOT met'}: goal < 60 s), "
          f"{args.workers} workers, chunks of {args.month_chunk_minutes} min; "
          f"{results['backfill, month']['bars_written']:,} bars")
    warm = results["backfill, day again"]["seconds"]
    bare_day = results["bare scan, one day"]["seconds"]
    print(f"time per day in the month run ({where['backfill, month']}) {per_day:.2f} s vs the one-day run "
          f"{day:.2f} s ({where['backfill, one day']}): {per_day / day:.2f}x, vs {warm:.2f} s (again, "
          f"{where['backfill, day again']}): {per_day / warm:.2f}x (linear within 10 % means 0.90-1.10x)")
    print(f"baseline: the bare single-statement scan of one day {bare_day:.2f} s ({where['bare scan, one day']}); "
          "month backfill "
          f"{month:.1f} s = {month / (args.days * bare_day):.2f}x {args.days} such days, the one-day backfill "
          f"(second run) {warm / bare_day:.2f}x")
    print(f"OHLC check of the month: {results['OHLC check, month']['wall_s']:.1f} s; ok="
          f"{results['OHLC check, month'].get('ok')}")
    if "bare scan, month" in results:
        bare = results["bare scan, month"]["wall_s"]
        print(f"bare single-statement scan of the month: {bare:.1f} s; backfill {month / bare:.2f}x")
    print("peak RSS of the process running each step (MiB, its VmHWM): "
          + ", ".join(f"{k}: {v['peak_rss_mib']:.0f}" for k, v in results.items()))
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of streaming_data_quality on its own sandbox ("bench-dq"): MariaDB + Pushgateway + Prometheus.

1. OHLC correctness over 1,000,000 ticks / 24 h vs the bare aggregate scan of the same ticks, measured in
   the same run, alternating, median of N repetitions:
     bare       the bare GROUP BY commodity_code, minute scan (benchmarks/bare_scan.py, the baseline of
                issue #4 too) -- the goal's baseline
     bars       SELECT COUNT(*), SUM(tick_count) FROM (<shared bar definition over 24 h>): recomputing the
                bars alone, to show what the comparison adds on top of the recomputation
     compare    compare_bars() (the comparison SQL, DB-API)
     gx         the DAG's ohlc_correctness check (commodity_platform.quality.checks.ohlc_check) on one
                connection: one GX expectation on the price_1min_agg asset
     gx_n       the same check on --workers connections (default: the cores, as the DAG's automatic 0):
                time-sliced shards, one GX expectation each on its own GX lane, validated at once
   Goal (issue 16 point 3): gx_n / bare <= 1.0.
2. The whole DAG run (dag.test, all checks over the 24 h window, publish to the Pushgateway) vs the time
   its expectations spent in the database (their elapsed_s, read back from dq_results). Goal: overhead
   <= 3 s. Reported cold (first run in the process: Airflow's in-process execution API starts, GX and the
   check code are imported) and warm, with ``import great_expectations`` timed in fresh interpreters to
   show how much of the cold run that import is.

    python benchmarks/bench_data_quality.py [--ticks 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bare_scan import run_bare_scan  # noqa: E402

from commodity_platform.ohlc.shards import default_workers  # noqa: E402
from sandbox.services import SANDBOX_HOME, Sandbox, airflow_env  # noqa: E402

START = datetime(2026, 3, 1, 0, 0)
END = START + timedelta(hours=24)
CODES = ("WTI", "BRENT", "HENRY_HUB", "TTF", "NBP", "JKM", "PJM_W", "ERCOT_N", "COAL_API2", "UX_U3O8")


def load_ticks(conn, ticks: int) -> None:
    """1 M ticks generated inside MariaDB (SEQUENCE engine): spread evenly over 24 h and 10 codes."""
    cur = conn.cursor()
    cur.execute("DELETE FROM energy_prices_rt")
    cur.execute("DELETE FROM price_1min_agg")
    codes = ", ".join(f"'{c}'" for c in CODES)
    span_us = int((END - START).total_seconds() * 1_000_000)
    cur.execute(
        f"""INSERT INTO energy_prices_rt (commodity_code, event_time, price, volume, source, ingest_time)
        SELECT ELT(1 + seq % {len(CODES)}, {codes}),
               TIMESTAMPADD(MICROSECOND, (seq * {span_us // ticks}) DIV 1000 * 1000, '{START:%Y-%m-%d %H:%M:%S}'),
               50 + ((seq * 7919) % 5000) / 100,
               1 + (seq * 104729) % 500 / 10,
               'BENCH',
               TIMESTAMPADD(MICROSECOND, (seq * {span_us // ticks}) DIV 1000 * 1000 + 250000,
                            '{START:%Y-%m-%d %H:%M:%S}')
        FROM seq_0_to_{ticks - 1}"""
    )
    cur.execute("ANALYZE TABLE energy_prices_rt")
    cur.fetchall()
    cur.close()


def materialize(conn) -> int:
    from commodity_platform.ohlc.definition import bars_sql

    sql, params = bars_sql(START, END, minute_index=True)  # the sandbox tables have the minute index
    cur = conn.cursor()
    cur.execute(f"INSERT INTO price_1min_agg {sql}", params)
    cur.execute("SELECT COUNT(*) FROM price_1min_agg")
    bars = cur.fetchone()[0]
    cur.close()
    return bars


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_ohlc(conn, hook, repeat: int, workers: int) -> dict[str, float]:
    from commodity_platform.ohlc.definition import bars_sql
    from commodity_platform.quality.checks import ohlc_check
    from commodity_platform.quality.gx import GxWarehouse
    from commodity_platform.quality.ohlc import compare_bars
    from commodity_platform.quality.settings import DQSettings

    sql, params = bars_sql(START, END, minute_index=True)  # the sandbox tables have the minute index

    def bare() -> None:
        run_bare_scan(conn, params)

    def bars() -> None:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*), SUM(tick_count) FROM ({sql}) AS bars", params)
        cur.fetchall()
        cur.close()

    def compare() -> None:
        assert compare_bars(conn, START, END).ok

    settings = DQSettings(run_id="bench", as_of=END + timedelta(seconds=150), window_start=START, window_end=END)
    times: dict[str, list[float]] = {"bare": [], "bars": [], "compare": [], "gx": [], "gx_n": []}
    with GxWarehouse(hook.get_uri()) as gx:
        def check(on: int) -> None:
            # The DAG's ohlc_correctness check itself: one GX expectation, or one per shard on `on` lanes.
            assert ohlc_check(settings, gx, workers=on, doris=False, hook=hook).status == "pass"

        check(1)  # warm the GX assets/batches and lanes once; every timed call is the queries
        check(workers)
        bare()  # and the buffer pool
        for _ in range(repeat):
            times["bare"].append(timed(bare))
            times["bars"].append(timed(bars))
            times["compare"].append(timed(compare))
            times["gx"].append(timed(lambda: check(1)))
            times["gx_n"].append(timed(lambda: check(workers)))
    return {k: statistics.median(v) for k, v in times.items()}


def expectation_seconds(node: object) -> float:
    """Sum of elapsed_s over every expectation outcome (dicts with "violations") in a details tree."""
    if isinstance(node, dict):
        own = float(node["elapsed_s"]) if "violations" in node and "elapsed_s" in node else 0.0
        return own + sum(expectation_seconds(v) for v in node.values())
    if isinstance(node, list):
        return sum(expectation_seconds(v) for v in node)
    return 0.0


def bench_dag(hook, repeat: int) -> list[dict[str, float]]:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "streaming_data_quality.py")).get_dag("streaming_data_quality")
    runs = []
    for i in range(repeat):
        conf = {"as_of": (END + timedelta(seconds=30)).isoformat() + "Z", "start": START.isoformat() + "Z",
                "end": END.isoformat() + "Z", "freshness_tables": {"energy_prices_rt": 300, "price_1min_agg": 360},
                "latency_p95_max_seconds": 1.0, "instance": "bench-dq", "examples": 10}
        started = time.perf_counter()
        run = dag.test(run_conf=conf)
        wall = time.perf_counter() - started
        assert str(run.state) == "success", run.state
        rows = hook.get_records("SELECT details FROM dq_results WHERE run_id = %s", parameters=(run.run_id,))
        queries = sum(expectation_seconds(json.loads(details)) for (details,) in rows)
        runs.append({"run": i + 1, "wall_s": wall, "queries_s": queries, "overhead_s": wall - queries})
    return runs


def gx_import_seconds(repeat: int = 3) -> float:
    """Median wall time of ``import great_expectations`` in fresh interpreters (what each cold task pays)."""
    probe = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
                   .stdout.strip().splitlines()[-1]) for _ in range(repeat)]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=default_workers(doris=False),
                        help="connections of the sharded check (default: this machine's cores, as the DAG's 0)")
    args = parser.parse_args()

    home = SANDBOX_HOME / "bench-dq" / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(home))
    with Sandbox("bench-dq") as sandbox:
        os.environ.update(sandbox.connection_env())
        subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True,
                       capture_output=True, env=os.environ.copy())
        from commodity_platform.doris.hook import DorisHook
        from commodity_platform.doris.tasks import run_migrations

        sandbox.drop_database()  # a fresh schema, as the migrations make it today (the sandbox folder is kept)
        run_migrations(installed_by="bench-dq")
        conn = sandbox.mysql_connect("commodity_realtime")
        load_seconds = timed(lambda: load_ticks(conn, args.ticks))
        bars = materialize(conn)
        print(f"loaded {args.ticks:,} ticks over 24 h in {load_seconds:.1f} s; {bars:,} bars")

        ohlc = bench_ohlc(conn, DorisHook(), args.repeat, args.workers)
        print(f"\nOHLC correctness over {args.ticks:,} ticks / 24 h (median of {args.repeat}):")
        bare = ohlc["bare"]
        print(f"  bare GROUP BY scan (baseline)   {bare:.3f} s")
        print(f"  bar recomputation alone         {ohlc['bars']:.3f} s  {ohlc['bars'] / bare:.2f}x bare")
        print(f"  compare_bars (DB-API)           {ohlc['compare']:.3f} s  {ohlc['compare'] / bare:.2f}x bare, "
              f"{ohlc['compare'] / ohlc['bars']:.2f}x the recomputation")
        print(f"  DAG check, 1 connection         {ohlc['gx']:.3f} s  {ohlc['gx'] / bare:.2f}x bare, "
              f"{ohlc['gx'] / ohlc['bars']:.2f}x the recomputation")
        ratio = ohlc["gx_n"] / bare
        print(f"  DAG check, {args.workers} connections        {ohlc['gx_n']:.3f} s  {ratio:.2f}x bare "
              f"(time-sliced shards, one GX expectation each; issue 16 goal <= 1.0x bare: "
              f"{'met' if ratio <= 1.0 else 'NOT met'})")

        gx_import = gx_import_seconds()
        runs = bench_dag(DorisHook(), max(2, min(args.repeat, 3)))
        print("\nWhole DAG run (dag.test: 3 checks over the 24 h window + publish), overhead = wall - queries:")
        for r in runs:
            label = "cold (imports GX)" if r["run"] == 1 else "warm"
            print(f"  run {r['run']} {label:<18} wall {r['wall_s']:.2f} s  queries {r['queries_s']:.2f} s  "
                  f"overhead {r['overhead_s']:.2f} s  (goal <= 3 s)")
        print(f"  'import great_expectations' alone in a fresh interpreter: {gx_import:.2f} s (median of 3)")
        conn.close()


if __name__ == "__main__":
    main()

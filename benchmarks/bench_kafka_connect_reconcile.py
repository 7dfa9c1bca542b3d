"""Benchmark: reconcile N connectors against the Kafka Connect emulator, then again with no change.

Goal (issue #7): the no-change run sends only GETs and takes <= 1/4 of the first run's time.
Also measured, as a baseline in the same run: the no-change pass done connector by connector
(``GET /connectors/{name}`` + ``/status`` each) instead of one ``GET /connectors?expand=status&expand=info``.

Figures are printed as ratios to the first run (and to the per-connector baseline), so they compare
across machines. Each scenario runs ``--repeat`` times on a fresh emulator; the median is reported.

    /tmp/venvtry/.venv/bin/python benchmarks/bench_kafka_connect_reconcile.py [--connectors 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kc-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import logging  # noqa: E402

import yaml  # noqa: E402

from commodity_platform.kafka_connect.hook import KafkaConnectHook  # noqa: E402
from commodity_platform.kafka_connect.reconcile import ConnectorReconciler, reconcile_all  # noqa: E402
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR, load_specs  # noqa: E402
from sandbox.connect_emulator import ConnectEmulator  # noqa: E402

RECONCILE = {"poll_interval": 0.005, "first_poll_interval": 0.005, "wait_timeout": 60}


def write_specs(target: Path, count: int) -> None:
    """``count`` spec files cloned from the repository's specs (cycled), with unique names."""
    templates = [yaml.safe_load(p.read_text()) for p in sorted(CONNECTORS_DIR.glob("*.yaml"))]
    for i in range(count):
        doc = dict(templates[i % len(templates)])
        doc["name"] = f"cp-bench-{i:03d}-{doc['name'].removeprefix('cp-')}"[:64].rstrip("-")
        (target / f"{doc['name']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def timed_run(
    emulator: ConnectEmulator, specs_dir: Path, *, per_connector: bool = False
) -> dict[str, object]:
    emulator.reset_log()
    with KafkaConnectHook(retries=5, backoff_seconds=0.05) as hook:
        start = time.perf_counter()
        if per_connector:
            reconciler = ConnectorReconciler(hook, **RECONCILE)
            for spec in load_specs(specs_dir):
                reconciler.reconcile_one(spec)  # fetches config + status per connector
        else:
            reconcile_all(hook, specs_dir=specs_dir, **RECONCILE)
        seconds = time.perf_counter() - start
    methods = Counter(r.method for r in emulator.requests())
    return {"seconds": seconds, "requests": sum(methods.values()), "methods": dict(methods)}


def one_round(count: int) -> dict[str, dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp, ConnectEmulator() as emulator:
        specs_dir = Path(tmp)
        write_specs(specs_dir, count)
        os.environ["AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT"] = json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": emulator.port, "schema": "http"}
        )
        first = timed_run(emulator, specs_dir)
        second = timed_run(emulator, specs_dir)
        baseline = timed_run(emulator, specs_dir, per_connector=True)
        assert len(emulator.connectors) == count
    return {"first": first, "no_change": second, "no_change_per_connector": baseline}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # per-connector INFO lines would measure the terminal, not the reconcile loop
    for name in ("commodity_platform", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)

    rounds = [one_round(args.connectors) for _ in range(args.repeat)]

    def median(scenario: str, key: str) -> float:
        return statistics.median(float(r[scenario][key]) for r in rounds)  # type: ignore[arg-type]

    first_s, second_s, base_s = (
        median(s, "seconds") for s in ("first", "no_change", "no_change_per_connector")
    )
    first_n, second_n, base_n = (
        median(s, "requests") for s in ("first", "no_change", "no_change_per_connector")
    )
    second_methods = rounds[-1]["no_change"]["methods"]
    print(f"Kafka Connect reconcile benchmark: {args.connectors} connectors, median of {args.repeat} rounds")
    print(
        f"  first run           : {first_s:8.3f} s  {first_n:6.0f} requests  {rounds[-1]['first']['methods']}"
    )
    print(f"  no-change run       : {second_s:8.3f} s  {second_n:6.0f} requests  {second_methods}")
    print(
        f"  no-change, per conn : {base_s:8.3f} s  {base_n:6.0f} requests  (baseline: 2 GETs per connector)"
    )
    print(f"  no-change / first      time {second_s / first_s:6.3f}   requests {second_n / first_n:6.3f}")
    print(f"  no-change / per-conn   time {second_s / base_s:6.3f}   requests {second_n / base_n:6.3f}")
    only_gets = set(second_methods) == {"GET"}
    fast_enough = second_s <= first_s / 4
    print(
        f"  goal: only GETs on no-change run: {'met' if only_gets else 'MISSED'}; "
        f"time <= 1/4 of first run: {'met' if fast_enough else 'MISSED'}"
    )
    return 0 if only_gets and fast_enough else 1


if __name__ == "__main__":
    sys.exit(main())

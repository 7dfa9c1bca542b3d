"""streaming_data_quality under the real scheduler: CPU per run (issue 16 #4) and detection latency (#5).

Runs the code ``./dev ui`` runs: the sandbox services, both emulators, :class:`sandbox.live_airflow.LiveAirflow`
(api-server, scheduler with LocalExecutor, dag-processor, triggerer) and the live feed writing into the
warehouse, in a sandbox of its own (``.sandbox/bench-dq-<mode>``).

``--mode cpu`` (default, ~10 min): the DAG folder is a temporary copy of ``dags/`` plus the layout of
before issue 16 #4 (``benchmarks/dq_layouts/streaming_data_quality_before.py``: three check tasks, each
importing Great Expectations in its own process). Both DAGs are triggered alternately on the same live
data, ``--repeat`` times each, and for every run the CPU seconds of every Airflow process and of the
metadata DB server (PostgreSQL) are read from ``/proc`` (psutil) before and after: each component's process
tree, counting the task processes the
LocalExecutor's workers fork (their CPU moves into the worker's ``children_*`` times when reaped). An idle
period measured first gives each component's background rate, subtracted as "above idle". Also reported:
the import CPU each task pays, measured in fresh interpreters that first import what a LocalExecutor
worker already holds when it forks the task (``airflow.sdk.execution_time.task_runner`` and the DAG
file's own imports), with ``-X importtime``'s figure for ``great_expectations``.

``--mode latency`` (opt-in, ~15 min): the real DAG on its default schedule (every 5 minutes) with the
repository's rules. After a first green scheduled run, two faults are injected at once through the live
feed (what ``./dev fault`` does): ``stale-feed`` for one commodity (default backdate: already 6 minutes
stale) and ``corrupt-bar`` for another. Measured per alert: injection -> next run queued -> run done
(its publish pushed) -> alert active in Prometheus (``activeAt``) -> firing (after the rule's ``for:``).

    python benchmarks/bench_dq_scheduled.py [--mode cpu|latency] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))
# The Airflow components get the project root on PYTHONPATH, as ./dev ui's do.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

from commodity_platform.paths import MANIFESTS_DIR  # noqa: E402
from sandbox.emulators import Emulators  # noqa: E402
from sandbox.live_airflow import COMPONENTS, LiveAirflow  # noqa: E402
from sandbox.live_feed import LiveFeed, request_fault  # noqa: E402
from sandbox.services import Sandbox  # noqa: E402

NEW_DAG, OLD_DAG = "streaming_data_quality", "streaming_data_quality_before"
BEFORE_LAYOUT = ROOT / "benchmarks" / "dq_layouts" / "streaming_data_quality_before.py"
#: A schedule that does not fire while the CPU benchmark runs (only its triggered runs execute).
NEVER_DURING_THE_BENCHMARK = "0 0 1 1 *"

# What a task of each kind imports beyond what the forked worker already holds (see the module docstring).
WORKER_PRELOAD = ["airflow.sdk.execution_time.task_runner", "airflow.sdk", "commodity_platform.params",
                  "commodity_platform.quality.params", "commodity_platform.quality.settings"]
GX_TASK = ["commodity_platform.quality.tasks", "commodity_platform.doris.hook", "commodity_platform.quality.checks",
           "commodity_platform.kafka_connect.hook", "great_expectations", "great_expectations.expectations"]
TASK_IMPORTS: dict[str, list[str]] = {
    "check task, before (imports GX)": GX_TASK,
    "run_checks (imports GX, once per run)": GX_TASK,
    "check result task (freshness, ...)": ["commodity_platform.quality.tasks"],
    "publish": ["commodity_platform.quality.tasks", "commodity_platform.doris.hook",
                "commodity_platform.quality.metrics", "commodity_platform.quality.report", "prometheus_client"],
    "verdict": ["commodity_platform.quality.tasks"],
}
TASKS_PER_RUN: dict[str, dict[str, int]] = {
    "before": {"check task, before (imports GX)": 3, "publish": 1, "verdict": 1},
    "after": {"run_checks (imports GX, once per run)": 1, "check result task (freshness, ...)": 3,
              "publish": 1, "verdict": 1},
}


# -- CPU accounting -------------------------------------------------------------------------------------


def tree_cpu(pid: int) -> tuple[float, float]:
    """(CPU seconds of the process tree under ``pid`` incl. reaped children, CPU seconds of ``pid`` itself)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        own = sum(root.cpu_times()[:2])
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass  # exited between listing and reading: its time is in its parent's children_* next time
    return total, own


#: What "all" counts: the four components' process trees and the metadata DB server's (the PostgreSQL
#: postmaster and its backends: the database work SQLite did inside the components' own processes).
MEASURED = (*COMPONENTS, "metadata-db")


def snapshot(airflow: LiveAirflow) -> dict[str, float]:
    out: dict[str, float] = {"metadata-db": tree_cpu(airflow.metadata_db.pid)[0] if airflow.metadata_db.pid else 0.0}
    for name, pid in zip(COMPONENTS, airflow.pids(), strict=True):
        total, own = tree_cpu(pid)
        out[name] = total
        if name == "scheduler":
            # The scheduler's own loop vs its LocalExecutor workers and the task processes they fork.
            out["scheduler loop"], out["task processes"] = own, total - own
    return out


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after}


def wait_idle(airflow: LiveAirflow, dag_ids: tuple[str, ...], *, quiet_s: float = 10.0) -> None:
    """Until no run of ``dag_ids`` is queued or running for ``quiet_s`` (an unpause can start one)."""
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        busy = [r for d in dag_ids for r in airflow.dag_runs(d, state=["queued", "running"])]
        if busy:
            airflow.wait_for_run(busy[0]["dag_id"], busy[0]["dag_run_id"], timeout=600)
            quiet_since = time.monotonic()
        time.sleep(1.0)


def measure_run(airflow: LiveAirflow, dag_id: str) -> dict[str, Any]:
    before = snapshot(airflow)
    started = time.perf_counter()
    run_id = airflow.trigger(dag_id, {}, unpause=False)
    run = airflow.wait_for_run(dag_id, run_id, timeout=900)
    wall = time.perf_counter() - started
    used = delta(snapshot(airflow), before)
    tis = {t["task_id"]: t for t in airflow.task_instances(dag_id, run_id)}
    if run["state"] != "success":
        states = {k: t["state"] for k, t in tis.items()}
        raise SystemExit(f"{dag_id} {run_id} ended {run['state']}: {states} (the live data should pass)")
    # What detection waits for: from the run's start until its metrics are pushed (publish done).
    to_push = _ts(tis["publish"]["end_date"]) - _ts(run["start_date"])
    return {"wall_s": wall, "cpu": used, "tasks": len(tis), "to_push_s": to_push}


def import_cpu(modules: list[str], repeat: int = 3) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of importing ``modules`` after :data:`WORKER_PRELOAD`."""
    probe = ("import time, importlib\n"
             f"for m in {WORKER_PRELOAD!r}: importlib.import_module(m)\n"
             "c, w = time.process_time(), time.perf_counter()\n"
             f"for m in {modules!r}: importlib.import_module(m)\n"
             "print(time.process_time() - c, time.perf_counter() - w)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
        runs.append(tuple(float(x) for x in out.stdout.split()[-2:]))
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def gx_importtime_ms() -> float:
    """``-X importtime``'s cumulative figure for great_expectations after the worker's preload."""
    probe = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in WORKER_PRELOAD) + \
        "import great_expectations\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], capture_output=True, text=True, env=env)
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == "great_expectations" and parts[2].startswith(" great"):
            return int(parts[1]) / 1000
    return float("nan")


def cpu_mode(args: argparse.Namespace) -> None:
    print("machine:", describe_machine())
    measured: dict[tuple[str, ...], tuple[float, float]] = {}  # the GX task's set is measured once for both
    imports = {kind: measured.setdefault(tuple(mods), import_cpu(mods)) if tuple(mods) not in measured
               else measured[tuple(mods)] for kind, mods in TASK_IMPORTS.items()}
    print("\nImport cost each task pays on top of the forked worker (CPU s / wall s, median of 3 fresh interpreters):")
    for kind, (cpu, wall) in imports.items():
        print(f"  {kind:<40} {cpu:6.2f} s CPU  {wall:6.2f} s wall")
    print(f"  -X importtime: great_expectations {gx_importtime_ms():.0f} ms cumulative (after the preload)")
    per_run = {layout: sum(imports[k][0] * n for k, n in counts.items()) for layout, counts in TASKS_PER_RUN.items()}
    print(f"  import CPU per run: before {per_run['before']:.2f} s, after {per_run['after']:.2f} s "
          f"({per_run['after'] / per_run['before']:.2f}x)")

    with tempfile.TemporaryDirectory(prefix="bench-dq-dags-") as dags:
        for path in (ROOT / "dags").glob("*.py"):
            shutil.copy(path, dags)
        shutil.copy(BEFORE_LAYOUT, dags)
        env = {"AIRFLOW__CORE__DAGS_FOLDER": dags, "STREAMING_DQ_SCHEDULE": NEVER_DURING_THE_BENCHMARK}
        with live_sandbox("bench-dq-cpu", env) as (_sandbox, airflow, _feed):
            for dag_id in (NEW_DAG, OLD_DAG):
                airflow.set_paused(dag_id, False)
            wait_idle(airflow, (NEW_DAG, OLD_DAG))
            idle_s = 30.0
            first = snapshot(airflow)
            time.sleep(idle_s)
            idle = {k: v / idle_s for k, v in delta(snapshot(airflow), first).items()}
            print("\nidle CPU rate per component (s/s): " + ", ".join(f"{k} {v:.3f}" for k, v in idle.items()))
            results: dict[str, list[dict[str, Any]]] = {OLD_DAG: [], NEW_DAG: []}
            # Warm-up run of each (first runs pay file-system caches), not counted.
            for dag_id in (OLD_DAG, NEW_DAG):
                measure_run(airflow, dag_id)
            for i in range(args.repeat):
                order = (OLD_DAG, NEW_DAG) if i % 2 == 0 else (NEW_DAG, OLD_DAG)
                for dag_id in order:
                    r = measure_run(airflow, dag_id)
                    results[dag_id].append(r)
                    print(f"  {dag_id:<32} wall {r['wall_s']:6.1f} s  task processes {r['cpu']['task processes']:6.2f}"
                          f" s CPU  all {sum(r['cpu'][c] for c in MEASURED):6.2f} s CPU")
            report_cpu(results, idle)


def report_cpu(results: dict[str, list[dict[str, Any]]], idle: dict[str, float]) -> None:
    def med(dag_id: str, key: str) -> float:
        if key == "wall":
            return statistics.median(r["wall_s"] for r in results[dag_id])
        if key == "run start to push":
            return statistics.median(r["to_push_s"] for r in results[dag_id])
        if key == "all above idle":
            return statistics.median(sum(r["cpu"][c] - idle[c] * r["wall_s"] for c in MEASURED)
                                     for r in results[dag_id])
        return statistics.median(r["cpu"][key] for r in results[dag_id])

    print(f"\nPer run (median of {len(results[NEW_DAG])}), before = {OLD_DAG}, after = {NEW_DAG}:")
    print(f"  {'':<34} {'before':>9} {'after':>9} {'after/before':>13}")
    for key in ("wall", "run start to push", "task processes", "scheduler loop", "api-server", "dag-processor",
                "triggerer", "metadata-db", "all above idle"):
        old, new = med(OLD_DAG, key), med(NEW_DAG, key)
        unit = "s" if key in ("wall", "run start to push") else "s CPU"
        print(f"  {key + ' (' + unit + ')':<34} {old:9.2f} {new:9.2f} {new / old if old else float('nan'):12.2f}x")
    old, new = med(OLD_DAG, "task processes"), med(NEW_DAG, "task processes")
    print(f"\nGoal (task CPU per run <= 0.5x before): {new / old:.2f}x -> {'met' if new <= 0.5 * old else 'NOT met'}")


# -- detection latency ---------------------------------------------------------------------------------


def alerts(prometheus_url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def rule_for_values() -> dict[str, str]:
    doc = yaml.safe_load((MANIFESTS_DIR / "07-monitoring" / "prometheusrule-data-quality.yaml").read_text())
    return {r["alert"]: r.get("for", "0s") for g in doc["spec"]["groups"] for r in g["rules"]}


def latency_mode(args: argparse.Namespace) -> None:
    print("machine:", describe_machine())
    env = {"STREAMING_DQ_SCHEDULE": ""}  # the DAG's default schedule (every 5 minutes)
    with live_sandbox("bench-dq-latency", env) as (sandbox, airflow, feed):
        config = yaml.safe_load((sandbox.root / "prometheus" / "prometheus.yml").read_text())
        print(f"sandbox Prometheus: {config['global']}; rule for: {rule_for_values()}")
        airflow.set_paused(NEW_DAG, True)
        began = time.time()
        airflow.set_paused(NEW_DAG, False)
        # A healthy starting point: the first scheduled run after unpausing is green.
        first = wait_for_scheduled_run(airflow, after=began, timeout=420)
        print(f"first scheduled run {first['dag_run_id']}: {first['state']}")
        stale_code, corrupt_code = feed.codes[1], feed.codes[2]
        expected = {
            "stale-feed": ("StreamingDataDelayed", {"commodity_code": stale_code}),
            "corrupt-bar": ("StreamingOhlcMismatch", {}),
        }
        injected = time.time()
        request_fault(sandbox.root, "stale-feed", commodity=stale_code)
        request_fault(sandbox.root, "corrupt-bar", commodity=corrupt_code)
        print(f"faults injected at {datetime.fromtimestamp(injected, timezone.utc):%H:%M:%S}: stale-feed {stale_code},"
              f" corrupt-bar {corrupt_code}")
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 900
        while len(found) < len(expected) and time.monotonic() < deadline:
            for fault, (name, labels) in expected.items():
                for alert in alerts(sandbox.prometheus_url):
                    if (fault not in found and alert["labels"]["alertname"] == name and alert["state"] == "firing"
                            and all(alert["labels"].get(k) == v for k, v in labels.items())):
                        found[fault] = {"active_at": _ts(alert["activeAt"]), "firing_seen": time.time()}
            time.sleep(1.0)
        detecting = wait_for_scheduled_run(airflow, after=injected, timeout=60)
        tis = {t["task_id"]: t for t in airflow.task_instances(NEW_DAG, detecting["dag_run_id"])}
        queued, run_start = _ts(detecting["queued_at"]), _ts(detecting["start_date"])
        pushed = _ts(tis["publish"]["end_date"])
        print(f"\ndetecting run {detecting['dag_run_id']}: queued {queued - injected:.0f} s after the injection, "
              f"started +{run_start - queued:.0f} s, publish done {pushed - run_start:.0f} s after its start")
        for fault, (name, _) in expected.items():
            if fault not in found:
                print(f"  {fault}: {name} did NOT fire within 15 minutes")
                continue
            f = found[fault]
            print(f"  {fault:<12} -> {name:<22} firing {f['firing_seen'] - injected:6.0f} s after the injection "
                  f"(waiting for the run {queued - injected:.0f} s + run until push {pushed - queued:.0f} s + "
                  f"scrape/eval {f['active_at'] - pushed:.0f} s + for/poll {f['firing_seen'] - f['active_at']:.0f} s)")
        interval = 300.0  # the DAG's default schedule, */5
        scrape = float(str(config["global"]["scrape_interval"]).rstrip("s"))
        evaluation = float(str(config["global"]["evaluation_interval"]).rstrip("s"))
        print(f"bound (for: 0m alerts): schedule wait <= {interval:.0f} s + run start to push "
              f"{pushed - run_start:.0f} s + scrape <= {scrape:.0f} s + evaluation <= {evaluation:.0f} s = at most "
              f"{interval + pushed - run_start + scrape + evaluation:.0f} s, on average "
              f"{interval / 2 + pushed - run_start + (scrape + evaluation) / 2:.0f} s")
        request_fault(sandbox.root, "clear")


def wait_for_scheduled_run(airflow: LiveAirflow, *, after: float, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in airflow.dag_runs(NEW_DAG, run_type=["scheduled"]) if _ts(r["queued_at"]) >= after]
        if runs:
            run = min(runs, key=lambda r: _ts(r["queued_at"]))
            return airflow.wait_for_run(NEW_DAG, run["dag_run_id"], timeout=900)
        time.sleep(2.0)
    raise SystemExit(f"no scheduled {NEW_DAG} run within {timeout:.0f} s")


# -- shared ------------------------------------------------------------------------------------------------


class live_sandbox:  # used like contextlib's helpers
    """Sandbox + emulators + LiveAirflow (+ ``env``) + the warehouse schema (a doris_schema_migrate run) + feed."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name, self.env = name, {k: v for k, v in env.items() if v}
        self._stack: list[Any] = []

    def __enter__(self) -> tuple[Sandbox, LiveAirflow, LiveFeed]:
        os.environ.pop("STREAMING_DQ_SCHEDULE", None)
        sandbox = self._enter(Sandbox(self.name, ephemeral=True))
        emulators = self._enter(Emulators(sandbox.root / "emulators"))
        began = time.monotonic()
        airflow = self._enter(LiveAirflow(sandbox, emulators, home=sandbox.root / "airflow", extra_env=self.env))
        print(f"live Airflow ready in {time.monotonic() - began:.0f} s")
        run = airflow.wait_for_run("doris_schema_migrate", airflow.trigger("doris_schema_migrate"))
        assert run["state"] == "success", run
        feed = self._enter(LiveFeed(sandbox))
        return sandbox, airflow, feed

    def _enter(self, cm: Any) -> Any:
        value = cm.__enter__()
        self._stack.append(cm)
        return value

    def __exit__(self, *exc: object) -> None:
        while self._stack:
            self._stack.pop().__exit__(None, None, None)


def describe_machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({model}), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
            f"Python {sys.version.split()[0]}, load average {load} at start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["cpu", "latency"], default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    (cpu_mode if args.mode == "cpu" else latency_mode)(args)


if __name__ == "__main__":
    main()

"""Benchmark: does the phase graph let the deploy run as fast as its longest dependency chain?

Against the Kubernetes API emulator (real HTTP on loopback) with simulated readiness delays per phase, this
script

1. deploys each phase alone, in dependency order, on a fresh emulator and records its duration d(phase)
   (the serial baseline, measured in this run);
2. computes the critical path: the longest chain of ``depends_on`` edges weighted by d(phase);
3. deploys all phases on another fresh emulator, each phase starting as soon as its upstream phases are done
   (what the Airflow scheduler does with the DAG's edges, given enough worker slots), and measures the total.

It prints total / critical path (goal <= 1.1) and serial / total (the speed-up bought by parallelism).
Airflow's own scheduling latency per task is not part of this measurement; it adds the same constant per
phase in both the chain and the parallel run.

Run: python benchmarks/bench_deploy_parallelism.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from commodity_platform.deploy.execution import deploy_phase  # noqa: E402
from commodity_platform.deploy.params import PhaseOptions  # noqa: E402
from commodity_platform.deploy.phases import PHASES, PHASES_BY_NAME  # noqa: E402
from sandbox.k8s_emulator import KubernetesEmulator  # noqa: E402
from tests.deploy.conftest import fake_connections, job_effects, monitoring_crds  # noqa: E402

# Seconds until each phase's main workload is ready (scaled by --scale); everything else takes BASE_DELAY.
PHASE_DELAYS = {
    "commodity-kafka": 3.0,  # kafka
    "flink-kubernetes-operator": 1.5,  # flink-operator
    "kafka-connect": 2.0,  # kafka-connect
    "commodity-doris": 4.0,  # doris
    "data-enricher": 2.0,  # flink-apps
    "price-aggregator": 2.0,
    "anomaly-detector": 2.0,
}
ACTION_SECONDS = {"connectors": 1.0, "use-cases": 1.5}
BASE_DELAY = 0.3


def install_fake_actions(scale: float) -> None:
    """Phases 5 and 8 call other packages (deploy.integrations); here they take a fixed simulated time."""
    from commodity_platform.deploy import integrations

    def make(seconds: float) -> Any:
        def action(*, dry_run: bool, **_kwargs: Any) -> dict[str, Any]:
            time.sleep(seconds * scale)
            return {"dry_run": dry_run}

        return action

    integrations.reconcile_all = make(ACTION_SECONDS["connectors"])
    integrations.run_migrations = make(ACTION_SECONDS["use-cases"])


def new_emulator(scale: float) -> KubernetesEmulator:
    emulator = KubernetesEmulator(
        delay=BASE_DELAY * scale,
        delays={k: v * scale for k, v in PHASE_DELAYS.items()},
        on_job_complete=job_effects(),
        preinstalled=monitoring_crds(),
    )
    emulator.start()
    return emulator


def api_client(emulator: KubernetesEmulator) -> Any:
    from kubernetes import client, config

    configuration = client.Configuration()
    configuration.connection_pool_maxsize = 32
    config.load_kube_config_from_dict(emulator.kubeconfig(), client_configuration=configuration)
    return client.ApiClient(configuration)


def options() -> PhaseOptions:
    return PhaseOptions(timeout_seconds=120, recheck_seconds=1.0)


def serial_durations(scale: float) -> dict[str, float]:
    emulator = new_emulator(scale)
    try:
        durations = {}
        for phase in PHASES:  # PHASES is in a valid topological order
            started = time.monotonic()
            deploy_phase(phase.name, api_client(emulator), options(), connections=fake_connections())
            durations[phase.name] = time.monotonic() - started
        return durations
    finally:
        emulator.stop()


def critical_path(durations: dict[str, float]) -> tuple[float, list[str]]:
    finish: dict[str, tuple[float, list[str]]] = {}
    for phase in PHASES:
        best = max((finish[d] for d in phase.depends_on), default=(0.0, []), key=lambda x: x[0])
        finish[phase.name] = (best[0] + durations[phase.name], [*best[1], phase.name])
    return max(finish.values(), key=lambda x: x[0])


def parallel_total(scale: float) -> tuple[float, dict[str, tuple[float, float]]]:
    emulator = new_emulator(scale)
    done = {p.name: threading.Event() for p in PHASES}
    windows: dict[str, tuple[float, float]] = {}
    errors: list[BaseException] = []
    t0 = time.monotonic()

    def run(name: str) -> None:
        try:
            for dep in PHASES_BY_NAME[name].depends_on:
                done[dep].wait()
            start = time.monotonic() - t0
            deploy_phase(name, api_client(emulator), options(), connections=fake_connections())
            windows[name] = (start, time.monotonic() - t0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done[name].set()

    threads = [threading.Thread(target=run, args=(p.name,), name=p.name) for p in PHASES]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = time.monotonic() - t0
    finally:
        emulator.stop()
    if errors:
        raise errors[0]
    return total, windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply all simulated delays")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    install_fake_actions(args.scale)

    durations = serial_durations(args.scale)
    serial = sum(durations.values())
    chain, path = critical_path(durations)
    total, windows = parallel_total(args.scale)

    print("phase durations when deployed alone (s):")
    for name, seconds in durations.items():
        start, end = windows[name]
        print(f"  {name:15s} {seconds:6.2f}   parallel run: {start:6.2f} -> {end:6.2f}")
    print(f"serial total (sum of phases)        : {serial:6.2f} s")
    print(f"critical path {' -> '.join(path)}: {chain:6.2f} s")
    print(f"parallel deploy total               : {total:6.2f} s")
    print(f"ratio parallel / critical path      : {total / chain:6.3f}  (goal <= 1.1)")
    print(f"speed-up serial / parallel          : {serial / total:6.2f}x")


if __name__ == "__main__":
    main()

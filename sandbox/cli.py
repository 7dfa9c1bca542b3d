"""``python -m sandbox {demo,ui,up}``: the local sandbox's entry points.

* ``demo`` starts private services, runs the project's DAGs with ``airflow dags test`` exactly as an
  operator would, prints what each run did, and stops everything.
* ``ui`` starts the services and Airflow (api-server, scheduler, dag-processor) on a free loopback port,
  with the sandbox connections, until Ctrl-C.
* ``up`` starts only the services and prints the ``AIRFLOW_CONN_*`` exports, until Ctrl-C.
* ``fault <kind>`` injects a fault into the live feed of a running ``ui`` (``fault --help`` lists the kinds).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sandbox.emulators import Emulators
from sandbox.live_airflow import airflow_bin
from sandbox.services import DORIS_DATABASE, Sandbox, airflow_env

log = logging.getLogger("sandbox")


def _airflow_bin() -> str:
    return str(airflow_bin())


def _prepare_airflow(sandbox: Sandbox) -> dict[str, str]:
    home = sandbox.root / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_env(home), **sandbox.connection_env()}
    subprocess.run([_airflow_bin(), "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def run_dag(env: dict[str, str], dag_id: str, *, conf: dict[str, Any] | None = None,
            log_dir: Path) -> dict[str, Any]:
    """``airflow dags test`` one DAG; returns its run's state, task states and return values."""
    argv = [_airflow_bin(), "dags", "test", dag_id]
    if conf:
        argv += ["-c", json.dumps(conf)]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{dag_id}-{int(time.time() * 1000)}.log"
    log_file.write_text(proc.stdout + proc.stderr)
    return {"dag_id": dag_id, "exit_code": proc.returncode, "seconds": round(elapsed, 1), "log": str(log_file),
            **_latest_run(env, dag_id)}


def _latest_run(env: dict[str, str], dag_id: str) -> dict[str, Any]:
    """Task states and return values of the DAG's latest run, read from the metadata DB."""
    code = (
        "import json, sys\n"
        "from airflow.models.dagrun import DagRun\n"
        "from airflow.models.xcom import XComModel\n"
        "from airflow.utils.session import create_session\n"
        "with create_session() as s:\n"
        "    dr = s.query(DagRun).filter(DagRun.dag_id == sys.argv[1]).order_by(DagRun.id.desc()).first()\n"
        "    tis = {ti.task_id: str(ti.state) for ti in sorted(dr.get_task_instances(session=s),"
        " key=lambda t: (t.start_date is None, str(t.start_date)))}\n"
        "    xs = s.query(XComModel).filter(XComModel.dag_id == dr.dag_id, XComModel.run_id == dr.run_id,\n"
        "                                   XComModel.key == 'return_value').all()\n"
        "    vals = {}\n"
        "    for x in sorted(xs, key=lambda x: x.map_index):\n"
        "        value = XComModel.deserialize_value(x)\n"
        "        if x.map_index >= 0:\n"
        "            vals.setdefault(x.task_id, []).append(value)\n"
        "        else:\n"
        "            vals[x.task_id] = value\n"
        "    print(json.dumps({'state': str(dr.state), 'tasks': tis, 'results': vals}, default=str))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, dag_id], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"state": "unknown", "tasks": {}, "results": {}, "error": proc.stderr[-500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _print_run(title: str, run: dict[str, Any]) -> None:
    print(f"\n== {title}: {run['dag_id']} -> {run['state']} in {run['seconds']} s (log: {run['log']})")
    for task_id, state in run["tasks"].items():
        result = run["results"].get(task_id)
        if isinstance(result, list) and result and all(isinstance(r, dict) and "name" in r for r in result):
            # A mapped task: one line for all its map indexes.
            outcomes = {r["name"]: r.get("outcome", r.get("state", "done")) for r in result}
            shown = f"{len(result)} mapped: " + json.dumps(outcomes)
        else:
            shown = json.dumps(result, default=str) if result is not None else ""
        print(f"   {task_id:<28} {state:<9} {shown[:300]}")


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _prices_backfill_and_quality(sandbox: Sandbox, env: dict[str, str], logs: Path) -> int:
    """Synthetic ticks -> ohlc_backfill -> an injected fault -> streaming_data_quality -> alerts."""
    from sandbox.quality_demo import pushed_samples, summarize, wait_for_alerts
    from sandbox.ticks import Faults, generate_and_load

    failures = 0
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    start = now - timedelta(hours=2)
    os.environ.update(sandbox.connection_env())  # the generator loads through doris_default
    loaded = generate_and_load(start, now, n_ticks=240_000, commodities=10, faults=Faults.realistic())
    print(f"\n== synthetic ticks {_iso(start)} .. {_iso(now)}: {loaded['ticks']} ticks for "
          f"{len(loaded['commodities'])} commodities, {loaded['invalid_ticks']} invalid, COAL_API2 goes stale "
          f"half-way (loaded in {loaded.get('load_seconds', 0):.1f} s)")

    backfill = run_dag(env, "ohlc_backfill", conf={"start": _iso(start), "end": _iso(now)}, log_dir=logs)
    _print_run("rebuild the bars of those two hours", backfill)
    failures += backfill["state"] != "success"

    # Injected fault: one bar in the checked window no longer matches its ticks.
    corrupted = now - timedelta(minutes=10)
    sandbox.query("UPDATE price_1min_agg SET close_price = close_price * 1.07 WHERE commodity_code = 'WTI' "
                  "AND bar_start = %s", [corrupted])
    print(f"\n== injected faults: WTI bar {corrupted:%H:%M} close price +7 %; COAL_API2 feed stale")

    conf = {"as_of": _iso(now), "freshness_tables": {"energy_prices_rt": 300, "price_1min_agg": 360},
            "invalid_tick_rate_max": 0.02, "instance": "sandbox-demo"}
    quality = run_dag(env, "streaming_data_quality", conf=conf, log_dir=logs)
    _print_run("data quality as of now (failing checks expected: freshness, ohlc_correctness)", quality)
    success = {labels["check"]: value for name, labels, value in pushed_samples(sandbox.pushgateway_url,
                                                                             instance="sandbox-demo")
               if name == "streaming_dq_check_success"}
    expected = {"freshness": 0.0, "error_rate": 1.0, "ohlc_correctness": 0.0}
    if success != expected or quality["state"] != "failed":
        print(f"   UNEXPECTED: checks {success}, run {quality['state']}; expected {expected}, run failed")
        failures += 1
    wait_for_alerts(sandbox.prometheus_url, {"StreamingDataQualityCheckFailed"}, timeout_s=90)
    print("\n" + summarize(sandbox.pushgateway_url, sandbox.prometheus_url, instance="sandbox-demo"))
    return failures


def _deploy_platform(env: dict[str, str], logs: Path, emulators: Emulators) -> int:
    """The eight deploy phases against the Kubernetes API emulator, twice (the second must change nothing)."""
    failures = 0
    conf: dict[str, Any] = {}  # the defaults: all phases, namespace data-platform
    for title in ("deploy all eight phases to the Kubernetes API emulator", "deploy again (must change nothing)"):
        run = run_dag(env, "streaming_platform_deploy", conf=conf, log_dir=logs)
        _print_run(title, run)
        changed = (run["results"].get("summary") or {}).get("changed")
        print(f"   objects created or changed: {changed}")
        failures += run["state"] != "success"
    failures += changed != 0
    log_text = Path(run["log"]).read_text()
    # The throwaway values of kafka_connect_secrets must not reach the log.
    leaked = [key for key, value in emulators.connector_secrets.items() if value in log_text]
    if leaked:
        print(f"   SECRET VALUES IN THE LOG for keys {leaked}")
        failures += 1
    return failures


def demo() -> int:
    """The README's main command: a fresh sandbox, the DAGs run for real, their results shown."""
    failures = 0
    with Sandbox("demo") as sandbox:
        sandbox.drop_database(DORIS_DATABASE)
        print(f"sandbox services: {sandbox.endpoints()} (state under {sandbox.root})")
        env = _prepare_airflow(sandbox)
        logs = sandbox.root / "runs"

        first = run_dag(env, "doris_schema_migrate", log_dir=logs)
        _print_run("schema migration on a server without the database", first)
        second = run_dag(env, "doris_schema_migrate", log_dir=logs)
        _print_run("schema migration again (must execute no DDL)", second)
        failures += sum(r["state"] != "success" for r in (first, second))
        executed = second["results"].get("apply_migrations", {}).get("executed_statements")
        print(f"   second run executed {executed} statements")
        failures += executed != 0

        with Emulators(sandbox.root / "emulators") as emulators:
            # Kafka Connect and Kubernetes cannot run here: emulators of their REST APIs, served from this process.
            env.update(emulators.connection_env())
            connect = emulators.connect
            first = run_dag(env, "kafka_connect_register", log_dir=logs)
            _print_run("connectors as code against the Kafka Connect emulator", first)
            writes_before = sum(r.method != "GET" for r in connect.log)
            second = run_dag(env, "kafka_connect_register", log_dir=logs)
            _print_run("connectors again (must send no write)", second)
            writes = sum(r.method != "GET" for r in connect.log) - writes_before
            print(f"   connectors on the emulator: {len(connect.connectors)}; second run sent {writes} writes")
            failures += sum(r["state"] != "success" for r in (first, second)) + (writes != 0)
            # Still inside the emulator: the error-rate check also reads the connectors' status.
            failures += _prices_backfill_and_quality(sandbox, env, logs)
            # And the deploy DAG's connectors phase reconciles against it.
            failures += _deploy_platform(env, logs, emulators)

        print("\n== warehouse (sandbox MariaDB standing in for Doris)")
        for (table,) in sandbox.query("SHOW TABLES"):
            print(f"   table {table}")
        for script, success, ms in sandbox.query("SELECT script, success, execution_ms FROM schema_history "
                                                   "ORDER BY installed_on"):
            print(f"   history {script:<58} success={bool(success)} {ms} ms")

    print("\nOpen the Airflow UI on the same sandbox with:  ./dev ui")
    print("demo finished " + ("OK" if failures == 0 else f"with {failures} failure(s)"))
    return 0 if failures == 0 else 1


def ui(name: str = "ui") -> int:
    """Airflow 3 (api-server, scheduler, dag-processor, triggerer) on the sandbox until Ctrl-C or SIGTERM."""
    from sandbox.live_airflow import PROJECT_DAG_IDS, LiveAirflow, sigterm_as_keyboard_interrupt
    from sandbox.live_feed import LiveFeed

    exit_code = 0  # a KeyboardInterrupt (Ctrl-C, SIGTERM) is the normal way out
    with contextlib.suppress(KeyboardInterrupt), sigterm_as_keyboard_interrupt(), Sandbox(name) as sandbox, \
            Emulators(sandbox.root / "emulators") as emulators, \
            LiveAirflow(sandbox, emulators, home=sandbox.root / "airflow") as airflow, \
            contextlib.ExitStack() as stack:
        print(f"services: {sandbox.endpoints()} {emulators.endpoints()}", flush=True)
        # The schema first, by a real run of its DAG (the first run in the UI), then the feed writes into it.
        run = airflow.wait_for_run("doris_schema_migrate", airflow.trigger("doris_schema_migrate"))
        print(f"doris_schema_migrate: {run['state']}", flush=True)
        # The live feed keeps the warehouse streaming (ticks, bars, alerts, signals, weather) until shutdown.
        feed = stack.enter_context(LiveFeed(sandbox))
        print(f"live feed: {', '.join(feed.codes)}; inject a fault with ./dev fault --help", flush=True)
        # Every DAG unpaused: streaming_data_quality runs on its schedule, ohlc_backfill hourly, the others
        # when triggered from the UI.
        for dag_id in PROJECT_DAG_IDS:
            airflow.set_paused(dag_id, False)
        print(f"Airflow UI: {airflow.url}  (everyone is admin; logs under {airflow.home}; "
              "Ctrl-C or SIGTERM stops Airflow and the sandbox services)", flush=True)
        print(airflow.wait_until_a_component_exits() + "\nstopping everything", file=sys.stderr)
        exit_code = 1
    return exit_code


def up(name: str = "up") -> int:
    """Only the services and both emulators, printing the AIRFLOW_CONN_* exports, until Ctrl-C or SIGTERM."""
    from sandbox.live_airflow import sigterm_as_keyboard_interrupt

    with contextlib.suppress(KeyboardInterrupt), sigterm_as_keyboard_interrupt(), Sandbox(name) as sandbox, \
            Emulators(sandbox.root / "emulators") as emulators:
        for key, value in {**sandbox.connection_env(), **emulators.connection_env()}.items():
            print(f"export {key}='{value}'")
        print(f"# services: {sandbox.endpoints()} {emulators.endpoints()}; Ctrl-C stops them", flush=True)
        while True:
            time.sleep(3600)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fault"]:
        # ./dev fault <kind>: talks to the running ui's live feed through its sandbox folder; own parser.
        from sandbox.live_feed import fault_main

        return fault_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["demo", "ui", "up"])
    parser.add_argument("--name", help="sandbox folder under .sandbox/ for ui and up (default: the command)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        return demo()
    return {"ui": ui, "up": up}[args.command](args.name or args.command)

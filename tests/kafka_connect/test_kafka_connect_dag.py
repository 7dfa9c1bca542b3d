"""The ``kafka_connect_register`` DAG: structure, parse-time hygiene, and end to end with ``dag.test()``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from commodity_platform.kafka_connect.specs import CONNECTORS_DIR
from sandbox.connect_emulator import ConnectEmulator
from tests.kafka_connect.conftest import CONN_ENV, conn_json

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "kafka_connect_register.py"
FILE_SINK = {"connector.class": "FileStreamSink", "tasks.max": "1", "file": "/x", "topics": "t"}


def _load_dag() -> Any:
    """Load the DAG the way the DAG processor does, and fail on any import error."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["kafka_connect_register"]


def test_dag_file_has_no_parse_time_work() -> None:
    tree = ast.parse(DAG_FILE.read_text())
    top_level_imports = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert top_level_imports == {
        "__future__",
        "typing",
        "airflow.sdk",
        "commodity_platform.dag_defaults",
        "commodity_platform.kafka_connect.params",  # the Param table: constants and regexes only
        "commodity_platform.params",
    }


def test_dag_structure_and_params() -> None:
    dag = _load_dag()
    assert dag.dag_id == "kafka_connect_register"
    assert dag.schedule is None
    assert not dag.catchup
    assert "kafka_connect_register" in (dag.doc_md or "")
    assert set(dag.params.keys()) == {"dry_run", "connectors", "prune", "retry_budget_seconds"}
    for name in ("dry_run", "connectors", "prune"):
        assert dag.params.get_param(name).description
    assert dag.params["dry_run"] is False
    assert dag.params["prune"] is False
    assert dag.params["connectors"] == []
    assert set(dag.task_dict) == {"plan", "reconcile", "summarize", "prune"}
    # the summary runs whatever the mapped tasks did; prune only after a summary that found nothing missing
    assert dag.task_dict["summarize"].trigger_rule == "all_done"
    assert dag.task_dict["summarize"].upstream_task_ids == {"reconcile"}
    assert dag.task_dict["prune"].upstream_task_ids == {"summarize"}
    assert dag.task_dict["prune"].trigger_rule == "all_success"
    args = dag.default_args
    assert args["retries"] >= 1
    assert args["retry_exponential_backoff"]
    assert args["owner"] == "data-platform"


@pytest.fixture(scope="module")
def airflow_db() -> None:
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(airflow), "db", "migrate"], check=True, env=os.environ.copy(), capture_output=True, timeout=900
    )


def test_dag_end_to_end(airflow_db: None, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONN_ENV, conn_json(emulator))
    emulator.seed_connector("cp-retired-http-source", FILE_SINK)
    emulator.seed_connector("team-x-mirror", FILE_SINK)
    emulator.fail_task("cp-sink-s3-archive", 0, times=1)
    dag = _load_dag()

    run = dag.test(run_conf={"prune": True})
    assert run.state == "success"
    states = {(ti.task_id, ti.state) for ti in run.get_task_instances()}
    assert states == {("plan", "success"), ("reconcile", "success"), ("summarize", "success"), ("prune", "success")}
    mapped = [ti for ti in run.get_task_instances() if ti.task_id == "reconcile"]
    assert sorted(ti.rendered_map_index for ti in mapped) == sorted(
        p.stem for p in CONNECTORS_DIR.glob("*.yaml")
    )
    assert "cp-retired-http-source" not in emulator.connectors
    assert "team-x-mirror" in emulator.connectors
    managed = {n for n in emulator.connectors if n.startswith("cp-")}
    assert len(managed) == 10
    for name in managed:
        status = emulator.status_of(name)
        assert status["connector"]["state"] == "RUNNING"
        assert status["tasks"]
        assert all(t["state"] == "RUNNING" for t in status["tasks"])
    assert len(emulator.requests("POST", path_contains="/restart")) == 1

    # second run: nothing to change, so nothing but GETs
    emulator.reset_log()
    run = dag.test(run_conf={"prune": True})
    assert run.state == "success"
    assert {r.method for r in emulator.requests()} == {"GET"}

    # dry run over drift: reported, not repaired
    emulator.drift_config("cp-sink-doris-realtime", "buffer.flush.time", "60")
    emulator.seed_connector("cp-another-orphan", FILE_SINK)
    emulator.reset_log()
    run = dag.test(run_conf={"dry_run": True, "prune": True, "connectors": ["cp-sink-doris-realtime"]})
    assert run.state == "success"
    assert [ti.map_index for ti in run.get_task_instances() if ti.task_id == "reconcile"] == [0]
    assert not emulator.writes()
    assert emulator.connectors["cp-sink-doris-realtime"].config["buffer.flush.time"] == "60"
    assert "cp-another-orphan" in emulator.connectors


def test_dag_fails_fast_on_a_bad_spec_subset(
    airflow_db: None, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONN_ENV, conn_json(emulator))
    dag = _load_dag()
    run = dag.test(run_conf={"connectors": ["cp-does-not-exist"]})
    assert run.state == "failed"
    plan = next(ti for ti in run.get_task_instances() if ti.task_id == "plan")
    assert plan.state == "failed"
    assert plan.try_number == 1  # AirflowFailException: no retries burnt on a permanent error
    assert not emulator.requests()


def test_connect_answering_500_ends_the_run_within_the_budget_listing_every_connector(
    airflow_db: None, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """(issue 14 #10) Kafka Connect answers 500 to everything: the run ends within ``retry_budget_seconds`` (+ the
    time dag.test needs to run 13 tasks), no task is retried by Airflow, nothing is written, and ONE task - the
    summary - fails with a message that lists every connector not reconciled."""
    monkeypatch.setenv(CONN_ENV, conn_json(emulator))
    emulator.inject_error(500, count=10**6, message="Internal Server Error")
    names = sorted(p.stem for p in CONNECTORS_DIR.glob("*.yaml"))
    # counted from the run's start, so it also covers dag.test starting the first tasks (~20 s on a busy machine)
    budget = 45
    dag = _load_dag()

    started = time.monotonic()
    run = dag.test(run_conf={"retry_budget_seconds": budget})
    elapsed = time.monotonic() - started

    assert run.state == "failed"
    assert elapsed < budget + 40, f"the run took {elapsed:.0f} s with a {budget} s retry budget"
    failures = [line for line in capfd.readouterr().out.splitlines() if "AirflowFailException: " in line]
    listing_all = [line for line in failures if all(name in line for name in names)]
    assert listing_all, "no task failed naming every connector:\n" + "\n".join(failures)
    assert all(f"{len(names)} of {len(names)} connector(s) not reconciled" in line for line in listing_all)
    tis = run.get_task_instances()
    reconciles = [ti for ti in tis if ti.task_id == "reconcile"]
    assert len(reconciles) == len(names)
    assert {(ti.state, ti.try_number) for ti in reconciles} == {("failed", 1)}  # no Airflow retry past the budget
    summary = next(ti for ti in tis if ti.task_id == "summarize")
    assert (summary.state, summary.try_number) == ("failed", 1)
    assert next(ti.state for ti in tis if ti.task_id == "prune") == "upstream_failed"
    sent = Counter(r.path for r in emulator.requests())
    assert max(sent.values()) > 1, sent  # transient errors were retried while the budget lasted
    assert emulator.writes() == []


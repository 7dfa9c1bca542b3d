"""The ``kafka_connect_register`` DAG: structure, parse-time hygiene, and end to end with ``dag.test()``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
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
        "commodity_platform.validation",  # regexes and constants only (strict Param patterns)
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
    assert set(dag.task_dict) == {"plan", "reconcile", "prune"}
    assert dag.task_dict["prune"].trigger_rule == "none_failed"
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
    assert states == {("plan", "success"), ("reconcile", "success"), ("prune", "success")}
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

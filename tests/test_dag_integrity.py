"""Every DAG file imports cleanly and follows the house rules the UI and on-call rely on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
# Imports a DAG file may do at module level: cheap ones only (rule: no heavy work at parse time).
HEAVY_MODULES = ("kubernetes", "great_expectations", "pandas", "httpx", "sqlglot", "MySQLdb", "pyflink")


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}, dagbag.import_errors


def test_every_dag_file_defines_a_dag(dagbag) -> None:
    files_with_dags = {Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert DAG_FILES, "no DAG files found"
    assert files_with_dags == {p.name for p in DAG_FILES}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_import_nothing_heavy_at_module_level(dag_file: Path) -> None:
    tree = ast.parse(dag_file.read_text())
    top_level_imports = [
        alias.name if isinstance(node, ast.Import) else (node.module or "")
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (node.names if isinstance(node, ast.Import) else [node])
    ]
    heavy = [m for m in top_level_imports if m.split(".")[0] in HEAVY_MODULES]
    assert heavy == [], f"{dag_file.name} imports {heavy} at parse time; import them inside tasks"


def test_dag_conventions(dagbag) -> None:
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not (dag.doc_md or "").strip():
            problems.append(f"{dag_id}: no doc_md")
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if dag.catchup:
            problems.append(f"{dag_id}: catchup must be explicit and off unless the DAG is a backfill target")
        for task in dag.tasks:
            if task.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{task.task_id}: owner is {task.owner!r}")
            if task.retries < 1:
                problems.append(f"{dag_id}.{task.task_id}: no retries")
            if not task.retry_exponential_backoff:
                problems.append(f"{dag_id}.{task.task_id}: retries without exponential backoff")
        for name, param in dag.params.items():
            if not (getattr(param, "description", None) or "").strip():
                problems.append(f"{dag_id}: Param {name!r} has no description")
    assert problems == []


def test_no_cycles(dagbag) -> None:
    for dag in dagbag.dags.values():
        dag.check_cycle()  # raises AirflowDagCycleException

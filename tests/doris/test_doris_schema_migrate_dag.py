"""The doris_schema_migrate DAG run for real (dag.test) against the sandbox MariaDB."""

from __future__ import annotations

import pytest

from tests.dag_runs import task_states
from tests.doris.test_migrations_sandbox import DB, ddl_counters

pytestmark = pytest.mark.sandbox


def database_exists(sandbox) -> bool:
    rows = sandbox.query("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [DB],
                         database=None)
    return rows[0][0] == 1


@pytest.fixture
def fresh_server(sandbox):
    sandbox.drop_database(DB)
    yield sandbox
    sandbox.drop_database(DB)


def test_dry_run_changes_nothing(dagbag, airflow_db, fresh_server) -> None:
    dag = dagbag.get_dag("doris_schema_migrate")
    before = ddl_counters(fresh_server)

    run = dag.test(run_conf={"dry_run": True})

    assert str(run.state) == "success"
    assert task_states(run) == {"plan_migrations": "success", "apply_migrations": "skipped",
                                "reconcile_routine_loads": "skipped"}
    assert not database_exists(fresh_server)
    assert ddl_counters(fresh_server) == before


def test_two_runs_on_a_new_server_second_executes_no_ddl(dagbag, airflow_db, fresh_server) -> None:
    dag = dagbag.get_dag("doris_schema_migrate")
    # Several dag.test() calls share one DAG object in this process and an earlier run's conf can
    # linger in its params, so every run here states its conf.

    first = dag.test(run_conf={"dry_run": False})
    assert str(first.state) == "success", task_states(first)
    assert task_states(first) == dict.fromkeys(["plan_migrations", "apply_migrations", "reconcile_routine_loads"],
                                               "success"), first.conf
    assert database_exists(fresh_server)
    before = ddl_counters(fresh_server)

    second = dag.test(run_conf={"dry_run": False})

    assert str(second.state) == "success", task_states(second)
    assert ddl_counters(fresh_server) == before


def test_bad_param_fails_fast_without_retries(dagbag, airflow_db, fresh_server) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.get_dag("doris_schema_migrate")
    # The Param's own pattern (issue 14) refuses the value before a run exists: nothing runs, nothing retries.
    with pytest.raises(ParamValidationError, match="kafka_broker_list"):
        dag.test(run_conf={"kafka_broker_list": "no-port-here"})
    assert not database_exists(fresh_server)

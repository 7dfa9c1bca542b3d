"""Task bodies of ``kafka_connect_register`` (``kafka_connect/tasks.py``) without a DAG run: the summary's
verdict, the Param table being the one source of the hook's default budget, the budget-bounded retries."""

from __future__ import annotations

import time

import pytest

from commodity_platform.errors import ConfigError, PermanentError
from commodity_platform.kafka_connect.hook import DEFAULT_RETRY_BUDGET_SECONDS, KafkaConnectHook, RetryBudget
from commodity_platform.kafka_connect.params import REGISTER_PARAMS
from commodity_platform.kafka_connect.tasks import plan_task, summarize_results
from commodity_platform.params import resolve_params
from sandbox.connect_emulator import ConnectEmulator
from tests.kafka_connect.conftest import CONN_ENV, conn_json


def _result(name: str, outcome: str = "unchanged") -> dict[str, object]:
    return {"name": name, "outcome": outcome}


def test_summary_names_every_connector_without_a_result() -> None:
    planned = ["cp-a", "cp-b", "cp-c", "cp-d"]
    with pytest.raises(PermanentError, match=r"^2 of 4 connector\(s\) not reconciled: \['cp-b', 'cp-d'\]"):
        summarize_results(planned, [_result("cp-a"), _result("cp-c", "updated")])


def test_summary_of_a_complete_run_lists_the_changed_connectors() -> None:
    summary = summarize_results(["cp-a", "cp-b"], [_result("cp-b", "created"), _result("cp-a")])
    assert summary == {"reconciled": ["cp-a", "cp-b"], "changed": ["cp-b"]}
    assert summarize_results([], []) == {"reconciled": [], "changed": []}


def test_summary_after_a_failed_plan_fails_too() -> None:
    """Otherwise the run's only leaf path could end skipped/success although nothing was reconciled."""
    with pytest.raises(PermanentError, match="plan failed: no connector was reconciled"):
        summarize_results(None, [])


def test_the_param_table_is_the_one_source_of_defaults() -> None:
    assert REGISTER_PARAMS["retry_budget_seconds"].default == DEFAULT_RETRY_BUDGET_SECONDS
    assert resolve_params(REGISTER_PARAMS, {}) == {
        "dry_run": False, "connectors": [], "prune": False, "retry_budget_seconds": 300,
    }


def test_a_misspelt_param_fails_the_plan_without_retry() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"unknown Param\(s\) \['retry_budget'\]"):
        plan_task({"retry_budget": 10})
    assert issubclass(ConfigError, PermanentError)


def test_under_a_budget_the_deadline_alone_bounds_the_retries(
    emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """retries=None: more attempts than the default 5 while the deadline lasts, then the budget error."""
    from commodity_platform.kafka_connect.hook import RetryBudgetExhausted

    monkeypatch.setenv(CONN_ENV, conn_json(emulator))
    emulator.inject_error(500, count=10**6)
    started = time.monotonic()
    with (
        KafkaConnectHook(retries=None, budget=RetryBudget.starting_now(2.0), backoff_seconds=0.05,
                         max_backoff_seconds=0.05) as hook,
        pytest.raises(RetryBudgetExhausted),
    ):
        hook.list_connector_names()
    assert time.monotonic() - started < 4
    assert len(emulator.requests()) > 5


def test_retries_none_needs_a_budget() -> None:
    with pytest.raises(ValueError, match="needs a budget"):
        KafkaConnectHook(retries=None)

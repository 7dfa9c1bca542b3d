"""Phases 5 and 8 hand over to the kafka_connect and doris packages; the result is XCom-safe."""

from __future__ import annotations

import time
from typing import Any

import pytest

from commodity_platform.deploy.integrations import _summarise, run_connectors_phase, run_use_cases_phase
from commodity_platform.deploy.params import DEPLOY_PARAMS, PhaseOptions
from commodity_platform.kafka_connect.hook import DEFAULT_RETRY_BUDGET_SECONDS
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR, load_specs
from commodity_platform.validation import LOG_LIST_LIMIT
from tests.hostile.conftest import connect_emulator  # noqa: F401  (fixture re-used: Connect emulator + connection)


class Report:
    def as_dict(self) -> dict[str, Any]:
        return {"created": ["a", "b"], "dry_run": True, "token": "s3cr3t", "detail": {"n": 1, "big": "x" * 500}}


def test_summary_keeps_small_scalars_and_drops_secrets() -> None:
    assert _summarise(Report()) == {"created": 2, "dry_run": True, "detail": {"n": 1}}
    assert _summarise(None) == {}


def test_actions_call_the_other_packages_with_dry_run_and_the_retry_budget(fake_integrations: Any) -> None:
    assert run_connectors_phase(PhaseOptions(dry_run=True, connectors_retry_budget_seconds=42)) == {
        "created": 3, "updated": 0, "unchanged": 0}
    assert run_use_cases_phase(PhaseOptions(dry_run=False)) == {"applied": 4, "pending": 0}
    assert fake_integrations["connectors"].arguments == [{"dry_run": True, "retry_budget_seconds": 42}]
    assert fake_integrations["use-cases"].arguments == [{"dry_run": False}]


def test_the_budget_param_defaults_to_kafka_connects_budget() -> None:
    assert DEPLOY_PARAMS["connectors_retry_budget_seconds"].default == DEFAULT_RETRY_BUDGET_SECONDS
    assert PhaseOptions().connectors_retry_budget_seconds == DEFAULT_RETRY_BUDGET_SECONDS


def test_connectors_phase_fails_within_its_retry_budget_naming_the_connectors(
    connect_emulator: Any,  # noqa: F811
    make_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(issue 14 #10) Kafka Connect answers 500 to everything: the deploy task of phase 5 fails once (no retry)
    after the run's ``connectors_retry_budget_seconds``, naming every connector not reconciled, writing nothing."""
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.deploy.tasks import deploy_task

    names = [s.name for s in load_specs(CONNECTORS_DIR)]
    emulator = make_emulator()
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", emulator.airflow_connection_uri_json())
    connect_emulator.inject_error(500, count=10**6, message="Internal Server Error")
    started = time.monotonic()
    with pytest.raises(AirflowFailException) as info:
        deploy_task("connectors", {"phases": ["connectors"], "connectors_retry_budget_seconds": 3})
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert elapsed < 10, f"took {elapsed:.1f} s with a 3 s budget"
    assert f"{len(names)} connector(s) not reconciled" in message and "retry budget" in message
    assert all(name in message for name in names[:LOG_LIST_LIMIT])
    assert connect_emulator.writes() == []

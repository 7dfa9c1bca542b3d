"""Task bodies of the ``streaming_platform_deploy`` DAG: plan and deploy one phase, sum up the run.

A run's Params are read once, with ``resolve_params(DEPLOY_PARAMS, ...)``; a :class:`PermanentError` (bad
input, a manifest the API server refuses, a connection without a usable kube config) fails the task without
retries (``permanent_errors_fail_fast``); temporary errors propagate so the task's retries apply. Return values
go to XCom: object references, counts and Secret *key names* only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from commodity_platform.connections import KUBERNETES_CONN_ID
from commodity_platform.deploy.params import DEPLOY_PARAMS, PhaseOptions
from commodity_platform.deploy.phases import PHASES, PHASES_BY_NAME
from commodity_platform.params import resolve_params
from commodity_platform.task_errors import permanent_errors_fail_fast

log = logging.getLogger(__name__)

#: The per-phase counts the summary adds up.
_COUNTS = ("changed", "created", "configured", "unchanged")


def _selected_options(phase_name: str, params: Mapping[str, Any] | None) -> PhaseOptions:
    """The phase's options, or AirflowSkipException when the run did not select the phase."""
    from airflow.sdk.exceptions import AirflowSkipException

    values = resolve_params(DEPLOY_PARAMS, params)
    if phase_name not in values["phases"]:
        raise AirflowSkipException(f"phase {phase_name} not selected (phases={values['phases']})")
    return PhaseOptions.for_phase(phase_name, values)


def plan_task(phase_name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Skip an unselected phase; render its manifests and resolve its Secrets so bad input fails before applying."""
    from commodity_platform.deploy.execution import plan_phase, plan_secrets

    with permanent_errors_fail_fast():
        options = _selected_options(phase_name, params)
        phase = PHASES_BY_NAME[phase_name]
        plans = plan_phase(phase, options)
        secrets = plan_secrets(phase)
    return {
        "phase": phase_name,
        "secrets": secrets,
        "stages": {p.stage.name: [m.ref for m in p.manifests] for p in plans},
    }


def deploy_task(
    phase_name: str, params: Mapping[str, Any] | None, *, conn_id: str = KUBERNETES_CONN_ID
) -> dict[str, Any]:
    """Server-side apply the phase, wait for its readiness gates, run its action; report the changes."""
    from commodity_platform.deploy.cluster import kubernetes_api_client
    from commodity_platform.deploy.execution import deploy_phase

    with permanent_errors_fail_fast():
        options = _selected_options(phase_name, params)
        # A connection without a usable kube config is a ConfigError: fails once, no retries.
        return deploy_phase(phase_name, kubernetes_api_client(conn_id), options).as_dict()


def summary_task(ti: Any) -> dict[str, Any]:
    """Totals over the phases that deployed (``ti.xcom_pull`` of each ``<phase>.deploy``); ``changed`` is 0 on a
    re-run of an unchanged platform."""
    totals: dict[str, Any] = {**dict.fromkeys(_COUNTS, 0), "phases": {}}
    for phase in PHASES:
        report = ti.xcom_pull(task_ids=f"{phase.task_group_id}.deploy")
        if not report:
            continue
        totals["phases"][phase.name] = {k: report[k] for k in ("created", "configured", "unchanged", "seconds")}
        for key in _COUNTS:
            totals[key] += report[key]
    log.info(
        "deploy summary: %d changed (%d created, %d configured), %d unchanged",
        totals["changed"], totals["created"], totals["configured"], totals["unchanged"],
    )
    return totals

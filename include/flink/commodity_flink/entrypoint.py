"""Production entry point used by the per-job scripts that the operator's PythonDriver runs.

In application mode the JobManager runs this script; ``execute_sql`` submits the streaming job and
returns, and the application cluster then lives as long as the job. Checkpointing (exactly-once,
interval, storage), parallelism and restart strategy come from the FlinkDeployment's
``flinkConfiguration`` so that operations can tune them without rebuilding the image.
"""

from __future__ import annotations

import logging
import sys

from commodity_flink.connectors import ProductionSettings, SettingsError
from commodity_flink.environment import create_table_environment, submit
from commodity_flink.jobs import get_job

log = logging.getLogger(__name__)


def run_production(job_name: str) -> None:
    """Build the production tables from the environment and submit ``job_name``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    job = get_job(job_name)
    try:
        settings = ProductionSettings.from_env()
        ddl = job.production_tables(settings)
    except SettingsError as exc:
        # A configuration error will not heal by restarting: say what is missing and stop.
        log.error("Cannot start %s: %s", job_name, exc)
        sys.exit(2)
    log.info("Starting %s with %s", job_name, settings)
    t_env = create_table_environment(pipeline_name=job_name)
    submit(t_env, ddl, job.statements())

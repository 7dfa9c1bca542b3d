"""Creating the PyFlink ``TableEnvironment`` and running a job's statements on it.

PyFlink is imported inside the functions: the rest of the package stays importable without it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment, TableResult

log = logging.getLogger(__name__)


def create_table_environment(pipeline_name: str, config: Mapping[str, str] | None = None) -> TableEnvironment:
    """A streaming ``TableEnvironment`` in UTC.

    Streaming mode even for bounded local files, so the local runs exercise the same operators
    (watermarks, window emission, temporal join, CEP) as production; at the end of a bounded input
    Flink emits a final MAX watermark, which fires the last windows and flushes the joins.
    """
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    table_config = t_env.get_config()
    # Event times are UTC; the session zone only matters for TIMESTAMP_LTZ/CURRENT_TIMESTAMP, but a
    # pod's default zone must never leak into results.
    table_config.set("table.local-time-zone", "UTC")
    table_config.set("pipeline.name", pipeline_name)
    for key, value in (config or {}).items():
        table_config.set(key, value)
    return t_env


def submit(t_env: TableEnvironment, ddl: Sequence[str], statements: Sequence[str]) -> TableResult:
    """Declare the tables, create the views, and submit the final ``INSERT`` (the last statement)."""
    *views, insert = statements
    for statement in (*ddl, *views):
        t_env.execute_sql(statement)
    log.info("Submitting %s", insert.strip().splitlines()[0])
    return t_env.execute_sql(insert)

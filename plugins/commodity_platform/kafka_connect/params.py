"""The Param table of the ``kafka_connect_register`` DAG: each setting's default, schema and help, stated once.

The DAG file builds its ``params=`` from :data:`REGISTER_PARAMS`; the task bodies (``kafka_connect/tasks.py``)
read a run's values with ``resolve_params(REGISTER_PARAMS, context["params"])``, and the hook's default retry
budget is this table's default. Cheap to import (the DAG file imports it at parse time).
"""

from __future__ import annotations

from commodity_platform.params import ParamSpec, ParamTable
from commodity_platform.validation import strict_param_pattern

#: Connector names this project manages: specs and prune both use the ``cp-`` prefix.
MANAGED_CONNECTOR_PATTERN = "cp-[a-z0-9-]+"

REGISTER_PARAMS: ParamTable = {
    "dry_run": ParamSpec(
        False,
        "Dry run",
        "Only log the config diffs and state changes (validation still runs); write nothing.",
        {"type": "boolean"},
    ),
    "connectors": ParamSpec(
        [],
        "Connectors",
        # An array of strings renders as a textarea that splits on new lines (Airflow UI FlexibleForm).
        "Connector names to reconcile, one per line (e.g. cp-sink-doris-realtime). Empty = all specs.",
        {"type": "array", "items": {"type": "string", "pattern": strict_param_pattern(MANAGED_CONNECTOR_PATTERN)}},
    ),
    "prune": ParamSpec(
        False,
        "Prune connectors without a spec",
        "Delete cp-* connectors that have no spec file. Never touches any other connector.",
        {"type": "boolean"},
    ),
    "retry_budget_seconds": ParamSpec(
        300,
        "Retry budget (s)",
        "Total time in seconds this run may spend retrying Kafka Connect requests (409, 5xx, timeouts), "
        "shared by every connector, counted from the run's start, e.g. 300. When it is spent the "
        "connectors still failing stop at once and the run's last task fails listing every connector "
        "not reconciled.",
        {"type": "integer", "minimum": 1, "maximum": 3600},
    ),
}

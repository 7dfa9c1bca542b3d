"""Assets the DAGs produce and consume. URIs name the warehouse object, not a connection."""

from __future__ import annotations

from airflow.sdk import Asset

from commodity_platform.connections import DORIS_DATABASE

DORIS_SCHEMA = Asset(name="doris_schema", uri=f"doris://{DORIS_DATABASE}/schema_history", group="doris")
PRICE_1MIN_AGG = Asset(name="price_1min_agg", uri=f"doris://{DORIS_DATABASE}/price_1min_agg", group="doris")

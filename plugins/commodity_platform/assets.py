"""Assets the DAGs produce and consume. URIs name the warehouse object, not a connection."""

from __future__ import annotations

from airflow.sdk import Asset

DORIS_SCHEMA = Asset(name="doris_schema", uri="doris://commodity_realtime/schema_history", group="doris")
PRICE_1MIN_AGG = Asset(name="price_1min_agg", uri="doris://commodity_realtime/price_1min_agg", group="doris")

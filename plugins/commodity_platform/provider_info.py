"""Provider info: how Airflow learns this project's connection types (``doris``, ``kafka_connect``).

Airflow discovers connection types only from installed distributions that declare an
``apache_airflow_provider`` entry point returning this dict (``ProvidersManager`` ->
``airflow/_shared/providers_discovery/providers_discovery.py`` in Airflow 3.3: ``package-name`` must equal
the distribution's name); Airflow plugins cannot register them. ``pyproject.toml`` declares the entry point
and ``scripts/setup.sh`` installs the project editable into ``.venv``, so the connection form offers
*Apache Doris* and *Kafka Connect* with their own fields, and the UI's **Test** button (with
``[core] test_connection = Enabled``) calls ``DorisHook.test_connection`` / ``KafkaConnectHook.test_connection``.

The form metadata is declarative (``conn-fields`` / ``ui-field-behaviour`` in the ``connection-types``
entries, the Airflow >= 3.2 way; ``provider.yaml.schema.json`` of Airflow 3.3 defines the keys), so listing
the types never imports a hook. Extra fields are stored in the connection's ``extra`` under their own names,
which is what the hooks read (``timeout``, ``verify``, ``base_path``; ``charset`` for the MySQL client).
Only the product package ``commodity_platform`` is in the distribution (pyproject ``packages.find``).
"""

from __future__ import annotations

from typing import Any

from commodity_platform.connections import DORIS_DATABASE

#: The distribution's name (pyproject ``[project] name``); Airflow refuses provider info that names another.
DISTRIBUTION_NAME = "commodity-streaming-ops"

DORIS_CONN_TYPE = "doris"
KAFKA_CONNECT_CONN_TYPE = "kafka_connect"


def get_provider_info() -> dict[str, Any]:
    """The ``apache_airflow_provider`` entry point (schema: Airflow's ``provider_info.schema.json``)."""
    return {
        "package-name": DISTRIBUTION_NAME,
        "name": "Commodity streaming platform",
        "description": "Connection types of the commodity streaming platform: Apache Doris (FE MySQL protocol) "
        "and the Kafka Connect REST API.",
        "connection-types": [
            {
                "connection-type": DORIS_CONN_TYPE,
                "hook-class-name": "commodity_platform.doris.hook.DorisHook",
                "hook-name": "Apache Doris",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"host": "FE host", "port": "FE query port", "schema": "Database"},
                    "placeholders": {
                        # the Service and port of include/manifests/04-doris/30-doris-services.yaml (query_port)
                        "host": "doris-fe",
                        "port": "9030",
                        "schema": DORIS_DATABASE,
                        "login": "airflow",
                    },
                },
                "conn-fields": {
                    "charset": {
                        "label": "Charset",
                        "description": "Client character set passed to the MySQL client, e.g. utf8mb4 "
                        "(empty: the client default).",
                        "schema": {"type": ["string", "null"], "maxLength": 32},
                    },
                },
            },
            {
                "connection-type": KAFKA_CONNECT_CONN_TYPE,
                "hook-class-name": "commodity_platform.kafka_connect.hook.KafkaConnectHook",
                "hook-name": "Kafka Connect",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Scheme", "login": "Basic auth user", "password": "Basic auth password"},
                    "placeholders": {
                        # the Service and REST port of include/manifests/03-kafka-connect/30-kafka-connect.yaml
                        "host": "kafka-connect",
                        "port": "8083",
                        "schema": "http or https",
                    },
                },
                "conn-fields": {
                    "timeout": {
                        "label": "Timeout (s)",
                        "description": "Per-request timeout in seconds (connect timeout at most 10 s).",
                        "schema": {"type": ["number", "null"], "minimum": 1, "maximum": 600, "default": 30},
                    },
                    "verify": {
                        "label": "TLS verification",
                        "description": "true, false, or the path of a CA bundle on the workers.",
                        "schema": {"type": ["string", "null"], "default": "true"},
                    },
                    "base_path": {
                        "label": "Base path",
                        "description": "URL prefix when Connect is served behind a proxy, e.g. /connect.",
                        "schema": {"type": ["string", "null"]},
                    },
                },
            },
        ],
    }

"""The Airflow connection ids the project uses by default, stated once.

Each is the ``default_conn_name`` of the hook that reads it; DAGs, settings and the sandbox refer to these
names instead of repeating the strings.
"""

from __future__ import annotations

#: The warehouse: Doris FE's MySQL port (or the sandbox MariaDB), read by ``DorisHook``.
DORIS_CONN_ID = "doris_default"
#: The platform's database in the warehouse: the default when the Doris connection names no schema, the
#: migrations' target and the database the assets' URIs name.
DORIS_DATABASE = "commodity_realtime"
#: The Kafka Connect REST API, read by ``KafkaConnectHook``.
KAFKA_CONNECT_CONN_ID = "kafka_connect_default"
#: The Kubernetes API of the platform cluster (cncf.kubernetes ``KubernetesHook``).
KUBERNETES_CONN_ID = "kubernetes_default"
#: The Prometheus Pushgateway the data-quality metrics go to.
PUSHGATEWAY_CONN_ID = "pushgateway_default"

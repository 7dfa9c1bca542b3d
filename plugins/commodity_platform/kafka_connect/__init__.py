"""Kafka Connect connectors as code.

* :mod:`.specs` - the YAML spec format under ``include/connectors/``, strict validation, secret refusal.
* :mod:`.hook` - :class:`KafkaConnectHook`, the REST client (httpx, retries on 409/5xx).
* :mod:`.reconcile` - :class:`ConnectorReconciler` and :func:`reconcile_all` (no Airflow imports).
* :mod:`.tasks` - task bodies for the ``kafka_connect_register`` DAG and the deploy DAG.

Submodules are not imported here so that importing the package stays cheap for DAG parsing.
"""

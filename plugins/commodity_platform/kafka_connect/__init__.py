"""Kafka Connect connectors as code.

* :mod:`.specs` - the YAML spec format under ``include/connectors/``, strict validation, secret refusal.
* :mod:`.hook` - :class:`KafkaConnectHook`, the REST client (httpx, retries on 409/5xx).
* :mod:`.reconcile` - :class:`ConnectorReconciler` and :func:`reconcile_all` (no Airflow imports); the deploy
  DAG's connectors phase calls ``reconcile_all``.
* :mod:`.params` - the ``kafka_connect_register`` DAG's Param table (defaults stated once).
* :mod:`.tasks` - task bodies of the ``kafka_connect_register`` DAG (plan, reconcile, summarize, prune).

Submodules are not imported here so that importing the package stays cheap for DAG parsing.
"""

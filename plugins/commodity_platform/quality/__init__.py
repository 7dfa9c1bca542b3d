"""Streaming data quality: freshness, error-rate and OHLC-correctness checks run inside the warehouse.

Modules, in the order a run uses them:

* :mod:`.params` - the DAG's one Param table (defaults, schemas, help; durations in seconds).
* :mod:`.settings` - a run's Params validated into one :class:`~.settings.DQSettings` (thresholds,
  window, tables), before any I/O.
* :mod:`.tasks` - the task bodies: ``run_checks`` (every check, GX imported once per run), one result
  task per check, publish, verdict.
* :mod:`.gx` - Great Expectations (GX Core 1.x) on the warehouse as a SQL data source; every expectation
  is one SQL statement executed by the database, never a DataFrame.
* :mod:`.checks` - the three checks; each returns a :class:`~.results.CheckResult`.
* :mod:`.ohlc` - the OHLC comparison as a GX query (the comparison itself is next to the bar definition).
* :mod:`.sql` - the check SQL under ``include/sql/quality/`` rendered with validated values.
* :mod:`.results` - the ``dq_results`` table (one row per run and check; survives a Pushgateway outage).
* :mod:`.metrics` - the Prometheus metric contract and the Pushgateway push.
* :mod:`.report` - the HTML report of a run (``sandbox/quality_demo.py`` prints the demo's text summary).

``great_expectations`` is imported lazily (inside functions): it takes seconds to import.
"""

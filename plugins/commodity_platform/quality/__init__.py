"""Streaming data quality: freshness, error-rate and OHLC-correctness checks run inside the warehouse.

Modules, in the order a run uses them:

* :mod:`.settings` - the DAG's Params validated into one :class:`~.settings.DQSettings` (thresholds,
  window, tables), before any I/O.
* :mod:`.gx` - Great Expectations (GX Core 1.x) on the warehouse as a SQL data source; every expectation
  is one SQL statement executed by the database, never a DataFrame.
* :mod:`.checks` - the three checks; each returns a :class:`~.results.CheckResult`.
* :mod:`.ohlc` - the OHLC comparison (recomputed bars vs ``price_1min_agg``), also a plain function
  :func:`~.ohlc.compare_bars` that ``ohlc_backfill`` reuses to re-validate windows.
* :mod:`.results` - the ``dq_results`` table (one row per run and check; survives a Pushgateway outage).
* :mod:`.metrics` - the Prometheus metric contract and the Pushgateway push.
* :mod:`.report` - the HTML report of a run; :mod:`.demo` - the text summary ``./dev demo`` prints.

``great_expectations`` is imported lazily (inside functions): it takes seconds to import.
"""

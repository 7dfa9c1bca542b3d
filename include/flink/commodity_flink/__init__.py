"""The platform's three Flink SQL applications (data enricher, price aggregator, anomaly detector).

Layout, and why it is split this way:

* :mod:`commodity_flink.schema`     -- column lists shared by every source/sink variant of a table.
* :mod:`commodity_flink.transforms` -- the SQL that *is* each job (views + the final ``INSERT``). It only
  names logical tables (``raw_ticks``, ``commodity_metadata_versioned``, ``<job>_sink``), never a
  connector, so the very same statements run against Kafka/Doris in production and against CSV files
  in the local runner and the tests.
* :mod:`commodity_flink.connectors` -- ``CREATE TABLE`` statements for those logical tables: Kafka,
  upsert-Kafka and Doris for production, the filesystem/CSV connector for local runs.
* :mod:`commodity_flink.jobs`       -- the registry tying a job name to its inputs, output and SQL.

Only the Python standard library is imported here so the modules can be read (and unit-checked) from any
interpreter; PyFlink is imported lazily by the entry points that need a ``TableEnvironment``.
"""

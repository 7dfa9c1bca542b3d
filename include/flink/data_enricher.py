"""Data enricher: raw ticks joined with commodity metadata -> Kafka `commodity-prices-enriched`.

Entry point for the Flink Kubernetes Operator's PythonDriver (``-py /opt/flink/usrlib/data_enricher.py``);
the SQL lives in ``commodity_flink.transforms``, the connectors in ``commodity_flink.connectors``.
"""

from commodity_flink.entrypoint import run_production

if __name__ == "__main__":
    run_production("data_enricher")

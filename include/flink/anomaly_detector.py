"""Anomaly detector: price moves > 5 % within one minute -> Kafka `market-alerts`.

Entry point for the Flink Kubernetes Operator's PythonDriver (``-py /opt/flink/usrlib/anomaly_detector.py``);
the SQL lives in ``commodity_flink.transforms``, the connectors in ``commodity_flink.connectors``.
"""

from commodity_flink.entrypoint import run_production

if __name__ == "__main__":
    run_production("anomaly_detector")

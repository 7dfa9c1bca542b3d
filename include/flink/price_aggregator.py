"""Price aggregator: 1-minute OHLC + VWAP bars of valid ticks -> Doris `price_1min_agg`.

Entry point for the Flink Kubernetes Operator's PythonDriver (``-py /opt/flink/usrlib/price_aggregator.py``);
the SQL lives in ``commodity_flink.transforms``, the connectors in ``commodity_flink.connectors``.
"""

from commodity_flink.entrypoint import run_production

if __name__ == "__main__":
    run_production("price_aggregator")

"""1-minute OHLC bars: the single bar definition (``definition``), the backfill that rebuilds ``price_1min_agg``
from ``energy_prices_rt`` inside the warehouse (``backfill``, sharded by ``shards``), the comparison both DAGs
use to check bars (``comparison``), the ``ohlc_backfill`` DAG's Params (``params``) and task bodies (``tasks``).
The window and commodity-code vocabulary is :mod:`commodity_platform.window`."""

"""1-minute OHLC bars: the single bar definition, the backfill that rebuilds ``price_1min_agg`` from
``energy_prices_rt`` inside the warehouse, its validation, and a synthetic tick generator for the sandbox."""

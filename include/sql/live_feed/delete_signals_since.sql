-- stale-feed fault: the signals derived from the removed bars.
DELETE FROM trading_signals
WHERE signal_time >= %(cut)s
  -- @commodity_filter

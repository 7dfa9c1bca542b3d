-- stale-feed fault: the commodities' ticks since the cut, as if their source had stopped then.
DELETE FROM energy_prices_rt
WHERE event_time >= %(cut)s
  -- @commodity_filter

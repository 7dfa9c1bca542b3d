-- stale-feed fault: the bars of the removed ticks (so bars still equal their ticks).
DELETE FROM price_1min_agg
WHERE bar_start >= %(cut)s
  -- @commodity_filter

-- Bars the feed just wrote (price_1min_agg, closed minutes [window_start, window_end)): input of the signals.
SELECT commodity_code, bar_start, close_price, vwap
FROM price_1min_agg
WHERE bar_start >= %(window_start)s AND bar_start < %(window_end)s
ORDER BY bar_start, commodity_code

-- corrupt-bar fault: the newest bar of a commodity that started at or before the given minute.
SELECT bar_start, close_price
FROM price_1min_agg
WHERE commodity_code = %(commodity_code)s AND bar_start <= %(latest)s
ORDER BY bar_start DESC
LIMIT 1

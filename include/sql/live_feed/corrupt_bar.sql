-- corrupt-bar fault: one stored bar's close price moved by a factor (e.g. 1.07 = +7 %), its ticks unchanged.
UPDATE price_1min_agg
SET close_price = close_price * %(factor)s
WHERE commodity_code = %(commodity_code)s AND bar_start = %(bar_start)s

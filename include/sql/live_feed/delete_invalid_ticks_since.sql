-- Clearing the invalid-ticks fault: the healthy feed writes no invalid tick, so every invalid tick since the
-- burst began is one the fault injected. "Invalid" is the negation of the bar definition's valid tick
-- (include/sql/ohlc/bars.sql): code present and non-empty, price > 0, volume >= 0.
DELETE FROM energy_prices_rt
WHERE event_time >= %(since)s
  AND NOT (commodity_code IS NOT NULL AND commodity_code <> '' AND price IS NOT NULL AND price > 0
           AND volume IS NOT NULL AND volume >= 0)

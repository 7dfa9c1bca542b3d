-- All ticks (valid or not) in [window_start, window_end): sizes the invalid-ticks burst.
SELECT COUNT(*) FROM energy_prices_rt WHERE event_time >= %(window_start)s AND event_time < %(window_end)s

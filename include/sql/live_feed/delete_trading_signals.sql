-- Signals of one strategy in [window_start, window_end): a re-derived range replaces them, never duplicates.
DELETE FROM trading_signals
WHERE strategy = %(strategy)s AND signal_time >= %(window_start)s AND signal_time < %(window_end)s

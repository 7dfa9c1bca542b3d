-- The commodity codes a sharded rebuild or check must cover in [window_start, window_end): every code with a
-- tick in the window, plus every code with a stored bar there (a bar whose ticks are all gone must still be
-- deleted by its shard). NULL and '' codes (invalid ticks, never a bar) are dropped by the caller: a condition
-- on the code here would turn MariaDB's loose index scan into a full index scan.
--
-- Cheap on both servers: the grouped column leads the tables' keys (energy_prices_rt's sort key
-- (commodity_code, event_time), price_1min_agg's (commodity_code, bar_start)) and the only aggregate is
-- MIN() of the key's second column with a range on it, which MariaDB answers with a loose index scan ("Using
-- index for group-by": two index dives per code, not a scan of the window); on Doris the range prunes the
-- partitions and only the two key columns are read.
-- Parameters: window_start, window_end (pyformat, 'YYYY-MM-DD HH:MM:SS', as in bars.sql).
SELECT commodity_code, MIN(event_time) AS first_seen
FROM energy_prices_rt
WHERE event_time >= %(window_start)s AND event_time < %(window_end)s
GROUP BY commodity_code
UNION ALL
SELECT commodity_code, MIN(bar_start) AS first_seen
FROM price_1min_agg
WHERE bar_start >= %(window_start)s AND bar_start < %(window_end)s
GROUP BY commodity_code
;

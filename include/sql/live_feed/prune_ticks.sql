-- The sandbox has no partitions (Doris drops old ones by dynamic_partition.start): the live feed deletes
-- ticks older than its retention itself, so scans of a long-lived sandbox stay as fast as on day one.
DELETE FROM energy_prices_rt WHERE event_time < %(before)s

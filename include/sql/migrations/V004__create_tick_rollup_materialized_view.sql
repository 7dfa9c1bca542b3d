-- Synchronous rollup of the raw ticks per commodity and source: the dashboards' "ticks and volume by
-- source" panels and the data-quality error-rate drill-down read it instead of scanning every tick.
-- Doris builds it asynchronously; doris_schema_migrate waits for SHOW ALTER TABLE MATERIALIZED VIEW.
CREATE MATERIALIZED VIEW mv_ticks_by_commodity_source AS
SELECT commodity_code, source, MIN(price), MAX(price), SUM(volume), COUNT(price)
FROM energy_prices_rt
GROUP BY commodity_code, source;

-- One NOAA-style observation (the columns of weather_events_rt, V001).
INSERT INTO weather_events_rt (station_id, event_time, region, event_type, temperature_c, precipitation_mm,
                               wind_speed_ms, severity, source, ingest_time)
VALUES (%(station_id)s, %(event_time)s, %(region)s, %(event_type)s, %(temperature_c)s, %(precipitation_mm)s,
        %(wind_speed_ms)s, NULL, %(source)s, %(ingest_time)s)

-- One trading signal (the columns of trading_signals, V003).
INSERT INTO trading_signals (commodity_code, signal_time, signal_type, strategy, strength, price, vwap, ingest_time)
VALUES (%(commodity_code)s, %(signal_time)s, %(signal_type)s, %(strategy)s, %(strength)s, %(price)s, %(vwap)s,
        %(ingest_time)s)

-- Bootstrap, run only when the database is missing: the history table lives inside it.
CREATE DATABASE IF NOT EXISTS ${database};

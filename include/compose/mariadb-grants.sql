-- The sandbox warehouse user creates the platform database itself (doris_schema_migrate bootstraps it).
GRANT ALL PRIVILEGES ON *.* TO 'airflow'@'%';

"""Operations logic for the real-time commodity-price streaming platform.

DAG files under ``dags/`` stay thin: they declare schedules, Params and task wiring and call into this
package, which holds the hooks, domain code and operators. Airflow puts ``plugins/`` on ``sys.path``, so
the package imports as ``commodity_platform`` in DAG files, tasks and tests alike.
"""

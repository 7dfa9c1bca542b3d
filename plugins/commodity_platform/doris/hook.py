"""Hook for Apache Doris over its MySQL protocol (FE port 9030).

Doris speaks the MySQL wire protocol, so the mysql provider's hook does the connecting; this subclass
only adds what the project needs on top: its own default connection id, telling Doris from a plain
MySQL/MariaDB server (the sandbox), and connecting before the target database exists.
"""

from __future__ import annotations

from functools import cached_property

from airflow.providers.mysql.hooks.mysql import MySqlHook

DEFAULT_DATABASE = "commodity_realtime"


class DorisHook(MySqlHook):
    """Interact with Apache Doris (or a MySQL-protocol stand-in) through a ``mysql`` connection.

    :param doris_conn_id: Airflow connection id; its ``schema`` names the platform database.
    :param schema: database to connect to instead of the connection's (e.g. ``information_schema``
        to bootstrap a server where the platform database does not exist yet).
    """

    conn_name_attr = "doris_conn_id"
    default_conn_name = "doris_default"
    conn_type = "mysql"
    hook_name = "Apache Doris (MySQL protocol)"

    @cached_property
    def platform_database(self) -> str:
        """The database the platform's tables live in: the connection's schema, else the default."""
        conn = self.get_connection(self.get_conn_id())
        return conn.schema or DEFAULT_DATABASE

    def is_doris(self) -> bool:
        """True when the server is Apache Doris (its ``@@version_comment`` names it)."""
        comment = self.get_first("SELECT @@version_comment")
        return bool(comment) and "doris" in str(comment[0]).lower()

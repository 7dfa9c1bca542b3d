"""Hook for Apache Doris over its MySQL protocol (FE port 9030).

Doris speaks the MySQL wire protocol, so the mysql provider's hook does the connecting; this subclass
only adds what the project needs on top: its own default connection id, telling Doris from a plain
MySQL/MariaDB server (the sandbox), and connecting before the target database exists.
"""

from __future__ import annotations

from functools import cached_property

from airflow.providers.mysql.hooks.mysql import MySqlHook

from commodity_platform.connections import DORIS_CONN_ID, DORIS_DATABASE


class DorisHook(MySqlHook):
    """Interact with Apache Doris (or a MySQL-protocol stand-in) through a ``doris`` connection.

    ``conn_type`` ``doris`` is registered with Airflow by the project's provider info
    (``commodity_platform/provider_info.py``): the connection form offers *Apache Doris* and its Test button
    calls :meth:`test_connection`. A connection of the stock ``mysql`` type works with this hook just the same.

    :param doris_conn_id: Airflow connection id; its ``schema`` names the platform database.
    :param schema: database to connect to instead of the connection's (e.g. ``information_schema``
        to bootstrap a server where the platform database does not exist yet).
    """

    conn_name_attr = "doris_conn_id"
    default_conn_name = DORIS_CONN_ID
    conn_type = "doris"
    hook_name = "Apache Doris"

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: run a query and say which server answered, or why none did, naming the
        host and port tried (the MySQL client's errors name the host only)."""
        conn = self.get_connection(self.get_conn_id())
        where = f"{conn.host or 'localhost'}:{conn.port or 3306}"
        try:
            row = self.get_first("SELECT @@version, @@version_comment")
        except Exception as exc:  # the UI wants a message, not a traceback
            return False, f"cannot query {where}: {exc}"
        version, comment = row if row else ("?", "?")
        return True, f"connected to {where}: {comment} {version}"

    @cached_property
    def platform_database(self) -> str:
        """The database the platform's tables live in: the connection's schema, else the default."""
        conn = self.get_connection(self.get_conn_id())
        return conn.schema or DORIS_DATABASE

    def is_doris(self) -> bool:
        """True when the server is Apache Doris (its ``@@version_comment`` names it)."""
        comment = self.get_first("SELECT @@version_comment")
        return bool(comment) and "doris" in str(comment[0]).lower()

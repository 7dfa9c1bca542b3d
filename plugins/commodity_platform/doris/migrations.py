"""The schema migrator: the database side of the Doris migrations (plan, apply, record in ``schema_history``).

File handling (discovery, placeholders, checksums, parsing, lint) is pure and lives in
:mod:`commodity_platform.doris.migration_files`; this module compares the files with the server's history
and runs them. The Routine Load reconciler (:mod:`commodity_platform.doris.routine_load`) uses the public
methods :meth:`SchemaMigrator.cursor`, :meth:`SchemaMigrator.execute` and :meth:`SchemaMigrator.record`;
the task bodies that tie both together are in :mod:`commodity_platform.doris.tasks`.

Doris has no transactional DDL, so a file that fails half-way cannot be rolled back. Two things keep
that safe: every file is parsed and linted before the first statement of the run executes (a malformed
file never starts), and every CREATE says IF NOT EXISTS so a retried file skips what already exists.
A failed attempt is recorded with ``success = false``; only a successful row marks a version applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from commodity_platform.doris.dialect import ParsedStatement, StatementKind, adapt_for_mysql
from commodity_platform.doris.migration_files import (
    BOOTSTRAP_DIR,
    HISTORY_TABLE,
    MIGRATIONS_DIR,
    AppliedMigration,
    MigrationFile,
    PreparedMigration,
    SchemaSettings,
    check_applied_files,
    discover_migrations,
    prepare_all,
    prepare_bootstrap,
)
from commodity_platform.errors import ConfigError, PermanentError, classify_mysql_error

log = logging.getLogger(__name__)


@dataclass
class MigrationPlan:
    """What a run would do, computed without changing anything."""

    server: str
    database: str
    database_exists: bool
    history_exists: bool
    applied: dict[str, AppliedMigration]
    pending: list[PreparedMigration]
    routine_loads: list[PreparedMigration]
    target_version: int | None

    def describe(self) -> list[str]:
        lines = [
            f"server: {self.server}; database {self.database}: "
            f"{'exists' if self.database_exists else 'missing, will be created'}; "
            f"history table: {'exists' if self.history_exists else 'missing, will be created'}",
            f"applied versions: {sorted(a.version for a in self.applied.values() if a.version is not None)}",
        ]
        if not self.pending:
            lines.append("pending: none (schema is up to date"
                         + (f" for target version {self.target_version})" if self.target_version else ")"))
        for migration in self.pending:
            lines.append(f"pending: {migration.file.script} ({len(migration.statements)} statements)")
            destructive = dict(migration.destructive)
            for number, stmt in enumerate(migration.statements, start=1):
                first_line = stmt.sql.splitlines()[0]
                lines.append(f"  {number}. {stmt.kind.value}: {first_line}")
                if number in destructive:
                    lines.append(
                        f"     DESTRUCTIVE: {destructive[number]} (opted in: {migration.destructive_reason})"
                    )
        for migration in self.routine_loads:
            lines.append(f"routine load: {migration.statements[0].object_name} ({migration.file.script})")
        return lines

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary for XCom and the UI (no secrets: the files hold none)."""
        return {
            "server": self.server,
            "database": self.database,
            "database_exists": self.database_exists,
            "pending": [m.file.script for m in self.pending],
            "routine_loads": [m.statements[0].object_name for m in self.routine_loads],
            "target_version": self.target_version,
        }


@dataclass
class ExecutedStatement:
    script: str
    number: int
    kind: str
    sql: str


@dataclass
class MigrationReport:
    """What a run did; ``executed`` lists every statement sent to the server (DDL and DML)."""

    applied: list[str] = field(default_factory=list)
    executed: list[ExecutedStatement] = field(default_factory=list)
    skipped_notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "executed_statements": len(self.executed),
            "notes": self.skipped_notes,
        }


Cursor = Any


class SchemaMigrator:
    """Applies the migration files to Doris, or to a MySQL-protocol stand-in with explicit adaptation.

    :param hook: a :class:`~commodity_platform.doris.hook.DorisHook` (or anything with ``get_conn()``
        returning a DB-API connection and ``is_doris()``) connected to a database that always exists,
        such as ``information_schema``; the migrator switches to the platform database itself.
    :param settings: placeholder values.
    :param installed_by: recorded in the history (e.g. the DAG run id); never a credential.
    """

    def __init__(
        self,
        hook: Any,
        *,
        settings: SchemaSettings,
        migrations_dir: Path = MIGRATIONS_DIR,
        bootstrap_dir: Path = BOOTSTRAP_DIR,
        installed_by: str = "doris_schema_migrate",
        async_job_timeout_s: float = 3600.0,
        poll_interval_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.hook = hook
        self.settings = settings
        self.migrations_dir = migrations_dir
        self.bootstrap_dir = bootstrap_dir
        self.installed_by = installed_by
        self.async_job_timeout_s = async_job_timeout_s
        self.poll_interval_s = poll_interval_s
        self.sleep = sleep
        self._is_doris: bool | None = None

    # -- connection helpers -------------------------------------------------------------------------

    @property
    def is_doris(self) -> bool:
        if self._is_doris is None:
            self._is_doris = bool(self.hook.is_doris())
        return self._is_doris

    @contextmanager
    def cursor(self) -> Iterator[Cursor]:
        conn = self.hook.get_conn()
        try:
            conn.autocommit(True) if callable(getattr(conn, "autocommit", None)) else None
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()
        finally:
            conn.close()

    @staticmethod
    def query(cur: Cursor, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        cur.execute(sql, params)
        if not cur.description:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def _database_exists(self, cur: Cursor) -> bool:
        rows = self.query(
            cur, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            [self.settings.database],
        )
        return bool(rows)

    def _history_exists(self, cur: Cursor) -> bool:
        rows = self.query(
            cur,
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            [self.settings.database, HISTORY_TABLE],
        )
        return bool(rows)

    def _read_history(self, cur: Cursor) -> dict[str, AppliedMigration]:
        rows = self.query(
            cur,
            f"SELECT script, version, checksum, installed_on FROM `{self.settings.database}`.{HISTORY_TABLE} "
            "WHERE success = TRUE ORDER BY installed_on",
        )
        # Later successful rows win: for repeatable files the newest checksum is the live definition.
        return {
            row["script"]: AppliedMigration(row["script"], row["version"], row["checksum"], row["installed_on"])
            for row in rows
        }

    # -- planning ---------------------------------------------------------------------------------

    def plan(self, *, target_version: int | None = None) -> MigrationPlan:
        """Validate every file, compare with the history, and say what would run. Changes nothing."""
        files = discover_migrations(self.migrations_dir)
        versions = [f.version for f in files if f.version is not None]
        if target_version is not None and target_version not in versions:
            raise ConfigError(f"target_version: {target_version} is not a migration version; known: {versions}")
        prepared = prepare_all(files, self.settings)
        with self.cursor() as cur:
            db_exists = self._database_exists(cur)
            history_exists = db_exists and self._history_exists(cur)
            applied = self._read_history(cur) if history_exists else {}
        check_applied_files(files, applied)
        pending = [
            m for m in prepared
            if not m.file.repeatable
            and m.file.script not in applied
            and (target_version is None or m.file.version <= target_version)
        ]
        latest_applied = max((a.version for a in applied.values() if a.version is not None), default=0)
        too_old = [m.file.script for m in pending if m.file.version < latest_applied]
        if too_old:
            raise ConfigError(
                f"{too_old}: older than the applied version {latest_applied}; a new migration needs a "
                "version above every released one (files are never inserted before released ones)"
            )
        return MigrationPlan(
            server="doris" if self.is_doris else "mysql-compatible (Doris-only clauses adapted)",
            database=self.settings.database,
            database_exists=db_exists,
            history_exists=history_exists,
            applied=applied,
            pending=pending,
            routine_loads=[m for m in prepared if m.file.repeatable],
            target_version=target_version,
        )

    # -- applying ---------------------------------------------------------------------------------

    def migrate(self, plan: MigrationPlan) -> MigrationReport:
        """Create the database and history table if needed, then apply ``plan.pending`` in order."""
        report = MigrationReport()
        with self.cursor() as cur:
            self._bootstrap(cur, plan, report)
            for migration in plan.pending:
                self._apply_file(cur, migration, report)
        return report

    def _bootstrap(self, cur: Cursor, plan: MigrationPlan, report: MigrationReport) -> None:
        if not plan.database_exists:
            self._run_bootstrap_file(cur, "create_database.sql", report)
        self.execute(cur, f"USE `{self.settings.database}`")
        if not plan.history_exists:
            self._run_bootstrap_file(cur, "schema_history.sql", report)

    def _run_bootstrap_file(self, cur: Cursor, name: str, report: MigrationReport) -> None:
        file, statements = prepare_bootstrap(self.bootstrap_dir / name, self.settings)
        for number, stmt in enumerate(statements, start=1):
            self._run_statement(cur, file, number, stmt, report)

    def _apply_file(self, cur: Cursor, migration: PreparedMigration, report: MigrationReport) -> None:
        file = migration.file
        log.info("applying %s (%d statements)", file.script, len(migration.statements))
        started_on = datetime.now(timezone.utc).replace(tzinfo=None)
        started = time.monotonic()
        try:
            for number, stmt in enumerate(migration.statements, start=1):
                self._run_statement(cur, file, number, stmt, report)
        except Exception as err:
            self.record(cur, file, file.checksum, started_on, started, success=False, error=str(err))
            raise
        self.record(cur, file, file.checksum, started_on, started, success=True)
        report.applied.append(file.script)
        log.info("applied %s in %.0f ms", file.script, (time.monotonic() - started) * 1000)

    def _run_statement(
        self, cur: Cursor, file: MigrationFile, number: int, stmt: ParsedStatement, report: MigrationReport
    ) -> None:
        where = f"{file.script} statement {number}"
        if self.is_doris:
            sql: str | None = stmt.sql
            if stmt.kind in (StatementKind.ALTER_TABLE, StatementKind.CREATE_SYNC_MV):
                # Doris runs one schema change per table at a time: wait for any earlier one first.
                self._wait_for_alter_jobs(cur, stmt, where=where)
        else:
            adapted = adapt_for_mysql(stmt)
            if adapted.notes:
                log.info("%s adapted for a non-Doris server: %s", where, "; ".join(adapted.notes))
                report.skipped_notes.extend(f"{where}: {note}" for note in adapted.notes)
            sql = adapted.sql
        if sql is None:
            return
        self.execute(cur, sql, where=where)
        report.executed.append(ExecutedStatement(file.script, number, stmt.kind.value, sql))
        if self.is_doris and stmt.kind in (StatementKind.ALTER_TABLE, StatementKind.CREATE_SYNC_MV):
            self._wait_for_alter_jobs(cur, stmt, where=where)

    def execute(self, cur: Cursor, sql: str, *, where: str = "migration runner") -> None:
        """Send one statement; a driver error becomes a TemporaryError/PermanentError naming ``where`` and the
        statement's first line (one classifier: ``commodity_platform.errors.classify_mysql_error``)."""
        try:
            cur.execute(sql)
        except Exception as err:
            if not hasattr(err, "args") or type(err).__module__.split(".")[0] not in {"MySQLdb", "pymysql"}:
                raise
            first_line = sql.strip().splitlines()[0][:160]
            raise classify_mysql_error(err, where=f"{where} [{first_line}]") from err

    def record(
        self,
        cur: Cursor,
        file: MigrationFile,
        checksum: str,
        started_on: datetime,
        started: float,
        *,
        success: bool,
        error: str | None = None,
    ) -> None:
        """Append one ``schema_history`` row for ``file`` (``started`` is a ``time.monotonic()`` value)."""
        cur.execute(
            f"INSERT INTO `{self.settings.database}`.{HISTORY_TABLE} (script, installed_on, version, "
            "description, checksum, execution_ms, success, installed_by, error_message) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                file.script,
                started_on,
                file.version,
                file.description.replace("_", " "),
                checksum,
                int((time.monotonic() - started) * 1000),
                success,
                self.installed_by[:128],
                error[:2000] if error else None,
            ],
        )

    # -- Doris asynchronous schema changes ---------------------------------------------------------

    def _wait_for_alter_jobs(self, cur: Cursor, stmt: ParsedStatement, *, where: str) -> None:
        """Poll SHOW ALTER TABLE COLUMN / MATERIALIZED VIEW until the table's latest job is FINISHED."""
        job_type = "MATERIALIZED VIEW" if stmt.kind is StatementKind.CREATE_SYNC_MV else "COLUMN"
        sql = (
            f"SHOW ALTER TABLE {job_type} FROM `{self.settings.database}` "
            f"WHERE TableName = '{stmt.table}' ORDER BY CreateTime DESC LIMIT 1"
        )
        deadline = time.monotonic() + self.async_job_timeout_s
        attempt = 0
        while True:
            attempt += 1
            rows = self.query(cur, sql)
            state = rows[0]["State"] if rows else "FINISHED"
            if state == "FINISHED":
                return
            if state == "CANCELLED":
                raise PermanentError(
                    f"{where}: Doris cancelled the {job_type.lower()} job on {stmt.table}: "
                    f"{rows[0].get('Msg') or 'no message'}"
                )
            if time.monotonic() >= deadline:
                raise PermanentError(
                    f"{where}: the {job_type.lower()} job on {stmt.table} is still {state} after "
                    f"{self.async_job_timeout_s:.0f} s; it continues on the server. Re-run when "
                    f"SHOW ALTER TABLE {job_type} says FINISHED."
                )
            log.info("%s: waiting for Doris %s job on %s: %s (poll %d)", where, job_type, stmt.table, state, attempt)
            self.sleep(self.poll_interval_s)

"""Reconcile Doris Routine Load jobs with their ``R__`` definitions.

A Routine Load job is long-lived server state, not a one-off change, so its file is treated as desired
state and compared with the live job on every run:

* missing (or STOPPED / CANCELLED, which are terminal in Doris) -> ``CREATE ROUTINE LOAD``;
* definition changed since it was last applied (rendered checksum differs from ``schema_history``)
  -> ``PAUSE`` -> ``ALTER ROUTINE LOAD`` (Doris only alters PAUSED jobs) -> ``RESUME``;
* PAUSED with an unchanged definition (e.g. auto-paused after errors) -> ``RESUME``;
* then every job must reach RUNNING within the timeout, or the run fails naming the job and Doris's
  ``ReasonOfStateChanged``.

An unchanged RUNNING job costs one ``SHOW ALL ROUTINE LOAD`` and no statement, which keeps a second run
of the DAG free of DDL. ``SHOW [ALL] ROUTINE LOAD`` lists the session's *current* database (Doris has no
``FROM <db>`` form: apache/doris ``DorisParser.g4`` ``#showRoutineLoad``), so :func:`list_routine_loads`
sends ``USE`` first; the statements live in ``include/sql/doris/``.

``kafka_topic`` is sent in an ALTER only when it differs from the live job's topic (the ``topic`` key of
the ``DataSourceProperties`` JSON column of SHOW ROUTINE LOAD): in Doris a non-empty topic in ALTER
replaces the job's progress with an empty one (apache/doris ``KafkaRoutineLoadJob.modifyPropertiesInternal``:
``this.progress = new KafkaProgress()``), so after RESUME the job would start again from
``kafka_default_offsets`` (OFFSET_END here) and silently skip everything that arrived while it was paused.

``ALTER ROUTINE LOAD`` can change only some properties (Doris docs: desired_concurrent_number,
max_error_number, max_filter_ratio, max_batch_*, jsonpaths, json_root, strip_outer_array, strict_mode,
timezone, and the Kafka broker list, topic and ``property.*``). The column mapping, target table and
format cannot change in place; such a change needs a new job (a new ``R__`` file with a new job name).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from commodity_platform.errors import ConfigError, PermanentError
from commodity_platform.paths import SQL_DIR

if TYPE_CHECKING:
    from commodity_platform.doris.migration_files import AppliedMigration, PreparedMigration
    from commodity_platform.doris.migrations import SchemaMigrator

log = logging.getLogger(__name__)

ALTERABLE_JOB_PROPERTIES = frozenset({
    "desired_concurrent_number", "max_error_number", "max_filter_ratio", "max_batch_interval",
    "max_batch_rows", "max_batch_size", "jsonpaths", "json_root", "strip_outer_array", "strict_mode",
    "timezone", "num_as_string", "fuzzy_parse",
})
ALTERABLE_SOURCE_PROPERTIES = frozenset({"kafka_broker_list", "kafka_topic"})
TERMINAL_STATES = frozenset({"STOPPED", "CANCELLED"})

DORIS_SQL_DIR = SQL_DIR / "doris"


def _doris_sql(name: str) -> str:
    """A statement of ``include/sql/doris/`` without its comment lines."""
    text = (DORIS_SQL_DIR / name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--"))


def list_routine_loads(cur: Any, database: str, *, include_terminal: bool) -> list[dict[str, Any]]:
    """The Routine Load jobs of ``database`` as SHOW [ALL] ROUTINE LOAD rows (column name -> value).

    ``include_terminal`` adds STOPPED and CANCELLED jobs (``SHOW ALL``). The database is made current
    first because the statement has no database clause in Doris.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", database):
        raise ConfigError(f"database: {database!r} is not a plain identifier")
    cur.execute(f"USE `{database}`")
    cur.execute(_doris_sql("show_all_routine_loads.sql" if include_terminal else "show_routine_loads.sql"))
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def live_topic(job: dict[str, Any]) -> str:
    """The Kafka topic a live job consumes, from the ``DataSourceProperties`` JSON of SHOW ROUTINE LOAD."""
    raw = job.get("DataSourceProperties")
    try:
        topic = json.loads(raw).get("topic") if raw else None
    except (json.JSONDecodeError, AttributeError):
        topic = None
    if not topic:
        raise PermanentError(
            f"routine load {job.get('Name')}: SHOW ROUTINE LOAD gave no topic in DataSourceProperties ({raw!r}); "
            "refusing to ALTER without knowing it (sending kafka_topic would reset the job's offsets)"
        )
    return str(topic)


_BLOCK_RE = re.compile(r"\b(?P<kind>PROPERTIES|FROM\s+KAFKA)\s*\(", re.IGNORECASE)
_PAIR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)"')


def _block(sql: str, kind: str, *, where: str) -> str:
    """The text inside the parentheses after ``PROPERTIES`` or ``FROM KAFKA``."""
    for match in _BLOCK_RE.finditer(sql):
        if re.sub(r"\s+", " ", match.group("kind").upper()) == kind:
            depth, start = 1, match.end()
            in_string = False
            for i in range(start, len(sql)):
                char = sql[i]
                if char == '"' and sql[i - 1] != "\\":
                    in_string = not in_string
                elif not in_string and char == "(":
                    depth += 1
                elif not in_string and char == ")":
                    depth -= 1
                    if depth == 0:
                        return sql[start:i]
    raise ConfigError(f"{where}: no {kind} (...) block in the CREATE ROUTINE LOAD statement")


@dataclass(frozen=True)
class RoutineLoadDefinition:
    """The parts of a CREATE ROUTINE LOAD statement the reconciler needs."""

    job: str
    table: str
    create_sql: str
    job_properties: dict[str, str]
    source_properties: dict[str, str]
    checksum: str
    script: str

    @classmethod
    def from_migration(cls, migration: PreparedMigration) -> RoutineLoadDefinition:
        stmt = migration.statements[0]
        where = migration.file.script
        return cls(
            job=stmt.object_name or "",
            table=stmt.table or "",
            create_sql=stmt.sql,
            job_properties=dict(_PAIR_RE.findall(_block(stmt.sql, "PROPERTIES", where=where))),
            source_properties=dict(_PAIR_RE.findall(_block(stmt.sql, "FROM KAFKA", where=where))),
            checksum=migration.rendered_checksum,
            script=where,
        )

    def alter_sql(self, database: str, *, current_topic: str) -> tuple[str, list[str]]:
        """``ALTER ROUTINE LOAD`` carrying every alterable property, and the names it had to leave out.

        ``kafka_topic`` is included only when it differs from ``current_topic`` (the live job's): Doris
        resets the job's Kafka progress whenever an ALTER names a topic, the same one included.
        """
        job_props = {k: v for k, v in self.job_properties.items() if k in ALTERABLE_JOB_PROPERTIES}
        source_props = {
            k: v for k, v in self.source_properties.items()
            if (k in ALTERABLE_SOURCE_PROPERTIES or k.startswith("property."))
            and not (k == "kafka_topic" and v == current_topic)
        }
        left_out = sorted(
            {k for k in self.job_properties if k not in job_props}
            | {k for k in self.source_properties if k not in source_props}
        )

        def fmt(props: dict[str, str]) -> str:
            return ",\n    ".join(f'"{k}" = "{v}"' for k, v in props.items())

        sql = (
            f"ALTER ROUTINE LOAD FOR {database}.{self.job}\n"
            f"PROPERTIES (\n    {fmt(job_props)}\n)\n"
            f"FROM KAFKA (\n    {fmt(source_props)}\n)"
        )
        return sql, left_out


@dataclass
class RoutineLoadReport:
    actions: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"actions": self.actions, "executed_statements": len(self.executed), "states": self.states}


class RoutineLoadReconciler:
    """Brings every Routine Load job to its defined, RUNNING state (Doris only)."""

    def __init__(self, migrator: SchemaMigrator, *, running_timeout_s: float = 300.0) -> None:
        self.migrator = migrator
        self.database = migrator.settings.database
        self.running_timeout_s = running_timeout_s

    def live_jobs(self, cur: Any) -> dict[str, dict[str, Any]]:
        """Newest job per name, including STOPPED/CANCELLED ones (``SHOW ALL``)."""
        rows = list_routine_loads(cur, self.database, include_terminal=True)
        jobs: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda r: str(r.get("CreateTime") or "")):
            jobs[row["Name"]] = row
        return jobs

    def reconcile(
        self, migrations: list[PreparedMigration], applied: dict[str, AppliedMigration]
    ) -> RoutineLoadReport:
        report = RoutineLoadReport()
        definitions = [RoutineLoadDefinition.from_migration(m) for m in migrations]
        by_script = {m.file.script: m for m in migrations}
        with self.migrator.cursor() as cur:
            live = self.live_jobs(cur)
            for definition in definitions:
                self._reconcile_one(cur, definition, live.get(definition.job), applied, by_script, report)
            self._wait_running(cur, definitions, report)
        return report

    def _run(self, cur: Any, sql: str, report: RoutineLoadReport, *, where: str) -> None:
        self.migrator.execute(cur, sql, where=where)
        report.executed.append(sql)

    def _reconcile_one(
        self,
        cur: Any,
        definition: RoutineLoadDefinition,
        job: dict[str, Any] | None,
        applied: dict[str, AppliedMigration],
        by_script: dict[str, PreparedMigration],
        report: RoutineLoadReport,
    ) -> None:
        name, where = definition.job, definition.script
        recorded = applied.get(definition.script)
        started_on, started = datetime.now(timezone.utc).replace(tzinfo=None), time.monotonic()
        file = by_script[definition.script].file
        if job is None or job["State"] in TERMINAL_STATES:
            reason = "does not exist" if job is None else f"is {job['State']} (terminal)"
            log.info("routine load %s %s: creating it", name, reason)
            self._run(cur, definition.create_sql, report, where=where)
            report.actions.append(f"{name}: created ({reason})")
        elif recorded is None or recorded.checksum != definition.checksum:
            current_topic = live_topic(job)
            alter, left_out = definition.alter_sql(self.database, current_topic=current_topic)
            if left_out:
                log.warning("routine load %s: not alterable in place, unchanged on the server: %s", name, left_out)
            if '"kafka_topic"' in alter:
                log.warning("routine load %s: topic changes from %s to %s; Doris restarts the job's offsets "
                            "(kafka_default_offsets of the definition)", name, current_topic,
                            definition.source_properties.get("kafka_topic"))
            if job["State"] != "PAUSED":
                self._run(cur, f"PAUSE ROUTINE LOAD FOR {self.database}.{name}", report, where=where)
            self._run(cur, alter, report, where=where)
            self._run(cur, f"RESUME ROUTINE LOAD FOR {self.database}.{name}", report, where=where)
            report.actions.append(f"{name}: definition changed, paused/altered/resumed")
        elif job["State"] == "PAUSED":
            log.warning("routine load %s is PAUSED (%s): resuming", name, job.get("ReasonOfStateChanged") or "")
            self._run(cur, f"RESUME ROUTINE LOAD FOR {self.database}.{name}", report, where=where)
            report.actions.append(f"{name}: resumed")
            return
        else:
            report.actions.append(f"{name}: up to date ({job['State']})")
            return
        self.migrator.record(cur, file, definition.checksum, started_on, started, success=True)

    def _wait_running(self, cur: Any, definitions: list[RoutineLoadDefinition], report: RoutineLoadReport) -> None:
        deadline = time.monotonic() + self.running_timeout_s
        attempt = 0
        while True:
            attempt += 1
            live = self.live_jobs(cur)
            states = {d.job: (live.get(d.job) or {}).get("State", "MISSING") for d in definitions}
            report.states = states
            waiting = {n: s for n, s in states.items() if s != "RUNNING"}
            if not waiting:
                log.info("routine loads RUNNING: %s", sorted(states))
                return
            # NEED_SCHEDULE is the normal step between RESUME/CREATE and RUNNING; anything else is stuck.
            stuck = {n: s for n, s in waiting.items() if s != "NEED_SCHEDULE"}
            if (stuck and attempt >= 3) or time.monotonic() >= deadline:
                reasons = "; ".join(
                    f"{n} is {s}: {(live.get(n) or {}).get('ReasonOfStateChanged') or 'no reason given'}"
                    for n, s in waiting.items()
                )
                raise PermanentError(f"routine loads not RUNNING: {reasons}")
            log.info("waiting for routine loads to run: %s (poll %d)", waiting, attempt)
            self.migrator.sleep(self.migrator.poll_interval_s)

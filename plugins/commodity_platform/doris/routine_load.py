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
timezone, and the Kafka broker list, topic and ``property.*``). In Doris 2.1 it takes no load properties at
all (apache/doris ``AlterRoutineLoadStmt(labelName, jobProperties, dataSourceProperties)``; COLUMNS/WHERE
in ALTER came with the later Nereids ``#alterRoutineLoad`` rule), so a changed column mapping (COLUMNS),
filter (WHERE, PRECEDING FILTER), PARTITION, target table or format cannot be sent as an ALTER. The live
job's load properties are read from the ``JobProperties`` JSON column of SHOW ROUTINE LOAD
(``RoutineLoadJob.jobPropertiesToJsonString``: ``columnToColumnExpr`` = the COLUMNS descs joined by ",",
each ``name[=expr.toSql()]``; ``whereExpr``, ``precedingFilter``, ``partitions``; "*" when absent) and
compared with the definition's, independent of quoting, case and parentheses. When they differ the job is
recreated under the same name, from where the old one stopped:

1. PAUSE (Doris aborts the running tasks' transactions, so the progress read next is final);
2. SHOW ROUTINE LOAD again for the paused job's ``Progress`` (KafkaProgress: partition -> the *last
   consumed* offset, i.e. the next one minus 1; ``OFFSET_ZERO`` when nothing was consumed from offset 0);
3. STOP (a name is reusable only once its job is in a final state: ``RoutineLoadManager.isNameUsed``
   refuses "Name .. already used in db .." while a NEED_SCHEDULE/RUNNING/PAUSED job has it);
4. CREATE the definition with ``"kafka_partitions"``/``"kafka_offsets"`` = each partition's next offset, so
   no message is skipped (OFFSET_END would skip the backlog) nor loaded twice (the shown offset itself
   would load one message per partition again).

A job created with ``kafka_partitions`` consumes exactly those partitions (``KafkaRoutineLoadJob``: no
periodic partition discovery for custom partitions): partitions added to the topic later need the job
recreated (change its R__ file). The same resume applies when a job is found STOPPED or CANCELLED with the
definition's topic: the new job continues from the old job's progress instead of ``kafka_default_offsets``,
which also covers a run that failed between STOP and CREATE.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.dialects.doris import Doris
from sqlglot.tokens import Token, TokenType

from commodity_platform.errors import ConfigError, PermanentError
from commodity_platform.paths import SQL_DIR
from commodity_platform.sql_files import load_sql

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
    return load_sql(DORIS_SQL_DIR / name)


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


def _json_column(job: dict[str, Any], column: str) -> dict[str, Any] | None:
    """A JSON object column of a SHOW ROUTINE LOAD row, or None when absent or not an object."""
    try:
        value = json.loads(job.get(column) or "null")
    except (json.JSONDecodeError, TypeError):
        return None
    return value if isinstance(value, dict) else None


#: What KafkaProgress shows for a partition with nothing committed yet (getReadableProgress).
_NAMED_OFFSETS = {"OFFSET_ZERO": "0", "OFFSET_BEGINNING": "OFFSET_BEGINNING", "OFFSET_END": "OFFSET_END"}


def resume_offsets(job: dict[str, Any]) -> dict[int, str]:
    """Partition -> the offset a new job must start at to continue where ``job`` stopped.

    SHOW ROUTINE LOAD's ``Progress`` shows the last *consumed* offset per partition (KafkaProgress keeps the
    next one and shows it minus 1), or OFFSET_ZERO / OFFSET_BEGINNING / OFFSET_END before anything was
    committed; CREATE's ``kafka_offsets`` takes the next offset to read (or OFFSET_BEGINNING / OFFSET_END).
    An empty progress (the job never consumed) gives {}: the definition's default offsets apply.
    """
    progress = _json_column(job, "Progress")
    if progress is None:
        raise PermanentError(
            f"routine load {job.get('Name')}: unreadable Progress in SHOW ROUTINE LOAD ({job.get('Progress')!r}); "
            "refusing to recreate it without knowing where it stopped"
        )
    offsets: dict[int, str] = {}
    for partition, shown in progress.items():
        try:
            offsets[int(partition)] = _NAMED_OFFSETS.get(str(shown)) or str(int(shown) + 1)
        except ValueError as err:
            raise PermanentError(
                f"routine load {job.get('Name')}: Progress partition {partition!r} has offset {shown!r}, "
                "which is neither a number nor OFFSET_ZERO/OFFSET_BEGINNING/OFFSET_END"
            ) from err
    return dict(sorted(offsets.items()))


#: The load-property keys of SHOW ROUTINE LOAD's JobProperties, "*" meaning "not given".
LOAD_PROPERTY_KEYS = ("columnToColumnExpr", "whereExpr", "precedingFilter", "partitions")
_NOT_GIVEN = "*"


def canonical_expressions(text: str) -> str | None:
    """A comma-separated list of expressions (``a, b = f(c)``) in one form for comparison: the syntax tree
    (Doris dialect) with parentheses dropped (the tree keeps the precedence) and identifiers unquoted and
    lower-cased (Doris column names are case-insensitive; its Expr.toSql back-quotes them and parenthesises
    predicates). None when it does not parse."""
    if text == _NOT_GIVEN:
        return text
    try:
        tree = sqlglot.parse_one(f"SELECT {text}", read="doris")
    except sqlglot.errors.SqlglotError:
        return None
    for paren in list(tree.find_all(exp.Paren)):
        paren.replace(paren.this)
    for identifier in tree.find_all(exp.Identifier):
        identifier.set("this", identifier.name.lower())
        identifier.set("quoted", False)
    for function in tree.find_all(exp.Anonymous):  # functions sqlglot does not know: names are case-insensitive
        function.set("this", function.name.lower())
    return repr(tree)  # the tree, not its SQL text: without the parentheses only the tree keeps the precedence


def _tokens(sql: str, *, where: str) -> list[Token]:
    """sqlglot's Doris tokens of ``sql``: its tokenizer, not a hand-written scan, tells the commas and parentheses
    of the statement from those inside strings, back-quoted names and comments (and reads escaped quotes)."""
    try:
        return Doris().tokenize(sql)
    except sqlglot.errors.TokenError as err:
        raise ConfigError(f"{where}: cannot read {sql[:60]!r}: {err}") from err


_DEPTH_STEP = {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}


def _split_top_level(text: str, *, where: str) -> list[str]:
    """``text`` split at its commas outside parentheses, each part as written (empty parts dropped)."""
    parts: list[str] = []
    depth, first, last = 0, None, None
    for token in _tokens(text, where=where):
        if token.token_type is TokenType.COMMA and depth == 0:
            if first is not None and last is not None:
                parts.append(text[first.start:last.end + 1])
            first = None
            continue
        depth += _DEPTH_STEP.get(token.token_type, 0)
        first = first or token
        last = token
    if first is not None and last is not None:
        parts.append(text[first.start:last.end + 1])
    return parts


_LOAD_PROPERTY_RE = re.compile(
    r"(?:(?P<columns>COLUMNS)\s*\((?P<columns_body>.*)\)|(?P<where>WHERE)\s+(?P<where_body>.*)"
    r"|PRECEDING\s+FILTER\s+(?P<filter_body>.*)|(?:TEMPORARY\s+)?PARTITIONS?\s*\((?P<partitions_body>.*)\))",
    re.IGNORECASE | re.DOTALL,
)


def parse_load_properties(clause: str, *, where: str) -> dict[str, str]:
    """JobProperties-style load properties (LOAD_PROPERTY_KEYS) of a CREATE ROUTINE LOAD's clause between
    ``ON <table>`` and ``PROPERTIES``; a load property this reconciler does not model (COLUMNS TERMINATED BY,
    DELETE ON, ORDER BY) is a ConfigError rather than something silently left unchecked."""
    props = dict.fromkeys(LOAD_PROPERTY_KEYS, _NOT_GIVEN)
    for part in _split_top_level(clause, where=where):
        match = _LOAD_PROPERTY_RE.fullmatch(part)
        if not match:
            raise ConfigError(f"{where}: load property {part[:60]!r} is not one the reconciler can compare "
                              "with a live job (COLUMNS, WHERE, PRECEDING FILTER, PARTITION)")
        if match.group("columns"):
            props["columnToColumnExpr"] = ",".join(_split_top_level(match.group("columns_body"), where=where))
        elif match.group("where"):
            props["whereExpr"] = match.group("where_body").strip()
        elif match.group("filter_body") is not None:
            props["precedingFilter"] = match.group("filter_body").strip()
        else:
            partitions = _split_top_level(match.group("partitions_body"), where=where)
            props["partitions"] = ",".join(p.strip("` ") for p in partitions)
    return props


_PAIR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)"')


class _Block(NamedTuple):
    """Where ``PROPERTIES (...)`` or ``FROM KAFKA (...)`` stands in a statement: its keyword, and the text
    between its parentheses (``sql[body_start:body_end]``)."""

    keyword_at: int
    body_start: int
    body_end: int


_QUOTED = (TokenType.STRING, TokenType.IDENTIFIER)


def _find_block(sql: str, kind: str, *, where: str) -> _Block | None:
    """The first ``kind`` (``PROPERTIES`` or ``FROM KAFKA``) followed by a parenthesised block, if any."""
    tokens = _tokens(sql, where=where)
    words = kind.split()
    for i in range(len(tokens) - len(words)):
        head = tokens[i:i + len(words)]
        opening = tokens[i + len(words)]
        if ([t.text.upper() for t in head] != words or any(t.token_type in _QUOTED for t in head)
                or opening.token_type is not TokenType.L_PAREN):
            continue
        depth = 0
        for token in tokens[i + len(words):]:
            depth += _DEPTH_STEP.get(token.token_type, 0)
            if depth == 0:
                return _Block(head[0].start, opening.end + 1, token.start)
    return None


def _block(sql: str, kind: str, *, where: str) -> str:
    """The text inside the parentheses after ``PROPERTIES`` or ``FROM KAFKA``."""
    block = _find_block(sql, kind, where=where)
    if block is None:
        raise ConfigError(f"{where}: no {kind} (...) block in the CREATE ROUTINE LOAD statement")
    return sql[block.body_start:block.body_end]


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
    load_properties: dict[str, str] = field(default_factory=lambda: dict.fromkeys(LOAD_PROPERTY_KEYS, _NOT_GIVEN))

    @classmethod
    def from_migration(cls, migration: PreparedMigration) -> RoutineLoadDefinition:
        stmt = migration.statements[0]
        where = migration.file.script
        table = stmt.table or ""
        on_table = re.search(rf"\bON\s+`?{re.escape(table)}`?", stmt.sql, re.IGNORECASE)
        blocks = [b for b in (_find_block(stmt.sql, kind, where=where) for kind in ("PROPERTIES", "FROM KAFKA")) if b]
        load_clause_end = min((b.keyword_at for b in blocks), default=None)
        if not on_table or load_clause_end is None or load_clause_end < on_table.end():
            raise ConfigError(f"{where}: expected CREATE ROUTINE LOAD <db>.<job> ON {table} [load properties] "
                              "PROPERTIES (...) FROM KAFKA (...)")
        return cls(
            job=stmt.object_name or "",
            table=table,
            create_sql=stmt.sql,
            job_properties=dict(_PAIR_RE.findall(_block(stmt.sql, "PROPERTIES", where=where))),
            source_properties=dict(_PAIR_RE.findall(_block(stmt.sql, "FROM KAFKA", where=where))),
            checksum=migration.rendered_checksum,
            script=where,
            load_properties=parse_load_properties(stmt.sql[on_table.end():load_clause_end], where=where),
        )

    def not_alterable_changes(self, job: dict[str, Any]) -> list[str]:
        """What differs between this definition and the live ``job`` that Doris 2.1 cannot ALTER: the target
        table, the format and the load properties. A JobProperties column that is missing or unreadable counts
        as different (recreating keeps the offsets; leaving a stale mapping in place would not be noticed)."""
        changes = []
        if str(job.get("TableName") or "") != self.table:
            changes.append(f"table {job.get('TableName')} -> {self.table}")
        live = _json_column(job, "JobProperties")
        if live is None:
            return [*changes, f"JobProperties unreadable ({job.get('JobProperties')!r})"]
        wanted_format = self.job_properties.get("format", "csv").lower()
        if str(live.get("format", wanted_format)).lower() != wanted_format:
            changes.append(f"format {live.get('format')} -> {wanted_format}")
        for key in LOAD_PROPERTY_KEYS:
            desired, current = self.load_properties[key], str(live.get(key, _NOT_GIVEN))
            if key == "partitions":
                same = {p.strip() for p in desired.split(",")} == {p.strip() for p in current.split(",")}
            else:
                wanted = canonical_expressions(desired)
                same = wanted is not None and wanted == canonical_expressions(current)
            if not same:
                changes.append(f"{key} {current!r} -> {desired!r}")
        return changes

    def create_sql_resuming(self, offsets: dict[int, str]) -> str:
        """The CREATE statement, starting each of ``offsets``' partitions at its offset (FROM KAFKA
        ``kafka_partitions`` / ``kafka_offsets``, which take precedence over ``kafka_default_offsets``)."""
        if not offsets:
            return self.create_sql
        pinned = {"kafka_partitions", "kafka_offsets"} & set(self.source_properties)
        if pinned:
            raise ConfigError(f"{self.script}: sets {sorted(pinned)}; the reconciler cannot resume the job "
                              "from its live progress as well")
        source = _find_block(self.create_sql, "FROM KAFKA", where=self.script)
        if source is None:  # from_migration read the block from this very statement
            raise ConfigError(f"{self.script}: no FROM KAFKA (...) block in the CREATE ROUTINE LOAD statement")
        resume = (
            f'\n    "kafka_partitions" = "{",".join(str(p) for p in offsets)}",'
            f'\n    "kafka_offsets" = "{",".join(offsets.values())}",'
        )
        return self.create_sql[: source.body_start] + resume + self.create_sql[source.body_start :]

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
            offsets = self._offsets_to_carry_over(definition, job)
            log.info("routine load %s %s: creating it%s", name, reason,
                     f", resuming at offsets {offsets}" if offsets else "")
            self._run(cur, definition.create_sql_resuming(offsets), report, where=where)
            report.actions.append(f"{name}: created ({reason})")
        elif (recorded is None or recorded.checksum != definition.checksum) and (
            changes := definition.not_alterable_changes(job)
        ):
            self._recreate(cur, definition, job, changes, report)
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

    @staticmethod
    def _offsets_to_carry_over(definition: RoutineLoadDefinition, job: dict[str, Any] | None) -> dict[int, str]:
        """Where a job replacing ``job`` (STOPPED/CANCELLED, or stopped by :meth:`_recreate`) starts: the old
        job's progress when it read the definition's topic, else nothing (the definition's default offsets)."""
        if job is None:
            return {}
        old_topic = (_json_column(job, "DataSourceProperties") or {}).get("topic")
        if old_topic != definition.source_properties.get("kafka_topic"):
            return {}
        return resume_offsets(job)

    def _recreate(
        self, cur: Any, definition: RoutineLoadDefinition, job: dict[str, Any], changes: list[str],
        report: RoutineLoadReport,
    ) -> None:
        """PAUSE, read the final progress, STOP, CREATE from that progress (see the module docstring)."""
        name, where, job_ref = definition.job, definition.script, f"{self.database}.{definition.job}"
        log.warning("routine load %s: %s cannot be altered in Doris 2.1; recreating it from its Kafka progress",
                    name, "; ".join(changes))
        if job["State"] != "PAUSED":
            self._run(cur, f"PAUSE ROUTINE LOAD FOR {job_ref}", report, where=where)
        paused = next((row for row in list_routine_loads(cur, self.database, include_terminal=False)
                       if row["Name"] == name), None)
        if paused is None or paused["State"] != "PAUSED":
            raise PermanentError(f"routine load {name}: expected it PAUSED before recreating it, SHOW ROUTINE LOAD "
                                 f"gives {paused and paused['State']!r}; left as it is")
        offsets = self._offsets_to_carry_over(definition, paused)
        self._run(cur, f"STOP ROUTINE LOAD FOR {job_ref}", report, where=where)
        self._run(cur, definition.create_sql_resuming(offsets), report, where=where)
        report.actions.append(
            f"{name}: recreated ({'; '.join(changes)}), resuming at "
            + (", ".join(f"partition {p} offset {o}" for p, o in offsets.items()) or "its default offsets")
        )

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

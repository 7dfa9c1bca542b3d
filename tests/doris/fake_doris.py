"""A DB-API stand-in that answers like Doris's FE for the statements the migrator and the DQ checks send.

Doris cannot run on these machines. This fake follows the documented shapes of what the project reads and
models the Doris behaviour that hurts when it is assumed away (each rule cites the apache/doris source):

* ``SHOW [ALL] ROUTINE LOAD [FOR [db.]job | LIKE '...']`` lists the session's current database (set by
  ``USE``); there is no ``FROM <db>`` form (DorisParser.g4 ``#showRoutineLoad``): anything else is a
  syntax error, and no current database is "No database selected". Rows carry Name, State,
  ReasonOfStateChanged, CreateTime, DbName, TableName, Statistic, Progress and ``DataSourceProperties``
  (JSON with ``brokerList``, ``topic``, ``currentKafkaPartitions``: KafkaRoutineLoadJob
  ``dataSourcePropertiesJsonToString``); without ALL, STOPPED/CANCELLED jobs are left out.
* ``ALTER ROUTINE LOAD`` only on a PAUSED job ("Only supports modification of PAUSED jobs"), and a
  non-empty ``kafka_topic`` in it replaces the job's progress with an empty one
  (KafkaRoutineLoadJob ``modifyPropertiesInternal``: ``this.progress = new KafkaProgress()``). A job whose
  progress is empty starts at its ``kafka_default_offsets`` when it runs (OFFSET_END = the log end).
* ``ALTER ROUTINE LOAD`` in 2.1 takes only PROPERTIES and FROM KAFKA (``AlterRoutineLoadStmt(labelName,
  jobProperties, dataSourceProperties)``): load properties (COLUMNS, WHERE, ...) are a syntax error, and a job
  property outside ``CONFIGURABLE_JOB_PROPERTIES_SET`` is "<name> is invalid property".
* ``SHOW ROUTINE LOAD`` rows carry ``JobProperties`` (RoutineLoadJob ``jobPropertiesToJsonString``:
  ``columnToColumnExpr`` = the COLUMNS descs joined by ",", each ``name[=expr.toSql()]`` with back-quoted
  columns; ``whereExpr``/``precedingFilter``/``partitions``, "*" when absent; ``format``; the job properties)
  and ``Progress`` as KafkaProgress ``getReadableProgress`` shows it: the last *consumed* offset per
  partition (the next one minus 1), ``OFFSET_ZERO`` while the next one is 0.
* ``STOP ROUTINE LOAD`` makes a job STOPPED (final, still listed by SHOW ALL); CREATE with a name whose job
  is not final is "Name <job> already used in db <db>" (RoutineLoadManager ``isNameUsed``). CREATE's
  ``kafka_partitions``/``kafka_offsets`` set where each partition starts (a partition the topic lacks is
  "there is a custom kafka partition <n> which is invalid for topic <t>", ``checkCustomPartition``).
* ``CREATE TABLE`` with dynamic partitions that would create more than ``max_dynamic_partition_num``
  (fe.conf, 500) partitions is refused with "Too many dynamic partitions: <n>. Limit: <limit>"
  (DynamicPartitionUtil ``analyzeDynamicPartition``; re-implemented here on its own, not imported from the
  project, so a mistake in the project's lint is not shared by the fake).

Kafka is modelled as one partition per topic with a log-end offset (``produce`` appends messages); a
RUNNING job consumes up to the end whenever its state is read, and every range of offsets a job loads is
kept per table (``loaded_ranges``), so a test sees messages skipped or loaded twice across jobs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlglot


class FakeDorisError(Exception):
    """Raised like MySQLdb errors: args = (code, message)."""


FakeDorisError.__module__ = "MySQLdb._exceptions"  # classified like a driver error by the migrator

_PAIR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)"')
_SHOW_ROUTINE_LOAD_RE = re.compile(
    r"^SHOW (?P<all>ALL )?ROUTINE LOAD(?: FOR (?P<job>[\w.`]+)| LIKE '[^']*')?$", re.IGNORECASE
)
_INT_MIN = -(2**31)
#: apache/doris AlterRoutineLoadStmt.CONFIGURABLE_JOB_PROPERTIES_SET (2.1).
ALTERABLE_JOB_PROPERTIES = frozenset({
    "desired_concurrent_number", "max_error_number", "max_filter_ratio", "max_batch_interval", "max_batch_rows",
    "max_batch_size", "jsonpaths", "json_root", "strip_outer_array", "num_as_string", "fuzzy_parse",
    "partial_columns", "strict_mode", "timezone", "workload_group", "enclose", "escape",
})
_FINAL_STATES = ("STOPPED", "CANCELLED")
_CREATED_AT = datetime(2026, 1, 1)


def _doris_error(message: str, code: int = 1105) -> FakeDorisError:
    return FakeDorisError(code, f"errCode = 2, detailMessage = {message}")


def _block(sql: str, keyword: str) -> dict[str, str]:
    """The ``"k" = "v"`` pairs inside the parentheses after ``keyword`` (PROPERTIES, FROM KAFKA)."""
    match = re.search(keyword + r"\s*\(", sql, re.IGNORECASE)
    if not match:
        return {}
    depth, start, in_string = 1, match.end(), False
    for i in range(start, len(sql)):
        char = sql[i]
        if char == '"' and sql[i - 1] != "\\":
            in_string = not in_string
        elif not in_string and char == "(":
            depth += 1
        elif not in_string and char == ")":
            depth -= 1
            if depth == 0:
                return dict(_PAIR_RE.findall(sql[start:i]))
    return {}


def doris_dynamic_partition_check(props: dict[str, str], limit: int) -> None:
    """DynamicPartitionUtil.analyzeDynamicPartition's partition count check, as Doris runs it."""
    p = "dynamic_partition."
    if p + "end" not in props:
        return
    start = int(props.get(p + "start", _INT_MIN))
    end = int(props[p + "end"])
    if props.get(p + "create_history_partition", "false").lower() != "true":
        start = 0
    else:
        history = int(props.get(p + "history_partition_num", -1))
        start = start if history == -1 else max(start, -history)
        if start == _INT_MIN:
            raise _doris_error("Provide start or history_partition_num property when create_history_partition=true."
                               " Otherwise set create_history_partition=false")
    expected = end - start
    if expected > limit and props.get(p + "enable", "true").lower() == "true":
        raise _doris_error(f"Too many dynamic partitions: {expected}. Limit: {limit}")


def _load_clause(sql: str) -> str:
    """The load properties of a CREATE/ALTER ROUTINE LOAD: the text between the job (and ON table) and
    PROPERTIES / FROM."""
    head = re.split(r"\bPROPERTIES\s*\(|\bFROM\s+KAFKA\b", sql, maxsplit=1, flags=re.IGNORECASE)[0]
    return re.sub(r"^\s*(?:CREATE|ALTER)\s+ROUTINE\s+LOAD\s+(?:FOR\s+)?\S+(?:\s+ON\s+\S+)?", "", head,
                  flags=re.IGNORECASE).strip()


def _columns_as_doris_shows_them(clause: str) -> str:
    """``columnToColumnExpr`` of JobProperties: ImportColumnDesc.toString of each COLUMNS desc joined by ","
    (``name`` or ``name=`` + Expr.toSql, which back-quotes column references). Rendered here with sqlglot's
    Doris dialect, quoting every identifier: Doris's own spacing and parentheses differ in detail."""
    match = re.search(r"\bCOLUMNS\s*\((.*)\)\s*$", clause, re.IGNORECASE | re.DOTALL)
    if not match:
        return "*"
    select = sqlglot.parse_one(f"SELECT {match.group(1)}", read="doris")
    descs = []
    for item in select.expressions:
        if isinstance(item, sqlglot.exp.EQ):
            descs.append(f"{item.this.name}={item.expression.sql(dialect='doris', identify=True)}")
        else:
            descs.append(item.name)
    return ",".join(descs)


def sql_literal(value: Any) -> str:
    """A parameter as MySQLdb renders it into the statement text (what the server receives)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime, date)):
        return f"'{value.isoformat(sep=' ') if isinstance(value, datetime) else value.isoformat()}'"
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def interpolate(sql: str, params: Any) -> str:
    if params is None:
        return sql
    if isinstance(params, dict):
        return sql % {k: sql_literal(v) for k, v in params.items()}
    return sql % tuple(sql_literal(v) for v in params)


@dataclass
class FakeDorisServer:
    databases: set[str] = field(default_factory=set)
    tables: set[str] = field(default_factory=set)
    history: list[dict[str, Any]] = field(default_factory=list)
    routine_loads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per table: the states successive SHOW ALTER TABLE polls return for its latest job.
    alter_states: dict[str, list[str]] = field(default_factory=dict)
    # Whitespace-normalised statements (easy to assert on) and the exact text sent, parameters rendered.
    statements: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    # RESUME puts a job into this state first (NEED_SCHEDULE on a healthy cluster).
    resume_state: str = "NEED_SCHEDULE"
    next_state_after_schedule: str = "RUNNING"
    max_dynamic_partition_num: int = 500
    # Kafka: log-end offset of partition 0 of each topic.
    kafka_end_offsets: dict[str, int] = field(default_factory=dict)
    # Jobs replaced by a CREATE with the same name (STOPPED/CANCELLED): still listed by SHOW ALL.
    finished_routine_loads: list[dict[str, Any]] = field(default_factory=list)
    # Per table: (job, topic, first offset, end offset) of every batch a routine load committed.
    loaded_ranges: dict[str, list[tuple[str, str, int, int]]] = field(default_factory=dict)
    jobs_created: int = 0

    def connect(self) -> FakeConnection:
        return FakeConnection(self)

    def produce(self, topic: str, messages: int) -> None:
        self.kafka_end_offsets[topic] = self.kafka_end_offsets.get(topic, 0) + messages

    def consume(self) -> None:
        """RUNNING jobs read their topic up to the end; an empty progress starts at the default offset."""
        for job in self.routine_loads.values():
            if job["State"] != "RUNNING":
                continue
            end = self.kafka_end_offsets.get(job["topic"], 0)
            if "0" not in job["progress"]:
                start = end if job["default_offsets"] == "OFFSET_END" else 0
                # After an ALTER dropped the progress: the messages between where the job was (0 on a new
                # topic) and where it restarts are never read.
                if job.get("reset_from") is not None:
                    job["skipped"] += max(start - job.pop("reset_from"), 0)
                job["progress"]["0"] = start
            if end > job["progress"]["0"]:
                self.loaded_ranges.setdefault(job["TableName"], []).append(
                    (job["Name"], job["topic"], job["progress"]["0"], end))
            job["loaded"] += end - job["progress"]["0"]
            job["progress"]["0"] = end


class FakeConnection:
    def __init__(self, server: FakeDorisServer) -> None:
        self.server = server
        self.database: str | None = None

    def autocommit(self, _on: bool) -> None:
        pass

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def close(self) -> None:
        pass


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.server = connection.server
        self.description: list[tuple[str]] | None = None
        self._rows: list[tuple] = []
        self.rowcount = 0

    def close(self) -> None:
        pass

    def _result(self, columns: list[str], rows: list[tuple]) -> None:
        self.description = [(c,) for c in columns]
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows

    def _show_routine_load(self, norm: str) -> None:
        s = self.server
        match = _SHOW_ROUTINE_LOAD_RE.match(norm)
        if not match:
            raise _doris_error(f"Syntax error in line 1: {norm!r}", code=1064)
        if match.group("job") is None and self.connection.database is None:
            raise _doris_error("No database selected", code=1046)
        s.consume()
        for job in s.routine_loads.values():
            if job["State"] == "NEED_SCHEDULE" and job.pop("polled", False):
                job["State"] = s.next_state_after_schedule
            elif job["State"] == "NEED_SCHEDULE":
                job["polled"] = True
        s.consume()  # a job that just started takes its starting offsets now
        wanted = match.group("job")
        jobs = [
            j for j in [*s.finished_routine_loads, *s.routine_loads.values()]
            if (match.group("all") or j["State"] not in _FINAL_STATES)
            and (wanted is None or j["Name"] == wanted.replace("`", "").split(".")[-1])
            and (wanted is not None or j["DbName"] == self.connection.database)
        ]
        columns = ["Name", "CreateTime", "DbName", "TableName", "State", "DataSourceType", "JobProperties",
                   "DataSourceProperties", "Statistic", "Progress", "ReasonOfStateChanged"]
        self._result(columns, [
            (j["Name"], j["CreateTime"], j["DbName"], j["TableName"], j["State"], "KAFKA",
             json.dumps({**j["job_properties"], **j["load_properties"]}),
             json.dumps({"brokerList": j["brokers"], "topic": j["topic"], "currentKafkaPartitions": "0"}),
             json.dumps({"totalRows": j["loaded"], "errorRows": 0}),
             # KafkaProgress keeps the next offset to read and shows the last consumed one (next - 1).
             json.dumps({p: "OFFSET_ZERO" if n == 0 else str(n - 1) for p, n in j["progress"].items()}),
             j.get("Reason", ""))
            for j in jobs
        ])

    def execute(self, sql: str, params: Any = None) -> None:
        s = self.server
        self.description, self._rows = None, []
        s.sent.append(interpolate(sql, params))
        norm = " ".join(sql.split())
        s.statements.append(norm)
        if m := re.match(r"USE `?(\w+)`?$", norm):
            self.connection.database = m.group(1)
        elif norm.startswith("SELECT SCHEMA_NAME"):
            self._result(["SCHEMA_NAME"], [(params[0],)] if params[0] in s.databases else [])
        elif norm.startswith("SELECT TABLE_NAME"):
            self._result(["TABLE_NAME"], [(params[1],)] if params[1] in s.tables else [])
        elif norm.startswith("SELECT script, version, checksum, installed_on"):
            ok = [h for h in s.history if h["success"]]
            self._result(["script", "version", "checksum", "installed_on"],
                         [(h["script"], h["version"], h["checksum"], h["installed_on"]) for h in ok])
        elif norm.startswith("INSERT INTO") and "schema_history" in norm.split("(", 1)[0]:
            keys = ["script", "installed_on", "version", "description", "checksum", "execution_ms", "success",
                    "installed_by", "error_message"]
            s.history.append(dict(zip(keys, params, strict=True)))
        elif norm.startswith("CREATE DATABASE"):
            s.databases.add(re.search(r"EXISTS (\w+)", norm).group(1))
        elif norm.startswith("CREATE TABLE"):
            doris_dynamic_partition_check(_block(sql, "PROPERTIES"), s.max_dynamic_partition_num)
            s.tables.add(re.search(r"EXISTS (\w+)", norm).group(1))
        elif norm.startswith("SHOW ALTER TABLE"):
            table = re.search(r"TableName = '(\w+)'", norm).group(1)
            states = s.alter_states.get(table, [])
            state = states.pop(0) if len(states) > 1 else (states[0] if states else None)
            self._result(["JobId", "TableName", "State", "Msg"],
                         [(1, table, state, "disk full" if state == "CANCELLED" else "")] if state else [])
        elif re.match(r"SHOW (ALL )?ROUTINE LOAD\b", norm, re.IGNORECASE):
            self._show_routine_load(norm)
        elif m := re.match(r"CREATE ROUTINE LOAD (\w+)\.(\w+) ON (\w+)", norm):
            self._create_routine_load(sql, m.group(1), m.group(2), m.group(3))
        elif m := re.match(r"PAUSE ROUTINE LOAD FOR \w+\.(\w+)", norm):
            s.consume()
            s.routine_loads[m.group(1)]["State"] = "PAUSED"
        elif m := re.match(r"STOP ROUTINE LOAD FOR \w+\.(\w+)", norm):
            s.consume()
            job = s.routine_loads.get(m.group(1))
            if job is None or job["State"] in _FINAL_STATES:
                raise _doris_error(f"There is not operable routine load job with name {m.group(1)}")
            job["State"] = "STOPPED"
        elif m := re.match(r"ALTER ROUTINE LOAD FOR \w+\.(\w+)", norm):
            job = s.routine_loads[m.group(1)]
            if _load_clause(sql):
                # 2.1's ALTER ROUTINE LOAD rule has no load properties: the parser stops at COLUMNS/WHERE/...
                raise _doris_error(f"Syntax error in line 1: {_load_clause(sql)[:40]!r}", code=1064)
            invalid = sorted(set(_block(sql, "PROPERTIES")) - ALTERABLE_JOB_PROPERTIES)
            if invalid:
                raise _doris_error(f"{invalid[0]} is invalid property")
            if job["State"] != "PAUSED":
                raise _doris_error("Only supports modification of PAUSED jobs")
            job["job_properties"].update(_block(sql, "PROPERTIES"))
            source = _block(sql, r"FROM\s+KAFKA")
            if source.get("kafka_topic"):
                same_topic = source["kafka_topic"] == job["topic"]
                job["reset_from"] = job["progress"].get("0", 0) if same_topic else 0
                job["topic"], job["progress"] = source["kafka_topic"], {}
            if source.get("kafka_broker_list"):
                job["brokers"] = source["kafka_broker_list"]
            job["altered"] = norm
        elif m := re.match(r"RESUME ROUTINE LOAD FOR \w+\.(\w+)", norm):
            s.routine_loads[m.group(1)]["State"] = s.resume_state
        # ALTER TABLE, CREATE MATERIALIZED VIEW, other INSERTs and SELECTs: accepted, no rows.

    def _create_routine_load(self, sql: str, database: str, name: str, table: str) -> None:
        s = self.server
        old = s.routine_loads.get(name)
        if old is not None and old["State"] not in _FINAL_STATES:
            raise _doris_error(f"Name {name} already used in db {database}")
        source = _block(sql, r"FROM\s+KAFKA")
        topic = source["kafka_topic"]
        progress: dict[str, int] = {}
        if "kafka_partitions" in source:
            partitions = [p.strip() for p in source["kafka_partitions"].split(",")]
            offsets = [o.strip() for o in source.get("kafka_offsets", "").split(",")] if "kafka_offsets" in source \
                else [source.get("property.kafka_default_offsets", "OFFSET_END")] * len(partitions)
            for partition, offset in zip(partitions, offsets, strict=True):
                if partition != "0":  # the fake's topics have one partition
                    raise _doris_error(f"there is a custom kafka partition {partition} which is invalid for topic "
                                       f"{topic}")
                if offset == "OFFSET_BEGINNING":
                    progress[partition] = 0
                elif offset != "OFFSET_END":  # OFFSET_END: taken at the first schedule, like an empty progress
                    progress[partition] = int(offset)
        if old is not None:
            s.finished_routine_loads.append(old)
        s.jobs_created += 1
        s.routine_loads[name] = {
            "Name": name, "DbName": database, "TableName": table, "State": "NEED_SCHEDULE",
            "CreateTime": str(_CREATED_AT + timedelta(seconds=s.jobs_created)),
            "topic": topic, "brokers": source["kafka_broker_list"],
            "default_offsets": source.get("property.kafka_default_offsets", "OFFSET_END"),
            "progress": progress, "loaded": 0, "skipped": 0, "sql": sql,
            "job_properties": _block(sql, "PROPERTIES"),
            "load_properties": {
                "columnToColumnExpr": _columns_as_doris_shows_them(_load_clause(sql)),
                "whereExpr": "*", "precedingFilter": "*", "partitions": "*",
            },
        }


class FakeDorisHook:
    platform_database = "commodity_realtime"

    def __init__(self, server: FakeDorisServer) -> None:
        self.server = server

    def get_conn(self) -> FakeConnection:
        return self.server.connect()

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple]:
        cur = self.get_conn().cursor()
        cur.execute(sql, parameters)
        return cur.fetchall()

    def is_doris(self) -> bool:
        return True

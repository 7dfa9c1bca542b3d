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
* ``CREATE TABLE`` with dynamic partitions that would create more than ``max_dynamic_partition_num``
  (fe.conf, 500) partitions is refused with "Too many dynamic partitions: <n>. Limit: <limit>"
  (DynamicPartitionUtil ``analyzeDynamicPartition``; re-implemented here on its own, not imported from the
  project, so a mistake in the project's lint is not shared by the fake).

Kafka is modelled as one partition per topic with a log-end offset (``produce`` appends messages); a
RUNNING job consumes up to the end whenever its state is read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class FakeDorisError(Exception):
    """Raised like MySQLdb errors: args = (code, message)."""


FakeDorisError.__module__ = "MySQLdb._exceptions"  # classified like a driver error by the migrator

_PAIR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)"')
_SHOW_ROUTINE_LOAD_RE = re.compile(
    r"^SHOW (?P<all>ALL )?ROUTINE LOAD(?: FOR (?P<job>[\w.`]+)| LIKE '[^']*')?$", re.IGNORECASE
)
_INT_MIN = -(2**31)


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
            j for j in s.routine_loads.values()
            if (match.group("all") or j["State"] not in ("STOPPED", "CANCELLED"))
            and (wanted is None or j["Name"] == wanted.replace("`", "").split(".")[-1])
            and (wanted is not None or j["DbName"] == self.connection.database)
        ]
        columns = ["Name", "CreateTime", "DbName", "TableName", "State", "DataSourceType", "DataSourceProperties",
                   "Statistic", "Progress", "ReasonOfStateChanged"]
        self._result(columns, [
            (j["Name"], j["CreateTime"], j["DbName"], j["TableName"], j["State"], "KAFKA",
             json.dumps({"brokerList": j["brokers"], "topic": j["topic"], "currentKafkaPartitions": "0"}),
             json.dumps({"totalRows": j["loaded"], "errorRows": 0}), json.dumps(j["progress"]), j.get("Reason", ""))
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
            source = _block(sql, r"FROM\s+KAFKA")
            s.routine_loads[m.group(2)] = {
                "Name": m.group(2), "DbName": m.group(1), "TableName": m.group(3), "State": "NEED_SCHEDULE",
                "CreateTime": f"2026-01-01 00:00:{len(s.statements):02d}",
                "topic": source["kafka_topic"], "brokers": source["kafka_broker_list"],
                "default_offsets": source.get("property.kafka_default_offsets", "OFFSET_END"),
                "progress": {}, "loaded": 0, "skipped": 0,
            }
        elif m := re.match(r"PAUSE ROUTINE LOAD FOR \w+\.(\w+)", norm):
            s.consume()
            s.routine_loads[m.group(1)]["State"] = "PAUSED"
        elif m := re.match(r"ALTER ROUTINE LOAD FOR \w+\.(\w+)", norm):
            job = s.routine_loads[m.group(1)]
            if job["State"] != "PAUSED":
                raise _doris_error("Only supports modification of PAUSED jobs")
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

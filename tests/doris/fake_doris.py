"""A DB-API stand-in that answers like Doris's FE for the statements the migrator sends.

Doris cannot run on these machines; this fake follows the documented shapes of what the migrator reads
(SHOW ALL ROUTINE LOAD columns Name/State/ReasonOfStateChanged/CreateTime, SHOW ALTER TABLE ... State
and Msg) and enforces the rule that bites: ALTER ROUTINE LOAD only on a PAUSED job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class FakeDorisError(Exception):
    """Raised like MySQLdb errors: args = (code, message)."""


FakeDorisError.__module__ = "MySQLdb._exceptions"  # classified like a driver error by the migrator


@dataclass
class FakeDorisServer:
    databases: set[str] = field(default_factory=set)
    tables: set[str] = field(default_factory=set)
    history: list[dict[str, Any]] = field(default_factory=list)
    routine_loads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per table: the states successive SHOW ALTER TABLE polls return for its latest job.
    alter_states: dict[str, list[str]] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)
    # RESUME puts a job into this state first (NEED_SCHEDULE on a healthy cluster).
    resume_state: str = "NEED_SCHEDULE"
    next_state_after_schedule: str = "RUNNING"

    def connect(self) -> FakeConnection:
        return FakeConnection(self)


class FakeConnection:
    def __init__(self, server: FakeDorisServer) -> None:
        self.server = server

    def autocommit(self, _on: bool) -> None:
        pass

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.server)

    def close(self) -> None:
        pass


class FakeCursor:
    def __init__(self, server: FakeDorisServer) -> None:
        self.server = server
        self.description: list[tuple[str]] | None = None
        self._rows: list[tuple] = []

    def close(self) -> None:
        pass

    def _result(self, columns: list[str], rows: list[tuple]) -> None:
        self.description = [(c,) for c in columns]
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows

    def execute(self, sql: str, params: Any = None) -> None:
        s = self.server
        self.description, self._rows = None, []
        norm = " ".join(sql.split())
        s.statements.append(norm)
        if norm.startswith("SELECT SCHEMA_NAME"):
            self._result(["SCHEMA_NAME"], [(params[0],)] if params[0] in s.databases else [])
        elif norm.startswith("SELECT TABLE_NAME"):
            self._result(["TABLE_NAME"], [(params[1],)] if params[1] in s.tables else [])
        elif norm.startswith("SELECT script, version, checksum, installed_on"):
            ok = [h for h in s.history if h["success"]]
            self._result(["script", "version", "checksum", "installed_on"],
                         [(h["script"], h["version"], h["checksum"], h["installed_on"]) for h in ok])
        elif norm.startswith("INSERT INTO"):
            keys = ["script", "installed_on", "version", "description", "checksum", "execution_ms", "success",
                    "installed_by", "error_message"]
            s.history.append(dict(zip(keys, params, strict=True)))
        elif norm.startswith("CREATE DATABASE"):
            s.databases.add(re.search(r"EXISTS (\w+)", norm).group(1))
        elif norm.startswith("CREATE TABLE"):
            s.tables.add(re.search(r"EXISTS (\w+)", norm).group(1))
        elif norm.startswith("SHOW ALTER TABLE"):
            table = re.search(r"TableName = '(\w+)'", norm).group(1)
            states = s.alter_states.get(table, [])
            state = states.pop(0) if len(states) > 1 else (states[0] if states else None)
            self._result(["JobId", "TableName", "State", "Msg"],
                         [(1, table, state, "disk full" if state == "CANCELLED" else "")] if state else [])
        elif norm.startswith("SHOW ALL ROUTINE LOAD"):
            for job in s.routine_loads.values():
                if job["State"] == "NEED_SCHEDULE" and job.pop("polled", False):
                    job["State"] = s.next_state_after_schedule
                elif job["State"] == "NEED_SCHEDULE":
                    job["polled"] = True
            self._result(["Name", "State", "ReasonOfStateChanged", "CreateTime"],
                         [(j["Name"], j["State"], j.get("Reason", ""), j["CreateTime"])
                          for j in s.routine_loads.values()])
        elif m := re.match(r"CREATE ROUTINE LOAD \w+\.(\w+)", norm):
            s.routine_loads[m.group(1)] = {"Name": m.group(1), "State": "NEED_SCHEDULE",
                                           "CreateTime": f"2026-01-01 00:00:{len(s.statements):02d}"}
        elif m := re.match(r"PAUSE ROUTINE LOAD FOR \w+\.(\w+)", norm):
            s.routine_loads[m.group(1)]["State"] = "PAUSED"
        elif m := re.match(r"ALTER ROUTINE LOAD FOR \w+\.(\w+)", norm):
            if s.routine_loads[m.group(1)]["State"] != "PAUSED":
                raise FakeDorisError(1105, "errCode = 2, detailMessage = Only supports modification of PAUSED jobs")
            s.routine_loads[m.group(1)]["altered"] = norm
        elif m := re.match(r"RESUME ROUTINE LOAD FOR \w+\.(\w+)", norm):
            s.routine_loads[m.group(1)]["State"] = s.resume_state
        # USE, ALTER TABLE, CREATE MATERIALIZED VIEW, SELECT @@version_comment: accepted as no-ops.


class FakeDorisHook:
    def __init__(self, server: FakeDorisServer) -> None:
        self.server = server

    def get_conn(self) -> FakeConnection:
        return self.server.connect()

    def is_doris(self) -> bool:
        return True

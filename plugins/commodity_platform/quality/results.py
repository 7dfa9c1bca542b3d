"""Check results and their table, ``dq_results`` (migration V005).

Each check task writes its row *before* it fails, because a failed Airflow task pushes no XCom: the
publish task (trigger rule ``all_done``) reads the run's rows back by run id and pushes them all. The row
also keeps the history when the Pushgateway is down. Writes are idempotent: the table's key is
(run_id, check_name, as_of), an upsert on both Doris (UNIQUE KEY merge-on-write) and MariaDB (REPLACE).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from commodity_platform.errors import PermanentError

log = logging.getLogger(__name__)

TABLE = "dq_results"
PASS, FAIL, ERROR = "pass", "fail", "error"
_COLUMNS = ("run_id", "check_name", "as_of", "window_start", "window_end", "success", "status", "summary",
            "metrics", "details", "report_path", "checked_at")


@dataclass(frozen=True)
class MetricSample:
    """One Prometheus sample: metric name, labels, value."""

    name: str
    labels: dict[str, str]
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels, "value": self.value}


@dataclass
class CheckResult:
    """The outcome of one check: ``pass``, ``fail`` (data broke a threshold) or ``error`` (could not check)."""

    check: str
    status: str
    summary: str
    samples: list[MetricSample] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    as_of: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None

    @property
    def success(self) -> bool:
        return self.status == PASS

    def as_dict(self) -> dict[str, Any]:
        """The XCom form: status, summary, the metric samples and the example problem bars (already capped at
        the ``examples`` Param by the check's SQL). The full details stay in dq_results."""
        examples = (self.details.get("comparison") or {}).get("examples") or []
        return {"check": self.check, "status": self.status, "success": self.success, "summary": self.summary,
                "samples": [s.as_dict() for s in self.samples], "examples": to_jsonable(examples)}


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def save_result(hook: Any, *, run_id: str, result: CheckResult, report_path: str | None, is_doris: bool) -> None:
    """Upsert one row of ``dq_results`` (see the module docstring for why before raising)."""
    row = (
        run_id, result.check, result.as_of, result.window_start, result.window_end, result.success,
        result.status, result.summary[:1024],
        json.dumps([s.as_dict() for s in result.samples]),
        json.dumps(to_jsonable(result.details)),
        report_path,
        datetime.now(timezone.utc).replace(tzinfo=None),
    )
    # Doris has no REPLACE INTO; its UNIQUE KEY merge-on-write table makes a plain INSERT an upsert.
    verb = "INSERT INTO" if is_doris else "REPLACE INTO"
    sql = f"{verb} {TABLE} ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    try:
        # A cursor rather than hook.run(): run() logs every parameter, and details can be kilobytes.
        conn = hook.get_conn()
        try:
            cur = conn.cursor()
            cur.execute(sql, row)
            cur.close()
            conn.commit()
        finally:
            conn.close()
    except Exception as err:
        if "doesn't exist" in str(err) or "1146" in str(err) or "Unknown table" in str(err):
            raise PermanentError(
                f"{TABLE} does not exist: apply include/sql/migrations/V005__create_dq_results.sql "
                "(run the doris_schema_migrate DAG)"
            ) from err
        raise
    log.info("saved %s result (%s) of run %s to %s", result.check, result.status, run_id, TABLE)


def load_results(hook: Any, *, run_id: str) -> list[CheckResult]:
    """Every check result recorded for ``run_id`` (newest row per check)."""
    rows = hook.get_records(
        f"SELECT check_name, status, summary, metrics, details, as_of, window_start, window_end, checked_at "
        f"FROM {TABLE} WHERE run_id = %s ORDER BY checked_at",
        parameters=(run_id,),
    )
    latest: dict[str, CheckResult] = {}
    for check, status, summary, metrics, details, as_of, start, end, _checked in rows:
        samples = [MetricSample(m["name"], dict(m["labels"]), float(m["value"]))
                   for m in json.loads(metrics or "[]")]
        latest[check] = CheckResult(check, status, summary or "", samples, json.loads(details or "{}"),
                                    as_of, start, end)
    return list(latest.values())

"""Great Expectations (GX Core 1.x) on the warehouse: expectations are SQL the database executes.

One ephemeral context per check task, one SQL data source built from the ``doris_default`` connection
(its SQLAlchemy URL holds the password: it is handed to GX and never logged), one table asset per table a
check reads, validated as a whole-table batch. Each expectation is an ``UnexpectedRowsExpectation``
variant whose query runs inside the database; only its (few) result rows come back.

Why a subclass: the stock ``UnexpectedRowsExpectation`` computes two metrics, ``COUNT(*)`` over the query
and the query's rows, i.e. it runs an expensive query twice and transfers every unexpected row to fetch
200 of them. :class:`CountedUnexpectedRows` depends on the rows metric only: the check queries bound their
output themselves (``LIMIT``) and carry the total in a ``dq_violations`` column computed with a window
function, so the database does the work once and the expectation still fails exactly when that total is
above zero.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from commodity_platform.errors import classify_mysql_error
from commodity_platform.quality import sql as qsql

log = logging.getLogger(__name__)

VIOLATIONS_COLUMN = "dq_violations"
_JOIN_RE = re.compile(r"\bJOIN\b", re.IGNORECASE)


def batch_aliased(query: str) -> str:
    """Make ``{batch}`` a valid derived table whatever GX decides.

    GX substitutes the batch as a parenthesised subquery and appends ``AS subselect`` itself - except
    when the query contains a JOIN, where it leaves aliasing to the author. Queries here never qualify
    columns with the batch's name, so they just need *an* alias in that case.
    """
    return query.replace("{batch}", "{batch} AS dq_batch") if _JOIN_RE.search(query) else query


@dataclass
class ExpectationOutcome:
    """What one expectation found: pass/fail, the violation count, the rows the query returned."""

    name: str
    table: str
    success: bool
    violations: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "table": self.table, "success": self.success, "violations": self.violations,
                "rows": self.rows, "elapsed_s": round(self.elapsed_s, 4)}


@lru_cache(maxsize=1)
def counted_expectation_class() -> type:
    """Define the expectation class on first use (importing GX at module level would slow DAG parsing)."""
    _quiet_gx()
    from great_expectations.expectations import UnexpectedRowsExpectation

    class CountedUnexpectedRows(UnexpectedRowsExpectation):
        """Fails when the query's ``dq_violations`` column (the same on every row) is above zero.

        The query returns at most a handful of explanatory rows; an empty result means no violation.
        """

        metric_dependencies = ("unexpected_rows_query.table",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                      execution_engine: Any = None) -> dict[str, Any]:
            rows = metrics["unexpected_rows_query.table"]
            violations = int(rows[0].get(VIOLATIONS_COLUMN) or 0) if rows else 0
            return {
                "success": violations == 0,
                "result": {"observed_value": violations, "details": {"unexpected_rows": rows}},
            }

    return CountedUnexpectedRows


def _quiet_gx() -> None:
    # GX logs every default-value lookup at INFO and draws progress bars; neither helps a task log.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


class GxWarehouse:
    """An ephemeral GX context with the warehouse as a SQL data source; use as a context manager.

    :param connection_string: SQLAlchemy URL of the warehouse (``DorisHook(...).get_uri()``); secret.
    """

    def __init__(self, connection_string: str, *, datasource_name: str = "warehouse") -> None:
        self._connection_string = connection_string
        self._datasource_name = datasource_name
        self._context: Any = None
        self._datasource: Any = None
        self._batches: dict[str, Any] = {}
        self._lanes: list[GxWarehouse] = []

    def __enter__(self) -> GxWarehouse:
        _quiet_gx()
        import great_expectations as gx

        self._context = gx.get_context(mode="ephemeral")
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        except (ImportError, AttributeError, TypeError):  # cosmetic only; older/newer GX may differ
            log.debug("could not disable GX progress bars")
        self._add_datasource()
        return self

    def _add_datasource(self) -> None:
        try:
            self._datasource = self._context.data_sources.add_sql(
                name=self._datasource_name, connection_string=self._connection_string
            )
        except Exception as err:  # GX wraps driver errors; classify by the driver's code, never echo the URL
            raise classify_mysql_error(str(err).replace(self._connection_string, "<url>"),
                                       where="GX data source") from err

    def lanes(self, count: int) -> list[GxWarehouse]:
        """``count`` handles to validate expectations from ``count`` threads at once: this one first, then
        ones on the same GX context, each with a data source of its own (its own SQLAlchemy engine, so its
        own connection and its own GX execution engine: no two threads share GX state, which GX does not
        document as thread-safe). Made once and reused; closed with this one. Call from one thread."""
        if self._context is None:
            raise RuntimeError("GxWarehouse.lanes() outside its with-block")
        while len(self._lanes) < count - 1:
            lane = GxWarehouse(self._connection_string,
                               datasource_name=f"{self._datasource_name}_lane_{len(self._lanes) + 2}")
            lane._context = self._context
            lane._add_datasource()
            self._lanes.append(lane)
        return [self, *self._lanes[: max(0, count - 1)]]

    def __exit__(self, *exc: object) -> None:
        for lane in self._lanes:
            lane.__exit__(*exc)
        self._lanes.clear()
        engine = getattr(self._datasource, "get_engine", None)
        if callable(engine):
            try:
                engine().dispose()
            except Exception:
                log.debug("engine dispose failed", exc_info=True)
        self._batches.clear()

    def _batch(self, table: str) -> Any:
        if table not in self._batches:
            try:
                asset = self._datasource.add_table_asset(name=table, table_name=table)
                self._batches[table] = asset.add_batch_definition_whole_table("whole_table").get_batch()
            except Exception as err:
                raise classify_mysql_error(str(err).replace(self._connection_string, "<url>"),
                                where=f"GX table asset {table}") from err
        return self._batches[table]

    def expect(self, *, name: str, table: str, query: str, description: str) -> ExpectationOutcome:
        """Validate ``query`` (SQL with ``{batch}`` = ``table``, returning ``dq_violations``) on ``table``.

        A data violation is a failed outcome; an error executing the query raises (TemporaryError when
        the warehouse is unreachable, PermanentError otherwise): a check that cannot run is not a pass.
        """
        expectation = counted_expectation_class()(
            unexpected_rows_query=qsql.for_sqlalchemy_text(batch_aliased(query)), description=description
        )
        batch = self._batch(table)
        started = time.monotonic()
        result = batch.validate(expectation, result_format="COMPLETE")
        elapsed = time.monotonic() - started
        info = result.exception_info or {}
        infos = [info] if "raised_exception" in info else list(info.values())
        raised = [i for i in infos if isinstance(i, dict) and i.get("raised_exception")]
        if raised:
            raise classify_mysql_error(str(raised[0].get("exception_message") or "unknown error"),
                                       where=f"expectation {name}")
        rows = [dict(r) for r in (result.result.get("details") or {}).get("unexpected_rows") or []]
        violations = int(result.result.get("observed_value") or 0)
        log.info("expectation %s on %s: %s (%d violations, %d rows) in %.3f s",
                 name, table, "pass" if result.success else "FAIL", violations, len(rows), elapsed)
        return ExpectationOutcome(name, table, bool(result.success), violations, rows, elapsed)

"""Every statement the project can send to Doris parses with Doris's own grammar (master and branch-2.1).

The statements are not listed here: they are produced by the project's code and captured where they leave
it, so a new statement is checked without touching this file:

* the migrator and the Routine Load reconciler run against the fake FE (tests/doris/fake_doris.py) through
  every path (new server, CREATE ROUTINE LOAD, PAUSE/ALTER/RESUME with and without a topic change, RESUME
  of a paused job, PAUSE/STOP/CREATE-from-progress for a changed column mapping, SHOW ALTER TABLE polls);
  what the fake receives, parameters rendered as MySQLdb renders them, is what Doris would receive:
  bootstrap, migrations with placeholders filled, schema_history rows, information_schema reads, USE,
  SHOW [ALL] ROUTINE LOAD;
* the data-quality checks run through Great Expectations on the sandbox warehouse with GX's last step
  (executing the final SQL) replaced by a recorder: the queries come out exactly as GX wrapped them
  (``(SELECT * FROM <table>) AS subselect``, or the caller's alias for JOIN queries), in Doris mode;
  the error_rate check's SHOW ROUTINE LOAD goes to the fake FE;
* what DorisHook sends to tell Doris from the sandbox (``SELECT @@version_comment``);
* ohlc_backfill on the fake FE (``OhlcBackfill(doris=True)``: its chunk writes from write_doris.sql, with
  and without a commodity filter, the known-code probe and the verify_bars comparison), and the dq_results
  row the data-quality DAG writes and reads back;
* the use-case queries as the ConfigMap users run them (pyformat parameters) and as the dashboards send them
  (the deploy's ``grafana_sql``; Grafana's MySQL data source expands ``$__timeFrom()``/``$__timeTo()`` to
  ``FROM_UNIXTIME(<epoch>)``, grafana.com/docs/grafana/latest/datasources/mysql/ "Macros").

The deploy runs Doris 2.1.x, whose FE tries the Nereids grammar first and hands what it rejects to its
legacy CUP parser (SOURCE.txt): ROUTINE LOAD statements, for instance, are not in the 2.1 Nereids grammar.
So every statement must parse with the master grammar (which covers every statement kind), and with the
branch-2.1 grammar unless its statement kind is absent from that grammar altogether (then 2.1 parses it
with the legacy parser, which this test cannot build).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from commodity_platform.doris.migration_files import MIGRATIONS_DIR, SchemaSettings
from commodity_platform.doris.migrations import SchemaMigrator
from commodity_platform.doris.routine_load import RoutineLoadReconciler
from commodity_platform.paths import SQL_DIR
from tests.contracts import doris_grammar
from tests.doris.fake_doris import FakeDorisHook, FakeDorisServer, interpolate

GRAFANA_FROM, GRAFANA_TO = "FROM_UNIXTIME(1772359200)", "FROM_UNIXTIME(1772362800)"


@dataclass(frozen=True)
class Statement:
    origin: str
    sql: str


def _migrator(server: FakeDorisServer, migrations_dir: Path = MIGRATIONS_DIR, **settings: Any) -> SchemaMigrator:
    return SchemaMigrator(FakeDorisHook(server), settings=SchemaSettings(**settings), migrations_dir=migrations_dir,
                          poll_interval_s=0, sleep=lambda _s: None)


def _reconcile(migrator: SchemaMigrator) -> None:
    plan = migrator.plan()
    RoutineLoadReconciler(migrator).reconcile(plan.routine_loads, plan.applied)


def migrator_statements(tmp_path: Path) -> list[Statement]:
    server = FakeDorisServer(alter_states={"energy_prices_rt": ["FINISHED", "RUNNING", "FINISHED"]})
    first = _migrator(server)
    first.migrate(first.plan())
    _reconcile(first)                                                   # CREATE ROUTINE LOAD
    _reconcile(_migrator(server, kafka_broker_list="kafka-0:9092"))     # PAUSE / ALTER / RESUME
    changed = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, changed)
    r_file = changed / "R__routine_load_market_alerts.sql"
    r_file.write_text(r_file.read_text().replace('"market-alerts"', '"market-alerts-v2"'))
    _reconcile(_migrator(server, changed, kafka_broker_list="kafka-0:9092"))  # ALTER with a new topic
    server.routine_loads["rl_weather_events_rt"]["State"] = "PAUSED"
    _reconcile(_migrator(server, changed, kafka_broker_list="kafka-0:9092"))  # RESUME of a paused job
    server.produce("weather-events", 5)
    weather = changed / "R__routine_load_weather_events_rt.sql"
    weather.write_text(weather.read_text().replace("source = 'NOAA',", "source = 'NOAA_CDO',"))
    # A new column mapping: PAUSE / STOP / CREATE with kafka_partitions and kafka_offsets (Doris 2.1 cannot
    # ALTER COLUMNS).
    _reconcile(_migrator(server, changed, kafka_broker_list="kafka-0:9092"))
    assert any(sql.startswith("CREATE ROUTINE LOAD") and '"kafka_offsets" = "5"' in sql for sql in server.sent)
    return [Statement("migrations/routine loads", sql) for sql in server.sent]


def quality_statements(monkeypatch: pytest.MonkeyPatch) -> list[Statement]:
    from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider

    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.quality.gx import GxWarehouse
    from commodity_platform.quality.settings import settings_from_params
    from commodity_platform.quality.tasks import CHECKS, evaluate

    gx_sql: list[str] = []

    def record(cls: Any, substituted_batch_subquery: str, execution_engine: Any, fetch_all: bool = False) -> list:
        gx_sql.append(substituted_batch_subquery)
        return []

    # GX's own wrapping runs; only the execution of the final statement is replaced (it holds Doris functions).
    monkeypatch.setattr(QueryMetricProvider, "_get_sqlalchemy_records_from_substituted_batch_subquery",
                        classmethod(record))
    sandbox_hook = DorisHook(doris_conn_id="doris_default")
    server = FakeDorisServer()

    class DorisLikeHook:
        """The sandbox warehouse for GX (tables exist), Doris's answers for the rest."""

        platform_database = "commodity_realtime"

        def get_uri(self) -> str:
            return sandbox_hook.get_uri()

        def is_doris(self) -> bool:
            return True

        def get_conn(self) -> Any:
            return server.connect()

    settings = settings_from_params({}, run_id="grammar", default_as_of=datetime(2026, 3, 1, 12, 0, 30))
    hook = DorisLikeHook()
    with GxWarehouse(hook.get_uri()) as gx:  # one GX context for all checks, as run_checks opens it
        for check in CHECKS:
            evaluate(check, settings, gx, hook=hook, connect_factory=None)
    # SQLAlchemy text() turns the escaped colons back into plain ones in the statement it sends.
    return ([Statement("data quality (GX)", sql.replace("\\:", ":")) for sql in gx_sql]
            + [Statement("data quality (SHOW)", sql) for sql in server.sent])


def hook_statements() -> list[Statement]:
    """What DorisHook itself sends (telling Doris from the sandbox)."""
    from commodity_platform.doris.hook import DorisHook

    sent: list[str] = []

    class Recorder:
        def get_first(self, sql: str) -> tuple[str]:
            sent.append(sql)
            return ("Doris version doris-2.1.10",)

    assert DorisHook.is_doris(Recorder())  # type: ignore[arg-type]
    return [Statement("DorisHook", sql) for sql in sent]


def ohlc_and_results_statements() -> list[Statement]:
    """ohlc_backfill's chunk writes and its reads, and the dq_results write/read, on the fake FE."""
    from datetime import timezone

    from commodity_platform.errors import ConfigError
    from commodity_platform.ohlc.backfill import OhlcBackfill
    from commodity_platform.ohlc.window import Window, check_known_codes
    from commodity_platform.quality.ohlc import compare_bars
    from commodity_platform.quality.results import CheckResult, MetricSample, load_results, save_result

    server = FakeDorisServer()
    start, end = datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
    for codes in ((), ("WTI", "BRENT")):
        OhlcBackfill(server.connect, doris=True).run(Window(start=start, end=end, commodity_codes=codes))
        compare_bars(server.connect(), start, end, list(codes) or None)
    with pytest.raises(ConfigError):  # the fake FE holds no ticks: the probe runs, the code is unknown
        check_known_codes(server.connect(), ["WTI"])
    result = CheckResult("freshness", "pass", "ok", [MetricSample("streaming_dq_freshness_lag_seconds", {}, 1.0)],
                         {"expectations": []}, datetime(2026, 3, 1, 12), None, None)
    hook = FakeDorisHook(server)
    save_result(hook, run_id="manual__2026-03-01T12:00:00+00:00", result=result, report_path=None, is_doris=True)
    load_results(hook, run_id="manual__2026-03-01T12:00:00+00:00")
    return [Statement("ohlc_backfill/dq_results", sql) for sql in server.sent]


def use_case_statements() -> list[Statement]:
    from commodity_platform.k8s.manifests import grafana_sql

    statements = []
    for path in sorted((SQL_DIR / "use_cases").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        statements.append(Statement(f"use case {path.name}",
                                    interpolate(text, {"start": "2026-03-01 10:00:00", "end": "2026-03-01 11:00:00"})))
        dashboard = grafana_sql(text, source=path.name)
        statements.append(Statement(f"dashboard {path.name}", dashboard.replace("$__timeFrom()", GRAFANA_FROM)
                                    .replace("$__timeTo()", GRAFANA_TO)))
    return statements


def statement_kind(sql: str) -> str:
    """The leading keywords of a statement (comments stripped), e.g. 'CREATE ROUTINE LOAD'."""
    body = re.sub(r"--[^\n]*", " ", sql)
    words = re.findall(r"[A-Za-z_]+", body)[:3]
    return " ".join(w.upper() for w in words)


def covered_by_grammar(kind: str, version: str) -> bool:
    """Whether one alternative of the grammar has the kind's keywords in order (else Doris 2.1 hands such a
    statement to its legacy parser). Generous on purpose: a wrongly "covered" kind makes the test stricter."""
    root = doris_grammar.grammar_root() / version
    tokens = set(re.findall(r"^([A-Z_]+)\s*:", (root / "DorisLexer.g4").read_text(encoding="utf-8"), re.MULTILINE))
    keywords = [w for w in kind.split() if w in tokens]
    grammar = re.sub(r"//[^\n]*", " ", (root / "DorisParser.g4").read_text(encoding="utf-8"))
    for alternative in re.split(r"[|;]", grammar):
        words = iter(re.findall(r"\b[A-Z_]+\b", alternative))
        if keywords and all(k in words for k in keywords):  # in-order subsequence
            return True
    return False


def test_every_statement_the_project_sends_to_doris_parses_with_dorises_grammar(
    tmp_path: Path, warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    collected = (migrator_statements(tmp_path) + quality_statements(monkeypatch) + ohlc_and_results_statements()
                 + use_case_statements() + hook_statements())
    unique = list({s.sql: s for s in collected}.values())
    origins = {s.origin.split(" ")[0] for s in unique}
    # The enumeration must not silently shrink: each source of statements contributes.
    sources = {"migrations/routine", "data", "ohlc_backfill/dq_results", "use", "dashboard", "DorisHook"}
    assert sources <= origins, origins
    kinds = {statement_kind(s.sql) for s in unique}
    for expected in ("CREATE ROUTINE LOAD", "ALTER ROUTINE LOAD", "PAUSE ROUTINE LOAD", "RESUME ROUTINE LOAD",
                     "STOP ROUTINE LOAD",
                     "SHOW ALL ROUTINE", "SHOW ROUTINE LOAD", "SHOW ALTER TABLE", "CREATE TABLE IF",
                     "CREATE DATABASE IF", "CREATE MATERIALIZED VIEW", "INSERT INTO PRICE_", "INSERT INTO DQ_RESULTS",
                     "USE COMMODITY_REALTIME", "SELECT"):
        assert any(k.startswith(expected.upper()) for k in kinds), (expected, sorted(kinds))

    started = time.monotonic()
    master = doris_grammar.syntax_errors("master", [s.sql for s in unique])
    legacy = doris_grammar.syntax_errors("branch-2.1", [s.sql for s in unique])
    print(f"{len(unique)} statements parsed with both grammars in {time.monotonic() - started:.1f} s")

    refused = [f"[{s.origin}] {err}\n    {s.sql[:300]}" for s, err in zip(unique, master, strict=True) if err]
    assert not refused, "Doris (master grammar) refuses:\n" + "\n".join(refused)
    refused_21 = [
        f"[{s.origin}] {err}\n    {s.sql[:300]}"
        for s, err in zip(unique, legacy, strict=True)
        if err and covered_by_grammar(statement_kind(s.sql), "branch-2.1")
    ]
    assert not refused_21, "Doris 2.1 (Nereids grammar, statement kind it covers) refuses:\n" + "\n".join(refused_21)
    legacy_parser = sorted({statement_kind(s.sql) for s, err in zip(unique, legacy, strict=True) if err})
    print(f"left to Doris 2.1's legacy parser (kinds absent from its Nereids grammar): {legacy_parser}")


def test_the_checker_refuses_what_doris_refuses() -> None:
    # Negative controls: without them a checker that accepted everything would pass the test above.
    bad = [
        "SHOW ALL ROUTINE LOAD FROM `commodity_realtime`",   # StarRocks syntax, not Doris (issue 12)
        "SHOW ROUTINE LOAD FROM commodity_realtime",
        "SELECT FROM price_1min_agg",
        "CREATE TABLE t (a INT) DUPLICATE KEY(a) DISTRIBUTED BY HASH(a) BUCKETS",
    ]
    good = ["SHOW ALL ROUTINE LOAD", "SHOW ROUTINE LOAD FOR commodity_realtime.rl_market_alerts",
            "use `commodity_realtime`"]
    errors = doris_grammar.syntax_errors("master", bad + good)
    assert all(errors[: len(bad)]), list(zip(bad, errors, strict=False))
    assert errors[len(bad):] == [None] * len(good)
    # Which kinds Doris 2.1 leaves to its legacy parser, read from the 2.1 grammar itself.
    assert covered_by_grammar("CREATE TABLE IF", "branch-2.1") and covered_by_grammar("INSERT INTO X", "branch-2.1")
    assert not covered_by_grammar("CREATE ROUTINE LOAD", "branch-2.1")
    assert covered_by_grammar("CREATE ROUTINE LOAD", "master") and covered_by_grammar("SHOW ALL ROUTINE", "master")

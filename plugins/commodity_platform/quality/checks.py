"""The three data-quality checks. Each takes validated settings and returns a :class:`CheckResult`.

Data that breaks a threshold is a ``fail`` result, not an exception: the caller records it, pushes it
and then fails the task. Exceptions mean the check could not be evaluated (warehouse unreachable, bad
configuration) and are raised; the task records an ``error`` result for them.

Metric samples follow the contract documented in :mod:`commodity_platform.quality.metrics`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from commodity_platform.errors import PermanentError
from commodity_platform.quality import sql as qsql
from commodity_platform.quality.gx import ExpectationOutcome, GxWarehouse
from commodity_platform.quality.ohlc import STORED_BARS_TABLE, OhlcComparison, comparison_sql
from commodity_platform.quality.results import ERROR, FAIL, PASS, CheckResult, MetricSample
from commodity_platform.quality.settings import TABLE_SPECS, DQSettings
from commodity_platform.window import to_naive_utc

log = logging.getLogger(__name__)

TICKS_TABLE = "energy_prices_rt"


def _f(value: Any) -> float:
    return float(value) if isinstance(value, (int, float, Decimal)) else float(value or 0)


def _latency_expr(*, is_doris: bool, time_column: str, latency_column: str) -> str:
    # Sub-second differences: Doris has MILLISECONDS_DIFF, MariaDB TIMESTAMPDIFF(MICROSECOND, ...).
    if is_doris:
        return f"MILLISECONDS_DIFF({latency_column}, {time_column}) / 1000.0"
    return f"TIMESTAMPDIFF(MICROSECOND, {time_column}, {latency_column}) / 1000000.0"


def _result(check: str, settings: DQSettings, *, failed: list[str], summary_ok: str,
            samples: list[MetricSample], details: dict[str, Any], windowed: bool = True) -> CheckResult:
    status = FAIL if failed else PASS
    summary = "; ".join(failed) if failed else summary_ok
    return CheckResult(
        check, status, summary, samples, details, settings.as_of,
        settings.window_start if windowed else None, settings.window_end if windowed else None,
    )


# -- freshness -----------------------------------------------------------------------------------


def freshness_check(settings: DQSettings, gx: GxWarehouse, *, is_doris: bool) -> CheckResult:
    """Lag of the newest row per table (and per commodity) as of ``as_of``, plus ingest latency p95."""
    from datetime import timedelta

    samples: list[MetricSample] = []
    failed: list[str] = []
    expectations: list[dict[str, Any]] = []
    lookback_start = settings.as_of - timedelta(seconds=settings.freshness_lookback_seconds)
    for table, max_lag in settings.freshness_tables.items():
        spec = TABLE_SPECS[table]
        group_union = ""
        if spec.group_column:
            group_union = qsql.render("freshness_groups.sql", group_column=spec.group_column,
                                      time_column=spec.time_column, lookback_start=lookback_start,
                                      as_of=settings.as_of)
        query = qsql.render(
            "freshness.sql", time_column=spec.time_column, as_of=settings.as_of, lookback_start=lookback_start,
            lookback_seconds=settings.freshness_lookback_seconds, max_lag_seconds=qsql.number(max_lag),
            group_union=group_union,
        )
        outcome = gx.expect(name=f"freshness:{table}", table=table, query=query,
                            description=f"newest {table}.{spec.time_column} at most {max_lag:g} s old")
        expectations.append(outcome.as_dict())
        samples.append(MetricSample("streaming_dq_freshness_threshold_seconds", {"table": table}, max_lag))
        for row in outcome.rows:
            samples.append(MetricSample("streaming_dq_freshness_lag_seconds",
                                        {"table": table, "commodity_code": str(row["scope"])}, _f(row["lag_seconds"])))
        if not outcome.success:
            stale = [f"{r['scope']}={_f(r['lag_seconds']):.0f}s" for r in outcome.rows if int(r["violates"])]
            failed.append(f"{table} stale beyond {max_lag:g} s: {', '.join(stale[:settings.examples or 1])}")

        if spec.latency_column:
            latency = _latency_check(settings, gx, table=table, is_doris=is_doris)
            expectations.append(latency.as_dict())
            if latency.rows:
                row = latency.rows[0]
                samples.append(MetricSample("streaming_dq_ingest_latency_p95_seconds", {"table": table},
                                            _f(row["p95_seconds"])))
                samples.append(MetricSample("streaming_dq_ingest_latency_samples", {"table": table},
                                            _f(row["samples"])))
                if not latency.success:
                    failed.append(f"{table} ingest latency p95 {_f(row['p95_seconds']):.3f} s > "
                                  f"{settings.latency_p95_max_seconds:g} s")
            else:
                log.info("ingest latency of %s: not applicable (no %s filled in the window)",
                         table, spec.latency_column)

    ok = f"{len(settings.freshness_tables)} tables fresh as of {settings.as_of:%Y-%m-%d %H:%M:%S}"
    return _result("freshness", settings, failed=failed, summary_ok=ok, samples=samples,
                   details={"expectations": expectations}, windowed=False)


def _latency_check(settings: DQSettings, gx: GxWarehouse, *, table: str, is_doris: bool) -> ExpectationOutcome:
    spec = TABLE_SPECS[table]
    assert spec.latency_column is not None
    query = qsql.render(
        "ingest_latency.sql", time_column=spec.time_column, latency_column=spec.latency_column,
        latency_seconds_expr=_latency_expr(is_doris=is_doris, time_column=spec.time_column,
                                           latency_column=spec.latency_column),
        window_start=settings.window_start, window_end=settings.window_end,
        max_p95_seconds=qsql.number(settings.latency_p95_max_seconds),
    )
    return gx.expect(name=f"ingest_latency_p95:{table}", table=table, query=query,
                     description=f"p95 of {spec.latency_column} - {spec.time_column} within the processing target")


# -- error rate ----------------------------------------------------------------------------------


def error_rate_check(settings: DQSettings, gx: GxWarehouse, *, doris_hook: Any, is_doris: bool,
                     connect_hook_factory: Callable[[], Any] | None) -> CheckResult:
    """Invalid ticks in the window, Routine Load error rates and states, Kafka Connect states."""
    from commodity_platform.ohlc.definition import bars_sql

    samples: list[MetricSample] = []
    failed: list[str] = []
    details: dict[str, Any] = {}

    expected_sql, params = bars_sql(settings.window_start, settings.window_end, minute_index=not is_doris)
    query = qsql.render(
        "invalid_ticks.sql", window_start=settings.window_start, window_end=settings.window_end,
        bars_sql=qsql.escape_braces(qsql.inline_pyformat(expected_sql, params)),
        max_rate=qsql.number(settings.invalid_tick_rate_max),
    )
    outcome = gx.expect(name="invalid_tick_rate", table=TICKS_TABLE, query=query,
                        description=f"invalid ticks at most {settings.invalid_tick_rate_max:g} of all ticks")
    details["invalid_ticks"] = outcome.as_dict()
    row = dict(outcome.rows[0]) if outcome.rows else {"total_ticks": 0, "invalid_ticks": 0}
    # The rate is recomputed here from the exact counts: SQL division keeps only a few decimals.
    row["invalid_rate"] = _f(row["invalid_ticks"]) / _f(row["total_ticks"]) if _f(row["total_ticks"]) else 0.0
    samples += [
        MetricSample("streaming_dq_error_rate", {"source": "ticks"}, row["invalid_rate"]),
        MetricSample("streaming_dq_invalid_ticks", {}, _f(row["invalid_ticks"])),
        MetricSample("streaming_dq_window_ticks", {}, _f(row["total_ticks"])),
    ]
    if not outcome.success:
        failed.append(f"invalid ticks {int(row['invalid_ticks'])}/{int(row['total_ticks'])} = "
                      f"{_f(row['invalid_rate']):.2%} > {settings.invalid_tick_rate_max:.2%}")

    details["routine_load"] = _routine_loads(settings, doris_hook, is_doris=is_doris, samples=samples, failed=failed)
    details["kafka_connect"] = _kafka_connect(connect_hook_factory, samples=samples, failed=failed)

    ok = (f"invalid ticks {_f(row['invalid_rate']):.2%} of {int(row['total_ticks'])}; "
          f"routine load: {details['routine_load']['status']}; kafka connect: {details['kafka_connect']['status']}")
    return _result("error_rate", settings, failed=failed, summary_ok=ok, samples=samples, details=details)


def _routine_loads(settings: DQSettings, hook: Any, *, is_doris: bool, samples: list[MetricSample],
                   failed: list[str]) -> dict[str, Any]:
    """SHOW ROUTINE LOAD: errorRows/totalRows per job (its Statistic column is JSON) and job states.

    Not a GX expectation: SHOW is not a SELECT and cannot be wrapped in one; the rule is the same.
    """
    if not is_doris:
        log.info("routine load error rate: not applicable (the warehouse is not Doris)")
        samples.append(MetricSample("streaming_dq_source_applicable", {"source": "routine_load"}, 0))
        return {"status": "not applicable (not Doris)"}
    samples.append(MetricSample("streaming_dq_source_applicable", {"source": "routine_load"}, 1))
    from commodity_platform.doris.routine_load import list_routine_loads

    conn = hook.get_conn()
    try:
        cur = conn.cursor()
        # USE + SHOW ROUTINE LOAD: Doris lists the current database's jobs and has no FROM <db> form.
        jobs = list_routine_loads(cur, hook.platform_database, include_terminal=False)
        cur.close()
    finally:
        conn.close()
    report: dict[str, Any] = {"status": "ok", "jobs": []}
    not_running = 0
    for job in jobs:
        try:
            stats = json.loads(job.get("Statistic") or "{}")
        except json.JSONDecodeError as err:
            raise PermanentError(f"SHOW ROUTINE LOAD: job {job.get('Name')}: Statistic is not JSON") from err
        total, errors = int(stats.get("totalRows") or 0), int(stats.get("errorRows") or 0)
        rate = errors / total if total else 0.0
        state = str(job.get("State"))
        samples.append(MetricSample("streaming_dq_error_rate", {"source": f"routine_load:{job.get('Name')}"}, rate))
        samples.append(MetricSample("streaming_dq_routine_load_running", {"job": str(job.get("Name"))},
                                    1.0 if state == "RUNNING" else 0.0))
        report["jobs"].append({"name": job.get("Name"), "state": state, "totalRows": total, "errorRows": errors,
                               "reason": job.get("ReasonOfStateChanged") or ""})
        if state != "RUNNING":
            not_running += 1
            failed.append(f"routine load {job.get('Name')} is {state}: {job.get('ReasonOfStateChanged') or ''}".strip())
        if rate > settings.routine_load_error_rate_max:
            failed.append(f"routine load {job.get('Name')} error rate {rate:.2%} ({errors}/{total}) > "
                          f"{settings.routine_load_error_rate_max:.2%}")
    report["status"] = f"{len(jobs)} jobs, {not_running} not running"
    return report


def _kafka_connect(factory: Callable[[], Any] | None, *, samples: list[MetricSample],
                   failed: list[str]) -> dict[str, Any]:
    """Connectors and tasks not RUNNING, from ``GET /connectors?expand=status``."""
    if factory is None:
        log.info("kafka connect states: not applicable (connection kafka_connect_default is not configured)")
        samples.append(MetricSample("streaming_dq_source_applicable", {"source": "kafka_connect"}, 0))
        return {"status": "not applicable (no connection)"}
    samples.append(MetricSample("streaming_dq_source_applicable", {"source": "kafka_connect"}, 1))
    with factory() as hook:
        connectors = hook.list_connectors_expanded()
    units = 0
    bad: list[str] = []
    for name, entry in sorted(connectors.items()):
        status = entry.get("status") or {}
        units += 1
        state = (status.get("connector") or {}).get("state", "UNKNOWN")
        if state != "RUNNING":
            bad.append(f"{name}={state}")
        for task in status.get("tasks") or []:
            units += 1
            if task.get("state") != "RUNNING":
                bad.append(f"{name}/{task.get('id')}={task.get('state')}")
    rate = len(bad) / units if units else 0.0
    samples.append(MetricSample("streaming_dq_error_rate", {"source": "kafka_connect"}, rate))
    samples.append(MetricSample("streaming_dq_connect_not_running", {}, float(len(bad))))
    if bad:
        failed.append(f"kafka connect not RUNNING: {', '.join(bad[:10])}")
    return {"status": f"{len(connectors)} connectors, {len(bad)} connectors/tasks not running", "not_running": bad}


# -- OHLC correctness ------------------------------------------------------------------------------


def ohlc_check(settings: DQSettings, gx: GxWarehouse, *, workers: int = 1, doris: bool = False,
               hook: Any = None) -> CheckResult:
    """Recomputed bars (the shared definition) vs ``price_1min_agg`` over the window, in the database.

    With ``workers`` > 1 the window is split as ``ohlc_backfill`` splits it (time slices on the sandbox, code
    groups on Doris: :func:`~commodity_platform.ohlc.comparison.plan_comparison_shards`) and each shard is
    its own GX expectation, validated on its own GX lane (data source, connection) at the same time as the
    others; the problem bars add up and the check fails when their total is above
    ``ohlc_max_mismatched_bars``, as the single expectation does. ``hook`` (a DorisHook) lists the window's
    codes for Doris' code groups.
    """
    expectation_name = "ohlc_bars_match_ticks"
    description = "price_1min_agg equals the bars recomputed from energy_prices_rt"
    shards = _ohlc_shards(settings, workers=workers, doris=doris, hook=hook) if workers > 1 else []
    details: dict[str, Any] = {}
    if len(shards) > 1:
        comparison, outcome, details["shards"] = _ohlc_sharded(
            settings, gx, shards, workers=workers, name=expectation_name, description=description, doris=doris)
    else:
        query = comparison_sql(
            settings.window_start, settings.window_end, codes=settings.commodity_codes,
            tolerance=settings.ohlc_tolerance, examples=settings.examples,
            max_mismatched=settings.ohlc_max_mismatched_bars, minute_index=not doris,
        )
        outcome = gx.expect(name=expectation_name, table=STORED_BARS_TABLE, query=query, description=description)
        comparison = OhlcComparison.from_rows(outcome.rows, start=settings.window_start, end=settings.window_end,
                                              elapsed_s=outcome.elapsed_s)
    samples = [
        MetricSample("streaming_dq_ohlc_mismatched_bars", {}, comparison.mismatched_bars),
        MetricSample("streaming_dq_ohlc_problem_bars", {"kind": "missing"}, comparison.missing_bars),
        MetricSample("streaming_dq_ohlc_problem_bars", {"kind": "extra"}, comparison.extra_bars),
        MetricSample("streaming_dq_ohlc_problem_bars", {"kind": "differing"}, comparison.differing_bars),
        MetricSample("streaming_dq_ohlc_problem_bars", {"kind": "invariant"}, comparison.invariant_bars),
    ]
    failed = [comparison.summary()] if not outcome.success else []
    ok = comparison.summary() if comparison.ok else (
        f"{comparison.mismatched_bars} problem bars, within the allowed {settings.ohlc_max_mismatched_bars}")
    details.update(comparison=comparison.as_dict(), expectation=outcome.as_dict())
    return _result("ohlc_correctness", settings, failed=failed, summary_ok=ok, samples=samples, details=details)


def _ohlc_shards(settings: DQSettings, *, workers: int, doris: bool, hook: Any) -> list[Any]:
    from commodity_platform.ohlc.comparison import plan_comparison_shards

    if not (doris and not settings.commodity_codes):  # time slices, or code groups of the given codes
        return plan_comparison_shards(None, settings.window_start, settings.window_end, settings.commodity_codes,
                                      workers=workers, doris=doris)
    if hook is None:
        raise PermanentError("ohlc_check: sharding by code on Doris needs the warehouse hook")
    conn = hook.get_conn()
    try:
        return plan_comparison_shards(conn, settings.window_start, settings.window_end, (),
                                      workers=workers, doris=True)
    finally:
        conn.close()


def _ohlc_sharded(settings: DQSettings, gx: GxWarehouse, shards: list[Any], *, workers: int, name: str,
                  description: str, doris: bool) -> tuple[OhlcComparison, ExpectationOutcome, list[dict[str, Any]]]:
    """One GX expectation per shard on ``workers`` lanes at once; the merged comparison, and one outcome
    whose success is the merged total against ``ohlc_max_mismatched_bars`` (each shard's query counts
    all its problem bars: a tolerance cannot be split between shards)."""
    from commodity_platform.ohlc.comparison import compare_shards

    lanes = gx.lanes(min(workers, len(shards)))
    shard_outcomes: dict[int, ExpectationOutcome] = {}

    def compare_shard(lane: GxWarehouse, shard: Any) -> OhlcComparison:
        query = comparison_sql(shard.start, shard.end, codes=shard.commodity_codes,
                               tolerance=settings.ohlc_tolerance, examples=settings.examples, max_mismatched=0,
                               minute_index=not doris)
        outcome = lane.expect(name=f"{name} {shard.describe()}", table=STORED_BARS_TABLE, query=query,
                              description=f"{description}, {shard.describe()}")
        shard_outcomes[shard.index] = outcome
        return OhlcComparison.from_rows(outcome.rows, start=to_naive_utc(shard.start), end=to_naive_utc(shard.end))

    started = time.monotonic()
    comparison = compare_shards(shards, compare_shard, start=settings.window_start, end=settings.window_end,
                                examples=settings.examples, workers=len(lanes), open_worker=lambda: None,
                                close_worker=lambda lane: None, initial_states=lanes)
    comparison.elapsed_s = time.monotonic() - started
    within = comparison.mismatched_bars <= settings.ohlc_max_mismatched_bars
    outcome = ExpectationOutcome(name, STORED_BARS_TABLE, within, 0 if within else comparison.mismatched_bars,
                                 rows=comparison.examples, elapsed_s=comparison.elapsed_s)
    per_shard = [{"shard": s.describe(), "problem_bars": shard_outcomes[s.index].violations,
                  "elapsed_s": round(shard_outcomes[s.index].elapsed_s, 4)} for s in shards]
    log.info("OHLC check on %d shards over %d connections: %s in %.3f s (%s)", len(shards), len(lanes),
             "pass" if within else "FAIL", comparison.elapsed_s,
             "; ".join(f"{d['shard']}: {d['problem_bars']} problem bars, {d['elapsed_s']} s" for d in per_shard))
    return comparison, outcome, per_shard


def error_result(check: str, settings: DQSettings, err: BaseException) -> CheckResult:
    """The result recorded when a check could not be evaluated: it counts as failing."""
    return CheckResult(check, ERROR, f"could not check: {type(err).__name__}: {err}"[:1024], [],
                       {"error": str(err)[:4000]}, settings.as_of, settings.window_start, settings.window_end)

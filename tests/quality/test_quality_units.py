"""Unit tests at the boundaries: settings validation, SQL rendering, metric building, the non-GX
error-rate sources (Routine Load parsing, Kafka Connect over real HTTP against the Connect emulator)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from commodity_platform.errors import ConfigError, PermanentError
from commodity_platform.quality import sql as qsql
from commodity_platform.quality.checks import _kafka_connect, _routine_loads
from commodity_platform.quality.gx import batch_aliased
from commodity_platform.quality.metrics import build_registry, run_samples
from commodity_platform.quality.results import CheckResult, MetricSample
from commodity_platform.quality.settings import DEFAULT_FRESHNESS_TABLES, settings_from_params

AS_OF = datetime(2026, 3, 1, 12, 0, 30)


def settings(**params):
    return settings_from_params(params, run_id="r1", default_as_of=AS_OF)


# -- settings ------------------------------------------------------------------------------------


def test_default_window_is_the_last_60_closed_minutes_before_settling() -> None:
    s = settings()
    assert (s.as_of, s.window_start, s.window_end) == (
        AS_OF, datetime(2026, 3, 1, 10, 58), datetime(2026, 3, 1, 11, 58))
    assert s.freshness_tables == DEFAULT_FRESHNESS_TABLES and len(s.freshness_tables) == 5


def test_as_of_and_window_from_params_in_utc() -> None:
    s = settings(as_of="2026-03-02T10:00:00+01:00", start="2026-03-02T08:00:00Z", end="2026-03-02T08:30:00Z")
    assert s.as_of == datetime(2026, 3, 2, 9, 0)
    assert (s.window_start, s.window_end) == (datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 2, 8, 30))


@pytest.mark.parametrize(("params", "message"), [
    ({"start": "2026-03-01T10:00:30Z"}, "start: .* not a whole minute"),
    ({"start": "2026-03-01T12:00:00Z", "end": "2026-03-01T11:00:00Z"}, "is empty"),
    ({"as_of": "yesterday"}, "as_of: 'yesterday' is not an ISO-8601"),
    ({"freshness_tables": {"prices": 60}}, "unknown table 'prices'"),
    ({"freshness_tables": {"energy_prices_rt": -5}}, "freshness_tables.energy_prices_rt"),
    ({"invalid_tick_rate_max": 2}, "invalid_tick_rate_max: 2 must be between 0 and 1"),
    ({"commodity_codes": ["WTI", "x'; DROP"]}, "commodity_codes: invalid codes"),
    ({"instance": "a b"}, "instance: 'a b'"),
])
def test_bad_params_name_the_field(params, message) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(**params)


def test_freshness_tables_as_a_list_keeps_default_thresholds() -> None:
    assert settings(freshness_tables=["energy_prices_rt"]).freshness_tables == {"energy_prices_rt": 300.0}


# -- SQL rendering -------------------------------------------------------------------------------


def test_inline_pyformat_quotes_validated_values_and_refuses_others() -> None:
    sql = "WHERE t >= %(a)s AND c IN (%(code_0)s)"
    assert qsql.inline_pyformat(sql, {"a": "2026-03-01 10:00:00", "code_0": "WTI"}) == (
        "WHERE t >= '2026-03-01 10:00:00' AND c IN ('WTI')")
    with pytest.raises(ConfigError, match="refusing to inline"):
        qsql.inline_pyformat(sql, {"a": "x' OR '1'='1", "code_0": "WTI"})
    with pytest.raises(ConfigError, match="has no value"):
        qsql.inline_pyformat(sql, {"a": "2026-03-01 10:00:00"})


def test_text_colons_and_batch_aliasing() -> None:
    assert qsql.for_sqlalchemy_text("x = :name AND t = '10:00:00'") == "x = \\:name AND t = '10:00:00'"
    assert batch_aliased("SELECT 1 FROM {batch} CROSS JOIN y") == "SELECT 1 FROM {batch} AS dq_batch CROSS JOIN y"
    assert batch_aliased("SELECT 1 FROM {batch}") == "SELECT 1 FROM {batch}"
    assert qsql.number(1e-6) == "0.000001" and qsql.number(0.01) == "0.01" and qsql.number(None) == "NULL"


def test_comparison_sql_embeds_the_shared_bar_definition() -> None:
    from commodity_platform.ohlc.definition import bars_sql_template
    from commodity_platform.quality.ohlc import comparison_sql

    sql = comparison_sql(datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 11), codes=["WTI"], examples=3)
    # the definition's own text is in the statement (not a copy of it in this package)
    assert bars_sql_template().split("FROM energy_prices_rt")[0].strip().splitlines()[3].strip() in sql
    assert "'2026-03-01 10:00:00'" in sql and "commodity_code IN ('WTI')" in sql and "LIMIT 3" in sql
    assert "{batch}" in sql and "%(" not in sql


# -- metrics -------------------------------------------------------------------------------------


def test_missing_check_is_pushed_as_failing() -> None:
    results = [CheckResult("freshness", "pass", "ok", [MetricSample("streaming_dq_window_ticks", {}, 3)]),
               CheckResult("error_rate", "fail", "bad")]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in run_samples(results, pushed_at=5.0)}
    assert samples[("streaming_dq_check_success", (("check", "freshness"),))] == 1
    assert samples[("streaming_dq_check_success", (("check", "error_rate"),))] == 0
    assert samples[("streaming_dq_check_success", (("check", "ohlc_correctness"),))] == 0
    assert samples[("streaming_dq_check_status", (("check", "ohlc_correctness"), ("status", "missing")))] == 1
    assert samples[("streaming_dq_last_run_timestamp_seconds", ())] == 5.0


def test_registry_rejects_inconsistent_labels() -> None:
    from prometheus_client import generate_latest

    ok = build_registry([MetricSample("streaming_dq_error_rate", {"source": "ticks"}, 0.5)])
    assert b'streaming_dq_error_rate{source="ticks"} 0.5' in generate_latest(ok)
    with pytest.raises(PermanentError, match="labels"):
        build_registry([MetricSample("streaming_dq_error_rate", {"source": "a"}, 1),
                        MetricSample("streaming_dq_error_rate", {}, 1)])


# -- Routine Load (SHOW ROUTINE LOAD rows, as Doris returns them) -----------------------------------


class _ShowRoutineLoadHook:
    platform_database = "commodity_realtime"

    def __init__(self, rows):
        self.rows, self.executed = rows, []

    def get_conn(self):
        hook = self

        class Cur:
            description = [("Name",), ("State",), ("Statistic",), ("ReasonOfStateChanged",)]

            def execute(self, sql):
                hook.executed.append(sql)

            def fetchall(self):
                return hook.rows

            def close(self):
                pass

        class Conn:
            def cursor(self):
                return Cur()

            def close(self):
                pass

        return Conn()


def test_routine_load_error_rates_and_states() -> None:
    stats = lambda total, errors: json.dumps({"receivedBytes": 1, "totalRows": total, "errorRows": errors})  # noqa: E731
    hook = _ShowRoutineLoadHook([
        ("rl_energy_prices_rt", "RUNNING", stats(10000, 5), ""),
        ("rl_market_alerts", "RUNNING", stats(1000, 50), ""),
        ("rl_weather_events_rt", "PAUSED", stats(0, 0),
         "ErrorReason{code=errCode = 100, msg='too many filtered rows'}"),
    ])
    samples, failed = [], []
    report = _routine_loads(settings(), hook, is_doris=True, samples=samples, failed=failed)
    # Doris lists the current database's jobs: USE first (SHOW ROUTINE LOAD has no FROM <db> in Doris).
    assert hook.executed == ["USE `commodity_realtime`", "SHOW ROUTINE LOAD"]
    rates = {s.labels["source"]: s.value for s in samples if s.name == "streaming_dq_error_rate"}
    assert rates == {"routine_load:rl_energy_prices_rt": 0.0005, "routine_load:rl_market_alerts": 0.05,
                     "routine_load:rl_weather_events_rt": 0.0}
    assert len(failed) == 2
    assert any("rl_weather_events_rt is PAUSED" in f for f in failed)
    assert any("rl_market_alerts error rate 5.00%" in f for f in failed)
    assert report["status"] == "3 jobs, 1 not running"


def test_routine_load_not_applicable_off_doris() -> None:
    samples, failed = [], []
    report = _routine_loads(settings(), None, is_doris=False, samples=samples, failed=failed)
    assert failed == [] and report["status"].startswith("not applicable")
    assert [(s.name, s.value) for s in samples] == [("streaming_dq_source_applicable", 0)]


# -- Kafka Connect, over real HTTP (the emulator from the kafka_connect tests) -----------------------


def test_kafka_connect_not_running_connectors_and_tasks(monkeypatch) -> None:
    from commodity_platform.kafka_connect.hook import KafkaConnectHook
    from sandbox.connect_emulator import ConnectEmulator

    with ConnectEmulator() as emu:
        monkeypatch.setenv("AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT", json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": emu.port, "schema": "http"}))
        config = {"connector.class": "com.github.castorm.kafka.connect.http.HttpSourceConnector", "tasks.max": "1",
                  "http.request.url": "http://example.invalid", "kafka.topic": "t"}
        emu.seed_connector("cp-source-eia-prices", config)
        emu.seed_connector("cp-source-fred-prices", config)

        def factory():
            return KafkaConnectHook(retries=2, backoff_seconds=0, max_backoff_seconds=0)

        samples, failed = [], []
        _kafka_connect(factory, samples=samples, failed=failed)
        assert failed == []
        emu.crash_task("cp-source-fred-prices", 0)
        samples, failed = [], []
        report = _kafka_connect(factory, samples=samples, failed=failed)
    assert report["not_running"] == ["cp-source-fred-prices/0=FAILED"]
    assert {s.name: s.value for s in samples}["streaming_dq_connect_not_running"] == 1
    assert len(failed) == 1


def test_kafka_connect_not_configured_is_not_applicable() -> None:
    samples, failed = [], []
    report = _kafka_connect(None, samples=samples, failed=failed)
    assert failed == [] and report["status"].startswith("not applicable")

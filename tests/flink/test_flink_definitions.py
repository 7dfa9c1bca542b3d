"""Unit tests of the job definitions that need no Flink: settings, DDL generation, runner input checks.

``commodity_flink`` imports only the standard library at module level, so it is tested here from the
Airflow venv; everything that needs a JVM is in the ``test_flink_<job>`` modules.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.flink.flink_testlib import FLINK_DIR, RUNNER, SETUP_HINT, check_flink_python

TICK_TYPES = [
    ("commodity_code", "STRING"), ("event_time", "TIMESTAMP(3)"), ("price", "DECIMAL(18, 6)"),
    ("volume", "DECIMAL(18, 4)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def cf() -> Iterator[ModuleType]:
    sys.path.insert(0, str(FLINK_DIR))
    try:
        import commodity_flink.connectors
        import commodity_flink.jobs

        yield commodity_flink
    finally:
        sys.path.remove(str(FLINK_DIR))


def _options(ddl: str) -> dict[str, str]:
    return dict(re.findall(r"'((?:[^']|'')*)' = '((?:[^']|'')*)'", ddl))


def _columns(ddl: str) -> list[str]:
    return re.findall(r"^\s+(`\w+` [A-Z]+(?:\(\d+(?:, \d+)?\))?),?$", ddl, re.MULTILINE)


def test_settings_fail_naming_the_missing_variable(cf) -> None:
    settings_cls = cf.connectors.ProductionSettings
    with pytest.raises(cf.connectors.SettingsError, match="KAFKA_BOOTSTRAP_SERVERS"):
        settings_cls.from_env({})
    settings = settings_cls.from_env({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "DORIS_PASSWORD": "s3cr3t"})
    assert settings.raw_topic == "commodity-prices-raw"
    assert settings.alerts_topic == "market-alerts"
    assert "s3cr3t" not in repr(settings)
    with pytest.raises(cf.connectors.SettingsError, match="DORIS_FENODES, DORIS_USER"):
        cf.jobs.get_job("price_aggregator").production_tables(settings)


def test_unknown_job_lists_the_known_ones(cf) -> None:
    with pytest.raises(ValueError, match="anomaly_detector, data_enricher, price_aggregator"):
        cf.jobs.get_job("price_agregator")


def test_sql_literals_are_escaped(cf) -> None:
    assert cf.connectors.sql_literal("it's") == "'it''s'"
    settings = cf.connectors.ProductionSettings(
        kafka_bootstrap_servers="k:9092", doris_fenodes="fe:8030", doris_user="u", doris_password="p'w"
    )
    ddl = cf.connectors.doris_bars_sink("t", cf.jobs.JOBS["price_aggregator"].output_columns, settings, "l")
    assert _options(ddl)["password"] == "p''w"


def test_production_sinks_are_exactly_once_and_sources_are_watermarked(cf) -> None:
    settings = cf.connectors.ProductionSettings(
        kafka_bootstrap_servers="k:9092", doris_fenodes="fe:8030", doris_user="u", doris_password="p"
    )
    for job in cf.jobs.JOBS.values():
        source, *rest = job.production_tables(settings)
        sink = rest[-1]
        assert "WATERMARK FOR `event_time` AS `event_time` - INTERVAL '10' SECOND" in source
        assert _options(source)["properties.isolation.level"] == "read_committed"
        options = _options(sink)
        if options["connector"] == "kafka":
            assert options["sink.delivery-guarantee"] == "exactly-once", job.name
            assert options["sink.transactional-id-prefix"].startswith("cp-"), job.name
        else:
            assert options["connector"] == "doris", job.name
            assert options["sink.enable-2pc"] == "true", job.name
        assert f"`{job.sink_table}`" in sink
    transactional = [
        _options(job.production_tables(settings)[-1]).get("sink.transactional-id-prefix")
        for job in cf.jobs.JOBS.values()
    ]
    assert len(set(transactional)) == len(transactional), "transactional ids must not be shared between jobs"


def test_local_and_production_tables_have_the_same_columns(cf) -> None:
    """The file-based tables the tests use are the production tables with another connector."""
    settings = cf.connectors.ProductionSettings(
        kafka_bootstrap_servers="k:9092", doris_fenodes="fe:8030", doris_user="u", doris_password="p"
    )
    for job in cf.jobs.JOBS.values():
        production = job.production_tables(settings)
        local = job.local_tables("/in/ticks.csv", "/in/meta.csv", "/out")
        assert _columns(local[0]) == [f"`{name}` {type_}" for name, type_ in TICK_TYPES], job.name
        assert "`source` AS CAST(NULL AS STRING)" in local[0]  # a tick file names no feed
        # Production reads the API items; the local items variant differs only in its connector and in the
        # headers being a JSON field instead of Kafka metadata: same fields, computed tick, watermark, view.
        items = job.local_tables("/in/records.json", "/in/meta.csv", "/out", api_items=True)
        body = [ddl[: ddl.rindex(") WITH (")] if ") WITH (" in ddl else ddl for ddl in production]
        local_body = [ddl[: ddl.rindex(") WITH (")] if ") WITH (" in ddl else ddl for ddl in items]
        assert body[0].replace(" METADATA VIRTUAL", "") == local_body[0], job.name
        assert "`headers` MAP<STRING, BYTES> METADATA VIRTUAL" in body[0], job.name
        assert production[1] == items[1] and "CREATE TEMPORARY VIEW raw_ticks" in production[1], job.name
        assert _columns(production[-1]) == _columns(local[-1]) == _columns(items[-1]), job.name
        assert len(_columns(local[-1])) == len(job.output_columns)


def test_runner_rejects_a_wrong_header_before_starting_flink(tmp_path) -> None:
    """A swapped column must fail loudly, naming the file and the expected header (exit code 2)."""
    ticks = tmp_path / "ticks.csv"
    ticks.write_text("commodity_code,event_time,volume,price\nGOLD,2024-01-01 00:00:00,1,2\n")
    result = subprocess.run(
        [
            sys.executable,
            str(RUNNER),
            "price_aggregator",
            "--input",
            str(ticks),
            "--output",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert str(ticks) in result.stderr
    assert "commodity_code,event_time,price,volume" in result.stderr
    assert not (tmp_path / "o").exists()


def test_missing_flink_venv_is_reported_with_setup_instructions(tmp_path) -> None:
    """The session fixture turns this into a test failure (never a skip); the hint says how to fix it."""
    problem = check_flink_python(tmp_path / "no-venv" / "bin" / "python")
    assert problem is not None
    assert "does not exist" in problem
    assert "include/flink/setup_venv.sh" in SETUP_HINT
    assert "FLINK_PYTHON" in SETUP_HINT
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named pyflink' >&2\nexit 1\n")
    broken.chmod(0o755)
    problem = check_flink_python(broken)
    assert problem is not None
    assert "cannot import pyflink" in problem
    assert "ModuleNotFoundError" in problem

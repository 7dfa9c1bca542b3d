"""The sandbox's services are private, on loopback, and loaded with the project's alert rules."""

from __future__ import annotations

import subprocess

import httpx
import pytest
import yaml

from commodity_platform.paths import MANIFESTS_DIR, PROJECT_ROOT
from sandbox.services import extract_prometheus_rules

pytestmark = pytest.mark.sandbox


def test_services_listen_on_loopback_with_state_in_the_project(sandbox) -> None:
    endpoints = sandbox.endpoints()
    assert all("127.0.0.1:" in value for value in endpoints.values())
    ports = {sandbox.mariadb_port, sandbox.pushgateway_port, sandbox.prometheus_port}
    assert len(ports) == 3 and 3306 not in ports and 9090 not in ports
    assert sandbox.root.is_relative_to(PROJECT_ROOT / ".sandbox")
    ((datadir, port),) = sandbox.query("SELECT @@datadir, @@port", database=None)
    assert datadir.startswith(str(sandbox.root)) and port == sandbox.mariadb_port


def test_prometheus_loaded_every_prometheusrule_of_the_project(sandbox, tmp_path) -> None:
    rule_files = extract_prometheus_rules(MANIFESTS_DIR, tmp_path)
    assert rule_files, "no PrometheusRule manifests found"
    check = subprocess.run(["promtool", "check", "rules", *map(str, rule_files)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    expected = {group["name"] for path in rule_files for group in yaml.safe_load(path.read_text())["groups"]}
    loaded = httpx.get(f"{sandbox.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {g["name"] for g in loaded} == expected


def test_pushgateway_accepts_and_serves_a_push(sandbox) -> None:
    from prometheus_client import CollectorRegistry, Gauge, delete_from_gateway, push_to_gateway

    registry = CollectorRegistry()
    Gauge("sandbox_probe", "probe", registry=registry).set(7)
    push_to_gateway(sandbox.pushgateway_url, job="sandbox_probe", registry=registry)
    try:
        body = httpx.get(f"{sandbox.pushgateway_url}/metrics", timeout=5).text
        assert 'sandbox_probe{instance="",job="sandbox_probe"} 7' in body
    finally:
        delete_from_gateway(sandbox.pushgateway_url, job="sandbox_probe")


def test_the_live_airflows_postgres_is_private_reachable_only_by_its_socket_and_stops_cleanly(sandbox) -> None:
    import os
    import stat
    from pathlib import Path

    from sqlalchemy import create_engine, text

    from sandbox.services import PrivatePostgres, processes_mentioning

    server = PrivatePostgres(sandbox.root / "metadata-postgres-probe")
    server.start()
    try:
        engine = create_engine(server.sqlalchemy_url)  # the URL Airflow's components are given
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == "airflow"
            assert conn.execute(text("SHOW listen_addresses")).scalar() == ""  # no TCP socket at all
            data_dir = conn.execute(text("SHOW data_directory")).scalar()
        engine.dispose()
        # Airflow 3 also opens an async engine on the same URL, its driver swapped for asyncpg.
        assert _async_select_one(server.sqlalchemy_url.replace("+psycopg2", "+asyncpg")) == 1
        assert Path(data_dir) == server.data_dir and server.data_dir.is_relative_to(sandbox.root)
        assert stat.S_IMODE(os.stat(server.socket_dir).st_mode) == 0o700  # only the owner reaches the socket
        assert processes_mentioning(str(server.data_dir))

        # A run killed before it stopped the server: the next start stops the leftover and starts afresh.
        leftover = PrivatePostgres(server.root)
        leftover.stop_stale()
        assert processes_mentioning(str(server.data_dir)) == []
        server.start()
    finally:
        server.stop()
    assert processes_mentioning(str(server.data_dir)) == []


def _async_select_one(url: str) -> int:
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def probe() -> int:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT 1"))).scalar()
        finally:
            await engine.dispose()

    return asyncio.run(probe())


def test_the_live_airflows_cfg_names_its_postgres_for_a_cli_given_only_airflow_home(tmp_path) -> None:
    from sandbox.live_airflow import pin_metadata_db

    url = "postgresql+psycopg2://airflow@/airflow?host=/x/run&port=5432"
    fresh = tmp_path / "fresh.cfg"
    pin_metadata_db(fresh, url)
    assert "[database]\nsql_alchemy_conn = " + url in fresh.read_text()

    # Airflow's own default file (written on first use) named the SQLite file: replaced in place, once.
    written = tmp_path / "airflow.cfg"
    written.write_text("[core]\ndags_folder = /d\n\n[database]\n# the DB\nsql_alchemy_conn = sqlite:////h/airflow.db\n"
                       "sql_alchemy_conn_async = \n\n[logging]\nbase_log_folder = /l\n")
    pin_metadata_db(written, url)
    pin_metadata_db(written, url)
    text = written.read_text()
    assert "sqlite" not in text and text.count("sql_alchemy_conn = ") == 1 and "sql_alchemy_conn_async = " in text
    assert text.index("[database]") < text.index(url) < text.index("[logging]")
    assert "dags_folder = /d" in text and "base_log_folder = /l" in text

    # A file without a [database] section gets one.
    bare = tmp_path / "bare.cfg"
    bare.write_text("[core]\nload_examples = False\n")
    pin_metadata_db(bare, url)
    assert bare.read_text().endswith("[database]\nsql_alchemy_conn = " + url + "\n")

"""The use-case queries (include/sql/use_cases) against the real schema, on MariaDB and in Doris' dialect.

They used to name tables that do not exist (``commodity.prices_enriched``); these tests run every query on
the sandbox warehouse (the platform schema migrated from include/sql/migrations) with a few inserted bars
and alerts and compare the result with values computed here in Python from the same rows. The Doris side
is checked by parsing with sqlglot's doris dialect, and the shipped ConfigMap / dashboard by rendering the
phase-8 manifests exactly as the deploy DAG does.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from commodity_platform.deploy.execution import plan_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES_BY_NAME
from commodity_platform.k8s.manifests import GRAFANA_TIME_MACROS
from commodity_platform.paths import SQL_DIR

USE_CASES = Path(SQL_DIR) / "use_cases"
QUERIES = ("vwap.sql", "top_movers.sql", "alert_heatmap.sql")
# A range no other test writes to, so the session's shared warehouse can hold other rows.
T0 = datetime(2031, 3, 1, 9, 0)
CODES = ("UC_BRENT", "UC_GAS", "UC_WTI")


def _sql(name: str) -> str:
    return (USE_CASES / name).read_text(encoding="utf-8")


def _params(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": start.strftime("%Y-%m-%d %H:%M:%S"), "end": end.strftime("%Y-%m-%d %H:%M:%S")}


def test_every_use_case_file_is_covered() -> None:
    assert sorted(p.name for p in USE_CASES.glob("*.sql")) == sorted(QUERIES)


@pytest.mark.parametrize("name", QUERIES)
def test_queries_use_only_the_documented_parameters_and_real_tables(name: str) -> None:
    sql = _sql(name)
    # pyformat substitution reads every percent sign (comments included): only the two parameters may use it.
    assert re.sub(r"%\((start|end)\)s", "", sql).count("%") == 0, name
    assert {"%(start)s", "%(end)s"} <= set(re.findall(r"%\(\w+\)s", sql)), name
    assert "start" in sql.split("SELECT", 1)[0] and "end" in sql.split("SELECT", 1)[0], "documented at the top"
    tables = {
        t.name
        for t in sqlglot.parse_one(sql.replace("%(start)s", "'x'").replace("%(end)s", "'y'"), read="doris").find_all(
            sqlglot.exp.Table
        )
    }
    assert tables and tables <= {"energy_prices_rt", "price_1min_agg", "market_alerts"}, (name, tables)
    assert "commodity." not in sql and "symbol" not in sql


@pytest.mark.parametrize("name", QUERIES)
def test_queries_parse_in_the_doris_dialect_and_round_trip(name: str) -> None:
    literal = _sql(name).replace("%(start)s", "'2031-03-01 00:00:00'").replace("%(end)s", "'2031-03-02 00:00:00'")
    statements = sqlglot.parse(literal, read="doris")
    assert len(statements) == 1 and isinstance(statements[0], sqlglot.exp.Select), name
    # Generated back as Doris SQL and parsed again: nothing the dialect had to drop or could not express.
    regenerated = statements[0].sql(dialect="doris", comments=False)
    assert sqlglot.parse_one(regenerated, read="doris").sql(dialect="doris", comments=False) == regenerated
    # Every function is one sqlglot knows for Doris (an unknown one parses as Anonymous and would only
    # fail on the cluster).
    unknown = [f.name for f in statements[0].find_all(sqlglot.exp.Anonymous)]
    assert not unknown, (name, unknown)
    # The Grafana rendering parses too (the macros are replaced by Grafana, so stand-ins are used here).
    grafana = _sql(name)
    for parameter in GRAFANA_TIME_MACROS:
        grafana = grafana.replace(parameter, "FROM_UNIXTIME(1930000000)")
    sqlglot.parse_one(grafana, read="doris")


def test_use_case_manifests_carry_the_files_exactly() -> None:
    """The ConfigMap holds each file byte for byte; the dashboard the same SQL with Grafana's time macros."""
    plans = plan_phase(PHASES_BY_NAME["use-cases"], PhaseOptions())
    by_ref = {m.ref: m.body for plan in plans for m in plan.manifests}
    assert by_ref["ConfigMap/use-case-queries"]["data"] == {name: _sql(name) for name in QUERIES}
    dashboard = json.loads(by_ref["ConfigMap/grafana-dashboard-use-cases"]["data"]["use-cases.json"])
    panel_sql = [target["rawSql"] for panel in dashboard["panels"] for target in panel["targets"]]
    expected = []
    for name in QUERIES:
        sql = _sql(name)
        for parameter, macro in GRAFANA_TIME_MACROS.items():
            sql = sql.replace(parameter, macro)
        expected.append(sql)
    assert sorted(panel_sql) == sorted(expected)
    assert all("%(" not in sql and "$__timeFrom()" in sql and "$__timeTo()" in sql for sql in panel_sql)


# ---------------------------------------------------------------------------------------------- on MariaDB


def _bar(code: str, minute: int, prices: list[tuple[float, float]]) -> dict[str, Any]:
    """A bar built from (price, volume) ticks exactly as the bar definition says (open=first, close=last)."""
    volume = sum(Decimal(str(v)) for _, v in prices)
    notional = sum(Decimal(str(p)) * Decimal(str(v)) for p, v in prices)
    return {
        "commodity_code": code,
        "bar_start": T0 + timedelta(minutes=minute),
        "open_price": Decimal(str(prices[0][0])),
        "high_price": max(Decimal(str(p)) for p, _ in prices),
        "low_price": min(Decimal(str(p)) for p, _ in prices),
        "close_price": Decimal(str(prices[-1][0])),
        "volume": volume,
        "vwap": (notional / volume) if volume else None,
        "tick_count": len(prices),
    }


BARS = [
    _bar("UC_WTI", 0, [(80.0, 10), (81.0, 30)]),
    _bar("UC_WTI", 1, [(81.5, 5), (82.0, 5)]),
    _bar("UC_WTI", 2, [(84.0, 20)]),  # +5 % over the range
    _bar("UC_BRENT", 0, [(90.0, 1)]),
    _bar("UC_BRENT", 2, [(88.2, 2), (85.5, 2)]),  # -5 % over the range
    _bar("UC_GAS", 1, [(3.0, 0)]),  # no volume: no VWAP, but a price move of 0 %
    _bar("UC_GAS", 3, [(3.0, 0), (3.03, 100)]),  # +1 %
    _bar("UC_WTI", 70, [(200.0, 1)]),  # outside the queried range
]

ALERTS = [
    # (code, minutes after T0, severity, price_change_pct)
    ("UC_WTI", 5, "MEDIUM", 5.5),
    ("UC_WTI", 20, "CRITICAL", -21.0),
    ("UC_WTI", 61, "HIGH", 12.0),
    ("UC_GAS", 59, "HIGH", -10.5),
    ("UC_GAS", 125, "MEDIUM", 6.0),  # outside the queried range
    (None, 10, "HIGH", 11.0),  # no commodity: not attributable to a heatmap row
]


@pytest.fixture
def use_case_db(warehouse: Any) -> Any:
    from sandbox.services import DORIS_DATABASE

    conn = warehouse.mysql_connect(database=DORIS_DATABASE)
    cur = conn.cursor()

    def clean() -> None:
        cur.execute("DELETE FROM price_1min_agg WHERE commodity_code IN (%s, %s, %s)", CODES)
        cur.execute(
            "DELETE FROM market_alerts WHERE alert_time >= %s AND alert_time < %s",
            (T0 - timedelta(days=1), T0 + timedelta(days=1)),
        )

    clean()
    cur.executemany(
        "INSERT INTO price_1min_agg (commodity_code, bar_start, open_price, high_price, low_price, close_price,"
        " volume, vwap, tick_count) VALUES (%(commodity_code)s, %(bar_start)s, %(open_price)s, %(high_price)s,"
        " %(low_price)s, %(close_price)s, %(volume)s, %(vwap)s, %(tick_count)s)",
        BARS,
    )
    cur.executemany(
        "INSERT INTO market_alerts (commodity_code, alert_time, alert_id, alert_type, severity, price_change_pct,"
        " reference_price, current_price, message, ingest_time) VALUES (%s, %s, %s, %s, %s, %s, 100, 100, 'm', %s)",
        [
            (
                code,
                T0 + timedelta(minutes=m),
                f"a{i}",
                "PRICE_SPIKE" if pct > 0 else "PRICE_DROP",
                sev,
                pct,
                T0 + timedelta(minutes=m, seconds=2),
            )
            for i, (code, m, sev, pct) in enumerate(ALERTS)
        ],
    )
    yield cur
    clean()
    conn.close()


def _run(cur: Any, name: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    cur.execute(_sql(name), _params(start, end))
    columns = [c[0] for c in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


@pytest.mark.sandbox
def test_vwap_returns_the_bar_vwap_per_minute(use_case_db: Any) -> None:
    rows = _run(use_case_db, "vwap.sql", T0, T0 + timedelta(hours=1))
    expected = sorted(
        (b for b in BARS if b["bar_start"] < T0 + timedelta(hours=1) and b["vwap"] is not None),
        key=lambda b: (b["bar_start"], b["commodity_code"]),
    )
    assert [(r["time"], r["commodity_code"]) for r in rows] == [(b["bar_start"], b["commodity_code"]) for b in expected]
    for row, bar in zip(rows, expected, strict=True):
        assert row["vwap"] == pytest.approx(bar["vwap"], abs=Decimal("1e-9"))
        assert row["volume"] == bar["volume"] and row["tick_count"] == bar["tick_count"]
    # The zero-volume bar has no VWAP and is left out; the one-tick bar's VWAP is its price.
    assert ("UC_GAS", T0 + timedelta(minutes=1)) not in {(r["commodity_code"], r["time"]) for r in rows}
    assert next(r for r in rows if r["commodity_code"] == "UC_WTI" and r["time"] == T0 + timedelta(minutes=2))[
        "vwap"
    ] == Decimal("84")
    # The end of the range is exclusive.
    assert _run(use_case_db, "vwap.sql", T0, T0) == []


@pytest.mark.sandbox
def test_top_movers_ranks_by_absolute_change_from_first_open_to_last_close(use_case_db: Any) -> None:
    rows = _run(use_case_db, "top_movers.sql", T0, T0 + timedelta(hours=1))
    in_range = [b for b in BARS if b["bar_start"] < T0 + timedelta(hours=1)]
    expected = {}
    for code in CODES:
        bars = sorted((b for b in in_range if b["commodity_code"] == code), key=lambda b: b["bar_start"])
        first, last = bars[0]["open_price"], bars[-1]["close_price"]
        expected[code] = (round(100 * (last - first) / first, 2), len(bars), sum(b["volume"] for b in bars))
    order = sorted(CODES, key=lambda c: (-abs(expected[c][0]), c))
    assert [r["commodity_code"] for r in rows] == order
    for row in rows:
        change, bars, volume = expected[row["commodity_code"]]
        assert Decimal(row["change_pct"]) == change
        assert row["bars"] == bars and row["volume"] == volume
    wti = next(r for r in rows if r["commodity_code"] == "UC_WTI")
    assert (wti["first_price"], wti["last_price"]) == (Decimal("80"), Decimal("84"))
    assert (wti["high_price"], wti["low_price"]) == (Decimal("84"), Decimal("80"))
    # A wider range picks up the later WTI bar, which becomes the last close.
    wider = _run(use_case_db, "top_movers.sql", T0, T0 + timedelta(hours=2))
    assert next(r for r in wider if r["commodity_code"] == "UC_WTI")["last_price"] == Decimal("200")
    assert len(rows) <= 10


@pytest.mark.sandbox
def test_alert_heatmap_counts_alerts_per_commodity_and_hour(use_case_db: Any) -> None:
    end = T0 + timedelta(hours=2)
    rows = _run(use_case_db, "alert_heatmap.sql", T0, end)
    expected: dict[tuple[datetime, str], dict[str, Any]] = {}
    for code, minute, severity, pct in ALERTS:
        at = T0 + timedelta(minutes=minute)
        if code is None or not (T0 <= at < end):
            continue
        cell = expected.setdefault((at.replace(minute=0, second=0), code), {"alerts": 0, "sev": [], "pct": []})
        cell["alerts"] += 1
        cell["sev"].append(severity)
        cell["pct"].append(abs(Decimal(str(pct))))
    assert [(r["time"], r["commodity_code"]) for r in rows] == sorted(expected)
    for row in rows:
        cell = expected[(row["time"], row["commodity_code"])]
        assert row["alerts"] == cell["alerts"]
        assert (row["critical_alerts"], row["high_alerts"], row["medium_alerts"]) == tuple(
            cell["sev"].count(s) for s in ("CRITICAL", "HIGH", "MEDIUM")
        )
        assert row["max_abs_change_pct"] == max(cell["pct"])
    # Hour buckets are whole hours (the bucket of an alert at 09:59 is 09:00).
    assert {r["time"].minute for r in rows} == {0} and {r["time"].second for r in rows} == {0}

"""A live sandbox: synthetic data streamed into the warehouse the way the platform's jobs would write it.

While ``./dev ui`` runs, :class:`LiveFeed` keeps the sandbox MariaDB (standing in for Doris) fed, so the
scheduled ``streaming_data_quality`` DAG has something real to check and is green on a healthy sandbox:

* **ticks** into ``energy_prices_rt`` (what the enricher + Routine Load write): the project's generator
  (:func:`sandbox.ticks.generate_ticks`), a few ticks per second per commodity, each
  walk continuing from the previous second's last price; ``ingest_time`` = event time + 50-900 ms, so the
  ingest-latency p95 stays under the 1 s target;
* **1-minute bars** into ``price_1min_agg`` (the Flink price aggregator): each closed minute is rebuilt with
  :class:`commodity_platform.ohlc.backfill.OhlcBackfill`, i.e. the one bar definition
  (``include/sql/ohlc/bars.sql``), :data:`BAR_DELAY_SECONDS` after the minute ends (the aggregator's
  watermark lag);
* **market alerts** (the anomaly detector): a price move of more than 5 % within one minute; every
  :attr:`LiveFeed.alert_interval` one commodity's price jumps 6 % so that the detector has something to
  report (``market_alerts`` must have a row in the last day);
* **trading signals** (``vwap_reversion``: close vs VWAP of each new bar) and **weather observations**
  (every 5 minutes per station).

On :meth:`LiveFeed.start` the feed first writes a warm-up history (the last :data:`WARMUP_MINUTES`
minutes of ticks and bars, their signals and weather, and one alert when the last day has none), so the
first scheduled data-quality run is already green. A restart continues after the newest stored tick.

Faults (``./dev fault <kind>``, :func:`fault_main`) are requests written into the sandbox folder
(``.sandbox/<name>/live_feed/requests``); the feed applies them between two steps and answers in
``status.json``, which also carries its heartbeat. The CLI therefore needs no database credentials.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from commodity_platform.errors import ConfigError, PermanentError
from commodity_platform.ohlc.definition import COMMODITY_FILTER_MARKER, apply_commodity_filter, commodity_filter_sql
from commodity_platform.paths import SQL_DIR
from commodity_platform.sql_files import load_sql
from sandbox.services import DORIS_DATABASE, SANDBOX_HOME, Sandbox
from sandbox.ticks import COMMODITIES, Faults, Ticks, ensure_minute_index, generate_ticks, load_ticks

log = logging.getLogger(__name__)

LIVE_FEED_SQL_DIR = SQL_DIR / "live_feed"

#: Minutes of history written on start: the data-quality window (60 closed minutes ending 120 s before
#: as_of) plus the slack between the feed's start and the first scheduled run's data-interval end.
WARMUP_MINUTES = 70
#: Default rate per commodity; 8 commodities x 2 ticks/s keeps the 2-core machine nearly idle.
TICKS_PER_SECOND = 2.0
#: Ticks are written for event times up to this long ago, so ingest_time (event + <= 0.9 s) is in the past.
TICK_LAG_SECONDS = 1.0
#: A minute's bar is written this long after the minute ends: the price aggregator's watermark lag
#: (MAX_OUT_OF_ORDERNESS_SECONDS in include/flink/commodity_flink/transforms.py).
BAR_DELAY_SECONDS = 10
#: Anomaly detector rule (include/flink/commodity_flink/transforms.py: ANOMALY_THRESHOLD, SEVERITY_*_PCT):
#: a move strictly above 5 % within one minute alerts; HIGH from 10 %, CRITICAL from 20 %.
ANOMALY_THRESHOLD = Decimal("0.05")
SEVERITY_HIGH_PCT = Decimal("10")
SEVERITY_CRITICAL_PCT = Decimal("20")
#: Size of the scheduled price jump that feeds the detector (above the 5 % threshold).
JUMP_FACTOR = 1.06
#: Weather observations: NOAA station id -> market region; one observation each per interval.
WEATHER_STATIONS: dict[str, tuple[str, float]] = {
    "KPHL": ("PJM", 8.0), "KDFW": ("ERCOT", 18.0), "KORD": ("MISO", 4.0), "KJFK": ("NYISO", 7.0),
}
WEATHER_INTERVAL = timedelta(minutes=5)
#: Ticks older than this are deleted (hourly): twice the data-quality freshness look-back (1440 min).
TICK_RETENTION = timedelta(days=2)
SIGNAL_STRATEGY = "vwap_reversion"
#: A feed whose heartbeat is older than this is not running (the CLI refuses to talk to it).
HEARTBEAT_STALE_SECONDS = 15.0

FAULT_KINDS = ("stale-feed", "corrupt-bar", "invalid-ticks")
_EPOCH = datetime(1970, 1, 1)


def live_feed_sql(name: str, codes: Sequence[str] | None = None) -> tuple[str, dict[str, str]]:
    """``include/sql/live_feed/<name>`` with its commodity filter resolved, and the filter's parameters."""
    _, params = commodity_filter_sql(codes)
    sql = load_sql(LIVE_FEED_SQL_DIR / name, keep_markers=[COMMODITY_FILTER_MARKER])
    return apply_commodity_filter(sql, codes), params


def control_dir(sandbox_root: Path) -> Path:
    """Where the feed of the sandbox at ``sandbox_root`` takes fault requests and publishes its status."""
    return sandbox_root / "live_feed"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _ms(value: datetime) -> int:
    return int((value - _EPOCH) / timedelta(milliseconds=1))


def _from_ms(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(value))


@dataclass
class _Detector:
    """The anomaly detector's rule on the feed's own valid ticks, per commodity.

    Simplified from the Flink job's MATCH_RECOGNIZE ``(S M*? E) WITHIN 1 MINUTE ... SKIP TO LAST E``: a
    tick E alerts against the earliest tick S of the preceding minute from which it moved more than 5 %,
    and the next match starts at E. The feed's jumps are single steps, where both give the same alert.
    """

    window_ms: int = 60_000
    recent: dict[str, deque[tuple[int, int]]] = field(default_factory=dict)
    # Sliding minimum / maximum of the recent prices (monotonic deques): a tick is tested against them in
    # O(1), and the recent ticks are scanned only when it really alerts.
    lows: dict[str, deque[tuple[int, int]]] = field(default_factory=dict)
    highs: dict[str, deque[tuple[int, int]]] = field(default_factory=dict)

    def feed(self, ticks: Ticks) -> list[dict[str, Any]]:
        num, den = ANOMALY_THRESHOLD.as_integer_ratio()
        alerts = []
        codes = np.array([c if c else "" for c in ticks.code], dtype=object)
        valid = ((codes != "") & ~ticks.price_null & (ticks.price_e6 > 0) & ~ticks.volume_null
                 & (ticks.volume_e4 >= 0))
        # Per commodity in (event_time, price, volume) order, like the detector's ORDER BY.
        order = np.lexsort((ticks.volume_e4, ticks.price_e6, ticks.event_ms))
        for i in order[valid[order]]:
            code, at, price = str(codes[i]), int(ticks.event_ms[i]), int(ticks.price_e6[i])
            recent = self.recent.setdefault(code, deque())
            lows, highs = self.lows.setdefault(code, deque()), self.highs.setdefault(code, deque())
            for queue in (recent, lows, highs):
                while queue and at - queue[0][0] >= self.window_ms:
                    queue.popleft()
            # |price - p| > threshold * p, in exact integers: the lowest or the highest p decides.
            moved = bool(lows and (price - lows[0][1]) * den > num * lows[0][1]) or bool(
                highs and (highs[0][1] - price) * den > num * highs[0][1])
            if moved:
                start = next((t, p) for t, p in recent if abs(price - p) * den > num * p)
                alerts.append(_alert(code, start, (at, price), ingest_ms=int(ticks.ingest_ms[i])))
                for queue in (recent, lows, highs):
                    queue.clear()
            recent.append((at, price))
            while lows and lows[-1][1] >= price:
                lows.pop()
            lows.append((at, price))
            while highs and highs[-1][1] <= price:
                highs.pop()
            highs.append((at, price))
        return alerts

    def forget(self, codes: Sequence[str]) -> None:
        for code in codes:
            for state in (self.recent, self.lows, self.highs):
                state.pop(code, None)


def _alert(code: str, start: tuple[int, int], end: tuple[int, int], *, ingest_ms: int) -> dict[str, Any]:
    """A market_alerts row with the Flink detector's fields, id and message format."""
    (ref_ms, ref_e6), (at_ms, cur_e6) = start, end
    reference, current = Decimal(ref_e6).scaleb(-6), Decimal(cur_e6).scaleb(-6)
    pct = ((current - reference) * 100 / reference).quantize(Decimal("0.0001"))
    severity = ("CRITICAL" if abs(pct) >= SEVERITY_CRITICAL_PCT else "HIGH" if abs(pct) >= SEVERITY_HIGH_PCT
                else "MEDIUM")
    alert_type = "PRICE_SPIKE" if pct > 0 else "PRICE_DROP"
    alert_time = _from_ms(at_ms)
    sign = "+" if pct > 0 else ""
    return {
        "commodity_code": code, "alert_time": alert_time,
        "alert_id": f"{code}|{alert_time:%Y-%m-%d %H:%M:%S}.{alert_time.microsecond // 1000:03d}",
        "alert_type": alert_type, "severity": severity, "price_change_pct": pct,
        "reference_price": reference, "current_price": current,
        "message": f"{severity} {alert_type} {code} {sign}{pct} % in {(at_ms - ref_ms) // 1000} s "
                   f"({reference} -> {current})",
        "ingest_time": _from_ms(ingest_ms),
    }


@dataclass
class _Faults:
    """Faults currently injected by ``./dev fault``."""

    stale_codes: set[str] = field(default_factory=set)
    stale_all: bool = False
    invalid_share: float = 0.0
    invalid_since: datetime | None = None
    corrupted: list[tuple[str, datetime]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "stale-feed": "all" if self.stale_all else sorted(self.stale_codes),
            "invalid-ticks": {"live_share": self.invalid_share,
                              "since": self.invalid_since.isoformat() if self.invalid_since else None},
            "corrupt-bar": [{"commodity_code": c, "bar_start": b.isoformat()} for c, b in self.corrupted],
        }


class LiveFeed:
    """Streams synthetic ticks, bars, alerts, signals and weather into the sandbox warehouse.

    :param sandbox: a started :class:`Sandbox` whose MariaDB holds (or will hold) the platform schema.
    :param database: the platform database (the sandbox's ``doris_default`` schema).
    :param commodities: codes from the generator's catalogue, or how many of them (the first N).
    :param ticks_per_second: average ticks per second per commodity.
    :param alert_interval: how often one commodity's price jumps by 6 % (an alert for the detector).
    :param seed: random seed (default: from the clock); the same seed gives the same ticks for the same times.
    """

    def __init__(self, sandbox: Sandbox, *, database: str = DORIS_DATABASE, commodities: Sequence[str] | int = 8,
                 ticks_per_second: float = TICKS_PER_SECOND, warmup_minutes: int = WARMUP_MINUTES,
                 alert_interval: timedelta = timedelta(hours=4), step_seconds: float = 1.0,
                 seed: int | None = None) -> None:
        if ticks_per_second <= 0:
            raise ConfigError(f"LiveFeed: ticks_per_second must be > 0, got {ticks_per_second}")
        self.sandbox = sandbox
        self.database = database
        specs = list(COMMODITIES[:commodities]) if isinstance(commodities, int) else [
            c for c in COMMODITIES if c.code in set(commodities)]
        if not specs:
            raise ConfigError(f"LiveFeed: no known commodity in {commodities!r}")
        self.codes: list[str] = [s.code for s in specs]
        self.ticks_per_second = ticks_per_second
        self.warmup_minutes = warmup_minutes
        self.alert_interval = alert_interval
        self.step_seconds = step_seconds
        self.control = control_dir(sandbox.root)
        self._rng = np.random.default_rng(seed if seed is not None else time.time_ns() % 2**32)
        self._prices: dict[str, float] = {s.code: s.price for s in specs}
        self._detector = _Detector()
        self._faults = _Faults()
        self._jump_sign = 1.0
        self._next_jump: datetime | None = None
        self._tick_cursor: datetime | None = None  # event times below it are written
        self._bars_until: datetime | None = None  # bars of minutes below it are written
        self._next_weather: datetime | None = None
        self._next_prune: datetime | None = None
        self._answers: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.stats: dict[str, int] = {"ticks": 0, "bars_runs": 0, "alerts": 0, "signals": 0, "weather": 0,
                                      "step_errors": 0, "pruned_ticks": 0}

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Write the warm-up history (synchronously), then stream from a daemon thread. Idempotent."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._ensure_schema()
            # A new feed starts healthy: fault requests and answers of an earlier run are void.
            (self.control / "requests").mkdir(parents=True, exist_ok=True)
            for stale in (self.control / "requests").glob("*.json"):
                stale.unlink(missing_ok=True)
            self._faults = _Faults()
            self._warm_up()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"live-feed-{self.sandbox.name}", daemon=True)
            self._thread.start()
            self._write_status()
            log.info("live feed on %s.%s: %s at %.1f ticks/s each", self.sandbox.name, self.database,
                     ",".join(self.codes), self.ticks_per_second)

    def stop(self) -> None:
        """Stop streaming (waits for the current step); the data stays. Idempotent."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            if thread is not None:
                thread.join(timeout=60)
                if thread.is_alive():
                    log.warning("live feed thread did not stop within 60 s")
            status = self.control / "status.json"
            with contextlib.suppress(OSError):
                status.unlink(missing_ok=True)

    def __enter__(self) -> LiveFeed:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self.step_seconds):
            try:
                self._apply_requests()
                self.step(_utcnow())
                failures = 0
            except Exception:  # a streaming job keeps running through warehouse hiccups
                failures += 1
                self.stats["step_errors"] += 1
                log.exception("live feed step failed (%d in a row)", failures)
                self._stop.wait(min(30.0, 2.0 ** min(failures, 5)))
            with contextlib.suppress(OSError):
                self._write_status()

    # -- database ----------------------------------------------------------------------------------------

    def _connect(self) -> Any:
        return self.sandbox.mysql_connect(self.database)

    def _connect_for_load(self) -> Any:
        """A connection allowing ``LOAD DATA LOCAL INFILE`` (the generator's fast loader, which also fills
        the enricher's columns), from the sandbox's own ``doris_default`` settings."""
        import MySQLdb

        doris = json.loads(self.sandbox.connection_env()["AIRFLOW_CONN_DORIS_DEFAULT"])
        return MySQLdb.connect(host=doris["host"], port=int(doris["port"]), user=doris["login"],
                               passwd=doris["password"], db=self.database, local_infile=1, autocommit=False,
                               charset="utf8mb4")

    def _load(self, batches: Sequence[Ticks]) -> None:
        conn = self._connect_for_load()
        try:
            for ticks in batches:
                load_ticks(conn, ticks, method="infile")
                self.stats["ticks"] += len(ticks)
        finally:
            conn.close()

    def _query(self, name: str, params: dict[str, Any] | None = None, *,
               codes: Sequence[str] | None = None) -> tuple[list[tuple[Any, ...]], int]:
        sql, filter_params = live_feed_sql(name, codes)
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, {**filter_params, **(params or {})})
            return list(cur.fetchall()), cur.rowcount
        finally:
            conn.close()

    def _insert_many(self, name: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        sql, _ = live_feed_sql(name)
        conn = self._connect()
        try:
            conn.cursor().executemany(sql, rows)
        finally:
            conn.close()

    def _ensure_schema(self) -> None:
        """Apply the platform migrations when the tables are missing (a fresh sandbox); give a tick table that
        an older version of the project created the minute index the bars now read."""
        rows = self.sandbox.query(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name IN "
            "('energy_prices_rt', 'price_1min_agg', 'market_alerts', 'trading_signals', 'weather_events_rt')",
            [self.database], database=None)
        if rows[0][0] == 5:
            ensure_minute_index(self.sandbox, self.database)
            return
        from commodity_platform.doris.tasks import run_migrations

        log.info("live feed: platform tables missing in %s; applying the migrations", self.database)
        key = "AIRFLOW_CONN_DORIS_DEFAULT"
        doris = json.loads(self.sandbox.connection_env()[key])
        doris["schema"] = self.database
        # The migration runner reads doris_default through Airflow; a process that has not configured
        # Airflow (./dev ui's own) uses the sandbox's Airflow home rather than ~/airflow.
        overrides = {key: json.dumps(doris)}
        if "AIRFLOW_HOME" not in os.environ:
            overrides["AIRFLOW_HOME"] = str(self.sandbox.root / "airflow")
        previous = {name: os.environ.get(name) for name in overrides}
        os.environ.update(overrides)
        try:
            run_migrations(installed_by="live_feed")
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    # -- warm-up -------------------------------------------------------------------------------------------

    def _warm_up(self) -> None:
        now = _utcnow()
        history_start = _floor_minute(now) - timedelta(minutes=self.warmup_minutes)
        (newest_tick, newest_alert), = self._query("newest_times.sql")[0]
        tick_from = history_start
        if newest_tick is not None and newest_tick >= history_start:
            tick_from = min(newest_tick + timedelta(milliseconds=1), now)
        # One alert in the last day: the detector must have something to report from the first run on.
        if newest_alert is None or newest_alert < now - timedelta(hours=23):
            self._next_jump = max(tick_from, now - timedelta(minutes=35))
        else:
            self._next_jump = newest_alert + self.alert_interval
        self._tick_cursor = tick_from
        self._bars_until = history_start  # rebuild the whole warm-up window: heals an earlier session's bars
        self._next_weather = _ceil_to(tick_from, WEATHER_INTERVAL)
        self._next_prune = now
        self.step(now)
        log.info("live feed warm-up from %s: %s", tick_from.isoformat(), self.stats)

    # -- one step --------------------------------------------------------------------------------------------

    def step(self, now: datetime) -> None:
        """Bring every table up to ``now``: ticks (and alerts), closed bars (and signals), weather."""
        assert self._tick_cursor is not None and self._bars_until is not None and self._next_weather is not None
        self._write_ticks_until(now - timedelta(seconds=TICK_LAG_SECONDS))
        bars_end = _floor_minute(now - timedelta(seconds=BAR_DELAY_SECONDS))
        if bars_end > self._bars_until:
            self._write_bars(self._bars_until, bars_end)
            self._bars_until = bars_end
        weather = []
        while self._next_weather <= now - timedelta(seconds=TICK_LAG_SECONDS):
            weather += self._weather_rows(self._next_weather)
            self._next_weather += WEATHER_INTERVAL
        self._insert_many("insert_weather_event.sql", weather)
        self.stats["weather"] += len(weather)
        if self._next_prune is not None and now >= self._next_prune:
            self.stats["pruned_ticks"] += self._query("prune_ticks.sql", {"before": now - TICK_RETENTION})[1]
            self._next_prune = now + timedelta(hours=1)

    def _active_codes(self) -> list[str]:
        if self._faults.stale_all:
            return []
        return [c for c in self.codes if c not in self._faults.stale_codes]

    def _write_ticks_until(self, until: datetime) -> None:
        """Ticks for event times [cursor, until), in pieces of at most 10 minutes split at price jumps."""
        assert self._tick_cursor is not None
        ticks_batch: list[Ticks] = []
        alerts: list[dict[str, Any]] = []
        while self._tick_cursor < until:
            upper = min(until, self._tick_cursor + timedelta(minutes=10))
            if self._next_jump is not None and self._tick_cursor < self._next_jump < upper:
                upper = self._next_jump
            if self._next_jump is not None and self._tick_cursor >= self._next_jump:
                self._jump()
            ticks = self._generate(self._tick_cursor, upper)
            if ticks is not None:
                alerts += self._detector.feed(ticks)
                self._prices.update(ticks.last_valid_prices())
                ticks_batch.append(ticks)
            self._tick_cursor = upper
        self._load(ticks_batch)
        self._insert_many("insert_market_alert.sql", alerts)
        self.stats["alerts"] += len(alerts)

    def _generate(self, start: datetime, end: datetime, *, invalid_share: float | None = None,
                  codes: Sequence[str] | None = None) -> Ticks | None:
        codes = list(codes if codes is not None else self._active_codes())
        seconds = (end - start).total_seconds()
        if not codes or seconds <= 0:
            return None
        count = int(self._rng.poisson(self.ticks_per_second * seconds * len(codes)))
        if count == 0:
            return None
        share = self._faults.invalid_share if invalid_share is None else invalid_share
        return generate_ticks(start, end, n_ticks=count, commodities=codes, faults=Faults(invalid=share),
                              quiet_fraction=0.0, seed=int(self._rng.integers(2**31)),
                              start_prices=self._prices)

    def _jump(self) -> None:
        """Move one commodity's price by 6 % (alternately up and down): the detector's next alert."""
        active = self._active_codes()
        if active:
            code = active[int(self._rng.integers(len(active)))]
            self._prices[code] *= JUMP_FACTOR if self._jump_sign > 0 else 1 / JUMP_FACTOR
            self._jump_sign = -self._jump_sign
            log.info("live feed: %s price jumps to %.4f", code, self._prices[code])
        assert self._next_jump is not None
        self._next_jump += self.alert_interval

    def _write_bars(self, start: datetime, end: datetime) -> None:
        """The bars of the closed minutes [start, end) with the backfill's code (the one bar definition)."""
        from commodity_platform.ohlc.backfill import OhlcBackfill
        from commodity_platform.ohlc.window import Window

        window = Window(start.replace(tzinfo=timezone.utc), end.replace(tzinfo=timezone.utc), source="live_feed")
        OhlcBackfill(self._connect, doris=False).run(window)
        self.stats["bars_runs"] += 1
        self._write_signals(start, end)

    def _write_signals(self, start: datetime, end: datetime) -> None:
        """vwap_reversion: BUY below VWAP, SELL above it (by > 0.05 %), HOLD otherwise; one per new bar."""
        rows, _ = self._query("closed_bars.sql", {"window_start": start, "window_end": end})
        # Signals are derived when the bar is written: BAR_DELAY_SECONDS after the minute ends.
        self._query("delete_trading_signals.sql", {
            "strategy": SIGNAL_STRATEGY, "window_start": start + timedelta(minutes=1),
            "window_end": end + timedelta(minutes=1)})
        signals = []
        for code, bar_start, close, vwap in rows:
            deviation = float(close / vwap - 1) if vwap else 0.0
            signal_time = bar_start + timedelta(minutes=1, seconds=BAR_DELAY_SECONDS,
                                                milliseconds=int(self._rng.integers(0, 500)))
            signals.append({
                "commodity_code": code, "signal_time": signal_time,
                "signal_type": "SELL" if deviation > 0.0005 else "BUY" if deviation < -0.0005 else "HOLD",
                "strategy": SIGNAL_STRATEGY, "strength": round(min(1.0, abs(deviation) * 100), 4),
                "price": close, "vwap": vwap,
                "ingest_time": signal_time + timedelta(milliseconds=int(self._rng.integers(50, 800))),
            })
        self._insert_many("insert_trading_signal.sql", signals)
        self.stats["signals"] += len(signals)

    def _weather_rows(self, at: datetime) -> list[dict[str, Any]]:
        rows = []
        for station, (region, mean_c) in WEATHER_STATIONS.items():
            daily = 6.0 * math.sin((at.hour + at.minute / 60 - 9) / 24 * 2 * math.pi)
            rows.append({
                "station_id": station, "event_time": at, "region": region, "event_type": "observation",
                "temperature_c": round(mean_c + daily + float(self._rng.normal(0, 0.5)), 2),
                "precipitation_mm": round(max(0.0, float(self._rng.normal(0, 0.4))), 2),
                "wind_speed_ms": round(abs(float(self._rng.normal(4, 2))), 2), "source": "NOAA",
                "ingest_time": at + timedelta(milliseconds=int(self._rng.integers(100, 800))),
            })
        return rows

    # -- faults ----------------------------------------------------------------------------------------------

    def _apply_requests(self) -> None:
        requests = sorted((self.control / "requests").glob("*.json"))
        for path in requests:
            try:
                request = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # still being written (the CLI renames into place, so only a foreign file)
            path.unlink(missing_ok=True)
            try:
                answer = {"ok": True, **self.apply_fault(request["kind"], **request.get("args", {}))}
            except (ConfigError, PermanentError, KeyError, TypeError) as err:
                answer = {"ok": False, "error": str(err)}
            self._answers[str(request.get("id"))] = answer
            self._write_status()

    def apply_fault(self, kind: str, **args: Any) -> dict[str, Any]:
        """Inject ``kind`` (or ``clear``) now; returns what was done. Called from the feed's own thread."""
        now = _utcnow()
        if kind == "stale-feed":
            return self._fault_stale(now, args.get("commodity"), int(args.get("backdate_minutes", 6)))
        if kind == "corrupt-bar":
            return self._fault_corrupt(now, args.get("commodity"), int(args.get("minutes_ago", 10)),
                                       float(args.get("factor", 1.07)))
        if kind == "invalid-ticks":
            return self._fault_invalid(now, float(args.get("share", 0.03)))
        if kind == "clear":
            return self._clear(now)
        raise ConfigError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}, clear")

    def _codes_arg(self, commodity: str | None) -> list[str]:
        if commodity in (None, "", "all"):
            return list(self.codes)
        if commodity not in self.codes:
            raise ConfigError(f"commodity {commodity!r} is not fed; fed: {', '.join(self.codes)} or all")
        return [commodity]

    def _fault_stale(self, now: datetime, commodity: str | None, backdate_minutes: int) -> dict[str, Any]:
        if not 0 <= backdate_minutes <= 60:
            raise ConfigError(f"stale-feed: backdate_minutes must be 0..60, got {backdate_minutes}")
        codes = self._codes_arg(commodity)
        if commodity in (None, "", "all"):
            self._faults.stale_all = True
        self._faults.stale_codes.update(codes)
        self._detector.forget(codes)
        # As if the source had stopped backdate_minutes ago: its newer ticks, bars and signals never came.
        cut = _floor_minute(now) - timedelta(minutes=backdate_minutes)
        removed = {}
        if backdate_minutes:
            for table, name in (("energy_prices_rt", "delete_ticks_since.sql"),
                                ("price_1min_agg", "delete_bars_since.sql"),
                                ("trading_signals", "delete_signals_since.sql")):
                removed[table] = self._query(name, {"cut": cut}, codes=codes)[1]
        return {"kind": "stale-feed", "commodities": "all" if self._faults.stale_all else codes,
                "stopped_at": cut.isoformat(), "removed_rows": removed}

    def _fault_corrupt(self, now: datetime, commodity: str | None, minutes_ago: int, factor: float) -> dict[str, Any]:
        code = commodity or self.codes[0]
        self._codes_arg(code)
        latest = _floor_minute(now) - timedelta(minutes=minutes_ago)
        rows, _ = self._query("newest_bar_before.sql", {"commodity_code": code, "latest": latest})
        if not rows:
            raise ConfigError(f"corrupt-bar: {code} has no bar at or before {latest.isoformat()}")
        bar_start, close = rows[0]
        self._query("corrupt_bar.sql", {"factor": Decimal(str(factor)), "commodity_code": code,
                                        "bar_start": bar_start})
        self._faults.corrupted.append((code, bar_start))
        return {"kind": "corrupt-bar", "commodity_code": code, "bar_start": bar_start.isoformat(),
                "close_price": str(close), "factor": factor}

    def _fault_invalid(self, now: datetime, share: float) -> dict[str, Any]:
        if not 0.01 < share < 0.5:
            raise ConfigError(f"invalid-ticks: share must be above 1 % and below 50 %, got {share}")
        # The burst lands in minutes every data-quality window of the next ~45 minutes covers (windows end
        # settle_seconds = 120 s before as_of), so the next scheduled run sees it.
        burst_start = _floor_minute(now) - timedelta(minutes=12)
        burst_end = _floor_minute(now) - timedelta(minutes=3)
        (total,), = self._query("count_ticks.sql", {"window_start": _floor_minute(now) - timedelta(minutes=62),
                                                    "window_end": _floor_minute(now) - timedelta(minutes=2)})[0]
        count = max(10, math.ceil(share * int(total) / (1 - share)))
        ticks = generate_ticks(burst_start, burst_end, n_ticks=count, commodities=self.codes,
                               faults=Faults(invalid=1.0), quiet_fraction=0.0,
                               seed=int(self._rng.integers(2**31)), start_prices=self._prices)
        self._load([ticks])
        self._faults.invalid_share = share
        self._faults.invalid_since = min(burst_start, self._faults.invalid_since or burst_start)
        return {"kind": "invalid-ticks", "burst_ticks": len(ticks), "burst_window": [burst_start.isoformat(),
                burst_end.isoformat()], "ticks_in_last_hour": int(total), "live_invalid_share": share}

    def _clear(self, now: datetime) -> dict[str, Any]:
        from commodity_platform.ohlc.backfill import OhlcBackfill
        from commodity_platform.ohlc.window import Window

        done: dict[str, Any] = {"kind": "clear", "was": self._faults.describe()}
        for code, bar_start in self._faults.corrupted:
            start = bar_start.replace(tzinfo=timezone.utc)
            OhlcBackfill(self._connect, doris=False).run(
                Window(start, start + timedelta(minutes=1), commodity_codes=(code,), source="live_feed"))
        if self._faults.invalid_since is not None:
            done["invalid_ticks_removed"] = self._query("delete_invalid_ticks_since.sql",
                                                        {"since": self._faults.invalid_since})[1]
        self._faults = _Faults()
        return done

    # -- status -------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "sandbox": self.sandbox.name, "database": self.database,
                "heartbeat": time.time(), "running": self.running, "commodities": self.codes,
                "faults": self._faults.describe(), "stats": dict(self.stats), "answers": self._answers}

    def _write_status(self) -> None:
        self.control.mkdir(parents=True, exist_ok=True)
        tmp = self.control / f".status-{os.getpid()}.tmp"
        tmp.write_text(json.dumps(self.status(), default=str), encoding="utf-8")
        tmp.replace(self.control / "status.json")


def _ceil_to(value: datetime, step: timedelta) -> datetime:
    offset = (value - _EPOCH) % step
    return value if not offset else value + (step - offset)


# -- the CLI side: ./dev fault <kind> ----------------------------------------------------------------------


def read_status(sandbox_root: Path) -> dict[str, Any]:
    """The running feed's status; :class:`PermanentError` when no feed is running there."""
    path = control_dir(sandbox_root) / "status.json"
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise PermanentError(f"no live feed at {sandbox_root} ({path} not readable): start ./dev ui first") from err
    age = time.time() - float(status.get("heartbeat", 0))
    if age > HEARTBEAT_STALE_SECONDS:
        raise PermanentError(f"the live feed at {sandbox_root} last reported {age:.0f} s ago: is ./dev ui running?")
    return status


def request_fault(sandbox_root: Path, kind: str, *, timeout_s: float = 60.0, **args: Any) -> dict[str, Any]:
    """Ask the running feed of ``sandbox_root`` to inject ``kind`` (or ``clear``); returns its answer."""
    if kind not in (*FAULT_KINDS, "clear"):
        raise ConfigError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}, clear")
    read_status(sandbox_root)
    requests = control_dir(sandbox_root) / "requests"
    request_id = uuid.uuid4().hex
    tmp = requests / f".{request_id}.tmp"
    tmp.write_text(json.dumps({"id": request_id, "kind": kind, "args": args}), encoding="utf-8")
    tmp.replace(requests / f"{time.time_ns()}-{request_id}.json")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = read_status(sandbox_root).get("answers", {}).get(request_id)
        if answer is not None:
            if not answer.get("ok"):
                raise ConfigError(str(answer.get("error")))
            return answer
        time.sleep(0.2)
    raise PermanentError(f"the live feed did not answer the {kind} request within {timeout_s:.0f} s")


_FAULT_HELP = """\
Inject a fault into the live sandbox of a running `./dev ui` (its feed applies it within a second):

  stale-feed [--commodity CODE|all] [--backdate-minutes 6]
      the feed stops writing ticks (hence bars and signals) for CODE (default all); the last N minutes of
      them are removed as if the source had stopped then, so the next scheduled run sees a lag > 300 s.
      Turns `freshness` red; alerts StreamingDataQualityCheckFailed{check="freshness"}, StreamingDataDelayed.
  corrupt-bar [--commodity CODE] [--minutes-ago 10]
      one stored bar (the newest of CODE at least N minutes old) gets close price +7 %.
      Turns `ohlc_correctness` red; alerts StreamingDataQualityCheckFailed{check="ohlc_correctness"},
      StreamingOhlcMismatch.
  invalid-ticks [--share 0.03]
      a burst of invalid ticks (3 % of the last hour's ticks) 3-12 minutes back, and 3 % of new ticks invalid.
      Turns `error_rate` red; alerts StreamingDataQualityCheckFailed{check="error_rate"},
      StreamingHighErrorRate{source="ticks"}.
  clear
      heal everything: the feed resumes, the corrupted bar is rebuilt, the injected invalid ticks are removed.
  status
      the feed's active faults and counters.
"""


def fault_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev fault", description=_FAULT_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=[*FAULT_KINDS, "clear", "status"])
    parser.add_argument("--sandbox", default="ui", help="sandbox folder name under .sandbox/ (default: ui)")
    parser.add_argument("--commodity", help="stale-feed / corrupt-bar: the commodity code (stale-feed: or all)")
    parser.add_argument("--backdate-minutes", type=int, default=6, help="stale-feed: minutes already stale")
    parser.add_argument("--minutes-ago", type=int, default=10, help="corrupt-bar: the bar's minimum age")
    parser.add_argument("--share", type=float, default=0.03, help="invalid-ticks: share of invalid ticks")
    args = parser.parse_args(argv)
    root = SANDBOX_HOME / args.sandbox
    try:
        if args.kind == "status":
            answer: dict[str, Any] = read_status(root)
            answer.pop("answers", None)
        else:
            options: dict[str, Any] = {
                "stale-feed": {"commodity": args.commodity, "backdate_minutes": args.backdate_minutes},
                "corrupt-bar": {"commodity": args.commodity, "minutes_ago": args.minutes_ago},
                "invalid-ticks": {"share": args.share},
                "clear": {},
            }[args.kind]
            answer = request_fault(root, args.kind, **options)
    except (ConfigError, PermanentError) as err:
        sys.stderr.write(f"./dev fault {args.kind}: {err}\n")
        return 2
    sys.stdout.write(json.dumps(answer, indent=2, default=str) + "\n")
    if args.kind not in ("status", "clear"):
        sys.stdout.write("The next scheduled streaming_data_quality run (every 5 minutes) turns red; "
                         "`./dev fault clear` heals.\n")
    return 0

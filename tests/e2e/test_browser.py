"""The Airflow UI in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright (PyPI),
using the system browser (no browser download). Opens the ohlc_backfill trigger form, fills the window,
triggers, watches the run succeed in the UI and keeps screenshots of the form and of the run's graph."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.e2e.conftest import E2E_DATABASE
from tests.ohlc.reference import assert_bars_match, reference_bars, stored_bars

pytestmark = pytest.mark.sandbox

CHROMIUM = "/usr/bin/chromium"  # Debian package chromium (scripts/setup.sh)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START = datetime(2026, 6, 3, 10, 0)
END = START + timedelta(hours=1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: scripts/setup.sh installs the Debian package chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(page: Any, url: str) -> None:
    """Open ``url``; if the auth manager asks for a login, take the sandbox's all-admins login route."""
    page.goto(url)
    if "/auth/" in page.url or "login" in page.url:
        page.goto(f"{url.split('/dags')[0]}/auth/token/login?next={url}")
    page.get_by_role("button", name="Trigger Dag").wait_for()


def test_trigger_ohlc_backfill_from_the_ui_and_watch_it_succeed(migrated, sandbox, e2e_query, load_e2e_ticks, browser,
                                                                  tmp_path) -> None:
    airflow = migrated
    ticks = load_e2e_ticks(START, END, n_ticks=3_000, commodities=2, seed=5)
    airflow.set_paused("ohlc_backfill", False)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nscreenshots: {shots}")

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open(page, f"{airflow.url}/dags/ohlc_backfill")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    # The Params render with their titles; start/end are the window of the rebuild.
    assert "Window start (UTC)" in form.inner_text() and "Window end (UTC)" in form.inner_text()
    form.locator("#element_start").fill(START.strftime("%Y-%m-%dT%H:%M:%SZ"))
    form.locator("#element_end").fill(END.strftime("%Y-%m-%dT%H:%M:%SZ"))
    form.screenshot(path=str(shots / "trigger-form.png"))
    form.get_by_role("button", name="Trigger", exact=True).click()

    page.wait_for_url("**/dags/ohlc_backfill/runs/**")
    run_id = unquote(page.url.split("/runs/", 1)[1].split("?", 1)[0].split("/", 1)[0])
    page.get_by_role("button", name="Show Graph (Press g)").click()
    header = page.locator("h2", has_text=run_id).first.locator("xpath=..")
    deadline = time.monotonic() + 240
    while "Success" not in header.inner_text():
        assert "Failed" not in header.inner_text(), header.inner_text()
        assert time.monotonic() < deadline, f"run {run_id} not shown as Success: {header.inner_text()}"
        page.wait_for_timeout(2000)
    # Every task node of the graph shows success.
    nodes = page.get_by_text("success", exact=True)
    nodes.first.wait_for()
    assert nodes.count() == 3
    page.screenshot(path=str(shots / "run-graph.png"))

    run = airflow.dag_run("ohlc_backfill", run_id)
    assert run["state"] == "success" and run["conf"]["start"] == "2026-06-03T10:00:00Z", run
    conn = sandbox.mysql_connect(E2E_DATABASE)
    try:
        assert_bars_match(stored_bars(conn, START, END), reference_bars(ticks.rows(), START, END))
    finally:
        conn.close()
    assert (shots / "trigger-form.png").stat().st_size > 10_000 and (shots / "run-graph.png").stat().st_size > 10_000

"""The dashboard in headless Chromium: pick a scenario, change a knob, run, see the chart change."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_web_api import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture()
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian chromium, chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    profile = tempfile.TemporaryDirectory(prefix="materiel-chrome-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,1800",
                 f"--user-data-dir={profile.name}"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


def _stock_trace_sum(driver: Any) -> float:
    total: float = driver.execute_script(
        "const d = document.getElementById('chart-stocks')._fullData || [];"
        "let s = 0; for (const t of d) { const y = t.y; if (!y || !y.length) continue;"
        " for (let i = 0; i < y.length; i++) s += (+y[i] || 0); } return s;"
    )
    return total


def test_dashboard_runs_and_the_chart_changes(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    server = Server(tmp_path / "dash.db").start()
    try:
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 90)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-runs") == "1")
        assert browser.execute_script("return typeof Plotly") == "object"
        Select(browser.find_element(By.ID, "scenario-a")).select_by_value("status-quo")
        browser.find_element(By.ID, "run").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-runs") == "2")
        before = _stock_trace_sum(browser)
        knob = browser.find_element(By.ID, "consumption_scale")
        knob.clear()
        knob.send_keys("3")
        browser.find_element(By.ID, "run").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-runs") == "3")
        after = _stock_trace_sum(browser)
        assert before > 0 and after != before  # procurement policies answer the heavier use
        rows = browser.find_elements(By.CSS_SELECTOR, "#targets tbody tr")
        assert rows
        browser.find_element(By.ID, "variant-id").send_keys("heavy-use")
        browser.find_element(By.ID, "save").click()
        wait.until(lambda d: "saved heavy-use" in d.find_element(By.ID, "status").text)
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        logs = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
        assert not logs, logs
    finally:
        server.stop()


def test_dashboard_sends_the_token_given_once_in_the_address(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = Server(tmp_path / "dash-token.db", token="dash-s3cret").start()
    try:
        browser.get(server.url + "/?token=dash-s3cret")
        wait = WebDriverWait(browser, 90)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-runs") == "1")
        assert "token" not in browser.current_url  # removed from the address bar
        assert browser.find_elements(By.CSS_SELECTOR, "#targets tbody tr")
        stored = browser.execute_script("return sessionStorage.getItem('materiel-token')")
        assert stored == "dash-s3cret"
    finally:
        server.stop()

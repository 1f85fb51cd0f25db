"""The dashboard in headless Chromium against a real server on loopback, network blocked.

Regression tests for the four items issue 18 found broken (knob defaults overriding a
saved variant, out-of-order answers, /docs blank offline, notes and whole numbers),
plus URL state, inline errors, stale results, the 800 px layout and the cold load.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_web_api import Server, httpx

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WAIT_S = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("dash") / "dash.db").start()
    yield s
    s.stop()


@pytest.fixture()
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian chromium, chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    profile = tempfile.TemporaryDirectory(prefix="materiel-chrome-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
        # no name resolves but loopback: nothing leaves the machine
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile.name}",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


def _wait(driver: Any, cond: Any, timeout: float = WAIT_S) -> Any:
    """Wait until ``cond``; an element the page re-rendered between finding it and
    reading it (stale) is looked up again on the next poll, as a missing one is."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(cond)


def _runs(driver: Any) -> int:
    value = driver.execute_script("return document.body.dataset.runs || '0'")
    return int(value)


def _wait_runs(driver: Any, n: int) -> None:
    """Wait until the page has shown ``n`` runs and is idle; on a timeout, fail with what the
    page said (its status line, runs, busy flag and console), so a rare failure names itself."""
    from selenium.common.exceptions import TimeoutException

    try:
        _wait(
            driver,
            lambda d: (
                _runs(d) >= n and d.execute_script("return document.body.dataset.busy") == "0"
            ),
        )
    except TimeoutException:
        state = driver.execute_script(
            "return {status: document.getElementById('status').textContent,"
            " runs: document.body.dataset.runs, busy: document.body.dataset.busy}"
        )
        console = [entry.get("message") for entry in driver.get_log("browser")][-10:]
        pytest.fail(f"waited {WAIT_S} s for {n} runs: page {state}, console {console}")


def _stock_trace_sum(driver: Any) -> float:
    total: float = driver.execute_script(
        "const d = document.getElementById('chart-stocks')._fullData || [];"
        "let s = 0; for (const t of d) { const y = t.y; if (!y || !y.length) continue;"
        " if (String(t.name).startsWith('target')) continue;"
        " for (let i = 0; i < y.length; i++) s += (+y[i] || 0); } return s;"
    )
    return total


def _target_rows(driver: Any) -> list[list[str]]:
    rows: list[list[str]] = driver.execute_script(
        "return [...document.querySelectorAll('#targets tbody tr')]"
        ".map(tr => [...tr.cells].map(td => td.textContent));"
    )
    return rows


def _type(driver: Any, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, element_id)
    box.clear()
    if text:
        box.send_keys(text)


def _severe(driver: Any) -> list[Any]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _off_loopback(driver: Any, server: Server) -> list[str]:
    urls: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    here = urlsplit(server.url).netloc
    return [
        u for u in urls if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != here
    ]


def _shot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.set_window_size(width, min(int(height) + 100, 6000))
    driver.save_screenshot(str(path))
    return path


def _shot_of(driver: Any, element_id: str, name: str) -> Path:
    """A screenshot of one part of the page (readable where the whole page is long)."""
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    driver.find_element(By.ID, element_id).screenshot(str(path))
    return path


def test_dashboard_runs_the_chart_changes_and_cold_load(browser: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # the server's own first run (loading, kernel cache) is not the page's load time
    warm = httpx.post(
        server.url + "/api/simulate?charts=true", json={"scenario": "action-plan"}, timeout=300
    )
    assert warm.status_code == 200
    browser.execute_cdp_cmd("Performance.enable", {"timeDomain": "threadTicks"})
    browser.get(server.url + "/")
    _wait_runs(browser, 1)
    cpu = {
        m["name"]: m["value"]
        for m in browser.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    }
    timing = browser.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "const p = performance.getEntriesByType('resource')"
        ".find(e => e.name.endsWith('/static/plotly.min.js'));"
        "return Object.assign({first_byte: n.responseStart, dom: n.domContentLoadedEventEnd,"
        " plotly_fetched: p.responseEnd}, window.materielTimings);"
    )
    cold_s = (timing["firstChartsMs"] - timing["first_byte"]) / 1000
    load = os.getloadavg()[0]
    print(
        "\ncold load (ms from navigation): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(timing.items(), key=lambda kv: kv[1]))
        + f"; first byte to charts drawn {cold_s:.2f} s (target <= 2 s); page main-thread CPU"
        f" {cpu['ThreadTime']:.2f} s (script {cpu['ScriptDuration']:.2f} s, layout"
        f" {cpu['LayoutDuration']:.2f} s), renderer CPU {cpu['ProcessTime']:.2f} s;"
        f" load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    # the page's own work fits the 2 s, however loaded the machine (CPU time, not wall)
    assert cpu["ThreadTime"] <= 2.0
    if load < (os.cpu_count() or 1) / 2:  # wall clock only where the CPUs are not shared out
        assert cold_s <= 2.0
    assert browser.execute_script("return typeof Plotly") == "object"
    card = browser.find_element(By.CSS_SELECTOR, "#card-a .card-body").text
    assert "Action plan" in card and "Assumptions" in card and "Contracting takes 3 months" in card
    assert (
        browser.find_element(By.ID, "a-contracting_delay_months").get_attribute("placeholder")
        == "3"
    )
    Select(browser.find_element(By.ID, "scenario-a")).select_by_value("status-quo")
    browser.find_element(By.ID, "run").click()
    _wait_runs(browser, 2)
    before = _stock_trace_sum(browser)
    # a 12-month extra contracting delay postpones every delivery, so less is in stock
    # (with procurement policies on the loop, consumption has no sign: no use, fewer orders)
    _type(browser, "a-extra_contracting_delay_months", "12")
    assert browser.find_element(By.ID, "stale").is_displayed()
    browser.find_element(By.ID, "run").click()
    _wait_runs(browser, 3)
    assert not browser.find_element(By.ID, "stale").is_displayed()
    after = _stock_trace_sum(browser)
    assert before > after > 0
    assert _target_rows(browser)
    # units on the axes, readable bar labels, a text table behind each chart, a cost panel
    layout = browser.execute_script("return document.getElementById('chart-stocks').layout")
    assert layout["yaxis"]["title"]["text"] == "stock (units)"
    bars = browser.execute_script(
        "return document.getElementById('chart-time')._fullData.filter(t => t.type === 'bar')"
        ".map(t => t.textposition)"
    )
    assert bars and set(bars) == {"outside"}
    for table in ("table-stocks", "table-time", "table-capacity"):
        assert browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"), table
    cost = browser.find_elements(By.CSS_SELECTOR, "#cost tbody tr")
    assert len(cost) == 1 and float(cost[0].find_elements(By.TAG_NAME, "td")[1].text) > 0
    # Ukraine's 155mm guns: usable against nominal stock and the systems that went short
    # (with the delay most of UKR's 155mm demand goes unmet, and the short systems are named)
    assert browser.find_element(By.ID, "weapons").is_displayed()
    (weapons,) = browser.find_elements(By.CSS_SELECTOR, "#weapons-table tbody tr")
    cells = [td.text for td in weapons.find_elements(By.TAG_NAME, "td")]
    assert cells[0] == "status-quo (national)" and cells[1] == "UKR shell-155mm"
    assert cells[5].endswith("%") and float(cells[5].rstrip("%")) > 0
    assert "m777" in cells[6] and "%" in cells[6]
    no_scroll = browser.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert no_scroll
    _shot(browser, "wide")
    assert not _off_loopback(browser, server)
    assert not _severe(browser)


def test_blank_knobs_keep_what_a_saved_variant_stores(browser: Any, server: Server) -> None:
    """Broken 1: knobs defaulted to 1 and 0, overriding the variant's stored policy."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    body = {
        "extends": "status-quo",
        "policy": {"consumption_scale": 2.5, "extra_contracting_delay_months": 6},
    }
    made = httpx.post(server.url + "/api/scenarios", json={"id": "heavy-late", "body": body})
    assert made.status_code == 201, made.text
    api = httpx.post(server.url + "/api/simulate", json={"scenario": "heavy-late"}, timeout=120)
    expected = {t["target"]: round(t["stock_at_by"]) for t in api.json()["summary"]["targets"]}
    browser.get(server.url + "/")
    _wait_runs(browser, 1)
    Select(browser.find_element(By.ID, "scenario-a")).select_by_value("heavy-late")
    _wait(
        browser,
        lambda d: (
            "2.5"
            in (d.find_element(By.ID, "a-consumption_scale").get_attribute("placeholder") or "")
        ),
    )
    browser.find_element(By.ID, "run").click()
    _wait_runs(browser, 2)
    shown = {r[1]: int(r[3].replace(",", "")) for r in _target_rows(browser)}
    assert shown == expected
    card = browser.find_element(By.CSS_SELECTOR, "#card-a .card-body").text
    assert "extends status-quo" in card


def test_a_new_run_supersedes_the_one_in_flight(browser: Any, server: Server) -> None:
    """Broken 2: a slow earlier answer must never replace a later run's results."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.url + "/")
    _wait_runs(browser, 1)
    # the next simulate request is held back 3 s before it is sent (and honours abort)
    browser.execute_script(
        "const real = window.fetch; let held = false;"
        "window.fetch = async (url, opts) => {"
        "  if (!held && String(url).includes('/api/simulate')) {"
        "    held = true; await new Promise(r => setTimeout(r, 3000)); }"
        "  return real(url, opts); };"
    )
    Select(browser.find_element(By.ID, "scenario-a")).select_by_value("status-quo")
    browser.find_element(By.ID, "run").click()
    assert browser.find_element(By.ID, "run").get_attribute("aria-busy") == "true"
    Select(browser.find_element(By.ID, "scenario-a")).select_by_value("hague-pledge")
    browser.find_element(By.ID, "run").click()
    _wait(browser, lambda d: "done" in d.find_element(By.ID, "status").text)
    time.sleep(4.5)  # past the held request
    rows = _target_rows(browser)
    assert rows and {r[0] for r in rows} == {"hague-pledge"}
    assert json.loads(browser.execute_script("return document.body.dataset.shown"))["a"] == (
        "hague-pledge"
    )
    assert browser.find_element(By.ID, "run").get_attribute("aria-busy") == "false"


DOCS_PAGES = [("/docs", ".swagger-ui .info .title"), ("/redoc", "[role=navigation], .api-content")]


@pytest.mark.parametrize(("page", "marker"), DOCS_PAGES)
def test_docs_render_with_nothing_leaving_loopback(
    browser: Any, server: Server, page: str, marker: str
) -> None:
    """Broken 3: /docs and /redoc loaded their assets from a CDN and were blank offline."""
    from selenium.webdriver.common.by import By

    browser.get(server.url + page)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, marker), timeout=60)
    _wait(browser, lambda d: "materiel" in d.find_element(By.TAG_NAME, "body").text, timeout=60)
    if page == "/docs":
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"), timeout=60)
    html = browser.page_source
    assert "cdn.jsdelivr" not in html and "fonts.googleapis" not in html
    assert not _off_loopback(browser, server)
    assert not _severe(browser)
    _shot(browser, page.strip("/"))


def test_whole_numbers_are_checked_at_the_field_and_the_note_stays(
    browser: Any, server: Server
) -> None:
    """Broken 4: 'abc' and 2.5 in a whole-number field; the multi-year note vanished."""
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    _wait_runs(browser, 1)
    for bad, why in (("abc", "whole number"), ("2.5", "whole number"), ("-1", "range")):
        _type(browser, "a-contracting_delay_months", bad)
        error = browser.find_element(By.ID, "a-contracting_delay_months-error")
        assert error.is_displayed() and why in error.text, bad
        browser.find_element(By.ID, "run").click()
        time.sleep(0.3)
        assert _runs(browser) == 1, f"{bad!r} was run"
        field = browser.find_element(By.ID, "a-contracting_delay_months")
        assert field.get_attribute("aria-invalid") == "true"
    _type(browser, "a-contracting_delay_months", "6")
    assert not browser.find_element(By.ID, "a-contracting_delay_months-error").is_displayed()
    _type(browser, "a-multi_year_share", "0.5")
    _type(browser, "variant-id", "with-share")
    browser.find_element(By.ID, "save").click()
    _wait(browser, lambda d: "saved with-share" in d.find_element(By.ID, "status").text)
    time.sleep(1.0)
    note = browser.find_element(By.ID, "save-note")
    assert note.is_displayed() and "multi-year share" in note.text
    stored = httpx.get(server.url + "/api/scenarios/with-share").json()
    assert stored["body"]["policy"] == {"contracting_delay_months": 6}


def test_server_problems_land_at_the_field_and_old_results_go(browser: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    _wait_runs(browser, 1)
    assert _target_rows(browser)
    # let the page send what the server refuses (range 0-20), to see where the 422 lands
    browser.execute_script("KNOBS.find(k => k.name === 'consumption_scale').max = 1000;")
    _type(browser, "a-consumption_scale", "50")
    browser.find_element(By.ID, "run").click()
    error = browser.find_element(By.ID, "a-consumption_scale-error")
    _wait(browser, lambda d: error.text)
    assert "20" in error.text
    assert "422" not in browser.find_element(By.ID, "status").text
    assert not _target_rows(browser)
    assert browser.execute_script("return document.getElementById('chart-stocks').data") is None


def test_a_link_reproduces_the_view(browser: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By

    query = (
        "?a=status-quo&b=action-plan&view=diff&cap=amraam"
        "&ka.consumption_scale=2&kb.extra_contracting_delay_months=6"
    )
    browser.get(server.url + "/" + query)
    _wait_runs(browser, 1)
    assert browser.find_element(By.ID, "scenario-a").get_attribute("value") == "status-quo"
    assert browser.find_element(By.ID, "scenario-b").get_attribute("value") == "action-plan"
    assert browser.find_element(By.ID, "a-consumption_scale").get_attribute("value") == "2"
    b_delay = browser.find_element(By.ID, "b-extra_contracting_delay_months")
    assert b_delay.get_attribute("value") == "6"
    assert {r[0] for r in _target_rows(browser)} == {"A: status-quo", "B: action-plan"}
    assert browser.find_element(By.ID, "diff").is_displayed()
    diff_rows = browser.find_elements(By.CSS_SELECTOR, "#diff-table tbody tr")
    assert diff_rows
    title = browser.execute_script(
        "return document.getElementById('chart-capacity').layout.title.text"
    )
    assert title.startswith("amraam")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#cost tbody tr")) == 3
    # the shown numbers agree with the API for the same request
    api = httpx.post(
        server.url + "/api/compare",
        params={"charts": False},
        timeout=120,
        json={
            "a": {"scenario": "status-quo", "knobs": {"consumption_scale": 2}},
            "b": {"scenario": "action-plan", "knobs": {"extra_contracting_delay_months": 6}},
        },
    ).json()
    want = {f"B: action-plan {t['target']}": round(t["stock_at_by"]) for t in api["b"]["targets"]}
    got = {f"{r[0]} {r[1]}": int(r[3].replace(",", "")) for r in _target_rows(browser)}
    assert want.items() <= got.items()
    # change the view in the page; its own URL brings the same view back
    _type(browser, "a-consumption_scale", "")
    _type(browser, "b-multi_year_share", "0.5")
    browser.find_element(By.ID, "run").click()
    _wait_runs(browser, 2)
    rows, total, link = _target_rows(browser), _stock_trace_sum(browser), browser.current_url
    assert "ka.consumption_scale" not in link and "kb.multi_year_share=0.5" in link
    _shot(browser, "compare-diff")
    browser.get(link)
    _wait_runs(browser, 1)
    assert _target_rows(browser) == rows
    assert _stock_trace_sum(browser) == pytest.approx(total)
    assert browser.find_element(By.ID, "diff").is_displayed()


def test_usable_at_800px_with_accessible_names(browser: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(800, 1000)
    browser.get(server.url + "/?b=status-quo")
    _wait_runs(browser, 1)
    width = browser.execute_script("return window.innerWidth")
    assert width <= 800
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"scrolls sideways by {overflow}px"
    names = browser.execute_script(
        "return [...document.querySelectorAll('select, input, button')].filter(e => !("
        " e.getAttribute('aria-label')"
        " || (e.labels && e.labels.length && e.labels[0].textContent.trim())"
        " || (e.tagName === 'BUTTON' && e.textContent.trim()))).map(e => e.id);"
    )
    assert names == []
    for chart in browser.find_elements(By.CSS_SELECTOR, ".chart"):
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
    _shot(browser, "800px")


def _csv_stock(server: Server, scenario: str, party: str, product: str) -> dict[str, float]:
    """A party's stock of a munition by month, from the download (not the chart route)."""
    import csv
    import io

    got = httpx.post(
        server.url + "/api/download",
        params={"variable": "stock"},
        json={"scenario": scenario},
        timeout=120,
    )
    assert got.status_code == 200, got.text
    rows = csv.DictReader(io.StringIO(got.text))
    return {
        r["month"]: float(r["quantity"])
        for r in rows
        if r["party"] == party and r["product"] == product
    }


def test_a_party_and_a_munition_view(browser: Any, server: Server) -> None:
    """Per-country view: a party's own stocks, and the capacity of lines located there."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.url + "/?a=action-plan&party=DEU&sp=shell-155mm&cap=shell-155mm")
    _wait_runs(browser, 1)
    assert browser.find_element(By.ID, "party").get_attribute("value") == "DEU"
    layout = browser.execute_script("return document.getElementById('chart-stocks').layout")
    assert "(DEU)" in layout["title"]["text"]
    traces = browser.execute_script(
        "return document.getElementById('chart-stocks')._fullData"
        ".filter(t => !String(t.name).startsWith('target'))"
        ".map(t => [t.name, Array.from(t.x), Array.from(t.y)])"
    )
    assert len(traces) == 1  # one munition, one run
    want = _csv_stock(server, "action-plan", "DEU", "shell-155mm")
    got = {str(x)[:7]: float(y) for x, y in zip(traces[0][1], traces[0][2], strict=True)}
    assert got == pytest.approx(want)
    capacity = browser.execute_script("return document.getElementById('chart-capacity').layout")
    assert capacity["title"]["text"].startswith("shell-155mm in DEU")
    lines = browser.execute_script(
        "return Array.from(document.getElementById('chart-capacity')._fullData"
        ".filter(t => t.type === 'heatmap')[0].y)"
    )
    assert lines and all(name.endswith("(DEU)") for name in lines)
    assert browser.find_elements(By.CSS_SELECTOR, "#table-stocks tbody tr")
    # every party again, one munition: only the target groups that count it
    Select(browser.find_element(By.ID, "party")).select_by_value("")
    assert browser.find_element(By.ID, "stale").is_displayed()
    assert "party=" not in browser.current_url and "sp=shell-155mm" in browser.current_url
    browser.find_element(By.ID, "run").click()
    _wait_runs(browser, 2)
    titles = browser.execute_script(
        "return (document.getElementById('chart-stocks').layout.annotations || []).map(a => a.text)"
    )
    assert titles and all(t.startswith("shell-155mm:") for t in titles)
    _shot(browser, "party-product")
    _shot_of(browser, "results", "party-product-results")


def test_hindcast_against_the_public_record(browser: Any, server: Server) -> None:
    """The hindcast draws the model against data/record.csv, in- and out-of-sample apart."""
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/?a=hindcast-2022")
    _wait_runs(browser, 1)
    _wait(browser, lambda d: d.find_element(By.ID, "record").is_displayed())
    api = httpx.post(server.url + "/api/record", json={"scenario": "hindcast-2022"}, timeout=120)
    assert api.status_code == 200, api.text
    rows = [r for r in api.json()["rows"] if r["sample"] != "outside run"]
    assert {r["sample"] for r in rows} == {"in-sample", "out-of-sample"}
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#record-table tbody tr')]"
        ".map(tr => [...tr.cells].map(td => td.textContent));"
    )
    assert [(r[0], r[3], r[4], r[6]) for r in shown] == [
        (r["date"], f"{r['record']:,.0f}", f"{r['model']:,.0f}", r["sample"]) for r in rows
    ]
    drawn = browser.execute_script(
        "return document.getElementById('chart-record')._fullData.map(t => [t.name, t.x.length])"
    )
    n_in = sum(r["sample"] == "in-sample" for r in rows)
    assert [n for _, n in drawn] == [n_in, len(rows) - n_in]
    assert drawn[0][0].startswith("in-sample") and drawn[1][0].startswith("out-of-sample")
    summary = browser.find_element(By.ID, "record-summary").text
    assert "in-sample" in summary and "out-of-sample" in summary
    _shot(browser, "hindcast-record")
    _shot_of(browser, "record", "hindcast-record-panel")
    browser.set_window_size(800, 1000)  # the wide record table scrolls in its box, not the page
    _wait(browser, lambda d: d.execute_script("return window.innerWidth") <= 800)
    sideways = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    from selenium.common.exceptions import TimeoutException

    # Plotly redraws responsive charts after the resize event, one after another;
    # if it never fits, the assertion below says by how much
    with contextlib.suppress(TimeoutException):
        _wait(browser, lambda d: d.execute_script(sideways) <= 0, timeout=10)
    overflow = browser.execute_script(sideways)
    assert overflow <= 0, f"scrolls sideways by {overflow}px"


def test_static_assets_and_json_are_gzipped(server: Server) -> None:
    for path in ("/static/plotly.min.js", "/static-docs/swagger-ui-bundle.js"):
        r = httpx.get(server.url + path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip", path
    js = "/static/plotly.min.js"
    raw = httpx.get(server.url + js, headers={"Accept-Encoding": "identity"})
    with httpx.stream("GET", server.url + js, headers={"Accept-Encoding": "gzip"}) as zipped:
        sent = b"".join(zipped.iter_raw())
    assert gzip.decompress(sent) == raw.content
    print(f"\n{js}: {len(raw.content) / 1e6:.2f} MB raw, {len(sent) / 1e6:.2f} MB gzipped")
    r = httpx.post(
        server.url + "/api/simulate?charts=true",
        json={"scenario": "status-quo"},
        headers={"Accept-Encoding": "gzip"},
        timeout=120,
    )
    assert r.headers.get("content-encoding") == "gzip"


def test_monte_carlo_on_the_page_with_progress_and_cancel(browser: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/?a=status-quo")
    _wait_runs(browser, 1)
    _type(browser, "mc-samples", "2.5")
    browser.find_element(By.ID, "mc-run").click()
    assert "whole number" in browser.find_element(By.ID, "mc-samples-error").text
    _type(browser, "mc-samples", "2000")
    browser.find_element(By.ID, "mc-run").click()
    _wait(browser, lambda d: d.find_element(By.ID, "mc-cancel").is_enabled())
    _wait(browser, lambda d: "running" in d.find_element(By.ID, "mc-status").text)
    browser.find_element(By.ID, "mc-cancel").click()
    _wait(browser, lambda d: d.execute_script("return document.body.dataset.mc") == "idle")
    assert "cancelled" in browser.find_element(By.ID, "mc-status").text
    _type(browser, "mc-samples", "24")
    _type(browser, "mc-seed", "7")
    browser.find_element(By.ID, "mc-run").click()
    _wait(browser, lambda d: d.find_element(By.ID, "mc").is_displayed())
    shown = {
        r[0]: r[3]
        for r in browser.execute_script(
            "return [...document.querySelectorAll('#mc-table tbody tr')]"
            ".map(tr => [...tr.cells].map(td => td.textContent));"
        )
    }
    job = httpx.post(
        server.url + "/api/jobs/montecarlo",
        json={"scenario": "status-quo", "samples": 24, "seed": 7},
    ).json()
    deadline = time.monotonic() + WAIT_S
    while (got := httpx.get(f"{server.url}/api/jobs/{job['id']}").json())["status"] != "done":
        assert got["status"] in ("queued", "running") and time.monotonic() < deadline, got
        time.sleep(0.5)
    want = {
        t["target"]: f"{math.floor(t['p_met_by_date'] * 100 + 0.5)}%"
        for t in got["result"]["targets"]
    }
    assert shown == want
    assert browser.execute_script("return document.getElementById('chart-mc').data.length") == 3
    # fans of stock over time: every target group and recorded party/munition, a table behind
    fans = got["result"]["fans"]
    options = browser.execute_script(
        "return [...document.getElementById('mc-series').options].map(o => o.textContent)"
    )
    assert len(options) == len(fans["groups"]) + len(fans["cells"]) and fans["cells"]
    first = fans["groups"][0]
    assert options[0].startswith(first["label"])
    drawn = browser.execute_script(
        "return document.getElementById('chart-mc-fan')._fullData.map(t => [t.name, t.y.length])"
    )
    assert [n for n, _ in drawn][:5] == ["p5", "p5–p95", "p25", "p25–p75", "median"]
    assert {size for _, size in drawn[:5]} == {len(fans["months"])}
    january = fans["months"].index(next(m for m in fans["months"] if m.endswith("-01")))
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#table-mc-fan tbody tr')]"
        ".map(tr => [...tr.cells].map(td => td.textContent));"
    )
    assert cells[0][0] == fans["months"][january]
    assert cells[0][3] == f"{first['p50'][january]:,.0f}"  # the median column
    _type(browser, "a-consumption_scale", "2")
    assert browser.find_element(By.ID, "mc-stale").is_displayed()
    _shot(browser, "montecarlo")
    _shot_of(browser, "mc", "montecarlo-panel")


def test_vendored_plotly_matches_the_plotly_py_version() -> None:
    """The dashboard's cartesian bundle is the plotly.js that plotly.py's figures target."""
    import re

    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    from materiel.web.routes.pages import PLOTLY_JS, STATIC

    def version(text: str) -> str:
        found = re.search(r"plotly\.js (?:\([a-z -]+\) )?v(\d+\.\d+\.\d+)", text[:400])
        assert found, text[:400]
        return found.group(1)

    vendored = (STATIC / PLOTLY_JS).read_text(encoding="utf-8")
    assert version(vendored) == version(str(get_plotlyjs()))
    assert (STATIC / "LICENSE-plotly.js.txt").read_text(encoding="utf-8").startswith("MIT License")


def test_planning_on_the_page(browser: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.url + "/?a=status-quo")
    _wait_runs(browser, 1)
    assert not browser.find_element(By.ID, "stale").is_displayed()  # a fresh page is not stale
    _type(browser, "plan-budget", "abc")
    browser.find_element(By.ID, "plan-run").click()
    assert "not a number" in browser.find_element(By.ID, "plan-budget-error").text
    _type(browser, "plan-budget", "1")
    browser.find_element(By.ID, "plan-run").click()
    _wait(browser, lambda d: d.find_element(By.ID, "plan").is_displayed())
    assert browser.execute_script("return document.body.dataset.plan") == "idle"
    job = httpx.post(server.url + "/api/jobs/plan", json={"scenario": "status-quo"}).json()
    deadline = time.monotonic() + WAIT_S
    while (got := httpx.get(f"{server.url}/api/jobs/{job['id']}").json())["status"] != "done":
        assert got["status"] in ("queued", "running") and time.monotonic() < deadline, got
        time.sleep(0.5)
    plan = got["result"]
    summary = browser.find_element(By.ID, "plan-summary").text
    assert f"{plan['contracts']} contracts" in summary
    assert summary.startswith("Feasible" if plan["feasible"] else "Not feasible")
    rows = browser.find_elements(By.CSS_SELECTOR, "#plan-targets tbody tr")
    assert len(rows) == len(plan["targets"])
    lines = browser.find_elements(By.CSS_SELECTOR, "#plan-contracts tbody tr")
    assert len(lines) == len(plan["by_year"]["delivered"])
    _shot(browser, "plan")
    # save the plan's scenario as a variant, pick it as A and run it: the simulator meets
    # what the plan meets
    _type(browser, "plan-variant-id", "sq-plan")
    browser.find_element(By.ID, "plan-save").click()
    _wait(
        browser, lambda d: d.execute_script("return document.body.dataset.planSaved") == "sq-plan"
    )
    stored = httpx.get(server.url + "/api/scenarios/sq-plan").json()
    assert stored["source"] == "stored" and stored["body"]["extends"] == "status-quo"
    Select(browser.find_element(By.ID, "scenario-a")).select_by_value("sq-plan")
    browser.find_element(By.ID, "run").click()
    _wait_runs(browser, 2)
    met = {r[1]: r[5] for r in _target_rows(browser)}
    assert met == {t["id"]: "yes" if t["met"] else "no" for t in plan["targets"]}


def test_dashboard_sends_the_token_given_once_in_the_address(browser: Any, tmp_path: Path) -> None:
    """With --token every read needs it: the page takes ?token= once, keeps it for the tab
    (sessionStorage), removes it from the address bar and sends it on every request."""
    from selenium.webdriver.common.by import By

    server = Server(tmp_path / "dash-token.db", token="dash-s3cret").start()
    try:
        browser.get(server.url + "/?token=dash-s3cret")
        _wait_runs(browser, 1)
        assert "token" not in browser.current_url  # removed from the address bar
        assert browser.find_elements(By.CSS_SELECTOR, "#targets tbody tr")
        stored = browser.execute_script("return sessionStorage.getItem('materiel-token')")
        assert stored == "dash-s3cret"
    finally:
        server.stop()


def test_download_from_the_page(browser: Any, server: Server, tmp_path: Path) -> None:
    """The Download button saves the CSV zip of scenario A with A's knobs: the same tables
    as the API gives for that request."""
    import io
    import zipfile

    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    browser.get(server.url + "/?a=status-quo&ka.consumption_scale=1.5")
    _wait_runs(browser, 1)
    browser.find_element(By.ID, "download").click()
    _wait(browser, lambda d: "downloaded" in d.find_element(By.ID, "status").text)
    saved = tmp_path / "status-quo-csv.zip"
    _wait(browser, lambda d: saved.exists() and zipfile.is_zipfile(saved))
    body = {"scenario": "status-quo", "knobs": {"consumption_scale": 1.5}}
    api = httpx.post(server.url + "/api/download", params={"format": "csv"}, json=body, timeout=120)
    assert api.status_code == 200, api.text
    with zipfile.ZipFile(saved) as got, zipfile.ZipFile(io.BytesIO(api.content)) as want:
        assert sorted(got.namelist()) == sorted(want.namelist())
        stock = next(n for n in want.namelist() if n.endswith("stock.csv"))
        assert got.read(stock) == want.read(stock)
    unscaled = httpx.post(
        server.url + "/api/download",
        params={"format": "csv"},
        timeout=120,
        json={"scenario": "status-quo"},
    )
    with zipfile.ZipFile(io.BytesIO(unscaled.content)) as plain, zipfile.ZipFile(saved) as got:
        assert plain.read(stock) != got.read(stock)  # the knob reached the download


def test_menus_cards_and_notes_explain_the_scenarios(browser: Any, server: Server) -> None:
    """Menus show titles, the card names its sources, a knob that cannot act says why at
    the field, and a link to a scenario this server lacks says so (and shows a real one)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.url + "/?a=no-such-scenario")
    _wait_runs(browser, 1)
    _wait(browser, lambda d: "no scenario" in d.find_element(By.ID, "status").text)
    assert '"no-such-scenario"' in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "scenario-a").get_attribute("value") == "action-plan"
    assert {r[0] for r in _target_rows(browser)} == {"action-plan"}
    assert "a=action-plan" in browser.current_url
    listed = {
        o.get_attribute("value"): o.text
        for o in Select(browser.find_element(By.ID, "scenario-a")).options
    }
    catalogue = httpx.get(server.url + "/api/scenarios").json()
    for s in catalogue:
        if s["id"] != "dataset" and s["source"] == "embedded":
            assert listed[s["id"]] == s["title"], s["id"]
    Select(browser.find_element(By.ID, "scenario-a")).select_by_value("status-quo")
    _wait(browser, lambda d: "Status quo" in d.find_element(By.CSS_SELECTOR, "#card-a h3").text)
    card = browser.find_element(By.CSS_SELECTOR, "#card-a .card-body").text
    assert "Sources" in card and "assumption" in card
    # a spending target with budgets off changes nothing: the field says so, until budgets
    # are on
    _type(browser, "a-spending_target_pct_gdp", "3")
    note = browser.find_element(By.ID, "a-spending_target_pct_gdp-note")
    assert "Budgets are off" in note.text
    Select(browser.find_element(By.ID, "a-budget")).select_by_value("defer")
    _wait(browser, lambda d: note.text == "")
    for knob in ("multi_year_share", "spending_target_pct_gdp", "consumption_scale"):
        help_text = browser.find_element(By.ID, f"a-{knob}-help").text
        assert help_text, knob
    assert "orders, not capacity" in browser.find_element(By.ID, "a-multi_year_share-help").text

"""The HTML report: offline, complete, its headline figures equal to the metrics."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

import materiel
from materiel.analysis.result import Result
from materiel.analysis.spending import spending_table
from materiel.cli import app
from materiel.months import parse_month
from materiel.present import charts
from materiel.present.report import Fact, Headline, build_report, headlines, write_report
from materiel.scenario.provenance import sources_used

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    return {sid: materiel.simulate(sid) for sid in materiel.embedded_ids()}


@pytest.fixture(scope="module")
def compared(
    results: dict[str, Result], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int]:
    """The comparison report's file and its number of charts."""
    path = tmp_path_factory.mktemp("report") / "compare.html"
    report = write_report([results["status-quo"], results["action-plan"]], path)
    return path, len(report.figures)


# --- offline: nothing is loaded from a network ------------------------------------------

_LOADS = [
    r"<script\b[^>]*\bsrc\s*=",  # every script is inline
    r"<link\b[^>]*\bhref\s*=\s*[\"']?(https?:)?//",
    r"<(img|iframe|source|embed|video|audio|object)\b[^>]*\b(src|data)\s*=\s*[\"']?(https?:)?//",
    r"@import",
    r"url\(\s*[\"']?(https?:)?//",
]


def _markup(page: str) -> str:
    """The page without the bodies of its inline scripts (plotly.js names CDNs in strings
    for map traces it never loads here)."""
    return re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S | re.I)


def assert_offline(page: str) -> None:
    markup = _markup(page)
    for pattern in _LOADS:
        assert not re.search(pattern, markup, re.I), pattern
    assert "cdn" not in markup.lower()
    assert page.count("<script") == markup.count("<script")
    # plotly.js is inlined once
    assert page.count("Plotly.newPlot") >= 1
    assert len(re.findall(r"/\*\*\s*\* plotly\.js v", page)) == 1


def test_report_for_every_embedded_scenario(results: dict[str, Result], tmp_path: Path) -> None:
    for sid, r in results.items():
        path = tmp_path / f"{sid}.html"
        report = write_report(r, path)
        page = path.read_text(encoding="utf-8")
        assert page == report.html
        assert_offline(page)
        assert f"materiel report: {sid}" in page
        assert page.count('class="js-plotly-plot"') == 0  # made by plotly.js when viewed
        assert page.count('<div class="chart">') == len(report.figures)
        assert "Sources behind every figure" in page and f"Assumptions of {sid}" in page
        for line in r.scenario.assumptions:
            assert _esc(line) in page
        assert report.headlines and _esc(report.headlines[0].text) in page


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_comparison_report_content(results: dict[str, Result], compared: tuple[Path, int]) -> None:
    page = compared[0].read_text(encoding="utf-8")
    assert_offline(page)
    assert "action-plan compared with status-quo" in page
    findings = page.split('<h2 id="findings">')[1].split("</ul>")[0]
    assert "months earlier than status-quo" in findings
    # the differences table holds each run's first month at or above the target
    differences = page.split('id="differences"')[1].split("<h2")[0]
    assert "action-plan - status-quo: targets" in differences
    first = {
        sid: results[sid].targets().set_index("target").first_met
        for sid in ("status-quo", "action-plan")
    }
    sq, ap = (first[sid]["europe-155mm-2028"] for sid in ("status-quo", "action-plan"))
    row = f"<td>europe-155mm-2028</td><td>2028-12</td><td>{sq}</td><td>{ap}</td>"
    assert row in differences.replace('<td class="num">', "<td>")
    assert page.index('id="findings"') < page.index('id="stocks"')
    for table in (
        "Targets",
        "Production: capacity and what binds",
        "Deliveries and aid",
        "Recipients: consumption, supply and shortfall",
    ):
        assert page.count(f"<h3>{table}") == 2
    # every cited source used is listed with its link, assumptions labelled
    for r in (results["status-quo"], results["action-plan"]):
        for sid in sources_used(r.scenario):
            assert f"<td>{sid}</td>" in page
            src = r.scenario.sources[sid]
            if src.url:
                assert f'<a href="{_esc(src.url)}" rel="noopener noreferrer">' in page
    assert 'class="assumed"' in page


def test_budget_tables_when_budgets_apply(tmp_path: Path) -> None:
    file = tmp_path / "budgeted.toml"
    file.write_text('id = "budgeted"\nextends = "action-plan"\n\n[policy]\nbudget = "defer"\n')
    r = materiel.simulate(materiel.load(str(file)))
    report = build_report(r)
    assert "Munitions budgets (defer)" in report.html
    assert "Contracts deferred by the budget" in report.html
    budget = next(h for h in report.headlines if h.topic == "budget")
    _check_facts([r], [budget])


def test_write_is_atomic(results: dict[str, Result], tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    path.write_text("old")
    with pytest.raises(ValueError):
        write_report([], path)
    assert path.read_text() == "old"
    write_report(results["hindcast-2022"], path)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temp file left


# --- headline figures equal the metrics ---------------------------------------------------


def _row(rows: list[dict[str, Any]], **key: Any) -> dict[str, Any]:
    hits = [r for r in rows if all(r[k] == v for k, v in key.items())]
    assert len(hits) == 1, key
    return hits[0]


_METRICS: dict[int, dict[str, Any]] = {}


def _metrics(r: Result) -> dict[str, Any]:
    if id(r) not in _METRICS:
        _METRICS[id(r)] = r.metrics()
    return _METRICS[id(r)]


def _metric(runs: dict[str, Result], fact: Fact) -> Any:
    r = runs[fact.scenario]
    m = _metrics(r)
    if fact.table == "targets":
        return _row(m["targets"], target=fact.key)[fact.field]
    if fact.table == "munitions":
        return _row(m["munitions"], product=fact.key)[fact.field]
    if fact.table == "recipient_shortfall":
        party, product = fact.key.split("/")
        return _row(m["recipient_shortfall"], party=party, product=product)[fact.field]
    if fact.table == "cost":
        return m["cost"][fact.field]
    if fact.table == "compare":
        ref = fact.field.split(":", 1)[1]
        mine = _row(m["targets"], target=fact.key)["first_met"]
        theirs = _row(_metrics(runs[ref])["targets"], target=fact.key)["first_met"]
        return parse_month(theirs) - parse_month(mine)
    if fact.table == "aid":
        aid = m["aid"]
        return (
            len(aid) if fact.field == "pledges" else sum(a["share_delivered"] < 0.999 for a in aid)
        )
    if fact.table == "budget":
        b = m["budget"]
        return {
            "deferred_contracts": len(b["deferred_contracts"]),
            "never_signed": sum(not d["signed_in_horizon"] for d in b["deferred_contracts"]),
            "overruns": len(b["overruns"]),
        }[fact.field]
    if fact.table == "spending":
        pct = spending_table(r.scenario, int(fact.key)).pct_gdp_nato.astype(float)
        return {
            "with_data": int(pct.notna().sum()),
            "meeting_2": int((pct >= 2.0).sum()),
            "meeting_3.5": int((pct >= 3.5).sum()),
        }[fact.field]
    if fact.table == "derived" and fact.field == "munitions_short":
        rows = [x for x in m["recipient_shortfall"] if x["party"] == fact.key]
        return sum(x["share_unmet"] > 1e-9 for x in rows)
    raise AssertionError(f"unknown fact table {fact.table}")


def _check_facts(runs: list[Result], found: list[Headline]) -> None:
    by_id = {r.scenario.id: r for r in runs}
    for h in found:
        assert h.facts, h.text
        for fact in h.facts:
            assert fact.shown in h.text, (fact, h.text)
            want = _metric(by_id, fact)
            if isinstance(want, float):
                assert fact.value == pytest.approx(want, rel=1e-12), (fact, h.text)
            else:
                assert fact.value == want, (fact, h.text)


def test_headline_figures_match_the_metrics(results: dict[str, Result]) -> None:
    runs = [results["status-quo"], results["action-plan"], results["hague-pledge"]]
    found = headlines(runs)
    topics = {h.topic for h in found}
    assert {"target", "binding", "recipient", "cost", "spending", "aid"} <= topics
    _check_facts(runs, found)
    for sid in results:
        _check_facts([results[sid]], headlines(results[sid]))


def test_headline_example_in_plain_words(results: dict[str, Result]) -> None:
    sq, ap = results["status-quo"], results["action-plan"]
    found = headlines([sq, ap])
    first = found[0]
    assert first.text.startswith("shell-155mm stocks held by the 30 European allies reach 1.80M")
    t_sq = sq.targets().set_index("target").loc["europe-155mm-2028"]
    t_ap = ap.targets().set_index("target").loc["europe-155mm-2028"]
    earlier = parse_month(t_sq.first_met) - parse_month(t_ap.first_met)
    unit = "month" if abs(earlier) == 1 else "months"
    when = (
        "the same month as"
        if earlier == 0
        else f"{abs(earlier)} {unit} {'earlier' if earlier > 0 else 'later'} than"
    )
    assert f"under action-plan in {t_ap.first_met}, {when} status-quo" in first.text
    binding = next(h for h in found if h.topic == "binding")
    row = ap.munitions().set_index("product").loc["shell-155mm"]
    assert f"from {row.first_input_bound} under action-plan" in binding.text
    assert "propellant-charge" in binding.text


def test_repr_html_is_compact(results: dict[str, Result]) -> None:
    r = results["action-plan"]
    html = r._repr_html_()
    assert html.startswith('<div class="materiel-result">')
    assert "<table>" in html and "europe-155mm-2028" in html
    assert "<script" not in html and len(html) < 20_000


# --- command line -------------------------------------------------------------------------


def test_cli_report_compare_json(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", "status-quo", "action-plan", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["ok"] and info["scenarios"] == ["status-quo", "action-plan"]
    assert info["bytes"] == out.stat().st_size and "stocks" in info["charts"]
    assert_offline(out.read_text(encoding="utf-8"))


def test_cli_report_bad_input_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", "no/such.toml", "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "no such scenario or file" in res.output
    res = runner.invoke(app, ["report", "action-plan", "-o", str(tmp_path / "no" / "r.html")])
    assert res.exit_code == 2 and "no such directory" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'extends = "action-plan"\n[lines.rheinmetall-unterluess]\ncapacity_per_month = -1\n'
    )
    res = runner.invoke(app, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "capacity_per_month" in res.output
    assert not (tmp_path / "r.html").exists()


def test_cli_png(tmp_path: Path) -> None:
    out, pngs = tmp_path / "r.html", tmp_path / "png"
    res = runner.invoke(app, ["report", "hindcast-2022", "-o", str(out), "--png", str(pngs)])
    problem = charts.png_problem()
    if problem is not None:  # no kaleido or no browser here: a clear exit 2
        assert res.exit_code == 2 and problem in res.output
        return
    assert res.exit_code == 0, res.output
    files = sorted(pngs.glob("*.png"))
    assert files and all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in files)
    assert "hindcast-2022-deliveries.png" in {f.name for f in files}


# --- in a real browser, with the network blocked -----------------------------------------


def test_report_renders_offline_in_headless_chromium(compared: tuple[Path, int]) -> None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian chromium, chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="materiel-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--window-size=1280,2400",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]}
        )
        driver.get_log("performance")  # drop what the browser did before our page
        comparison, expected = compared
        driver.get(comparison.as_uri())
        deadline = time.monotonic() + 60
        rendered = 0
        while time.monotonic() < deadline:
            rendered = driver.execute_script(
                "return document.querySelectorAll('.js-plotly-plot .main-svg').length > 0 ? "
                "document.querySelectorAll('.js-plotly-plot').length : 0"
            )
            if rendered >= expected:
                break
            time.sleep(0.25)
        assert rendered == expected
        assert driver.execute_script("return typeof Plotly") == "object"
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        urls: list[str] = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        local = ("file", "data", "blob", "about", "chrome")  # chrome: the browser's own pages
        loaded = [u for u in urls if urlparse(u).scheme not in local]
        assert loaded == [], loaded
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ROOT / "test-artifacts" / "report.png"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_cli_png_without_kaleido_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if not installed
    problem = charts.png_problem()
    assert problem is not None and "kaleido" in problem
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", "action-plan", "-o", str(out), "--png", str(tmp_path)])
    assert res.exit_code == 2 and "--png: PNG export needs the kaleido package" in res.output
    assert not out.exists()


def test_report_lists_policy_made_contracts(results: dict[str, Result]) -> None:
    r = results["action-plan"]
    page = build_report(r).html
    decided = r.decisions()
    assert "Contracts decided by procurement policies" in page
    assert f"<td>{_esc(str(decided.policy.iloc[0]))}</td>" in page
    made = r.contracts().query("decided_by == 'policy'")
    assert f"<td>{_esc(str(made.contract.iloc[0]))}</td>" in page
    assert "policy.floor_applies_to = all" in page

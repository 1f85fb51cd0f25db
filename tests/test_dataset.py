"""The embedded dataset: complete, sourced, and consistent with the public tables."""

from __future__ import annotations

import csv
import importlib.util
import os
from pathlib import Path

import pytest

import materiel
from materiel.scenario.provenance import figures, unsourced_figures

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MATERIEL_SHARED_DATA", REPO.parent / "shared" / "data"))
NATO_ALLIES = sorted(
    "ALB BEL BGR CAN HRV CZE DNK EST FIN FRA DEU GRC HUN ISL ITA LVA LTU LUX MNE "  # noqa: SIM905
    "NLD MKD NOR POL PRT ROU SVK SVN ESP SWE TUR GBR USA".split()
)
MUNITIONS = ["shell-155mm", "pac-3-mse", "amraam", "iris-t-slm", "stinger", "javelin", "gmlrs"]


@pytest.fixture(scope="module")
def dataset() -> materiel.Scenario:
    return materiel.load("dataset")


@pytest.mark.parametrize("sid", ["dataset", *materiel.embedded_ids()])
def test_every_figure_has_a_source_or_an_assumption(sid: str) -> None:
    s = materiel.load(sid)
    assert len(list(figures(s))) > 100
    assert unsourced_figures(s) == []
    for key, src in s.sources.items():
        assert src.assumption or all((src.publisher, src.title, src.date, src.url)), key


def test_unsourced_figure_is_found(dataset: materiel.Scenario) -> None:
    line = dataset.lines["us-iowa-aap-lap"].model_copy(update={"source": None, "field_sources": {}})
    broken = dataset.model_copy(update={"lines": {**dataset.lines, "us-iowa-aap-lap": line}})
    missing = unsourced_figures(broken)
    assert "lines.us-iowa-aap-lap.capacity_per_month" in missing


def test_classified_figures_are_labelled_assumptions(dataset: materiel.Scenario) -> None:
    for party, per in dataset.stocks.items():
        for product, stock in per.items():
            src = dataset.sources[stock.source_of("quantity") or ""]
            assert src.is_assumption, f"stock {party}/{product} should be an assumption"
    for tid, target in dataset.targets.items():
        by = dataset.sources[target.source_of("by") or ""]
        quantity = target.source_of("quantity") or target.source_of("days_of_supply")
        assert by.is_assumption or dataset.sources[quantity or ""].is_assumption, tid


def test_parties_products_and_components(dataset: materiel.Scenario) -> None:
    assert sorted(dataset.allies) == NATO_ALLIES
    assert dataset.parties["UKR"].kind == "recipient"
    assert set(MUNITIONS) <= set(dataset.munitions)
    components = {k for k, p in dataset.products.items() if p.kind == "component"}
    for needed in (
        "tnt",
        "rdx-hmx",
        "propellant-charge",
        "nitrocellulose",
        "shell-body-155mm",
        "fuze",
        "solid-rocket-motor",
        "seeker",
    ):
        assert needed in components
    for m in MUNITIONS:
        assert dataset.products[m].bom, m
        assert any(line.product == m for line in dataset.lines.values()), m


def test_economics_cover_every_ally_2014_2025(dataset: materiel.Scenario) -> None:
    for party in NATO_ALLIES:
        years = dataset.economics[party]
        assert sorted(years) == [str(y) for y in range(2014, 2026)], party
        assert all(years[str(y)].gdp_usd_m for y in range(2014, 2026)), party
    assert dataset.economics["USA"]["2024"].defence_pct_gdp_nato == pytest.approx(3.379, abs=1e-3)
    assert dataset.economics["ISL"]["2024"].defence_pct_gdp_sipri is None  # no military


def test_nato_series_2014_2024_with_estimates_marked(dataset: materiel.Scenario) -> None:
    for party in NATO_ALLIES:
        for year in range(2014, 2025):
            rec = dataset.economics[party][str(year)]
            assert bool(rec.estimate_nato) == (year >= 2023), (party, year)  # 2023e, 2024e
            if party == "ISL":  # no armed forces: NATO publishes GDP only
                assert rec.defence_pct_gdp_nato is None and rec.source_of("gdp_usd_m")
                continue
            assert rec.defence_pct_gdp_nato and rec.defence_usd_m_nato, (party, year)
            assert rec.equipment_share_pct is not None and 0 <= rec.equipment_share_pct <= 100
            for field in (
                "defence_pct_gdp_nato",
                "defence_usd_m_nato",
                "equipment_share_pct",
                "gdp_usd_m",
            ):
                assert rec.source_of(field) == "nato-def-exp-2024", (party, year, field)
            # Table 3 is Table 2 over Table 5 to within NATO's price bases (<= 12 %)
            implied = rec.gdp_usd_m * rec.defence_pct_gdp_nato / 100
            assert implied == pytest.approx(rec.defence_usd_m_nato, rel=0.12), (party, year)
    published_2025 = [p for p in NATO_ALLIES if dataset.economics[p]["2025"].defence_pct_gdp_nato]
    assert len(published_2025) == 18 and "DEU" not in published_2025  # the rest: missing
    for party in published_2025:
        rec = dataset.economics[party]["2025"]
        assert rec.estimate_nato and rec.source_of("defence_pct_gdp_nato").startswith(
            "nato-def-exp-2025"
        )
        assert rec.equipment_share_pct is None and rec.defence_usd_m_nato is None


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_build_tool_reproduces_the_embedded_table() -> None:
    """tools/build_economics.py on the shared copies writes exactly the shipped CSV."""
    if not (SHARED / "nato" / "240617-def-exp-2024-TABLES-en.xlsx").is_file():
        pytest.skip("NATO's workbook is not in the shared data")
    spec = importlib.util.spec_from_file_location(
        "build_economics", REPO / "tools" / "build_economics.py"
    )
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with (REPO / "src" / "materiel" / "data" / "economics.csv").open(encoding="utf-8") as fh:
        shipped = list(csv.DictReader(fh))
    assert tool.build(SHARED) == shipped


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_nato_figures_match_the_shared_tables(dataset: materiel.Scenario) -> None:
    tidy = SHARED / "nato" / "nato_defexp_2024edition_tidy.csv"
    partial = SHARED / "nato" / "nato_defexp_2025edition_pct_gdp_partial.csv"
    if not (tidy.is_file() and partial.is_file()):
        pytest.skip("a shared NATO table is missing")
    checked = 0
    with tidy.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["party"] not in NATO_ALLIES:
                continue
            ours = dataset.economics[row["party"]][row["year"]]
            assert ours.defence_pct_gdp_nato == pytest.approx(float(row["pct_gdp_nato"]), abs=1e-6)
            assert ours.defence_usd_m_nato == pytest.approx(float(row["usd_m_current"]), abs=0.06)
            assert ours.equipment_share_pct == pytest.approx(
                float(row["equipment_share_pct"]), abs=1e-4
            )
            assert bool(ours.estimate_nato) == (row["is_estimate"] == "Y")
            checked += 1
    assert checked == 31 * 11
    with partial.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["year"] == "2025" and r["party"] in NATO_ALLIES]
    for row in rows:
        ours = dataset.economics[row["party"]]["2025"].defence_pct_gdp_nato
        assert ours == (float(row["pct_gdp_nato"]) if row["pct_gdp_nato"] else None), row


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_sipri_figures_match_the_published_table(dataset: materiel.Scenario) -> None:
    path = SHARED / "sipri" / "sipri_milex_nato_allies_2014_2024.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    names = {p.name: k for k, p in dataset.parties.items()}
    checked = 0
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            party = names.get(row["country"])
            if party is None or not row["milex_pct_gdp"]:
                continue
            ours = dataset.economics[party][row["year"]]
            assert ours.defence_pct_gdp_sipri == pytest.approx(float(row["milex_pct_gdp"])), row
            assert ours.defence_usd_m_sipri == pytest.approx(float(row["milex_usd_current_m"]))
            checked += 1
    assert checked >= 31 * 11


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_nato_2024_estimates_match_the_release(dataset: materiel.Scenario) -> None:
    path = SHARED / "nato" / "nato_pct_gdp_2024e_june2024_release.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    names = {p.name: k for k, p in dataset.parties.items()}
    aliases = {"Türkiye": "TUR", "Czechia": "CZE", "North Macedonia": "MKD"}
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        party = aliases.get(row["country"]) or names[row["country"]]
        ours = dataset.economics[party]["2024"].defence_pct_gdp_nato
        assert ours == pytest.approx(float(row["nato_pct_gdp_estimate"]), abs=0.005), row
    assert len(rows) == 31


def test_capacity_reproduces_public_figures(dataset: materiel.Scenario) -> None:
    """Pre-war capacity plus announced investments give the reported US 155mm path."""
    r = materiel.simulate(
        {
            "extends": "dataset",
            "start": "2022-02",
            "months": 47,
            "drop": [f"targets.{t}" for t in dataset.targets],
        }
    )
    us = r.dataset.capacity_per_month.isel(sample=0).sel(line="us-iowa-aap-lap")
    assert float(us.isel(month=0)) == pytest.approx(14_400)
    assert float(us.sel(month="2023-09-01")) == pytest.approx(28_000, rel=0.1)


PRODUCERS = {  # owner substring -> country of at least one of its lines (the producers list)
    "Rheinmetall": {"DEU", "ESP", "HUN", "LTU"},
    "KNDS": {"FRA"},
    "Nammo": {"NOR", "SWE", "FIN"},
    "BAE": {"GBR"},
    "ZVS": {"SVK"},
    "Polska Grupa": {"POL"},
    "Eurenco": {"FRA"},
    "Chemring": {"NOR"},
    "Nitrochemie": {"DEU"},
    "Explosia": {"CZE"},
}


def test_european_producers_and_energetics(dataset: materiel.Scenario) -> None:
    for owner, countries in PRODUCERS.items():
        found = {x.country for x in dataset.lines.values() if owner in x.owner}
        assert countries <= found, owner
    shell = dataset.products["shell-155mm"].bom
    assert shell["tnt"] + shell["rdx-hmx"] == pytest.approx(10)
    assert "explosive-fill" not in dataset.products
    for m in MUNITIONS[1:]:
        assert dataset.products[m].bom["rdx-hmx"] > 0, m
    # no US TNT before the Kentucky plant: the 'us' pool's TNT is imported until then
    us_tnt = [x for x in dataset.lines.values() if x.product == "tnt" and x.pool == "us"]
    assert {x.country for x in us_tnt if x.capacity_per_month > 0} == {"POL"}
    for inv in dataset.investments.values():
        assert inv.source in dataset.sources, inv


def test_pre_war_european_155mm_capacity_is_in_the_reported_range() -> None:
    """About 230,000-300,000 a year reported; the hindcast starts from it."""
    s = materiel.load("hindcast-2022")
    r = materiel.simulate(s)
    first = r.dataset.isel(sample=0, month=0)
    europe = [k for k, x in s.lines.items() if x.product == "shell-155mm" and x.pool == "europe"]
    yearly = 12 * float(first.capacity_per_month.sel(line=europe).sum())
    assert 200_000 <= yearly <= 320_000
    assert yearly == pytest.approx(12 * sum(s.lines[k].capacity_per_month for k in europe))

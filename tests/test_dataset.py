"""The embedded dataset: complete, sourced, and consistent with the public tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import materiel
from materiel.scenario.provenance import figures, unsourced_figures

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
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
    for needed in ("tnt", "rdx-hmx", "propellant-charge", "nitrocellulose", "shell-body-155mm",
                   "fuze", "solid-rocket-motor", "seeker"):  # fmt: skip
        assert needed in components
    for m in MUNITIONS:
        assert dataset.products[m].bom, m
        assert any(line.product == m for line in dataset.lines.values()), m


def test_economics_cover_every_ally_2014_2025(dataset: materiel.Scenario) -> None:
    for party in NATO_ALLIES:
        years = dataset.economics[party]
        assert sorted(years) == [str(y) for y in range(2014, 2026)], party
        assert all(years[str(y)].gdp_usd_m for y in range(2014, 2026)), party
    assert dataset.economics["USA"]["2024"].defence_pct_gdp_nato == pytest.approx(3.38)
    assert dataset.economics["ISL"]["2024"].defence_pct_gdp_sipri is None  # no military


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
        assert ours == pytest.approx(float(row["nato_pct_gdp_estimate"])), row
    assert len(rows) == 31


def test_capacity_reproduces_public_figures(dataset: materiel.Scenario) -> None:
    """Pre-war capacity plus announced investments give the reported US 155mm path."""
    r = materiel.simulate({"extends": "dataset", "start": "2022-02", "months": 47,
                           "drop": [f"targets.{t}" for t in dataset.targets]})  # fmt: skip
    us = r.dataset.capacity_per_month.isel(sample=0).sel(line="us-iowa-aap-lap")
    assert float(us.isel(month=0)) == pytest.approx(14_400)
    assert float(us.sel(month="2023-09-01")) == pytest.approx(28_000, rel=0.1)


PRODUCERS = {  # owner substring -> country of at least one of its lines (the producers list)
    "Rheinmetall": {"DEU", "ESP", "HUN", "LTU"}, "KNDS": {"FRA"}, "Nammo": {"NOR", "SWE", "FIN"},
    "BAE": {"GBR"}, "ZVS": {"SVK"}, "Polska Grupa": {"POL"}, "Eurenco": {"FRA"},
    "Chemring": {"NOR"}, "Nitrochemie": {"DEU"}, "Explosia": {"CZE"},
}  # fmt: skip


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

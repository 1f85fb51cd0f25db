"""The Kiel tracker importer: military aid by donor and year -> munitions pledges."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import materiel
from materiel.cli import app
from materiel.scenario.importers import KIEL_SHARES, import_kiel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KIEL = SHARED / "ukraine_aid" / "kiel_ust_r29_data_explorer.csv"
HEADER = ["country", "iso", "year", "month", "total", "financial", "humanitarian", "military"]
runner = CliRunner()


@pytest.fixture(scope="module")
def dataset() -> materiel.Scenario:
    return materiel.load("dataset")


def write_kiel(path: Path) -> Path:
    """DEU 4.7bn in 2023 (two months), USA 2.0bn in 2022, 2.35bn in 2024-01..03; AUS, EU dropped."""
    rows = [
        ["Germany", "DEU", 2023, 1, 5, 0, 0, 2.35],
        ["Germany", "DEU", 2023, 7, 5, 0, 0, 2.35],
        ["United States", "USA", 2022, 3, 9, 0, 0, 2.0],
        ["United States", "USA", 2024, 1, 9, 0, 0, 1.0],
        ["United States", "USA", 2024, 3, 9, 0, 0, 1.35],
        ["Australia", "AUS", 2023, 5, 1, 0, 0, 0.5],
        ["EU (Commission and Council)", "EU", 2023, 5, 1, 0, 0, 3.0],
        ["Germany", "DEU", 2022, 2, 1, 0, 0, "NA"],
    ]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def test_quantities_follow_the_rule_exactly(tmp_path: Path, dataset: materiel.Scenario) -> None:
    path = write_kiel(tmp_path / "kiel.csv")
    shares = {"pac-3-mse": 0.1, "shell-155mm": 0.1}
    aid = import_kiel(path, dataset, shares=shares)["aid"]
    # 0.1 * 4.7e9 EUR * 1.08 US$/EUR / 4.7e6 US$ = 108 missiles
    deu = aid["kiel-DEU-pac-3-mse-2023"]
    assert deu["quantity"] == 108 and deu["supply"] == "production"
    assert (deu["start"], deu["end"]) == ("2023-01", "2023-07")  # months the file covers in 2023
    # 155mm at the 2022 price (EUR 2,000 = US$2,160): 0.1 * 2e9 * 1.08 / 2160 = 100,000
    assert aid["kiel-USA-shell-155mm-2022"]["quantity"] == 100_000
    # 2024 at the NATO average US$4,000: 0.1 * 2.35e9 * 1.08 / 4000 = 63,450
    assert aid["kiel-USA-shell-155mm-2024"]["quantity"] == 63_450
    assert (aid["kiel-USA-shell-155mm-2024"]["start"], aid["kiel-USA-shell-155mm-2024"]["end"]) == (
        "2024-01",
        "2024-03",
    )
    assert not any("AUS" in k or "-EU-" in k for k in aid)  # not parties of the scenario
    assert len(aid) == 6


def test_combined_contracts_share_the_cost_by_aid(
    tmp_path: Path, dataset: materiel.Scenario
) -> None:
    path = write_kiel(tmp_path / "kiel.csv")
    overlay = import_kiel(path, dataset, shares={"pac-3-mse": 0.1}, combine=True)
    c = overlay["contracts"]["kiel-pac-3-mse-2023"]
    assert c["quantity"] == 108 and c["recipient"] == "UKR" and c["buyers"] == {"DEU": 1.0}
    assert c["delivery_months"] == 7
    scenario = materiel.load({"extends": "dataset", "id": "kiel", **overlay})
    assert scenario.contracts["kiel-pac-3-mse-2022"].quantity == pytest.approx(46)


def test_overlay_validates_and_is_sourced(tmp_path: Path) -> None:
    path = write_kiel(tmp_path / "kiel.csv")
    out = tmp_path / "overlay.toml"
    res = runner.invoke(app, ["data", "import", str(path), "--format", "kiel-csv", "-o", str(out)])
    assert res.exit_code == 0, res.output
    overlay = tomllib.loads(out.read_text())
    assert overlay["sources"]["assumption-kiel-munition-shares"]["assumption"].startswith(
        "Munitions pledged ="
    )
    s = materiel.load({"extends": "dataset", "id": "kiel", **overlay})
    assert {a.source for a in s.aid.values()} == {"assumption-kiel-munition-shares"}
    assert {a.product for a in s.aid.values()} == set(KIEL_SHARES)


def test_bad_files_name_the_problem(tmp_path: Path, dataset: materiel.Scenario) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("donor,year,value\nDEU,2023,1\n")
    with pytest.raises(materiel.ScenarioError, match="missing"):
        import_kiel(bad, dataset)
    res = runner.invoke(
        app, ["data", "import", str(bad), "--format", "kiel-csv", "-o", str(tmp_path / "o.toml")]
    )
    assert res.exit_code == 2 and "bad.csv" in res.output
    good = write_kiel(tmp_path / "kiel.csv")
    with pytest.raises(materiel.ScenarioError, match="unknown munition 'fuze'"):
        import_kiel(good, dataset, shares={"fuze": 0.1})
    with pytest.raises(materiel.ScenarioError, match="no such file"):
        import_kiel(tmp_path / "absent.csv", dataset)


@pytest.mark.skipif(not KIEL.is_file(), reason="../shared/data Kiel copy is not present")
def test_shared_release_29(dataset: materiel.Scenario) -> None:
    overlay = import_kiel(KIEL, dataset, years=range(2022, 2026), combine=True)
    contracts = overlay["contracts"]
    assert {f"kiel-pac-3-mse-{y}" for y in range(2022, 2026)} <= set(contracts)
    for c in contracts.values():
        assert sum(c["buyers"].values()) == pytest.approx(1.0, abs=1e-6)
    with KIEL.open(newline="") as fh:
        usa_2023 = sum(
            float(r["military"])
            for r in csv.DictReader(fh)
            if r["iso"] == "USA" and r["year"] == "2023"
        )
    per_donor = import_kiel(KIEL, dataset, shares={"pac-3-mse": 0.03}, years=range(2023, 2024))
    assert per_donor["aid"]["kiel-USA-pac-3-mse-2023"]["quantity"] == round(
        0.03 * usa_2023 * 1e9 * 1.08 / 4.7e6
    )


def test_hindcast_missile_lines_produce_for_ukraine() -> None:
    s = materiel.load("hindcast-2022")
    kiel = [c for k, c in s.contracts.items() if k.startswith("kiel-")]
    assert {c.product for c in kiel} == {
        "pac-3-mse",
        "amraam",
        "iris-t-slm",
        "stinger",
        "javelin",
        "gmlrs",
    }
    assert all(c.recipient == "UKR" and c.source for c in kiel)

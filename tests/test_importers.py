"""Importers of published spending tables, on files the tests write and on shared copies."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import materiel
from materiel.cli import app
from materiel.scenario.importers import import_table

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
runner = CliRunner()


@pytest.fixture(scope="module")
def dataset() -> materiel.Scenario:
    return materiel.load("dataset")


def write_sipri(path: Path) -> None:
    """A workbook laid out like SIPRI's: title rows, a 'Country' header, region rows."""

    def sheet(values: dict[str, list[object]]) -> pd.DataFrame:
        rows: list[list[object]] = [
            ["Military expenditure ...", None, None, None],
            [None] * 4,
            ["Country", "Notes", 2023, 2024],
            ["Europe", None, None, None],
        ]
        rows += [[name, None, *vals] for name, vals in values.items()]
        return pd.DataFrame(rows)

    share = sheet({"Germany": [0.0152, 0.0188], "Türkiye": [". .", 0.0192], "Atlantis": [0.5, 0.5]})
    usd = sheet({"Germany": [66800.0, 88500.0], "Türkiye": ["xxx", 25000.0], "Atlantis": [1, 1]})
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        share.to_excel(xl, sheet_name="Share of GDP", header=False, index=False)
        usd.to_excel(xl, sheet_name="Current US$", header=False, index=False)


def test_sipri_xlsx(tmp_path: Path, dataset: materiel.Scenario) -> None:
    path = tmp_path / "milex.xlsx"
    write_sipri(path)
    overlay = import_table(path, "sipri-xlsx", dataset)
    deu = overlay["economics"]["DEU"]
    assert deu["2024"]["defence_pct_gdp_sipri"] == pytest.approx(1.88)
    assert deu["2023"]["defence_usd_m_sipri"] == 66800.0
    assert "2023" not in overlay["economics"]["TUR"]  # ". ." and "xxx" are missing values
    assert "Atlantis" not in overlay["economics"]
    (sid,) = overlay["sources"]
    assert deu["2024"]["source"] == sid and overlay["sources"][sid]["publisher"].startswith(
        "Stockholm"
    )


def test_nato_and_owid_csv(tmp_path: Path, dataset: materiel.Scenario) -> None:
    nato = tmp_path / "nato.csv"
    nato.write_text("country,year,nato_pct_gdp_estimate\nPoland,2024,4.12\nTürkiye,2024,2.09\n")
    overlay = import_table(nato, "nato-csv", dataset)
    assert overlay["economics"]["POL"]["2024"]["defence_pct_gdp_nato"] == 4.12
    assert overlay["economics"]["TUR"]["2024"]["defence_pct_gdp_nato"] == 2.09
    owid = tmp_path / "owid.csv"
    owid.write_text("Entity,Code,Year,Military expenditure (% of GDP),Region\n"
                    "France,FRA,2023,2.06,Europe\nMars,,2023,9.0,Space\n")  # fmt: skip
    overlay = import_table(owid, "owid-csv", dataset)
    assert overlay["economics"] == {
        "FRA": {"2023": {"defence_pct_gdp_sipri": 2.06, "source": next(iter(overlay["sources"]))}}
    }


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("nato-csv", "nation,when,value\nX,1,2\n", "expected columns country, year"),
        ("owid-csv", "Entity,Year\nX,1\n", "expected columns Entity, Code, Year"),
        ("sipri-xlsx", "not a workbook", "cannot read as an Excel workbook"),
        ("nato-csv", "country,year,pct_gdp\nAtlantis,2024,3\n", "no figures for the scenario"),
    ],
)
def test_wrong_shape_is_a_clear_error(tmp_path: Path, dataset: materiel.Scenario, fmt: str,
                                      text: str, message: str) -> None:  # fmt: skip
    path = tmp_path / ("bad.xlsx" if fmt == "sipri-xlsx" else "bad.csv")
    path.write_text(text)
    with pytest.raises(materiel.ScenarioError) as info:
        import_table(path, fmt, dataset)  # type: ignore[arg-type]
    (problem,) = info.value.problems
    assert problem.file == str(path) and message in problem.message


def test_cli_import_writes_an_overlay_that_loads(tmp_path: Path) -> None:
    src = tmp_path / "nato.csv"
    src.write_text("country,year,nato_pct_gdp_estimate\nGermany,2024,2.5\n")
    out = tmp_path / "overlay.toml"
    result = runner.invoke(
        app, ["data", "import", str(src), "--format", "nato-csv", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = tomllib.loads(out.read_text())
    data["extends"] = "dataset"
    s = materiel.load(data, name="overlay")
    assert s.economics["DEU"]["2024"].defence_pct_gdp_nato == 2.5
    assert s.economics["DEU"]["2024"].gdp_usd_m is not None  # the rest of the row is kept
    bad = runner.invoke(app, ["data", "import", str(tmp_path / "none.csv"), "--format",
                              "nato-csv", "-o", str(out)])  # fmt: skip
    assert bad.exit_code == 2 and "no such file" in bad.output


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_shared_copies_import_and_agree_with_the_dataset(dataset: materiel.Scenario) -> None:
    files = {
        "sipri-xlsx": SHARED / "sipri" / "SIPRI-Milex-data-1949-2024_2.xlsx",
        "nato-csv": SHARED / "nato" / "nato_pct_gdp_2024e_june2024_release.csv",
        "owid-csv": SHARED / "owid_sipri" / "military-spending-as-a-share-of-gdp-sipri.csv",
    }
    if not all(p.is_file() for p in files.values()):
        pytest.skip("a shared data file is missing")
    sipri = import_table(files["sipri-xlsx"], "sipri-xlsx", dataset, years=range(2014, 2025))
    assert len(sipri["economics"]) >= 31
    for party in ("DEU", "POL", "USA"):
        for year in ("2014", "2024"):
            ours = dataset.economics[party][year]
            theirs = sipri["economics"][party][year]
            assert theirs["defence_pct_gdp_sipri"] == pytest.approx(
                ours.defence_pct_gdp_sipri, abs=1e-3
            )
            assert theirs["defence_usd_m_sipri"] == pytest.approx(ours.defence_usd_m_sipri, abs=0.1)
    nato = import_table(files["nato-csv"], "nato-csv", dataset)
    assert len(nato["economics"]) == 31
    owid = import_table(files["owid-csv"], "owid-csv", dataset, years=range(2014, 2025))
    assert owid["economics"]["FRA"]["2020"]["defence_pct_gdp_sipri"] == pytest.approx(
        dataset.economics["FRA"]["2020"].defence_pct_gdp_sipri, abs=0.01
    )

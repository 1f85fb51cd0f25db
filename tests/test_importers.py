"""Importers of published spending tables, on files the tests write and on shared copies."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import materiel
from materiel.cli import app
from materiel.scenario.importers import import_table

SHARED = Path(
    os.environ.get("MATERIEL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
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
    owid.write_text(
        "Entity,Code,Year,Military expenditure (% of GDP),Region\n"
        "France,FRA,2023,2.06,Europe\nMars,,2023,9.0,Space\n"
    )
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
def test_wrong_shape_is_a_clear_error(
    tmp_path: Path, dataset: materiel.Scenario, fmt: str, text: str, message: str
) -> None:
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
    bad = runner.invoke(
        app, ["data", "import", str(tmp_path / "none.csv"), "--format", "nato-csv", "-o", str(out)]
    )
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


def write_nato(path: Path, *, sheets: tuple[str, ...] = ("TABLE2", "TABLE3", "TABLE8a")) -> None:
    """A workbook laid out like NATO's: title rows, a year header, labelled blocks."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    blocks = {
        "TABLE2": [
            (
                "Current prices and exchange rates",
                {"Germany": [66_000.0, 97_685.6], "Poland*": [29_000.0, 34_974.5]},
            ),
            ("Constant 2015 prices and exchange rates", {"Germany": [1.0, 1.0]}),
        ],
        "TABLE3": [
            (
                "Share of real GDP (%)",
                {"Germany": [1.64, 2.12], "Poland*": [3.9, 4.12], "Atlantis": [9.0, 9.0]},
            ),
            ("Annual real change (%)", {"Germany": [99.0, 99.0]}),
        ],
        "TABLE8a": [
            ("Equipment (a)", {"Germany": [18.04, 28.75], "Poland": [45.0, "#REF!"]}),
            ("Personnel (b)", {"Germany": [50.0, 30.0]}),
        ],
    }
    for name in sheets:
        ws = book.create_sheet(name)
        ws.append([])
        ws.append([None, f"Table {name[5:]} : Defence expenditure"])
        ws.append([None, None, None, 2022, "2023e"])
        for label, values in blocks[name]:
            ws.append([None, label])
            for ally, cells in values.items():
                ws.append([None, None, ally, *cells])
            ws.append([None, "NATO Total", None, 1e9, 1e9])
        ws.append([None, None, "Notes: Figures for 2023 are estimates."])
    book.save(path)


def test_nato_xlsx(tmp_path: Path, dataset: materiel.Scenario) -> None:
    path = tmp_path / "def-exp.xlsx"
    write_nato(path)
    overlay = import_table(path, "nato-xlsx", dataset)
    assert sorted(overlay["economics"]) == ["DEU", "POL"]  # Atlantis and aggregates left out
    deu = overlay["economics"]["DEU"]
    sid = next(iter(overlay["sources"]))
    expected = {
        "defence_pct_gdp_nato": 1.64,
        "defence_usd_m_nato": 66_000.0,
        "equipment_share_pct": 18.04,
    }
    assert deu["2022"] == {"source": sid, **expected}
    assert deu["2023"]["defence_pct_gdp_nato"] == 2.12 and deu["2023"]["estimate_nato"] is True
    assert deu["2023"]["equipment_share_pct"] == 28.75  # not the Personnel block
    pol = overlay["economics"]["POL"]
    assert pol["2023"]["defence_pct_gdp_nato"] == 4.12 and "equipment_share_pct" not in pol["2023"]
    assert "estimate_nato" not in pol["2022"]
    (source,) = overlay["sources"].values()
    assert source["publisher"] == "NATO"


@pytest.mark.parametrize(
    ("build", "message", "field"),
    [
        (lambda p: write_nato(p, sheets=("TABLE2",)), "missing ['TABLE3']", "sheet"),
        (lambda p: p.write_text("not a workbook"), "cannot read as an Excel workbook", ""),
        (lambda p: write_sipri(p), "expected NATO's defence-expenditure tables", "sheet"),
    ],
)
def test_nato_xlsx_wrong_shape(
    tmp_path: Path, dataset: materiel.Scenario, build: Any, message: str, field: str
) -> None:
    path = tmp_path / "bad.xlsx"
    build(path)
    with pytest.raises(materiel.ScenarioError) as info:
        import_table(path, "nato-xlsx", dataset)
    (problem,) = info.value.problems
    assert problem.file == str(path) and message in problem.message and problem.path == field


def test_nato_xlsx_without_years_or_block(tmp_path: Path, dataset: materiel.Scenario) -> None:
    import openpyxl

    for rows, message in (
        ([[None, "Share of real GDP (%)"], [None, None, "Germany", 1.0]], "header row of years"),
        (
            [[None, None, None, 2022, 2023], [None, "Other"], [None, None, "Germany", 1.0, 2.0]],
            "block labelled 'Share of real GDP'",
        ),
    ):
        book = openpyxl.Workbook()
        book.active.title = "TABLE3"
        for r in rows:
            book.active.append(r)
        path = tmp_path / "shape.xlsx"
        book.save(path)
        with pytest.raises(materiel.ScenarioError) as info:
            import_table(path, "nato-xlsx", dataset)
        (problem,) = info.value.problems
        assert problem.path == "TABLE3" and message in problem.message, problem


def test_cli_import_nato_xlsx(tmp_path: Path) -> None:
    src = tmp_path / "def-exp.xlsx"
    write_nato(src)
    out = tmp_path / "overlay.toml"
    result = runner.invoke(
        app, ["data", "import", str(src), "--format", "nato-xlsx", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "4 ally-years for 2 parties" in result.output
    data = tomllib.loads(out.read_text())
    data["extends"] = "dataset"
    s = materiel.load(data, name="overlay")
    assert s.economics["DEU"]["2023"].defence_pct_gdp_nato == 2.12
    assert s.economics["DEU"]["2023"].estimate_nato is True
    bad = tmp_path / "bad.xlsx"
    bad.write_text("nope")
    result = runner.invoke(
        app, ["data", "import", str(bad), "--format", "nato-xlsx", "-o", str(out)]
    )
    assert result.exit_code == 2 and "cannot read as an Excel workbook" in result.output


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_shared_nato_workbook_imports_and_agrees(dataset: materiel.Scenario) -> None:
    path = SHARED / "nato" / "240617-def-exp-2024-TABLES-en.xlsx"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    overlay = import_table(path, "nato-xlsx", dataset)
    assert len(overlay["economics"]) == 32  # 31 allies with spending, and Iceland's GDP
    for party, years in overlay["economics"].items():
        assert sorted(years) == [str(y) for y in range(2014, 2025)], party
        for year, theirs in years.items():
            ours = dataset.economics[party][year]
            assert theirs.get("estimate_nato", False) == (int(year) >= 2023)
            assert theirs["gdp_usd_m"] == pytest.approx(ours.gdp_usd_m, abs=0.06)
            if party == "ISL":
                continue
            assert theirs["defence_pct_gdp_nato"] == pytest.approx(
                ours.defence_pct_gdp_nato, abs=1e-6
            )
            assert theirs["defence_usd_m_nato"] == pytest.approx(ours.defence_usd_m_nato, abs=0.06)
            assert theirs["equipment_share_pct"] == pytest.approx(
                ours.equipment_share_pct, abs=1e-4
            )


def test_source_date_is_the_publications_not_the_import_day(
    tmp_path: Path, dataset: materiel.Scenario
) -> None:
    """Issue 17: the workbook's saved date, or --published; a file date is said to be one."""
    import datetime as dt
    import re
    import zipfile

    path = tmp_path / "milex.xlsx"
    write_sipri(path)
    with zipfile.ZipFile(path) as old:  # as the publisher's Excel saved it (openpyxl stamps now)
        parts = {name: old.read(name) for name in old.namelist()}
    parts["docProps/core.xml"] = re.sub(
        rb"(<dcterms:modified[^>]*>)[^<]*",
        rb"\g<1>2024-04-22T09:00:00Z",
        parts["docProps/core.xml"],
    )
    with zipfile.ZipFile(path, "w") as new:
        for name, data in parts.items():
            new.writestr(name, data)
    (source,) = import_table(path, "sipri-xlsx", dataset)["sources"].values()
    assert source["date"] == "2024-04-22" and "publisher saved the workbook" in source["note"]
    given = import_table(path, "sipri-xlsx", dataset, published="2024-04")
    assert next(iter(given["sources"].values()))["date"] == "2024-04"
    csv = tmp_path / "nato.csv"
    csv.write_text("country,year,nato_pct_gdp_estimate\nPoland,2024,4.12\n")
    os.utime(csv, (dt.datetime(2024, 6, 17).timestamp(),) * 2)
    (source,) = import_table(csv, "nato-csv", dataset)["sources"].values()
    assert source["date"] == "2024-06-17" and "--published" in source["note"]
    with pytest.raises(materiel.ScenarioError, match="expected a date written YYYY-MM"):
        import_table(csv, "nato-csv", dataset, published="17 June 2024")
    out = tmp_path / "overlay.toml"
    result = runner.invoke(
        app,
        [
            "data",
            "import",
            str(csv),
            "--format",
            "nato-csv",
            "-o",
            str(out),
            "--published",
            "2024-06-17",
        ],
    )
    assert result.exit_code == 0, result.output
    assert tomllib.loads(out.read_text())["sources"]
    assert 'date = "2024-06-17"' in out.read_text()

"""A source on every figure: which fields are figures, every entity table walked, located notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import materiel
from materiel.cli import app
from materiel.scenario.checks import check_source_references
from materiel.scenario.provenance import NOT_FIGURES, figures, is_figure, unsourced_figures
from materiel.scenario.schema import Entity, Scenario, entity_tables

runner = CliRunner()

UNSOURCED = """\
extends = "action-plan"

[procurement.demo]
product = "shell-155mm"
buyers = { DEU = 1.0 }
targets = ["demo"]
adjustment_months = 18.0
multi_year_share = 0.25

[systems.demo-gun]
name = "Demo gun"
product = "shell-155mm"

[fleets.deu-demo]
party = "DEU"
system = "demo-gun"
share = 1.0

[qualifications.demo]
line = "rheinmetall-unterluess"
system = "demo-gun"
lead_time_months = 6
cost_usd = 1e6

[targets.demo]
parties = ["DEU"]
product = "shell-155mm"
by = "2028-01"
quantity = 100000
source = "assumption-fleet-use"
"""
# field path -> line of UNSOURCED that sets it
EXPECTED = {
    "procurement.demo.buyers": 5,
    "procurement.demo.adjustment_months": 7,
    "procurement.demo.multi_year_share": 8,
    "fleets.deu-demo.share": 17,
    "qualifications.demo.lead_time_months": 22,
    "qualifications.demo.cost_usd": 23,
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, True),
        (0.0, True),
        (True, False),
        ("2025-01", False),
        ({"DEU": 0.5, "FRA": 0.5}, True),
        ([100.0, 200.0], True),
        (["DEU", "FRA"], False),
        ({}, False),
        ([], False),
        (None, False),
    ],
)
def test_a_figure_is_a_number_or_a_map_or_list_of_numbers(value: object, expected: bool) -> None:
    assert is_figure(value) is expected


def test_every_entity_table_of_the_schema_is_walked() -> None:
    """Every field of Scenario holding Entity records (directly or one level down) is a
    table, and nothing else is."""
    tables = entity_tables()
    assert {"procurement", "systems", "fleets", "qualifications"} <= set(tables)
    assert tables["stocks"] == tables["inventories"] == tables["economics"] == 2
    assert not {"sources", "parties", "policy", "uncertain", "correlations"} & set(tables)
    s = materiel.load("action-plan")
    walked = {path.split(".")[0] for path, _ in figures(s)}
    assert {"procurement", "fleets"} <= walked
    for name in tables:
        inner = getattr(s, name)
        for _ in range(tables[name]):
            inner = next(iter(inner.values())) if inner else {}
        assert inner == {} or isinstance(inner, Entity), name
    assert set(Scenario.model_fields) > set(tables)


def test_dates_and_choices_are_not_figures() -> None:
    s = materiel.load("hague-pledge")
    paths = [path for path, _ in figures(s)]
    for field in NOT_FIGURES:
        assert not any(p.endswith(f".{field}") for p in paths), field
    assert not any(p.endswith((".decision", ".by", ".estimate_nato", ".party")) for p in paths)
    assert any(p.startswith("spending_paths.") and p.endswith(".target_pct_gdp") for p in paths)


def test_newly_covered_tables_report_an_unsourced_figure() -> None:
    s = materiel.load("action-plan")
    key, fleet = next(iter(s.fleets.items()))
    fleets = {**s.fleets, key: fleet.model_copy(update={"source": None})}
    assert unsourced_figures(s.model_copy(update={"fleets": fleets})) == [f"fleets.{key}.share"]


def test_validate_notes_each_unsourced_figure_with_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "unsourced.toml"
    path.write_text(UNSOURCED)
    out = runner.invoke(app, ["validate", str(path)])
    assert out.exit_code == 0, out.output
    assert f"note: {len(EXPECTED)} figures without a source" in out.stdout
    for field, line in EXPECTED.items():
        assert f"{path}:{line}: {field}: no source" in out.stdout, field
    out = runner.invoke(app, ["validate", str(path), "--json"])
    notes = json.loads(out.stdout)["unsourced"]
    assert {n["path"]: (n["file"], n["line"]) for n in notes} == {
        field: (str(path), line) for field, line in EXPECTED.items()
    }
    out = runner.invoke(app, ["show", str(path)])
    assert f"{len(EXPECTED)} without a source" in out.stdout


def test_validate_embedded_has_no_note() -> None:
    out = runner.invoke(app, ["validate", "action-plan", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["unsourced"] == []


def test_unknown_source_in_a_fleet_is_a_problem() -> None:
    s = materiel.load("action-plan")
    key, fleet = next(iter(s.fleets.items()))
    broken = s.model_copy(
        update={"fleets": {**s.fleets, key: fleet.model_copy(update={"source": "nope"})}}
    )
    assert [loc for loc, _ in check_source_references(broken)] == [("fleets", key, "source")]

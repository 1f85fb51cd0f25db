"""The public record and the model against it: hand-made rows with exact differences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import contract, tiny
from typer.testing import CliRunner

import materiel
from materiel.analysis.record import (
    RecordRow,
    check_counted,
    compare_record,
    load_record,
    model_value,
    record_errors,
)
from materiel.cli import app

HEADER = "id,item,counted,measure,product,scope,date,value,unit,source,url,in_dataset,note\n"


@pytest.fixture(scope="module")
def run() -> materiel.Result:
    """l1 (AAA) makes 100 a month from 2024-03 to 2024-12 against a 1,000-round contract."""
    s = tiny(
        contracts={"c1": contract(quantity=1000.0, delivery_months=10, contracting_delay_months=2)}
    )
    return materiel.simulate(s)


def _row(**kw: object) -> RecordRow:
    base: dict[str, object] = dict(
        id="r",
        item="x",
        counted="rounds",
        measure="production",
        product="shell",
        scope="country:AAA",
        date="2024-05",
        value=80.0,
        unit="per_month",
        source="s",
    )
    base.update(kw)
    return RecordRow(**base)  # type: ignore[arg-type]


def test_month_year_and_capacity_values(run: materiel.Result) -> None:
    assert model_value(run, _row()) == 100.0
    assert model_value(run, _row(unit="per_year")) == 1200.0
    assert model_value(run, _row(date="2024", unit="per_year")) == 1000.0  # ten months of 100
    assert model_value(run, _row(date="2024", unit="per_month")) == pytest.approx(1000 / 12)
    assert model_value(run, _row(measure="capacity", unit="per_year")) == 1200.0
    assert model_value(run, _row(scope="country:BBB")) == 0.0  # no line there
    assert model_value(run, _row(date="2026-01")) is None  # outside the run
    assert model_value(run, _row(measure="delivered", scope="party:AAA")) == 100.0


def test_differences_and_sample_split(run: materiel.Result) -> None:
    rows = [
        _row(id="early", date="2024-05", value=80.0),
        _row(id="late", date="2024-11", value=125.0),
    ]
    table = compare_record(run, rows, until="2024-06").set_index("id")
    assert table.loc["early"].difference == 20.0 and table.loc["early"].difference_pct == 25.0
    assert table.loc["late"].difference == -25.0 and table.loc["late"].difference_pct == -20.0
    assert table.loc["early"]["sample"] == "in-sample"
    assert table.loc["late"]["sample"] == "out-of-sample"
    errors = record_errors(table.reset_index())
    assert errors["in-sample"] == {"rows": 1, "mean_abs_pct": 25.0, "worst_abs_pct": 25.0}
    assert errors["out-of-sample"]["mean_abs_pct"] == 20.0


def test_bad_rows_are_located(tmp_path: Path) -> None:
    path = tmp_path / "record.csv"
    path.write_text(HEADER + "a,x,r,made,shell,eu,2024-13,ten,per_week,s,,no,\n")
    with pytest.raises(materiel.ScenarioError) as err:
        load_record(path)
    text = str(err.value)
    for field in ("measure", "date", "value", "unit"):
        assert f"record.csv:2: {field}:" in text
    assert "expected YYYY-MM or YYYY" in text


def test_embedded_record_loads_and_dates_split() -> None:
    rows = load_record()
    assert len(rows) >= 15 and len({r.id for r in rows}) == len(rows)
    assert any(r.date > "2023-12" for r in rows) and any(r.date <= "2023-12" for r in rows)


def test_cli_record_json() -> None:
    done = CliRunner().invoke(app, ["record", "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.output)
    assert payload["scenario"] == "hindcast-2022"
    samples = {r["sample"] for r in payload["rows"]}
    assert {"in-sample", "out-of-sample"} <= samples
    assert payload["errors"]["out-of-sample"]["rows"] > 0
    bad = CliRunner().invoke(app, ["record", "--until", "2023"])
    assert bad.exit_code == 2 and "expected YYYY-MM" in bad.output


def test_rows_count_what_the_model_measures(run: materiel.Result) -> None:
    """A projectile or charge-set row must name a component; rounds a complete munition."""
    check_counted(run.scenario, [_row()])
    for row, expected in (
        (_row(counted="projectiles"), "is a munition; expected a component"),
        (_row(counted="bullets"), "expected one of projectiles"),
        (_row(product="nope"), "expected a product"),
    ):
        with pytest.raises(materiel.ScenarioError, match=expected):
            check_counted(run.scenario, [row])
    with pytest.raises(materiel.ScenarioError, match="counts projectiles"):
        compare_record(run, [_row(counted="projectiles")])
    table = compare_record(run, [_row()])
    assert table.loc[0, "measured"] == "output of shell on l1"


def test_hindcast_counts_like_the_record() -> None:
    """US projectile rows measure projectile-body output, charge rows charge-set output."""
    s = materiel.load("hindcast-2022")
    rows = {r.id: r for r in load_record()}
    check_counted(s, list(rows.values()))
    for rid in ("us-155-2022-02", "us-155-2023-10", "us-155-projectiles-2024-09", "us-155-2025-07"):
        assert rows[rid].counted == "projectiles" and rows[rid].product == "shell-body-155mm"
    assert rows["us-155-charges-2024-09"].product == "propellant-charge"

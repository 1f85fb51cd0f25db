"""Aid headroom: hand-worked donors with exact answers, checked by simulating the aid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import contract, tiny
from typer.testing import CliRunner

import materiel
from materiel.analysis.headroom import headroom, headroom_of_series
from materiel.cli import app


def _donor(months: int = 12, **extra: object) -> dict:
    """AAA holds 1,000 with a floor of 200 and receives 100 a month during 2024."""
    s = tiny(
        months=months,
        contracts={"c1": contract(quantity=1200.0, delivery_months=12)},
        stocks={"AAA": {"shell": {"quantity": 1000.0, "floor": 200.0, "source": "fx"}}},
    )
    s.update(extra)
    return s


def test_one_year_exact() -> None:
    rows = headroom(materiel.simulate(_donor()))
    row = rows.set_index("period").loc["2024"]
    # min over t of (1000 + 100 (t + 1) - 200) / (t + 1) is at t = 11: 800/12 + 100
    assert row.max_monthly_aid == pytest.approx(800 / 12 + 100, abs=1e-9)
    assert row.limited_by == "stock in period" and row.limiting_month == "2024-12"
    assert row.receipts_per_month == pytest.approx(100.0)


def test_the_answer_is_sustainable_and_no_more() -> None:
    """Giving the headroom as a stock pledge keeps the donor exactly at its floor."""
    x = float(headroom(materiel.simulate(_donor())).max_monthly_aid.iloc[0])
    for quantity, delivered_in_full in ((12 * x, True), (12 * x * 1.01, False)):
        s = _donor(
            aid={
                "g": {
                    "donor": "AAA",
                    "recipient": "REC",
                    "product": "shell",
                    "quantity": quantity,
                    "start": "2024-01",
                    "end": "2024-12",
                    "source": "fx",
                }
            }
        )
        r = materiel.simulate(s)
        stock = r.dataset.stock.isel(sample=0).sel(party="AAA", product="shell").values
        assert stock.min() >= 200 - 1e-6
        given = float(r.dataset.pledge_deliveries.sum())
        assert (given == pytest.approx(quantity, rel=1e-9)) is delivered_in_full


def test_a_later_draw_limits_an_earlier_year() -> None:
    """Training use of 50 a month in 2025 limits 2024's aid: (2200 - 600 - 200) / 12."""
    s = _donor(
        months=24,
        consumption={
            "t": {
                "party": "AAA",
                "product": "shell",
                "rate_per_month": 50.0,
                "start": "2025-01",
                "end": "2025-12",
                "kind": "training",
                "source": "fx",
            }
        },
    )
    rows = headroom(materiel.simulate(s)).set_index("period")
    assert rows.loc["2024"].max_monthly_aid == pytest.approx(1400 / 12)
    assert rows.loc["2024"].limited_by == "later draw 2025-12"
    assert rows.loc["2025"].max_monthly_aid == pytest.approx(1400 / 12)
    assert rows.loc["2025"].limited_by == "stock in period"


def test_under_the_floor_has_no_headroom() -> None:
    value, worst = headroom_of_series(np.array([300.0, 150.0, 400.0]), 200.0, first=0, last=2)
    assert value == 0.0 and worst == 1


def test_unknown_donor_is_a_located_error() -> None:
    with pytest.raises(materiel.ScenarioError, match="donors"):
        headroom(materiel.simulate(_donor()), donors=["XXX"])


def test_cli_headroom_json_and_text() -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["headroom", "action-plan", "--donor", "DEU", "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.output)
    assert payload["rows"] and {r["donor"] for r in payload["rows"]} == {"DEU"}
    assert all(r["max_monthly_aid"] >= 0 for r in payload["rows"])
    text = runner.invoke(
        app, ["headroom", "action-plan", "--donor", "DEU", "--product", "shell-155mm"]
    )
    assert text.exit_code == 0 and "DEU shell-155mm" in text.output
    bad = runner.invoke(app, ["headroom", "action-plan", "--donor", "XXX"])
    assert bad.exit_code == 2


def test_a_recipient_is_not_a_donor_and_a_donor_without_stock_has_no_rows() -> None:
    result = materiel.simulate(_donor())
    with pytest.raises(materiel.ScenarioError, match="expected ally ids"):
        headroom(result, donors=["REC"])
    rows = headroom(result, donors=["BBB"])  # an ally holding no stock
    assert rows.empty and list(rows.columns)[:3] == ["donor", "product", "period"]


def test_cli_headroom_names_the_option_and_answers_none() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["headroom", "action-plan", "--donor", "UKR"])
    assert bad.exit_code == 2 and isinstance(bad.exception, (SystemExit, type(None)))
    assert "<command line>: --donor: got ['UKR']; expected ally ids" in bad.output
    bad = runner.invoke(app, ["headroom", "action-plan", "--product", "tnt"])
    assert bad.exit_code == 2 and "--product: got ['tnt']; expected munition ids" in bad.output
    none = runner.invoke(app, ["headroom", "action-plan", "--donor", "ISL"])
    assert none.exit_code == 0, none.output
    assert "none: ISL holds no stock of any munition in action-plan" in none.output
    payload = json.loads(
        runner.invoke(app, ["headroom", "action-plan", "--donor", "ISL", "--json"]).output
    )
    assert payload["rows"] == []

"""The hindcast-2022 scenario and its comparison with the public record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import materiel

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "hindcast_compare.py"
US_155 = ["us-iowa-aap-lap", "gdots-camden-lap"]


@pytest.fixture(scope="module")
def result() -> materiel.Result:
    return materiel.simulate("hindcast-2022")


def at(result: materiel.Result, var: str, month: str, lines: list[str]) -> float:
    ds = result.dataset.isel(sample=0)
    return float(ds[var].sel(month=f"{month}-01", line=lines).sum())


def test_loads_validates_and_spans_2022_02_to_2025_12() -> None:
    s = materiel.load("hindcast-2022")
    assert s.id == "hindcast-2022"
    assert s.extends == "dataset"
    assert s.start == "2022-02"
    assert s.months == 47  # 2022-02 .. 2025-12
    assert s.targets == {}  # the dataset's 2028-2035 targets are dropped
    # the closed loop: industry invests against orders; of the announced capacity
    # only state-funded facilitation and what industry decided before the start remain
    assert s.policy.industry_invests is True
    assert s.facilitation
    assert all(inv.decision < s.start for inv in s.investments.values())
    assert s.description.splitlines()[0].strip()
    assert s.assumptions
    # every figure the hindcast adds carries a source
    for table in (s.contracts, s.aid, s.consumption):
        for key, record in table.items():
            assert record.source, key
    assert "hindcast-2022" in materiel.embedded_ids()


def test_validate_command_accepts_the_file() -> None:
    path = ROOT / "src" / "materiel" / "data" / "scenarios" / "hindcast-2022.toml"
    done = subprocess.run(
        [sys.executable, "-c", "from materiel.cli import main; main()", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_starts_with_pre_war_capacity(result: materiel.Result) -> None:
    dataset = materiel.load("dataset")
    ds = result.dataset.isel(sample=0)
    first = ds.capacity_per_month.isel(month=0)
    iowa = dataset.lines["us-iowa-aap-lap"].capacity_per_month
    assert iowa == 14_400
    assert float(first.sel(line="us-iowa-aap-lap")) == pytest.approx(iowa)
    # new plants have not started; PAC-3 is at its pre-war 350 a year
    assert float(first.sel(line="gdots-camden-lap")) == 0.0
    assert float(first.sel(line="rheinmetall-unterluess")) == 0.0
    assert 12 * float(first.sel(line="lm-camden-pac3")) == pytest.approx(350, rel=0.01)
    # and Ukraine holds no 155mm before the first deliveries
    assert float(ds.stock_start.sel(party="UKR", product="shell-155mm")) == 0.0


def test_run_holds_its_invariants(result: materiel.Result) -> None:
    ds = result.dataset.isel(sample=0)
    assert float(ds.stock.min()) >= 0.0
    # what the lines delivered matches what contracts received
    assert float(ds.line_deliveries.sum()) == pytest.approx(float(ds.contract_deliveries.sum()))
    again = materiel.simulate("hindcast-2022")
    np.testing.assert_array_equal(result.dataset.production.values, again.dataset.production.values)
    np.testing.assert_array_equal(result.dataset.stock.values, again.dataset.stock.values)


def test_us_155mm_capacity_reproduces_laplante_but_charges_bind(result: materiel.Result) -> None:
    # The load-assemble-pack capacity follows the public path ...
    assert at(result, "production", "2022-02", US_155) == pytest.approx(14_400)
    assert at(result, "capacity_per_month", "2023-09", US_155) == pytest.approx(28_000, rel=0.02)
    # ... but complete-round output in 2023-09 is held to about 16,000 by propellant
    # charges: the hindcast's main documented miss (docs/hindcast.md).
    out = at(result, "production", "2023-09", US_155)
    assert 14_000 < out < 20_000
    binding = result.dataset.binding.isel(sample=0).sel(month="2023-09-01", line="us-iowa-aap-lap")
    assert str(binding.values) == "input:propellant-charge"


def test_us_projectiles_are_counted_apart_from_charges(result: materiel.Result) -> None:
    # Count like the record: in 2024-09 the public figures are about 40,000
    # projectiles and 18,000 charge sets a month. The US body lines work to their
    # own buffer (assumption-us-projectile-buffer), so bodies are made at capacity
    # while charges hold complete rounds to the charge rate; the bodies not yet
    # loaded pile up in the 'us' pool's inventory.
    bodies = ["gdots-scranton-wilkes-barre", "imt-ingersoll", "gdots-mesquite"]
    made = at(result, "production", "2024-09", bodies)
    assert made == pytest.approx(at(result, "capacity_per_month", "2024-09", bodies))
    charges = ["gdots-valleyfield-charges", "gdots-marion-charges"]
    sets = at(result, "production", "2024-09", charges)
    assert sets < 0.6 * made  # charges bind ...
    assert at(result, "production", "2024-09", US_155) == pytest.approx(
        sets, rel=0.01
    )  # ... rounds
    ds = result.dataset.isel(sample=0)
    stored = ds.inventory.sel(pool="us", product="shell-body-155mm", month="2024-09-01")
    assert 100_000 < float(stored) < 12 * 40_000  # below the 12-month buffer: never full


def test_capacity_beyond_facilitation_comes_from_the_models_own_investment(
    result: materiel.Result,
) -> None:
    """KNDS France and PAC-3 have no announced expansion in the hindcast after 2022-02,
    yet grow: the model's industry expands them against the 2022-25 orders. With
    industry_invests off they stay at what facilitation and pre-war decisions give."""
    ds = result.dataset.isel(sample=0)
    grown = ["knds-france", "lm-camden-pac3"]
    s = result.scenario
    assert not [i for i in s.investments.values() if i.line in grown and i.decision >= s.start]
    end = ds.capacity_per_month.sel(month="2025-12-01")
    start = ds.capacity_per_month.isel(month=0)
    for line in grown:
        assert float(end.sel(line=line)) > float(start.sel(line=line)) + 1.0, line
    assert float(ds.capex_usd.sel(line="knds-france").sum()) > 0
    frozen = materiel.simulate(
        materiel.load(
            {"extends": "hindcast-2022", "id": "frozen", "policy": {"industry_invests": False}}
        )
    )
    still = frozen.dataset.isel(sample=0).capacity_per_month.sel(month="2025-12-01")
    assert float(still.sel(line="knds-france")) == pytest.approx(
        float(start.sel(line="knds-france"))
    )
    assert float(still.sel(line="rheinmetall-unterluess")) == 0.0


def test_new_plants_are_one_decision_each(result: materiel.Result) -> None:
    """A greenfield plant (Unterlüß and the other new European sites) is decided at most
    once, at its full ceiling, never grown in small steps as the old spill rule did; a plant
    the state started (Várpalota's ASAP grant) is an ordinary line from then on."""
    ds = result.dataset.isel(sample=0)
    s = result.scenario
    greenfield = [k for k, x in s.lines.items() if x.greenfield]
    assert "rheinmetall-unterluess" in greenfield
    funded = {f.line for f in s.facilitation.values()}
    for line in greenfield:
        added = ds.capacity_added_per_month.sel(line=line).values
        assert np.count_nonzero(added) <= 1, line
        if added.any() and line not in funded:
            assert float(added.max()) == s.lines[line].max_capacity_per_month, line


def test_a_new_plant_waits_for_its_owners_own_firm_book() -> None:
    """Unterlüß is decided on Rheinmetall's own firm book (its German line's book beyond
    its cover), not on orders open to every European line: the hindcast's Rheinmetall
    orders (its capacity share of the European orders, the June 2024 tranche) never
    cover the plant over the horizon, so it is not built; a firm Rheinmetall contract
    as large as the dataset's 1.5 million-round framework (2024-06) decides it that month,
    whole."""
    big = {
        "buyers": {"DEU": 1.0},
        "product": "shell-155mm",
        "line": "rheinmetall-germany",
        "quantity": 1_500_000,
        "decision": "2024-06",
        "contracting_delay_months": 0,
        "delivery_lag_months": 6,
        "delivery_months": 72,
        "multi_year": True,
        "source": "assumption-rheinmetall-framework-2024",
    }
    s = materiel.load(
        {"extends": "hindcast-2022", "id": "with-framework", "contracts": {"deu-framework": big}}
    )
    ds = materiel.simulate(s).dataset.isel(sample=0)
    added = ds.capacity_added_per_month.sel(line="rheinmetall-unterluess")
    assert np.count_nonzero(added.values) == 1
    assert (
        float(added.sel(month="2024-06-01"))
        == s.lines["rheinmetall-unterluess"].max_capacity_per_month
    )


def test_compare_tool_json_gives_a_row_per_public_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(TOOL), "--json"], capture_output=True, text=True, check=True
    )
    rows = json.loads(done.stdout)
    keys = {(r["quantity"].split(",")[0], r["date"]) for r in rows}
    expected = {
        ("US 155mm output", "2022-02"),
        ("US 155mm output", "2023-09"),
        ("US 155mm output", "2024-09"),
        ("US 155mm output", "2025-07"),
        ("US 155mm capacity (Army plan)", "2024-10"),
        ("US 155mm capacity (Army plan)", "2025-10"),
        ("EU 155mm capacity", "2022-02"),
        ("EU 155mm capacity", "2025-12"),
        ("Rheinmetall Unterlüß 155mm output", "2025"),
        ("PAC-3 MSE capacity", "2022-02"),
        ("PAC-3 MSE output", "2025"),
        ("EU '1 million shells' plan: rounds delivered to Ukraine (tracks 1 + 2)", "2024-03"),
    }
    assert expected <= keys
    for r in rows:
        assert r["source"] and r["measure"] in {"production", "capacity", "delivered"}
        assert np.isfinite(r["model"])
        if r["public"] is not None:
            assert r["difference"] == pytest.approx(r["model"] - r["public"])
            assert r["difference_pct"] == pytest.approx(100 * r["difference"] / r["public"])
    eu_1m = next(r for r in rows if r["quantity"].startswith("EU '1 million"))
    assert eu_1m["public"] is None  # no delivered figure in the shared record
    assert 0 < eu_1m["model"] <= 1_000_000


def test_compare_tool_markdown_is_the_default() -> None:
    done = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, check=True)
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("| quantity | date | public figure (source) | model |")
    assert len(lines) == 2 + len(json.loads(_json_output()))


def _json_output() -> str:
    return subprocess.run(
        [sys.executable, str(TOOL), "--json"], capture_output=True, text=True, check=True
    ).stdout


def test_a_fitted_line_build_time_moves_only_the_models_own_expansion() -> None:
    """The hindcast writes each announced build time onto its line; `--fit
    lines.ID.expansion_lead_time_months` moves that line's order-driven expansion
    (ZVS, lead 3: its 2022 expansion is later with 12, so its 2022-12 rate is lower),
    and never an announced arrival: every facilitation and pre-start investment
    gives its own lead time and ramp."""
    from materiel.analysis.calibrate import RecordEvaluator
    from materiel.analysis.record import load_record

    s = materiel.load("hindcast-2022")
    for entry in [*s.facilitation.values(), *s.investments.values()]:
        assert entry.lead_time_months is not None and entry.ramp_up_months is not None
    assert s.lines["zvs-holding-155"].expansion_lead_time_months == 3
    rows = [r for r in load_record() if r.id == "zvs-155-2022-12"]
    evaluate = RecordEvaluator(s, rows, ["lines.zvs-holding-155.expansion_lead_time_months"])
    own = evaluate.nominal()[0]
    assert evaluate(np.array([[3.0]]))[0, 0] == pytest.approx(own)
    assert evaluate(np.array([[12.0]]))[0, 0] < own - 10_000  # 39,531 a year, 24,996 with 12

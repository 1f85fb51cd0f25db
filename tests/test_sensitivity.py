"""Sensitivity with a significance cut and Sobol indices (issue 17 item 5); report --samples."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import materiel
from materiel.analysis.sensitivity import (
    ALPHA,
    CUT_RULE,
    SOBOL_MIN_SAMPLES,
    sensitivity_table,
    sobol_table,
)
from materiel.cli import app
from materiel.present.report import build_report

runner = CliRunner()


def _stub(inputs: dict[str, np.ndarray], stock: np.ndarray) -> Any:
    """A Monte Carlo result with one target whose stock at its date (month 0) is ``stock``."""
    target = SimpleNamespace(by="2025-01", parties=["A"], product="k")
    scenario = SimpleNamespace(targets={"t": target}, start="2025-01")
    data = xr.Dataset({k: ("sample", v) for k, v in inputs.items()})
    return SimpleNamespace(scenario=scenario, inputs=data, stock_at_date=lambda tid: stock)


def test_the_cut_keeps_the_driver_and_drops_noise_and_constants() -> None:
    n = 200
    driver = np.linspace(0.0, 1.0, n)
    noise = np.tile([0.0, 1.0, 1.0, 0.0], n // 4)  # ranks unrelated to the driver's: rho = 0
    result = _stub({"driver": driver, "noise": noise, "fixed": np.ones(n)}, 3.0 * driver + 1.0)
    table = sensitivity_table(result)
    assert list(table.input) == ["driver", "noise"]  # an input that does not vary is not tested
    driver_row, noise_row = table.iloc[0], table.iloc[1]
    assert driver_row.spearman == pytest.approx(1.0) and bool(driver_row.significant)
    assert noise_row.spearman == pytest.approx(0.0, abs=1e-12) and not bool(noise_row.significant)
    assert (table.p_value[table.significant] < ALPHA / 2).all()  # Bonferroni over 2 inputs


def test_the_cut_is_bonferroni_corrected_as_its_rule_says() -> None:
    # a weak input, p = 0.033: below ALPHA alone, above ALPHA / 3 with three inputs tested
    n = 200
    driver = np.linspace(0.0, 1.0, n)
    weak = np.sin(7.0 * np.arange(n)) + 0.35 * driver
    noise = np.tile([0.0, 1.0, 1.0, 0.0], n // 4)
    result = _stub({"driver": driver, "weak": weak, "noise": noise}, 3.0 * driver + 1.0)
    table = sensitivity_table(result).set_index("input")
    assert ALPHA / 3 < table.loc["weak", "p_value"] < ALPHA
    assert not table.loc["weak", "significant"] and table.loc["driver", "significant"]
    assert "p < 0.05 / m (Bonferroni" in CUT_RULE.format(alpha=ALPHA)  # what the report says


def test_sobol_first_order_sees_the_driver() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=400), rng.uniform(size=400)
    indices = sobol_table(_stub({"a": a, "b": b}, 4.0 * a + 0.1 * b)).set_index("input")
    assert indices.loc["a", "S1"] > 0.8 > 0.1 > indices.loc["b", "S1"]


def test_sobol_needs_more_than_twice_the_harmonics_in_samples() -> None:
    """20 samples crashed SALib (division by 1 - 2M/N = 0); 21 is the least it can use."""
    assert SOBOL_MIN_SAMPLES == 21
    rng = np.random.default_rng(1)
    for n, ok in ((20, False), (21, True)):
        a, b = rng.uniform(size=n), rng.uniform(size=n)
        stub = _stub({"a": a, "b": b}, 4.0 * a + 0.1 * b)
        if ok:
            assert len(sobol_table(stub)) == 2
        else:
            with pytest.raises(materiel.ScenarioError, match="at least 21 samples"):
                sobol_table(stub)
    out = runner.invoke(app, ["mc", "status-quo", "-n", "20", "--sobol"])
    assert out.exit_code == 2 and "--sobol: got --samples 20; expected at least 21" in out.output


UNCERTAIN = {
    "extends": "status-quo",
    "uncertain": {
        "policy.consumption_scale": {"dist": "lognormal", "median": 1.0, "sigma": 0.2},
        "stocks.USA.shell-155mm.quantity": {"dist": "uniform", "low": 2e5, "high": 8e5},
    },
}


@pytest.fixture(scope="module")
def sampled() -> Any:
    return materiel.sample(UNCERTAIN, 24, seed=5)


def test_report_with_samples_has_fans_probabilities_and_the_cut(sampled: Any) -> None:
    r = materiel.simulate(sampled.scenario)
    report = build_report(r, samples=[sampled])
    sid = sampled.scenario.id
    assert {f"{sid}-fans", f"{sid}-p-met"} <= set(report.figures)
    fans = report.figures[f"{sid}-fans"]
    assert any("p5–p95" in (t.name or "") for t in fans.data)  # a fan, not a single line
    assert "Uncertainty: 24 samples (seed 5)" in report.html
    assert "P(met by its date)" in report.html and "Bonferroni" in report.html


def test_cli_report_samples_and_mc_sobol(tmp_path: Path) -> None:
    scenario = tmp_path / "u.toml"
    scenario.write_text(
        'extends = "status-quo"\n[uncertain]\n'
        '"policy.consumption_scale" = { dist = "lognormal", median = 1.0, sigma = 0.2 }\n'
    )
    out = tmp_path / "r.html"
    res = runner.invoke(
        app, ["report", str(scenario), "--samples", "12", "--seed", "2", "-o", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["samples"] == 12 and "u-fans" in payload["charts"]
    res = runner.invoke(app, ["mc", str(scenario), "-n", "24", "--sobol", "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    targets = set(materiel.load(scenario).targets)
    assert "Bonferroni" in m["sensitivity_cut"]
    assert set(m["significant"]) == targets and set(m["sobol_first_order"]) <= targets
    too_few = runner.invoke(app, ["mc", str(scenario), "-n", "4", "--sobol"])
    assert too_few.exit_code == 2 and "--sobol" in too_few.output

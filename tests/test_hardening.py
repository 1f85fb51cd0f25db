"""Issue 19, outside the web server: bad scenario input gets a located error, not a
traceback or a wrong answer (one regression test per item, each failing before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

import materiel
from materiel import ScenarioError
from materiel.scenario.uncertainty import Distribution, truncated_normal_ppf


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else tomli_w.dumps(data)
    path.write_text(text, encoding="utf-8")
    return path


def problems(source: Any) -> list[materiel.Problem]:
    with pytest.raises(ScenarioError) as info:
        materiel.load(source)
    return info.value.problems


# item 4: years a scenario may name


@pytest.mark.parametrize("start", ["2300-01", "9999-12", "1700-01", "1989-12"])
def test_start_outside_1990_2100_is_refused_at_the_field(tmp_path: Path, start: str) -> None:
    found = problems(write(tmp_path, {"extends": "action-plan", "start": start}))
    assert [(p.path, p.line) for p in found] == [("start", 2)]  # and no echoes: item 7
    assert "expected a year from 1990 to 2100" in found[0].message and start in found[0].message


def test_month_fields_and_years_are_in_range(tmp_path: Path) -> None:
    text = (
        'extends = "action-plan"\n[contracts.x]\nbuyers = { USA = 1.0 }\n'
        'product = "shell-155mm"\nquantity = 1\ndecision = "2101-01"\n'
        '[spending_paths.p]\nparties = ["USA"]\ntarget_pct_gdp = 3\nfrom_year = 2025\n'
        "by_year = 2200\n"
    )
    found = {p.path: p for p in problems(write(tmp_path, text))}
    assert "expected a year from 1990 to 2100" in found["contracts.x.decision"].message
    assert found["contracts.x.decision"].line == 6
    assert "less than or equal to 2100" in found["spending_paths.p.by_year"].message


def test_horizon_must_end_by_2100(tmp_path: Path) -> None:
    found = problems(write(tmp_path, {"extends": "action-plan", "start": "2095-01", "months": 84}))
    assert found[0].path == "months"  # then the targets dated before 2095, rightly
    assert "ends in 2101-12, after 2100-12" in found[0].message
    assert "at most 72 months" in found[0].message


def test_economic_year_keys_in_range() -> None:
    data = {"extends": "action-plan", "economics": {"USA": {"1800": {"gdp_usd_m": 1.0}}}}
    (p,) = problems(data)
    assert p.path.startswith("economics.USA.1800") and "1990 to 2100" in p.message


# item 5: validated then crashed


def test_empty_file_is_refused_by_validation(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, ""))
    assert p.path == "lines" and "at least one production line" in p.message
    assert 'extends = "dataset"' in p.message


def test_extends_chain_depth_is_limited(tmp_path: Path) -> None:
    write(tmp_path, {"extends": "action-plan"}, "f0.toml")
    for i in range(1, 60):
        write(tmp_path, {"extends": f"f{i - 1}.toml"}, f"f{i}.toml")
    (p,) = problems(tmp_path / "f59.toml")
    assert p.path == "extends" and p.line == 1 and "deeper than 32 files" in p.message


def test_distribution_that_draws_negative_capacity_is_refused() -> None:
    spec = {"dist": "normal", "mean": 100.0, "sd": 200.0}
    data = {
        "extends": "action-plan",
        "uncertain": {"lines.nammo-raufoss-155.capacity_per_month": spec},
    }
    (p,) = problems(data)
    assert p.path == "uncertain.lines.nammo-raufoss-155.capacity_per_month"
    assert "below the field's minimum 0" in p.message and "set min = 0" in p.message
    spec_ramp = {"dist": "uniform", "low": 0, "high": 6}
    data = {
        "extends": "action-plan",
        "uncertain": {"lines.nammo-raufoss-155.ramp_up_months": spec_ramp},
    }
    (p,) = problems(data)
    assert "below the field's minimum 1" in p.message
    ok = {
        "extends": "action-plan",
        "uncertain": {"lines.nammo-raufoss-155.capacity_per_month": {**spec, "min": 0}},
    }
    assert materiel.load(ok).uncertain


# item 6: a truncated normal far in its tail


@pytest.mark.parametrize(
    ("lo", "hi"), [(40.0, None), (None, -40.0), (40.0, 41.0), (-300.0, -299.0), (0.0, None)]
)
def test_truncated_normal_draws_inside_its_bounds(lo: float | None, hi: float | None) -> None:
    d = Distribution(dist="normal", mean=0.0, sd=1.0, min=lo, max=hi)
    u = np.array([1e-12, 0.01, 0.5, 0.99, 1 - 1e-12])
    x = d.ppf(u)
    assert np.isfinite(x).all()
    assert (x >= (lo if lo is not None else -np.inf)).all()
    assert (x <= (hi if hi is not None else np.inf)).all()
    assert np.all(np.diff(x) >= 0)


def test_truncated_normal_ppf_matches_scipy_truncnorm() -> None:
    from scipy import stats

    u = np.linspace(0.001, 0.999, 101)
    for a, b in [(-np.inf, np.inf), (-1.0, 2.0), (3.0, 4.0), (-4.0, -3.0), (8.0, np.inf)]:
        assert np.allclose(truncated_normal_ppf(u, a, b), stats.truncnorm.ppf(u, a, b), atol=1e-9)
    # exact: the median of the standard normal truncated to [0, inf) is Phi^-1(0.75)
    assert truncated_normal_ppf(np.array([0.5]), 0.0, np.inf)[0] == pytest.approx(
        0.6744897501960817
    )


# item 7: misleading messages


def test_min_zero_is_a_minimum() -> None:
    d = Distribution(dist="normal", mean=-5.0, sd=1.0, min=0.0)
    assert d.central() == 0.0
    assert Distribution(dist="normal", mean=5.0, sd=1.0, max=0.0).central() == 0.0


def test_overflowing_midpoint_is_finite_and_no_false_no_such_field() -> None:
    spec = {"dist": "uniform", "low": 1e308, "high": 1.7e308}
    assert Distribution.model_validate(spec).central() == pytest.approx(1.35e308)
    bad = {"dist": "uniform", "low": 5.0, "high": 1.0}
    data = {"extends": "action-plan", "lines": {"nammo-raufoss-155": {"capacity_per_month": bad}}}
    found = problems(data)
    assert [p.message for p in found] == ["expected low < high"]
    assert found[0].path == "lines.nammo-raufoss-155.capacity_per_month"


def test_months_error_adds_no_echo_from_the_default_horizon(tmp_path: Path) -> None:
    found = problems(write(tmp_path, {"extends": "action-plan", "months": 0}))
    assert [p.path for p in found] == ["months"]


def test_distribution_error_is_not_reported_as_a_bad_integer() -> None:
    spec = {"dist": "normal", "mean": 18.0}
    data = {
        "extends": "action-plan",
        "lines": {"nammo-raufoss-155": {"expansion_lead_time_months": spec}},
    }
    found = problems(data)
    assert [p.message for p in found] == ["normal needs mean, sd; missing sd"]
    assert not any("valid integer" in p.message for p in found)


# item 8: bad input accepted


def test_drop_must_be_a_list(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, {"extends": "action-plan", "drop": "contracts.x"}))
    assert p.path == "drop" and p.line == 2 and "expected a list" in p.message


def test_uncertain_must_be_a_table(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, 'extends = "action-plan"\nuncertain = 5\n'))
    assert p.path == "uncertain" and p.line == 2 and "expected a table" in p.message


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ({"lines": {"nammo-raufoss-155": {"capacity_per_month": True}}}, "capacity_per_month"),
        ({"months": True}, "months"),
        ({"lines": {"nammo-raufoss-155": {"ramp_up_months": False}}}, "ramp_up_months"),
        (
            {
                "uncertain": {
                    "policy.consumption_scale": {"dist": "uniform", "low": 0, "high": True}
                }
            },
            "high",
        ),
    ],
)
def test_true_is_not_a_number(section: dict[str, Any], value: str) -> None:
    found = problems({"extends": "action-plan", **section})
    assert any(p.path.endswith(value) and "expected a number, got" in p.message for p in found)


# item 10: the report's sources


def test_report_links_only_http_and_prints_no_none() -> None:
    from materiel.present.report import build_report

    data = {
        "extends": "status-quo",
        "sources": {
            "js": {"publisher": "P", "url": "javascript:alert(1)", "assumption": "a guess"},
            "ok": {"publisher": "Q", "title": "T", "date": "2024-01", "url": "https://e.org/x"},
        },
        "lines": {
            "nammo-raufoss-155": {"source": "js"},
            "nammo-raufoss-metal-parts": {"source": "ok"},
        },
    }
    html = build_report(materiel.simulate(data)).html
    assert 'href="javascript' not in html and "<code>javascript:alert(1)</code>" in html
    assert '<a href="https://e.org/x"' in html
    row = html[html.index("<td>js</td>") :].split("</tr>")[0]
    assert "None" not in row and "assumption: a guess" in row


# found by tests/test_fuzz.py: a TOML file cut short is located at its last line


def test_toml_cut_short_names_its_last_line(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, 'extends = "action-plan"\ntitle = "t"\n[lines.x]\nname'))
    assert p.line == 4 and "invalid TOML" in p.message and "end of document" not in p.message


# item 1: budgets with extreme GDP growth (spending.economic_series) gave a 500


def test_extreme_gdp_growth_is_refused_and_the_largest_allowed_runs() -> None:
    (p,) = problems({"extends": "hague-pledge", "policy": {"gdp_growth_pct_per_year": 1e6}})
    assert p.path == "policy.gdp_growth_pct_per_year" and "less than or equal to 50" in p.message
    fast = {"extends": "action-plan", "policy": {"budget": "defer", "gdp_growth_pct_per_year": 50}}
    result = materiel.simulate(fast)  # invariants checked
    assert np.isfinite(result.dataset.stock.values).all()

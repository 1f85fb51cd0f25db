"""Charts: the traces each figure must have, and that they carry the run's numbers."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import xarray as xr

import materiel
from materiel.analysis.result import Result
from materiel.present import charts
from materiel.scenario.economics import economic_series


@pytest.fixture(scope="module")
def runs() -> dict[str, Result]:
    return {sid: materiel.simulate(sid) for sid in ("status-quo", "action-plan", "hague-pledge")}


def _multi_sample(r: Result, factors: tuple[float, ...] = (0.8, 1.0, 1.2, 1.5)) -> Result:
    """A fake Monte Carlo Result: the run's Dataset repeated along ``sample``, stocks scaled."""
    parts = []
    for i, f in enumerate(factors):
        part = r.dataset.copy()
        part["stock"] = r.dataset.stock * f
        part["usable_stock"] = r.dataset.usable_stock * f  # what targets count
        parts.append(part.assign_coords(sample=[i]))
    ds = xr.concat(
        parts,
        dim="sample",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="override",
    )
    return Result(ds, r.scenario)


def test_stocks_one_panel_per_group_and_a_line_per_scenario(runs: dict[str, Result]) -> None:
    sq, ap = runs["status-quo"], runs["action-plan"]
    fig = charts.stocks([sq, ap])
    assert isinstance(fig, go.Figure)
    groups = charts.target_groups(sq.scenario)
    assert len(groups) < len(sq.scenario.targets)  # two 155mm targets share one group
    titles = [a.text for a in fig.layout.annotations]
    assert "shell-155mm: the 30 European allies" in titles
    lines = [t for t in fig.data if t.name in ("status-quo", "action-plan")]
    assert len(lines) == 2 * len(groups)
    # the first panel's action-plan line is the summed stock of the group
    g = groups[0]
    first = next(t for t in fig.data if t.name == "action-plan")
    want = ap.dataset.stock.sel(party=list(g.parties), product=g.product).sum("party")
    np.testing.assert_allclose(first.y, want.isel(sample=0).values)
    target_traces = {t.name for t in fig.data if t.name.startswith("target ")}
    assert target_traces == {f"target {tid}" for tid in sq.scenario.targets}


def test_stocks_draws_fans_for_several_samples(runs: dict[str, Result]) -> None:
    multi = _multi_sample(runs["action-plan"])
    fig = multi.plot.stocks(targets=["usa-155mm-2028"])
    names = [t.name for t in fig.data]
    for band in ("action-plan p5–p95", "action-plan p25–p75", "action-plan median"):
        assert band in names
    assert "action-plan" not in names  # no single line: a fan
    fills = [t for t in fig.data if t.fill == "tonexty"]
    assert len(fills) == 2
    median = next(t for t in fig.data if t.name == "action-plan median")
    stock = multi.dataset.stock.sel(party=["USA"], product="shell-155mm").sum("party")
    np.testing.assert_allclose(median.y, np.percentile(stock.values, 50, axis=0))
    outer_hi = next(t for t in fig.data if t.name == "action-plan p5–p95")
    np.testing.assert_allclose(outer_hi.y, np.percentile(stock.values, 95, axis=0))
    # one sample: a plain line, no fan
    single = runs["action-plan"].plot.stocks(targets=["usa-155mm-2028"])
    assert "action-plan" in [t.name for t in single.data]
    assert not any(t.fill == "tonexty" for t in single.data)


def test_party_stocks_draws_the_group_s_targets_as_stocks_does(runs: dict[str, Result]) -> None:
    sq, ap = runs["status-quo"], runs["action-plan"]
    g = charts.target_groups(sq.scenario)[0]
    fig = charts.party_stocks([sq, ap], list(g.parties), [g.product])
    assert [a.text for a in fig.layout.annotations] == [f"{g.product}: {g.label}"]
    first = next(t for t in fig.data if t.name == "action-plan")
    want = ap.dataset.stock.sel(party=list(g.parties), product=g.product).sum("party")
    np.testing.assert_allclose(first.y, want.isel(sample=0).values)
    # each target of exactly this group and munition: the same level and date as in stocks()
    levels = {t.name: t for t in fig.data if t.name.startswith("target ")}
    assert set(levels) == {f"target {tid}" for tid in g.targets}
    same = {t.name: t for t in charts.stocks(sq).data if t.name in levels}
    for name, trace in levels.items():
        assert trace.to_plotly_json() == same[name].to_plotly_json()
    assert fig.layout.height == max(320, 260 * 1 + 80)  # one munition, one row of panels


def test_stocks_unknown_target_is_an_error(runs: dict[str, Result]) -> None:
    with pytest.raises(KeyError, match="no-such-target"):
        charts.stocks(runs["action-plan"], targets=["no-such-target"])


def test_capacity_colours_output_by_what_binds(runs: dict[str, Result]) -> None:
    r = runs["action-plan"]
    fig = r.plot.capacity("shell-155mm")
    ds = r.dataset.isel(sample=0)
    lines = ds.line.values[ds.line_product.values == "shell-155mm"]
    labels = {str(x) for x in np.unique(ds.binding.sel(line=lines).values)}
    assert {"capacity", "orders", "input:propellant-charge"} <= labels
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert set(bars) == labels
    inputs = sorted(lab for lab in labels if lab.startswith("input:"))
    for label, bar in bars.items():
        assert bar.marker.color == charts.binding_colour(label, inputs)
    assert bars["capacity"].marker.color == charts.BINDING_COLOURS["capacity"]
    assert len({b.marker.color for b in bars.values()}) == len(bars)
    # the stacked output is the lines' production, split by binding label
    total = sum(np.asarray(b.y, dtype=float) for b in bars.values())
    np.testing.assert_allclose(total, ds.production.sel(line=lines).sum("line").values)
    cap = next(t for t in fig.data if t.name == "capacity per month")
    np.testing.assert_allclose(cap.y, ds.capacity_per_month.sel(line=lines).sum("line").values)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 1 and len(heat[0].y) <= len(lines)


def test_capacity_default_and_unknown_product(runs: dict[str, Result]) -> None:
    r = runs["status-quo"]
    assert r.scenario.munitions[0] in r.plot.capacity().layout.title.text
    with pytest.raises(KeyError):
        r.plot.capacity("no-such-product")


def test_deliveries_and_aid(runs: dict[str, Result]) -> None:
    r = runs["action-plan"]
    fig = r.plot.deliveries(["shell-155mm"], top=3)
    ds = r.dataset.isel(sample=0)
    allies = ds.party.values[ds.party_kind.values == "ally"]
    buyers = [t for t in fig.data if t.xaxis == "x"]
    assert len(buyers) == 4 and buyers[-1].name == "other allies"
    total = sum(np.asarray(t.y, dtype=float) for t in buyers)
    want = ds.receipts.sel(product="shell-155mm", party=allies).sum("party").values
    np.testing.assert_allclose(total, want)
    aid = [t for t in fig.data if t.xaxis == "x2"]
    assert aid and all(t.name.startswith("UKR ") for t in aid)


def test_recipients_consumption_vs_supply(runs: dict[str, Result]) -> None:
    r = runs["status-quo"]
    fig = r.plot.recipients(["shell-155mm"])
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"consumed", "shortfall (unmet demand)", "supply received"}
    demand = r.dataset.consumption_demand.sel(party="UKR", product="shell-155mm").values
    stacked = np.asarray(by_name["consumed"].y) + np.asarray(by_name["shortfall (unmet demand)"].y)
    np.testing.assert_allclose(stacked, demand, atol=1e-6)


def test_spending_against_pledge_lines(runs: dict[str, Result]) -> None:
    sq, hp = runs["status-quo"], runs["hague-pledge"]
    fig = charts.spending([sq, hp])
    levels = sorted(shape.y0 for shape in fig.layout.shapes)
    assert levels == [2.0, 3.5]
    bars = fig.data[0]
    assert bars.type == "bar" and len(bars.x) == len(sq.scenario.allies)
    year = charts.latest_spending_year(sq.scenario)
    assert year is not None and str(year) in bars.name
    projected = next(t for t in fig.data if t.name.startswith("hague-pledge"))
    series = economic_series(hp.scenario, range(year, 2036)).data.pct_gdp.sel(year=2035)
    got = dict(zip(projected.x, projected.y, strict=True))
    for party in ("DEU", "FRA", "POL"):
        assert got[party] == pytest.approx(float(series.sel(party=party)))
    assert got["DEU"] == pytest.approx(3.5)


def test_time_to_target_compares_scenarios(runs: dict[str, Result]) -> None:
    sq, ap = runs["status-quo"], runs["action-plan"]
    fig = charts.time_to_target([sq, ap])
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert list(bars) == ["status-quo", "action-plan"]
    table = ap.targets().set_index("target")
    row = dict(zip(bars["action-plan"].y, bars["action-plan"].x, strict=True))
    assert row["europe-155mm-2028"] == table.loc["europe-155mm-2028", "months_to_target"]
    table = sq.targets().set_index("target")
    row = dict(zip(bars["status-quo"].y, bars["status-quo"].x, strict=True))
    unmet = table[table.first_met.isna()].index
    assert len(unmet) > 0
    for tid in unmet:  # drawn to the horizon end, labelled not met
        assert row[tid] == sq.scenario.months
    assert any("not met" in text for text in bars["status-quo"].text)


def test_group_labels(runs: dict[str, Result]) -> None:
    s = runs["action-plan"].scenario
    europe = [k for k, p in s.parties.items() if p.kind == "ally" and p.region == "europe"]
    assert charts.group_label(s, europe) == f"the {len(europe)} European allies"
    assert charts.group_label(s, europe[:7]) == "7 European allies"
    assert charts.group_label(s, ["DEU", "FRA"]) == "DEU,FRA"
    assert charts.group_label(s, [*europe[:5], "USA"]) == "6 allies"


def test_empty_charts_for_a_scenario_without_targets() -> None:
    r = materiel.simulate("hindcast-2022")
    assert "no capability targets" in r.plot.stocks().layout.annotations[0].text
    assert "no capability targets" in r.plot.time_to_target().layout.annotations[0].text
    assert r.plot.deliveries().data  # aid from stocks to UKR


def test_plot_accessor_draws_the_result_s_own_charts(runs: dict[str, Result]) -> None:
    r = runs["action-plan"]
    for name in ("stocks", "capacity", "deliveries", "recipients", "spending", "time_to_target"):
        via_accessor = getattr(r.plot, name)()
        assert via_accessor.to_json() == getattr(charts, name)(r).to_json(), name
        assert via_accessor.data, name  # every chart of action-plan has traces
    assert "stocks" in repr(r.plot) and "'action-plan'" in repr(r.plot)

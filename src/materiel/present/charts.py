"""Charts of a run: stocks against targets, capacity and what binds, deliveries, aid,
recipients' shortfall, spending against the pledges, and scenario comparisons.

Why Plotly
----------
One charting library serves every place materiel shows a picture:

- the **offline HTML report** (:mod:`materiel.present.report`): a figure serialises to
  JSON and ``plotly.js`` is a single script that can be inlined once in the
  file, so the report opens with no network and no CDN;
- the **web dashboard** (``materiel serve``, :mod:`materiel.web`): the same
  figure objects go to the browser as JSON, with zoom, hover and legend
  toggling for free;
- **notebooks**: a :class:`plotly.graph_objects.Figure` renders itself in
  Jupyter, and ``Result.plot`` returns one.

PNG export goes through ``kaleido`` (≥ 1.0), which drives a local Chromium
through the DevTools protocol; it works offline when a Chromium is installed
(Debian's ``chromium``) and MathJax is switched off (kaleido otherwise puts a
MathJax ``<script>`` from a CDN in its render page). See :func:`write_png`.

Every function takes a :class:`~materiel.analysis.result.Result` (or a list of them,
for comparisons) and returns a :class:`plotly.graph_objects.Figure`. They
select data by named dimension (``party``, ``product``, ``line``, ``month``,
``sample``) and never by scenario id. Where a Result has more than one
sample, stocks are drawn as percentile fans (p5-p95 and p25-p75 bands and the
median); other charts show sample 0, like the tables.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
import xarray as xr
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from materiel._xarray import lazy_dask
from materiel.analysis.metrics import target_stock
from materiel.analysis.spending import spending_table
from materiel.engine.binding import Binding, input_product
from materiel.engine.binding import label as binding_label
from materiel.months import month_index, parse_month, year_of
from materiel.scenario.economics import Basis, economic_series

if TYPE_CHECKING:
    from materiel.analysis.montecarlo import MonteCarloResult
    from materiel.analysis.result import Result
    from materiel.scenario.schema import Scenario

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = [
    "BINDING_COLOURS",
    "FAN_PERCENTILES",
    "PLEDGE_LINES",
    "ResultPlot",
    "TargetGroup",
    "binding_colour",
    "capacity",
    "deliveries",
    "group_label",
    "latest_spending_year",
    "party_stocks",
    "png_problem",
    "probability_of_target",
    "recipients",
    "sampled_stocks",
    "spending",
    "stocks",
    "target_groups",
    "time_to_target",
    "write_png",
]

BINDING_COLOURS = {
    binding_label(Binding.CAPACITY): "#4c78a8",
    binding_label(Binding.ORDERS): "#bab0ac",
}
"""Colours of the binding labels that are not inputs; inputs take :data:`INPUT_COLOURS`."""
INPUT_COLOURS = ("#e45756", "#f58518", "#b279a2", "#9d755d", "#ff9da6", "#eeca3b", "#d62728")
SCENARIO_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d")
PARTY_COLOURS = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
    "#1b9e77",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#a6761d",
    "#17becf",
    "#8c564b",
    "#bcbd22",
)
FAN_PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
"""Percentiles of the fans: outer band p5-p95, inner band p25-p75, median."""
PLEDGE_LINES = ((2.0, "2% of GDP (2014 pledge)"), (3.5, "3.5% core defence (2025 pledge)"))
"""%GDP reference lines on the spending chart."""

_REGION_ADJECTIVE = {"europe": "European", "north-america": "North American"}
_LAYOUT = {"template": "plotly_white", "font": {"family": "system-ui, sans-serif", "size": 12}}


def _as_list(results: Result | Sequence[Result]) -> list[Result]:
    from materiel.analysis.result import Result

    return [results] if isinstance(results, Result) else list(results)


def _months(ds: xr.Dataset) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(ds.month.values))


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def binding_colour(label: str, inputs: Sequence[str] = ()) -> str:
    """Colour of a binding label: ``capacity``, ``orders`` or ``input:<product>``.

    Inputs are coloured by their position in ``inputs`` (the sorted input labels
    of the figure), so one input keeps one colour within a figure.
    """
    if label in BINDING_COLOURS:
        return BINDING_COLOURS[label]
    order = sorted(inputs) if label in inputs else sorted([*inputs, label])
    return INPUT_COLOURS[order.index(label) % len(INPUT_COLOURS)]


# --- target groups -------------------------------------------------------------------


@dataclass(frozen=True)
class TargetGroup:
    """The parties whose stocks of one munition count together toward one or more targets."""

    parties: tuple[str, ...]
    product: str
    targets: tuple[str, ...]
    label: str


def group_label(s: Scenario, parties: Sequence[str]) -> str:
    """Plain name of a group of parties: the codes when few, else a count and region.

    ``["DEU", "FRA"]`` -> ``"DEU,FRA"``; the 30 European allies -> ``"the 30 European
    allies"`` when they are all of them, ``"12 European allies"`` when some.
    """
    parties = list(parties)
    if len(parties) <= 4:
        return ",".join(parties)
    known = [s.parties[p] for p in parties if p in s.parties]
    kinds = {p.kind for p in known}
    regions = {p.region for p in known}
    noun = "allies" if kinds == {"ally"} else "parties"
    if len(regions) == 1 and len(known) == len(parties):
        region = next(iter(regions))
        adjective = _REGION_ADJECTIVE.get(region)
        if adjective:
            every = {k for k, p in s.parties.items() if p.kind == "ally" and p.region == region}
            article = "the " if noun == "allies" and every == set(parties) else ""
            return f"{article}{len(parties)} {adjective} {noun}"
    return f"{len(parties)} {noun}"


def target_groups(s: Scenario) -> list[TargetGroup]:
    """Targets grouped by (parties, munition), in the order of the scenario's targets."""
    groups: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for tid, t in s.targets.items():
        groups.setdefault((tuple(t.parties), t.product), []).append(tid)
    return [
        TargetGroup(parties, product, tuple(tids), group_label(s, parties))
        for (parties, product), tids in groups.items()
    ]


# --- stocks vs target ----------------------------------------------------------------


def _fan_traces(
    x: pd.DatetimeIndex, series: xr.DataArray, name: str, colour: str, legend: bool
) -> list[go.Scatter]:
    """Median line, and p5-p95 / p25-p75 bands when there are several samples."""
    if series.sizes.get("sample", 1) <= 1:
        y = series.isel(sample=0).values if "sample" in series.dims else series.values
        return [
            go.Scatter(
                x=x,
                y=y,
                name=name,
                mode="lines",
                line={"color": colour},
                legendgroup=name,
                showlegend=legend,
            )
        ]
    q = np.percentile(series.values, FAN_PERCENTILES, axis=series.dims.index("sample"))
    return _band_traces(x, q, name, colour, legend)


def _band_traces(
    x: pd.DatetimeIndex, q: np.ndarray, name: str, colour: str, legend: bool
) -> list[go.Scatter]:
    """p5-p95 and p25-p75 bands and the median from ``q`` (one row per FAN_PERCENTILES)."""
    group = name
    traces = []
    for lo, hi, alpha, band in ((0, 4, 0.15, "p5–p95"), (1, 3, 0.3, "p25–p75")):
        traces.append(
            go.Scatter(
                x=x,
                y=q[lo],
                mode="lines",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=group,
                name=f"{name} p{FAN_PERCENTILES[lo]:g}",
            )
        )
        traces.append(
            go.Scatter(
                x=x,
                y=q[hi],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_rgba(colour, alpha),
                name=f"{name} {band}",
                legendgroup=group,
                showlegend=legend,
            )
        )
    traces.append(
        go.Scatter(
            x=x,
            y=q[2],
            name=f"{name} median",
            mode="lines",
            line={"color": colour},
            legendgroup=group,
            showlegend=legend,
        )
    )
    return traces


def stocks(
    results: Result | Sequence[Result],
    *,
    targets: Sequence[str] | None = None,
    cols: int = 2,
    product: str | None = None,
) -> go.Figure:
    """Stock of each target's party group and munition over time, against the target.

    One panel per group of parties and munition (from the first Result's
    targets, or only ``targets``, or only those of munition ``product``); one
    line per Result, or percentile fans when a Result has several samples;
    each target is a dashed level with a marker at its date.
    """
    runs = _as_list(results)
    ref = runs[0].scenario
    groups = target_groups(ref)
    if targets is not None:
        wanted = set(targets)
        unknown = wanted - set(ref.targets)
        if unknown:
            raise KeyError(f"unknown targets: {', '.join(sorted(unknown))}")
        groups = [g for g in groups if wanted & set(g.targets)]
    if product is not None:
        groups = [g for g in groups if g.product == product]
        if not groups:
            return _empty(
                f"Stocks of {product}",
                f"no capability target of {ref.id} counts "
                f"{product}: pick a party to see its own stock",
            )
    if not groups:
        return _empty("Stocks vs targets", f"{ref.id} has no capability targets")
    cols = max(1, min(cols, len(groups)))
    fig, rows = _panels([f"{g.product}: {g.label}" for g in groups], cols)
    for i, g in enumerate(groups):
        row, col = i // cols + 1, i % cols + 1
        for j, r in enumerate(runs):
            ds = r.dataset
            parties = [p for p in g.parties if p in ds.party.values]
            if g.product not in ds["product"].values or not parties:
                continue
            series = target_stock(ds, parties, g.product)
            colour = SCENARIO_COLOURS[j % len(SCENARIO_COLOURS)]
            for trace in _fan_traces(_months(ds), series, r.scenario.id, colour, legend=i == 0):
                fig.add_trace(trace, row=row, col=col)
        for tid in g.targets:
            fig.add_trace(_target_level(tid, ref, runs), row=row, col=col)
    title = "Stocks against capability targets (dashed: target level, ◆ its date)"
    return _stock_layout(fig, title, rows)


def party_stocks(
    results: Result | Sequence[Result],
    party: str | Sequence[str],
    products: Sequence[str] | None = None,
) -> go.Figure:
    """One party's own stock of each munition over time (or several parties' together),
    one line per Result.

    Panels: ``products``, else every munition the parties hold or use in some
    run. A target that counts exactly these parties is drawn as a dashed level
    with ◆ at its date (other targets count other groups: see :func:`stocks`).
    Several samples give percentile fans.
    """
    runs = _as_list(results)
    ref = runs[0].scenario
    parties = [party] if isinstance(party, str) else list(party)
    unknown = [p for p in parties if p not in ref.parties]
    if unknown or not parties:
        raise KeyError(f"no party {', '.join(unknown) or '(none given)'} in {ref.id}")
    wanted = list(products) if products is not None else list(ref.munitions)
    shown = []
    for k in wanted:
        for r in runs:
            ds = r.dataset
            if not set(parties) <= set(ds.party.values) or k not in ds["product"].values:
                continue
            cell = {"party": parties, "product": k}
            if (
                float(abs(ds.stock.sel(cell)).max()) > 0
                or float(ds.consumption_demand.sel(cell).sum()) > 0
            ):
                shown.append(k)
                break
    who = (
        f"{ref.parties[parties[0]].name} ({parties[0]})"
        if len(parties) == 1
        else (group_label(ref, parties))
    )
    short = parties[0] if len(parties) == 1 else who
    if not shown:
        return _empty(f"Stocks of {who}", f"{who} holds none of {', '.join(wanted)}")
    cols = 2 if len(shown) > 1 else 1
    fig, rows = _panels([f"{k}: {short}" for k in shown], cols)
    for i, k in enumerate(shown):
        row, col = i // cols + 1, i % cols + 1
        for j, r in enumerate(runs):
            ds = r.dataset
            if not set(parties) <= set(ds.party.values) or k not in ds["product"].values:
                continue
            series = target_stock(ds, parties, k)
            colour = SCENARIO_COLOURS[j % len(SCENARIO_COLOURS)]
            for trace in _fan_traces(_months(ds), series, r.scenario.id, colour, legend=i == 0):
                fig.add_trace(trace, row=row, col=col)
        for tid, t in ref.targets.items():
            if set(t.parties) == set(parties) and t.product == k:
                fig.add_trace(_target_level(tid, ref, runs), row=row, col=col)
    return _stock_layout(fig, f"Stocks held by {who}, units", rows)


def _panels(titles: list[str], cols: int, spacing: float = 0.12) -> tuple[go.Figure, int]:
    """A grid of panels, ``cols`` wide, one per title, row by row; and its rows.

    Rows are ``spacing`` apart (of the figure's height), less when there are
    many: ``min(spacing, 0.3 / rows)``.
    """
    rows = math.ceil(len(titles) / cols)
    fig: go.Figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        vertical_spacing=min(spacing, 0.3 / rows),
        horizontal_spacing=0.08,
    )
    return fig, rows


def _target_level(tid: str, ref: Scenario, runs: Sequence[Result]) -> go.Scatter:
    """Target ``tid`` of ``ref`` as a dashed level from the first month, ◆ at its date."""
    t = ref.targets[tid]
    return go.Scatter(
        x=[_months(runs[0].dataset)[0], pd.Timestamp(f"{t.by}-01")],
        y=[t.required_quantity] * 2,
        mode="lines+markers",
        name=f"target {tid}",
        line={"color": "#222", "dash": "dash", "width": 1},
        marker={"symbol": ["line-ns", "diamond"], "size": [0, 9], "color": "#222"},
        legendgroup="targets",
        showlegend=False,
        hovertemplate=f"{tid}: %{{y:,.0f}} by {t.by}<extra></extra>",
    )


def _stock_layout(fig: go.Figure, title: str, rows: int) -> go.Figure:
    """Stock panels' axes and layout: from zero, SI ticks, height by the number of rows."""
    fig.update_yaxes(rangemode="tozero", tickformat="~s")
    fig.update_layout(
        title=title,
        height=max(320, 260 * rows + 80),
        legend={"orientation": "h", "y": -0.05},
        **_LAYOUT,
    )
    return fig


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        title=title, height=200, xaxis={"visible": False}, yaxis={"visible": False}, **_LAYOUT
    )
    return fig


# --- capacity and binding ------------------------------------------------------------


def _lines_of(ds: xr.Dataset, product: str) -> np.ndarray:
    lines: np.ndarray = ds.line.values[ds.line_product.values == product]
    return lines


def capacity(result: Result, product: str | None = None, country: str | None = None) -> go.Figure:
    """Capacity ramp and output of one product's lines, coloured by what binds.

    Top panel: total capacity (line) and monthly output stacked by the binding
    label of the line that made it (``capacity``, ``orders``, ``input:<product>``).
    Bottom panel: what binds each line each month. ``product`` defaults to the
    first munition that has lines; ``country`` keeps the lines located there
    (an empty figure saying so when it has none of that product).
    """
    s = result.scenario
    ds = result.dataset
    if product is None:
        product = next((k for k in s.munitions if len(_lines_of(ds, k))), None)
        if product is None:
            return _empty("Capacity", f"{s.id} has no munition lines")
    lines = _lines_of(ds, product)
    if len(lines) == 0:
        raise KeyError(f"no production line makes {product!r} in {s.id}")
    if country is not None:
        lines = lines[ds.line_country.sel(line=lines).values == country]
        if len(lines) == 0:
            return _empty(
                f"{product} in {country}: capacity and what binds",
                f"no production line in {country} makes {product} in {s.id}",
            )
    one = ds.isel(sample=0).sel(line=lines)
    cap = one.capacity_per_month
    used = cap.max("month") > 0
    lines = lines[used.values] if bool(used.any()) else lines
    one = one.sel(line=lines)
    x = _months(ds)
    binding = one.binding.values.astype(str)  # (month, line)
    labels = sorted(np.unique(binding), key=lambda b: (input_product(b) is not None, b))
    inputs = [b for b in labels if input_product(b) is not None]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.55, 0.45],
        vertical_spacing=0.1,
        subplot_titles=(
            "Capacity and output (units/month), output coloured by what binds",
            "What binds each line",
        ),
    )
    production = one.production.values
    for label in labels:
        y = np.where(binding == label, production, 0.0).sum(axis=1)
        fig.add_trace(
            go.Bar(
                x=x,
                y=y,
                name=label,
                marker={"color": binding_colour(label, inputs)},
                legendgroup=label,
                hovertemplate=f"{label}: %{{y:,.0f}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=cap.sum("line").values,
            name="capacity per month",
            mode="lines",
            line={"color": "#222", "width": 2},
        ),
        row=1,
        col=1,
    )
    codes = np.vectorize(labels.index)(binding).T if binding.size else np.zeros((0, 0))
    n = len(labels)
    scale: list[list[Any]] = []
    for k, label in enumerate(labels):
        colour = binding_colour(label, inputs)
        scale += [[k / n, colour], [(k + 1) / n, colour]]
    names = [
        f"{line} ({country})" for line, country in zip(lines, one.line_country.values, strict=True)
    ]
    fig.add_trace(
        go.Heatmap(
            x=x,
            y=names,
            z=codes,
            zmin=-0.5,
            zmax=n - 0.5,
            colorscale=scale,
            showscale=False,
            name="binding",
            text=binding.T,
            xgap=0,
            ygap=1,
            customdata=np.stack([production.T, one.capacity_per_month.values.T], axis=-1),
            hovertemplate="%{y}<br>%{x|%Y-%m}: %{text}<br>output %{customdata[0]:,.0f}"
            " of capacity %{customdata[1]:,.0f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    note = " (sample 0)" if ds.sizes.get("sample", 1) > 1 else ""
    where = f" in {country}" if country is not None else ""
    fig.update_traces(marker_line_width=0, selector={"type": "bar"})
    fig.update_layout(
        title=f"{product}{where}: capacity ramp and what binds, {s.id}{note}",
        barmode="stack",
        bargap=0,
        height=420 + 18 * len(lines),
        legend={"orientation": "h", "y": -0.08},
        **_LAYOUT,
    )
    fig.update_yaxes(tickformat="~s", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    return fig


# --- deliveries and aid --------------------------------------------------------------


def deliveries(result: Result, products: Sequence[str] | None = None, *, top: int = 8) -> go.Figure:
    """Monthly deliveries to buyers and aid to recipients, one row per munition.

    Left: contract deliveries received by each ally (the ``top`` largest buyers
    of the munition, the rest as "other allies"). Right: what each recipient
    got, from donors' stocks (``aid_received``) and from production
    (``receipts``). ``products`` defaults to every munition delivered.
    """
    s = result.scenario
    ds = result.dataset.isel(sample=0)
    kind = ds.party_kind.values
    allies = ds.party.values[kind == "ally"]
    recipients_ = ds.party.values[kind == "recipient"]
    if products is None:
        flows = (ds.receipts + ds.aid_received).sum(("month", "party"))
        products = [k for k in s.munitions if float(flows.sel(product=k)) > 0]
    products = list(products)
    if not products:
        return _empty("Deliveries", f"no munition is delivered in {s.id}")
    x = _months(result.dataset)
    fig = make_subplots(
        rows=len(products),
        cols=2,
        horizontal_spacing=0.08,
        vertical_spacing=min(0.08, 0.3 / len(products)),
        subplot_titles=[
            t for k in products for t in (f"{k}: deliveries to buyers", f"{k}: aid to recipients")
        ],
    )
    colour_of: dict[str, str] = {}

    def colour(name: str) -> str:
        if name not in colour_of:
            colour_of[name] = PARTY_COLOURS[len(colour_of) % len(PARTY_COLOURS)]
        return colour_of[name]

    shown: set[str] = set()
    for i, k in enumerate(products, start=1):
        got = ds.receipts.sel(product=k, party=allies)
        total = got.sum("month")
        order = [
            str(p)
            for p in total.sortby(total, ascending=False).party.values
            if float(total.sel(party=p)) > 0
        ]
        for p in order[:top]:
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=got.sel(party=p).values,
                    name=p,
                    legendgroup=p,
                    marker={"color": colour(p)},
                    showlegend=p not in shown,
                ),
                row=i,
                col=1,
            )
            shown.add(p)
        if len(order) > top:
            rest = got.sel(party=order[top:]).sum("party").values
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=rest,
                    name="other allies",
                    legendgroup="other",
                    marker={"color": "#ccc"},
                    showlegend="other" not in shown,
                ),
                row=i,
                col=1,
            )
            shown.add("other")
        for p in recipients_:
            for var, how in (("aid_received", "from stocks"), ("receipts", "from production")):
                y = ds[var].sel(product=k, party=p).values
                if not np.any(y > 0):
                    continue
                name = f"{p} {how}"
                fig.add_trace(
                    go.Bar(
                        x=x,
                        y=y,
                        name=name,
                        legendgroup=name,
                        showlegend=name not in shown,
                        marker={
                            "color": colour(name),
                            "pattern": {"shape": "/" if var == "aid_received" else ""},
                        },
                    ),
                    row=i,
                    col=2,
                )
                shown.add(name)
    fig.update_traces(marker_line_width=0, selector={"type": "bar"})
    fig.update_layout(
        title=f"Deliveries by buyer and aid to recipients (units/month), {s.id}",
        barmode="stack",
        bargap=0,
        height=120 + 240 * len(products),
        legend={"orientation": "h", "y": -0.04},
        **_LAYOUT,
    )
    fig.update_yaxes(tickformat="~s")
    return fig


def recipients(result: Result, products: Sequence[str] | None = None) -> go.Figure:
    """Recipients' consumption against supply, and the shortfall, per munition.

    Bars: consumed and unmet demand (shortfall), stacked to the demand; line:
    supply received (aid from stocks and from production). One panel per
    recipient and munition with demand.
    """
    s = result.scenario
    ds = result.dataset.isel(sample=0)
    panels: list[tuple[str, str]] = []
    for p in ds.party.values[ds.party_kind.values == "recipient"]:
        for k in products if products is not None else ds["product"].values:
            if float(ds.consumption_demand.sel(party=p, product=k).sum()) > 0:
                panels.append((str(p), str(k)))
    if not panels:
        return _empty("Recipients", f"no recipient has demand in {s.id}")
    x = _months(result.dataset)
    cols = 2 if len(panels) > 1 else 1
    fig, rows = _panels([f"{p}: {k}" for p, k in panels], cols, spacing=0.1)
    for i, (p, k) in enumerate(panels):
        row, col = i // cols + 1, i % cols + 1
        sel = {"party": p, "product": k}
        supply = ds.receipts.sel(sel) + ds.aid_received.sel(sel)
        for trace in (
            go.Bar(
                x=x,
                y=ds.consumed.sel(sel).values,
                name="consumed",
                marker={"color": "#54a24b"},
                legendgroup="consumed",
            ),
            go.Bar(
                x=x,
                y=ds.shortfall.sel(sel).values,
                name="shortfall (unmet demand)",
                marker={"color": "#e45756"},
                legendgroup="shortfall",
            ),
            go.Scatter(
                x=x,
                y=supply.values,
                name="supply received",
                mode="lines",
                line={"color": "#222"},
                legendgroup="supply",
            ),
        ):
            trace.showlegend = i == 0
            fig.add_trace(trace, row=row, col=col)
    fig.update_traces(marker_line_width=0, selector={"type": "bar"})
    fig.update_layout(
        title=f"Recipients: consumption vs supply and shortfall (units/month), {s.id}",
        barmode="stack",
        bargap=0,
        height=120 + 260 * rows,
        legend={"orientation": "h", "y": -0.05},
        **_LAYOUT,
    )
    fig.update_yaxes(tickformat="~s")
    return fig


# --- spending ------------------------------------------------------------------------


def latest_spending_year(s: Scenario, basis: Basis = "nato") -> int | None:
    """The latest year with a published %GDP on ``basis`` for the most allies.

    (The latest year of a table often covers only a few early reporters; this
    picks the latest year whose count of allies with a figure is the largest.)
    """
    field = f"defence_pct_gdp_{basis}"
    count: dict[int, int] = {}
    for p in s.allies:
        for y, rec in s.economics.get(p, {}).items():
            if getattr(rec, field) is not None:
                count[int(y)] = count.get(int(y), 0) + 1
    if not count:
        return None
    return max(count, key=lambda y: (count[y], y))


def spending(
    results: Result | Sequence[Result],
    *,
    year: int | None = None,
    basis: Basis = "nato",
) -> go.Figure:
    """Defence spending as % of GDP by ally, against the 2% and 3.5% lines.

    Bars: published %GDP in ``year`` (default: the latest year with figures;
    from :func:`~materiel.analysis.spending.spending_table`). Markers: each Result's
    %GDP in the last year of its horizon, projected along its spending paths
    (from :func:`~materiel.scenario.economics.economic_series`).
    """
    runs = _as_list(results)
    s = runs[0].scenario
    year = year if year is not None else latest_spending_year(s, basis)
    if year is None:
        return _empty("Defence spending", f"{s.id} has no spending figures")
    table = spending_table(s, year, 2.0, basis).set_index("party")
    pct = table[f"pct_gdp_{basis}"].astype(float)
    order = pct.sort_values(ascending=False, na_position="last").index
    colours = [
        "#ccc" if math.isnan(v) else "#2e7d32" if v >= 3.5 else "#66bb6a" if v >= 2.0 else "#f58518"
        for v in pct[order]
    ]
    fig = go.Figure(
        go.Bar(
            x=list(order),
            y=pct[order].values,
            name=f"{year} ({basis.upper()} definition)",
            marker={"color": colours},
            customdata=table.loc[order, "name"],
            hovertemplate="%{customdata} (%{x}): %{y:.2f}% of GDP<extra></extra>",
        )
    )
    for j, r in enumerate(runs):
        last = year_of(parse_month(r.scenario.start) + r.scenario.months - 1)
        if last <= year:
            continue
        series = economic_series(r.scenario, range(year, last + 1), basis).data
        projected = series.pct_gdp.sel(year=last).to_series().reindex(order)
        fig.add_trace(
            go.Scatter(
                x=list(order),
                y=projected.values,
                mode="markers",
                name=f"{r.scenario.id}: {last} projected",
                marker={
                    "symbol": "diamond",
                    "size": 8,
                    "color": SCENARIO_COLOURS[j % len(SCENARIO_COLOURS)],
                },
                hovertemplate="%{x}: %{y:.2f}% of GDP in "
                + str(last)
                + "<extra>"
                + r.scenario.id
                + "</extra>",
            )
        )
    for level, text in PLEDGE_LINES:
        fig.add_hline(
            y=level,
            line={"color": "#222", "dash": "dash", "width": 1},
            annotation_text=text,
            annotation_position="top right",
        )
    known = pct.notna()
    meets = int((pct[known] >= 2.0 - 1e-12).sum())
    fig.update_layout(
        title=f"Defence spending, % of GDP by ally: {meets} of {int(known.sum())} with data "
        f"at 2% or more in {year}",
        yaxis={"title": "% of GDP", "rangemode": "tozero"},
        height=440,
        legend={"orientation": "h", "y": -0.2},
        **_LAYOUT,
    )
    return fig


# --- Monte Carlo ---------------------------------------------------------------------


def sampled_stocks(mc: MonteCarloResult, *, cols: int = 2) -> go.Figure:
    """Percentile fans of each target's stock over the samples of a Monte Carlo run.

    One panel per target: p5-p95 and p25-p75 bands and the median of the
    stock its parties hold of its munition, the target as a dashed level, ◆ at
    its date.
    """
    s = mc.scenario
    if not s.targets:
        return _empty("Stocks vs targets over samples", f"{s.id} has no capability targets")
    items = list(s.targets.items())
    cols = max(1, min(cols, len(items)))
    fig, rows = _panels([f"{tid} ({t.product})" for tid, t in items], cols)
    fans = mc.fans.target_stock  # streamed: no trajectories needed
    x = pd.DatetimeIndex(fans.month.values)
    for i, (tid, t) in enumerate(items):
        row, col = i // cols + 1, i % cols + 1
        q = fans.sel(target=tid, quantile=[p / 100 for p in FAN_PERCENTILES]).values.T
        for trace in _band_traces(x, q, s.id, SCENARIO_COLOURS[0], legend=i == 0):
            fig.add_trace(trace, row=row, col=col)
        fig.add_trace(
            go.Scatter(
                x=[x[0], pd.Timestamp(f"{t.by}-01")],
                y=[t.required_quantity] * 2,
                mode="lines+markers",
                line={"color": "#222", "dash": "dash", "width": 1},
                marker={"symbol": ["line-ns", "diamond"], "size": [0, 9], "color": "#222"},
                showlegend=False,
                name=f"target {tid}",
                hovertemplate=f"{tid}: %{{y:,.0f}} by {t.by}<extra></extra>",
            ),
            row=row,
            col=col,
        )
    fig.update_yaxes(rangemode="tozero", tickformat="~s")
    fig.update_layout(
        title=f"Stocks against targets over {len(mc.samples)} samples of {s.id} "
        "(bands p5–p95 and p25–p75, line the median; streamed percentiles within 1%)",
        height=max(320, 260 * rows + 80),
        legend={"orientation": "h", "y": -0.05},
        **_LAYOUT,
    )
    return fig


def probability_of_target(mc: MonteCarloResult) -> go.Figure:
    """P(target reached in or before each month), one line per target; ◆ at each target date."""
    s = mc.scenario
    if not s.targets:
        return _empty("Probability of meeting each target", f"{s.id} has no capability targets")
    curves = mc.met_by_month()
    x = pd.DatetimeIndex(curves["month"].values)
    fig = go.Figure()
    for j, tid in enumerate(s.targets):
        colour = SCENARIO_COLOURS[j % len(SCENARIO_COLOURS)]
        y = curves.sel(target=tid).values
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=tid,
                line={"color": colour},
                hovertemplate=f"{tid}: %{{y:.0%}} by %{{x|%Y-%m}}<extra></extra>",
            )
        )
        by = month_index(s.targets[tid].by, s.start)
        if 0 <= by < len(x):
            fig.add_trace(
                go.Scatter(
                    x=[x[by]],
                    y=[y[by]],
                    mode="markers",
                    showlegend=False,
                    marker={"symbol": "diamond", "size": 9, "color": colour},
                    hovertemplate=f"{tid} at its date: %{{y:.0%}}<extra></extra>",
                )
            )
    fig.update_layout(
        title=f"Probability that each target is met by each month ({s.id}; ◆ its date)",
        yaxis={"tickformat": ".0%", "range": [0, 1.02]},
        height=420,
        legend={"orientation": "h", "y": -0.15},
        **_LAYOUT,
    )
    return fig


# --- comparison ----------------------------------------------------------------------


def time_to_target(results: Result | Sequence[Result]) -> go.Figure:
    """Months from each scenario's start until each target is first met.

    Grouped horizontal bars, one per scenario; a target not met by the horizon
    is drawn to the horizon end, hatched and labelled with its coverage; ◆
    marks the target's date (months from the first scenario's start).
    """
    runs = _as_list(results)
    order: list[str] = []
    for r in runs:
        order += [t for t in r.scenario.targets if t not in order]
    if not order:
        return _empty("Time to target", "no capability targets")
    fig = go.Figure()
    for j, r in enumerate(runs):
        table = r.targets()
        if table.empty:
            continue
        table = table.set_index("target").reindex([t for t in order if t in r.scenario.targets])
        met = table.first_met.notna()
        x = np.where(met, table.months_to_target.astype(float), float(r.scenario.months))
        text = [
            f"{m} ({int(n)} mo)" if ok else f"not met ({c:.0%})"
            for ok, m, n, c in zip(
                met,
                table.first_met,
                table.months_to_target.fillna(-1),
                table.coverage_at_horizon,
                strict=True,
            )
        ]
        colour = SCENARIO_COLOURS[j % len(SCENARIO_COLOURS)]
        fig.add_trace(
            go.Bar(
                y=list(table.index),
                x=x,
                orientation="h",
                name=r.scenario.id,
                text=text,
                textposition="auto",
                marker={"color": colour, "pattern": {"shape": ["" if ok else "/" for ok in met]}},
                hovertemplate="%{y}: %{text}<extra>" + r.scenario.id + "</extra>",
            )
        )
    ref = runs[0].scenario
    due = [(t, month_index(ref.targets[t].by, ref.start)) for t in order if t in ref.targets]
    fig.add_trace(
        go.Scatter(
            y=[t for t, _ in due],
            x=[m for _, m in due],
            mode="markers",
            name="target date",
            marker={"symbol": "diamond", "size": 10, "color": "#222"},
            hovertemplate="%{y} due at month %{x}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Time to target: months from the start until the stock first reaches it",
        barmode="group",
        xaxis={"title": "months from start"},
        yaxis={"autorange": "reversed"},
        height=160 + 22 * len(order) * max(1, len(runs)),
        legend={"orientation": "h", "y": -0.12},
        **_LAYOUT,
    )
    return fig


# --- PNG export ----------------------------------------------------------------------


def png_problem() -> str | None:
    """Why PNG export cannot work here, or None when kaleido and a Chromium are found."""
    try:
        importlib.import_module("kaleido")  # optional, untyped: imported by name
    except ImportError:
        return (
            "PNG export needs the kaleido package (>= 1.0), which is not installed: "
            "pip install 'kaleido>=1'"
        )
    try:
        chromium = importlib.import_module("choreographer.browsers.chromium")
        found = chromium.Chromium.find_browser(skip_local=False)
    except Exception:  # an internal API: when it moves, let the render say
        return None
    if not found:
        return (
            "PNG export needs a Chrome or Chromium that kaleido can drive, and none was found "
            "(install Debian's chromium, or set BROWSER_PATH); kaleido's own download needs "
            "the network"
        )
    return None


def write_png(figures: dict[str, go.Figure], directory: Path, *, scale: float = 1.0) -> list[Path]:
    """Write each figure as ``<directory>/<name>.png`` through kaleido, offline.

    MathJax is switched off and plotly.js comes from the installed plotly
    package, so the render page loads nothing from the network.
    """
    kaleido = importlib.import_module("kaleido")
    directory.mkdir(parents=True, exist_ok=True)
    specs = []
    paths = []
    for name, fig in figures.items():
        path = directory / f"{name}.png"
        height = fig.layout.height or 500
        specs.append(
            {
                "fig": fig,
                "path": str(path),
                "opts": {"format": "png", "width": 1100, "height": height, "scale": scale},
            }
        )
        paths.append(path)
    # one tab: on a 2-core machine more tabs were slower (13 s vs 23 s with 4 for 21 charts)
    kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False, "n": 1})
    return paths


# --- the accessor --------------------------------------------------------------------


class ResultPlot:
    """``result.plot``: the charts of one Result (``result.plot.stocks()``, ...)."""

    def __init__(self, result: Result) -> None:
        self._result = result

    def stocks(
        self, targets: Sequence[str] | None = None, *, cols: int = 2, product: str | None = None
    ) -> go.Figure:
        """Stocks vs targets; see :func:`stocks`."""
        return stocks(self._result, targets=targets, cols=cols, product=product)

    def party_stocks(
        self, party: str | Sequence[str], products: Sequence[str] | None = None
    ) -> go.Figure:
        """One party's own stocks; see :func:`party_stocks`."""
        return party_stocks(self._result, party, products)

    def capacity(self, product: str | None = None, country: str | None = None) -> go.Figure:
        """Capacity ramp and what binds; see :func:`capacity`."""
        return capacity(self._result, product, country)

    def deliveries(self, products: Sequence[str] | None = None, *, top: int = 8) -> go.Figure:
        """Deliveries by buyer and aid to recipients; see :func:`deliveries`."""
        return deliveries(self._result, products, top=top)

    def recipients(self, products: Sequence[str] | None = None) -> go.Figure:
        """Recipients' consumption vs supply and shortfall; see :func:`recipients`."""
        return recipients(self._result, products)

    def spending(self, year: int | None = None, basis: Basis = "nato") -> go.Figure:
        """Spending as % of GDP against 2% and 3.5%; see :func:`spending`."""
        return spending(self._result, year=year, basis=basis)

    def time_to_target(self) -> go.Figure:
        """Months until each target is met; see :func:`time_to_target`."""
        return time_to_target(self._result)

    def __repr__(self) -> str:
        names = (
            "stocks",
            "party_stocks",
            "capacity",
            "deliveries",
            "recipients",
            "spending",
            "time_to_target",
        )
        return f"<materiel ResultPlot of {self._result.scenario.id!r}: {', '.join(names)}>"

"""Metrics computed from a run's Dataset: targets, binding inputs, money, aid, shortfall.

Every function takes the labelled Dataset (with its ``sample`` dimension) and
the scenario, and keeps the ``sample`` dimension where it makes sense, so the
same code serves deterministic runs (one sample) and Monte Carlo runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from materiel._memo import ByIdentity
from materiel._xarray import lazy_dask
from materiel.engine.binding import is_input, is_label
from materiel.months import label_of, month_index, month_label, parse_month
from materiel.scenario.schema import Scenario

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = [
    "MET_TOLERANCE",
    "TARGET_COLUMNS",
    "Arrays",
    "ByCell",
    "Deferred",
    "Plain",
    "Source",
    "aid_table",
    "binding_table",
    "capex_split",
    "cells_at",
    "commitment_kept",
    "cost_by_party",
    "counted_on",
    "counted_stock",
    "first_month_at_or_above",
    "fleet_rows",
    "fleet_table",
    "interoperability_rows",
    "interoperability_table",
    "met_slack",
    "plain",
    "qualification_table",
    "recipient_shortfall_table",
    "replacement_table",
    "target_met",
    "target_rows",
    "target_stock",
    "target_table",
    "yearly",
]


_T = TypeVar("_T")
_DERIVED: ByIdentity[Any] = ByIdentity(128)


def _derived(kind: str, build: Callable[..., _T], *arrays: np.ndarray) -> _T:
    """``build(*arrays)``, kept once per ``kind`` and set of read-only arrays (the 128
    latest, :class:`~materiel._memo.ByIdentity`): a run's labels' coordinates are
    read-only arrays shared by every run of the scenario
    (:func:`materiel.analysis.simulate.build_result`), so the positions of parties and
    products, the month labels and the fleet cells are worked out once, not per run. A
    writeable array (a Dataset's own, which a caller might change) is built from each
    time. Callers read the value and never change it: it is shared."""
    if any(not isinstance(a, np.ndarray) or a.flags.writeable for a in arrays):
        return build(*arrays)
    out: _T = _DERIVED.get(arrays, lambda: build(*arrays), kind)
    return out


_month_index = lru_cache(maxsize=1024)(month_index)
""":func:`~materiel.months.month_index` of a target's date, parsed once."""


def _positions(values: np.ndarray) -> dict[str, int]:
    """Each label's position (``{str(label): index}``)."""
    return {str(v): i for i, v in enumerate(values)}


def _strings(values: np.ndarray) -> list[str]:
    """The labels as ``str``."""
    return [str(v) for v in values]


def _month_labels(months: np.ndarray) -> list[str]:
    """``label_of`` of each month."""
    return [label_of(m) for m in months]


MET_TOLERANCE = 1e-6
"""A target counts as met when the stock is short of it by at most this share (at least 1e-6)."""


def met_slack(required: Any) -> Any:
    """How far short of ``required`` still counts as meeting it, elementwise.

    ``slack = MET_TOLERANCE * max(1, |required|)``: it absorbs the rounding of
    sums of months and of the planner's solver. Works on floats, numpy arrays
    and DataArrays.
    """
    return MET_TOLERANCE * np.maximum(1.0, np.abs(required))


def target_met(stock: Any, required: Any) -> Any:
    """Whether ``stock`` meets ``required``, elementwise: the one "target met" rule.

    ``stock >= required - slack(required)`` (:func:`met_slack`). Works on
    floats, numpy arrays and DataArrays (broadcasting as they do).
    """
    return stock >= required - met_slack(required)


def commitment_kept(short: Any, due: Any) -> Any:
    """Whether a commitment short of ``due`` by ``short`` is kept, elementwise.

    ``short <= slack(due)`` (:func:`met_slack`): the same tolerance as
    :func:`target_met`, on the amount undelivered rather than on the stock.
    """
    return short <= met_slack(due)


class Plain(NamedTuple):
    """One variable of :class:`Arrays`: its dims and values (as ``xr.Variable`` has them)."""

    dims: tuple[str, ...]
    values: np.ndarray


class Deferred:
    """A variable of :class:`Arrays` whose values are made when first read (``make()``, kept):
    its dims and shape are known before, as :class:`Plain`'s."""

    __slots__ = ("_make", "_values", "dims", "shape")

    def __init__(
        self, dims: tuple[str, ...], shape: tuple[int, ...], make: Callable[[], np.ndarray]
    ) -> None:
        self.dims, self.shape = dims, shape
        self._make: Callable[[], np.ndarray] = make
        self._values: np.ndarray | None = None

    @property
    def values(self) -> np.ndarray:
        """The values, made on first read (the same array afterwards)."""
        if self._values is None:
            self._values = self._make()
        return self._values


class ByCell(Deferred):
    """A ``(sample, month, party, product)`` variable of :class:`Arrays` recorded on some
    cells only (``run_engine(cells=...)``): ``compact`` ``(sample, month, cell)`` holds its
    values at those cells, ``slot`` ``(party, product)`` each cell's column there (-1: not
    recorded, 0 throughout; :func:`materiel.engine.cells.cell_slots`). ``values`` expands
    it when first read, once; :func:`cells_at` reads a few cells without expanding it."""

    __slots__ = ("compact", "slot")

    def __init__(self, dims: tuple[str, ...], compact: np.ndarray, slot: np.ndarray) -> None:
        super().__init__(dims, (*compact.shape[:2], *slot.shape), partial(_expand, compact, slot))
        self.compact, self.slot = compact, slot


def _expand(compact: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """:class:`ByCell`'s whole variable: ``out[s, t, p, k] = compact[s, t, slot[p, k]]``
    where ``slot[p, k] >= 0``, 0 elsewhere."""
    S, T = compact.shape[:2]
    out = np.zeros((S, T, slot.size), dtype=compact.dtype)
    out[:, :, np.flatnonzero(slot.reshape(-1) >= 0)] = compact
    return out.reshape(S, T, *slot.shape)


class Arrays:
    """A run's variables (data and coordinates) as plain numpy arrays, by the names and dims
    its Dataset gives them, without the Dataset: what :func:`plain` and the plain-row
    tables read (``variables``, ``dims``, ``sizes`` and ``name in arrays``, as on an
    :class:`xarray.Dataset`, which they accept too).

    Made by :func:`materiel.analysis.simulate.build_result`, whose Result builds its
    Dataset only when asked for it.
    """

    def __init__(
        self, variables: Mapping[str, Plain | Deferred], qualified_from: np.ndarray | None = None
    ) -> None:
        self.variables = variables
        self.qualified_from = qualified_from
        """``(line, fleet)``: the first month each line's rounds fit each fleet's system, the
        run's own input (:attr:`materiel.engine.inputs.Inputs.qualified_from`, in the order
        of the ``line`` and ``fleet`` coordinates), so that :func:`interoperability_rows`
        need not compile the scenario's fleets again (~0.4 ms a run); None: it does."""
        sizes: dict[str, int] = {}
        for var in variables.values():
            shape = var.shape if isinstance(var, Deferred) else var.values.shape
            for dim, n in zip(var.dims, shape, strict=True):
                sizes.setdefault(dim, n)
        self.sizes: Mapping[str, int] = sizes
        self.dims: Mapping[str, int] = sizes

    def __contains__(self, name: object) -> bool:
        return name in self.variables


Source = xr.Dataset | Arrays
"""What :func:`plain` reads: a run's Dataset or its :class:`Arrays`."""


def plain(
    ds: Source, name: str, dims: tuple[str, ...] | None = None, sample: int | None = 0
) -> np.ndarray:
    """``ds[name]`` at ``sample`` as a plain numpy array, axes in ``dims`` order (as stored
    when ``dims`` is None; every sample when ``sample`` is None).

    The same values as ``ds[name].isel(sample=sample).transpose(*dims).values``
    (a view of the same array), read from the Dataset's variable without
    building a DataArray with its coordinates and indexes: a table that reads
    a dozen variables spends its time on them otherwise (about 1 ms each).
    """
    var = ds.variables[name]
    data: np.ndarray = var.values
    axes = list(var.dims)
    if sample is not None and "sample" in axes:
        at = axes.index("sample")
        data = data[(slice(None),) * at + (sample,)]
        axes.pop(at)
    if dims is None:
        return data
    return data.transpose([axes.index(d) for d in dims])


def cells_at(
    ds: Source, name: str, parties: list[int], products: list[int], sample: int = 0
) -> np.ndarray:
    """``(month, n)``: a ``(sample, month, party, product)`` variable at ``sample`` and the
    cells ``(parties[i], products[i])``, the values of ``plain(ds, name, ("month", "party",
    "product"), sample)[:, parties, products]``, in the same memory layout; a variable
    recorded by cell (:class:`ByCell`) is read at its recorded columns, not expanded."""
    var = ds.variables[name]
    if not isinstance(var, ByCell) or var._values is not None:
        full = plain(ds, name, ("month", "party", "product"), sample)
        at_cells: np.ndarray = full[:, parties, products]
        return at_cells
    slots = var.slot[parties, products]
    block = var.compact[sample]
    if slots.size and slots.min() >= 0:  # every cell recorded: one fancy index, same layout
        at_cells = block[:, slots]
        return at_cells
    # laid out as numpy's fancy indexing lays out the whole variable's ``[:, parties,
    # products]`` (month fastest), so that sums over its cells add in the same order
    out = np.zeros((len(slots), block.shape[0]), dtype=block.dtype).T
    recorded = slots >= 0
    out[:, recorded] = block[:, slots[recorded]]
    return out


def _label(ds: Source, idx: int) -> str:
    return _labeller(ds)(idx)


def _labeller(ds: Source) -> Callable[[int], str]:
    """``idx -> label_of(month idx)`` for a table that labels several months: from the
    month labels made once per read-only ``month`` coordinate (:func:`_derived`)."""
    months = ds.variables["month"].values
    if months.flags.writeable:
        return lambda idx: label_of(months[idx])
    labels: list[str] = _derived("months", _month_labels, months)
    return labels.__getitem__


def capex_split(ds: xr.Dataset, sample: int = 0) -> dict[str, float]:
    """Capex over the run by who decides it (US$): the three parts sum to ``capex_usd``.

    ``facilitation``: state-funded capacity (``[facilitation]``);
    ``announced``: industry's announced investments; ``order_driven``: what
    industry's order-book rule adds, ``capex_usd - facilitation - announced``.
    """

    def total(name: str, sample: int | None = None) -> float:
        return float(plain(ds, name, sample=sample).sum()) if name in ds else 0.0

    state, announced = total("capex_facilitation_usd"), total("capex_announced_usd")
    total_usd = total("capex_usd", sample)
    return {
        "facilitation": state,
        "announced": announced,
        "order_driven": total_usd - state - announced,
    }


def counted_stock(ds: xr.Dataset) -> xr.DataArray:
    """The stock a capability target counts: usable stock (the rounds the party's guns can fire).

    It equals the nominal stock where a party keeps no weapon-system fleets
    (:mod:`materiel.engine.fleets`); a dataset saved without it counts the
    nominal stock.
    """
    counted: xr.DataArray = ds[_counted_name(ds)]
    return counted


def _counted_name(ds: Source) -> str:
    """The variable :func:`counted_stock` reads: ``usable_stock``, else ``stock``."""
    return "usable_stock" if "usable_stock" in ds else "stock"


def counted_on(
    ds: Source, parties: list[str], product: str, fleets: set[tuple[str, str]] | None = None
) -> str:
    """``"usable"`` where one of ``parties`` keeps fleets for ``product``, else ``"nominal"``.

    ``fleets``: :func:`_fleet_cells` ``(ds)`` when the caller asks for several targets.
    """
    cells = _fleet_cells(ds) if fleets is None else fleets
    return "usable" if any((p, product) in cells for p in parties) else "nominal"


def _fleet_cells(ds: Source) -> set[tuple[str, str]]:
    """The (party, product) pairs that keep weapon-system fleets (none without fleets)."""
    if "fleet" not in ds.dims or ds.sizes["fleet"] == 0:
        return set()
    return _derived("fleet cells", _cells, plain(ds, "fleet_party"), plain(ds, "fleet_product"))


def _cells(parties: np.ndarray, products: np.ndarray) -> set[tuple[str, str]]:
    """The (party, product) pairs of the fleets."""
    return {(str(p), str(k)) for p, k in zip(parties, products, strict=True)}


def target_stock(ds: xr.Dataset, parties: list[str], product: str) -> xr.DataArray:
    """Stock of ``product`` held by ``parties`` together, per sample and month (usable stock:
    :func:`counted_stock`)."""
    held: xr.DataArray = counted_stock(ds).sel(party=parties, product=product).sum("party")
    return held


def first_month_at_or_above(series: xr.DataArray, level: float) -> xr.DataArray:
    """Index of the first month where ``series >= level`` (-1 if never), per sample."""
    hit: xr.DataArray = target_met(series, level)
    first = hit.argmax("month")
    return first.where(hit.any("month"), -1)


TARGET_COLUMNS = [
    "target",
    "product",
    "parties",
    "required",
    "by",
    "stock_start",
    "stock_at_by",
    "met_by_date",
    "gap_at_by",
    "first_met",
    "months_to_target",
    "months_early",
    "stock_at_horizon",
    "coverage_at_horizon",
    "shortfall_at_horizon",
    "assumption",
    "counted_on",
]


def target_table(ds: xr.Dataset, s: Scenario, sample: int = 0) -> pd.DataFrame:
    """One row per target: required, stock at the date, met or not, when met, coverage.

    ``months_to_target`` counts from the horizon start to the first month the
    stock reaches the target; ``months_early`` is positive when that is before
    the target date and negative when after (empty when never by the horizon).
    A target counts usable stock (:func:`counted_stock`); ``counted_on`` says
    ``"usable"`` where one of its parties keeps weapon-system fleets for the
    munition (rounds no gun of theirs may fire do not count), else ``"nominal"``.
    """
    return pd.DataFrame(target_rows(ds, s, sample), columns=TARGET_COLUMNS)


def target_rows(ds: Source, s: Scenario, sample: int = 0) -> list[dict[str, Any]]:
    """:func:`target_table`'s rows as plain Python values, without building the DataFrame
    (the web summary reads them; the table is made from them). ``months_to_target`` and
    ``months_early`` stay ints beside ``None`` (the table's column makes them floats)."""
    # positional numpy on one sample's (month, party, product) block: labelled
    # selection per target cost ~30 ms each, most of a web request's time
    counted = _counted_name(ds)
    start = plain(ds, "stock_start", ("party", "product"))
    party_at = _derived("positions", _positions, plain(ds, "party"))
    product_at = _derived("positions", _positions, plain(ds, "product"))
    fleets = _fleet_cells(ds)
    # every target's cells read at once; target i's are columns bounds[i]:bounds[i + 1]
    # (a slice keeps the layout, so each sum over its parties adds in the same order)
    at_p = [party_at[p] for t in s.targets.values() for p in t.parties]
    at_k = [product_at[t.product] for t in s.targets.values() for _ in t.parties]
    held = cells_at(ds, counted, at_p, at_k, sample)
    bounds = np.cumsum([0, *(len(t.parties) for t in s.targets.values())]).tolist()
    if not s.targets:
        return []
    label = _labeller(ds)
    # each target's series summed over its parties as ever, then every target's month
    # tests at once: (month, target) columns, the one rule (target_met) elementwise
    n = len(s.targets)
    series = np.column_stack([held[:, bounds[i] : bounds[i + 1]].sum(axis=1) for i in range(n)])
    hits = target_met(series, np.array([t.required_quantity for t in s.targets.values()]))
    ever, firsts = hits.any(axis=0).tolist(), hits.argmax(axis=0).tolist()
    bys = [_month_index(t.by, s.start) for t in s.targets.values()]
    at_bys, met_bys = series[bys, range(n)].tolist(), hits[bys, range(n)].tolist()
    ends = series[-1].tolist()
    rows = []
    for i, (tid, t) in enumerate(s.targets.items()):
        required = t.required_quantity
        parties = [party_at[p] for p in t.parties]
        k = product_at[t.product]
        by = bys[i]
        first = int(firsts[i]) if ever[i] else -1
        at_by = float(at_bys[i])
        end = float(ends[i])
        rows.append(
            {
                "target": tid,
                "product": t.product,
                "parties": ",".join(t.parties),
                "required": required,
                "by": t.by,
                "stock_start": float(start[parties, k].sum()),
                "stock_at_by": at_by,
                "met_by_date": bool(met_bys[i]),  # target_met(at_by, required)
                "gap_at_by": max(required - at_by, 0.0),
                "first_met": label(first) if first >= 0 else None,
                "months_to_target": first if first >= 0 else None,
                "months_early": by - first if first >= 0 else None,
                "stock_at_horizon": end,
                "coverage_at_horizon": end / required if required > 0 else float("inf"),
                "shortfall_at_horizon": max(required - end, 0.0),
                "assumption": _is_assumption(s, t.source),
                "counted_on": counted_on(ds, list(t.parties), t.product, fleets),
            }
        )
    return rows


def _is_assumption(s: Scenario, source: str | None) -> bool:
    return source is None or (source in s.sources and s.sources[source].is_assumption)


def binding_table(ds: xr.Dataset, sample: int = 0) -> pd.DataFrame:
    """Per line, the number of months bound by capacity, by orders and by each input."""
    binding = plain(ds, "binding", ("month", "line"), sample)
    products, countries = plain(ds, "line_product"), plain(ds, "line_country")
    rows = []
    for j, line in enumerate(plain(ds, "line")):
        labels, counts = np.unique(binding[:, j], return_counts=True)
        row: dict[str, object] = {
            "line": str(line),
            "product": str(products[j]),
            "country": str(countries[j]),
        }
        row.update({str(k): int(n) for k, n in zip(labels, counts, strict=True)})
        first_input = np.flatnonzero(is_input(binding[:, j]))
        row["first_input_bound"] = _label(ds, int(first_input[0])) if len(first_input) else None
        rows.append(row)
    df = pd.DataFrame(rows)
    tallies = [c for c in df.columns if is_label(c)]
    df[tallies] = df[tallies].fillna(0).astype(int)
    return df


def yearly(da: xr.DataArray) -> xr.DataArray:
    """Sum a monthly flow into calendar years (dimension ``year``)."""
    return da.groupby(da.month.dt.year).sum("month")


def cost_by_party(ds: xr.Dataset, sample: int = 0) -> pd.DataFrame:
    """Contract payments per party and year (US$), plus capex by the lines' countries and
    round-gun qualifications by their payers (``qualification_usd``)."""
    pay = yearly(ds.payments_usd.isel(sample=sample))
    capex = yearly(ds.capex_usd.isel(sample=sample)).groupby(ds.line_country.rename("party")).sum()
    df = pay.to_dataframe(name="payments_usd")[["payments_usd"]]
    cx = capex.to_dataframe(name="capex_usd")[["capex_usd"]]
    out = df.join(cx, how="outer")
    if "qualification_cost_usd" in ds:
        qual = yearly(ds.qualification_cost_usd).to_dataframe(name="qualification_usd")
        out = out.join(qual[["qualification_usd"]], how="outer")
    else:
        out["qualification_usd"] = 0.0
    out = out.fillna(0.0).reset_index()
    spent = (out.payments_usd > 0) | (out.capex_usd > 0) | (out.qualification_usd > 0)
    return out[spent].reset_index(drop=True)


def aid_table(ds: xr.Dataset, s: Scenario, sample: int = 0) -> pd.DataFrame:
    """Aid pledged vs delivered: pledges from stock and contracts delivered to a recipient.

    ``delivered`` includes what fell due before the horizon start (taken as
    delivered, shown again in ``before_start``).
    """
    rows = []
    # positions, not labels: a labelled selection per pledge and contract costs ~1 ms each
    given = plain(ds, "pledge_deliveries", ("month", "pledge"), sample).sum(axis=0)
    given_before = plain(ds, "pledge_given_before_start")
    for g, pledge in enumerate(plain(ds, "pledge")):
        a = s.aid[str(pledge)]
        before = float(given_before[g])
        rows.append(
            {
                "pledge": str(pledge),
                "donor": a.donor,
                "recipient": a.recipient,
                "product": a.product,
                "supply": "stock",
                "pledged": a.quantity,
                "delivered": float(given[g]) + before,
                "before_start": before,
            }
        )
    delivered = plain(ds, "contract_deliveries", ("month", "contract"), sample).sum(axis=0)
    delivered_before = plain(ds, "contract_delivered_before_start")
    quantity = plain(ds, "contract_quantity", ("contract",), sample)
    for n, cid in enumerate(plain(ds, "contract")):
        cid = str(cid)
        if cid.startswith("aid:"):
            a = s.aid[cid[4:]]
            donor, recipient, product, label = a.donor, a.recipient, a.product, cid[4:]
        elif cid.startswith("policy:"):
            pol = s.procurement[cid.split(":")[1]]
            if not pol.recipient:
                continue
            donor, recipient, product, label = ",".join(pol.buyers), pol.recipient, pol.product, cid
        elif s.contracts[cid.split("#")[0]].recipient:
            c = s.contracts[cid.split("#")[0]]
            donor, recipient, product, label = ",".join(c.buyers), c.recipient or "", c.product, cid
        else:
            continue
        before = float(delivered_before[n])
        rows.append(
            {
                "pledge": label,
                "donor": donor,
                "recipient": recipient,
                "product": product,
                "supply": "production",
                "pledged": float(quantity[n]),
                "delivered": float(delivered[n]) + before,
                "before_start": before,
            }
        )
    df = pd.DataFrame(
        rows,
        columns=[
            "pledge",
            "donor",
            "recipient",
            "product",
            "supply",
            "pledged",
            "delivered",
            "before_start",
        ],
    )
    df["share_delivered"] = np.where(
        df.pledged > 0, df.delivered / df.pledged.where(df.pledged > 0, 1), 1.0
    )
    return df


def recipient_shortfall_table(ds: xr.Dataset, sample: int = 0) -> pd.DataFrame:
    """Per recipient and munition: demand, consumed, shortfall and months short."""
    # plain (month, party, product) arrays: a label lookup per cell costs 100x more
    order = ("month", "party", "product")
    demand = plain(ds, "consumption_demand", order)
    short = plain(ds, "shortfall", order, sample)
    consumed = plain(ds, "consumed", order, sample)
    products = [str(k) for k in plain(ds, "product")]
    parties = plain(ds, "party")
    rows = []
    for i in np.flatnonzero(plain(ds, "party_kind") == "recipient"):
        for j, k in enumerate(products):
            total = float(demand[:, i, j].sum())
            if total <= 0:
                continue
            s_k = short[:, i, j]
            months_short = np.flatnonzero(s_k > 1e-9)
            rows.append(
                {
                    "party": str(parties[i]),
                    "product": k,
                    "demand": total,
                    "consumed": float(consumed[:, i, j].sum()),
                    "shortfall": float(s_k.sum()),
                    "share_unmet": float(s_k.sum()) / total,
                    "months_short": len(months_short),
                    "first_short": _label(ds, int(months_short[0])) if len(months_short) else None,
                }
            )
    return pd.DataFrame(rows)


def fleet_table(ds: xr.Dataset, sample: int = 0) -> pd.DataFrame:
    """Per weapon-system fleet: its demand, unmet demand and usable stock (which guns went short).

    A fleet's demand is its share of its party's demand for the product
    (:mod:`materiel.engine.fleets`); ``stock_end`` is its usable stock at the
    horizon end, ``unusable_end`` and ``unusable_max`` the rounds its party
    held that none of its fleets could fire (per party and product).
    ``shortfall_while_held`` is the part of its shortfall in months whose end
    still found its party holding at least one round of the product (rounds
    that only other guns, or none, may fire): unmet although rounds were
    there.
    """
    return pd.DataFrame(fleet_rows(ds, sample))


def fleet_rows(ds: Source, sample: int = 0) -> list[dict[str, Any]]:
    """:func:`fleet_table`'s rows as plain Python values, without building the DataFrame."""
    rows: list[dict[str, Any]] = []
    if "fleet" not in ds.dims or ds.sizes["fleet"] == 0:
        return rows
    # plain arrays, month first: a label lookup per fleet and variable costs 100x more
    short = plain(ds, "fleet_shortfall", ("month", "fleet"), sample)
    usable = plain(ds, "fleet_stock", ("month", "fleet"), sample)
    demand_pk = plain(ds, "consumption_demand", ("month", "party", "product"))
    party_at = _derived("positions", _positions, plain(ds, "party"))
    product_at = _derived("positions", _positions, plain(ds, "product"))
    parties, products = plain(ds, "fleet_party").tolist(), plain(ds, "fleet_product").tolist()
    shares, systems = plain(ds, "fleet_share").tolist(), plain(ds, "fleet_system").tolist()
    cell_of = [
        (party_at[str(p)], product_at[str(k)]) for p, k in zip(parties, products, strict=True)
    ]
    label = _labeller(ds)
    # counts, first months and maxima of every fleet at once (exact in any order); the
    # sums stay per fleet, each summed as numpy sums one column
    at_i, at_j = [c[0] for c in cell_of], [c[1] for c in cell_of]
    unusable_f = cells_at(ds, "unusable_stock", at_i, at_j, sample)  # (month, fleet)
    nominal_f = cells_at(ds, "stock", at_i, at_j, sample)
    unusable_max = unusable_f.max(axis=0).tolist() if len(cell_of) else []
    over = short > 1e-9
    counts, firsts = over.sum(axis=0).tolist(), over.argmax(axis=0).tolist()
    # one sample's values as Python's (tolist), not a numpy scalar per fleet and column
    stock_end, unusable_end = usable[-1].tolist(), unusable_f[-1].tolist()
    # each fleet's months as one contiguous row: a sum along rows adds each row as numpy
    # sums that column alone (pairwise, the same order), in one call for every fleet
    by_fleet = np.ascontiguousarray(short.T)
    shortfalls = by_fleet.sum(axis=1).tolist()
    demands = np.ascontiguousarray(demand_pk[:, at_i, at_j].T).sum(axis=1).tolist()
    held_by_fleet = np.ascontiguousarray((nominal_f >= 1.0).T)
    for f, fleet in enumerate(plain(ds, "fleet").tolist()):
        p, k = str(parties[f]), str(products[f])
        share = float(shares[f])
        demand = float(demands[f]) * share
        s_f = by_fleet[f]
        shortfall = float(shortfalls[f])
        held = held_by_fleet[f]
        rows.append(
            {
                "fleet": str(fleet),
                "party": p,
                "product": k,
                "system": str(systems[f]),
                "share": share,
                "demand": demand,
                "shortfall": shortfall,
                "share_unmet": shortfall / demand if demand > 0 else 0.0,
                "shortfall_while_held": float(s_f[held].sum()),
                "months_short": counts[f],
                "first_short": label(firsts[f]) if counts[f] else None,
                "stock_end": float(stock_end[f]),
                "unusable_end": float(unusable_end[f]),
                "unusable_max": float(unusable_max[f]),
            }
        )
    return rows


def interoperability_table(
    ds: xr.Dataset, s: Scenario, sample: int = 0, fleets: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per party and munition with weapon-system fleets: usable against nominal stock,
    unmet demand and which systems went short, and the capacity its guns can use.

    ``effective_capacity_*_per_month`` is the capacity available to the
    party's guns, ``sum_l cap_l(t) * sum_{f qualified for l at t} w_f``: each
    line's capacity weighted by the share of the party's use its rounds fit
    (:mod:`materiel.engine.interop`), at the first and last month, against
    ``capacity_*_per_month`` over every line of the munition. ``short_systems``
    lists the systems with unmet demand, worst share first (``system share``).
    ``fleets`` is :func:`fleet_table` of the same sample when the caller has it.
    """
    rows = None
    if fleets is not None:
        rows = [{str(k): v for k, v in f.items()} for f in fleets.to_dict(orient="records")]
    return pd.DataFrame(interoperability_rows(ds, s, sample, rows))


def interoperability_rows(
    ds: Source, s: Scenario, sample: int = 0, fleets: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """:func:`interoperability_table`'s rows as plain Python values, without building the
    DataFrame; ``fleets`` are :func:`fleet_rows` of the same sample when the caller has them.

    Sums over a party's fleets are numpy's (``np.sum``), as the table's were.
    """
    from materiel.engine.interop import compile_fleets

    if fleets is None:
        fleets = fleet_rows(ds, sample)
    if not fleets:
        return []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}  # in the order first seen
    for f in fleets:
        groups.setdefault((str(f["party"]), str(f["product"])), []).append(f)
    lines = _derived("strings", _strings, plain(ds, "line"))
    parties = _derived("strings", _strings, plain(ds, "party"))
    products = _derived("strings", _strings, plain(ds, "product"))
    qualified = getattr(ds, "qualified_from", None)
    if qualified is None:  # a Dataset: the fleets compiled again, as the run's inputs were
        compiled = compile_fleets(s, lines, parties, products)
        qualified, share = compiled["qualified_from"], compiled["fleet_share"]
        fleet_ids = compiled["fleets"]
    else:  # the run's inputs, as labelled (tests/test_result_arrays.py)
        share, fleet_ids = plain(ds, "fleet_share"), plain(ds, "fleet")
    fleet_at = _derived("positions", _positions, fleet_ids)
    cap = plain(ds, "capacity_per_month", ("month", "line"), sample)
    at_p = [parties.index(p) for p, _ in groups]
    at_k = [products.index(k) for _, k in groups]
    nominal = cells_at(ds, "stock", at_p, at_k, sample)[-1]  # (group,) at the horizon
    usable = cells_at(ds, "usable_stock", at_p, at_k, sample)[-1]
    line_product = plain(ds, "line_product")
    T = cap.shape[0]

    summed = ("demand", "shortfall", "shortfall_while_held")

    def totals(group: list[dict[str, Any]]) -> list[float]:
        """The group's sums of ``summed``: one contiguous row each, each row summed as
        ``np.sum`` sums it alone (pairwise along a row)."""
        values = np.array([[f[column] for f in group] for column in summed], dtype=float)
        sums: list[float] = values.sum(axis=1).tolist()
        return sums

    rows = []
    for g, ((p, k), group) in enumerate(groups.items()):
        mine = np.array(sorted(fleet_at[str(f["fleet"])] for f in group))
        of_k = np.flatnonzero(line_product == k)

        def effective(t: int, mine: np.ndarray = mine, of_k: np.ndarray = of_k) -> float:
            fits = (qualified[np.ix_(of_k, mine)] <= t) * share[mine]
            return float((cap[t, of_k] * fits.sum(axis=1)).sum())

        demand, shortfall, while_held = totals(group)
        short = [f for f in group if f["shortfall"] > 0]
        worst = [short[i] for i in _descending(np.array([f["share_unmet"] for f in short]))]
        rows.append(
            {
                "party": p,
                "product": k,
                "fleets": len(group),
                "stock_end": float(nominal[g]),
                "usable_end": float(usable[g]),
                "unusable_end": float(group[0]["unusable_end"]),
                "unusable_max": float(group[0]["unusable_max"]),
                "demand": demand,
                "shortfall": shortfall,
                "share_unmet": shortfall / demand if demand > 0 else 0.0,
                "shortfall_while_held": while_held,
                "short_systems": ", ".join(f"{f['system']} {f['share_unmet']:.0%}" for f in worst),
                "capacity_start_per_month": float(cap[0, of_k].sum()),
                "effective_capacity_start_per_month": effective(0),
                "capacity_end_per_month": float(cap[T - 1, of_k].sum()),
                "effective_capacity_end_per_month": effective(T - 1),
            }
        )
    return rows


def _descending(values: np.ndarray) -> np.ndarray:
    """The order of ``values``, largest first, ties as pandas' ``sort_values(ascending=False)``
    places them (reversed, numpy's default sort, reversed again: numpy may sort ties in
    either order)."""
    order: np.ndarray = np.arange(len(values))[::-1][values[::-1].argsort(kind="quicksort")]
    return order[::-1]


def qualification_table(s: Scenario) -> pd.DataFrame:
    """Round-gun qualifications the scenario adds during or after its start: when and at what cost.

    ``qualified_from`` is ``decision + lead_time_months`` (the month from
    which the line's rounds fit the system; :mod:`materiel.engine.interop`).
    Qualifications without a decision (held from the start) are left out.
    """
    rows = [
        {
            "qualification": key,
            "line": q.line,
            "system": q.system,
            "decision": q.decision,
            "qualified_from": month_label(parse_month(q.decision) + q.lead_time_months),
            "cost_usd": q.cost_usd,
            "payer": q.payer,
        }
        for key, q in s.qualifications.items()
        if q.decision is not None
    ]
    return pd.DataFrame(rows)


def replacement_table(ds: xr.Dataset, s: Scenario, sample: int = 0) -> pd.DataFrame:
    """Per donor and munition given from stock: how long replacing it takes, two ways.

    - ``static_months`` (the CSIS-style figure): ``given / production_rate``,
      where ``given`` is what the donor's pledges delivered from its stock
      (including what fell due before the horizon start) and
      ``production_rate_per_month`` the capacity of the donor's own lines of
      that munition in the first month (``None`` when it has none);
    - ``dynamic_months`` (the model's): months from the horizon start until
      the donor's stock, once it has fallen below its level at the start
      (``stock_start``), is back at that level (:func:`target_met`): the
      index of that month, ``0`` when it never fell, ``None`` when it is not
      back by the horizon. It counts everything that moves the stock: aid,
      deliveries of contracts and the donor's own consumption.
    """
    columns = [
        "party",
        "product",
        "given",
        "production_rate_per_month",
        "static_months",
        "stock_start",
        "first_below",
        "back_at_start",
        "dynamic_months",
    ]
    given: dict[tuple[str, str], float] = {}
    delivered = plain(ds, "pledge_deliveries", ("month", "pledge"), sample).sum(axis=0)
    before = plain(ds, "pledge_given_before_start")
    for g, pledge in enumerate(plain(ds, "pledge")):
        a = s.aid[str(pledge)]
        quantity = float(delivered[g]) + float(before[g])
        given[(a.donor, a.product)] = given.get((a.donor, a.product), 0.0) + quantity
    capacity = plain(ds, "capacity_per_month", ("month", "line"), sample)[0]
    stock = plain(ds, "stock", ("month", "party", "product"), sample)
    stock_start = plain(ds, "stock_start", ("party", "product"))
    party_at = {str(p): i for i, p in enumerate(plain(ds, "party"))}
    product_at = {str(k): j for j, k in enumerate(plain(ds, "product"))}
    line_country, line_product = plain(ds, "line_country"), plain(ds, "line_product")
    rows = []
    for (party, product), quantity in given.items():
        if quantity <= 0:
            continue
        mine = (line_country == party) & (line_product == product)
        rate = float(np.where(mine, capacity, 0.0).sum())
        i, j = party_at[party], product_at[product]
        start = float(stock_start[i, j])
        series = stock[:, i, j]
        below = np.flatnonzero(~target_met(series, start))
        first_below = int(below[0]) if len(below) else None
        back: int | None = 0
        if first_below is not None:
            again = np.flatnonzero(target_met(series[first_below:], start))
            back = first_below + int(again[0]) if len(again) else None
        rows.append(
            {
                "party": party,
                "product": product,
                "given": quantity,
                "production_rate_per_month": rate,
                "static_months": quantity / rate if rate > 0 else None,
                "stock_start": start,
                "first_below": _label(ds, first_below) if first_below is not None else None,
                "back_at_start": (
                    _label(ds, back) if back is not None and first_below is not None else None
                ),
                "dynamic_months": back,
            }
        )
    df = pd.DataFrame(rows, columns=columns)
    df["dynamic_months"] = df["dynamic_months"].astype("Int64")
    return df.sort_values(["product", "party"], ignore_index=True)

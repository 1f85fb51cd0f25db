"""``simulate``: run the engine on a scenario and label the arrays.

The engine (:mod:`materiel.engine`) returns bare arrays; this module gives
them named dimensions (``sample``, ``month``, ``party``, ``product``,
``line``, ``contract``, ``pool``, ``pledge``), coordinates and units, checks
the run's invariants, and wraps everything in a :class:`Result`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from materiel._memo import ByIdentity
from materiel._xarray import lazy_dask
from materiel.analysis import metrics
from materiel.analysis.result import Result
from materiel.engine import Inputs, binding, compile_inputs, run_engine
from materiel.engine.budget import Terms, commitments_usd
from materiel.engine.cells import cell_slots, live_cells
from materiel.engine.invariants import check_invariants
from materiel.engine.variables import CELL_DIMS, OUTPUTS, quantity_units
from materiel.months import month_label, month_range, parse_month
from materiel.scenario.loading import load
from materiel.scenario.schema import Scenario

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = ["build_dataset", "build_result", "simulate", "variable_units"]


def _by_gap(inp: Inputs) -> list[bool]:
    """Per contract: whether a by-gap procurement policy decides its buyers' shares."""
    policy = np.asarray(inp.contract_policy)
    if len(inp.pol_by_gap) == 0:
        return [False] * len(policy)
    by_gap: list[bool] = ((policy >= 0) & inp.pol_by_gap[np.maximum(policy, 0)]).tolist()
    return by_gap


def _joined(shares: Mapping[str, float]) -> str:
    """Buyers' shares as ``party:share,...`` (the ``contract_buyers`` coordinate)."""
    return ",".join(f"{p}:{w:g}" for p, w in shares.items())


_WRITTEN_TEXT: ByIdentity[list[str]] = ByIdentity(64)


def _written_buyers(buyers: list[dict[str, float]]) -> list[str]:
    """:func:`_joined` of each contract's written buyers, once per list (the 64 latest,
    :class:`~materiel._memo.ByIdentity`): the web's knobbed inputs share their template's
    list, so a request does not join its ~200 strings again."""
    return _WRITTEN_TEXT.get((buyers,), lambda: [_joined(written) for written in buyers])


def _buyer_shares(inp: Inputs, raw: Mapping[str, np.ndarray]) -> list[list[dict[str, float]]]:
    """Per sample and contract: party -> share, as decided (by-gap policy slots) or written."""
    shares = raw["contract_buyer_share"]
    by_gap = _by_gap(inp)
    samples = raw["contract_quantity"].shape[0]
    out = []
    for i in range(samples):
        row = []
        for c, written in enumerate(inp.contract_buyers):
            if by_gap[c] and shares.shape[0] > 0:
                row.append(
                    {
                        inp.parties[p]: float(w)
                        for p in np.flatnonzero(shares[i, c] > 0.0)
                        for w in [shares[i, c, p]]
                    }
                )
            else:
                row.append(dict(written))
        out.append(row)
    return out


def _budget_arrays(inp: Inputs, raw: Mapping[str, np.ndarray]) -> xr.Dataset:
    """Budget and committed payments per party and year (allies only; 0 for others).

    Committed payments are the written contracts' (after the budget check,
    :func:`materiel.engine.budget.fit_to_budgets`) plus those of every
    contract a procurement policy decided and signed within the horizon
    (sample 0), by the same rule (:func:`materiel.engine.budget.commitments_usd`).
    """
    plan = inp.budget
    assert plan is not None
    buyers = _buyer_shares(inp, raw)[0]
    decided = [
        Terms(
            buyers[c],
            float(raw["contract_quantity"][0, c]),
            float(inp.contract_price_usd[c]),
            int(raw["contract_signed"][0, c]),
            int(inp.contract_due_lag[c]),
            int(inp.contract_due_months[c]),
        )
        for c in np.flatnonzero(inp.contract_policy >= 0)
        if raw["contract_quantity"][0, c] > 0.0 and raw["contract_signed"][0, c] < inp.n_months
    ]
    by_policy = commitments_usd(decided, parse_month(inp.start), plan.years, plan.parties)
    last = int(month_range(inp.start, inp.n_months)[-1].astype("datetime64[Y]").astype(int)) + 1970
    keep = plan.years <= last
    rows = [inp.parties.index(p) for p in plan.parties]
    budget = np.zeros((len(inp.parties), int(keep.sum())))
    committed = np.zeros_like(budget)
    budget[rows] = plan.budget_usd[:, keep]
    committed[rows] = (plan.committed_usd + by_policy)[:, keep]
    out = xr.Dataset(
        {
            "budget_usd": (("party", "year"), budget),
            "budget_committed_usd": (("party", "year"), committed),
        },
        coords={
            "party": inp.parties,
            "year": plan.years[keep],
            "contract_deferred_months": ("contract", plan.deferred_months),
        },
    )
    out["budget_usd"].attrs["units"] = "US$"
    out["budget_committed_usd"].attrs["units"] = "US$"
    return out


class _Fixed(NamedTuple):
    """What a run's labels take from its scenario's entities alone (:func:`_static`)."""

    coords: dict[str, tuple[str, np.ndarray]]
    """Coordinates that no run or knob changes, every contract slot kept, as arrays."""
    contracts: np.ndarray
    """The contract labels."""
    by_gap: list[int]
    """The contracts whose buyers' shares a by-gap procurement policy decides."""


_FIXED: ByIdentity[_Fixed] = ByIdentity(64)


def _static(inp: Inputs, scenario: Scenario) -> _Fixed:
    """The coordinates of a run that depend only on its scenario's entities, read-only
    arrays: kinds and units, each line's product, country, owner and pool; each
    contract's product, firmness, multi-year flag, price, ``contract_decided_by``
    (``policy``: a procurement policy decided it in the run; ``scenario``: written in
    the scenario, a contract or aid pledged from production) and ``contract_origin``
    (the scenario contract id, ``aid:<pledge>`` or ``policy:<procurement id>``); each
    pledge's donor, recipient, product and quantities; each fleet's system, party,
    product and share.

    Built once per set of the fields they read (the 64 latest,
    :class:`~materiel._memo.ByIdentity`): the web's knobbed inputs share them with their
    template's, so a request does not build them again.
    """
    sources = (
        inp.parties,
        inp.party_kind,
        inp.products,
        inp.product_kind,
        inp.lines,
        inp.contracts,
        inp.contract_product,
        inp.contract_policy,
        inp.pol_by_gap,
        inp.contract_firm,
        inp.contract_multi_year,
        inp.contract_origin,
        inp.contract_price_usd,
        inp.pledge_donor,
        inp.pledge_recipient,
        inp.pledge_product,
        inp.pledge_quantity,
        inp.pledge_given_start,
        inp.fleet_system,
        inp.fleet_party,
        inp.fleet_product,
        inp.fleet_share,
        scenario.products,
        scenario.lines,
    )
    return _FIXED.get(sources, lambda: _build_static(inp, scenario))


def _build_static(inp: Inputs, scenario: Scenario) -> _Fixed:
    """:func:`_static`, built."""
    lines = scenario.lines
    given: dict[str, tuple[str, Any]] = {
        "party_kind": ("party", inp.party_kind),
        "product_kind": ("product", inp.product_kind),
        "product_unit": ("product", [scenario.products[k].unit for k in inp.products]),
        "line_product": ("line", [lines[x].product for x in inp.lines]),
        "line_country": ("line", [lines[x].country for x in inp.lines]),
        "line_owner": ("line", [lines[x].owner for x in inp.lines]),
        "line_pool": ("line", [lines[x].pool for x in inp.lines]),
        "contract_product": ("contract", [inp.products[k] for k in inp.contract_product]),
        "contract_firm": ("contract", inp.contract_firm),
        "contract_multi_year": ("contract", inp.contract_multi_year),
        "contract_decided_by": (
            "contract",
            np.where(inp.contract_policy >= 0, "policy", "scenario").tolist(),
        ),
        "contract_origin": ("contract", inp.contract_origin),
        "contract_price_usd": ("contract", inp.contract_price_usd),
        "pledge_donor": ("pledge", [inp.parties[i] for i in inp.pledge_donor]),
        "pledge_recipient": ("pledge", [inp.parties[i] for i in inp.pledge_recipient]),
        "pledge_product": ("pledge", [inp.products[i] for i in inp.pledge_product]),
        "pledge_quantity": ("pledge", inp.pledge_quantity),
        "pledge_given_before_start": ("pledge", inp.pledge_given_start),
        "fleet_system": ("fleet", inp.fleet_system),
        "fleet_party": ("fleet", [inp.parties[i] for i in inp.fleet_party]),
        "fleet_product": ("fleet", [inp.products[i] for i in inp.fleet_product]),
        "fleet_share": ("fleet", inp.fleet_share),
    }
    coords = {}
    for name, (dim, values) in given.items():
        array = np.array(values)  # a copy: read-only, shared by every run's labels
        array.flags.writeable = False
        coords[name] = (dim, array)
    by_gap = [c for c, gap in enumerate(_by_gap(inp)) if gap]
    return _Fixed(coords, np.asarray(inp.contracts), by_gap)


_CONTRACT_OUTPUTS = ("contract_quantity", "contract_decided", "contract_signed")
"""Outputs decided once per contract and sample: labelled as contract coordinates."""


def _contract_coords(
    inp: Inputs, raw: Mapping[str, np.ndarray], scenario: Scenario
) -> dict[str, Any]:
    """Per contract: what was bought, by whom, when decided and signed, and by which rule.

    Quantities and months are the engine's outputs, per sample (policy-made
    contracts are decided in the run), months as ``YYYY-MM`` labels;
    ``contract_decided_by`` is ``policy`` (a procurement policy decided it in
    the run) or ``scenario`` (written in the scenario: a contract or aid
    pledged from production); ``contract_origin`` names it: the scenario
    contract id, ``aid:<pledge>`` or ``policy:<procurement id>``.
    ``contract_buyers`` (``party:share`` list, per sample) is as decided:
    by-gap policies set their shares in the run.
    """
    start = parse_month(inp.start)

    def labels(months: np.ndarray) -> np.ndarray:  # from a table of labels, made once
        if months.size:
            lo, hi = int(months.min()) // 120 * 120, (int(months.max()) // 120 + 1) * 120
            if hi - lo <= 2400:  # the decades the months span (not a far-off sentinel)
                out: np.ndarray = _month_names(start + lo, hi - lo)[months - lo]
                return out
        distinct, at = np.unique(months, return_inverse=True)  # each distinct month once
        names = np.array([month_label(start + int(m)) for m in distinct], dtype=str)
        out = names[at].reshape(months.shape)
        return out

    fixed = _static(inp, scenario)
    written = _written_buyers(inp.contract_buyers)
    shares = raw["contract_buyer_share"]
    decided = fixed.by_gap if shares.shape[0] > 0 else []
    samples = raw["contract_quantity"].shape[0]
    if decided or samples != 1:
        buyers = []
        for i in range(samples):  # as _buyer_shares, written as text
            row = list(written)
            for c in decided:
                row[c] = _joined(
                    {
                        inp.parties[p]: float(shares[i, c, p])
                        for p in np.flatnonzero(shares[i, c] > 0.0)
                    }
                )
            buyers.append(row)
        buyer_text = np.array(buyers, dtype=str)
    else:  # one sample, every contract's buyers as written: the text array made once
        buyer_text = _WRITTEN_ARRAY.get(
            (written,), lambda: _read_only(np.array([written], dtype=str))
        )
    return {
        "contract_quantity": (OUTPUTS["contract_quantity"].dims, raw["contract_quantity"]),
        "contract_decided": (OUTPUTS["contract_decided"].dims, labels(raw["contract_decided"])),
        "contract_signed": (OUTPUTS["contract_signed"].dims, labels(raw["contract_signed"])),
        "contract_buyers": (("sample", "contract"), buyer_text),
    }


_WRITTEN_ARRAY: ByIdentity[np.ndarray] = ByIdentity(64)
"""``contract_buyers`` of a one-sample run whose buyers are all as written, per list of
written buyers' text (:func:`_written_buyers`), read-only: labelling copies it (only the
kept contract slots)."""


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only (it is shared)."""
    array.flags.writeable = False
    return array


_PRODUCT_OF = {
    "product": "product",
    "line": "line_product",
    "contract": "contract_product",
    "pledge": "pledge_product",
    "fleet": "fleet_product",
}
"""For each dimension that counts things: the coordinate naming the product counted."""


def variable_units(ds: xr.Dataset, dims: tuple[str, ...], units: str, scenario: Scenario) -> str:
    """``units`` of a variable over ``dims`` in the words of its products (rounds, missiles)."""
    return _units(lambda name: ds[name].values, dims, units, scenario)


def _units(
    values_of: Callable[[str], Any], dims: tuple[str, ...], units: str, scenario: Scenario
) -> str:
    """:func:`variable_units`, with ``values_of(name)`` the values of coordinate ``name``."""
    counted = [_PRODUCT_OF[d] for d in dims if d in _PRODUCT_OF]
    if not counted:
        return units
    products = {str(k) for k in values_of(counted[0])}
    if counted[0] == "product":  # stocks count munitions, inventories components
        kind = "component" if "pool" in dims else "munition"
        products = {k for k in products if scenario.products[k].kind == kind}
    return quantity_units(units, [scenario.products[k].unit for k in sorted(products)])


def policy_slots_used(inp: Inputs, raw: Mapping[str, np.ndarray]) -> np.ndarray:
    """Contracts to keep: every written one, and each policy slot that some sample filled."""
    filled: np.ndarray = (inp.contract_policy < 0) | (raw["contract_quantity"] > 0.0).any(axis=0)
    return filled


@lru_cache(maxsize=64)
def _month_names(first: int, count: int) -> np.ndarray:
    """``month_label`` of the ``count`` months from absolute month ``first``: a table the
    contracts' decision and signature months are labelled from (read-only, shared)."""
    names = np.array([month_label(first + m) for m in range(count)], dtype=str)
    names.flags.writeable = False
    return names


@lru_cache(maxsize=32)
def _binding_labels(products: tuple[str, ...]) -> np.ndarray:
    """:func:`materiel.engine.binding.labels` of ``products``, made once per list."""
    return binding.labels(list(products))


@lru_cache(maxsize=32)
def _dimension_coords(
    samples: int, start: str, n_months: int, labels: tuple[tuple[str, tuple[str, ...]], ...]
) -> xr.Coordinates:
    """The index coordinates of a run's dimensions, built once per set of labels.

    Building an index (a pandas Index of strings) is most of what a Dataset costs; runs
    of one scenario with other knobs share every dimension but ``contract``. Indexes
    are immutable, so datasets may share them (as ``isel`` and ``copy`` do).
    """
    dims: dict[str, Any] = {"sample": np.arange(samples), "month": month_range(start, n_months)}
    return xr.Coordinates({**dims, **{dim: list(values) for dim, values in labels}})


@lru_cache(maxsize=64)
def _contract_index(contracts: tuple[str, ...], dtype: str) -> xr.Coordinates:
    """The ``contract`` index coordinate: the labels as an array of ``dtype`` (the one
    the whole list of contracts has, as an index sliced from it keeps)."""
    return xr.Coordinates({"contract": np.array(contracts, dtype=dtype)})


@lru_cache(maxsize=32)
def _dimension_values(
    samples: int, start: str, n_months: int, labels: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, np.ndarray]:
    """The values of :func:`_dimension_coords` (read once: each read converts the index),
    read-only."""
    coords = _dimension_coords(samples, start, n_months, labels)
    values = {str(name): var.values for name, var in coords.variables.items()}
    for array in values.values():
        array.flags.writeable = False  # shared by every run of these labels
    return values


@lru_cache(maxsize=64)
def _contract_values(contracts: tuple[str, ...], dtype: str) -> np.ndarray:
    """The values of :func:`_contract_index`, read-only."""
    values: np.ndarray = _contract_index(contracts, dtype).variables["contract"].values
    values.flags.writeable = False  # shared by every run of these labels
    return values


def build_dataset(
    inp: Inputs,
    raw: Mapping[str, np.ndarray],
    scenario: Scenario,
    cells: np.ndarray | None = None,
) -> xr.Dataset:
    """Label the engine's arrays as an :class:`xarray.Dataset`.

    Policy contract slots that no sample filled (a decision of zero) are dropped.
    ``cells``: the (party, product) mask the run recorded its cell outputs on
    (``run_engine(cells=...)``, :func:`materiel.engine.cells.live_cells`): they are
    expanded to ``(sample, month, party, product)``, 0 at every other cell.
    """
    return _Labelled(inp, raw, scenario, cells).dataset()


def build_result(
    inp: Inputs,
    raw: Mapping[str, np.ndarray],
    scenario: Scenario,
    cells: np.ndarray | None = None,
) -> Result:
    """A :class:`Result` of the engine's arrays whose Dataset (:func:`build_dataset`) is built
    when first asked for: its plain-row tables (:meth:`Result.rows`) and a web answer's
    summary read the same arrays, by the same names and dims, without it
    (:class:`~materiel.analysis.metrics.Arrays`). ``cells`` as for :func:`build_dataset`:
    a cell output is expanded when the Dataset or a table first reads it, once."""
    labelled = _Labelled(inp, raw, scenario, cells)
    return Result.lazy(labelled.arrays(), labelled.dataset, scenario)


class _Labelled:
    """A run's arrays with their names, dims, coordinates and attributes: what
    :func:`build_dataset` gives to xarray, and what :meth:`arrays` gives without it."""

    def __init__(
        self,
        inp: Inputs,
        raw: Mapping[str, np.ndarray],
        scenario: Scenario,
        cells: np.ndarray | None = None,
    ) -> None:
        self.inp, self.raw = inp, raw
        self.scenario = scenario
        parts = _label(inp, raw, scenario, cells)
        self.data_vars, self.coords, self.indexes = parts.data_vars, parts.coords, parts.indexes
        self.attrs, self.keep, self.starts, self.unkept = (
            parts.attrs,
            parts.keep,
            parts.starts,
            parts.unkept,
        )
        self.index_values = {
            name: metrics.Plain((name,), values) for name, values in parts.index_values.items()
        }
        self._binding: np.ndarray | None = None

    def binding(self) -> np.ndarray:
        """What bound each line each month, labelled (:func:`materiel.engine.binding.labels`),
        from the kernel's codes: made when the Dataset or a table first reads it (the web's
        summary does not), once."""
        if self._binding is None:
            codes = self.raw["binding"]
            self._binding = _binding_labels(tuple(self.inp.products))[codes]
        return self._binding

    def dataset(self) -> xr.Dataset:
        """The labelled :class:`xarray.Dataset`."""
        data_vars, coords = dict(self.data_vars), dict(self.coords)
        data_vars["binding"] = (data_vars["binding"][0], self.binding())
        for name, given in data_vars.items():  # expanded once, shared with arrays()
            if isinstance(given[1], metrics.ByCell):
                data_vars[name] = (given[0], given[1].values, *given[2:])
        _with_attrs(data_vars, coords, self.unkept, self.scenario)
        ds = xr.Dataset(
            data_vars, coords=xr.Coordinates(coords, indexes=self.indexes), attrs=self.attrs
        )
        if self.inp.budget is not None:
            budget = _budget_arrays(self.inp, self.raw)
            ds = ds.merge(budget.isel(contract=self.keep))
            for name, given in self.starts.items():
                ds[name] = given
        return ds

    def arrays(self) -> metrics.Arrays:
        """Every variable of :meth:`dataset` (data and coordinates) as its dims and numpy
        values, the Dataset's own (``tests/test_result_arrays.py``)."""
        variables: dict[str, metrics.Plain | metrics.Deferred] = {}
        for table in (self.coords, self.data_vars):
            for name, given in table.items():
                if isinstance(given, tuple):
                    dims = (given[0],) if isinstance(given[0], str) else tuple(given[0])
                    if table is self.data_vars and name == "binding":
                        variables[name] = metrics.Deferred(dims, given[1].shape, self.binding)
                    elif isinstance(given[1], metrics.ByCell):
                        variables[name] = given[1]
                    else:
                        variables[name] = metrics.Plain(dims, np.asarray(given[1]))
        variables.update(self.index_values)
        if self.inp.budget is not None:
            budget = _budget_arrays(self.inp, self.raw).isel(contract=self.keep)
            for key, var in budget.variables.items():
                if str(key) not in variables:
                    variables[str(key)] = metrics.Plain(tuple(map(str, var.dims)), var.values)
            for start, (dims, values) in self.starts.items():
                variables[start] = metrics.Plain(dims, np.asarray(values))
        return metrics.Arrays(variables, qualified_from=self.inp.qualified_from)


class _Parts(NamedTuple):
    """What :func:`_label` gives :class:`_Labelled`."""

    data_vars: dict[str, Any]
    """Data variables as ``(dims, values)``, contract slots dropped."""
    coords: dict[str, Any]
    """Coordinates: ``(dims, values)`` or the index variables."""
    indexes: dict[Hashable, Any]
    """The xarray indexes of the index coordinates."""
    attrs: dict[str, Any]
    """The Dataset's attributes."""
    keep: np.ndarray
    """The contract slots kept (:func:`policy_slots_used`)."""
    starts: dict[str, Any]
    """Start stocks and inventories (set after a budget is merged)."""
    index_values: dict[str, np.ndarray]
    """The index coordinates' values."""
    unkept: dict[str, Any]
    """Coordinates before slots were dropped (the units name every slot's product)."""


_NAMED: ByIdentity[tuple[tuple[str, tuple[str, ...]], ...]] = ByIdentity(64)
_INDEX_MAPS: ByIdentity[tuple[dict[Hashable, Any], dict[Hashable, Any]]] = ByIdentity(64)
"""The index variables and the xarray indexes of a pair of cached coordinates
(:func:`_dimension_coords`, :func:`_contract_index`), merged once (each read of
``Coordinates.variables`` or ``.xindexes`` builds a new mapping); shared, read only."""


def _named(inp: Inputs) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The labels of the dimensions that count entities, as :func:`_dimension_coords` keys
    them: made once per set of label lists (a retuned run shares its template's)."""
    labelled = (
        ("party", inp.parties),
        ("product", inp.products),
        ("line", inp.lines),
        ("pool", inp.pools),
        ("pledge", inp.pledges),
        ("fleet", inp.fleets),
    )
    return _NAMED.get(
        tuple(values for _, values in labelled),
        lambda: tuple((dim, tuple(values)) for dim, values in labelled),
    )


def _label(
    inp: Inputs, raw: Mapping[str, np.ndarray], scenario: Scenario, cells: np.ndarray | None
) -> _Parts:
    """:class:`_Labelled`'s parts: data variables, coordinates, indexes, attributes, the
    contract slots kept and the start stocks (set last when a budget is merged); a cell
    output recorded by cell as a :class:`~materiel.analysis.metrics.ByCell`."""
    samples = next(iter(raw.values())).shape[0]
    slot = None if cells is None else cell_slots(cells)
    keep = policy_slots_used(inp, raw)
    keep_at = np.flatnonzero(keep)  # indices: each selection below takes them as they are

    def kept(dims: str | tuple[str, ...], values: Any) -> Any:
        """``values`` without the dropped contract slots (along ``contract``): a copy."""
        if dims == "contract":
            return np.asarray(values)[keep_at]
        if isinstance(dims, str) or "contract" not in dims:
            return values
        at: list[Any] = [slice(None)] * len(dims)
        at[dims.index("contract")] = keep_at
        return np.asarray(values)[tuple(at)]

    data_vars: dict[str, Any] = {}
    for name, var in OUTPUTS.items():  # named, shaped and described by the engine's registry
        if name in _CONTRACT_OUTPUTS:
            continue
        values: np.ndarray | metrics.ByCell = raw[name]
        if slot is not None and var.dims[-2:] == CELL_DIMS:
            values = metrics.ByCell(var.dims, raw[name], slot)
        # binding: the kernel's codes, labelled when read (_Labelled.binding)
        data_vars[var.dataset] = (var.dims, values)
    data_vars["consumption_demand"] = (("month", "party", "product"), inp.consumption_per_month)
    # capex by who decides it: the kernel's capex_usd is order-driven + these two
    data_vars["capex_facilitation_usd"] = (("month", "line"), inp.capex_facilitation_usd.T)
    data_vars["capex_announced_usd"] = (
        ("month", "line"),
        (inp.capex_announced_usd - inp.capex_facilitation_usd).T,
    )
    qualification = inp.qualification_cost_usd
    if qualification.shape != (inp.n_months, len(inp.parties)):  # Inputs built without fleets
        qualification = np.zeros((inp.n_months, len(inp.parties)))
    data_vars["qualification_cost_usd"] = (("month", "party"), qualification)
    fixed = _static(inp, scenario)
    f, contracts = fixed.coords, fixed.contracts
    named = _named(inp)
    indexes = _dimension_coords(samples, inp.start, inp.n_months, named)
    kept_contracts = (tuple(contracts[keep_at].tolist()), contracts.dtype.str)
    contract_index = _contract_index(*kept_contracts)
    index_vars, merged_indexes = _INDEX_MAPS.get(
        (indexes, contract_index),
        lambda: (
            {**indexes.variables, **contract_index.variables},
            {**indexes.xindexes, **contract_index.xindexes},
        ),
    )
    coords: dict[str, Any] = {
        **{
            d: index_vars[d]
            for d in ("sample", "month", "party", "product", "line", "contract", "pool", "pledge")
        },
        **{
            name: f[name]
            for name in (
                "party_kind",
                "product_kind",
                "product_unit",
                "line_product",
                "line_country",
                "line_owner",
                "line_pool",
                "contract_product",
            )
        },
        **_contract_coords(inp, raw, scenario),
        **{
            name: f[name]
            for name in (
                "contract_firm",
                "contract_multi_year",
                "contract_decided_by",
                "contract_origin",
                "contract_price_usd",
            )
        },
        "contract_delivered_before_start": ("contract", inp.contract_delivered_start),
        **{
            name: f[name]
            for name in (
                "pledge_donor",
                "pledge_recipient",
                "pledge_product",
                "pledge_quantity",
                "pledge_given_before_start",
            )
        },
        "fleet": index_vars["fleet"],
        **{
            name: f[name]
            for name in ("fleet_system", "fleet_party", "fleet_product", "fleet_share")
        },
    }
    unkept = dict(coords)  # the units name the products of every slot, kept or not
    starts = {
        "stock_start": (("party", "product"), inp.stock_start),
        "inventory_start": (("pool", "product"), inp.inventory_start),
    }
    if inp.budget is None:  # the same variables in the same order, built at once
        data_vars.update(starts)
    # the dropped slots go before the Dataset is built (an isel afterwards copies every
    # contract variable and rebuilds the contract index)
    for table in (data_vars, coords):
        for name, given in table.items():
            if isinstance(given, tuple):
                table[name] = (given[0], kept(given[0], given[1]), *given[2:])
    ds_attrs = {"scenario": scenario.id, "start": scenario.start, "months": scenario.months}
    given_indexes = dict(merged_indexes)
    index_values = {
        **_dimension_values(samples, inp.start, inp.n_months, named),
        "contract": _contract_values(*kept_contracts),
    }
    return _Parts(data_vars, coords, given_indexes, ds_attrs, keep, starts, index_values, unkept)


def _with_attrs(
    data_vars: dict[str, Any], coords: dict[str, Any], unkept: dict[str, Any], scenario: Scenario
) -> None:
    """Give the variables their units and descriptions (only the Dataset carries them)."""
    # attributes given with the arrays (setting them on the Dataset afterwards builds a
    # DataArray per variable: a third of this function's time)
    units: dict[tuple[tuple[str, ...], str], str] = {}

    def coord_values(name: str) -> Any:
        given = unkept[name]
        return given.values if isinstance(given, xr.Variable) else given[1]

    def units_of(dims: tuple[str, ...], unit: str) -> str:  # one look-up per dims and unit
        if (dims, unit) not in units:
            units[dims, unit] = _units(coord_values, dims, unit, scenario)
        return units[dims, unit]

    for var in OUTPUTS.values():
        attrs = {"units": units_of(var.dims, var.units)} if var.units else {}
        attrs["description"] = var.description
        table = data_vars if var.dataset in data_vars else coords
        table[var.dataset] = (*table[var.dataset][:2], attrs)
    data_vars["consumption_demand"] = (
        *data_vars["consumption_demand"],
        {"units": units_of(("party", "product"), "units")},
    )
    for name, what in (
        ("capex_facilitation_usd", "state-funded facilitation's capex"),
        ("capex_announced_usd", "capex of industry's announced investments"),
        ("qualification_cost_usd", "round-gun qualifications paid, in their decision month"),
    ):
        data_vars[name] = (*data_vars[name], {"units": "US$", "description": what})


def simulate(
    scenario: Scenario | str | Path | Mapping[str, Any],
    *,
    progress: Callable[[int], None] | None = None,
    check: bool = True,
    inputs: Inputs | None = None,
) -> Result:
    """Run one deterministic simulation of ``scenario``.

    ``scenario`` is a :class:`~materiel.scenario.schema.Scenario`, an embedded id, a
    TOML path or a mapping (see :func:`materiel.load`). Returns a
    :class:`~materiel.analysis.result.Result` whose ``dataset`` has a ``sample``
    dimension of length 1. With ``check`` (the default) the run's invariants
    are verified and a broken one raises :class:`~materiel.InvariantError`.
    ``inputs``: the scenario's compiled inputs (:func:`~materiel.engine.compile_inputs`)
    when the caller holds them.
    """
    s = load(scenario)
    inp = compile_inputs(s) if inputs is None else inputs
    # the cell outputs on the cells that can hold or move a round only (74 to 83 of 544 in
    # the embedded scenarios): the rest are 0, written neither by the kernel nor read by
    # the laws, and expanded only when the Dataset or a table reads them
    cells = live_cells(inp)
    raw = run_engine(inp, samples=1, progress=progress, cells=cells)
    if check:
        check_invariants(inp, raw, cells=cells)
    return build_result(inp, raw, s, cells=cells)

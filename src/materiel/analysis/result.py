"""``Result``: a run's labelled Dataset plus the metrics users ask for first."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from materiel._errors import bad_argument
from materiel._memo import ByIdentity
from materiel._xarray import lazy_dask
from materiel.analysis import metrics
from materiel.engine.binding import input_product, is_input
from materiel.engine.variables import OUTPUTS, quantity_units
from materiel.months import label_of
from materiel.scenario.schema import Scenario

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = [
    "FLOOR_RULES",
    "ROW_TABLES",
    "Result",
    "group_sums",
    "records",
    "register_accessor",
    "tidy_tables",
]

FLOOR_RULES = {
    "all": "stock floors hold against aid from stock and the holder's own consumption",
    "aid": "stock floors hold against aid from stock only; the holder's own consumption "
    "may draw below them",
}
"""``policy.floor_applies_to`` in words, as the outputs state it."""

_ACCESSORS: dict[str, Callable[[Result], Any]] = {}


def register_accessor(name: str) -> Callable[[Callable[[Result], Any]], Callable[[Result], Any]]:
    """Attach ``result.<name>``, computed by the decorated factory from the result.

    The presenting layer registers ``plot`` and ``_repr_html_`` this way (as
    xarray and pandas register accessors), so this module never imports it.
    """

    def decorate(factory: Callable[[Result], Any]) -> Callable[[Result], Any]:
        _ACCESSORS[name] = factory
        return factory

    return decorate


def group_sums(values: np.ndarray, codes: list[int], groups: int) -> np.ndarray:
    """Per group and column, the sum of the rows of ``values`` (N, K) whose code is that
    group (``codes``: N ints in ``range(groups)``, numbered in the order first seen), NaN
    skipped: shape (groups, K).

    The same floats as ``pd.DataFrame(values).groupby(codes, sort=False).sum()``, by the
    same two paths pandas takes: codes in runs (non-decreasing) and no NaN, one
    ``np.add.reduceat`` over the runs; otherwise pandas' ``group_sum``, Kahan-compensated,
    rows in order, per group ``g`` and column ``j``::

        y = v - c[g, j];  t = s[g, j] + y;  c[g, j] = (t - s[g, j]) - y;  s[g, j] = t

    with the compensation reset to 0 where it is not finite (an infinite value). For the
    ~200 contracts of a run this costs a fraction of the groupby's set-up (the Kahan loop
    compiled, :func:`_kahan_sums`).
    """
    runs = all(a <= b for a, b in pairwise(codes))
    if codes and runs and not np.isnan(values).any():
        starts = np.flatnonzero(np.r_[True, np.diff(codes) != 0])
        with np.errstate(over="ignore"):  # a sum past the largest float is inf, as pandas'
            return np.asarray(np.add.reduceat(values.T, starts, axis=1).T, dtype=float)
    return _compiled_kahan()(
        np.ascontiguousarray(values, dtype=np.float64), np.asarray(codes, dtype=np.int64), groups
    )


_KAHAN: list[Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = []


def _compiled_kahan() -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """:func:`_kahan_sums` compiled (numba, ``cache=True``, ``nogil``) on first use, so that
    importing this module does not import numba (a reader of saved results needs neither)."""
    if not _KAHAN:
        from numba import njit

        from materiel._numba import cache_loads_without_registries

        cache_loads_without_registries()  # loads from numba's cache without its registries
        _KAHAN.append(njit(cache=True, nogil=True)(_kahan_sums))
    return _KAHAN[0]


def _kahan_sums(
    values: np.ndarray, codes: np.ndarray, groups: int
) -> np.ndarray:  # pragma: no cover - compiled; tests/test_result_arrays.py checks it
    """:func:`group_sums`' Kahan path (pandas' ``group_sum``), compiled by
    :func:`_compiled_kahan`: the same float operations in the same order, so the same
    floats as the Python loop it replaced."""
    width = values.shape[1]
    sums = np.zeros((groups, width))
    comp = np.zeros((groups, width))
    for n in range(values.shape[0]):
        g = codes[n]
        for j in range(width):
            v = values[n, j]
            if v == v:  # not NaN
                y = v - comp[g, j]
                t = sums[g, j] + y
                comp[g, j] = (t - sums[g, j]) - y
                if not math.isfinite(comp[g, j]):
                    comp[g, j] = 0.0
                sums[g, j] = t
    return sums


class Result:
    """The outcome of :func:`materiel.simulate`.

    ``dataset`` is an :class:`xarray.Dataset` with dimensions ``sample``,
    ``month``, ``party``, ``product``, ``line``, ``contract``, ``pool`` and
    ``pledge``; ``scenario`` is the resolved scenario that produced it.

    A result is read, not changed: each table below is computed once and
    kept (a caller gets its own copy), so ``metrics()`` and the summary do
    not rebuild the tables they share. A result from :func:`materiel.simulate`
    builds its Dataset when ``dataset`` is first read; :meth:`rows` and the
    tables made from them read the same variables as plain arrays (``arrays``).
    """

    def __init__(
        self,
        dataset: xr.Dataset | None,
        scenario: Scenario,
        *,
        arrays: metrics.Arrays | None = None,
        build: Callable[[], xr.Dataset] | None = None,
    ) -> None:
        self.arrays: metrics.Source
        """The run's variables by name (the Dataset, or its plain :class:`~materiel.analysis.
        metrics.Arrays` until the Dataset is built): what the plain-row tables read."""
        if dataset is not None:
            self.arrays = dataset
        elif arrays is not None and build is not None:
            self.arrays = arrays
        else:
            raise bad_argument("Result", "dataset", None, "a Dataset, or arrays and build")
        self._dataset = dataset
        self._build = build
        self._lock = threading.Lock()
        self.scenario = scenario
        self._tables: dict[str, pd.DataFrame] = {}
        self._rows: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def lazy(
        cls, arrays: metrics.Arrays, build: Callable[[], xr.Dataset], scenario: Scenario
    ) -> Result:
        """A result whose Dataset is ``build()`` on first use of :attr:`dataset` (once, even
        from several threads), whose :meth:`rows` read ``arrays`` (the same variables)."""
        return cls(None, scenario, arrays=arrays, build=build)

    @property
    def dataset(self) -> xr.Dataset:
        """The labelled :class:`xarray.Dataset` (built now if the result was made lazily)."""
        if self._dataset is None:
            with self._lock:
                if self._dataset is None:
                    assert self._build is not None
                    self._dataset = self._build()
        return self._dataset

    def _table(self, name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """``build()`` once per result; a copy each call, so callers may change theirs."""
        if name not in self._tables:
            self._tables[name] = build()
        return self._tables[name].copy()

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows of ``table`` (one of :data:`ROW_TABLES`: ``targets``, ``decisions``,
        ``fleets``, ``interoperability``) as dicts of plain Python values, computed from the
        run's arrays without building a DataFrame: what a JSON answer needs, at a fraction
        of the cost (the tables themselves are made from these rows).

        The same values as ``records(result.<table>())``, except that an integer column
        with missing values keeps its ints (a DataFrame makes them floats). Computed once
        per result; each call returns new dicts, so callers may change theirs.
        """
        if table not in ROW_TABLES:
            raise bad_argument("Result.rows", "table", table, f"one of {', '.join(ROW_TABLES)}")
        if table not in self._rows:
            self._rows[table] = getattr(self, f"_{table}_rows")()
        return [dict(row) for row in self._rows[table]]

    def _targets_rows(self) -> list[dict[str, Any]]:
        return metrics.target_rows(self.arrays, self.scenario)

    def _fleets_rows(self) -> list[dict[str, Any]]:
        return metrics.fleet_rows(self.arrays)

    def _interoperability_rows(self) -> list[dict[str, Any]]:
        return metrics.interoperability_rows(self.arrays, self.scenario, fleets=self.rows("fleets"))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.dataset.sizes.items())
        return f"<materiel.Result scenario={self.scenario.id!r} {sizes}>"

    def __getattr__(self, name: str) -> Any:
        """Registered accessors: ``result.plot`` (Plotly charts, :mod:`materiel.present`)
        and ``_repr_html_`` (notebook summary)."""
        factory = _ACCESSORS.get(name)
        if factory is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return factory(self)

    # --- tables ---
    def targets(self) -> pd.DataFrame:
        """Per capability target: stock at its date, whether and when it is met, coverage."""
        return self._table(
            "targets", lambda: pd.DataFrame(self.rows("targets"), columns=metrics.TARGET_COLUMNS)
        )

    def binding(self) -> pd.DataFrame:
        """Per line: months bound by capacity, by orders, and by each input."""
        return self._table("binding", lambda: metrics.binding_table(self.dataset))

    def costs(self) -> pd.DataFrame:
        """Per party and year: contract payments and capex of lines in that country (US$)."""
        return self._table("costs", lambda: metrics.cost_by_party(self.dataset))

    def aid(self) -> pd.DataFrame:
        """Aid pledged vs delivered, from stock and from production."""
        return self._table("aid", lambda: metrics.aid_table(self.dataset, self.scenario))

    def aid_timeliness(self) -> pd.DataFrame:
        """Per pledge: delivered on time, on-time share and mean delay (see ``analysis.aid``)."""
        from materiel.analysis.aid import aid_timeliness

        return self._table("aid_timeliness", lambda: aid_timeliness(self))

    def shortfall(self) -> pd.DataFrame:
        """Recipients' demand, consumption and unmet demand per munition."""
        return self._table("shortfall", lambda: metrics.recipient_shortfall_table(self.dataset))

    def fleets(self) -> pd.DataFrame:
        """Per weapon-system fleet: demand, unmet demand, usable and unusable stock."""
        return self._table("fleets", lambda: pd.DataFrame(self.rows("fleets")))

    def interoperability(self) -> pd.DataFrame:
        """Per party and munition with fleets: usable vs nominal stock, unmet demand, the systems
        that went short and the capacity its guns can use
        (:func:`~materiel.analysis.metrics.interoperability_table`; empty without fleets)."""
        return self._table("interoperability", lambda: pd.DataFrame(self.rows("interoperability")))

    def qualifications(self) -> pd.DataFrame:
        """Round-gun qualifications added in the scenario: when they take effect, their cost."""
        return metrics.qualification_table(self.scenario)

    def replacement(self) -> pd.DataFrame:
        """Per donor and munition given from stock: static (CSIS) and dynamic replacement time.

        See :func:`materiel.analysis.metrics.replacement_table`.
        """
        return self._table(
            "replacement", lambda: metrics.replacement_table(self.dataset, self.scenario)
        )

    def munitions(self) -> pd.DataFrame:
        """Per munition: output, capacity at start and end, what binds, cost."""
        return self._table("munitions", self._munitions)

    def _munitions(self) -> pd.DataFrame:
        ds, plain = self.dataset, metrics.plain
        # plain arrays: (month, line) and (month, contract); selecting by mask keeps line order
        capacity = plain(ds, "capacity_per_month", ("month", "line"))
        production = plain(ds, "production", ("month", "line"))
        bindings = plain(ds, "binding", ("month", "line"))
        capex = plain(ds, "capex_usd", ("month", "line"))
        deliveries = plain(ds, "contract_deliveries", ("month", "contract"))
        spent = deliveries * plain(ds, "contract_price_usd")
        line_product = plain(ds, "line_product")
        contract_product = plain(ds, "contract_product")
        months = plain(ds, "month")
        rows = []
        for k in self.scenario.munitions:
            on = line_product == k
            if not on.any():
                continue
            cap = capacity[:, on].sum(axis=1)
            binding = bindings[:, on]
            tally: dict[str, float] = defaultdict(float)
            for label, w in zip(binding.ravel(), capacity[:, on].ravel(), strict=True):
                tally[str(label)] += float(w)
            seen = np.unique(binding)
            inputs = [str(lab) for lab in seen[is_input(seen)]]
            first_input = None
            if inputs:
                hit = np.flatnonzero(is_input(binding).any(axis=1))
                first_input = label_of(months[hit[0]])
            mine = contract_product == k
            rows.append(
                {
                    "product": k,
                    "produced": float(production[:, on].sum()),
                    "capacity_start_per_month": float(cap[0]),
                    "capacity_end_per_month": float(cap[-1]),
                    "main_binding": max(tally, key=tally.__getitem__) if tally else None,
                    "inputs_binding": [input_product(x) for x in inputs],
                    "first_input_bound": first_input,
                    "delivered": float(np.where(mine, deliveries, 0.0).sum()),
                    "spent_usd": float(np.where(mine, spent, 0.0).sum()),
                    "capex_usd": float(capex[:, on].sum()),
                }
            )
        return pd.DataFrame(rows)

    def budget(self) -> pd.DataFrame:
        """Per ally and year: munitions budget, payments committed, paid, and overrun (US$).

        Empty when the scenario's ``policy.budget`` is ``"none"``.
        """
        return self._table("budget", self._budget)

    def _budget(self) -> pd.DataFrame:
        ds = self.dataset
        if "budget_usd" not in ds:
            return pd.DataFrame(
                columns=["party", "year", "budget_usd", "committed_usd", "paid_usd", "overrun_usd"]
            )
        paid = metrics.yearly(ds.payments_usd.isel(sample=0)).reindex(year=ds.year, fill_value=0)
        df = (
            xr.Dataset(
                {
                    "budget_usd": ds.budget_usd,
                    "committed_usd": ds.budget_committed_usd,
                    "paid_usd": paid,
                }
            )
            .to_dataframe()
            .reset_index()
        )
        df = df[df.party.isin(self.scenario.allies)]
        df["overrun_usd"] = (df.committed_usd - df.budget_usd).clip(lower=0.0)
        return df[["party", "year", "budget_usd", "committed_usd", "paid_usd", "overrun_usd"]]

    def deferred(self) -> pd.DataFrame:
        """Contracts the budget check deferred: by how many months, and whether signed at all."""
        return self._table("deferred", self._deferred)

    def _deferred(self) -> pd.DataFrame:
        ds = self.dataset
        if "contract_deferred_months" not in ds.coords:
            return pd.DataFrame(columns=["contract", "deferred_months", "signed_in_horizon"])
        months = ds.contract_deferred_months.to_series()
        months = months[months > 0]
        df: pd.DataFrame = months.rename("deferred_months").reset_index()
        df["signed_in_horizon"] = [
            bool(ds.contract_deliveries.sel(contract=c).sum() > 0) for c in df.contract
        ]
        return df

    def contracts(self) -> pd.DataFrame:
        """Every contract, written or decided by a procurement policy, with what it became.

        Columns: contract, product, buyers (``party:share`` list, as decided),
        decided and signed (``YYYY-MM``), quantity, firm, multi_year,
        decided_by (``policy``: a procurement policy decided it in the run;
        ``scenario``: written in the scenario), origin (the scenario contract
        id, ``aid:<pledge>`` for aid pledged from production, or
        ``policy:<procurement id>``) and delivered (in the horizon plus before
        its start). Policy slots whose decision was zero are left out.
        """
        return self._table("contracts", self._contracts)

    def _delivered(self) -> np.ndarray:
        """Per contract: delivered in the horizon plus before its start (sample 0)."""
        ds, plain = self.arrays, metrics.plain
        delivered: np.ndarray = plain(ds, "contract_deliveries", ("month", "contract")).sum(axis=0)
        before: np.ndarray = plain(ds, "contract_delivered_before_start")
        total: np.ndarray = delivered + before
        return total

    def _contracts(self) -> pd.DataFrame:
        ds, plain = self.dataset, metrics.plain
        return pd.DataFrame(
            {
                "contract": plain(ds, "contract").astype(str),
                "product": plain(ds, "contract_product").astype(str),
                "buyers": plain(ds, "contract_buyers").astype(str),
                "decided": plain(ds, "contract_decided").astype(str),
                "signed": plain(ds, "contract_signed").astype(str),
                "quantity": plain(ds, "contract_quantity").astype(float),
                "firm": plain(ds, "contract_firm").astype(bool),
                "multi_year": plain(ds, "contract_multi_year").astype(bool),
                "decided_by": plain(ds, "contract_decided_by").astype(str),
                "origin": plain(ds, "contract_origin").astype(str),
                "delivered": self._delivered(),
            }
        )

    def decisions(self) -> pd.DataFrame:
        """Per procurement policy: what it decided in the run (from :meth:`contracts`).

        Columns: policy, product, contracts (non-zero decisions' contracts),
        first and last (decision month), quantity, multi_year_quantity,
        delivered (within the horizon). One row per policy and product, in
        the order of their first contract.
        """
        return self._table(
            "decisions", lambda: pd.DataFrame(self.rows("decisions"), columns=_DECISION_COLUMNS)
        )

    def _decisions_rows(self) -> list[dict[str, Any]]:
        # Groups found in one loop over the ~200 contracts, read from the plain arrays, and
        # summed as pandas' groupby sums them (group_sums: its two paths), so the
        # same figures as ever: a DataFrame of the contracts and a groupby over string keys
        # cost about 10x more, a groupby over the codes about 3x more (0.58 ms).
        ds, plain = self.arrays, metrics.plain
        mine = np.flatnonzero(plain(ds, "contract_decided_by") == "policy")
        if not len(mine):
            return []
        origin = plain(ds, "contract_origin")[mine].tolist()
        product = plain(ds, "contract_product")[mine].tolist()
        decided = plain(ds, "contract_decided")[mine].astype(str).tolist()
        quantity = plain(ds, "contract_quantity")[mine].astype(float)
        multi_year = plain(ds, "contract_multi_year")[mine].astype(bool)
        code_of: dict[tuple[str, str], int] = {}  # (policy, product) -> group, in order seen
        code_at: dict[tuple[str, str], int] = {}  # (origin, product) as stored -> group
        codes = []
        for pair in zip(origin, product, strict=True):  # a few groups, ~200 contracts
            code = code_at.get(pair)
            if code is None:
                key = (str(pair[0]).removeprefix("policy:"), str(pair[1]))
                code = code_at[pair] = code_of.setdefault(key, len(code_of))
            codes.append(code)
        months: list[list[str]] = [[] for _ in code_of]
        for code, month in zip(codes, decided, strict=True):
            months[code].append(month)
        values = np.column_stack(
            [quantity, np.where(multi_year, quantity, 0.0), self._delivered()[mine]]
        )
        sums = group_sums(values, codes, len(code_of))
        return [
            {
                "policy": policy,
                "product": k,
                "contracts": len(months[code]),
                "first": min(months[code]),
                "last": max(months[code]),
                "quantity": float(sums[code, 0]),
                "multi_year_quantity": float(sums[code, 1]),
                "delivered": float(sums[code, 2]),
            }
            for (policy, k), code in code_of.items()
        ]

    def floors(self) -> dict[str, Any]:
        """Which stock-floor rule the run applied (``policy.floor_applies_to``), in words too."""
        applies = self.scenario.policy.floor_applies_to
        stocks = self.scenario.stocks
        with_floors = _FLOORED.get((stocks,), lambda: _parties_with_floors(stocks))
        return {
            "applies_to": applies,
            "rule": FLOOR_RULES[applies],
            "parties_with_floors": list(with_floors),
        }

    # --- machine-readable metrics ---
    def cost_totals(self) -> dict[str, Any]:
        """The totals of ``metrics()["cost"]``: payments, capex (and its split by decision),
        payments per paying party (those above zero) and round-gun qualifications, US$,
        without the other metrics."""
        ds, plain = self.dataset, metrics.plain
        split = metrics.capex_split(ds)  # industry's capex and the state's, apart
        payments = plain(ds, "payments_usd", ("month", "party"))
        qual = (
            plain(ds, "qualification_cost_usd", ("month", "party"))
            if "qualification_cost_usd" in ds
            else np.zeros_like(payments)
        )
        parties = [str(p) for p in plain(ds, "party")]
        return {
            "payments_usd": float(payments.sum()),
            "capex_usd": float(plain(ds, "capex_usd").sum()),
            "capex_by_decision_usd": split,
            "industry_capex_usd": split["order_driven"] + split["announced"],
            "state_capex_usd": split["facilitation"],
            "payments_by_party_usd": {
                p: float(v) for p, v in zip(parties, payments.sum(axis=0), strict=True) if v > 0
            },
            "qualifications_usd": float(qual.sum()),
            "qualifications_by_party_usd": {
                p: float(v) for p, v in zip(parties, qual.sum(axis=0), strict=True) if v > 0
            },
        }

    def metrics(self) -> dict[str, Any]:
        """All headline metrics as JSON-ready data."""
        totals = self.cost_totals()
        qualifications = ("qualifications_usd", "qualifications_by_party_usd")
        return {
            "scenario": self.scenario.id,
            "start": self.scenario.start,
            "months": self.scenario.months,
            "targets": records(self.targets()),
            "munitions": records(self.munitions()),
            "lines": records(self.binding()),
            "cost": {
                **{k: v for k, v in totals.items() if k not in qualifications},
                "by_party_year": records(self.costs()),
                **{k: totals[k] for k in qualifications},
            },
            "contracts": records(self.contracts()),
            "floors": self.floors(),
            "aid": records(self.aid()),
            "aid_timeliness": records(self.aid_timeliness()),
            "budget": {
                "policy": self.scenario.policy.budget,
                "deferred_contracts": records(self.deferred()),
                "overruns": records(self.budget().query("overrun_usd > 0")),
            },
            "recipient_shortfall": records(self.shortfall()),
            "replacement": records(self.replacement()),
            "interoperability": {
                "policy": self.scenario.policy.interoperability,
                "by_product": dict(self.scenario.policy.interoperability_by_product),
                "parties": records(self.interoperability()),
                "fleets": records(self.fleets()),
                "qualifications_added": records(self.qualifications()),
            },
        }


_DECISION_COLUMNS = [
    "policy",
    "product",
    "contracts",
    "first",
    "last",
    "quantity",
    "multi_year_quantity",
    "delivered",
]

ROW_TABLES = ("targets", "decisions", "fleets", "interoperability")
"""The tables :meth:`Result.rows` gives as plain rows."""

_FLOORED: ByIdentity[tuple[str, ...]] = ByIdentity(64)
"""The parties with a stock floor, per ``scenario.stocks`` mapping (knobs never change it,
so a knobbed scenario shares its base's): worked out once, not per run's summary."""


def _parties_with_floors(stocks: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The parties that keep a floor above 0 on some stock, sorted."""
    return tuple(sorted(p for p, per in stocks.items() if any(x.floor > 0 for x in per.values())))


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as JSON-ready dicts (numpy scalars unwrapped, NaN/inf as None)."""
    out = []
    for row in df.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and (np.isnan(v) or np.isinf(v)):
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def tidy_tables(result: Result) -> dict[str, pd.DataFrame]:
    """Long tables, one per monthly variable, with ``month`` as ``YYYY-MM``.

    Lines carry their ``country`` and ``product``; contracts their
    ``product``; party tables keep munitions only. The ``sample`` column is
    dropped for a deterministic run. A last column ``unit`` says what each
    row's value counts: ``rounds``, ``missiles/month``, ``US$`` (empty for
    ``binding``, a label). Plus ``contracts``: one row per contract, written
    or decided by a procurement policy (:meth:`Result.contracts`), and
    ``weapon_systems`` where parties keep fleets (:meth:`Result.interoperability`).
    """
    ds = result.dataset
    munitions = set(result.scenario.munitions)
    labels = {
        "line": {"line_country": "country", "line_product": "product"},
        "contract": {"contract_product": "product"},
        "pledge": {"pledge_product": "product"},
        "fleet": {"fleet_party": "party", "fleet_product": "product", "fleet_system": "system"},
    }
    registry = {var.dataset: var.units for var in OUTPUTS.values()}
    unit_of = {
        str(k): str(u) for k, u in zip(ds["product"].values, _product_units(ds), strict=True)
    }
    tables: dict[str, pd.DataFrame] = {}
    for name, da in ds.data_vars.items():
        if "month" not in da.dims:
            continue
        if ds.sizes["sample"] == 1 and "sample" in da.dims:
            da = da.isel(sample=0, drop=True)
        value = (
            "binding" if name == "binding" else "usd" if str(name).endswith("_usd") else "quantity"
        )
        df = da.to_dataframe(name=value).reset_index()
        df["month"] = pd.to_datetime(df["month"]).dt.strftime("%Y-%m")
        columns: list[str] = []
        for dim in da.dims:
            columns.append(str(dim))
            columns.extend(k for k in labels.get(str(dim), {}) if k in df.columns)
        df = df[[*columns, value]]
        for dim in da.dims:
            df = df.rename(columns=labels.get(str(dim), {}))
        if "party" in da.dims and "product" in da.dims:
            df = df[df["product"].isin(munitions)]
        units = registry.get(str(name), "US$" if value == "usd" else "units")
        if value == "binding":
            df["unit"] = ""
        elif "units" in units.split("/")[0] and "product" in df.columns:
            df["unit"] = [quantity_units(units, [unit_of[str(k)]]) for k in df["product"]]
        else:
            df["unit"] = units
        tables[str(name)] = df.reset_index(drop=True)
    tables["contracts"] = result.contracts()
    weapons = result.interoperability()
    if not weapons.empty:  # per party and munition with fleets: usable vs nominal, who went short
        tables["weapon_systems"] = weapons
    return tables


def _product_units(ds: xr.Dataset) -> list[str]:
    """Each product's unit (``round``); ``unit`` for a dataset made before units were kept."""
    if "product_unit" in ds.coords:
        return [str(u) for u in ds["product_unit"].values]
    return ["unit"] * ds.sizes["product"]

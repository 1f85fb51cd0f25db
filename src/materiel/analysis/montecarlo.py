"""Monte Carlo: run thousands of samples of an uncertain scenario in one engine pass.

``sample(scenario, n, seed)`` draws every distribution in the scenario
(:mod:`materiel.scenario.uncertainty`), builds per-sample engine inputs vectorised
across samples (:mod:`materiel.engine.batch`) and runs the compiled kernel on
chunks of samples, keeping memory bounded: only the variables the analysis
needs are kept (stocks of the party-munition cells that hold, receive or use
anything; production and capacity per line; shortfall; payments), as
float32. The result answers "how likely":

- percentile fans (p5, p25, p50, p75, p95) over samples;
- ``P(target met by its date)`` and ``P(met by month t)`` for every month;
- a sensitivity ranking: Spearman rank correlation between each uncertain
  input and an output (by default each target's stock at its date).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from materiel._errors import InvariantError, bad_argument
from materiel.analysis.metrics import target_met
from materiel.engine import compile_inputs, run_engine
from materiel.engine.batch import sample_overrides
from materiel.engine.variables import CELL_DIMS, OUTPUTS
from materiel.months import month_index, month_range
from materiel.scenario.loading import load
from materiel.scenario.schema import Scenario
from materiel.scenario.uncertainty import draw

__all__ = ["QUANTILES", "MonteCarloResult", "sample"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_LEAN = tuple(name for name, var in OUTPUTS.items() if var.lean)  # what a lean run records
_KEEP_LINES = tuple(
    n for n in _LEAN if OUTPUTS[n].dims[2:] == ("line",) and OUTPUTS[n].units != "US$"
)
_KEEP_CELLS = tuple(n for n in _LEAN if OUTPUTS[n].dims[2:] == CELL_DIMS)


def _recorded_cells(s: Scenario, inp: Any) -> np.ndarray:
    """(party, product) cells worth keeping: any stock, receipt, use, aid or target."""
    P, K = len(inp.parties), len(inp.products)
    keep = (inp.stock_start > 0) | (inp.consumption_per_month.sum(axis=0) > 0)
    flat = keep.ravel()
    flat[inp.receive_cell] = True
    flat[inp.pledge_donor * K + inp.pledge_product] = True
    flat[inp.pledge_recipient * K + inp.pledge_product] = True
    keep = flat.reshape(P, K)
    pi = {p: i for i, p in enumerate(inp.parties)}
    ki = {k: i for i, k in enumerate(inp.products)}
    for t in s.targets.values():
        keep[[pi[p] for p in t.parties], ki[t.product]] = True
    mask: np.ndarray = keep
    return mask


def sample(
    scenario: Scenario | str | Path | Mapping[str, Any],
    n: int,
    seed: int = 0,
    *,
    chunk: int = 250,
    progress: Callable[[int, int], None] | None = None,
    subset: range | None = None,
) -> MonteCarloResult:
    """Run ``n`` samples of ``scenario`` drawn with ``seed``; same inputs and seed, same result.

    ``chunk`` samples go through the engine at a time (memory grows with it,
    not with ``n``); ``progress(done, n)`` is called after each chunk.
    ``subset`` runs only those samples of the ``n`` drawn (for splitting a run
    across workers: sample ``i`` has the same values whichever subset runs it).
    """
    if n < 1:
        raise bad_argument("sample", "n", n, "a whole number >= 1")
    s = load(scenario)
    draws = draw(s.uncertain, s.correlations, n, seed)
    ids = np.arange(n) if subset is None else np.arange(n)[subset.start : subset.stop]
    draws = {path: values[ids] for path, values in draws.items()}
    n = len(ids)
    inp = compile_inputs(s)
    cells = _recorded_cells(s, inp)
    T, L, M = inp.n_months, len(inp.lines), int(cells.sum())
    kept = {name: np.empty((n, T, L), dtype=np.float32) for name in _KEEP_LINES}
    kept |= {name: np.empty((n, T, M), dtype=np.float32) for name in _KEEP_CELLS}
    payments = np.empty((n, len(inp.parties)))
    capex = np.empty(n)
    for first in range(0, n, chunk):
        part = {path: values[first : first + chunk] for path, values in draws.items()}
        size = min(chunk, n - first)
        raw = run_engine(inp, size, overrides=sample_overrides(s, inp, part), cells=cells,
                         record=_LEAN)  # fmt: skip
        if float(raw["stock"].min(initial=0.0)) < -1e-6:
            raise InvariantError("invariant broken: negative stock in a Monte Carlo sample")
        for name, store in kept.items():
            store[first : first + size] = raw[name]
        payments[first : first + size] = raw["payments_usd"].sum(axis=1)
        capex[first : first + size] = raw["capex_usd"].sum(axis=(1, 2))
        del raw
        if progress is not None:
            progress(first + size, n)
    party_of, product_of = np.nonzero(cells)
    ds = xr.Dataset(
        {
            **{OUTPUTS[n].dataset: (("sample", "month", "line"), kept[n]) for n in _KEEP_LINES},
            **{OUTPUTS[n].dataset: (("sample", "month", "cell"), kept[n]) for n in _KEEP_CELLS},
            "payments_usd": (("sample", "party"), payments),
            "capex_usd": ("sample", capex),
        },
        coords={
            "sample": ids,
            "month": month_range(s.start, T),
            "line": inp.lines,
            "party": inp.parties,
            "cell_party": ("cell", [inp.parties[i] for i in party_of]),
            "cell_product": ("cell", [inp.products[k] for k in product_of]),
            "line_product": ("line", [s.lines[x].product for x in inp.lines]),
        },
        attrs={"scenario": s.id, "samples": n, "seed": seed},
    )
    inputs = xr.Dataset(
        {path: ("sample", values) for path, values in draws.items()},
        coords={"sample": ids},
    )
    return MonteCarloResult(ds, inputs, s)


class MonteCarloResult:
    """Samples of one scenario: ``dataset`` (outputs) and ``inputs`` (drawn values)."""

    def __init__(self, dataset: xr.Dataset, inputs: xr.Dataset, scenario: Scenario) -> None:
        self.dataset = dataset
        self.inputs = inputs
        self.scenario = scenario

    def __repr__(self) -> str:
        return (f"<materiel.MonteCarloResult scenario={self.scenario.id!r} "
                f"samples={self.dataset.sizes['sample']}>")  # fmt: skip

    def scenario_for(self, sample_id: int) -> dict[str, Any]:
        """The deterministic scenario one sample assumed (its drawn values in place).

        ``materiel.simulate(result.scenario_for(i))`` reproduces sample ``i``.
        """
        data = self.scenario.model_dump(mode="json", exclude_none=True)
        data.pop("uncertain", None)
        for path in self.inputs.data_vars:
            value = float(self.inputs[path].sel(sample=sample_id))
            node = data
            *head, last = str(path).split(".")
            for key in head:
                node = node[key]
            node[last] = round(value) if last.endswith("_months") else value
        return data

    def stock_of(self, parties: list[str], product: str) -> xr.DataArray:
        """Stock of ``product`` held by ``parties`` together (sample, month)."""
        ds = self.dataset
        mask = ds.cell_party.isin(parties) & (ds.cell_product == product)
        held: xr.DataArray = ds.stock.where(mask, 0.0).sum("cell")
        return held

    def fan(self, da: xr.DataArray, quantiles: tuple[float, ...] = QUANTILES) -> xr.DataArray:
        """Percentiles over samples of any sampled variable (dimension ``quantile``)."""
        fan: xr.DataArray = da.quantile(list(quantiles), dim="sample")
        return fan

    def required(self, target_id: str) -> np.ndarray:
        """Each sample's required quantity for a target (drawn when the target is uncertain)."""
        path = f"targets.{target_id}.quantity"
        if path in self.inputs:
            return np.asarray(self.inputs[path].values, dtype=float)
        n = self.dataset.sizes["sample"]
        return np.full(n, self.scenario.targets[target_id].required_quantity)

    def reached(self, target_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The target group's stock and whether it meets the requirement, both (sample, month)."""
        t = self.scenario.targets[target_id]
        series = self.stock_of(t.parties, t.product).values
        return series, target_met(series, self.required(target_id)[:, None])

    @property
    def cost_usd(self) -> np.ndarray:
        """Contract payments plus capex of each sample (US$)."""
        total: np.ndarray = (
            self.dataset.payments_usd.sum("party").values + self.dataset.capex_usd.values
        )
        return total

    def outcomes(self) -> pd.DataFrame:
        """Per sample and target: stock at the date, met by it, first month met (-1 never), cost."""
        frames = []
        for tid, t in self.scenario.targets.items():
            series, hit = self.reached(tid)
            by = month_index(t.by, self.scenario.start)
            frames.append(pd.DataFrame({
                "sample": self.dataset.sample.values, "target": tid,
                "stock_at_by": series[:, by], "met_by_date": hit[:, by],
                "first_met_month": np.where(hit.any(axis=1), hit.argmax(axis=1), -1),
                "cost_usd": self.cost_usd,
            }))  # fmt: skip
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def target_probabilities(self) -> pd.DataFrame:
        """Per target: P(met by its date), P(met by the horizon), and the stock fan at the date.

        ``p_met_by_month`` (in :meth:`met_by_month`) is the share of samples
        whose stock has reached the target in or before each month.
        """
        rows = []
        for tid, t in self.scenario.targets.items():
            series, hit = self.reached(tid)
            need = self.required(tid)
            by = month_index(t.by, self.scenario.start)
            ever = hit.any(axis=1)
            first = np.where(ever, hit.argmax(axis=1), -1)
            at_by = series[:, by]
            rows.append({
                "target": tid, "product": t.product, "parties": ",".join(t.parties),
                "by": t.by, "required": float(np.median(need)),
                "p_met_by_date": float(hit[:, by].mean()),
                "p_met_by_horizon": float(ever.mean()),
                "median_first_met": (str(self.dataset.month.values[int(np.median(first[ever]))])[:7]
                                     if ever.mean() >= 0.5 else None),
                **{f"stock_at_by_p{int(q * 100)}": float(np.quantile(at_by, q))
                   for q in QUANTILES},
            })  # fmt: skip
        return pd.DataFrame(rows)

    def met_by_month(self) -> xr.DataArray:
        """P(target reached in or before each month), dimensions (target, month)."""
        curves = []
        for tid in self.scenario.targets:
            _, hit = self.reached(tid)
            reached = np.maximum.accumulate(hit, axis=1)
            curves.append(reached.mean(axis=0))
        return xr.DataArray(
            np.array(curves).reshape(len(curves), self.dataset.sizes["month"]),
            dims=("target", "month"),
            coords={"target": list(self.scenario.targets), "month": self.dataset.month},
            name="p_met",
        )

    def sensitivity(
        self, output: np.ndarray | None = None, target: str | None = None
    ) -> pd.DataFrame:
        """Uncertain inputs ranked by |Spearman rank correlation| with an output.

        The output is ``output`` (one value per sample) or, by default, the
        stock of ``target`` (the first target if none is named) at its date.
        Inputs that do not vary get no correlation.
        """
        if output is None:
            tid = target or next(iter(self.scenario.targets), None)
            if tid is None:
                raise bad_argument(
                    "MonteCarloResult.sensitivity", "target", target, "a target id, or an output"
                )
            t = self.scenario.targets[tid]
            by = month_index(t.by, self.scenario.start)
            output = self.stock_of(t.parties, t.product).values[:, by]
        rows = []
        for path in self.inputs.data_vars:
            x = self.inputs[path].values
            if np.ptp(x) == 0 or np.ptp(output) == 0:
                rho = float("nan")
            else:
                rho = float(stats.spearmanr(x, output).statistic)
            rows.append({"input": str(path), "spearman": rho})
        df = pd.DataFrame(rows, columns=["input", "spearman"])
        df["abs"] = df.spearman.abs()
        return (
            df.sort_values("abs", ascending=False, na_position="last")
            .drop(columns="abs")
            .reset_index(drop=True)
        )

    def metrics(self) -> dict[str, Any]:
        """Probabilities, fans at target dates and sensitivity rankings, JSON-ready."""
        from materiel.analysis.result import records

        out: dict[str, Any] = {
            "scenario": self.scenario.id,
            "samples": int(self.dataset.sizes["sample"]),
            "seed": int(self.dataset.attrs["seed"]),
            "uncertain_inputs": sorted(self.scenario.uncertain),
            "targets": records(self.target_probabilities()),
            "cost_usd": {
                f"p{int(q * 100)}": float(np.quantile(self.cost_usd, q)) for q in QUANTILES
            },
            "sensitivity": {},
        }
        if self.scenario.uncertain:
            for tid in self.scenario.targets:
                out["sensitivity"][tid] = records(self.sensitivity(target=tid).head(10))
        return out

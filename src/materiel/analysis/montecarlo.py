"""Monte Carlo: millions of samples of an uncertain scenario, on every core, in flat memory.

``sample(scenario, n, seed)`` draws every distribution in the scenario
(:mod:`materiel.scenario.uncertainty`), then runs chunks of at most
``chunk`` samples on ``threads`` threads, the same number of equal chunks
per thread (:func:`chunk_bounds`): each chunk builds its per-sample engine
inputs (:mod:`materiel.engine.batch`, the heavy part compiled, into
buffers each thread reuses), steps the compiled kernel (no GIL) and reduces
what it recorded (compiled, no GIL) before the next chunk needs the
memory. What a run keeps, whatever ``n``:

- **per-sample scalar outcomes** (exact): per target the stock at its date,
  whether it is met then, the first month it is met; the cost; and any
  :class:`Quantity` asked for (:func:`sample_quantities`). Probabilities
  (``P(target met by its date)``, ``P(met by month t)``), the percentiles
  at target dates and the sensitivity ranking (Spearman rank correlation
  between each drawn input and an outcome) come from these, exactly;
- **fans** (percentiles p5 .. p95 per month of each target's stock and of
  each line's production) from a streaming quantile sketch of fixed size
  (:mod:`materiel.analysis.sketch`: within 1% relative, 0.001 absolute near
  zero, of the exact order statistic);
- **trajectories** only on request (``trajectories``): ``True`` keeps them
  in memory as the labelled ``dataset`` (dims ``sample, month, line`` and
  ``sample, month, party, product``), a directory writes them to Parquet
  chunk by chunk; by default (``"auto"``) they are kept in memory when they
  take at most :data:`TRAJECTORIES_IN_MEMORY_BYTES`, else not at all.

Results are identical for any number of threads and any chunk size with the
same seed: every sample is drawn before the run, per-sample outcomes are
written by sample index, and sketch counts are integers.
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from numba import njit
from scipy import stats

from materiel._errors import InvariantError, bad_argument
from materiel._io import atomic_path
from materiel.analysis.metrics import counted_stock, target_met
from materiel.analysis.simulate import variable_units
from materiel.analysis.sketch import ALPHA, SMALLEST, QuantileSketch
from materiel.engine import compile_inputs, run_engine
from materiel.engine.batch import sample_overrides
from materiel.engine.core import kernel_args
from materiel.engine.inputs import Inputs
from materiel.engine.variables import CELL_DIMS, OUTPUTS
from materiel.months import label_of, month_index, month_label, month_range, parse_month
from materiel.scenario.loading import load
from materiel.scenario.schema import Scenario
from materiel.scenario.uncertainty import draw

__all__ = [
    "QUANTILES",
    "TRAJECTORIES_IN_MEMORY_BYTES",
    "MonteCarloResult",
    "Quantity",
    "chunk_bounds",
    "drawn_scenarios",
    "estimate_bytes",
    "sample",
    "sample_quantities",
    "with_values",
]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TRAJECTORIES_IN_MEMORY_BYTES = 512 * 2**20
"""``trajectories="auto"`` keeps trajectories in memory up to this size (float32)."""
_LEAN = tuple(name for name, var in OUTPUTS.items() if var.lean)  # what a lean run records
_KEEP_LINES = tuple(
    n for n in _LEAN if OUTPUTS[n].dims[2:] == ("line",) and OUTPUTS[n].units != "US$"
)
_KEEP_CELLS = tuple(n for n in _LEAN if OUTPUTS[n].dims[2:] == CELL_DIMS)
Trajectories = bool | str | Path
"""``True`` (in memory), ``False`` (none), ``"auto"``, or a directory for Parquet files."""


@dataclass(frozen=True)
class Quantity:
    """One per-sample scalar outcome of a Monte Carlo run, reduced without keeping trajectories.

    ``variable``: an engine output with a ``month`` dimension
    (:data:`~materiel.engine.variables.OUTPUTS`: ``production``, ``capacity``,
    ``stock``, ``shortfall``, ``payments_usd``, ``capex_usd``, ``receipts``
    ...). ``where``: labels to keep along its other dimensions
    (``{"line": "nammo-raufoss"}``, ``{"party": ["USA", "CAN"], "product":
    "shell-155mm"}``); values are summed over what is kept, and over every
    dimension not named. ``months``: one month ``"2026-06"`` (the value then)
    or an inclusive range ``("2025-01", "2025-12")`` reduced by ``how``
    (``sum``, ``mean``, ``min`` or ``max`` over its months).

    ``Quantity("production", ("2025-01", "2025-12"), {"line": "x"})`` is line
    ``x``'s output in 2025; ``Quantity("stock", "2026-06", {"party": "USA",
    "product": "shell-155mm"})`` the US stock of 155mm shells at the end of
    June 2026.
    """

    variable: str
    months: str | tuple[str, str]
    where: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    how: Literal["sum", "mean", "min", "max"] = "sum"


class _Selector:
    """A :class:`Quantity` resolved against one scenario's compiled inputs."""

    def __init__(self, name: str, q: Quantity, inp: Inputs, start: str, cells: np.ndarray) -> None:
        where = f"Quantity {name!r}"
        if q.variable not in OUTPUTS or OUTPUTS[q.variable].dims[:2] != ("sample", "month"):
            monthly = [n for n, v in OUTPUTS.items() if v.dims[:2] == ("sample", "month")]
            raise bad_argument(where, "variable", q.variable, "one of " + ", ".join(monthly))
        if q.how not in ("sum", "mean", "min", "max"):
            raise bad_argument(where, "how", q.how, "sum, mean, min or max")
        span = (q.months, q.months) if isinstance(q.months, str) else tuple(q.months)
        try:
            lo, hi = (month_index(m, start) for m in span)
        except (ValueError, TypeError) as exc:
            raise bad_argument(where, "months", q.months, "YYYY-MM or (YYYY-MM, YYYY-MM)") from exc
        if not 0 <= lo <= hi < inp.n_months:
            raise bad_argument(
                where,
                "months",
                q.months,
                f"months from {start} within the run ({inp.n_months} months), first <= last",
            )
        self.name, self.variable, self.how, self.months = name, q.variable, q.how, slice(lo, hi + 1)
        labels = {
            "line": inp.lines,
            "party": inp.parties,
            "product": inp.products,
            "contract": inp.contracts,
            "pool": inp.pools,
            "pledge": inp.pledges,
        }
        dims = OUTPUTS[q.variable].dims[2:]
        unknown = set(q.where) - set(dims)
        if unknown:
            raise bad_argument(where, "where", dict(q.where), f"dimensions among {list(dims)}")
        chosen: dict[str, np.ndarray] = {}
        for dim in dims:
            names = list(labels[dim])
            want = q.where.get(dim, names)
            want = [want] if isinstance(want, str) else list(want)
            missing = [w for w in want if w not in names]
            if missing:
                shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
                raise bad_argument(where, f"where.{dim}", missing[0], f"a {dim} ({shown})")
            mask = np.zeros(len(names), dtype=bool)
            mask[[names.index(w) for w in want]] = True
            chosen[dim] = mask
        self.cell = dims[-2:] == CELL_DIMS
        if self.cell:  # the kernel records (party, product) cells in row-major order
            self.mask = np.outer(chosen["party"], chosen["product"])
            self.index: tuple[np.ndarray, ...] = ()
        else:
            self.index = tuple(np.flatnonzero(chosen[d]) for d in dims)
        self.column = np.empty(0, dtype=np.int64)  # set by resolve() once the cells are known

    def resolve(self, cells: np.ndarray) -> None:
        """Columns of the recorded cells this quantity sums (cell outputs)."""
        if self.cell:
            slot = np.full(cells.shape, -1)
            slot[cells] = np.arange(int(cells.sum()))
            self.column = slot[self.mask & cells]

    def reduce(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """One value per sample of the chunk."""
        a = raw[self.variable][:, self.months]
        if self.cell:
            a = a[..., self.column].sum(axis=-1)
        else:
            for axis, idx in enumerate(self.index, start=2):
                a = np.take(a, idx, axis=axis)
            a = a.reshape(a.shape[0], a.shape[1], -1).sum(axis=-1)
        out: np.ndarray = getattr(np, self.how)(a, axis=1)
        return out


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


def _trajectory_bytes(inp: Inputs, cells: np.ndarray, n: int) -> int:
    """Bytes of the float32 trajectories ``sample`` keeps in memory for ``n`` samples."""
    per_month = len(inp.lines) * len(_KEEP_LINES) + int(cells.sum()) * len(_KEEP_CELLS)
    return n * inp.n_months * per_month * 4 + n * (len(inp.parties) + 1) * 8


@njit(cache=True, nogil=True)
def _target_series(counted: np.ndarray, columns: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each target group's counted stock: ``(sample, month, target)``.

    ``out[s, t, g] = sum(counted[s, t, columns[starts[g]:starts[g + 1]]])``,
    summed in column order; compiled and without the GIL (a numpy gather
    and sum per target was a third of the per-sample reductions).
    """
    S, T, _ = counted.shape
    G = len(starts) - 1
    out = np.zeros((S, T, G))
    for s in range(S):
        for t in range(T):
            for g in range(G):
                total = 0.0
                for k in range(starts[g], starts[g + 1]):
                    total += counted[s, t, columns[k]]
                out[s, t, g] = total
    return out


def chunk_bounds(n: int, chunk: int, threads: int) -> list[int]:
    """Where each chunk of a run of ``n`` samples starts, then ``n``: equal work per thread.

    ``k = ceil(ceil(n / chunk) / threads) * threads`` chunks (at most ``n``),
    chunk ``i`` being samples ``n * i // k`` to ``n * (i + 1) // k - 1``: at
    most ``chunk`` samples each, sizes within one sample of each other, and
    a whole number of chunks per thread, so no thread idles at the end (400
    samples in chunks of at most 250 on two threads: 200 and 200, not 250
    and 150). Results do not depend on the chunks (see the module docstring).
    """
    k = math.ceil(n / chunk)
    k = min(n, math.ceil(k / threads) * threads)
    return [n * i // k for i in range(k + 1)]


class _Run:
    """One Monte Carlo run's fixed parts and its accumulators (filled chunk by chunk)."""

    def __init__(
        self,
        s: Scenario,
        inp: Inputs,
        draws: dict[str, np.ndarray],
        ids: np.ndarray,
        quantities: Mapping[str, Quantity],
        trajectories: Trajectories,
        fans: bool = True,
    ) -> None:
        self.s, self.inp, self.draws, self.ids = s, inp, draws, ids
        self.base = kernel_args(inp)  # shared by every chunk, read only
        n, T = len(ids), inp.n_months
        cells = _recorded_cells(s, inp)
        self.selectors = [_Selector(k, q, inp, s.start, cells) for k, q in quantities.items()]
        for sel in self.selectors:
            if sel.cell:
                cells = cells | sel.mask
        for sel in self.selectors:
            sel.resolve(cells)
        self.cells = cells
        slot = np.full(cells.shape, -1)
        slot[cells] = np.arange(int(cells.sum()))
        pi = {p: i for i, p in enumerate(inp.parties)}
        ki = {k: i for i, k in enumerate(inp.products)}
        columns = [slot[[pi[p] for p in t.parties], ki[t.product]] for t in s.targets.values()]
        self.target_columns = np.concatenate([np.zeros(0, np.int64), *columns]).astype(np.int64)
        self.target_starts = np.cumsum([0, *(len(c) for c in columns)]).astype(np.int64)
        self._local = threading.local()  # per thread: buffers reused chunk after chunk
        self.by = np.array([month_index(t.by, s.start) for t in s.targets.values()], dtype=int)
        G = len(s.targets)
        self.need = np.empty((n, G))
        for g, (tid, t) in enumerate(s.targets.items()):
            self.need[:, g] = draws.get(f"targets.{tid}.quantity", t.required_quantity)
        self.stock_at_by = np.zeros((n, G))
        self.met_by_date = np.zeros((n, G), dtype=bool)
        self.first_met = np.full((n, G), -1, dtype=np.int32)
        self.cost = np.zeros(n)
        self.quantities = np.zeros((n, len(self.selectors)))
        self.fans = fans  # the sketches: T * (G + L) * 1,851 * 4 bytes, 0.1-0.2 ms/sample
        self.target_fan = QuantileSketch((T, G) if fans else (0, G))
        self.line_fan = QuantileSketch((T, len(inp.lines)) if fans else (0, len(inp.lines)))
        if trajectories == "auto":
            trajectories = _trajectory_bytes(inp, cells, n) <= TRAJECTORIES_IN_MEMORY_BYTES
        self.to_disk = None if isinstance(trajectories, bool) else Path(trajectories)
        self.in_memory = trajectories is True
        # what the engine records: the lean outputs when trajectories are kept, else only what
        # the reductions below read (fewer bytes written and read back per sample)
        self.lean = self.in_memory or self.to_disk is not None
        reduced: tuple[str, ...] = ("stock", "usable_stock", "payments_usd", "capex_usd")
        reduced += ("production",) if fans else ()
        self.record = tuple(
            dict.fromkeys(
                (*(_LEAN if self.lean else reduced), *(x.variable for x in self.selectors))
            )
        )
        M, L = int(cells.sum()), len(inp.lines)
        self.kept: dict[str, np.ndarray] = {}
        if self.in_memory:
            self.kept = {k: np.empty((n, T, L), dtype=np.float32) for k in _KEEP_LINES}
            self.kept |= {k: np.empty((n, T, M), dtype=np.float32) for k in _KEEP_CELLS}
            self.kept["payments_usd"] = np.empty((n, len(inp.parties)))
            self.kept["capex_usd"] = np.empty(n)
        if self.to_disk is not None:
            for part in ("lines", "stocks"):
                (self.to_disk / part).mkdir(parents=True, exist_ok=True)

    def release(self) -> None:
        """Drop the per-thread buffers (the run is over; its result keeps this object)."""
        self._local = threading.local()

    def chunk(self, first: int, size: int) -> None:
        """Run samples ``first .. first+size-1`` (positions in ``ids``) and reduce them."""
        s, inp, rows = self.s, self.inp, slice(first, first + size)
        part = {path: values[rows] for path, values in self.draws.items()}
        if not hasattr(self._local, "workspace"):
            self._local.workspace, self._local.outputs = {}, {}
        overrides = sample_overrides(s, inp, part, self.base, workspace=self._local.workspace)
        raw = run_engine(
            inp,
            size,
            overrides=overrides,
            cells=self.cells,
            record=self.record,
            threads=1,
            base=self.base,
            lean=self.lean,
            buffers=self._local.outputs,
        )
        stock = raw["stock"]
        if float(stock.min(initial=0.0)) < -1e-6:
            raise InvariantError("invariant broken: negative stock in a Monte Carlo sample")
        # targets count the rounds the guns can fire (usable stock)
        series = _target_series(raw["usable_stock"], self.target_columns, self.target_starts)
        G = len(self.by)
        hit = target_met(series, self.need[rows][:, None, :])
        g_all = np.arange(G)
        self.stock_at_by[rows] = series[:, self.by, g_all]
        self.met_by_date[rows] = hit[:, self.by, g_all]
        self.first_met[rows] = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
        payments = raw["payments_usd"].sum(axis=1)
        capex = raw["capex_usd"].sum(axis=(1, 2))
        self.cost[rows] = payments.sum(axis=1) + capex
        for j, sel in enumerate(self.selectors):
            self.quantities[rows, j] = sel.reduce(raw)
        if self.fans:
            self.target_fan.add(series)
            self.line_fan.add(raw["production"])
        if self.in_memory:
            for name in (*_KEEP_LINES, *_KEEP_CELLS):
                self.kept[name][rows] = raw[name]
            self.kept["payments_usd"][rows] = payments
            self.kept["capex_usd"][rows] = capex
        if self.to_disk is not None:
            self._write(first, raw)

    def _write(self, first: int, raw: dict[str, np.ndarray]) -> None:
        """One chunk's trajectories as two long Parquet tables (lines, stocks)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert self.to_disk is not None
        inp, T = self.inp, self.inp.n_months
        months = pa.array([month_label(parse_month(self.s.start) + t) for t in range(T)])
        party_of, product_of = np.nonzero(self.cells)
        for part, names, labels in (
            ("lines", _KEEP_LINES, {"line": (np.arange(len(inp.lines)), inp.lines)}),
            (
                "stocks",
                _KEEP_CELLS,
                {"party": (party_of, inp.parties), "product": (product_of, inp.products)},
            ),
        ):
            shape = raw[names[0]].shape  # (S, T, X)
            S, X = shape[0], shape[2]
            cols: dict[str, Any] = {
                "sample": pa.array(np.repeat(self.ids[first : first + S], T * X)),
                "month": pa.DictionaryArray.from_arrays(
                    pa.array(np.tile(np.repeat(np.arange(T, dtype=np.int32), X), S)), months
                ),
            }
            for dim, (index, names_of) in labels.items():
                cols[dim] = pa.DictionaryArray.from_arrays(
                    pa.array(np.tile(index.astype(np.int32), S * T)), pa.array(list(names_of))
                )
            for name in names:
                cols[OUTPUTS[name].dataset] = pa.array(raw[name].astype(np.float32).ravel())
            with atomic_path(
                self.to_disk / part / f"part-{int(self.ids[first]):010d}.parquet"
            ) as tmp:
                pq.write_table(pa.table(cols), tmp)

    def dataset(self) -> xr.Dataset | None:
        """The trajectories kept in memory, labelled (None when not kept)."""
        if not self.in_memory:
            return None
        s, inp, T = self.s, self.inp, self.inp.n_months
        party_of, product_of = np.nonzero(self.cells)
        parties = sorted(set(party_of.tolist()))
        products = sorted(set(product_of.tolist()))
        pos_p = {p: i for i, p in enumerate(parties)}
        pos_k = {k: i for i, k in enumerate(products)}
        where_p = np.array([pos_p[int(p)] for p in party_of], dtype=np.int64)
        where_k = np.array([pos_k[int(k)] for k in product_of], dtype=np.int64)
        n = len(self.ids)
        cell_vars = {}
        for name in _KEEP_CELLS:  # cells never recorded hold nothing all run: zero
            full = np.zeros((n, T, len(parties), len(products)), dtype=np.float32)
            full[:, :, where_p, where_k] = self.kept[name]
            cell_vars[OUTPUTS[name].dataset] = (("sample", "month", "party", "product"), full)
        ds = xr.Dataset(
            {
                **{
                    OUTPUTS[k].dataset: (("sample", "month", "line"), self.kept[k])
                    for k in _KEEP_LINES
                },
                **cell_vars,
                "payments_usd": (("sample", "payer"), self.kept["payments_usd"]),
                "capex_usd": ("sample", self.kept["capex_usd"]),
            },
            coords={
                "sample": self.ids,
                "month": month_range(s.start, T),
                "line": inp.lines,
                "party": [inp.parties[i] for i in parties],
                "product": [inp.products[k] for k in products],
                "payer": inp.parties,
                "line_product": ("line", [s.lines[x].product for x in inp.lines]),
            },
            attrs={"scenario": s.id, "samples": n},
        )
        for name in (*_KEEP_LINES, *_KEEP_CELLS):  # units per variable, as a single run's
            var = OUTPUTS[name]
            ds[var.dataset].attrs["units"] = variable_units(ds, var.dims, var.units, s)
        ds["payments_usd"].attrs["units"] = ds["capex_usd"].attrs["units"] = "US$"
        return ds


def with_values(s: Scenario, values: Mapping[str, float]) -> dict[str, Any]:
    """``s`` as a deterministic scenario mapping with ``values`` (path -> drawn value) in place.

    Whole months are rounded; the ``uncertain`` table is left out. The mapping
    is standalone (no ``extends``): ``s`` is already resolved, and extending
    its base again would bring back what ``s`` dropped from it.
    """
    data = s.model_dump(mode="json", exclude_none=True)
    data.pop("uncertain", None)
    data.pop("extends", None)
    for path, value in values.items():
        node = data
        *head, last = path.split(".")
        for key in head:
            node = node[key]
        node[last] = round(value) if last.endswith("_months") else value
    return data


def drawn_scenarios(s: Scenario, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` deterministic scenarios, one per draw of ``s``'s distributions (:func:`draw`)."""
    draws = draw(s.uncertain, s.correlations, n, seed)
    return [with_values(s, {p: float(v[i]) for p, v in draws.items()}) for i in range(n)]


def sample(
    scenario: Scenario | str | Path | Mapping[str, Any],
    n: int,
    seed: int = 0,
    *,
    chunk: int = 250,
    progress: Callable[[int, int], None] | None = None,
    subset: range | None = None,
    threads: int | None = None,
    trajectories: Trajectories = "auto",
    quantities: Mapping[str, Quantity] | None = None,
    inputs: Inputs | None = None,
    fans: bool = True,
) -> MonteCarloResult:
    """Run ``n`` samples of ``scenario`` drawn with ``seed``; same inputs and seed, same result.

    At most ``chunk`` samples go through the engine at a time on each of
    ``threads`` threads (default: every core), in chunks of equal size, a
    whole number per thread (:func:`chunk_bounds`); memory grows with ``chunk * threads``,
    not with ``n``, unless trajectories are kept in memory (see the module
    docstring for ``trajectories``). ``progress(done, n)`` is called as
    chunks finish. ``subset`` runs only those samples of the ``n`` drawn (for
    splitting a run across workers: sample ``i`` has the same values
    whichever subset runs it). ``quantities`` names per-sample scalar
    outcomes to reduce on the way (:attr:`MonteCarloResult.quantities`).
    ``inputs``: the scenario's compiled inputs, when the caller holds them
    (sweep workers reuse them between tasks). ``fans=False`` skips the
    streamed fans (:attr:`MonteCarloResult.fans`) for callers that need only
    per-sample outcomes (sweeps): their sketches cost 0.1-0.2 ms of CPU per
    sample and ``T * (G + L) * 7.4`` KB per run.
    """
    if n < 1:
        raise bad_argument("sample", "n", n, "a whole number >= 1")
    if chunk < 1:
        raise bad_argument("sample", "chunk", chunk, "a whole number >= 1")
    if not (
        isinstance(trajectories, bool | Path)
        or trajectories == "auto"
        or isinstance(trajectories, str)
    ):
        raise bad_argument("sample", "trajectories", trajectories, "True, False, 'auto' or a path")
    s = load(scenario)
    draws = draw(s.uncertain, s.correlations, n, seed)
    ids = np.arange(n) if subset is None else np.arange(n)[subset.start : subset.stop]
    draws = {path: values[ids] for path, values in draws.items()}
    n = len(ids)
    if isinstance(trajectories, str | Path) and trajectories != "auto":
        trajectories = Path(trajectories)
    run = _Run(s, inputs or compile_inputs(s), draws, ids, quantities or {}, trajectories, fans)
    cores = max(1, threads or os.cpu_count() or 1)
    bounds = chunk_bounds(n, chunk, cores)
    firsts, sizes = bounds[:-1], np.diff(bounds).tolist()
    workers = min(len(firsts), cores)
    done = 0
    if workers == 1:
        for first, size in zip(firsts, sizes, strict=True):
            run.chunk(first, size)
            done += size
            if progress is not None:
                progress(done, n)
    else:  # chunks on threads, at most two per thread in flight (bounded memory)
        with ThreadPoolExecutor(workers) as pool:
            pending: deque[tuple[Future[None], int]] = deque()
            for i, (first, size) in enumerate(zip(firsts, sizes, strict=True)):
                pending.append((pool.submit(run.chunk, first, size), size))
                while pending and (len(pending) >= 2 * workers or i == len(firsts) - 1):
                    job, size = pending.popleft()
                    job.result()
                    done += size
                    if progress is not None:
                        progress(done, n)
    run.release()
    inputs_ds = xr.Dataset(
        {path: ("sample", values) for path, values in draws.items()}, coords={"sample": ids}
    )
    return MonteCarloResult(run, inputs_ds, seed)


def sample_quantities(
    scenario: Scenario | str | Path | Mapping[str, Any],
    quantities: Mapping[str, Quantity],
    n: int,
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """Per-sample scalar outcomes without trajectories: one row per sample.

    Columns: every drawn input (by its path) then every quantity (by its
    name), indexed by ``sample``. For calibration and any question about a
    few numbers per sample::

        sample_quantities("action-plan", {
            "made_2025": Quantity("production", ("2025-01", "2025-12"),
                                  {"line": "nammo-raufoss"}),
            "usa_mid_2026": Quantity("stock", "2026-06",
                                     {"party": "USA", "product": "shell-155mm"}),
        }, n=10_000, seed=1)

    Memory: ``n * (inputs + quantities) * 8`` bytes plus the run's fixed
    parts. ``options`` go to :func:`sample` (``chunk``, ``threads``,
    ``subset``, ``progress``, ``inputs``).
    """
    mc = sample(scenario, n, seed, trajectories=False, quantities=quantities, **options)
    return pd.concat([mc.inputs.to_dataframe(), mc.quantities], axis=1)


def estimate_bytes(
    scenario: Scenario,
    n: int,
    *,
    chunk: int = 250,
    threads: int | None = None,
    trajectories: Trajectories = "auto",
) -> int:
    """Memory that :func:`sample` ``(scenario, n)`` and its metrics hold at their peak,
    estimated before running.

    Per sample ``(2 U + 3 G + 2) * 8`` bytes (``U`` drawn inputs with one
    working copy, ``G`` targets' outcomes, cost); trajectories kept in memory
    add ``T * (L * k_L + M * k_M) * 4 * 2`` (float32 and the labelled copy;
    ``T`` months, ``L`` lines, ``M`` recorded cells, ``k`` outputs kept per
    line/cell). Fixed: the fan sketches, ``T * (G + L) * 1,851 * 4``, and the
    chunks in flight (two per thread), each ``chunk * T * (3 C + 4 L + 3 M +
    P) * 8`` (``C`` contracts: due schedules and the kernel's copies).
    """
    s = load(scenario)
    inp = compile_inputs(s)
    T, L, P, C = inp.n_months, len(inp.lines), len(inp.parties), len(inp.contracts)
    cells = _recorded_cells(s, inp)
    M, G, U = int(cells.sum()), len(s.targets), len(s.uncertain)
    if trajectories == "auto":
        trajectories = _trajectory_bytes(inp, cells, n) <= TRAJECTORIES_IN_MEMORY_BYTES
    kept = 2 * _trajectory_bytes(inp, cells, n) if trajectories is True else 0
    per_sample = n * (2 * U + 3 * G + 2) * 8
    from materiel.analysis.sketch import BUCKETS

    sketches = T * (G + L) * BUCKETS * 4
    workers = max(1, min(-(-n // chunk), threads or os.cpu_count() or 1))
    flight = 2 * workers * min(n, chunk) * T * (3 * C + 4 * L + 3 * M + P) * 8
    return int(kept + per_sample + sketches + flight)


class MonteCarloResult:
    """Samples of one scenario: per-sample outcomes, streamed fans, drawn ``inputs``.

    ``dataset`` (the trajectories) exists when they were kept in memory;
    everything else works whatever ``n``.
    """

    def __init__(self, run: _Run, inputs: xr.Dataset, seed: int) -> None:
        self.scenario = run.s
        self.inputs = inputs
        self.seed = seed
        self.samples = inputs.sample.values
        self.months = month_range(run.s.start, run.inp.n_months)
        self._run = run
        self._dataset = run.dataset()
        if self._dataset is not None:
            self._dataset.attrs["seed"] = seed
        run.kept = {}

    def __repr__(self) -> str:
        return (
            f"<materiel.MonteCarloResult scenario={self.scenario.id!r} samples={len(self.samples)}>"
        )

    @property
    def dataset(self) -> xr.Dataset:
        """Trajectories ``(sample, month, line)`` and ``(sample, month, party, product)``.

        Only when kept in memory (``sample(..., trajectories=True)``, or
        ``"auto"`` for small runs).
        """
        if self._dataset is None:
            raise bad_argument(
                "MonteCarloResult.dataset",
                "trajectories",
                "not kept",
                "sample(..., trajectories=True) to keep them in memory, or a "
                "directory to write them to Parquet",
            )
        return self._dataset

    def scenario_for(self, sample_id: int) -> dict[str, Any]:
        """The deterministic scenario one sample assumed (its drawn values in place).

        ``materiel.simulate(result.scenario_for(i))`` reproduces sample ``i``.
        """
        values = {
            str(p): float(self.inputs[p].sel(sample=sample_id)) for p in self.inputs.data_vars
        }
        return with_values(self.scenario, values)

    def stock_of(self, parties: list[str], product: str) -> xr.DataArray:
        """Stock of ``product`` held by ``parties`` together (sample, month); needs ``dataset``.

        Usable stock, as targets count it (:func:`~materiel.analysis.metrics.counted_stock`).
        """
        ds = self.dataset
        held = [p for p in parties if p in ds.party.values]
        if product not in ds["product"].values or not held:
            none: xr.DataArray = xr.zeros_like(ds.stock.isel(party=0, product=0, drop=True))
            return none
        out: xr.DataArray = counted_stock(ds).sel(party=held, product=product).sum("party")
        return out

    def fan(self, da: xr.DataArray, quantiles: tuple[float, ...] = QUANTILES) -> xr.DataArray:
        """Exact percentiles over samples of any sampled variable (dimension ``quantile``)."""
        fan: xr.DataArray = da.quantile(list(quantiles), dim="sample")
        return fan

    @property
    def fans(self) -> xr.Dataset:
        """Streamed fans: ``target_stock`` (target, month, quantile) and ``production``
        (line, month, quantile), from :mod:`materiel.analysis.sketch` (within 1%)."""
        run = self._run
        if not run.fans:
            raise bad_argument(
                "MonteCarloResult.fans",
                "fans",
                False,
                "sample(..., fans=True) (the default) to stream them",
            )
        q = list(QUANTILES)
        target = run.target_fan.quantiles(QUANTILES).transpose(1, 0, 2)
        line = run.line_fan.quantiles(QUANTILES).transpose(1, 0, 2)
        return xr.Dataset(
            {
                "target_stock": (("target", "month", "quantile"), target),
                "production": (("line", "month", "quantile"), line),
            },
            coords={
                "target": list(self.scenario.targets),
                "line": run.inp.lines,
                "month": self.months,
                "quantile": q,
            },
            attrs={"relative_error": ALPHA, "absolute_error_near_zero": SMALLEST},
        )

    @property
    def quantities(self) -> pd.DataFrame:
        """The :class:`Quantity` outcomes asked for, one row per sample, one column each."""
        return pd.DataFrame(
            self._run.quantities,
            columns=[x.name for x in self._run.selectors],
            index=pd.Index(self.samples, name="sample"),
        )

    def required(self, target_id: str) -> np.ndarray:
        """Each sample's required quantity for a target (drawn when the target is uncertain)."""
        g = list(self.scenario.targets).index(target_id)
        need: np.ndarray = self._run.need[:, g].copy()
        return need

    def reached(self, target_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The target group's stock and whether it meets the requirement, both (sample, month);
        needs ``dataset``."""
        t = self.scenario.targets[target_id]
        series = self.stock_of(t.parties, t.product).values
        return series, target_met(series, self.required(target_id)[:, None])

    def stock_at_date(self, target_id: str) -> np.ndarray:
        """Each sample's stock of the target's parties and munition at its date (exact)."""
        g = list(self.scenario.targets).index(target_id)
        at: np.ndarray = self._run.stock_at_by[:, g].copy()
        return at

    @property
    def cost_usd(self) -> np.ndarray:
        """Contract payments plus capex of each sample (US$)."""
        return self._run.cost

    def outcomes(self) -> pd.DataFrame:
        """Per sample and target: stock at the date, met by it, first month met (-1 never), cost."""
        run, G = self._run, len(self.scenario.targets)
        if not G:
            return pd.DataFrame()
        # target-major rows, built at once (a frame per target and a concat cost more than
        # a small sweep task's samples)
        return pd.DataFrame(
            {
                "sample": np.tile(self.samples, G),
                "target": np.repeat(
                    np.array(list(self.scenario.targets), dtype=object), len(self.samples)
                ),
                "stock_at_by": run.stock_at_by.T.ravel(),
                "met_by_date": run.met_by_date.T.ravel(),
                "first_met_month": run.first_met.T.ravel().astype(np.int64),
                "cost_usd": np.tile(run.cost, G),
            }
        )

    def target_probabilities(self) -> pd.DataFrame:
        """Per target: P(met by its date), P(met by the horizon), and the stock fan at the date.

        ``p_met_by_month`` (in :meth:`met_by_month`) is the share of samples
        whose stock has reached the target in or before each month. Exact
        (from per-sample outcomes).
        """
        run, rows = self._run, []
        for g, (tid, t) in enumerate(self.scenario.targets.items()):
            first = run.first_met[:, g]
            ever = first >= 0
            at_by = run.stock_at_by[:, g]
            rows.append(
                {
                    "target": tid,
                    "product": t.product,
                    "parties": ",".join(t.parties),
                    "by": t.by,
                    "required": float(np.median(run.need[:, g])),
                    "p_met_by_date": float(run.met_by_date[:, g].mean()),
                    "p_met_by_horizon": float(ever.mean()),
                    "median_first_met": (
                        label_of(self.months[int(np.median(first[ever]))])
                        if ever.mean() >= 0.5
                        else None
                    ),
                    **{
                        f"stock_at_by_p{int(q * 100)}": float(np.quantile(at_by, q))
                        for q in QUANTILES
                    },
                }
            )
        return pd.DataFrame(rows)

    def met_by_month(self) -> xr.DataArray:
        """P(target reached in or before each month), dimensions (target, month).

        ``p[g, t] = #{samples first meeting target g in a month <= t} / n``,
        from a count of first months per target (memory ``T`` per target,
        not ``n * T``: a million samples would otherwise need gigabytes).
        """
        first = self._run.first_met  # (sample, target)
        n, G = first.shape
        T = len(self.months)
        counts = np.zeros((G, T))
        for g in range(G):
            met = first[:, g][first[:, g] >= 0]
            counts[g] = np.cumsum(np.bincount(met, minlength=T)[:T])
        return xr.DataArray(
            counts / n,
            dims=("target", "month"),
            coords={"target": list(self.scenario.targets), "month": self.months},
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
            output = self._run.stock_at_by[:, list(self.scenario.targets).index(tid)]
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
            "samples": len(self.samples),
            "seed": int(self.seed),
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

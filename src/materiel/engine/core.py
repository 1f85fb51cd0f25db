"""The monthly stock-and-flow engine: a pure function from arrays to arrays.

Results carry a leading ``sample`` axis (length 1 for a deterministic run);
all samples run in one call of the compiled kernel
(:mod:`materiel.engine.kernel`), which loops over samples, months and
entities in machine code. This module prepares its arrays (by name, from
the registry :mod:`materiel.engine.variables`, grouped into the kernel's
named tuples) and holds the equations. The month ``t`` proceeds in this
order:

0. **Procurement policies** (:mod:`materiel.engine.policy`; the
   stock-management rule of Sterman, *Business Dynamics*, ch. 17). At each
   review month ``t`` of policy ``v`` (every month, or once a year in its
   review month), on the stocks at the end of month ``t - 1``, the group
   decides ``q_v(t) = max(0, U*R + (D - S - SL) * min(1, R/A))``: ``U`` the
   group's expected use per month (mean over ``t .. t+R-1`` within the
   horizon of its consumption plus the aid from stock it owes outside the
   group), ``R`` the review period (1 or 12 months), ``D`` the desired stock
   (highest counted target not yet past its date, else the highest) plus the
   desired supply line ``U * L`` (Sterman's ``SL* = expected loss rate x
   acquisition lag``, with ``L = delay + m (12 F - 1)/2 + (1 - m) 11/2`` the
   months from decision to the mean delivery as the buyer plans it: its
   contracting delay, *without* ``policy.extra_contracting_delay_months``,
   which is friction the buyer does not anticipate (Sterman's misperceived
   supply line), so an extra delay postpones deliveries without enlarging
   orders; without ``U * L`` the stock would settle ``U * L`` below its
   target), ``S`` the group's stock, ``SL`` its
   supply line ``sum_c share_c,group * (Q_c - delivered_c)`` over contracts
   decided by ``t`` (written or policy-made) received by the group, and ``A``
   the adjustment time. For a monthly review a gap ``G = D + U*L - S - SL``
   gives ``G/A + U``; with ``A <= R`` the gap is ordered at once and the next
   review orders only ``U*R``. The decision is
   signed at ``t + delay + extra delay``: ``m_v * q`` as a firm multi-year
   framework due over ``12 * framework_years`` months, ``(1 - m_v) * q`` as a
   non-firm annual order due over 12 months, each from its signature
   (``due_c`` below), bought by the buyers in their shares. With
   ``policy.budget = "defer"`` ``q`` is cut to what each buyer's munitions
   budget left (after written contracts and earlier decisions) pays in every
   year; the cut stays in the gap for the next review. With ``shares =
   "by-gap"`` buyer ``p`` takes ``g_p / sum g`` of the decision, ``g_p =
   max(0, w_p (D + U*L) - S_p - SL_p)`` (``w_p`` its written share, ``S_p``
   and ``SL_p`` its own stock and supply line; ``w_p`` if no buyer has a gap).
1. **Contracts.** Contract ``c`` is signed at ``sign_c`` and falls due along
   ``due_c(t) = Q_c * clip((t - first_c + 1) / n_c, 0, 1)``, or, for a contract
   with a written schedule ``q_0 .. q_{n-1}``, ``due_c(t) = Q_c *
   sum(q_0..q_{t-first_c}) / sum(q)``; open orders are
   ``open_c(t) = due_c(t) - delivered_c(t-1)``; the firm order book is
   ``book_c(t) = firm_c * [t >= sign_c] * (Q_c - delivered_c(t-1))``. A
   contract open to any eligible line is split between those lines in
   proportion to their capacity (orders) or committed capacity (book).
   **Qualification** (:mod:`materiel.engine.fleets`): once some but not all
   of a contract's lines fit the guns of one of its receivers ``r`` (a
   line fits ``r`` when its rounds are qualified for one of ``r``'s fleets by
   ``t``; every line fits a receiver without fleets), the contract is kept
   per receiver from then on: ``open_r = max(share_r due_c(t) -
   delivered_r, 0)`` (and ``book_r`` alike) is split between the lines
   ``L_r(t)`` that fit ``r`` only, ``a_{l,r} = open_r w_l / sum_{L_r} w``
   (all its lines where none fits: the rounds wait, unusable, for a
   qualification), and each line's delivery to the contract goes to its
   receivers in proportion to ``a_{l,r}`` (step 5).
2. **Investment.** A component line's order book is what its users' books
   need through the bill of materials, shared by committed capacity within its
   pool (equally where none has any). Then, within each pool-product group,
   a line keeps the book its committed capacity covers and the rest goes to
   the lines with room to grow: ``book_l = min(book_l, committed_l * H_l) +
   spill_g * room_l / sum_g room`` with ``room_l = max(0, Cmax_l -
   committed_l)``, so a planned line at zero capacity receives orders and is
   built. Line ``l`` expands when ``book_l > committed_l * H_l``:
   ``dC_l = clip(min(Cmax_l, book_l / H_l) - committed_l, 0, inf)``, arriving
   from ``t + lead_l`` in ``ramp_l`` equal monthly steps (the rule of
   :func:`materiel.engine.inputs.capacity_arrival`); capex ``dC_l * capex_l``
   is spent in month ``t``. A line with plant modules of size ``m_l``
   (``module_capacity_per_month``) builds whole modules within its ceiling,
   ``n = min(ceil(dC_l / m_l), floor((Cmax_l - committed_l) / m_l))``,
   ``dC_l = n m_l``, and they enter service one by one over the ramp: by
   month ``t + lead_l + r - 1`` (``r = 1..ramp_l``) ``m_l floor(n r /
   ramp_l)`` has arrived (one module: all of it at the end of the ramp).
   A **greenfield** line (``greenfield = true``: a new plant) with nothing
   committed takes no share of the spill (``room_l = 0``) and is one
   decision on its **owner's** book: with ``U_o = sum_{m in o} max(book_m -
   committed_m * H_m, 0)`` over the lines ``m`` of its owner ``o`` (same
   pool, product and ``owner``), their books taken before the spill moves
   any (the owner's own contracts and its capacity share of contracts open
   to the pool) and ``committed`` before this month's decisions, it is
   built whole, ``dC_l = Cmax_l``, in the first month ``U_o >= Cmax_l *
   H_l``, arriving by the same lead and ramp; once anything of it is
   committed it is an ordinary line.
3. **Capacity.** ``cap_l(t) = min(Cmax_l, cap_l(t-1) + increment_l(t))``:
   the ceiling caps all growth, announced investments included (their
   capex is spent as announced; what would arrive above it never does).
   ``increment`` holds what order-driven expansions bring plus what is
   decided outside the run (:mod:`materiel.engine.inputs`): state-funded
   facilitation (``[facilitation]``: always; its cost is charged to the
   funder's budget in its decision month) and industry's announced
   investments (``[investments]``: only while ``industry_invests``, or with
   ``announced_investments = "always"``; otherwise only what arrived before
   the start). **Idle capacity**: with ``policy.idle_utilisation u > 0``, a
   line whose open orders stay below ``u * cap_l`` for ``idle_months``
   consecutive months (a line short of inputs is not idle) mothballs down to
   its warm rate at the end of that month: ``warm_l = max(warm_capacity_l or
   warm_share * cap_l, orders_l)`` (never below the work in hand), ``M_l +=
   cap_l - warm_l``, ``cap_l = warm_l``. When last month's open orders or
   this month's firm book outgrow the warm rate (``orders_l > cap_l`` or
   ``book_l > cap_l * H_l``) the mothballed ``M_l`` is called back and
   returns in month ``t + reactivation_months``; it stays committed
   meanwhile (no new build while it can be reactivated). Capex by who
   decides it: ``capex_usd = order-driven + announced + facilitation``
   (:func:`materiel.analysis.metrics.capex_split`).
4. **Production.** Munition lines want ``min(cap_l, open_l)``; that need flows
   down the bill of materials level by level, each component line wanting
   ``min(cap_l, share_l * max(0, need_g + B_g - inventory_g))``, where
   ``B_g = c_g * sum_l cap_l * bom_l,g`` is the pool's order-up-to buffer
   (``cover_months`` ``c_g`` of what its users need at full capacity; 0 by
   default: just-in-time, inventory replaces production). Then, deepest level
   first, each line's inputs are shared pro rata when short:
   ``f_g = min(1, inventory_g / need_g)`` and
   ``output_l = min(cap_l, orders_l) * min_{j in BOM} f_{pool_l, j}``. The
   smallest of capacity, inputs and orders is recorded as what binds
   (:class:`materiel.engine.binding.Binding`; ties go to capacity, then inputs).
5. **Deliveries.** Each line's output fills its open orders by priority, then
   age: with ``before_a`` the open orders ahead of assignment ``a`` on its
   line, ``delivered_a = clip(output_l - before_a, 0, open_a)``. Deliveries go
   to buyers by share (or to the contract's recipient; for a contract kept per
   receiver, ``delivered_a a_{l,r} / open_a`` to receiver ``r``); buyers pay
   ``delivered * unit price`` by share (of the contract's whole delivery).
6. **Aid from stock.** Pledge ``g`` owes ``due_g(t) - given_g(t-1)``; a donor
   gives at most ``max(0, stock - floor)``, shared pro rata between pledges.
7. **Consumption.** ``consumed = min(demand, max(0, stock - floor_own))``;
   ``shortfall = demand - consumed``. ``floor_own`` is the holder's stock
   floor when ``policy.floor_applies_to = "all"`` (the default: a floor is a
   reserve neither aid nor the holder's own use draws), 0 with ``"aid"``. A party-product cell with
   weapon-system fleets (:mod:`materiel.engine.fleets`) keeps its stock per
   fleet: deliveries from line ``l`` are usable only by the fleets qualified
   for ``l`` by then (:mod:`materiel.engine.interop`; the rest waits, unusable,
   until a qualification), each fleet ``f`` draws ``c_f = min(w_f demand,
   usable_f)``, scaled by ``min(1, max(0, stock - floor_own) / sum_f c_f)``,
   and ``consumed = sum_f c_f`` (per fleet shortfall ``w_f demand - c_f``).
   Nominal stock = usable + unusable.

Balances: ``stock(t) = stock(t-1) + receipts + aid_in - aid_out - consumed``
and ``inventory(t) = inventory(t-1) + produced - used``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from numba import njit

from materiel._memo import ByIdentity
from materiel._numba import cache_loads_without_registries
from materiel.engine import kernel
from materiel.engine.cells import cell_slots
from materiel.engine.inputs import Inputs, linear_schedule
from materiel.engine.variables import CELL_DIMS, GROUPS, INPUTS, OUTPUTS, Outputs

cache_loads_without_registries()  # the cached kernel loads without numba's registries (~0.2 s)

__all__ = ["due_schedule", "fill_due_rows", "kernel_args", "run_engine"]

_WRITTEN_TOGETHER = {"contract_quantity", "contract_decided", "contract_signed"}


def due_schedule(
    quantity: np.ndarray,
    first: np.ndarray,
    months: np.ndarray,
    T: int,
    shape: np.ndarray | None = None,
    shapes: np.ndarray | None = None,
) -> np.ndarray:
    """Cumulative quantity due by each month: ``(T, C)`` from ``(C,)`` inputs.

    ``due_c(t) = Q_c * share_c(t)`` (:func:`~materiel.engine.inputs.due_share`:
    even over ``months``, or along the contract's written schedule), by
    :func:`fill_due_rows` (one row).
    """
    C = len(quantity)
    if shape is None or shapes is None:
        shape, shapes = np.full(C, -1, dtype=np.int64), np.zeros((0, 1))
    due = np.empty((1, T, C))
    fill_due_rows(
        due,
        np.ascontiguousarray(quantity, np.float64)[None],
        np.ascontiguousarray(first, np.int64)[None],
        np.ascontiguousarray(months, np.int64),
        np.ascontiguousarray(shape, np.int64),
        np.ascontiguousarray(shapes, np.float64),
    )
    one: np.ndarray = due[0]
    return one


@njit(cache=True, nogil=True, error_model="numpy")
def fill_due_rows(
    out: np.ndarray,
    quantity: np.ndarray,
    first: np.ndarray,
    months: np.ndarray,
    shape: np.ndarray,
    shapes: np.ndarray,
) -> None:
    """Cumulative quantity due by each month, one row per sample, written into ``out``
    ``(S, T, C)`` from ``quantity`` and ``first`` ``(S, C)``.

    ``due[s, t, c] = Q[s, c] * clip((t - first[s, c] + 1) / n_c, 0, 1)``, or
    along the contract's schedule (``shape[c] >= 0``), ``Q[s, c] * shapes[shape[c],
    min(t - first[s, c], last)]`` (0 before ``first``): the rule of
    :func:`materiel.engine.inputs.due_share`, bit for bit, compiled and without
    the GIL. The even spreads are written for every contract in a branch-free
    loop over contracts, then the scheduled contracts are written over them.
    ``error_model="numpy"``: a division by zero gives what numpy's does (never
    here: delivery months are at least 1), so no check per division stops the
    loop from vectorising (1.9 to 2.4 times faster, one row to 250). Into a
    caller's buffer because a fresh ``(S, T, C)`` array (51 MiB for 250 samples
    of the default scenario) is mapped afresh by the allocator each time, and
    its page faults cost four times the arithmetic (``benchmarks/bench_mc.py``).
    """
    S, T, C = out.shape
    shaped = np.flatnonzero(shape >= 0)
    n = months.astype(np.float64)
    last = shapes.shape[1] - 1
    for s in range(S):
        q, f = quantity[s], first[s]
        for t in range(T):
            row = out[s, t]
            for c in range(C):
                row[c] = q[c] * min(max((t - f[c] + 1) / n[c], 0.0), 1.0)
            for d in shaped:
                k = min(t - f[d], last)
                row[d] = q[d] * (0.0 if k < 0 else shapes[shape[d], k])


def kernel_args(inp: Inputs) -> dict[str, np.ndarray]:
    """The kernel's inputs by name (:data:`~materiel.engine.variables.INPUTS`) for one scenario.

    An input named like a field of :class:`Inputs` is that field; the others
    are derived here. Each is cast to its declared dtype; per-sample ones
    (dims starting with ``sample``) get a sample axis of length 1, which Monte
    Carlo replaces with arrays of one row per sample.
    """
    T = inp.n_months
    due = due_schedule(
        inp.contract_quantity,
        inp.contract_due_first,
        inp.contract_due_months,
        T,
        inp.contract_shape,
        inp.contract_shapes,
    )
    # what _fixed reads, besides the sizes
    fixed_from = (
        inp.line_depth,
        inp.receive_cell,
        inp.pledge_quantity,
        inp.pledge_first,
        inp.pledge_months,
    )
    derived = _FIXED.get(fixed_from, lambda: _fixed(inp), (T, len(inp.products)))
    args = {}
    for name, dtype, per_sample in _CASTS:
        if name == "due_by_month":
            args[name] = _cast(name, due)
        elif name in derived:
            args[name] = derived[name]
        else:
            value = np.asarray(getattr(inp, name))
            args[name] = np.ascontiguousarray(value[None] if per_sample else value, dtype)
    return args


def _fixed(inp: Inputs) -> dict[str, np.ndarray]:
    """The derived inputs that do not depend on what the web's knobs retune
    (:func:`materiel.engine.inputs.retune`), cast: the lines by depth, the receivers'
    cells and the pledges' schedules."""
    K, T = len(inp.products), inp.n_months
    derived = {
        "lines_by_depth": np.argsort(inp.line_depth, kind="stable"),
        "depth_start": np.concatenate(([0], np.cumsum(np.bincount(inp.line_depth, minlength=1)))),
        "receive_party": inp.receive_cell // K,
        "receive_product": inp.receive_cell % K,
        "owed_by_month": inp.pledge_quantity
        * linear_schedule(np.arange(T)[:, None], inp.pledge_first, inp.pledge_months),
    }
    return {name: _cast(name, value) for name, value in derived.items()}


_FIXED: ByIdentity[dict[str, np.ndarray]] = ByIdentity(64)
""":func:`_fixed` once per set of its fields (a knobbed run shares them with its template:
0.03 ms a run); shared by every run built from them and never changed."""


def _cast(name: str, value: np.ndarray) -> np.ndarray:
    """``value`` as the kernel's input ``name``: its dtype, C order, a sample axis if per sample."""
    var = INPUTS[name]
    return np.ascontiguousarray(value[None] if var.per_sample else value, var.dtype)


_CASTS = [(name, var.dtype, var.per_sample) for name, var in INPUTS.items()]
"""Each kernel input's name, dtype and whether it has a sample axis, read once."""


_CORES = os.cpu_count() or 1  # read once: os.cpu_count reads /sys each call (~0.05 ms)
_ALIGN = 64  # bytes: each output of a block starts on a cache line


_Plan = tuple[int, tuple[tuple[tuple[int, ...], np.dtype, int], ...]]
"""Where each output lies in one block: the block's bytes, then each output's shape, dtype
and byte offset, in :data:`OUTPUTS` order."""


def _plan(shapes: dict[str, tuple[int, ...]]) -> _Plan:
    """Each output ``shapes[name]`` (with :data:`OUTPUTS`' dtypes) laid one after the other
    in one block, each from a 64-byte boundary (:func:`_one_block`)."""
    at, where = 0, []
    for name, v in OUTPUTS.items():
        where.append((shapes[name], v.dtype, at))
        at += -(-math.prod(shapes[name]) * v.dtype.itemsize // _ALIGN) * _ALIGN
    return at + _ALIGN, tuple(where)


def _one_block(plan: _Plan) -> Outputs:
    """Uninitialised output arrays laid as ``plan`` says (:func:`_plan`), as views of one
    allocation (one ``malloc`` and one free for the run, not one per output; the kernel
    writes every element of its samples' rows, zeroing first the outputs it adds to).
    Their arrays keep the block alive. The views are made by ``np.ndarray`` on the
    block at each offset, half the cost of a slice, ``view`` and ``reshape`` each.
    """
    size, where = plan
    block = np.empty(size, np.uint8)
    base = -block.ctypes.data % _ALIGN
    return Outputs(*[np.ndarray(dims, dtype, block, base + at) for dims, dtype, at in where])


_Layout = tuple[frozenset[str], dict[str, tuple[int, ...]], np.ndarray, _Plan]
"""The outputs kept, their shapes, the cell slots and the block plan (:func:`_layout_of`)."""

_SIZE_NAMES = ("month", "line", "contract", "party", "pledge", "pool", "product", "fleet")


@lru_cache(maxsize=64)
def _layout(S: int, counts: tuple[int, ...], record: tuple[str, ...] | None, lean: bool) -> _Layout:
    """:func:`_layout_of` for every stock cell, once per set of sizes and outputs kept
    (~0.1 ms a run): callers share it and read it, never change it (the cell slots stay
    a writeable array, the type the compiled kernel was compiled for)."""
    return _layout_of(S, counts, record, lean, None)


_MASKED: ByIdentity[_Layout] = ByIdentity(64)
""":func:`_layout_of` for a read-only cell mask (never changed, so its identity names it), as
:func:`_layout` for every cell: shared read-only by callers (~0.1 ms a run)."""


def _layout_of(
    S: int,
    counts: tuple[int, ...],
    record: tuple[str, ...] | None,
    lean: bool,
    cells: np.ndarray | None,
) -> _Layout:
    """The outputs :func:`run_engine` keeps, each output's shape, each (party, product)
    cell's slot among the cells recorded (-1: not recorded) and where each output lies in
    one block (:func:`_plan`): ``counts`` are the sizes of :data:`_SIZE_NAMES`."""
    sizes = dict(zip(_SIZE_NAMES, counts, strict=True))
    P, K = sizes["party"], sizes["product"]
    mask = np.ones((P, K), dtype=bool) if cells is None else cells
    slot = cell_slots(mask)
    asked = set(OUTPUTS) if record is None else set(record)
    switches = {v.record_with for v in OUTPUTS.values() if (v.lean and lean) or v.name in asked}
    kept = {name for name, v in OUTPUTS.items() if v.record_with in switches}
    if kept & _WRITTEN_TOGETHER:  # one call writes them all (the kernel's policy.record)
        kept |= _WRITTEN_TOGETHER

    sizes["cell"] = int(mask.sum())

    def shape(dims: tuple[str, ...]) -> tuple[int, ...]:
        if dims[-2:] == CELL_DIMS:
            dims = (*dims[:-2], "cell")
        return tuple(sizes[d] for d in dims[1:])

    shapes = {name: (S if name in kept else 0, *shape(v.dims)) for name, v in OUTPUTS.items()}
    return frozenset(kept), shapes, slot, _plan(shapes)


def run_engine(
    inp: Inputs,
    samples: int = 1,
    progress: Callable[[int], None] | None = None,
    *,
    overrides: dict[str, np.ndarray] | None = None,
    cells: np.ndarray | None = None,
    record: tuple[str, ...] | None = None,
    threads: int | None = None,
    base: dict[str, np.ndarray] | None = None,
    lean: bool = True,
    buffers: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Step the scenario month by month; return arrays with a leading sample axis.

    Returned arrays are named by variable (:data:`~materiel.engine.variables.OUTPUTS`)
    and shaped by its dims, ``(sample, month, ...)``. ``overrides`` replaces
    kernel inputs (:func:`kernel_args`) by name with per-sample arrays (one
    row per sample). ``cells`` is a (party, product) boolean mask of the
    stock cells to record (all by default, shaped ``(..., party, product)``);
    with a mask, cell outputs are ``(sample, month, cell)`` in row-major
    order of the mask. ``record`` names the outputs to keep (all by default;
    those declared ``lean`` always, and outputs recorded together are kept
    together); the others come back with an empty sample axis. ``progress``
    is called once with the last month index when the run is done; the
    engine itself never prints. ``threads`` (default: every core) step
    disjoint ranges of samples at once (the kernel releases the GIL).
    ``base``: :func:`kernel_args` ``(inp)`` when the caller holds them (Monte
    Carlo builds them once, not once per chunk); they are not modified.
    ``lean=False`` keeps only the outputs ``record`` names (and those recorded
    with them), not the lean ones as well: a Monte Carlo run that keeps no
    trajectories records only what its reductions read. ``buffers``: a dict
    the caller keeps between calls on one thread; the kept outputs are
    written into arrays taken from it (allocated there once, at the largest
    number of samples seen), so repeated calls neither allocate nor fault in
    fresh pages (the kernel writes every element of its samples' rows). The
    returned arrays are views of those buffers: read them before the next
    call with the same ``buffers``.
    """
    S, T = samples, inp.n_months
    P, K = len(inp.parties), len(inp.products)
    counts = (
        T,
        len(inp.lines),
        len(inp.contracts),
        P,
        len(inp.pledges),
        len(inp.pools),
        K,
        len(inp.fleets),
    )
    asked = None if record is None else tuple(record)
    if cells is None:  # every cell: the layout depends on the sizes alone
        kept, shapes, slot, plan = _layout(S, counts, asked, lean)
    elif not cells.flags.writeable:  # a read-only mask (live_cells'): once per mask and sizes
        kept, shapes, slot, plan = _MASKED.get(
            (cells,), lambda: _layout_of(S, counts, asked, lean, cells), (S, counts, asked, lean)
        )
    else:
        kept, shapes, slot, plan = _layout_of(S, counts, record, lean, cells)
    if buffers is None:
        out = _one_block(plan)
    else:

        def output(name: str, dims: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
            if name not in kept:
                return np.empty(dims, dtype)
            held = buffers.get(name)
            if held is None or held.shape[0] < S or held.shape[1:] != dims[1:]:
                held = buffers[name] = np.empty(dims, dtype)
            return held[:S]

        out = Outputs(**{name: output(name, shapes[name], v.dtype) for name, v in OUTPUTS.items()})
    args = dict(kernel_args(inp) if base is None else base)
    for name, value in (overrides or {}).items():
        args[name] = np.ascontiguousarray(value, dtype=args[name].dtype)
    groups = {
        param: group(**{name: args[name] for name in group._fields})
        for param, group in GROUPS.items()
    }
    threads = max(1, min(S, threads or _CORES))
    bounds = [S * i // threads for i in range(threads + 1)]
    if threads == 1:
        kernel.step(0, S, **groups, cell_slot=slot, out=out)
    else:  # the kernel releases the GIL: each thread steps its own samples
        with ThreadPoolExecutor(threads) as pool:
            done = [
                pool.submit(
                    kernel.step, bounds[i], bounds[i + 1], **groups, cell_slot=slot, out=out
                )
                for i in range(threads)
            ]
            for job in done:
                job.result()
    raw = out._asdict()
    if cells is None:
        for name, v in OUTPUTS.items():
            if v.dims[-2:] == CELL_DIMS:
                raw[name] = raw[name].reshape(raw[name].shape[0], T, P, K)
    if progress is not None:
        progress(T - 1)
    return raw

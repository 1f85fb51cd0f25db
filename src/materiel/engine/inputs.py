"""Compile a :class:`~materiel.scenario.schema.Scenario` into the arrays the engine steps.

Everything that depends only on the scenario (not on the state of the
simulation) is computed here once: index maps, the bill-of-materials matrix
and its depth levels, contract schedules, the capacity that announced
investments add, consumption and aid schedules.

Time is counted in months from the horizon start (``t = 0``). Anything dated
before the start is folded into the initial state:

- an announced investment decided in month ``d`` adds
  ``dC * min(1, (t - d - lead + 1) / ramp)`` to capacity for ``t >= d + lead``
  (:func:`capacity_arrival`); the part already arrived at ``t = -1`` is in
  the starting capacity;
- a contract signed before the start is taken to have delivered what fell
  due before the start (those rounds are in the initial stocks).

Procurement policies get preallocated contract slots: for each review month
of each policy, one slot for the multi-year framework part (if its share is
above 0) and one for the annual part (if below 1), with quantity 0 until the
kernel decides it (:mod:`materiel.engine.policy`). Their nominal signature
month (review + delay) orders them among the contracts on each line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from materiel._errors import bad_argument
from materiel._memo import ByIdentity
from materiel.engine.budget import BudgetPlan, fit_to_budgets
from materiel.engine.interop import compile_fleets, qualification_charges
from materiel.months import month_index, month_label, parse_month, year_of
from materiel.scenario.prices import priced_by
from materiel.scenario.schema import (
    Facilitation,
    Investment,
    Line,
    Policy,
    Procurement,
    Scenario,
)

__all__ = [
    "Inputs",
    "always_delayed",
    "announced_arrive",
    "budget_charges",
    "capacity_arrival",
    "compile_inputs",
    "desired_stock",
    "due_share",
    "extra_delay",
    "facilitation_charges",
    "linear_schedule",
    "policy_budget",
    "retune",
    "schedule_shapes",
    "sorted_assignments",
]


def linear_schedule(
    t: np.ndarray | int, first: np.ndarray | int, length: np.ndarray | int
) -> np.ndarray:
    """Cumulative share due by month ``t`` of a schedule spread evenly over ``length`` months.

    ``share(t) = clip((t - first + 1) / length, 0, 1)``.
    """
    share: np.ndarray = np.clip((t - first + 1) / length, 0.0, 1.0)
    return share


def due_share(
    t: np.ndarray | int,
    first: np.ndarray | int,
    length: np.ndarray | int,
    shape: np.ndarray | None = None,
    shapes: np.ndarray | None = None,
) -> np.ndarray:
    """Cumulative share of a contract due by month ``t``: even, or along its schedule.

    ``share(t) = clip((t - first + 1) / length, 0, 1)`` (:func:`linear_schedule`)
    for a contract without a schedule (``shape = -1``); for one with a schedule
    ``q_0 .. q_{n-1}`` (row ``shape`` of ``shapes``, the cumulative shares
    ``sum(q_0..q_k) / Q`` padded with 1), ``share(t) = shapes[shape, t - first]``,
    0 before ``first`` and 1 after its last month. Arrays broadcast.
    """
    share = linear_schedule(t, first, length)
    if shape is None or shapes is None or shapes.shape[0] == 0:
        return share
    k = np.clip(np.asarray(t) - np.asarray(first), -1, shapes.shape[1] - 1)
    row = np.broadcast_to(shape, share.shape)
    custom = np.where(k < 0, 0.0, shapes[np.maximum(row, 0), np.maximum(k, 0)])
    out: np.ndarray = np.where(row >= 0, custom, share)
    return out


def schedule_shapes(schedules: list[tuple[float, ...] | None]) -> tuple[np.ndarray, np.ndarray]:
    """Contracts' schedules as ``(shape, shapes)`` for :func:`due_share`.

    ``shape[c]`` is -1 for an even spread, else the row of ``shapes`` holding
    the schedule's cumulative shares (``sum(q_0..q_k) / sum(q)``, padded with 1).
    """
    shape = np.full(len(schedules), -1, dtype=np.intp)
    rows = [(c, q) for c, q in enumerate(schedules) if q is not None]
    width = max((len(q) for _, q in rows), default=0)
    shapes = np.ones((len(rows), width))
    for r, (c, q) in enumerate(rows):
        shape[c] = r
        total = float(sum(q))
        cum = np.cumsum(q) / total if total > 0 else np.arange(1, len(q) + 1) / len(q)
        shapes[r, : len(q)] = cum
    return shape, shapes


def _signed(decided: int, own_delay: int | None, policy: Policy) -> int:
    """Month a written contract is signed: decision + its delay (or the policy's).

    ``policy.extra_contracting_delay_months`` slows contracting from the start
    of the run on; a contract already signed before the start (a backlog
    order) keeps its signature date (:func:`extra_delay`).
    """
    sign = decided + (own_delay if own_delay is not None else policy.contracting_delay_months)
    return int(extra_delay(sign, policy.extra_contracting_delay_months, False))


def extra_delay(sign: Any, extra: Any, always: Any) -> Any:
    """``sign + extra`` where ``sign >= 0`` or ``always`` (aid pledged from production and
    procurement policies' decisions, :func:`always_delayed`), else ``sign``; ints or arrays
    (elementwise, broadcast: one row per sample in :mod:`materiel.engine.batch`)."""
    return sign + extra * ((sign >= 0) | always)


def always_delayed(inp: Inputs) -> np.ndarray:
    """Contract rows that take the extra contracting delay whatever their signature month:
    procurement policies' decisions and aid pledged from production (:func:`extra_delay`)."""
    aid = np.array([o.startswith("aid:") for o in inp.contract_origin], dtype=bool)
    always: np.ndarray = (inp.contract_policy >= 0) | aid
    return always


def announced_arrive(s: Scenario) -> bool:
    """Whether industry's announced investments keep arriving after the start.

    They are industry's own response to orders: they arrive while industry
    invests (``policy.industry_invests``), or always with
    ``policy.announced_investments = "always"`` (a record of what was built).
    When they do not, what arrived before the start stays in the starting
    capacity and nothing more comes. State-funded facilitation always arrives.
    """
    return s.policy.industry_invests or s.policy.announced_investments == "always"


def capacity_arrival(
    added: np.ndarray | float,
    decided: np.ndarray | int,
    lead: np.ndarray | int,
    ramp: np.ndarray | int,
    n_months: int,
) -> tuple[np.ndarray, np.ndarray]:
    """When new capacity arrives: the one ramp rule of engine, batch runs and planner.

    Capacity ``added`` decided in month ``d`` arrives from month ``d + lead``
    in ``ramp`` equal monthly steps: by month ``t`` it has brought
    ``added * clip((t - d - lead + 1) / ramp, 0, 1)``. Returns what has
    arrived by ``t = -1`` (before the start) and what arrives in each month
    ``t = 0 .. n_months-1`` (trailing axis ``month``); arguments broadcast.
    The kernel's own investments follow the same rule (``increment`` in
    :func:`materiel.engine.kernel.step`).
    """
    t = np.arange(-1, n_months)
    start = np.asarray(decided) + np.asarray(lead)
    arrived = np.asarray(added)[..., None] * linear_schedule(
        t, start[..., None], np.asarray(ramp)[..., None]
    )
    return arrived[..., 0], np.diff(arrived, axis=-1)


class _ContractRow(NamedTuple):
    id: str
    buyers: dict[str, float]
    product: str
    line: str | None
    pool: str | None
    quantity: float
    price_usd: float
    sign: int
    lag: int
    due_months: int
    firm: bool
    priority: int
    recipient: str | None
    decided: int
    own_delay: int  # -1: the policy's delay
    origin: str
    multi_year: bool = False
    policy: int = -1  # index of the procurement policy that decides it, -1: written
    price_from: str = ""  # the scenario field its price comes from (scenario/prices.py)
    schedule: tuple[float, ...] | None = None  # quantity due each month, None: even spread


@dataclass(frozen=True)
class Inputs:
    """Numeric form of a scenario. Shapes use L lines, C contracts, A contract-line
    assignments, P parties, K products, Q pools, G aid pledges, T months."""

    start: str
    n_months: int
    parties: list[str]
    party_kind: list[str]
    products: list[str]
    product_kind: list[str]
    lines: list[str]
    contracts: list[str]
    pools: list[str]
    pledges: list[str]
    # lines (L,)
    line_product: np.ndarray
    line_pool: np.ndarray
    line_owner: np.ndarray  # (L,) owner index; lines with the same pool and owner share it
    line_depth: np.ndarray
    capacity_start: np.ndarray
    committed_start: np.ndarray
    capacity_max: np.ndarray
    lead_months: np.ndarray
    ramp_months: np.ndarray
    capex_usd_per_unit: np.ndarray
    horizon_months: np.ndarray
    invests: np.ndarray
    module_capacity: np.ndarray  # (L,) plant module size, 0: any size
    greenfield: np.ndarray  # (L,) a new plant decided as one whole (Line.greenfield)
    idle_utilisation: np.ndarray  # (L,) policy.idle_utilisation for every line
    idle_months: np.ndarray
    warm_capacity: np.ndarray  # (L,) the line's warm rate, -1: warm_share of capacity
    warm_share: np.ndarray
    reactivation_months: np.ndarray
    capacity_increment: np.ndarray  # (L, T): announced investments arriving
    committed_increment: np.ndarray  # (L, T): announced investments decided
    capex_announced_usd: np.ndarray  # (L, T): announced investments and facilitation
    capex_facilitation_usd: np.ndarray  # (L, T): the state-funded part of it
    # products
    bom: np.ndarray  # (K, K): units of column product per unit of row product
    # contracts (C,)
    contract_product: np.ndarray
    contract_quantity: np.ndarray
    contract_price_usd: np.ndarray
    contract_price_from: list[str]  # the scenario field each price comes from ("": none)
    contract_priority: np.ndarray  # lower first, among contracts signed in the same month
    contract_sign: np.ndarray
    contract_due_first: np.ndarray
    contract_due_months: np.ndarray
    contract_shape: np.ndarray  # (C,) row of contract_shapes, -1: an even schedule
    contract_shapes: np.ndarray  # (R, n): cumulative shares of written schedules (due_share)
    contract_firm: np.ndarray
    contract_delivered_start: np.ndarray
    # assignments (A,), sorted by line, then priority, then signature month
    assign_contract: np.ndarray
    assign_line: np.ndarray
    assign_any_line: np.ndarray  # True where the contract lets any eligible line serve it
    # who receives (R,) and who pays (B,) each contract's deliveries
    receive_contract: np.ndarray
    receive_cell: np.ndarray  # party * K + product
    receive_share: np.ndarray
    pay_contract: np.ndarray
    pay_party: np.ndarray
    pay_share: np.ndarray
    # stocks (P, K)
    stock_start: np.ndarray
    stock_floor: np.ndarray
    consumption_floor: np.ndarray  # the floor the holder's own consumption keeps (0: none)
    inventory_start: np.ndarray  # (Q, K)
    inventory_cover: np.ndarray  # (Q, K) order-up-to buffer, months of full-rate need
    consumption_per_month: np.ndarray  # (T, P, K)
    use_party: np.ndarray  # (E,) consumption entries, for the kernel
    use_product: np.ndarray
    use_first: np.ndarray
    use_last: np.ndarray
    use_rate: np.ndarray  # units a month, consumption_scale applied
    contract_decided: np.ndarray  # (C,) month of decision (after any budget deferral)
    contract_own_delay: np.ndarray  # (C,) the contract's own delay, -1 where the policy's
    contract_due_lag: np.ndarray  # (C,)
    contract_origin: list[str]  # (C,) scenario contract id (or "aid:<pledge>") of each row
    contract_multi_year: np.ndarray  # (C,) bool
    contract_buyers: list[dict[str, float]]  # (C,) party -> share
    contract_policy: np.ndarray  # (C,) index of the deciding procurement policy, -1: written
    # procurement policies (V,) and their reviews (W,), sorted by month
    policies: list[str]
    pol_product: np.ndarray
    pol_review_months: np.ndarray  # R
    pol_adjust_months: np.ndarray  # A
    pol_delay: np.ndarray  # months from decision to signature, extra delay included
    pol_planned_delay: np.ndarray  # the delay the buyer plans its supply line for (no extra)
    pol_own_delay: np.ndarray  # the policy's own delay, -1 where the scenario's
    pol_multi_share: np.ndarray
    pol_delivery_lag: np.ndarray  # mean months from signature to delivery, share-weighted
    pol_member: np.ndarray  # (V, P) bool: parties whose stocks, supply line and use count
    pol_desired: np.ndarray  # (V, T) desired stock D
    pol_by_gap: np.ndarray  # (V,) bool: decisions split between buyers by their gaps
    pol_share: np.ndarray  # (V, P) buyers' written shares (0: not a buyer)
    rev_policy: np.ndarray
    rev_month: np.ndarray
    rev_slot: np.ndarray  # (W, 2) contract row of the multi-year and annual parts, -1: none
    # policy.budget = "defer": what each party's munitions budget leaves for policy decisions
    budget_left_usd: np.ndarray  # (P, Y): budget - written contracts' payments; (P, 0): uncapped
    budget_year_start: np.ndarray  # (Y,): first month of each budget year, from the start
    # aid from stock (G,)
    pledge_donor: np.ndarray
    pledge_recipient: np.ndarray
    pledge_product: np.ndarray
    pledge_quantity: np.ndarray
    pledge_first: np.ndarray
    pledge_months: np.ndarray
    pledge_given_start: np.ndarray  # what fell due before the start, taken as given
    budget: BudgetPlan | None  # signatures after the budget check, when budgets apply
    # weapon-system fleets (F,) and qualified rounds (engine/interop.py); none: one pool a cell
    fleets: list[str] = field(default_factory=list)
    fleet_system: list[str] = field(default_factory=list)
    fleet_party: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    fleet_product: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    fleet_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    qualified_from: np.ndarray = field(  # (L, F): first month line l's rounds fit fleet f
        default_factory=lambda: np.zeros((0, 0), dtype=np.int64)
    )
    # (T, P): what each party pays for round-gun qualifications decided that month, US$
    qualification_cost_usd: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def shape(self) -> dict[str, int]:
        """Entity counts by dimension name."""
        return {
            "month": self.n_months,
            "party": len(self.parties),
            "product": len(self.products),
            "line": len(self.lines),
            "contract": len(self.contracts),
            "pool": len(self.pools),
            "pledge": len(self.pledges),
            "policy": len(self.policies),
            "review": len(self.rev_policy),
            "part": 2,
            "budget_year": len(self.budget_year_start),
            "fleet": len(self.fleets),
        }


def _owner_index(line_objs: list[Line]) -> np.ndarray:
    """Each line's owner as an index: lines with the same ``pool`` and ``owner`` share one.

    The greenfield rule (:mod:`materiel.engine.core`, step 2) decides a new
    plant on its owner's unfilled book, summed over the lines of this index.
    """
    seen: dict[tuple[str, str], int] = {}
    return np.array(
        [seen.setdefault((x.pool, x.owner), len(seen)) for x in line_objs], dtype=np.intp
    )


def _bom_depth(s: Scenario, products: list[str]) -> dict[str, int]:
    """Longest path from a product to a top-level product: users come before inputs."""
    users: dict[str, list[str]] = {p: [] for p in products}
    for pid, product in s.products.items():
        for comp in product.bom:
            users[comp].append(pid)
    depth: dict[str, int] = {}

    def of(pid: str) -> int:
        if pid not in depth:
            depth[pid] = 1 + max((of(u) for u in users[pid]), default=-1)
        return depth[pid]

    for pid in products:
        of(pid)
    return depth


def desired_stock(s: Scenario, pid: str) -> np.ndarray:
    """Desired stock ``D(t)`` of procurement policy ``pid`` for each month ``t`` of the horizon.

    The counted targets are the policy's ``targets``, or else every target on
    its product whose parties all belong to its group. ``D(t)`` is the
    highest counted target with ``by >= t``; once every counted date has
    passed, the highest counted target.
    """
    pol = s.procurement[pid]
    group = set(pol.group)
    if pol.targets is not None:
        counted = [s.targets[tid] for tid in pol.targets]
    else:
        counted = [
            x for x in s.targets.values() if x.product == pol.product and set(x.parties) <= group
        ]
    if not counted:
        return np.zeros(s.months)
    by = np.array([month_index(x.by, s.start) for x in counted])
    need = np.array([x.required_quantity for x in counted], dtype=float)
    live = by[None, :] >= np.arange(s.months)[:, None]  # (T, targets)
    out: np.ndarray = np.where(live, need, -np.inf).max(axis=1)
    out[~live.any(axis=1)] = need.max()
    return out


def _review_months(s: Scenario, pid: str) -> list[int]:
    """Months (from the start) of the policy's reviews within the horizon."""
    pol = s.procurement[pid]
    first = max(month_index(pol.start, s.start), 0) if pol.start else 0
    last = min(month_index(pol.end, s.start), s.months - 1) if pol.end else s.months - 1
    months = np.arange(first, last + 1)
    if pol.review != "monthly":
        months = months[(parse_month(s.start) + months) % 12 == pol.review_month - 1]
    out: list[int] = months.tolist()
    return out


def _delivery_lag(pol: Procurement) -> float:
    """Mean months from signature to delivery of one decision: ``m (12 F - 1)/2 + (1 - m) 11/2``.

    A decision delivered evenly over ``n`` months from its signature waits
    ``(n - 1) / 2`` months on average (counted at the start of each month).
    """
    m = pol.multi_year_share
    return m * (12 * pol.framework_years - 1) / 2 + (1 - m) * 11 / 2


def _policy_slots(s: Scenario, rows: list[_ContractRow]) -> dict[str, Any]:
    """Append each policy review's contract slots to ``rows``; return the policy arrays."""
    P, T = len(s.parties), s.months
    pi = {p: i for i, p in enumerate(s.parties)}
    ids = list(s.procurement)
    V = len(ids)
    member = np.zeros((V, P), dtype=bool)
    shares = np.zeros((V, P))
    desired = np.zeros((V, T))
    delay = np.zeros(V, dtype=np.intp)
    own = np.full(V, -1, dtype=np.intp)
    reviews: list[tuple[int, int]] = []
    for v, pid in enumerate(ids):
        pol = s.procurement[pid]
        member[v, [pi[p] for p in pol.group]] = True
        for p, w in pol.buyers.items():
            shares[v, pi[p]] = w
        desired[v] = desired_stock(s, pid)
        if pol.contracting_delay_months is not None:
            own[v] = pol.contracting_delay_months
        delay[v] = (
            pol.contracting_delay_months
            if pol.contracting_delay_months is not None
            else s.policy.contracting_delay_months
        ) + s.policy.extra_contracting_delay_months
        reviews += [(m, v) for m in _review_months(s, pid)]
    reviews.sort()
    slot = np.full((len(reviews), 2), -1, dtype=np.intp)
    start_abs = parse_month(s.start)
    prices: dict[tuple[int, int], tuple[float, str]] = {}  # (policy, year): looked up once
    for w, (m, v) in enumerate(reviews):
        pid = ids[v]
        pol = s.procurement[pid]
        # each decision pays the price of its year (scenario.prices), unless the policy sets one
        year = year_of(start_abs + m)
        if (v, year) not in prices:
            prices[v, year] = priced_by(
                s, pol.product, year, pol.unit_price_usd, f"procurement.{pid}.unit_price_usd"
            )
        price, price_from = prices[v, year]
        label = f"policy:{pid}:{month_label(start_abs + m)}"
        parts = [
            (0, True, 12 * pol.framework_years, pol.multi_year_share > 0.0),
            (1, False, 12, pol.multi_year_share < 1.0),
        ]
        both = all(wanted for *_, wanted in parts)
        for j, multi, months, wanted in parts:
            if not wanted:
                continue
            slot[w, j] = len(rows)
            suffix = (":multi-year" if multi else ":annual") if both else ""
            rows.append(
                _ContractRow(
                    label + suffix,
                    pol.buyers,
                    pol.product,
                    None,
                    pol.pool,
                    0.0,
                    price,
                    m + int(delay[v]),
                    0,
                    months,
                    multi,
                    pol.priority,
                    pol.recipient,
                    m,
                    int(own[v]),
                    f"policy:{pid}",
                    multi,
                    v,
                    price_from,
                )
            )
    return {
        "policies": ids,
        "pol_product": np.array(
            [list(s.products).index(s.procurement[p].product) for p in ids], dtype=np.intp
        ),
        "pol_review_months": np.array([s.procurement[p].review_months for p in ids], dtype=np.intp),
        "pol_adjust_months": np.array([s.procurement[p].adjustment_months for p in ids]),
        "pol_delay": delay,
        "pol_planned_delay": delay - s.policy.extra_contracting_delay_months,
        "pol_own_delay": own,
        "pol_multi_share": np.array([s.procurement[p].multi_year_share for p in ids]),
        "pol_delivery_lag": np.array([_delivery_lag(s.procurement[p]) for p in ids]),
        "pol_member": member,
        "pol_desired": desired,
        "pol_by_gap": np.array([s.procurement[p].shares == "by-gap" for p in ids], dtype=bool),
        "pol_share": shares,
        "rev_policy": np.array([v for _, v in reviews], dtype=np.intp),
        "rev_month": np.array([m for m, _ in reviews], dtype=np.intp),
        "rev_slot": slot,
    }


def policy_budget(s: Scenario, plan: BudgetPlan | None) -> tuple[np.ndarray, np.ndarray]:
    """``budget_left_usd`` (P, Y) and ``budget_year_start`` (Y,) for policy decisions.

    With ``policy.budget = "defer"`` and procurement policies, each party's
    munitions budget less its written contracts' payments in every budget
    year (unlimited for parties without a budget); otherwise no budget years
    (policy decisions are not capped).
    """
    P = len(s.parties)
    if plan is None or not s.procurement or s.policy.budget != "defer":
        return np.zeros((P, 0)), np.zeros(0, dtype=np.intp)
    left = np.full((P, len(plan.years)), np.inf)
    rows = [list(s.parties).index(p) for p in plan.parties]
    left[rows] = plan.budget_usd - plan.committed_usd
    year_start = np.asarray(plan.years, dtype=np.intp) * 12 - parse_month(s.start)
    return left, year_start


def facilitation_charges(s: Scenario) -> list[tuple[str, int, float]]:
    """What each state-funded facilitation charges its funder: (party, month index, US$).

    ``cost_usd`` (or the line's capex per unit of monthly capacity times the
    capacity) falls in the decision month, as announced capex does.
    """
    out = []
    for f in s.facilitation.values():
        if f.funder is not None:
            cost = f.cost_usd
            if cost is None:
                cost = f.capacity_added_per_month * s.lines[f.line].capex_usd_per_unit_month
            out.append((f.funder, month_index(f.decision, s.start), cost))
    return out


def budget_charges(s: Scenario) -> list[tuple[str, int, float]]:
    """Fixed payments charged to munitions budgets before any contract, never deferred.

    State-funded facilitation (:func:`facilitation_charges`) and round-gun
    qualifications (:func:`materiel.engine.interop.qualification_charges`), each in
    its decision month.
    """
    return facilitation_charges(s) + qualification_charges(s)


def _delivered_start(
    sign: np.ndarray,
    quantity: np.ndarray,
    due_first: np.ndarray,
    due_months: np.ndarray,
    shape: np.ndarray,
    shapes: np.ndarray,
) -> np.ndarray:
    """What contracts signed before the start had delivered by then (:func:`due_share` at
    ``t = -1``); 0 for the others."""
    out: np.ndarray = np.where(
        sign < 0, quantity * due_share(np.array(-1), due_first, due_months, shape, shapes), 0.0
    )
    return out


def sorted_assignments(
    contract: np.ndarray,
    line: np.ndarray,
    any_line: np.ndarray,
    sign: np.ndarray,
    priority: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contract-line assignments sorted by line, then priority, then signature month, then
    contract (a total order: one assignment per contract and line)."""
    order = np.lexsort((contract, sign[contract], priority[contract], line))
    return contract[order], line[order], any_line[order]


def _use_rates(s: Scenario) -> np.ndarray:
    """Each consumption entry's units a month, ``policy.consumption_scale`` applied."""
    scale = s.policy.consumption_scale
    return np.array([u.monthly_rate * scale for u in s.consumption.values()], dtype=float)


def _consumption(
    T: int,
    P: int,
    K: int,
    party: np.ndarray,
    product: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    rate: np.ndarray,
) -> np.ndarray:
    """(T, P, K) units used each month: every entry's rate over its months ``first..last``
    (clipped to ``0..T-1``), added in the entries' order."""
    out = np.zeros((T, P, K))
    entries = zip(
        party.tolist(), product.tolist(), first.tolist(), last.tolist(), rate.tolist(), strict=True
    )
    for p, k, lo, hi, x in entries:
        lo, hi = max(lo, 0), min(hi, T - 1) + 1
        if lo < hi:  # a contiguous run of months: a slice, not a mask over all of them
            out[lo:hi, p, k] += x
    return out


_ALWAYS_DELAYED: ByIdentity[np.ndarray] = ByIdentity(32)


def _always_delayed(inp: Inputs) -> np.ndarray:
    """:func:`always_delayed`, kept (read-only) for the very ``contract_origin`` and
    ``contract_policy`` objects it reads: a template's, shared by every retuned run of it
    (:func:`retune`), so the ~200 origins are not scanned again per request."""

    def build() -> np.ndarray:
        always = always_delayed(inp)
        always.flags.writeable = False
        return always

    return _ALWAYS_DELAYED.get((inp.contract_origin, inp.contract_policy), build)


def retune(inp: Inputs, s: Scenario, contract_quantity: np.ndarray) -> Inputs:
    """:func:`compile_inputs` of ``s`` at array cost, from ``inp``, the Inputs of a scenario
    that differs from ``s`` at most in ``policy.extra_contracting_delay_months``,
    ``policy.consumption_scale``, written contracts' quantities (``contract_quantity``,
    one per row of ``inp``) and spending paths, with munitions budgets off in both.

    What those change, recomputed by the rules :func:`compile_inputs` uses: signature
    months (``sign = decided + delay``, plus the extra delay where ``sign >= 0``, and
    always for aid from production and policies' decisions; :func:`extra_delay`), due
    months, what was delivered before the start, the order of assignments, policies'
    delays, consumption rates and the monthly consumption. The caller vouches for the
    rest (``tests/test_web_inputs.py`` checks it against :func:`compile_inputs`).
    """
    policy = s.policy
    if inp.budget is not None or policy.budget != "none":
        raise bad_argument("retune", "s.policy.budget", policy.budget, '"none" in both')
    extra = policy.extra_contracting_delay_months
    own = inp.contract_own_delay
    base = inp.contract_decided + np.where(own >= 0, own, policy.contracting_delay_months)
    sign = extra_delay(base, extra, _always_delayed(inp))
    due_first = sign + inp.contract_due_lag
    quantity = np.asarray(contract_quantity, dtype=float)
    assign = sorted_assignments(
        inp.assign_contract, inp.assign_line, inp.assign_any_line, sign, inp.contract_priority
    )
    planned = np.where(inp.pol_own_delay >= 0, inp.pol_own_delay, policy.contracting_delay_months)
    use_rate = _use_rates(s)
    P, K = len(inp.parties), len(inp.products)
    return replace(
        inp,
        contract_quantity=quantity,
        contract_sign=sign,
        contract_due_first=due_first,
        contract_delivered_start=_delivered_start(
            sign,
            quantity,
            due_first,
            inp.contract_due_months,
            inp.contract_shape,
            inp.contract_shapes,
        ),
        assign_contract=assign[0],
        assign_line=assign[1],
        assign_any_line=assign[2],
        pol_delay=planned + extra,
        pol_planned_delay=planned,
        use_rate=use_rate,
        consumption_per_month=_consumption(
            inp.n_months,
            P,
            K,
            inp.use_party,
            inp.use_product,
            inp.use_first,
            inp.use_last,
            use_rate,
        ),
    )


def compile_inputs(s: Scenario) -> Inputs:
    """Turn a validated scenario into engine arrays (see module docstring)."""
    T = s.months
    parties = list(s.parties)
    products = list(s.products)
    lines = list(s.lines)
    P, K, L = len(parties), len(products), len(lines)
    pi = {p: i for i, p in enumerate(parties)}
    ki = {k: i for i, k in enumerate(products)}
    li = {line: i for i, line in enumerate(lines)}
    pools = sorted({line.pool for line in s.lines.values()} | set(s.inventories))
    qi = {q: i for i, q in enumerate(pools)}

    # --- products and bills of materials ---
    bom = np.zeros((K, K))
    for pid, product in s.products.items():
        for comp, qty in product.bom.items():
            bom[ki[pid], ki[comp]] = qty
    depth = _bom_depth(s, products)

    # --- lines, announced investments and state-funded facilitation ---
    line_objs = list(s.lines.values())
    line_product = np.array([ki[x.product] for x in line_objs], dtype=np.intp)
    line_depth = np.array([depth[x.product] for x in line_objs], dtype=np.intp)
    lead = np.array([x.expansion_lead_time_months for x in line_objs], dtype=np.intp)
    ramp = np.array([x.ramp_up_months for x in line_objs], dtype=np.intp)
    capex = np.array([x.capex_usd_per_unit_month for x in line_objs], dtype=float)
    capacity_start = np.array([x.capacity_per_month for x in line_objs], dtype=float)
    committed_start = capacity_start.copy()
    increment = np.zeros((L, T))
    committed_increment = np.zeros((L, T))
    capex_announced = np.zeros((L, T))
    capex_facilitation = np.zeros((L, T))
    arrive = announced_arrive(s)
    announced: list[tuple[Investment | Facilitation, float | None, bool]] = [
        (inv, inv.capex_usd, False) for inv in s.investments.values()
    ] + [(f, f.cost_usd, True) for f in s.facilitation.values()]
    # all of them at once; np.add.at adds in the scenario's order, as one loop would
    ann_line = np.array([li[inv.line] for inv, _, _ in announced], dtype=np.intp)
    ann_decided = np.array(
        [month_index(inv.decision, s.start) for inv, _, _ in announced], dtype=np.intp
    )
    ann_lead = np.array(
        [
            lead[li[inv.line]] if inv.lead_time_months is None else inv.lead_time_months
            for inv, _, _ in announced
        ],
        dtype=np.intp,
    )
    ann_ramp = np.array(
        [
            ramp[li[inv.line]] if inv.ramp_up_months is None else inv.ramp_up_months
            for inv, _, _ in announced
        ],
        dtype=np.intp,
    )
    ann_added = np.array([inv.capacity_added_per_month for inv, _, _ in announced], dtype=float)
    ann_state = np.array([state for *_, state in announced], dtype=bool)
    ann_cost = np.array([np.nan if cost is None else cost for _, cost, _ in announced], dtype=float)
    ann_cost = np.where(np.isnan(ann_cost), ann_added * capex[ann_line], ann_cost)
    before, arriving = capacity_arrival(ann_added, ann_decided, ann_lead, ann_ramp, T)
    np.add.at(capacity_start, ann_line, before)
    flows = ann_state | arrive  # industry's own, stopped at the start: what arrived remains
    early = ~flows | (ann_decided < 0)
    np.add.at(committed_start, ann_line[early], np.where(flows, ann_added, before)[early])
    np.add.at(increment, ann_line[flows], arriving[flows])
    later = flows & (ann_decided >= 0)
    at = (ann_line[later], ann_decided[later])
    np.add.at(committed_increment, at, ann_added[later])
    np.add.at(capex_announced, at, ann_cost[later])
    np.add.at(
        capex_facilitation,
        (ann_line[later & ann_state], ann_decided[later & ann_state]),
        ann_cost[later & ann_state],
    )

    # --- contracts, including aid pledged from production ---
    policy = s.policy
    rows: list[_ContractRow] = []

    def year_at(index: int) -> int:  # calendar year of a month index of the horizon
        return year_of(parse_month(s.start) + index)

    for cid, c in s.contracts.items():
        delay = c.contracting_delay_months
        for k in range(c.repeats):
            decided = month_index(c.decision, s.start) + k * c.repeat_every_months
            if decided >= T:
                break
            usd, usd_from = priced_by(
                s, c.product, year_at(decided), c.unit_price_usd, f"contracts.{cid}.unit_price_usd"
            )
            rows.append(
                _ContractRow(
                    cid if k == 0 else f"{cid}#{k + 1}",
                    c.buyers,
                    c.product,
                    c.line,
                    c.pool,
                    c.quantity,
                    usd,
                    _signed(decided, delay, policy),
                    c.delivery_lag_months,
                    c.delivery_months,
                    c.firm,
                    c.priority,
                    c.recipient,
                    decided,
                    -1 if delay is None else delay,
                    cid,
                    c.multi_year,
                    price_from=usd_from,
                    schedule=None if c.schedule is None else tuple(c.schedule),
                )
            )
    stock_pledges = []
    for gid, a in s.aid.items():
        if a.supply == "stock":
            stock_pledges.append((gid, a))
            continue
        delay = a.contracting_delay_months
        usd, usd_from = priced_by(s, a.product, year_of(a.start))
        rows.append(
            _ContractRow(
                f"aid:{gid}",
                {a.donor: 1.0},
                a.product,
                None,
                None,
                a.quantity,
                usd,
                extra_delay(  # aid from production: the extra delay always applies
                    month_index(a.start, s.start)
                    + (delay if delay is not None else policy.contracting_delay_months),
                    policy.extra_contracting_delay_months,
                    True,
                ),
                0,
                month_index(a.end, a.start) + 1,
                True,
                a.priority,
                a.recipient,
                month_index(a.start, s.start),
                -1 if delay is None else delay,
                f"aid:{gid}",
                price_from=usd_from,
            )
        )
    budget_plan = None
    if policy.budget != "none":  # written contracts; policies are capped in the kernel
        budget_plan = fit_to_budgets(s, rows, budget_charges(s))
        rows = [
            r._replace(sign=int(m), decided=r.decided + int(m) - r.sign)
            for r, m in zip(rows, budget_plan.sign, strict=True)
        ]
    n_written = len(rows)
    pol = _policy_slots(s, rows)
    if budget_plan is not None and len(rows) > n_written:
        slots = np.array([r.sign for r in rows[n_written:]], dtype=np.intp)
        budget_plan = replace(
            budget_plan,
            sign=np.r_[budget_plan.sign, slots],
            deferred_months=np.r_[budget_plan.deferred_months, np.zeros_like(slots)],
        )
    budget_left, budget_year_start = policy_budget(s, budget_plan)
    contract_product = np.array([ki[r.product] for r in rows], dtype=np.intp)
    quantity = np.array([r.quantity for r in rows], dtype=float)
    price = np.array([r.price_usd for r in rows], dtype=float)
    price_from = [r.price_from for r in rows]
    sign = np.array([r.sign for r in rows], dtype=np.intp)
    due_first = sign + np.array([r.lag for r in rows], dtype=np.intp)
    due_months = np.array([r.due_months for r in rows], dtype=np.intp)
    firm = np.array([r.firm for r in rows], dtype=bool)
    priority = np.array([r.priority for r in rows], dtype=np.intp)
    shape, shapes = schedule_shapes([r.schedule for r in rows])
    delivered_start = _delivered_start(sign, quantity, due_first, due_months, shape, shapes)
    # assignments: one per (contract, eligible line)
    a_contract, a_line, a_any = [], [], []
    eligible: dict[tuple[str, str | None], list[int]] = {}
    for n, r in enumerate(rows):
        if r.line is not None:
            a_contract.append(n)
            a_line.append(li[r.line])
            a_any.append(False)
        else:
            key = (r.product, r.pool)
            if key not in eligible:
                eligible[key] = [
                    i
                    for i, x in enumerate(line_objs)
                    if x.product == r.product and r.pool in (None, x.pool)
                ]
            for i in eligible[key]:
                a_contract.append(n)
                a_line.append(i)
                a_any.append(True)
    a_contract_arr = np.array(a_contract, dtype=np.intp)
    a_line_arr = np.array(a_line, dtype=np.intp)
    a_contract_arr, a_line_arr, a_any_arr = sorted_assignments(
        a_contract_arr, a_line_arr, np.array(a_any, dtype=bool), sign, priority
    )

    # who receives and who pays
    rc: list[int] = []
    rcell: list[int] = []
    bc: list[int] = []
    bparty: list[int] = []
    rshare: list[float] = []
    bshare: list[float] = []
    for n, (r, k) in enumerate(zip(rows, contract_product.tolist(), strict=True)):
        for party, share in r.buyers.items():
            bc.append(n)
            bparty.append(pi[party])
            bshare.append(share)
        receivers = {r.recipient: 1.0} if r.recipient else r.buyers
        for party, share in receivers.items():
            rc.append(n)
            rcell.append(pi[party] * K + k)
            rshare.append(share)

    # --- stocks, inventories, consumption ---
    stock_start = np.zeros((P, K))
    stock_floor = np.zeros((P, K))
    for party, per in s.stocks.items():
        for prod, st in per.items():
            stock_start[pi[party], ki[prod]] = st.quantity
            stock_floor[pi[party], ki[prod]] = st.floor
    inventory_start = np.zeros((len(pools), K))
    inventory_cover = np.zeros((len(pools), K))
    for pool, per_inv in s.inventories.items():
        for prod, inv_rec in per_inv.items():
            inventory_start[qi[pool], ki[prod]] = inv_rec.quantity
            inventory_cover[qi[pool], ki[prod]] = inv_rec.cover_months
    uses = list(s.consumption.values())
    use_first = np.array(
        [month_index(u.start, s.start) if u.start else 0 for u in uses], dtype=np.intp
    )
    use_last = np.array(
        [month_index(u.end, s.start) if u.end else T - 1 for u in uses], dtype=np.intp
    )
    use_rate = _use_rates(s)
    use_party = np.array([pi[u.party] for u in uses], dtype=np.intp)
    use_product = np.array([ki[u.product] for u in uses], dtype=np.intp)
    consumption = _consumption(T, P, K, use_party, use_product, use_first, use_last, use_rate)

    # --- aid from stock: like contracts, what fell due before the start was given ---
    pledge_quantity = np.array([a.quantity for _, a in stock_pledges], dtype=float)
    pledge_first = np.array(
        [month_index(a.start, s.start) for _, a in stock_pledges], dtype=np.intp
    )
    pledge_months = np.array(
        [month_index(a.end, a.start) + 1 for _, a in stock_pledges], dtype=np.intp
    )

    def arr(values: list[int], dtype: type = np.intp) -> np.ndarray:
        return np.array(values, dtype=dtype)

    return Inputs(
        start=s.start,
        n_months=T,
        parties=parties,
        party_kind=[x.kind for x in s.parties.values()],
        products=products,
        product_kind=[x.kind for x in s.products.values()],
        lines=lines,
        contracts=[r.id for r in rows],
        pools=pools,
        pledges=[gid for gid, _ in stock_pledges],
        line_product=line_product,
        line_pool=np.array([qi[x.pool] for x in line_objs], dtype=np.intp),
        line_owner=_owner_index(line_objs),
        line_depth=line_depth,
        capacity_start=capacity_start,
        committed_start=committed_start,
        capacity_max=np.array([x.max_capacity_per_month for x in line_objs], dtype=float),
        lead_months=lead,
        ramp_months=ramp,
        capex_usd_per_unit=capex,
        horizon_months=np.array([x.order_book_horizon_months for x in line_objs], dtype=float),
        invests=np.array([x.invests for x in line_objs], dtype=bool) & s.policy.industry_invests,
        module_capacity=np.array([x.module_capacity_per_month or 0.0 for x in line_objs]),
        greenfield=np.array([x.greenfield for x in line_objs], dtype=bool),
        idle_utilisation=np.full(L, s.policy.idle_utilisation),
        idle_months=np.full(L, s.policy.idle_months, dtype=np.intp),
        warm_capacity=np.array(
            [
                -1.0 if x.warm_capacity_per_month is None else x.warm_capacity_per_month
                for x in line_objs
            ]
        ),
        warm_share=np.full(L, s.policy.warm_share),
        reactivation_months=np.full(L, s.policy.reactivation_months, dtype=np.intp),
        capacity_increment=increment,
        committed_increment=committed_increment,
        capex_announced_usd=capex_announced,
        capex_facilitation_usd=capex_facilitation,
        bom=bom,
        contract_product=contract_product,
        contract_quantity=quantity,
        contract_price_usd=price,
        contract_price_from=price_from,
        contract_priority=priority,
        contract_sign=sign,
        contract_due_first=due_first,
        contract_due_months=due_months,
        contract_shape=shape,
        contract_shapes=shapes,
        contract_firm=firm,
        contract_delivered_start=delivered_start,
        assign_contract=a_contract_arr,
        assign_line=a_line_arr,
        assign_any_line=a_any_arr,
        receive_contract=arr(rc),
        receive_cell=arr(rcell),
        receive_share=np.array(rshare, dtype=float),
        pay_contract=arr(bc),
        pay_party=arr(bparty),
        pay_share=np.array(bshare, dtype=float),
        stock_start=stock_start,
        stock_floor=stock_floor,
        consumption_floor=stock_floor * (s.policy.floor_applies_to == "all"),
        inventory_start=inventory_start,
        inventory_cover=inventory_cover,
        consumption_per_month=consumption,
        pledge_donor=arr([pi[a.donor] for _, a in stock_pledges]),
        pledge_recipient=arr([pi[a.recipient] for _, a in stock_pledges]),
        pledge_product=arr([ki[a.product] for _, a in stock_pledges]),
        pledge_quantity=pledge_quantity,
        pledge_first=pledge_first,
        pledge_months=pledge_months,
        pledge_given_start=pledge_quantity * linear_schedule(-1, pledge_first, pledge_months),
        budget=budget_plan,
        use_party=use_party,
        use_product=use_product,
        use_first=use_first,
        use_last=use_last,
        use_rate=use_rate,
        contract_decided=np.array([r.decided for r in rows], dtype=np.intp),
        contract_own_delay=np.array([r.own_delay for r in rows], dtype=np.intp),
        contract_due_lag=np.array([r.lag for r in rows], dtype=np.intp),
        contract_origin=[r.origin for r in rows],
        contract_multi_year=np.array([r.multi_year for r in rows], dtype=bool),
        contract_buyers=[r.buyers for r in rows],
        contract_policy=np.array([r.policy for r in rows], dtype=np.intp),
        **pol,
        budget_left_usd=budget_left,
        budget_year_start=budget_year_start,
        **compile_fleets(s, lines, parties, products),
    )

"""The engine's variables, each declared once: the kernel's grouped inputs and its outputs.

Every array the compiled kernel (:func:`materiel.engine.kernel.step`) reads
or writes is a field of one of the named tuples below, annotated with a
:class:`Var`: its named dimensions, units, description and, for outputs, the
name it carries in the labelled dataset and exports and whether lean Monte
Carlo runs keep it. Everything else is derived from these declarations:

- the kernel's parameters: one named tuple per group (:data:`GROUPS`), so
  two arrays of the same dtype cannot be swapped silently (the kernel reads
  them by name; a tuple of the wrong group fails to compile);
- the dtype :func:`materiel.engine.core.kernel_args` casts each input to,
  and which inputs carry a leading ``sample`` axis (length 1, or one row
  per sample for Monte Carlo ``overrides``);
- the output arrays :func:`materiel.engine.core.run_engine` allocates, their
  shapes, which are always kept and which are recorded together;
- the dataset's names, dimensions, units and descriptions
  (:func:`materiel.analysis.simulate.build_dataset`), hence the export names.

Dimensions: ``sample``, ``month``, ``line``, ``product``, ``contract``,
``party``, ``pool``, ``pledge``; index lists have their own: ``assignment``
(one per contract and line that may serve it), ``receipt`` and ``payment``
(one per contract and receiving or paying party), ``use`` (one per
consumption entry), ``depth_bound`` (bill-of-materials depth levels + 1);
weapon-system fleets (:mod:`materiel.engine.interop`) add ``fleet``;
procurement policies add ``policy``, ``review`` (one per review month of a
policy), ``part`` (2: a review's multi-year and annual contract slots) and
``budget_year``. Every dimension an input uses is sized by
:attr:`materiel.engine.inputs.Inputs.shape` (or is one of those index lists).
Outputs with dims ``(..., party, product)`` are recorded per stock cell:
the kernel writes them as ``(sample, month, cell)`` for the recorded cells.

Recipe: adding a variable
-------------------------
A numeric line attribute that limits output (say ``workforce_cap``):

1. ``scenario/schema.py``: the field on ``Line`` (with its check);
2. ``engine/inputs.py``: the ``Inputs`` field and its value in
   ``compile_inputs`` (named like the kernel input: it is then passed as is,
   given a ``sample`` axis when its dims start with ``sample``);
3. ``engine/variables.py``: one annotated field in :class:`Lines`;
4. ``engine/kernel.py``: use ``lines.workforce_cap`` in :func:`step` (and
   write its equation in the docstring of :mod:`materiel.engine.core`).

A kernel input computed from several ``Inputs`` fields (like
``due_by_month``) gets one line in ``kernel_args`` (``engine/core.py``); an
uncertain one, its draw in ``engine/batch.py`` and
``scenario/uncertainty.py``.

A rule with inputs of its own (like the procurement policies): a named
tuple of them here, entered in :data:`GROUPS` (it becomes the kernel
parameter of that name, in that order), any new dimension sized in
``Inputs.shape``, and the rule in its own compiled module called from
:func:`~materiel.engine.kernel.step` with the group's fields
(:mod:`materiel.engine.policy`, given :class:`Policies`).

A new output: one annotated field in :class:`Outputs` and the kernel's
``out.<name>[s, t, ...] = ...``; ``run_engine`` allocates it, ``simulate``
labels it with its dims and units, the exports name it by ``dataset``.
An output decided once per run rather than each month (``contract_quantity``,
``contract_decided``, ``contract_signed``, ``contract_buyer_share``) declares
``sample contract`` (and ``party`` for the shares): what each contract
became, written or policy-made. ``simulate`` labels the first three as
contract coordinates; the shares stay a variable and are also written as
the ``contract_buyers`` coordinate (``party:share`` list).
An output recorded only when asked for (``lean=False``) is tested in the
kernel as ``out.<name>.shape[0] > 0`` (empty sample axis: not recorded).
"""

from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple, get_type_hints

import numpy as np

__all__ = [
    "CELL_DIMS",
    "GROUPS",
    "INPUTS",
    "OUTPUTS",
    "Assignments",
    "Consumption",
    "Contracts",
    "Fleets",
    "Lines",
    "Outputs",
    "Pledges",
    "Policies",
    "Stocks",
    "Var",
    "Variable",
    "plural",
    "quantity_units",
]

CELL_DIMS = ("party", "product")
"""Trailing dims of the outputs recorded per stock cell."""


@dataclass(frozen=True)
class Var:
    """What a field declares: see :class:`Variable` for the meaning of each item."""

    dims: str
    units: str
    description: str
    dtype: type = np.float64
    dataset: str = ""
    lean: bool = False
    record_with: str = ""


@dataclass(frozen=True)
class Variable:
    """One engine variable, as the registry gives it.

    ``dims``: named dimensions (inputs whose first is ``sample`` take one row
    per sample, or one row shared by all); ``units``: ``units`` (rounds,
    missiles or components), ``units/month``, ``US$``, ``months`` ...,
    ``index`` for positions in another dimension; ``dataset``: the name in
    the labelled dataset and the exports (outputs; the variable's own name
    unless renamed); ``lean``: always kept, even in lean Monte Carlo runs;
    ``record_with``: the output whose recording switch this one shares.
    """

    name: str
    group: str
    dims: tuple[str, ...]
    units: str
    description: str
    dtype: np.dtype[Any]
    dataset: str
    lean: bool
    record_with: str

    @property
    def per_sample(self) -> bool:
        """Whether the leading axis is ``sample`` (inputs: length 1 or one row per sample)."""
        return self.dims[:1] == ("sample",)


def plural(unit: str) -> str:
    """``round`` -> ``rounds``, ``body`` -> ``bodies``, ``charge set`` -> ``charge sets``;
    ``kg`` stays (a symbol)."""
    if unit in ("kg", "t", "g", "l", "m") or not unit:
        return unit
    if unit.endswith("y") and unit[-2:-1] not in ("a", "e", "i", "o", "u"):
        return unit[:-1] + "ies"
    return unit + "s"


def quantity_units(units: str, unit_names: list[str]) -> str:
    """A registry unit made concrete: ``units/month`` with products counted in ``round`` ->
    ``rounds/month``. With several kinds of unit (a variable over every product) the word
    stays ``units`` and the kinds are named: ``units/month (rounds, missiles)``."""
    if "units" not in units.split("/")[0] or not unit_names:
        return units
    kinds = sorted({plural(u) for u in unit_names})
    if len(kinds) == 1:
        return units.replace("units", kinds[0], 1)
    return f"{units} ({', '.join(kinds)})"


def _index(dims: str, description: str) -> Var:
    return Var(dims, "index", description, np.int64)


def _count(dims: str, units: str, description: str) -> Var:
    return Var(dims, units, description, np.int64)


def _flag(dims: str, description: str) -> Var:
    return Var(dims, "", description, np.bool_)


_A = np.ndarray  # every field is an array; its Var says what it holds


class Lines(NamedTuple):
    """Production lines (and the bill of materials they produce through)."""

    line_product: Annotated[_A, _index("line", "product the line makes")]
    line_pool: Annotated[_A, _index("line", "component pool the line draws from and feeds")]
    line_owner: Annotated[_A, _index("line", "the line's owner within its pool (greenfield rule)")]
    line_depth: Annotated[_A, _index("line", "depth of its product in the bills of materials")]
    lines_by_depth: Annotated[_A, _index("line", "lines sorted by depth (stable)")]
    depth_start: Annotated[
        _A, _index("depth_bound", "first position of each depth in lines_by_depth")
    ]
    capacity_start: Annotated[_A, Var("sample line", "units/month", "capacity at the start")]
    committed_start: Annotated[
        _A, Var("sample line", "units/month", "capacity built or decided at the start")
    ]
    capacity_max: Annotated[
        _A, Var("sample line", "units/month", "ceiling on capacity, announced investments included")
    ]
    lead_months: Annotated[_A, _count("sample line", "months", "expansion lead time")]
    ramp_months: Annotated[
        _A, _count("sample line", "months", "months new capacity takes to arrive in full")
    ]
    capex_usd_per_unit: Annotated[
        _A, Var("line", "US$ per unit/month", "investment cost of capacity")
    ]
    horizon_months: Annotated[
        _A, Var("sample line", "months", "order book the line invests against")
    ]
    invests: Annotated[_A, _flag("line", "whether industry invests on its own order book")]
    idle_utilisation: Annotated[
        _A, Var("line", "share", "utilisation below which a month counts as idle (0: never)")
    ]
    idle_months: Annotated[_A, _count("line", "months", "idle months before mothballing")]
    warm_capacity: Annotated[
        _A, Var("line", "units/month", "warm rate kept when mothballing (-1: warm_share)")
    ]
    warm_share: Annotated[_A, Var("line", "share", "warm rate as a share of capacity")]
    reactivation_months: Annotated[
        _A, _count("line", "months", "decision to reactivate to the capacity's return")
    ]
    module_capacity: Annotated[
        _A, Var("line", "units/month", "size of one plant module (0: any size)")
    ]
    greenfield: Annotated[
        _A, _flag("line", "a new plant, decided whole when its owner's unfilled book covers it")
    ]
    capacity_increment: Annotated[
        _A, Var("sample line month", "units/month", "capacity announced investments add")
    ]
    committed_increment: Annotated[
        _A, Var("sample line month", "units/month", "capacity announced investments commit")
    ]
    capex_announced_usd: Annotated[
        _A, Var("sample line month", "US$", "capex of announced investments")
    ]
    bom: Annotated[
        _A, Var("product product", "units/unit", "units of column product per unit of row product")
    ]


class Contracts(NamedTuple):
    """Contracts, who receives their deliveries and who pays for them."""

    contract_quantity: Annotated[_A, Var("sample contract", "units", "quantity ordered")]
    contract_price_usd: Annotated[_A, Var("sample contract", "US$/unit", "unit price")]
    contract_sign: Annotated[_A, _count("sample contract", "month", "month of signature")]
    contract_firm: Annotated[_A, _flag("contract", "firm orders count in the order book")]
    contract_delivered_start: Annotated[
        _A, Var("sample contract", "units", "delivered before the start")
    ]
    due_by_month: Annotated[_A, Var("sample month contract", "units", "cumulative quantity due")]
    receive_contract: Annotated[_A, _index("receipt", "contract delivered")]
    receive_party: Annotated[_A, _index("receipt", "party receiving")]
    receive_product: Annotated[_A, _index("receipt", "product received")]
    receive_share: Annotated[_A, Var("receipt", "share", "share of the deliveries received")]
    pay_contract: Annotated[_A, _index("payment", "contract paid for")]
    pay_party: Annotated[_A, _index("payment", "party paying")]
    pay_share: Annotated[_A, Var("payment", "share", "share of the payments")]


class Assignments(NamedTuple):
    """Which lines may serve which contracts; sorted by line, then priority, then age."""

    assign_contract: Annotated[_A, _index("assignment", "contract")]
    assign_line: Annotated[_A, _index("assignment", "line that may serve it")]
    assign_any_line: Annotated[
        _A, _flag("assignment", "the contract lets any eligible line serve it")
    ]


class Stocks(NamedTuple):
    """Stocks of the parties and inventories of the component pools."""

    stock_start: Annotated[_A, Var("sample party product", "units", "stock at the start")]
    stock_floor: Annotated[_A, Var("party product", "units", "stock a donor keeps")]
    consumption_floor: Annotated[
        _A,
        Var("party product", "units", "stock the holder's own consumption keeps (0: none)"),
    ]
    inventory_start: Annotated[_A, Var("pool product", "units", "component inventory at the start")]
    inventory_cover: Annotated[
        _A, Var("pool product", "months", "order-up-to buffer in months of full-rate need")
    ]


class Consumption(NamedTuple):
    """Consumption entries: a party uses a product at a rate over a span of months."""

    use_party: Annotated[_A, _index("use", "party consuming")]
    use_product: Annotated[_A, _index("use", "product consumed")]
    use_first: Annotated[_A, _count("use", "month", "first month")]
    use_last: Annotated[_A, _count("use", "month", "last month")]
    use_rate: Annotated[_A, Var("sample use", "units/month", "rate, consumption scale applied")]


class Pledges(NamedTuple):
    """Aid pledged from stock."""

    pledge_donor: Annotated[_A, _index("pledge", "donor")]
    pledge_recipient: Annotated[_A, _index("pledge", "recipient")]
    pledge_product: Annotated[_A, _index("pledge", "product")]
    owed_by_month: Annotated[_A, Var("month pledge", "units", "cumulative quantity owed")]
    pledge_given_start: Annotated[_A, Var("pledge", "units", "given before the start")]


class Policies(NamedTuple):
    """Procurement policies, their reviews and the contract slots they fill (engine/policy.py).

    Each review owns up to two contract slots (``part`` 0: the multi-year
    framework, 1: the annual order) among the contracts, with quantity 0
    until the kernel decides it.
    """

    contract_decided: Annotated[
        _A,
        _count("sample contract", "month", "month of decision (review month for policy slots)"),
    ]
    contract_due_months: Annotated[
        _A, _count("contract", "months", "months over which deliveries fall due")
    ]
    pol_product: Annotated[_A, _index("policy", "product the policy buys")]
    pol_review_months: Annotated[_A, _count("policy", "months", "review period R")]
    pol_adjust_months: Annotated[_A, Var("policy", "months", "adjustment time A")]
    pol_delay: Annotated[
        _A, _count("sample policy", "months", "decision to signature, extra delay included")
    ]
    pol_planned_delay: Annotated[
        _A,
        _count("sample policy", "months", "the delay the buyer plans for (extra delay left out)"),
    ]
    pol_multi_share: Annotated[
        _A, Var("policy", "share", "share of a decision signed as a multi-year framework")
    ]
    pol_delivery_lag: Annotated[
        _A, Var("policy", "months", "mean months from signature to delivery")
    ]
    pol_member: Annotated[
        _A, _flag("policy party", "parties whose stocks, supply line and use count")
    ]
    pol_desired: Annotated[_A, Var("policy month", "units", "desired stock D")]
    pol_by_gap: Annotated[_A, _flag("policy", "decisions split between buyers by their gaps")]
    pol_share: Annotated[_A, Var("policy party", "share", "buyers' written shares (0: none)")]
    rev_policy: Annotated[_A, _index("review", "policy reviewing (reviews sorted by month)")]
    rev_month: Annotated[_A, _count("review", "month", "month of the review")]
    rev_slot: Annotated[
        _A, _index("review part", "contract slot of the multi-year and annual parts, -1: none")
    ]
    budget_left_usd: Annotated[
        _A,
        Var(
            "sample party budget_year",
            "US$",
            "munitions budget less written contracts' payments (no years: decisions uncapped)",
        ),
    ]
    budget_year_start: Annotated[
        _A, _count("budget_year", "month", "first month of each budget year")
    ]


class Fleets(NamedTuple):
    """Weapon-system fleets and which lines' rounds they may fire (engine/interop.py).

    A party-product cell with fleets keeps its stock per fleet (usable) and
    per line of origin (not yet usable by any of its fleets); a cell without
    fleets is one pool, as before.
    """

    fleet_party: Annotated[_A, _index("fleet", "party owning the fleet")]
    fleet_product: Annotated[_A, _index("fleet", "munition the fleet's system fires")]
    fleet_share: Annotated[_A, Var("fleet", "share", "share of the party's use of the product")]
    qualified_from: Annotated[
        _A, _count("line fleet", "month", "first month the line's rounds fit the fleet's system")
    ]


def _out(dims: str, units: str, description: str, **kw: Any) -> Var:
    return Var("sample month " + dims, units, description, **kw)


class Outputs(NamedTuple):
    """What the kernel records, ``(sample, month, ...)`` (per contract: ``(sample, contract)``).

    An empty sample axis: not recorded.
    """

    capacity: Annotated[
        _A, _out("line", "units/month", "capacity", dataset="capacity_per_month", lean=True)
    ]
    production: Annotated[_A, _out("line", "units", "output", lean=True)]
    orders: Annotated[
        _A, _out("line", "units", "open orders the line may fill", dataset="open_orders")
    ]
    order_book: Annotated[_A, _out("line", "units", "firm order book the line invests against")]
    line_deliveries: Annotated[_A, _out("line", "units", "deliveries to contracts")]
    capacity_added: Annotated[
        _A,
        _out(
            "line",
            "units/month",
            "capacity the line decides to add",
            dataset="capacity_added_per_month",
        ),
    ]
    capex_usd: Annotated[_A, _out("line", "US$", "investment spent", lean=True)]
    mothballed: Annotated[
        _A,
        _out(
            "line",
            "units/month",
            "capacity mothballed (idle below the warm rate, or being reactivated)",
            dataset="capacity_mothballed_per_month",
        ),
    ]
    binding: Annotated[
        _A,
        _out(
            "line",
            "",
            "what limits each line's output: capacity, orders or an input",
            dtype=np.int16,
        ),
    ]
    contract_deliveries: Annotated[_A, _out("contract", "units", "deliveries")]
    payments_usd: Annotated[_A, _out("party", "US$", "payments for deliveries", lean=True)]
    receipts: Annotated[_A, _out("party product", "units", "deliveries received")]
    aid_sent: Annotated[_A, _out("party product", "units", "aid given from stock")]
    aid_received: Annotated[
        _A, _out("party product", "units", "aid received from stock", record_with="aid_sent")
    ]
    consumed: Annotated[_A, _out("party product", "units", "consumption met from stock")]
    shortfall: Annotated[
        _A, _out("party product", "units", "consumption the stock could not meet", lean=True)
    ]
    stock: Annotated[_A, _out("party product", "units", "stock at the end of the month", lean=True)]
    usable_stock: Annotated[
        _A,
        _out(
            "party product",
            "units",
            "stock the party's guns can fire (all of it where it has no fleets)",
            lean=True,
        ),
    ]
    unusable_stock: Annotated[
        _A,
        _out(
            "party product",
            "units",
            "stock no fleet of the party is qualified for (stock = usable + unusable)",
            lean=True,
        ),
    ]
    fleet_stock: Annotated[
        _A, _out("fleet", "units", "usable stock of each fleet at the end of the month", lean=True)
    ]
    fleet_shortfall: Annotated[
        _A, _out("fleet", "units", "the fleet's use its usable stock could not meet", lean=True)
    ]
    pledge_deliveries: Annotated[
        _A, _out("pledge", "units", "aid given on each pledge", record_with="aid_sent")
    ]
    inventory: Annotated[
        _A, _out("pool product", "units", "component inventory at the end of the month")
    ]
    component_used: Annotated[_A, _out("pool product", "units", "components used")]
    # what each contract became (policy slots are decided in the run): per sample, not month
    contract_quantity: Annotated[_A, Var("sample contract", "units", "quantity ordered", lean=True)]
    contract_decided: Annotated[
        _A, Var("sample contract", "month", "month of decision", np.int64, lean=True)
    ]
    contract_signed: Annotated[
        _A, Var("sample contract", "month", "month of signature", np.int64, lean=True)
    ]
    contract_buyer_share: Annotated[
        _A, Var("sample contract party", "share", "each buyer's share (by-gap: as decided)")
    ]


GROUPS: dict[str, type[Any]] = {
    "lines": Lines,
    "contracts": Contracts,
    "assignments": Assignments,
    "stocks": Stocks,
    "consumption": Consumption,
    "pledges": Pledges,
    "policies": Policies,
    "fleets": Fleets,
}
"""The kernel's input parameters by name, in order; each a named tuple of arrays."""


def _declared(group: type[Any]) -> dict[str, Variable]:
    out = {}
    for name, hint in get_type_hints(group, include_extras=True).items():
        (var,) = (m for m in hint.__metadata__ if isinstance(m, Var))
        out[name] = Variable(
            name,
            group.__name__,
            tuple(var.dims.split()),
            var.units,
            var.description,
            np.dtype(var.dtype),
            var.dataset or name,
            var.lean,
            var.record_with or name,
        )
    return out


INPUTS: dict[str, Variable] = {k: v for g in GROUPS.values() for k, v in _declared(g).items()}
"""Every kernel input by name, group by group in :data:`GROUPS` order."""
OUTPUTS: dict[str, Variable] = _declared(Outputs)
"""Every kernel output by name, in :class:`Outputs` order."""

"""The domain schema: every entity of the munitions supply system, with units.

Each model lists its attributes with type, unit (in the name), default and a
description, PyPSA-style: the schema *is* the documentation of the data.
Numbers are validated here (finite, non-negative, shares in [0, 1]); links
between entities (a line's product exists, buyer shares sum to 1, ...) are
checked in :mod:`materiel.scenario.checks`.

Entities are kept in tables keyed by id (``[lines.rheinmetall-unterluess]``)
so that a scenario can override any single attribute of any entity by
writing only that attribute.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from materiel.months import MONTH_PATTERN
from materiel.scenario.numbers import NotBool
from materiel.scenario.uncertainty import Distribution

__all__ = [
    "MAX_FIGURE",
    "AidPledge",
    "Consumption",
    "Contract",
    "EconomicYear",
    "Entity",
    "Facilitation",
    "Fleet",
    "Inventory",
    "Investment",
    "Line",
    "Party",
    "Policy",
    "Price",
    "Procurement",
    "Product",
    "Qualification",
    "Scenario",
    "Source",
    "SpendingPath",
    "Stock",
    "Target",
    "WeaponSystem",
    "entity_records",
    "entity_tables",
]

DAYS_PER_MONTH = 365.25 / 12
FIRST_YEAR = 1990
"""Earliest calendar year a scenario may name (the engine's months are exact from here)."""
LAST_YEAR = 2100
"""Latest calendar year a scenario may name; a horizon ends by December of this year."""


def _year_in_range(text: str) -> str:
    year = int(text[:4])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"expected a year from {FIRST_YEAR} to {LAST_YEAR}, got {text!r}")
    return text


MAX_FIGURE = 1e15
"""The largest quantity, rate or US$ amount a scenario may give: above any real figure (world
GDP is about 1e14 US$), and small enough that the engine's products and sums of two such
figures stay finite (a capacity of 1e308 times a capex per unit overflowed to inf)."""
Quantity = Annotated[float, Field(ge=0, le=MAX_FIGURE, allow_inf_nan=False), NotBool]
"""A non-negative, finite number at most :data:`MAX_FIGURE` (units given by the field name)."""
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), NotBool]
Months = Annotated[int, Field(ge=0, le=600), NotBool]
SCHEDULE_TOL = 1e-9  # relative: a contract's schedule must sum to its quantity within this
Month = Annotated[
    str,
    Field(pattern=MONTH_PATTERN, description=f"calendar month, YYYY-MM ({FIRST_YEAR}-{LAST_YEAR})"),
    AfterValidator(_year_in_range),
]
Year = Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR), NotBool]
YearKey = Annotated[
    str, Field(pattern=r"^\d{4}$", description="calendar year"), AfterValidator(_year_in_range)
]
Id = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Source(_Model):
    """Where a figure comes from: a publication, or a labelled assumption.

    Either all of ``publisher``, ``title``, ``date`` and ``url`` are given, or
    ``assumption`` gives a one-line rationale for a figure that has no public
    source (stock levels and stockpile targets are classified).
    """

    publisher: str | None = Field(None, description="who published the figure")
    title: str | None = Field(None, description="title of the publication")
    date: str | None = Field(None, description="publication date, YYYY-MM or YYYY-MM-DD")
    url: str | None = Field(None, description="where to read it")
    via: str | None = Field(None, description="the secondary outlet that quoted it, if any")
    assumption: str | None = Field(None, description="rationale when the figure is an assumption")
    note: str | None = Field(None, description="caveats (estimate, uncertain, derived ...)")

    @model_validator(mode="after")
    def _citation_or_assumption(self) -> Source:
        cited = all((self.publisher, self.title, self.date, self.url))
        if not cited and not self.assumption:
            raise ValueError(
                "expected either publisher, title, date and url, or an assumption rationale"
            )
        return self

    @property
    def is_assumption(self) -> bool:
        """True when the figure is a labelled assumption rather than a citation."""
        return bool(self.assumption) and not self.publisher


class Entity(_Model):
    """Base for every record that carries figures: one source, overridable per field."""

    source: str | None = Field(None, description="id of the source of this record's figures")
    field_sources: dict[str, str] = Field(
        default_factory=dict, description="per-field source ids overriding `source`"
    )

    def source_of(self, field: str) -> str | None:
        """Source id of one figure of this record."""
        return self.field_sources.get(field, self.source)


class Party(_Model):
    """An ally (ISO 3166 alpha-3 code) or a recipient such as UKR."""

    name: str
    kind: Literal["ally", "recipient", "other"] = "ally"
    region: Literal["europe", "north-america", "other"] = "europe"
    eu_member: bool = False


class Product(Entity):
    """A munition (bought by parties) or a component/material (used by lines)."""

    name: str
    kind: Literal["munition", "component"]
    unit: str = Field("unit", description="what one unit of quantity is (round, missile, charge)")
    unit_price_usd: Quantity | None = Field(
        None, description="default contract price per unit, US$ (munitions)"
    )
    bom: dict[str, Quantity] = Field(
        default_factory=dict, description="bill of materials: component id -> units per unit"
    )


class Price(Entity):
    """A munition's unit price in one year, current US$ (public figure or assumption).

    :func:`materiel.scenario.prices.unit_price_usd` gives the price a contract
    pays: its own explicit price, else the latest ``Price`` of its product in a
    year at or before the contract's decision year, else the product's
    ``unit_price_usd``.
    """

    product: str = Field(description="product id (a munition)")
    year: Annotated[int, Field(ge=1990, le=2100)] = Field(description="calendar year")
    usd: Quantity = Field(description="unit price, current US$")


class Line(Entity):
    """A production line (or plant) making one product.

    Capacity in month t is the starting capacity plus every expansion whose
    ramp has begun: an expansion of ``dC`` decided in month d adds
    ``dC * min(1, (t - d - lead + 1) / ramp)`` for ``t >= d + lead``.
    """

    name: str
    owner: str = Field(description="company operating the line")
    country: str = Field(description="party id where the line is")
    product: str = Field(description="product id the line makes")
    pool: str = Field(
        "alliance",
        description="component pool: a line draws inputs from, and a component line "
        "feeds, only the lines of the same pool",
    )
    capacity_per_month: Quantity = Field(description="output capacity at the start, units/month")
    max_capacity_per_month: Quantity = Field(
        description="ceiling for order-driven expansion, units/month"
    )
    expansion_lead_time_months: Months = Field(
        18, description="months from an investment decision to first added output"
    )
    ramp_up_months: Annotated[int, Field(ge=1, le=240), NotBool] = Field(
        12, description="months from first added output to the full added capacity"
    )
    capex_usd_per_unit_month: Quantity = Field(
        0.0, description="investment cost per unit of added monthly capacity, US$"
    )
    order_book_horizon_months: Annotated[int, Field(ge=1, le=240), NotBool] = Field(
        24,
        description="industry expands when the firm order book exceeds what current "
        "capacity delivers within this many months",
    )
    invests: bool = Field(True, description="whether the owner expands against firm orders")
    warm_capacity_per_month: Quantity | None = Field(
        None,
        description="minimum sustaining ('warm line') rate an idle line keeps when it "
        "mothballs; defaults to policy.warm_share of its capacity then",
    )
    nato_standard: bool = Field(
        True,
        description="its rounds follow NATO's common ballistics standard (policy.interoperability)",
    )
    module_capacity_per_month: Quantity | None = Field(
        None,
        description="size of one whole plant module, units/month: order-driven expansion "
        "builds whole modules, entering service one by one over the ramp (and the planner "
        "plans whole modules)",
    )
    greenfield: bool = Field(
        False,
        description="a new plant built as one decision: while nothing of it is committed it "
        "takes no share of its group's spilled order book, and it is decided at its full "
        "ceiling only when its owner's unfilled firm book (the firm book of the owner's lines "
        "of the same pool and product beyond their committed cover, before any spill) covers "
        "that ceiling over its order-book horizon",
    )


class WeaponSystem(Entity):
    """A gun (or launcher) type that fires one munition product, e.g. the PzH 2000 (155mm).

    A round fits a system only once qualified for it (:class:`Qualification`,
    or ``policy.interoperability = "nato"`` for NATO-standard rounds and guns).
    """

    name: str
    product: str = Field(description="munition id the system fires")
    nato_standard: bool = Field(
        True, description="built to NATO's common ballistics standard (e.g. the 155mm JBMoU)"
    )


class Fleet(Entity):
    """A party's fleet of one weapon system and its share of the party's use of the product.

    A party's fleets of one product share its consumption (their shares sum
    to 1); without fleets a party's stock of the product is one pool that any
    delivery fills (today's behaviour).
    """

    party: str
    system: str = Field(description="weapon system id")
    share: Share = Field(description="share of the party's consumption of the system's product")


class Qualification(Entity):
    """A line's rounds qualified for a weapon system: usable by its fleets from a month.

    Qualified from the start when ``decision`` is absent; else from ``decision
    + lead_time_months`` (deliveries before then, and stock held, become
    usable at that month).
    """

    line: str
    system: str = Field(description="weapon system id")
    decision: Month | None = Field(None, description="month the qualification is decided")
    lead_time_months: Months = Field(0, description="months from decision to qualified")
    cost_usd: Quantity = Field(
        0.0,
        description="cost of qualifying the round-gun pair, US$; charged to the payer's "
        "munitions budget in the decision month",
    )
    payer: str | None = Field(None, description="party paying the cost")


class Investment(Entity):
    """An expansion industry announced: its own response to orders, paid by the firm.

    It arrives by the line's ramp rule while industry invests
    (``policy.industry_invests``); with ``industry_invests = false`` only what
    arrived before the start remains, unless ``policy.announced_investments =
    "always"`` keeps it as a record of what was built (the hindcast, a written
    plan). Capacity a government pays for ahead of orders is a
    :class:`Facilitation` instead.
    """

    line: str
    decision: Month = Field(description="month the investment is decided")
    capacity_added_per_month: Quantity
    lead_time_months: Months | None = Field(None, description="defaults to the line's")
    ramp_up_months: Annotated[int, Field(ge=1, le=240), NotBool] | None = Field(
        None, description="defaults to the line's"
    )
    capex_usd: Quantity | None = Field(
        None, description="total cost; defaults to the line's capex per unit of monthly capacity"
    )


class Facilitation(Entity):
    """Capacity a government pays for ahead of orders (state-funded facilitation).

    The US Army's plant investments, EU ASAP grants, a state deal such as
    Norway's with Nammo: the capacity arrives by the line's ramp rule (``dC *
    clip((t - d - lead + 1) / ramp, 0, 1)``, as an announced investment)
    whether or not industry invests, and ``cost_usd`` is charged to the
    funder's munitions budget in the decision month (``funder`` empty: paid
    from outside every modelled budget, e.g. the EU's).
    """

    funder: str | None = Field(
        None, description="party id whose budget pays; none: outside the modelled budgets"
    )
    line: str
    decision: Month = Field(description="month the state decides to fund the capacity")
    capacity_added_per_month: Quantity
    lead_time_months: Months | None = Field(None, description="defaults to the line's")
    ramp_up_months: Annotated[int, Field(ge=1, le=240), NotBool] | None = Field(
        None, description="defaults to the line's"
    )
    cost_usd: Quantity | None = Field(
        None,
        description="what the funder pays, US$; defaults to the line's capex per unit "
        "of monthly capacity",
    )


class Contract(Entity):
    """A decision to buy that becomes a signed contract after a contracting delay.

    Signed in month ``decision + contracting_delay``; deliveries fall due along
    a linear schedule over ``delivery_months`` starting ``delivery_lag_months``
    after signing, or, with a ``schedule``, in the quantities it lists month by
    month from that first due month (a framework with a delivery schedule; its
    length is ``delivery_months`` and its sum ``quantity``). Late deliveries
    stay open (a backlog) until made. A contract
    with ``repeats = n`` stands for n contracts decided ``repeat_every_months``
    apart (the k-th is labelled ``id#k``); each counts as firm only for itself.
    """

    buyers: dict[str, Share] = Field(description="party id -> share of every delivery")
    product: str
    line: str | None = Field(None, description="a line id, or none for any eligible line")
    pool: str | None = Field(
        None, description="restricts a contract open to any line to the lines of this pool"
    )
    quantity: Quantity
    unit_price_usd: Quantity | None = Field(None, description="defaults to the product's price")
    decision: Month = Field(description="month the buyers decide to buy")
    contracting_delay_months: Months | None = Field(
        None, description="months from decision to signature; defaults to the policy's"
    )
    delivery_lag_months: Months = Field(0, description="months from signature to first due")
    delivery_months: Annotated[int, Field(ge=1, le=600), NotBool] = Field(
        12, description="length of the delivery schedule"
    )
    firm: bool = Field(True, description="counts toward the order book that triggers investment")
    multi_year: bool = Field(False, description="multi-year or framework contract")
    priority: Annotated[int, Field(ge=0, le=99), NotBool] = Field(
        5, description="lower is served first; ties go to the older contract"
    )
    recipient: str | None = Field(
        None, description="party that receives the deliveries (aid from production)"
    )
    repeats: Annotated[int, Field(ge=1, le=100), NotBool] = Field(
        1, description="placed this many times (annual orders: 12 months apart)"
    )
    repeat_every_months: Annotated[int, Field(ge=1, le=120), NotBool] = Field(
        12, description="months between repeated placements"
    )
    schedule: list[Quantity] | None = Field(
        None,
        min_length=1,
        max_length=600,
        description="quantity due in each month from the first due month (instead of an "
        "even spread); its length is delivery_months and its sum the quantity",
    )

    @model_validator(mode="before")
    @classmethod
    def _schedule_sets_length(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("schedule"), list) and data["schedule"]:
            return {"delivery_months": len(data["schedule"]), **data}
        return data

    @model_validator(mode="after")
    def _schedule_fits(self) -> Contract:
        if self.schedule is None:
            return self
        n, total = len(self.schedule), sum(self.schedule)
        if self.delivery_months != n:
            raise ValueError(
                f"schedule has {n} months but delivery_months is {self.delivery_months}; "
                "expected them equal (or delivery_months left out)"
            )
        if abs(total - self.quantity) > SCHEDULE_TOL * max(1.0, abs(self.quantity)):
            raise ValueError(
                f"schedule sums to {total:g} but quantity is {self.quantity:g}; expected them equal"
            )
        return self


class Procurement(Entity):
    """A buyer group's standing procurement policy for one munition.

    The stock-management rule (Sterman, *Business Dynamics*, ch. 17; equation in
    :mod:`materiel.engine.core`): at each review month ``t`` the group decides

        ``q = max(0, U*R + (D + U*L - S - SL) * min(1, R/A))``

    with ``U`` its expected use per month, ``R`` the review period (1 or 12
    months), ``D`` its desired stock, ``U*L`` its desired supply line (``L``
    months from decision to the mean delivery), ``S`` its stock, ``SL`` its
    supply line and ``A`` the adjustment time. The decision is signed ``contracting delay``
    months later as two contracts: ``multi_year_share * q`` as a firm
    multi-year framework delivered over ``framework_years``, the rest as a
    non-firm annual order delivered over 12 months.

    Which stocks count: the group is ``parties`` (default: the recipient if
    any, else the buyers). ``S`` and ``SL`` sum the group's stocks and the
    undelivered part of every decided or signed contract (written or
    policy-made, any buyer) whose deliveries go to a group party, in
    proportion to its share. ``U`` is the mean, over the review period
    starting at ``t`` (within the horizon), of the group's consumption plus
    the aid from stock its parties owe parties outside the group.

    Desired stock: the counted targets are ``targets`` (default: every target
    on this product whose parties all belong to the group). ``D(t)`` is the
    highest counted target not yet past its date (``by >= t``); once every
    counted date has passed, the highest counted target (the stock is kept).
    """

    product: str = Field(description="munition id")
    buyers: dict[str, Share] = Field(description="party id -> share of every decision")
    parties: list[str] | None = Field(
        None, description="party ids whose stocks, supply line and use count (default: buyers)"
    )
    targets: list[str] | None = Field(
        None, description="target ids that set the desired stock (default: see the rule)"
    )
    review: Literal["monthly", "yearly"] = Field("yearly", description="how often to decide")
    review_month: Annotated[int, Field(ge=1, le=12)] = Field(
        1, description="calendar month of a yearly review (1 = January)"
    )
    start: Month | None = Field(None, description="first month a review may fall in")
    end: Month | None = Field(None, description="last month a review may fall in")
    adjustment_months: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = Field(
        12.0, description="stock adjustment time A: months to close a gap"
    )
    contracting_delay_months: Months | None = Field(
        None, description="months from decision to signature; defaults to the policy's"
    )
    multi_year_share: Share = Field(
        0.0, description="share of each decision signed as a firm multi-year framework"
    )
    framework_years: Annotated[int, Field(ge=1, le=20)] = Field(
        5, description="delivery period of the multi-year part, years"
    )
    pool: str | None = Field(None, description="restricts the eligible lines to this pool")
    unit_price_usd: Quantity | None = Field(None, description="defaults to the product's price")
    priority: Annotated[int, Field(ge=0, le=99)] = Field(
        5, description="lower is served first; ties go to the older contract"
    )
    recipient: str | None = Field(None, description="party that receives the deliveries")
    shares: Literal["fixed", "by-gap"] = Field(
        "fixed",
        description="how a decision is split between buyers: 'fixed' by the buyers' shares; "
        "'by-gap' in proportion to each buyer's gap (its share of the desired stock and "
        "supply line less its own stock and supply line; fixed shares where no buyer has one)",
    )

    @property
    def group(self) -> list[str]:
        """Party ids whose stocks, supply line and expected use count."""
        if self.parties is not None:
            return self.parties
        return [self.recipient] if self.recipient else list(self.buyers)

    @property
    def review_months(self) -> int:
        """The review period R in months."""
        return 1 if self.review == "monthly" else 12


class Stock(Entity):
    """A party's stock of a munition at the start, and the floor it keeps."""

    quantity: Quantity
    floor: Quantity = Field(0.0, description="a donor gives no aid that takes it below this")


class Inventory(Entity):
    """Components on hand in a pool at the start, and the buffer the pool keeps.

    With ``cover_months = c > 0`` the pool's component lines produce up to an
    order-up-to inventory of ``c`` months of its users' full-rate need
    (``c * sum cap_l * bom``), so a starting inventory cushions later peaks
    instead of replacing production; ``0`` is just-in-time (inventory on hand
    is used first).
    """

    quantity: Quantity
    cover_months: Annotated[float, Field(ge=0, le=120, allow_inf_nan=False), NotBool] = Field(
        0.0, description="order-up-to buffer, months of the users' full-rate need (0: none)"
    )


class Consumption(Entity):
    """A party's use of a munition (training or war): a rate over a period."""

    party: str
    product: str
    rate_per_day: Quantity | None = None
    rate_per_month: Quantity | None = None
    start: Month | None = Field(None, description="first month; the horizon start if absent")
    end: Month | None = Field(None, description="last month; the horizon end if absent")
    kind: Literal["war", "training"] = "war"

    @model_validator(mode="after")
    def _one_rate(self) -> Consumption:
        if (self.rate_per_day is None) == (self.rate_per_month is None):
            raise ValueError("expected exactly one of rate_per_day or rate_per_month")
        return self

    @property
    def monthly_rate(self) -> float:
        """Rate in units per month."""
        if self.rate_per_month is not None:
            return self.rate_per_month
        assert self.rate_per_day is not None
        return self.rate_per_day * DAYS_PER_MONTH


class AidPledge(Entity):
    """Aid from a donor to a recipient, due evenly from ``start`` to ``end``.

    ``supply = "stock"`` draws on the donor's stock above its floor;
    ``supply = "production"`` becomes a contract bought by the donor and
    delivered to the recipient.
    """

    donor: str
    recipient: str
    product: str
    quantity: Quantity
    start: Month
    end: Month
    supply: Literal["stock", "production"] = "stock"
    contracting_delay_months: Months | None = Field(
        None, description="for production: defaults to the policy's"
    )
    priority: Annotated[int, Field(ge=0, le=99), NotBool] = 3


class Target(Entity):
    """A capability target: stock of a munition held by one or more parties, by a date."""

    parties: list[str] = Field(min_length=1, description="party ids whose stocks count together")
    product: str
    by: Month
    quantity: Quantity | None = Field(None, description="units")
    days_of_supply: Quantity | None = Field(None, description="days at the reference rate")
    reference_rate_per_day: Quantity | None = Field(None, description="units per day")

    @model_validator(mode="after")
    def _quantity_or_days(self) -> Target:
        by_days = self.days_of_supply is not None and self.reference_rate_per_day is not None
        if (self.quantity is not None) == by_days:
            raise ValueError(
                "expected either quantity, or days_of_supply with reference_rate_per_day"
            )
        return self

    @property
    def required_quantity(self) -> float:
        """The target in units."""
        if self.quantity is not None:
            return self.quantity
        assert self.days_of_supply is not None and self.reference_rate_per_day is not None
        return self.days_of_supply * self.reference_rate_per_day


class EconomicYear(Entity):
    """GDP and defence spending of one ally in one year (current US$)."""

    gdp_usd_m: Quantity | None = Field(None, description="GDP, current US$ million")
    defence_pct_gdp_nato: Quantity | None = Field(None, description="% of GDP, NATO definition")
    defence_usd_m_nato: Quantity | None = Field(
        None, description="defence expenditure, current US$ million, NATO definition"
    )
    equipment_share_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = Field(
        None, description="% of NATO-definition defence expenditure on major equipment incl. R&D"
    )
    estimate_nato: bool | None = Field(
        None, description="NATO labels this year's figures an estimate (2023e, 2024e, 2025e)"
    )
    defence_pct_gdp_sipri: Quantity | None = Field(None, description="% of GDP, SIPRI definition")
    defence_usd_m_sipri: Quantity | None = Field(
        None, description="military expenditure, current US$ million, SIPRI definition"
    )


class SpendingPath(Entity):
    """Parties' defence spending moving linearly in %GDP toward a pledge."""

    parties: list[str] = Field(min_length=1, description='party ids, or ["*"] for every ally')
    target_pct_gdp: Quantity
    from_year: Year
    by_year: Year
    basis: Literal["nato", "sipri"] = "nato"


class Policy(_Model):
    """Policy knobs applied across the scenario."""

    contracting_delay_months: Months = Field(
        12, description="decision-to-signature delay for contracts that give none"
    )
    extra_contracting_delay_months: Months = Field(
        0, description="added to every contract's delay (what-if knob)"
    )
    industry_invests: bool = Field(
        True,
        description="industry expands against firm orders; false also stops industry's "
        "announced investments arriving after the start (see announced_investments)",
    )
    announced_investments: Literal["with-industry", "always"] = Field(
        "with-industry",
        description="industry's announced [investments] arrive while industry invests "
        "('with-industry'), or 'always' as a record of what was built (hindcast, written "
        "plans); [facilitation] always arrives",
    )
    consumption_scale: Quantity = Field(1.0, description="multiplies every consumption rate")
    idle_utilisation: Share = Field(
        0.0,
        description="a line whose open orders stay below this share of its capacity for "
        "idle_months mothballs down to its warm rate (0: lines never mothball)",
    )
    idle_months: Annotated[int, Field(ge=1, le=120), NotBool] = Field(
        12, description="months of low utilisation before a line mothballs"
    )
    warm_share: Share = Field(
        0.25, description="warm rate as a share of capacity, for lines that give none"
    )
    reactivation_months: Months = Field(
        6, description="months from the decision to reactivate mothballed capacity to its return"
    )
    equipment_share: Share = Field(
        0.2,
        description="share of defence spending on equipment: for every ally when "
        "equipment_share_from = 'policy', else for allies without NATO's per-ally share",
    )
    equipment_share_from: Literal["data", "policy"] = Field(
        "data",
        description="'data': NATO's equipment share per ally (latest actual carried forward), "
        "equipment_share where there is none; 'policy': equipment_share for every ally",
    )
    munitions_share: Share = Field(0.1, description="share of equipment spending on munitions")
    gdp_growth_pct_per_year: Annotated[
        float, Field(ge=-20, le=50, allow_inf_nan=False), NotBool
    ] = Field(3.0, description="nominal GDP growth after the last GDP figure (assumption)")
    budget: Literal["none", "defer", "flag"] = Field(
        "none",
        description="munitions budgets per ally-year: ignore them, defer contracts that do "
        "not fit to the next year with room, or allow and flag the overrun",
    )
    budget_basis: Literal["nato", "sipri"] = Field(
        "nato", description="%GDP definition for budgets (the other fills gaps)"
    )
    floor_applies_to: Literal["aid", "all"] = Field(
        "all",
        description="what a stock floor holds against: 'all' (aid from stock and the holder's "
        "own consumption: the floor is a reserve nothing draws) or 'aid' (aid only; the "
        "holder's own consumption may draw the stock below its floor)",
    )
    interoperability: Literal["national", "nato"] = Field(
        "national",
        description="national: rounds fit only the guns they are qualified for; nato: every "
        "NATO-standard round fits every NATO-standard gun from interoperability_from + lead",
    )
    interoperability_by_product: dict[str, Literal["national", "nato"]] = Field(
        default_factory=dict, description="product id -> interoperability, overriding the above"
    )
    interoperability_from: Month | None = Field(
        None, description="month the common standard is decided (nato); the start if absent"
    )
    interoperability_lead_months: Months = Field(
        12, description="months from that decision until every NATO-standard pair is qualified"
    )


class Scenario(_Model):
    """A complete, resolved scenario: the dataset plus every override."""

    id: Id
    title: str = ""
    description: str = ""
    extends: str | None = Field(None, description="id or path of the scenario this extends")
    start: Month = "2024-01"
    months: Annotated[int, Field(ge=1, le=600), NotBool] = 84
    assumptions: list[str] = Field(default_factory=list, description="stated in plain words")
    policy: Policy = Field(default_factory=Policy)
    sources: dict[Id, Source] = Field(default_factory=dict)
    parties: dict[Id, Party] = Field(default_factory=dict)
    products: dict[Id, Product] = Field(default_factory=dict)
    lines: dict[Id, Line] = Field(default_factory=dict)
    investments: dict[Id, Investment] = Field(default_factory=dict)
    facilitation: dict[Id, Facilitation] = Field(
        default_factory=dict, description="state-funded capacity, paid ahead of orders"
    )
    contracts: dict[Id, Contract] = Field(default_factory=dict)
    procurement: dict[Id, Procurement] = Field(
        default_factory=dict, description="standing procurement policies (stock management)"
    )
    stocks: dict[Id, dict[Id, Stock]] = Field(default_factory=dict)
    inventories: dict[Id, dict[Id, Inventory]] = Field(default_factory=dict)
    consumption: dict[Id, Consumption] = Field(default_factory=dict)
    aid: dict[Id, AidPledge] = Field(default_factory=dict)
    systems: dict[Id, WeaponSystem] = Field(
        default_factory=dict, description="weapon systems (guns) and the munition they fire"
    )
    fleets: dict[Id, Fleet] = Field(
        default_factory=dict, description="each party's fleets and their share of its use"
    )
    qualifications: dict[Id, Qualification] = Field(
        default_factory=dict, description="round (line) - weapon system pairs qualified"
    )
    targets: dict[Id, Target] = Field(default_factory=dict)
    economics: dict[Id, dict[YearKey, EconomicYear]] = Field(default_factory=dict)
    spending_paths: dict[Id, SpendingPath] = Field(default_factory=dict)
    prices: dict[Id, Price] = Field(
        default_factory=dict, description="unit price per product and year (see Price)"
    )
    uncertain: dict[str, Distribution] = Field(
        default_factory=dict, description="field path -> distribution (Monte Carlo)"
    )
    correlations: dict[str, Annotated[float, Field(ge=0, lt=1), NotBool]] = Field(
        default_factory=dict, description="correlation group -> pairwise correlation"
    )

    @property
    def munitions(self) -> list[str]:
        """Ids of products that are munitions, in table order."""
        return [k for k, p in self.products.items() if p.kind == "munition"]

    @property
    def allies(self) -> list[str]:
        """Ids of parties that are allies, in table order."""
        return [k for k, p in self.parties.items() if p.kind == "ally"]


def _entity_depth(annotation: Any) -> int | None:
    """How many id keys lead to an :class:`Entity` in a ``Scenario`` field's annotation:
    ``dict[Id, Line]`` -> 1, ``dict[Id, dict[Id, Stock]]`` -> 2, anything else -> None."""
    depth = 0
    while typing.get_origin(annotation) is dict:
        annotation = typing.get_args(annotation)[1]
        depth += 1
    if depth and isinstance(annotation, type) and issubclass(annotation, Entity):
        return depth
    return None


@functools.cache
def entity_tables() -> Mapping[str, int]:
    """Every table of :class:`Scenario` whose records carry figures (:class:`Entity`),
    in schema order, with its depth: 1 for ``[lines.<id>]``, 2 for ``[stocks.<party>.<id>]``.

    Derived from the schema, so a new entity table is covered by every user of this
    list (the provenance walk, the source-reference check) without editing them.
    """
    tables = {}
    for name, info in Scenario.model_fields.items():
        depth = _entity_depth(info.annotation)
        if depth is not None:
            tables[name] = depth
    return MappingProxyType(tables)  # read-only: one cached copy is shared


def entity_records(s: Scenario) -> Iterator[tuple[tuple[str, ...], Entity]]:
    """Every record of every entity table of ``s``, as ``(path, record)``: the path is
    ``("lines", "<id>")`` or ``("stocks", "<party>", "<product>")``."""
    for table, depth in entity_tables().items():
        level: list[tuple[tuple[str, ...], Any]] = [((table,), getattr(s, table))]
        for _ in range(depth):
            level = [((*path, key), value) for path, inner in level for key, value in inner.items()]
        yield from level

"""Knobs of the dashboard and the HTTP API, applied to a loaded scenario.

Each knob is optional; an unset knob leaves the scenario as loaded. Knobs are
validated by their pydantic model (ranges, no extra fields) and applied to a
copy of the frozen :class:`~materiel.Scenario`, so cached base scenarios are
never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from materiel._errors import Problem, ScenarioError
from materiel._memo import ByIdentity
from materiel.engine.inputs import Inputs, retune
from materiel.months import year_of
from materiel.scenario.schema import Contract, Scenario, SpendingPath

__all__ = ["Knobs", "apply_knobs", "knobbed_inputs", "template_knobs"]


class Knobs(BaseModel):
    """What-if knobs; each one left out keeps the scenario's own value."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no true for 1, no "1" for 1

    contracting_delay_months: Annotated[int, Field(ge=0, le=120)] | None = Field(
        None, description="decision-to-signature delay for contracts that give none"
    )
    extra_contracting_delay_months: Annotated[int, Field(ge=0, le=120)] | None = Field(
        None, description="months added to every contract's delay (later start dates)"
    )
    multi_year_share: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None,
        description="share of each annual (not multi-year) contract's volume, over all its "
        "repeats, converted into one firm multi-year contract over the same window",
    )
    consumption_scale: Annotated[float, Field(ge=0, le=20)] | None = Field(
        None, description="multiplies every consumption rate (policy.consumption_scale)"
    )
    spending_target_pct_gdp: Annotated[float, Field(ge=0, le=20)] | None = Field(
        None, description="every ally's defence spending moves linearly to this %GDP"
    )
    spending_by_year: Annotated[int, Field(ge=2000, le=2100)] = Field(
        2035, description="year by which spending_target_pct_gdp is reached"
    )
    budget: Literal["none", "defer", "flag"] | None = Field(
        None, description="munitions budgets: ignore, defer contracts that do not fit, or flag"
    )
    industry_invests: bool | None = Field(None, description="industry expands against orders")

    def is_empty(self) -> bool:
        """Whether no knob changes anything."""
        return not self.model_dump(exclude_none=True, exclude={"spending_by_year"})


def _multi_year(contracts: dict[str, Contract], share: float) -> dict[str, Contract]:
    out: dict[str, Contract] = {}
    for cid, c in contracts.items():
        if c.multi_year or share <= 0:
            out[cid] = c
            continue
        if share < 1:
            out[cid] = c.model_copy(update={"quantity": c.quantity * (1 - share)})
        window = c.delivery_months + (c.repeats - 1) * c.repeat_every_months
        out[f"{cid}.multi-year"[:80]] = c.model_copy(
            update={
                "quantity": c.quantity * share * c.repeats,
                "repeats": 1,
                "delivery_months": min(window, 600),
                "schedule": None,  # the framework spreads its quantity evenly over the window
                "multi_year": True,
                "firm": True,
            }
        )
    return out


def apply_knobs(s: Scenario, knobs: Knobs) -> Scenario:
    """A copy of ``s`` with the knobs applied (``s`` itself when none is set)."""
    if knobs.is_empty():
        return s
    policy_update = {
        name: getattr(knobs, name)
        for name in (
            "contracting_delay_months",
            "extra_contracting_delay_months",
            "consumption_scale",
            "budget",
            "industry_invests",
        )
        if getattr(knobs, name) is not None
    }
    update: dict[str, object] = {"policy": s.policy.model_copy(update=policy_update)}
    if knobs.multi_year_share is not None:
        update["contracts"] = _multi_year(dict(s.contracts), knobs.multi_year_share)
    if knobs.spending_target_pct_gdp is not None:
        start_year = year_of(s.start)
        try:
            path = SpendingPath(
                parties=["*"],
                target_pct_gdp=knobs.spending_target_pct_gdp,
                from_year=start_year,
                by_year=max(knobs.spending_by_year, start_year),
                source=None,
            )
        except ValidationError as exc:
            limits = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ScenarioError(
                Problem(
                    "<request>",
                    "knobs.spending_target_pct_gdp",
                    f"cannot apply to scenario {s.id!r} starting {s.start} ({limits})",
                )
            ) from None
        update["spending_paths"] = {"knob-spending-path": path}
    return s.model_copy(update=update)


_RETUNED = frozenset(
    {
        "extra_contracting_delay_months",
        "consumption_scale",
        "multi_year_share",
        "spending_target_pct_gdp",
    }
)
"""Knobs whose compiled inputs :func:`knobbed_inputs` recomputes from a template's."""


def template_knobs(base: Scenario, knobs: Knobs) -> Knobs | None:
    """The knobs whose compiled inputs serve ``knobs`` through :func:`knobbed_inputs`, or
    None where only compiling the knobbed scenario will do.

    They serve when every knob set is an extra delay, a consumption scale, a multi-year
    share below 1 or a spending target, and munitions budgets are off (spending paths
    then change no input). The multi-year share changes contract quantities only, as long
    as it stays strictly between 0 and 1 (0 adds no framework contracts, 1 drops the
    annual ones): the template is the base scenario, or it with a share of 0.5.
    """
    used = set(knobs.model_dump(exclude_none=True, exclude={"spending_by_year"}))
    share = knobs.multi_year_share
    if used - _RETUNED or base.policy.budget != "none" or (share is not None and share >= 1):
        return None
    return Knobs(multi_year_share=0.5) if share is not None and share > 0 else Knobs()


def knobbed_inputs(template: Inputs, s: Scenario) -> Inputs:
    """The compiled inputs of ``s`` (a scenario with knobs applied) from ``template``, those
    of the same base scenario with its :func:`template_knobs`: the written contracts'
    quantities taken from ``s``, the rest by :func:`materiel.engine.inputs.retune`."""
    quantity = np.array(template.contract_quantity, dtype=float)
    rows_of = _ROWS_OF.get((template.contract_origin,), lambda: _rows_of(template.contract_origin))
    for cid, contract in s.contracts.items():  # the written contracts (~20), not every row
        rows = rows_of.get(cid)
        if rows is not None:
            quantity[rows] = contract.quantity
    return retune(template, s, quantity)


_ROWS_OF: ByIdentity[dict[str, list[int]]] = ByIdentity(32)


def _rows_of(origins: Sequence[str]) -> dict[str, list[int]]:
    """Each origin's rows of the compiled contracts (a written contract's repeats share it)."""
    rows: dict[str, list[int]] = {}
    for row, origin in enumerate(origins):
        rows.setdefault(origin, []).append(row)
    return rows

"""Unit prices per product and year: the one rule every payment and budget uses."""

from __future__ import annotations

from materiel.scenario.schema import Scenario

__all__ = ["unit_price_usd"]


def unit_price_usd(
    scenario: Scenario, product: str, year: int, explicit_usd: float | None = None
) -> float:
    """Unit price of ``product`` (US$) for a contract decided in ``year``.

    The rule, in order:

    1. a contract's own explicit price (``explicit_usd``) wins;
    2. else the ``prices`` row of ``product`` with the latest year ``y <= year``;
    3. else the product's default ``unit_price_usd``;
    4. else the earliest ``prices`` row of ``product`` (a year before any figure);
    5. else 0 (``check_prices`` reports contracts left without any price).

    ``price(p, year) = usd[p, max{y : y <= year}]`` — no interpolation and no
    escalation: a price holds until the next published figure.
    """
    if explicit_usd is not None:
        return explicit_usd
    rows = sorted((p.year, p.usd) for p in scenario.prices.values() if p.product == product)
    before = [usd for y, usd in rows if y <= year]
    if before:
        return before[-1]
    default = scenario.products[product].unit_price_usd if product in scenario.products else None
    if default is not None:
        return default
    return rows[0][1] if rows else 0.0

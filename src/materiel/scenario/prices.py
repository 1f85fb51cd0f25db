"""Unit prices per product and year: the one rule every payment and budget uses."""

from __future__ import annotations

from materiel.scenario.schema import Scenario

__all__ = ["priced_by", "unit_price_usd"]


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
    return priced_by(scenario, product, year, explicit_usd)[0]


def priced_by(
    scenario: Scenario,
    product: str,
    year: int,
    explicit_usd: float | None = None,
    explicit_field: str = "",
) -> tuple[float, str]:
    """:func:`unit_price_usd` and the scenario field it comes from.

    The field is a dotted path (``prices.shell-155mm-2024.usd``,
    ``products.pac-3-mse.unit_price_usd``, or ``explicit_field`` for an
    explicit price), ``""`` for rule 5. Which field supplies a price depends
    on years and on which fields are set, never on their values, so Monte
    Carlo draws a price field and every contract row it prices follows.
    """
    if explicit_usd is not None:
        return explicit_usd, explicit_field
    rows = sorted(
        (p.year, p.usd, pid) for pid, p in scenario.prices.items() if p.product == product
    )
    before = [(usd, pid) for y, usd, pid in rows if y <= year]
    if before:
        usd, pid = before[-1]
        return usd, f"prices.{pid}.usd"
    default = scenario.products[product].unit_price_usd if product in scenario.products else None
    if default is not None:
        return default, f"products.{product}.unit_price_usd"
    return (rows[0][1], f"prices.{rows[0][2]}.usd") if rows else (0.0, "")

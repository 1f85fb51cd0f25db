"""Orders signed before the start carry into the run (issue 12, backlog at the start)."""

from __future__ import annotations

from builders import contract, tiny

import materiel


def test_backlog_delivers_from_the_first_month_and_ignores_the_extra_delay() -> None:
    """A 1,200-round order signed 2023-07, due over 2023-07..2024-06: half fell due before
    the start (taken as delivered); the other 600 arrive at 100 a month from 2024-01,
    whatever extra contracting delay the run assumes for new contracts."""
    backlog = contract(
        quantity=1200.0, decision="2023-07", contracting_delay_months=0, delivery_months=12
    )
    for extra in (0, 12):
        s = tiny(contracts={"b": backlog}, policy={"extra_contracting_delay_months": extra})
        r = materiel.simulate(s)
        production = r.dataset.production.isel(sample=0).sel(line="l1").values.tolist()
        assert production == [100.0] * 6 + [0.0] * 6
        assert float(r.dataset.contract_delivered_before_start.sel(contract="b")) == 600.0


def test_a_new_contract_still_takes_the_extra_delay() -> None:
    s = tiny(
        contracts={"c": contract(decision="2024-01")}, policy={"extra_contracting_delay_months": 2}
    )
    production = materiel.simulate(s).dataset.production.isel(sample=0).sel(line="l1").values
    assert production.tolist()[:6] == [0.0, 0.0, 100.0, 100.0, 100.0, 0.0]


def test_no_us_155mm_line_starts_2025_idle() -> None:
    """status-quo: the US lines keep making 155mm through 2025 on the orders signed before."""
    ds = materiel.simulate("status-quo").dataset.isel(sample=0)
    us = ds.line.values[
        (ds.line_product.values == "shell-155mm") & (ds.line_country.values == "USA")
    ]
    made = ds.production.sel(line=us).sum("line").sel(month=slice("2025-01-01", "2025-12-01"))
    assert (made.values > 0).all()

"""Units per variable (issue 17): rounds, missiles, US$, units/month, not "units" everywhere."""

from __future__ import annotations

import pytest

from materiel.analysis.result import tidy_tables
from materiel.analysis.simulate import simulate
from materiel.engine.variables import plural, quantity_units


def test_plural_and_quantity_units() -> None:
    assert [plural(u) for u in ("round", "missile", "body", "charge set", "kg", "day")] == [
        "rounds",
        "missiles",
        "bodies",
        "charge sets",
        "kg",
        "days",
    ]
    assert quantity_units("units/month", ["round"]) == "rounds/month"
    assert quantity_units("units", ["missile", "round"]) == "units (missiles, rounds)"
    assert quantity_units("US$", ["round"]) == "US$"


@pytest.fixture(scope="module")
def tables() -> tuple[object, dict[str, object]]:
    r = simulate("status-quo")
    return r, tidy_tables(r)  # type: ignore[return-value]


def test_dataset_units_name_the_quantities(tables: tuple[object, dict[str, object]]) -> None:
    r = tables[0]
    ds = r.dataset  # type: ignore[attr-defined]
    assert ds.stock.attrs["units"].startswith("units (") and "rounds" in ds.stock.attrs["units"]
    assert "missiles" in ds.stock.attrs["units"] and "kg" not in ds.stock.attrs["units"]
    assert ds.capacity_per_month.attrs["units"].startswith("units/month (")
    assert ds.payments_usd.attrs["units"] == "US$"
    assert ds.product_unit.sel(product="shell-155mm").item() == "round"
    assert all(v.attrs.get("units") != "units" for v in ds.data_vars.values() if v.size)


def test_exported_rows_carry_their_unit(tables: tuple[object, dict[str, object]]) -> None:
    t = tables[1]
    cap = t["capacity_per_month"]
    shell = cap[cap["product"] == "shell-155mm"]  # type: ignore[index]
    assert set(shell.unit) == {"rounds/month"}
    stock = t["stock"]
    assert set(stock[stock["product"] == "pac-3-mse"].unit) == {"missiles"}  # type: ignore[index]
    assert set(t["payments_usd"].unit) == {"US$"}  # type: ignore[attr-defined]
    assert set(t["binding"].unit) == {""}  # type: ignore[attr-defined]

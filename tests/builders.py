"""Tiny hand-built scenarios for tests with exact answers."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import materiel

CITE = {"assumption": "test fixture"}


def tiny(**overrides: Any) -> dict[str, Any]:
    """One ally (AAA), one recipient (REC), one munition `shell` made on one line `l1`.

    No bill of materials; capacity 100/month; 12-month horizon from 2024-01.
    """
    base: dict[str, Any] = {
        "id": "tiny",
        "start": "2024-01",
        "months": 12,
        "policy": {"contracting_delay_months": 0},
        "sources": {"fx": CITE},
        "parties": {
            "AAA": {"name": "Ally A", "kind": "ally"},
            "BBB": {"name": "Ally B", "kind": "ally"},
            "REC": {"name": "Recipient", "kind": "recipient"},
        },
        "products": {
            "shell": {"name": "Shell", "kind": "munition", "unit_price_usd": 10.0, "source": "fx"},
        },
        "lines": {
            "l1": {
                "name": "Line 1",
                "owner": "Co",
                "country": "AAA",
                "product": "shell",
                "capacity_per_month": 100.0,
                "max_capacity_per_month": 100.0,
                "expansion_lead_time_months": 2,
                "ramp_up_months": 1,
                "capex_usd_per_unit_month": 50.0,
                "order_book_horizon_months": 12,
                "source": "fx",
            }
        },
    }
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def contract(**kw: Any) -> dict[str, Any]:
    """A contract for `shell` bought by AAA, decided 2024-01, due over 3 months."""
    c = {
        "buyers": {"AAA": 1.0},
        "product": "shell",
        "quantity": 300.0,
        "decision": "2024-01",
        "delivery_months": 3,
        "source": "fx",
    }
    c.update(kw)
    return c


def check_contract_conservation(r: materiel.Result) -> None:
    """Deliveries <= quantity; receipts = deliveries; payments = deliveries x price."""
    ds = r.dataset.isel(sample=0)
    delivered = ds.contract_deliveries.sum("month")
    mine = ds.contract_decided_by == "policy"
    assert bool((delivered <= ds.contract_quantity * (1 + 1e-9) + 1e-6).all())
    table = r.contracts()
    np.testing.assert_allclose(
        table.delivered.values, delivered.values + ds.contract_delivered_before_start.values
    )
    assert bool((table.decided_by == "policy").sum() == int(mine.sum()))
    received = float(ds.receipts.sum())
    np.testing.assert_allclose(received, float(delivered.sum()), rtol=1e-9, atol=1e-6)
    paid = float(ds.payments_usd.sum())
    np.testing.assert_allclose(
        paid, float((delivered * ds.contract_price_usd).sum()), rtol=1e-9, atol=1e-3
    )
    for shares in ds.contract_buyers.values[mine.values]:
        total = sum(float(x.split(":")[1]) for x in str(shares).split(","))
        assert total == pytest.approx(1.0)


def check_samples_equal_single_runs(mc: Any, n: int, *, payments: bool = False) -> None:
    """Each of the first ``n`` samples of Monte Carlo result ``mc`` equals a deterministic
    run of the scenario with that sample's values (stock, production; payments if asked)."""
    ds = mc.dataset
    for i in range(n):
        one = materiel.simulate(mc.scenario_for(i)).dataset.isel(sample=0)
        np.testing.assert_allclose(
            ds.stock.values[i],
            one.stock.sel(party=ds.party.values, product=ds["product"].values).values,
            rtol=1e-5,
            atol=1e-2,
        )
        np.testing.assert_allclose(
            ds.production.values[i], one.production.values, rtol=1e-5, atol=1e-2
        )
        if payments:
            np.testing.assert_allclose(
                ds.payments_usd.values[i], one.payments_usd.sum("month"), rtol=1e-6, atol=1.0
            )

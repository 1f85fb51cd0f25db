"""Tiny hand-built scenarios for tests with exact answers."""

from __future__ import annotations

import copy
from typing import Any

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
                "name": "Line 1", "owner": "Co", "country": "AAA", "product": "shell",
                "capacity_per_month": 100.0, "max_capacity_per_month": 100.0,
                "expansion_lead_time_months": 2, "ramp_up_months": 1,
                "capex_usd_per_unit_month": 50.0, "order_book_horizon_months": 12,
                "source": "fx",
            }
        },
    }  # fmt: skip
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def contract(**kw: Any) -> dict[str, Any]:
    """A contract for `shell` bought by AAA, decided 2024-01, due over 3 months."""
    c = {"buyers": {"AAA": 1.0}, "product": "shell", "quantity": 300.0,
         "decision": "2024-01", "delivery_months": 3, "source": "fx"}  # fmt: skip
    c.update(kw)
    return c

"""Replacement time of aid given from stock: static (CSIS) and dynamic, hand-worked."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from builders import contract, tiny

import materiel
from materiel.present.summary import summarize


def _donor(refill: dict[str, Any] | None, stock: float = 1000.0) -> dict[str, Any]:
    """AAA holds ``stock`` shells and gives REC 300 over 2024-01..03 (100 a month)."""
    s = tiny(
        stocks={"AAA": {"shell": {"quantity": stock, "floor": 0.0, "source": "fx"}}},
        aid={
            "g1": {
                "donor": "AAA",
                "recipient": "REC",
                "product": "shell",
                "quantity": 300.0,
                "start": "2024-01",
                "end": "2024-03",
                "source": "fx",
            }
        },
    )
    if refill is not None:
        s["contracts"] = {"refill": refill}
    return s


def test_refilled_in_three_months_after_giving_for_three() -> None:
    # stock 900, 800, 700 while giving; the refill (100/month from 2024-04) brings
    # it to 800, 900, 1000: back at 1,000 in 2024-06, month index 5.
    # Static: 300 given / 100 a month of AAA's line l1 = 3.0 months.
    r = materiel.simulate(_donor(contract(decision="2024-04", delivery_months=3)))
    [row] = r.replacement().to_dict(orient="records")
    assert row["party"] == "AAA" and row["product"] == "shell"
    assert row["given"] == 300.0 and row["production_rate_per_month"] == 100.0
    assert row["static_months"] == 3.0
    assert (row["stock_start"], row["first_below"], row["back_at_start"]) == (
        1000.0,
        "2024-01",
        "2024-06",
    )
    assert row["dynamic_months"] == 5
    assert r.metrics()["replacement"] == [{**row, "dynamic_months": 5}]  # JSON: the same figures
    text = summarize(r)
    assert (
        "AAA shell: gave 300 from stock; 3.0 months at its 100/month (static); stock back at "
        "its start level in 2024-06, 5 months after the start (dynamic)"
    ) in text


def test_never_refilled_and_no_own_lines() -> None:
    s = _donor(None)
    s["lines"]["l1"]["country"] = "BBB"  # AAA has no line of its own
    r = materiel.simulate(s)
    [row] = r.replacement().to_dict(orient="records")
    assert row["given"] == 300.0 and row["production_rate_per_month"] == 0.0
    assert pd.isna(row["static_months"]) and pd.isna(row["dynamic_months"])
    assert row["first_below"] == "2024-01" and row["back_at_start"] is None
    assert r.metrics()["replacement"][0]["static_months"] is None
    assert r.metrics()["replacement"][0]["dynamic_months"] is None
    text = summarize(r)
    assert "no lines of its own to replace it (static: never)" in text
    assert "stock not back at its start level by 2024-12 (dynamic)" in text


def test_no_aid_from_stock_no_rows() -> None:
    r = materiel.simulate("action-plan")  # aid comes from production contracts only
    assert r.replacement().empty and r.metrics()["replacement"] == []
    assert "Replacement time" not in summarize(r)


@pytest.mark.parametrize("sid", ["hindcast-2022"])
def test_embedded_static_is_given_over_rate(sid: str) -> None:
    df = materiel.simulate(sid).replacement()
    assert not df.empty
    with_lines = df[df.production_rate_per_month > 0]
    assert (
        with_lines.static_months == with_lines.given / with_lines.production_rate_per_month
    ).all()

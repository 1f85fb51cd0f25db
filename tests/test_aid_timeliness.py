"""Aid timeliness: on-time share, mean delay and the per-donor year table, worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from builders import contract, tiny

import materiel
from materiel.analysis.aid import aid_by_donor_year, aid_timeliness, delivery_delay_months


def _late_pledge() -> dict:
    """AAA starts empty and receives 100 a month from 2024-03; it owes REC 100 a month
    from 2024-01 to 2024-03, so each hundred arrives two months late."""
    return tiny(
        contracts={"c1": contract(quantity=1200.0, delivery_months=12, contracting_delay_months=2)},
        aid={
            "g": {
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


def test_late_pledge_exact() -> None:
    row = aid_timeliness(materiel.simulate(_late_pledge())).iloc[0]
    assert row.delivered == pytest.approx(300.0)
    assert row.delivered_on_time == pytest.approx(100.0)  # only March's hundred by 2024-03
    assert row.on_time_share == pytest.approx(1 / 3)
    assert row.mean_delay_months == pytest.approx(2.0)  # due t=0,1,2; delivered t=2,3,4
    assert row.undelivered == 0.0


def test_pledge_from_ample_stock_is_on_time() -> None:
    s = _late_pledge()
    s["stocks"] = {"AAA": {"shell": {"quantity": 1000.0, "floor": 0.0, "source": "fx"}}}
    row = aid_timeliness(materiel.simulate(s)).iloc[0]
    assert row.on_time_share == 1.0 and row.mean_delay_months == 0.0


def test_donor_year_table() -> None:
    s = _late_pledge()
    s["months"] = 24
    s["aid"]["g"]["end"] = "2024-12"
    s["aid"]["g"]["quantity"] = 1800.0  # 150 a month due; 100 a month arrives from March
    table = aid_by_donor_year(materiel.simulate(s)).set_index("year")
    assert table.loc[2024].due == pytest.approx(1800.0)
    assert table.loc[2024].delivered == pytest.approx(1000.0)  # 10 months of 100
    assert table.loc[2024].behind_at_year_end == pytest.approx(800.0)
    # the contract's last two hundreds arrive in 2025-01 and 2025-02, late
    assert table.loc[2025].due == 0.0 and table.loc[2025].delivered == pytest.approx(200.0)
    assert pd.isna(table.loc[2025].delivered_share)
    assert table.loc[2025].behind_at_year_end == pytest.approx(600.0)


def test_delay_formula_is_fifo() -> None:
    due = np.array([100.0, 200.0, 200.0, 200.0])
    delivered = np.array([0.0, 50.0, 150.0, 200.0])
    # units 1-50 due t0 arrive t1 (1), 51-100 due t0 arrive t2 (2), 101-150 due t1 arrive t2
    # (1), 151-200 due t1 arrive t3 (2): mean 1.5
    assert delivery_delay_months(due, delivered) == pytest.approx(1.5)
    assert np.isnan(delivery_delay_months(due, np.zeros(4)))


def test_in_metrics_and_the_run_summary() -> None:
    from materiel.present.summary import summarize

    r = materiel.simulate(_late_pledge())
    row = r.metrics()["aid_timeliness"][0]
    assert row["pledge"] == "g" and row["on_time_share"] == pytest.approx(1 / 3)
    assert row["mean_delay_months"] == pytest.approx(2.0)
    text = summarize(r)
    assert "on time: 33% of what fell due within the run, mean delay 2.0 months" in text

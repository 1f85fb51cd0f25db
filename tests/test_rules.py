"""One rule, one place: months, the "target met" rule and the sentences about targets."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from materiel.analysis.metrics import (
    MET_TOLERANCE,
    commitment_kept,
    first_month_at_or_above,
    target_met,
)
from materiel.analysis.sentences import (
    TargetOutcome,
    fmt_number,
    shortfall_phrase,
    target_sentence,
    timing_phrase,
)
from materiel.months import (
    horizon_end,
    label_of,
    month_range,
    months_between,
    parse_month,
    year_of,
)


def test_month_helpers() -> None:
    months = month_range("2024-11", 3)
    assert [label_of(m) for m in months] == ["2024-11", "2024-12", "2025-01"]
    assert label_of("2025-03-01") == "2025-03"
    assert year_of("2024-12") == 2024 and year_of(parse_month("2025-01")) == 2025
    absolute = parse_month("2024-11") + np.arange(4)  # 2024-11 .. 2025-02, as an array
    assert year_of(absolute).tolist() == [2024, 2024, 2025, 2025]
    assert horizon_end("2024-01", 12) == "2024-12" and horizon_end("2024-07", 1) == "2024-07"
    assert months_between("2024-11", "2025-02") == 3
    assert months_between("2025-02", "2024-11") == -3


def test_target_met_tolerance_is_relative_with_a_floor() -> None:
    # required 1,000,000: within 1 unit counts as met, 2 short does not
    assert target_met(999_999.0, 1e6) and not target_met(999_998.0, 1e6)
    # small targets: an absolute floor of MET_TOLERANCE
    assert target_met(10.0 - MET_TOLERANCE / 2, 10.0) is np.True_
    assert not target_met(10.0 - 1e-4, 10.0)
    # arrays broadcast per sample
    hit = target_met(np.array([[5.0, 10.0]]), np.array([[10.0], [5.0]]))
    assert hit.tolist() == [[False, True], [True, True]]


def test_a_commitment_is_kept_within_the_target_rule_tolerance() -> None:
    # the planner's recipients and its notes on short commitments use this one rule:
    # kept exactly when the delivered amount would meet the due amount as a target
    assert commitment_kept(1.0, 1e6) and not commitment_kept(2.0, 1e6)
    assert commitment_kept(MET_TOLERANCE / 2, 10.0) and not commitment_kept(1e-4, 10.0)
    assert commitment_kept(0.0, 0.0) and not commitment_kept(1e-3, 0.0)
    due = np.array([0.0, 10.0, 1e6, 1e6])
    short = np.array([1e-7, 1e-4, 0.5, 3.0])
    assert commitment_kept(short, due).tolist() == target_met(due - short, due).tolist()
    assert commitment_kept(short, due).tolist() == [True, False, True, False]


def test_first_month_uses_the_same_rule() -> None:
    series = xr.DataArray([[1.0, 1e6 - 0.5, 2e6], [0.0, 0.0, 1.0]], dims=("sample", "month"))
    assert first_month_at_or_above(series, 1e6).values.tolist() == [1, -1]


def _outcome(**changes: object) -> TargetOutcome:
    base: dict[str, object] = dict(
        target="t1",
        parties=["AAA", "BBB"],
        product="shell",
        required=1500.0,
        by="2025-06",
        met=True,
        first_met="2025-03",
        months_to_target=14,
        months_early=3,
        stock=1600.0,
        short=0.0,
        at="2026-12",
    )
    base.update(changes)
    return TargetOutcome(**base)  # type: ignore[arg-type]


def test_target_sentences() -> None:
    assert (
        target_sentence(_outcome())
        == "t1: AAA,BBB shell >= 1,500 by 2025-06 -> met 2025-03 (3 months early)"
    )
    late = _outcome(first_met="2025-08", months_early=-2, assumption=True)
    assert target_sentence(late) == (
        "t1: AAA,BBB shell >= 1,500 by 2025-06 (assumed target) -> met 2025-08 (2 months late)"
    )
    start = _outcome(first_met="2024-01", months_to_target=0, months_early=17)
    assert target_sentence(start).endswith("-> already met at the start")
    missed = _outcome(
        met=False,
        first_met=None,
        months_to_target=None,
        months_early=None,
        stock=1200.0,
        short=300.0,
        parties=["A", "B", "C", "D", "E"],
    )
    assert target_sentence(missed) == (
        "t1: 5 parties shell >= 1,500 by 2025-06 -> NOT met by 2026-12: "
        "stock 1,200 (80% of target, short 300)"
    )
    assert "nan" not in target_sentence(missed)


@pytest.mark.parametrize(
    ("to_target", "early", "text"),
    [
        (0, 5, "already met at the start"),
        (7, 0, "on time"),
        (7, 1, "1 month early"),
        (9, -4, "4 months late"),
    ],
)
def test_timing_phrase(to_target: int, early: int, text: str) -> None:
    assert timing_phrase(to_target, early) == text


def test_numbers_in_words() -> None:
    assert fmt_number(1_234_567.0) == "1.23M" and fmt_number(12_345.4) == "12,345"
    assert fmt_number(float("nan")) == "-" and fmt_number(None) == "-"
    assert shortfall_phrase(600.0, 5000.0, 4400.0) == "stock 600 (12% of target, short 4,400)"

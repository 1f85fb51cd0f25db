"""The kernel's dormant contracts (issue 15): skipped only while open orders and book are 0."""

from __future__ import annotations

import numpy as np

from materiel.engine.kernel import _wake


def _due(*column: float) -> np.ndarray:
    return np.array(column, dtype=float)[:, None]  # (month, contract) with one contract


def test_wake_at_first_month_due_beyond_delivered() -> None:
    due = _due(0, 0, 5, 5, 10, 10)
    # nothing firm: only the schedule wakes it; months after t only
    assert _wake(0, 0, due, 0.0, 10.0, 0, False) == 2
    assert _wake(2, 0, due, 5.0, 10.0, 0, False) == 4
    assert _wake(4, 0, due, 10.0, 10.0, 0, False) == 6  # finished: never (T = 6)


def test_wake_at_signature_when_firm_with_book() -> None:
    due = _due(0, 0, 0, 0, 0, 0)
    assert _wake(0, 0, due, 0.0, 10.0, 3, True) == 3  # firm book from its signature
    assert _wake(0, 0, due, 10.0, 10.0, 3, True) == 6  # all delivered: no book ever
    assert _wake(0, 0, due, 0.0, 10.0, 3, False) == 6  # not firm: no book
    assert _wake(0, 0, _due(0, 4, 4, 4, 4, 4), 0.0, 10.0, 3, True) == 1  # due comes first
    # signed beyond the horizon (an undecided slot): no book within it, no month read past T
    assert _wake(0, 0, due, 0.0, 10.0, 1 << 40, True) == 6


def test_wake_keeps_nan_awake() -> None:
    due = _due(0, np.nan, 0, 0)
    assert _wake(0, 0, due, 0.0, 0.0, 0, False) == 1  # not provably 0: computed as before
    assert _wake(0, 0, _due(0, 0, 0, 0), 0.0, np.nan, 2, True) == 2

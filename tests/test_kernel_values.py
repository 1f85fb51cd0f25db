"""Kernel helpers that take a line's or a row's values, not arrays (issue 15).

A compiled call takes and drops a reference to each array it is given (two
atomic operations), so the helpers called per line or per row each month take
scalars; these are their hand-checked values.
"""

from __future__ import annotations

from materiel.engine.fleets import delivery_share
from materiel.engine.kernel import _room


def test_room_is_ceiling_less_committed_and_none_for_an_undecided_greenfield_line() -> None:
    assert _room(False, 30.0, 100.0) == 70.0
    assert _room(False, 120.0, 100.0) == 0.0  # above its ceiling: no room, never negative
    assert _room(True, 0.0, 100.0) == 0.0  # greenfield, nothing committed: decided whole
    assert _room(True, 40.0, 100.0) == 60.0  # greenfield once built grows like any line


def test_delivery_share_by_receiver_share_or_own_part() -> None:
    assert delivery_share(False, 8.0, 3.0, 0.25) == 0.25  # shared: the receiver's share
    assert delivery_share(True, 8.0, 2.0, 0.25) == 0.25  # kept per receiver: 2 of 8 open
    assert delivery_share(True, 8.0, 6.0, 0.25) == 0.75
    assert delivery_share(True, 0.0, 6.0, 0.25) == 0.0  # nothing open: nothing to it

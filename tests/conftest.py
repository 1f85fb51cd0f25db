"""Session-wide pytest hooks."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many scenarios the property tests at scale generated (tests/test_fuzz.py)."""
    fuzz = sys.modules.get("test_fuzz")
    counts = getattr(fuzz, "COUNTS", None)
    if counts:
        parts = ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items()))
        terminalreporter.write_line(
            f"test_fuzz: {sum(counts.values()):,} generated cases ({parts})"
        )

"""Session-wide pytest hooks."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many cases the property tests at scale (tests/test_fuzz.py) and
    schemathesis (tests/test_schemathesis.py) generated."""
    fuzz = sys.modules.get("test_fuzz")
    counts = getattr(fuzz, "COUNTS", None)
    if counts:
        parts = ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items()))
        terminalreporter.write_line(
            f"test_fuzz: {sum(counts.values()):,} generated cases ({parts})"
        )
    st = getattr(sys.modules.get("test_schemathesis"), "COUNTS", None)
    if st:
        terminalreporter.write_line(
            "test_schemathesis: " + ", ".join(f"{k} {v:,}" for k, v in st.items())
        )

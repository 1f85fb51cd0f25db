"""Session-wide pytest hooks.

The property tests at scale (tests/test_fuzz.py) and schemathesis
(tests/test_schemathesis.py) count the cases they generate in a module-level
``COUNTS``. Under pytest-xdist each worker process keeps its own counts: a
worker hands them to the controller through ``workeroutput`` when it finishes,
and the controller adds them up before printing the totals.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from typing import Any

_COUNTED_MODULES = ("test_fuzz", "test_schemathesis")
_WORKER_KEY = "materiel_generated_counts"
_TOTALS: dict[str, Counter[str]] = {name: Counter() for name in _COUNTED_MODULES}


def _local_counts() -> dict[str, dict[str, int]]:
    """The counts this process's test modules recorded, by module."""
    out: dict[str, dict[str, int]] = {}
    for name in _COUNTED_MODULES:
        counts = getattr(sys.modules.get(name), "COUNTS", None)
        if counts:
            out[name] = {str(k): int(v) for k, v in counts.items()}
    return out


def pytest_sessionfinish(session: Any) -> None:
    """On an xdist worker, send this worker's counts to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_WORKER_KEY] = json.dumps(_local_counts())


def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller, add up the counts a finished worker sent."""
    sent = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if sent:
        for name, counts in json.loads(sent).items():
            _TOTALS[name].update(counts)


# Validated scenarios are kept on disk between loads (materiel.scenario.cache): the
# tests keep theirs in a folder of their own, removed at the end, not in ~/.cache
# (set before xdist starts its workers, which inherit it and share the folder).
_CACHE_DIR = None
if "MATERIEL_CACHE_DIR" not in os.environ:
    _CACHE_DIR = tempfile.mkdtemp(prefix="materiel-test-cache-")
    os.environ["MATERIEL_CACHE_DIR"] = _CACHE_DIR


def pytest_unconfigure(config: Any) -> None:
    """Remove the tests' scenario cache."""
    if _CACHE_DIR is not None:
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many cases the fuzz suite and schemathesis generated."""
    for name, counts in _local_counts().items():  # a run without xdist
        _TOTALS[name].update(counts)
    fuzz = _TOTALS["test_fuzz"]
    if fuzz:
        parts = ", ".join(f"{name} {n:,}" for name, n in sorted(fuzz.items()))
        terminalreporter.write_line(f"test_fuzz: {sum(fuzz.values()):,} generated cases ({parts})")
    st = _TOTALS["test_schemathesis"]
    if st:
        terminalreporter.write_line(
            "test_schemathesis: " + ", ".join(f"{k} {v:,}" for k, v in st.items())
        )

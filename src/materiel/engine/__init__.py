"""The simulation engine: scenario arrays in, labelled result arrays out.

Modules: ``variables`` (every kernel input and output, declared once),
``binding`` (what limits a line's output: codes, labels, parser),
``inputs`` (scenario -> arrays), ``kernel`` (numba), ``core``
(:func:`run_engine`, equations), ``batch`` (per-sample inputs), ``budget``,
``invariants``. The public names below are imported on first use (PEP 562),
so reading ``materiel.engine.binding`` or ``materiel.engine.variables`` does
not load numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from materiel._lazy import lazy_getattr

if TYPE_CHECKING:
    from materiel.engine.core import run_engine
    from materiel.engine.inputs import Inputs, compile_inputs
    from materiel.engine.invariants import check_invariants

__all__ = ["Inputs", "check_invariants", "compile_inputs", "run_engine"]

_LAZY = {
    "Inputs": "materiel.engine.inputs",
    "compile_inputs": "materiel.engine.inputs",
    "check_invariants": "materiel.engine.invariants",
    "run_engine": "materiel.engine.core",
}


__getattr__ = lazy_getattr("materiel.engine", _LAZY, globals())

"""The simulation engine: scenario arrays in, labelled result arrays out."""

from materiel.engine.core import run_engine
from materiel.engine.inputs import Inputs, compile_inputs
from materiel.engine.invariants import check_invariants

__all__ = ["Inputs", "check_invariants", "compile_inputs", "run_engine"]

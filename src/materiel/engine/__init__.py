"""The simulation engine: scenario arrays in, labelled result arrays out."""

from materiel.engine.core import run_engine
from materiel.engine.inputs import Inputs, compile_inputs

__all__ = ["Inputs", "compile_inputs", "run_engine"]

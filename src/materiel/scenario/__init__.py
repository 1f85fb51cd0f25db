"""Layer 1 — scenarios: the data model, its validation and the embedded dataset.

``schema`` (pydantic models), ``uncertainty`` (distributions on inputs),
``loading`` (TOML files, ``extends``, located errors), ``checks`` (named
cross-reference checks), ``economics`` (GDP and %GDP series per ally-year),
``provenance`` (sources behind every figure) and ``importers`` (public tables
to scenario overlays). Imports nothing above it.
"""

"""Layer 3 — analysis: runs of the engine and what is read off them.

``simulate`` (one labelled run), ``result`` (the :class:`Result` container),
``metrics`` (targets, binding, cost, aid), ``montecarlo`` (samples),
``sweep`` (variants × samples on Dask) and ``spending`` (%GDP tables and
pledges). Imports the scenario and engine layers, never the presenters or
the edges.
"""

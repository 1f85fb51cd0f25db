"""Every kernel output, saved or compared bit for bit (issue 15: kernel speed-ups change no result).

Run from the repository root::

    python tools/kernel_outputs.py save BEFORE.npz     # on the old code
    python tools/kernel_outputs.py check BEFORE.npz    # on the new code: exit 1 on any difference

What is compared: every output array of ``run_engine(lean=False)`` (all
outputs recorded) for each embedded scenario; every output of two chunks of
``benchmarks/bench_mc.py``'s uncertain scenario (seed 1, 250 samples each,
drawn inputs through ``sample_overrides``), once with all outputs and once
lean as a Monte Carlo chunk records them; and a Monte Carlo run of it
(500 samples, seed 1, fans included): per-sample outcomes and the fans'
bucket counts; ``materiel.sample``'s costs on one and two threads; and a
budget-capped run with drawn money (hague-pledge, 40 samples, trajectories).
Arrays are compared by their bytes (NaN included), not within a tolerance.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import materiel
from materiel.analysis.montecarlo import _Run
from materiel.engine import compile_inputs, run_engine
from materiel.engine.batch import sample_overrides
from materiel.engine.core import kernel_args
from materiel.scenario.uncertainty import draw
from materiel.testing import MONEY

SCENARIOS = ("action-plan", "hague-pledge", "hindcast-2022", "status-quo")


def outputs() -> dict[str, np.ndarray]:
    """Every compared array, by a name saying where it came from."""
    from bench_mc import UNCERTAIN

    got: dict[str, np.ndarray] = {}
    for name in SCENARIOS:
        for key, value in run_engine(compile_inputs(materiel.load(name)), lean=False).items():
            got[f"{name}/{key}"] = np.asarray(value)
    s = materiel.load(UNCERTAIN)
    inp = compile_inputs(s)
    base = kernel_args(inp)
    n = 500
    draws = draw(s.uncertain, s.correlations, n, 1)
    for first in (0, 250):
        part = {path: values[first : first + 250] for path, values in draws.items()}
        over = sample_overrides(s, inp, part, base)
        for key, value in run_engine(inp, 250, overrides=over, base=base, threads=1).items():
            got[f"mc-chunk{first}/{key}"] = np.asarray(value)
        lean = run_engine(
            inp,
            250,
            overrides=over,
            base=base,
            threads=1,
            lean=False,
            record=("stock", "usable_stock", "payments_usd", "capex_usd", "production"),
        )
        for key, value in lean.items():
            got[f"mc-lean{first}/{key}"] = np.array(value)
    run = _Run(s, inp, draws, np.arange(n), {}, False)
    for first in range(0, n, 250):
        run.chunk(first, 250)
    for key in ("need", "stock_at_by", "met_by_date", "first_met", "cost", "quantities"):
        got[f"mc-run/{key}"] = getattr(run, key)
    got["mc-run/target_fan"] = run.target_fan.counts
    got["mc-run/line_fan"] = run.line_fan.counts
    for threads in (1, 2):
        res = materiel.sample(UNCERTAIN, n, seed=1, threads=threads, trajectories=False)
        got[f"mc-sample{threads}/cost_usd"] = np.asarray(res.cost_usd)
    # budget-capped procurement reviews under drawn money (tests/test_mc_economics.py's MONEY)
    money = materiel.sample(MONEY, 40, seed=9, trajectories=True, threads=1)
    for key, value in money.dataset.data_vars.items():
        got[f"money/{key}"] = np.asarray(value)
    return got


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("save", "check"):
        print(__doc__)
        return 2
    got = outputs()
    if argv[0] == "save":
        np.savez_compressed(argv[1], **got)
        print(f"saved {len(got)} arrays to {argv[1]}")
        return 0
    with np.load(argv[1]) as before:
        names = set(before.files) | set(got)
        bad = []
        for name in sorted(names):
            if name not in before.files or name not in got:
                bad.append(f"{name}: only in {'new' if name in got else 'old'}")
                continue
            a, b = before[name], got[name]
            if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
                diff = ""
                if a.shape == b.shape and a.dtype.kind == "f":
                    diff = f", max |diff| {np.nanmax(np.abs(a.astype(float) - b)):.3g}"
                bad.append(f"{name}: differs{diff}")
    for line in bad:
        print(line)
    print(f"{len(names) - len(bad)} of {len(names)} arrays identical")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

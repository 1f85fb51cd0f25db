"""Monte Carlo and sweep benchmark (issue 6): samples per second, memory, references.

Run from the repository root::

    python benchmarks/bench_mc.py            # N = 100, 1,000, 10,000 and a 2-variant sweep
    python benchmarks/bench_mc.py --quick    # N = 100, 1,000 only, no sweep

Measured in one run:

1. samples per second of the default scenario with uncertain stocks, lead
   times, consumption and delays, at N = 100, 1,000, 10,000 (one ``sample``
   call each), and peak memory (``ru_maxrss`` of this process);
2. per-sample cost against one deterministic ``simulate`` of the same
   scenario, and against running ``simulate`` once per sample (the same
   samples one at a time);
3. the PySD reference model (``supply_chain.mdl``) run once per sample with
   a sampled parameter vs materiel's ``sample`` of the equivalent scenario;
4. sweep throughput on a Dask LocalCluster with 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import materiel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import MDL_PATH, _quiet, reference_scenario, run_pysd

UNCERTAIN: dict[str, Any] = {
    "extends": "action-plan",
    "lines": {"rheinmetall-unterluess": {
        "expansion_lead_time_months": {"dist": "triangular", "low": 12, "mode": 18, "high": 30}}},
    "uncertain": {
        "stocks.USA.shell-155mm.quantity": {"dist": "normal", "mean": 1e6, "sd": 2e5, "min": 0},
        "consumption.usa-155mm-training.rate_per_month": {"dist": "uniform", "low": 4e3,
                                                          "high": 12e3},
        "contracts.ukr-155-us-2025-2026.contracting_delay_months": {"dist": "choice",
                                                                    "values": [3, 9, 15]},
        "policy.consumption_scale": {"dist": "lognormal", "median": 1.0, "sigma": 0.2},
    },
}  # fmt: skip


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def samples_per_second(sizes: list[int]) -> None:
    materiel.sample(UNCERTAIN, 10, seed=0)  # compile / load the kernel
    print("1. default scenario (action-plan) with 5 uncertain inputs")
    for n in sizes:
        t0 = time.perf_counter()
        materiel.sample(UNCERTAIN, n, seed=1)
        dt = time.perf_counter() - t0
        verdict = "" if n != 10_000 else f"   (target <= 10 s: {'ok' if dt <= 10 else 'MISSED'})"
        print(f"  N = {n:>6}: {dt:7.2f} s  {n / dt:8.0f} samples/s  "
              f"{dt / n * 1e3:6.3f} ms/sample{verdict}")  # fmt: skip
    print(f"  peak memory (ru_maxrss): {_peak_mb():.0f} MiB   (target <= 4 GB)")


def against_one_at_a_time(n: int = 20) -> None:
    mc = materiel.sample(UNCERTAIN, 2000, seed=2)
    per_sample = (
        min(_time(lambda: materiel.sample(UNCERTAIN, 2000, seed=2)) for _ in range(2)) / 2000
    )
    s = mc.scenario
    deterministic = min(_time(lambda: materiel.simulate(s)) for _ in range(3))
    one_at_a_time = []
    for i in range(n):
        one_at_a_time.append(_time(lambda i=i: materiel.simulate(mc.scenario_for(i))))
    print("2. per-sample cost (default scenario)")
    print(f"  vectorised sample():           {per_sample * 1e3:8.3f} ms/sample")
    print(f"  one deterministic simulate():  {deterministic * 1e3:8.3f} ms "
          f"(per-sample cost = {per_sample / deterministic:.1%} of it; target <= 5%)")  # fmt: skip
    print(f"  simulate() once per sample:    {np.mean(one_at_a_time) * 1e3:8.3f} ms/sample "
          f"(vectorised is {np.mean(one_at_a_time) / per_sample:.0f}x faster)")  # fmt: skip


def against_pysd(n: int = 200) -> None:
    ref = run_pysd(1, MDL_PATH)
    params = ref.parameters
    scenario = reference_scenario(params)
    scenario["uncertain"] = {"consumption.use.rate_per_month": {
        "dist": "uniform", "low": 0.5 * params["Consumption Rate"],
        "high": 1.5 * params["Consumption Rate"]}}  # fmt: skip
    materiel.sample(scenario, 10, seed=0)
    t_ours = _time(lambda: materiel.sample(scenario, 10_000, seed=1)) / 10_000
    with _quiet():
        import pysd

        with tempfile.TemporaryDirectory() as tmp:
            mdl = Path(tmp) / MDL_PATH.name
            mdl.write_text(MDL_PATH.read_text())
            model = pysd.read_vensim(str(mdl))
            rates = np.random.default_rng(1).uniform(0.5, 1.5, n) * params["Consumption Rate"]
            t0 = time.perf_counter()
            for rate in rates:
                model.run(params={"Consumption Rate": float(rate)}, progress=False)
            t_pysd = (time.perf_counter() - t0) / n
    print("3. PySD reference model (supply_chain.mdl), one run per sample")
    print(f"  PySD:     {t_pysd * 1e3:8.3f} ms/sample ({n} runs)")
    print(f"  materiel: {t_ours * 1e3:8.4f} ms/sample (sample() of the same model, N = 10,000)")
    print(f"  ratio: materiel is {t_pysd / t_ours:,.0f}x faster (target >= 100x)")


def sweep_throughput(samples: int = 400) -> None:
    from materiel.analysis.sweep import SweepSpec, expand, run_sweep

    spec = SweepSpec(scenario="action-plan", samples=samples, seed=1, chunk=100,
                     grid={"policy.extra_contracting_delay_months": [0, 12]})  # fmt: skip
    base = copy.deepcopy(UNCERTAIN)
    variants = [(label, {**base, **{k: v for k, v in overlay.items() if k != "extends"},
                         "policy": overlay["policy"]})
                for label, overlay in expand(spec, "action-plan")]  # fmt: skip
    print(f"4. sweep: {len(variants)} variants x {samples} samples, LocalCluster")
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_sweep(spec, variants, Path(tmp), workers=workers)
            dt = time.perf_counter() - t0
        total = len(variants) * samples
        print(f"  {workers} worker(s): {dt:6.2f} s, {total / dt:7.0f} samples/s "
              f"(incl. cluster start-up)")  # fmt: skip


def _time(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="small sizes, no sweep")
    opts = args.parse_args(argv)
    samples_per_second([100, 1000] if opts.quick else [100, 1000, 10_000])
    against_one_at_a_time(5 if opts.quick else 20)
    against_pysd(50 if opts.quick else 200)
    if not opts.quick:
        sweep_throughput()
    print(f"process peak RSS: {_peak_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

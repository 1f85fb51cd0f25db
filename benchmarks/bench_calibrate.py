"""Calibration benchmark (issue 14): `materiel calibrate hindcast-2022 ... --samples 20000`.

Run from the repository root::

    python benchmarks/bench_calibrate.py           # the command at 20,000 samples, and 2,000
    python benchmarks/bench_calibrate.py --quick   # 2,000 samples only

Measured:

1. wall time, CPU time (user + system of the child: the machine is shared,
   so wall time depends on the load) and peak memory (``ru_maxrss`` of the
   child process) of the
   command a user runs, ``materiel calibrate hindcast-2022 --fit ... --samples
   N --json``, end to end (start-up, scenario loading, the cached kernel, the
   chain and the report); target <= 60 s at N = 20,000;
2. the same number of engine runs through the batched record evaluator alone
   (:class:`materiel.analysis.calibrate.RecordEvaluator`, one call), so the
   ratio says what emcee's half-ensemble batches cost over one big batch.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# the 155mm supply chain (the rest of the lines are missiles and their parts)
CHAIN = (
    "shell-155mm",
    "shell-body-155mm",
    "propellant-charge",
    "tnt",
    "rdx-hmx",
    "nitrocellulose",
    "fuze",
)
TARGET_S = 60.0


def fits() -> list[str]:
    """The fit documented in docs/hindcast.md: three tied order-book horizons and two delays."""
    from materiel.scenario.loading import load

    s = load("hindcast-2022")
    groups = {
        "us": [k for k, x in s.lines.items() if x.product in CHAIN and x.pool == "us"],
        "europe": [k for k, x in s.lines.items() if x.product in CHAIN and x.pool == "europe"],
        "missiles": [k for k, x in s.lines.items() if x.product not in CHAIN],
    }
    high = {"us": 36, "europe": 36, "missiles": 48}
    return [
        f"lines.{','.join(ids)}.order_book_horizon_months=3..{high[g]}" for g, ids in groups.items()
    ] + [
        "contracts.europe-national-155-2022.contracting_delay_months=0..12",
        "contracts.europe-national-155-2023.contracting_delay_months=0..12",
    ]


def _command() -> list[str]:
    exe = shutil.which("materiel")
    if exe is not None:
        return [exe]
    return [sys.executable, "-c", "from materiel.cli import main; main()"]


def cli(samples: int) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and the child's peak memory (MiB) of one calibrate command."""
    args = [
        *_command(),
        "calibrate",
        "hindcast-2022",
        "--until",
        "2023-12",
        "--samples",
        str(samples),
        "--seed",
        "0",
        "--json",
    ]
    for fit in fits():
        args += ["--fit", fit]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    dt = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"calibrate failed ({done.returncode}):\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dt, cpu, after.ru_maxrss / 1024


def evaluator_only(samples: int) -> float:
    """Seconds for ``samples`` engine runs in one call of the record evaluator."""
    from materiel.analysis.calibrate import RecordEvaluator, parse_fit
    from materiel.analysis.record import load_record
    from materiel.scenario.loading import load

    parsed = [parse_fit(f) for f in fits()]
    evaluate = RecordEvaluator(load("hindcast-2022"), load_record(), [f.path for f in parsed])
    rng = np.random.default_rng(0)
    low, high = np.array([f.low for f in parsed]), np.array([f.high for f in parsed])
    theta = low + (high - low) * rng.random((samples, len(parsed)))
    evaluate(theta[:10])  # load the cached kernel
    t0 = time.perf_counter()
    evaluate(theta)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 samples only")
    quick = parser.parse_args().quick
    cli(100)  # compile or load the kernel cache outside the timings
    sizes = [2000] if quick else [2000, 20000]
    print(
        f"1. materiel calibrate hindcast-2022 with {len(fits())} fitted parameters (--json); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    times = {}
    for n in sizes:
        dt, cpu, peak = cli(n)
        times[n] = dt
        verdict = (
            ""
            if n != 20000
            else f"   (target <= {TARGET_S:.0f} s wall: "
            + ("ok" if dt <= TARGET_S else "MISSED")
            + ")"
        )
        print(
            f"  N = {n:>6}: {dt:6.1f} s wall, {cpu:6.1f} s CPU  {n / dt:7.0f} runs/s  "
            f"peak memory {peak:6.0f} MiB (largest child so far){verdict}"
        )
    print("2. the same engine runs in one batch of the record evaluator (no MCMC)")
    for n in sizes:
        dt = evaluator_only(n)
        print(
            f"  N = {n:>6}: {dt:6.1f} s  {n / dt:7.0f} runs/s; the command takes "
            f"{times[n] / dt:4.2f}x (start-up, scan, half-ensemble batches)"
        )


if __name__ == "__main__":
    main()

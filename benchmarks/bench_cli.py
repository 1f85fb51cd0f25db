"""Command-line start-up benchmark (issue 11 part 6): how fast ``materiel`` answers.

Run from the repository root::

    python benchmarks/bench_cli.py             # 7 repetitions of each command
    python benchmarks/bench_cli.py --repeat 3  # fewer
    python benchmarks/bench_cli.py --json      # the figures as JSON on stdout

Each command runs in a fresh process (wall clock, ``time.perf_counter``
around ``subprocess.run``); the figure is the median of the repetitions. The
reference is ``python -c "import numpy"`` measured in the same run,
interleaved with the commands, so that the ratios hold on a busy machine
where absolute times do not. Before timing, ``materiel run`` is run once so
that the engine's compiled kernel is in numba's cache (a warm cache, as every
run after the first).

Targets (issue 11): ``--help`` at most 3x the numpy import; ``validate`` and
``spending`` at most 1.0 s; ``run`` at most 1.5 s. The absolute targets were
set on an idle machine; on a loaded one compare the ratios.

The machine is shared; CPU time (user + system, from ``getrusage`` of the
child) is printed next to wall time, because it hardly depends on how many
other processes wait for the cores. A command is within target when either
its wall or its CPU time is.

Issue 11 part 6, measured on the shared 2-core machine at load 12 to 13 (so
wall times are 3 to 5 times those of a quiet machine), before = main at
65eda2b, after = this branch, interleaved in one run, median of 3
(``import numpy``: 0.21 to 0.28 s CPU):

=====================  ======================  ======================
command                before: CPU (x numpy)   after: CPU (x numpy)
=====================  ======================  ======================
``--help``             0.57 s (2.0x)           0.67 s (2.4x)
``validate``           1.02 s (3.6x)           1.14 s (4.0x)
``run``                5.61 to 5.83 s (~21x)   4.31 s (20.5x); 3.9 s in-process
``spending``           2.85 to 3.55 s (~13x)   0.88 to 1.06 s (~4x)
=====================  ======================  ======================

Start-up, second pass (CPU seconds, user + system, median of 3, interleaved,
load 8.9; before = main at 7a1df3b, after = branch startup11;
``import numpy`` 0.17 to 0.18 s):

============================  ======  =====
command                       before  after
============================  ======  =====
``--help``                    0.32    0.26
``validate``                  0.67    0.46
``run``                       3.43    1.90
``run`` (scenario cache off)  2.93    1.79
``spending``                  0.64    0.45
============================  ======  =====

What went: the validated scenario is kept between loads
(:mod:`materiel.scenario.cache`, keyed on the bytes of every file read and
the loader's code; the schema builds lazily, ``defer_build``, so a hit never
builds it); xarray no longer imports ``dask.base`` to ask whether an index
is a dask collection (:mod:`materiel._xarray`); numba's first dispatch no
longer imports ``scipy.linalg`` (and ``numpy.f2py``) for its BLAS probe
(:mod:`materiel._numba`); the summary reads the cost totals instead of every
metric, keeps its fleet table and builds its decision table without a
named-aggregation groupby (identical tables); the Dataset gets its attributes as it is built; the
process ends once the output is flushed (``materiel.cli.main``: tearing the
interpreter down cost about 1 s of CPU).

Third pass (CPU seconds, user + system, ``--repeat 5``, and in brackets the
ratio to ``import numpy`` in the same run; before = main at 19a7498, after =
branch cli11 on it; load 6 to 9 on the 2 cores, so ``import numpy`` took 0.26
to 0.29 s CPU, about 1.5 times its 0.17 s on a quieter machine, and ``run``
varies by +-0.3 s between runs; the second pair with ``--warm-bytecode``):

============================  ============  ===========  ============  ===========
command                       before        after        before, .pyc  after, .pyc
============================  ============  ===========  ============  ===========
``--help``                    0.41 (1.5x)   0.44 (1.7x)  0.38 (1.5x)   0.47 (1.6x)
``validate``                  0.67 (2.4x)   0.69 (2.7x)  0.72 (2.7x)   0.72 (2.5x)
``run``                       2.93 (10.7x)  2.32 (8.9x)  3.41 (13.0x)  2.27 (7.8x)
``run`` (scenario cache off)  3.19 (11.7x)  2.50 (9.6x)  3.48 (13.3x)  2.45 (8.4x)
``spending``                  0.68 (2.5x)   0.69 (2.6x)  0.64 (2.5x)   0.70 (2.4x)
============================  ============  ===========  ============  ===========

``run`` alone, before and after interleaved (median CPU): 2.97 -> 2.22 s
(9 each, load 8), 3.41 -> 2.39 s (7 each, load 9 to 10), 3.12 -> 2.31 s (7
each, ``.pyc`` written, load 8): 0.70 to 0.79 of before, so about 1.35 to
1.5 s where before was 1.90 s. What went: the cached kernel loads without
numba's lowering and typing registries
(:func:`materiel._numba.cache_loads_without_registries`; first dispatch 0.33
-> 0.15 s); Python's cycle collector is paused while ``run`` works
(``materiel.cli._collector_paused``; its full collections over the imports
and the unpickled scenario took 0.2 to 0.3 s, now 0.03 s during ``import``);
the fleet and recipient-shortfall tables read plain arrays (the summary took
0.3 s, now 0.12 to 0.15 s); the uncertainty ``Distribution`` schema is built
on first use. ``PYTHONDONTWRITEBYTECODE`` is set in the sessions that
measured these figures, so every start also compiles materiel's modules from
source (0.12 to 0.18 s on ``run``); an installed package loads them from
``.pyc`` (``--warm-bytecode`` measures that). What stays: numba's import and
the cache load (about 0.4 s), pandas with pyarrow, numexpr and bottleneck,
and xarray (about 0.5 s), the interpreter, numpy, typer and pydantic (about
0.45 s); a ``run`` that builds its text from the engine's arrays without
pandas and xarray would be the next step.

Fourth pass (branch fast11 on main at dd62345; load 4 to 5 on the 2 shared
cores). ``--repeat 3 --warm-bytecode`` (``import numpy`` 0.30 s CPU):
``--help`` 0.46 s CPU (1.5x), ``validate`` 0.72 s (2.4x), ``run`` 2.24 s
(7.4x, target missed), ``run`` with the scenario cache off 2.43 s (8.0x),
``spending`` 0.77 s (2.5x). What changed: the summary's tables read plain
arrays from the Dataset's variables (:func:`materiel.analysis.metrics.plain`)
instead of building a DataArray per selection, and the interoperability
table reuses the fleet table; ``summarize`` on a built result, CPU seconds,
median of 15, before -> after: action-plan 0.13-0.16 -> 0.08, status-quo
0.15-0.17 -> 0.08, hague-pledge 0.17-0.21 -> 0.13, hindcast-2022 0.23-0.35
-> 0.065 (tables and text unchanged byte for byte). Whole ``run``,
interleaved, 9 each: before 2.18 s CPU median (2.00 min), after 2.19 (1.71
min): the 0.05 to 0.09 s saved is below this machine's noise (+-0.3 s).
``run`` without ``--out`` no longer imports :mod:`materiel.present.export`
(which cost nothing by itself: its 0.9 s in ``-X importtime`` is pandas and
xarray, first imported there but needed by ``simulate`` anyway). What stays,
in-process CPU at that load: imports about 1.8 s (pandas with pyarrow 0.5,
numba 0.45, pydantic and the schema 0.25, xarray 0.2, numpy 0.2, typer 0.08),
the cached kernel's load and first dispatch 0.23 to 0.26, the rest 0.15. The
1.5 s target needs a text path without pandas and xarray: the engine's
arrays labelled without building a Dataset (today ``build_dataset`` builds
its variables as plain ``(dims, values)`` pairs, then the Dataset), the
tables as rows over those arrays, and ``Result`` wrapping the same rows in
DataFrames.

Quiet machine after the merges (main at bfd8e1a, no other session running,
load 1.2 to 1.8), wall median / min and CPU, ``--repeat 5`` with bytecode off
(``import numpy`` 0.139 s wall) and ``--repeat 7 --warm-bytecode`` (0.170 s):
``--help`` 0.259 / 0.233 s (1.9x) and 0.236 / 0.212 s (1.4x); ``validate``
0.384 s and 0.351 s; ``run`` 1.284 / 1.240 s, 1.387 s CPU (9.3x) and 1.205 /
1.106 s, 1.307 s CPU (7.1x): within the 1.5 s target; ``spending`` 0.393 s
and 0.347 s. The numpy import was faster in this hour than in the morning
(0.226 s, when ``run`` took 2.13 s, 9.4x, bytecode on): part of the absolute
gain is the machine; the ratios moved 10.5x -> 9.3x (bytecode off, against
the previous session's quiet figure) and 9.4x -> 7.1x (bytecode on).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_FILE = ROOT / "src" / "materiel" / "data" / "scenarios" / "action-plan.toml"

# name -> (arguments, target in seconds or None, target as a multiple of the numpy import or None)
COMMANDS: dict[str, tuple[list[str], float | None, float | None]] = {
    "--help": (["--help"], None, 3.0),
    "validate": (["validate", str(EMBEDDED_FILE)], 1.0, None),
    "run": (["run"], 1.5, None),
    "run, scenario cache off": (["run"], None, None),
    "spending": (["spending", "--year", "2024"], 1.0, None),
}
ENV: dict[str, dict[str, str]] = {"run, scenario cache off": {"MATERIEL_CACHE_DIR": "off"}}
"""Extra environment of a command: ``run`` once more, loading and validating its scenario."""


def _materiel() -> list[str]:
    """The console script next to this interpreter, else the module's entry point."""
    script = Path(sys.executable).parent / "materiel"
    if script.is_file():
        return [str(script)]
    found = shutil.which("materiel")
    if found:
        return [found]
    return [sys.executable, "-c", "from materiel.cli import main; main()"]


WARM_BYTECODE = {"on": False}
"""``--warm-bytecode``: let the commands write and reuse Python's bytecode cache."""


def _env(name: str = "") -> dict[str, str]:
    """This interpreter's environment with the repository's sources first on the path
    (and command ``name``'s own variables); without ``PYTHONDONTWRITEBYTECODE`` under
    ``--warm-bytecode``."""
    env = dict(os.environ)
    if WARM_BYTECODE["on"]:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.update(ENV.get(name, {}))
    return env


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def measure(repeat: int) -> dict[str, object]:
    """Median wall and CPU time of each command and of the numpy import, interleaved."""
    env = _env()
    exe = _materiel()
    numpy_argv = [sys.executable, "-c", "import numpy"]
    _time([*exe, "run"], env)  # warm numba's compile cache
    wall: dict[str, list[float]] = {"import numpy": [], **{name: [] for name in COMMANDS}}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    for _ in range(repeat):
        for name, argv in [
            ("import numpy", numpy_argv),
            *((name, [*exe, *args]) for name, (args, _a, _r) in COMMANDS.items()),
        ]:
            w, c = _time(argv, _env(name) if name in ENV else env)
            wall[name].append(w)
            cpu[name].append(c)
    numpy_s = statistics.median(wall["import numpy"])
    numpy_cpu_s = statistics.median(cpu["import numpy"])
    rows = []
    for name, (args, target_s, target_ratio) in COMMANDS.items():
        median = statistics.median(wall[name])
        median_cpu = statistics.median(cpu[name])
        ratio = median / numpy_s
        cpu_ratio = median_cpu / numpy_cpu_s
        # On a shared machine wall time includes waiting for a core; CPU time does not,
        # so a command is within target when either measure is.
        ok = (target_s is None or min(median, median_cpu) <= target_s) and (
            target_ratio is None or min(ratio, cpu_ratio) <= target_ratio
        )
        rows.append(
            {
                "command": "materiel "
                + " ".join(
                    a if a != str(EMBEDDED_FILE) else str(EMBEDDED_FILE.relative_to(ROOT))
                    for a in args
                )
                + "".join(f" ({k}={v})" for k, v in ENV.get(name, {}).items()),
                "median_s": median,
                "min_s": min(wall[name]),
                "median_cpu_s": median_cpu,
                "ratio_to_numpy_import": ratio,
                "cpu_ratio_to_numpy_import": cpu_ratio,
                "target_s": target_s,
                "target_ratio": target_ratio,
                "within_target": ok,
            }
        )
    return {
        "repeat": repeat,
        "bytecode_written": "PYTHONDONTWRITEBYTECODE" not in env,
        "numpy_import_s": numpy_s,
        "numpy_import_cpu_s": numpy_cpu_s,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "commands": rows,
    }


def main() -> None:
    """Parse arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="repetitions (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--warm-bytecode",
        action="store_true",
        help="unset PYTHONDONTWRITEBYTECODE for the commands, so that materiel's modules "
        "load from their .pyc as in an installed package",
    )
    args = parser.parse_args()
    WARM_BYTECODE["on"] = args.warm_bytecode
    figures = measure(max(1, args.repeat))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"python -c 'import numpy': {figures['numpy_import_s']:.3f} s wall, "
        f"{figures['numpy_import_cpu_s']:.3f} s CPU (median of "
        f"{figures['repeat']}; load average {figures['load_average']:.1f}; bytecode cache "
        f"{'on' if figures['bytecode_written'] else 'off: PYTHONDONTWRITEBYTECODE is set'})"
    )
    print(
        f"{'command':<50} {'wall':>7} {'min':>7} {'x numpy':>7} {'CPU':>7} {'x numpy':>7}  target"
    )
    for row in figures["commands"]:  # type: ignore[attr-defined]
        target = (
            f"<= {row['target_ratio']:g}x numpy"
            if row["target_ratio"] is not None
            else f"<= {row['target_s']:g} s"
            if row["target_s"] is not None
            else "(no target)"
        )
        verdict = "ok" if row["within_target"] else "MISSED"
        print(
            f"{row['command']:<50} {row['median_s']:>6.3f}s {row['min_s']:>6.3f}s "
            f"{row['ratio_to_numpy_import']:>6.1f}x {row['median_cpu_s']:>6.3f}s "
            f"{row['cpu_ratio_to_numpy_import']:>6.1f}x  {target} {verdict}"
        )


if __name__ == "__main__":
    main()

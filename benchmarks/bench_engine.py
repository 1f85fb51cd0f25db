"""Engine benchmark (issue 3): how fast the monthly engine runs, and a PySD cross-check.

Run from the repository root::

    python benchmarks/bench_engine.py           # full run
    python benchmarks/bench_engine.py --quick   # smoke run: one repeat, small scales
    python benchmarks/bench_engine.py --json    # the figures as JSON on stdout
    python benchmarks/bench_engine.py --profile # also cProfile the x10 engine run
    python benchmarks/bench_engine.py --compile # also the kernel's cold-cache compile time

It measures, best of N repeats (``time.perf_counter``):

1. the default scenario (``action-plan``): load, compile
   (:func:`materiel.engine.compile_inputs`), engine
   (:func:`materiel.engine.run_engine`), and labelling plus invariants
   (:func:`materiel.engine.check_invariants` +
   :func:`materiel.analysis.simulate.build_dataset`), and
   the peak memory of the whole pipeline (``tracemalloc``);
2. the same scenario replicated x1, x2, x5 and x10 in lines and parties over
   240 months (:func:`synthetic.scale_scenario`), with the growth of engine
   time against entities x months. While ``action-plan`` does not exist yet,
   a small stand-in scenario with a bill of materials is scaled instead;
3. with ``--compile``, the numba kernel's first-call compile time with an
   empty cache (a fresh process with its own ``NUMBA_CACHE_DIR``), wall and
   CPU time (CPU time is the fairer figure on a shared machine);
4. the PySD reference: ``supply_chain.mdl`` (Vensim) read with
   ``pysd.read_vensim`` and run, its trajectories checked month by month
   against the equivalent materiel scenario (:func:`reference_scenario`), and
   both run times compared.

Where the engine's time goes (issues 12 and 15; default scenario
``action-plan``: 132 months, 62 lines, 205 contracts, 505 assignments, 623
receipt and 630 payment rows, 34 parties x 16 products, 13 fleets, 99
policy reviews). Profiled with ``perf record`` on a ``NUMBA_DEBUGINFO=1``
build, samples inside the compiled kernel mapped to source lines with
``addr2line`` on its object code (numba emits no inlining records, so each
line is charged where it is written). Before this round, of the kernel's
samples: deliveries (step 5) 23%, of which the walk over all 505
assignments every month about half and the receipt rows the rest;
``fleets.receive`` 10% (it looked at every receipt row of every delivering
contract to find the two that keep fleets); ``_split`` 9% (every
assignment, twice a month, although on average 104 of 505 belong to a
contract with open orders or firm book); ``_down_the_bom`` 9%; stock
outputs 9% (two passes over the 544 recorded cells); production 8%; the
procurement review 5% (every receipt row, and every receipt and payment
row to find its two slots' rows); the rest spread thinly. Outside the
kernel (a single run): ``kernel_args`` 0.2 ms, zeroing the output arrays
and their first-touch page faults about 1 ms, Python dispatch of the
grouped inputs.

What changed (results bit for bit the same on the four embedded scenarios
and on Monte Carlo samples): ``_split`` visits only the month's live
assignments (those of contracts with open orders or firm book, listed once
per month in assignment order, so every sum adds in the same order);
deliveries skip assignments once a line's output is spent and write each
line's deliveries once; ``fleets.receive`` visits only contracts with a
receiver that keeps fleets; the per-receiver fleet steps run only once some
contract is kept per receiver; a review reads only its product's receipt
rows and writes only its slots' rows (grouped once per call,
``policy.rows``); the stock outputs take one pass. Measured by CPU time
(``time.process_time``, the 2-core machine shared under a load of 8-10, so
absolute figures drift by 20% between runs; before and after interleaved in
one session, three rounds each of 150 single runs and 5 x 200 Monte Carlo
samples with the bench_mc inputs): one ``run_engine`` of the default
scenario, fastest run 4.8-5.4 ms before -> 3.5-4.9 ms after; Monte Carlo
``run_engine`` per sample (kernel, output allocation and page faults), best
of five 3.5-4.2 ms -> 3.3-3.8 ms; the kernel's own CPU time per sample in
``bench_mc.stages`` (500 samples, machine load 1.1, two runs each, main and
this code alternating) 4.45, 4.12 ms -> 3.18, 3.38 ms (about -22%).
Neither the 0.3 ms per sample of issue 15 nor, reliably, the 5 ms per run
of issue 12 is met: what is left is spread
over every month's passes over lines, live assignments and the 544
recorded cells, and the reference counting of the input arrays passed to
each compiled helper every month. That last was larger than it looked: a
second line-by-line profile (issue 15, third pass, ``bench_mc.py``) found
17% of the kernel on one line, ``_book_to_room`` calling ``_room`` with all
23 arrays of ``Lines`` per line per level; the helpers now take only the
arrays they read (kernel 2.33 -> 2.15 ms per Monte Carlo sample, smallest
CPU time of 12 runs each at a load of 3-5; ``--quick`` single runs on that
machine varied by 50% and are not evidence either way).

Alignment with PySD. Vensim's Euler step is ``stock(t+1) = stock(t) +
flow(t)``: a stock reported at time ``t`` is the state *before* month ``t``'s
flows. materiel reports stocks at the *end* of month ``t``. So materiel's
``stock[t]`` and ``capacity[t]`` are compared with PySD's stocks at time
``t + 1``, and materiel's flows (production, consumption, shortfall,
capacity added) with PySD's flows at time ``t``. In the month itself,
materiel adds arriving capacity before producing and counts deliveries
before consumption; the .mdl spells both out (``Capacity in Use = Capacity
+ Capacity Arrivals``; ``Consumption = MIN(Demand, Buyer Stock +
Production)``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import materiel
from materiel.analysis.simulate import build_dataset
from materiel.engine import Inputs, check_invariants, compile_inputs, run_engine
from materiel.months import month_label, parse_month

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import scale_scenario

__all__ = [
    "MDL_PATH",
    "TARGETS",
    "compare_with_pysd",
    "measure",
    "reference_scenario",
    "run_pysd",
    "stand_in_scenario",
]

T = TypeVar("T")
MDL_PATH = Path(__file__).resolve().parent / "supply_chain.mdl"
DEFAULT_SCENARIO = "action-plan"
SCALED_MONTHS = 240
TARGETS = {"default_engine_s": 0.005, "default_peak_bytes": 1e9, "x10_engine_s": 0.200}
MATCH_TOLERANCE = 1e-6
CITE = {"assumption": "benchmark fixture"}

# --- timing ------------------------------------------------------------------------------


def best_of(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Best wall time of ``repeats`` calls of ``fn`` (seconds), and the last result."""
    best = float("inf")
    result: T
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


@dataclass
class Measurement:
    """Timings (seconds, best of ``repeats``) and peak memory of one scenario's pipeline."""

    label: str
    months: int
    shape: dict[str, int]
    repeats: int
    load_s: float
    compile_s: float
    engine_s: float
    label_s: float
    peak_bytes: int

    @property
    def total_s(self) -> float:
        """Load + compile + engine + labelling."""
        return self.load_s + self.compile_s + self.engine_s + self.label_s

    @property
    def entity_months(self) -> int:
        """(lines + contracts + parties x products) x months: the engine's work per run."""
        s = self.shape
        return (s["line"] + s["contract"] + s["party"] * s["product"]) * self.months


def _label_and_check(inp: Inputs, raw: dict[str, np.ndarray], scenario: materiel.Scenario) -> None:
    """What :func:`materiel.simulate` does after the engine: check invariants, label."""
    check_invariants(inp, raw)
    build_dataset(inp, raw, scenario)


def _pipeline(scenario: materiel.Scenario) -> None:
    inp = compile_inputs(scenario)
    raw = run_engine(inp)
    check_invariants(inp, raw)
    build_dataset(inp, raw, scenario)


def measure(label: str, load: Callable[[], materiel.Scenario], repeats: int) -> Measurement:
    """Time each stage of a run of the scenario that ``load`` returns, and its peak memory.

    The peak is measured with ``tracemalloc`` in a separate, untimed run of
    the whole pipeline (tracing slows the code it watches).
    """
    load_s, scenario = best_of(load, repeats)
    compile_s, inp = best_of(lambda: compile_inputs(scenario), repeats)
    engine_s, raw = best_of(lambda: run_engine(inp), repeats)
    label_s, _ = best_of(lambda: _label_and_check(inp, raw, scenario), repeats)
    tracemalloc.start()
    try:
        _pipeline(load())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Measurement(
        label, inp.n_months, inp.shape, repeats, load_s, compile_s, engine_s, label_s, peak
    )


# --- scenarios ---------------------------------------------------------------------------


def _line(country: str, product: str, capacity: float, **kw: Any) -> dict[str, Any]:
    line = {
        "name": f"{product} line in {country}",
        "owner": f"{country} Co",
        "country": country,
        "product": product,
        "capacity_per_month": capacity,
        "max_capacity_per_month": 3 * capacity,
        "expansion_lead_time_months": 18,
        "ramp_up_months": 12,
        "capex_usd_per_unit_month": 1e5,
        "order_book_horizon_months": 24,
        "source": "fx",
    }
    line.update(kw)
    return line


def stand_in_scenario() -> dict[str, Any]:
    """A small scenario shaped like the default one, used while ``action-plan`` is missing.

    Four allies and one recipient; two munitions (a shell with a fuze and a
    charge made of nitrocellulose, a missile with a motor); ten lines over
    two component pools; contracts for named and for any eligible lines; aid
    from stock and from production; war consumption; an announced investment
    and a target. Seven years from 2024-01.
    """
    allies = ["AAA", "BBB", "CCC", "DDD"]
    lines = {
        "shell-a": _line("AAA", "shell", 20_000.0, pool="west"),
        "shell-b": _line("BBB", "shell", 15_000.0, pool="west"),
        "shell-c": _line("CCC", "shell", 10_000.0, pool="east"),
        "fuze-a": _line("AAA", "fuze", 30_000.0, pool="west"),
        "fuze-c": _line("CCC", "fuze", 8_000.0, pool="east"),
        "charge-b": _line("BBB", "charge", 25_000.0, pool="west"),
        "charge-c": _line("CCC", "charge", 12_000.0, pool="east"),
        "nc-d": _line("DDD", "nc", 80_000.0, pool="west"),
        "nc-c": _line("CCC", "nc", 20_000.0, pool="east"),
        "missile-d": _line("DDD", "missile", 40.0, expansion_lead_time_months=30),
        "motor-d": _line("DDD", "motor", 50.0),
    }
    contracts: dict[str, Any] = {}
    for i, buyer in enumerate(allies):
        contracts[f"shell-{buyer}"] = {
            "buyers": {buyer: 1.0},
            "product": "shell",
            "quantity": 400_000.0 + 50_000.0 * i,
            "decision": f"202{4 + i % 2}-0{1 + i}",
            "delivery_months": 48,
            "multi_year": True,
            "source": "fx",
        }
    contracts["shell-joint"] = {
        "buyers": {"AAA": 0.5, "BBB": 0.3, "CCC": 0.2},
        "product": "shell",
        "line": "shell-a",
        "quantity": 300_000.0,
        "decision": "2024-06",
        "delivery_months": 24,
        "priority": 2,
        "source": "fx",
    }
    contracts["missile-DDD"] = {
        "buyers": {"DDD": 1.0},
        "product": "missile",
        "quantity": 1_500.0,
        "decision": "2024-03",
        "delivery_months": 36,
        "source": "fx",
    }
    return {
        "id": "bench-stand-in",
        "start": "2024-01",
        "months": 84,
        "sources": {"fx": CITE},
        "parties": {
            **{p: {"name": f"Ally {p}", "kind": "ally"} for p in allies},
            "UKR": {"name": "Recipient", "kind": "recipient", "region": "europe"},
        },
        "products": {
            "shell": {
                "name": "155 mm shell",
                "kind": "munition",
                "unit_price_usd": 4_000.0,
                "bom": {"fuze": 1.0, "charge": 1.0},
                "source": "fx",
            },
            "missile": {
                "name": "Missile",
                "kind": "munition",
                "unit_price_usd": 1e6,
                "bom": {"motor": 1.0},
                "source": "fx",
            },
            "fuze": {"name": "Fuze", "kind": "component", "source": "fx"},
            "charge": {"name": "Charge", "kind": "component", "bom": {"nc": 2.0}, "source": "fx"},
            "nc": {"name": "Nitrocellulose", "kind": "component", "unit": "kg", "source": "fx"},
            "motor": {"name": "Rocket motor", "kind": "component", "source": "fx"},
        },
        "lines": lines,
        "investments": {
            "shell-a-2025": {
                "line": "shell-a",
                "decision": "2025-01",
                "capacity_added_per_month": 10_000.0,
                "source": "fx",
            },
        },
        "contracts": contracts,
        "stocks": {
            **{
                p: {
                    "shell": {"quantity": 200_000.0, "floor": 150_000.0, "source": "fx"},
                    "missile": {"quantity": 300.0, "floor": 200.0, "source": "fx"},
                }
                for p in allies
            },
            "UKR": {"shell": {"quantity": 100_000.0, "source": "fx"}},
        },
        "inventories": {"west": {"fuze": {"quantity": 50_000.0, "source": "fx"}}},
        "consumption": {
            "ukr-war": {
                "party": "UKR",
                "product": "shell",
                "rate_per_day": 2_000.0,
                "source": "fx",
            },
            **{
                f"training-{p}": {
                    "party": p,
                    "product": "shell",
                    "rate_per_month": 2_000.0,
                    "kind": "training",
                    "source": "fx",
                }
                for p in allies
            },
        },
        "aid": {
            "aaa-stock": {
                "donor": "AAA",
                "recipient": "UKR",
                "product": "shell",
                "quantity": 100_000.0,
                "start": "2024-01",
                "end": "2024-12",
                "source": "fx",
            },
            "bbb-production": {
                "donor": "BBB",
                "recipient": "UKR",
                "product": "shell",
                "quantity": 200_000.0,
                "start": "2024-03",
                "end": "2025-12",
                "supply": "production",
                "source": "fx",
            },
        },
        "targets": {
            "stockpile": {
                "parties": allies,
                "product": "shell",
                "quantity": 2_000_000.0,
                "by": "2029-12",
                "source": "fx",
            },
        },
    }


def default_scenario() -> tuple[str, Callable[[], materiel.Scenario]] | None:
    """The default embedded scenario's id and loader, or None where it is not there yet."""
    if DEFAULT_SCENARIO not in materiel.embedded_ids():
        return None
    return DEFAULT_SCENARIO, lambda: materiel.load(DEFAULT_SCENARIO)


# --- PySD reference ----------------------------------------------------------------------

_PARAMETERS = (
    "Initial Capacity",
    "Maximum Capacity",
    "Expansion Lead Time",
    "Order Book Horizon",
    "Contract Quantity",
    "Contract Sign Month",
    "Delivery Months",
    "Initial Buyer Stock",
    "Consumption Start Month",
    "Consumption Rate",
    "FINAL TIME",
)
# materiel variable -> (PySD column, whether it is a stock reported before the month's flows)
ALIGNMENT = {
    "production": ("Production", False),
    "capacity_per_month": ("Capacity", True),
    "capacity_in_use": ("Capacity in Use", False),
    "capacity_added_per_month": ("Capacity Expansion", False),
    "stock": ("Buyer Stock", True),
    "consumed": ("Consumption", False),
    "shortfall": ("Shortfall", False),
}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence PySD's and its dependencies' deprecation chatter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _month_label(index: int, start: str = "2024-01") -> str:
    """``YYYY-MM`` of month ``index`` of a horizon that begins at ``start``."""
    return month_label(parse_month(start) + index)


def reference_scenario(p: dict[str, float]) -> dict[str, Any]:
    """The materiel scenario equivalent to ``supply_chain.mdl`` with parameters ``p``.

    One ally AAA buys one munition from one line: a contract signed in month
    ``Contract Sign Month`` (contracting delay 0) falls due over ``Delivery
    Months``; the line expands against the firm order book after ``Expansion
    Lead Time`` with a one-month ramp (a pure delay); AAA consumes from
    ``Consumption Start Month`` on. Horizon: ``FINAL TIME`` months.
    """
    return {
        "id": "pysd-reference",
        "start": "2024-01",
        "months": int(p["FINAL TIME"]),
        "policy": {"contracting_delay_months": 0},
        "sources": {"fx": CITE},
        "parties": {"AAA": {"name": "Buyer", "kind": "ally"}},
        "products": {
            "shell": {"name": "Shell", "kind": "munition", "unit_price_usd": 1.0, "source": "fx"},
        },
        "lines": {
            "l1": {
                "name": "Line",
                "owner": "Co",
                "country": "AAA",
                "product": "shell",
                "capacity_per_month": p["Initial Capacity"],
                "max_capacity_per_month": p["Maximum Capacity"],
                "expansion_lead_time_months": int(p["Expansion Lead Time"]),
                "ramp_up_months": 1,
                "order_book_horizon_months": int(p["Order Book Horizon"]),
                "source": "fx",
            },
        },
        "contracts": {
            "c1": {
                "buyers": {"AAA": 1.0},
                "product": "shell",
                "line": "l1",
                "quantity": p["Contract Quantity"],
                "decision": _month_label(int(p["Contract Sign Month"])),
                "delivery_months": int(p["Delivery Months"]),
                "source": "fx",
            },
        },
        "stocks": {"AAA": {"shell": {"quantity": p["Initial Buyer Stock"], "source": "fx"}}},
        "consumption": {
            "use": {
                "party": "AAA",
                "product": "shell",
                "rate_per_month": p["Consumption Rate"],
                "start": _month_label(int(p["Consumption Start Month"])),
                "source": "fx",
            },
        },
    }


@dataclass
class PysdRun:
    """A PySD run of ``supply_chain.mdl``: its parameters, trajectories and timings."""

    parameters: dict[str, float]
    trajectories: dict[str, np.ndarray]  # column -> values at times 0 .. FINAL TIME
    translate_s: float
    run_s: float


def run_pysd(repeats: int = 1, mdl: Path = MDL_PATH) -> PysdRun:
    """Translate ``mdl`` with ``pysd.read_vensim`` (in a scratch folder) and run it.

    Returns the model's parameters, the trajectories of the aligned columns,
    the translation time and the best run time of ``repeats`` runs.
    """
    with _quiet():
        import pysd

        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / mdl.name  # read_vensim writes the translated .py beside it
            shutil.copy(mdl, copy)
            t0 = time.perf_counter()
            model = pysd.read_vensim(str(copy))
            translate_s = time.perf_counter() - t0
            params = {name: float(model[name]) for name in _PARAMETERS}
            columns = [column for column, _ in ALIGNMENT.values()]
            run_s, df = best_of(lambda: model.run(return_columns=columns, progress=False), repeats)
    trajectories = {column: df[column].to_numpy(dtype=float) for column in columns}
    return PysdRun(params, trajectories, translate_s, run_s)


def aligned(pysd_run: PysdRun, months: int) -> dict[str, np.ndarray]:
    """PySD's trajectories on materiel's months: stocks one step later, flows as they are."""
    out = {}
    for name, (column, is_stock) in ALIGNMENT.items():
        values = pysd_run.trajectories[column]
        out[name] = values[1 : months + 1] if is_stock else values[:months]
    return out


def materiel_trajectories(result: materiel.Result) -> dict[str, np.ndarray]:
    """materiel's trajectories of the reference scenario, by the names in :data:`ALIGNMENT`."""
    ds = result.dataset.isel(sample=0)
    line = {"line": "l1"}
    cell = {"party": "AAA", "product": "shell"}
    return {
        "production": ds.production.sel(line).values,
        "capacity_per_month": ds.capacity_per_month.sel(line).values,
        "capacity_in_use": ds.capacity_per_month.sel(line).values,
        "capacity_added_per_month": ds.capacity_added_per_month.sel(line).values,
        "stock": ds.stock.sel(cell).values,
        "consumed": ds.consumed.sel(cell).values,
        "shortfall": ds.shortfall.sel(cell).values,
    }


def compare_with_pysd(repeats: int = 1) -> dict[str, Any]:
    """Run the PySD model and its materiel twin; return the largest gaps and both timings.

    ``max_abs_diff`` maps each aligned variable to the largest absolute gap
    over all months; ``matches`` is true when every gap is below
    :data:`MATCH_TOLERANCE`.
    """
    ref = run_pysd(repeats)
    months = int(ref.parameters["FINAL TIME"])
    load_s, scenario = best_of(lambda: materiel.load(reference_scenario(ref.parameters)), repeats)
    compile_s, inp = best_of(lambda: compile_inputs(scenario), repeats)
    engine_s, _ = best_of(lambda: run_engine(inp), repeats)
    result = materiel.simulate(scenario)
    ours = materiel_trajectories(result)
    theirs = aligned(ref, months)
    gaps = {name: float(np.max(np.abs(ours[name] - theirs[name]))) for name in ALIGNMENT}
    return {
        "months": months,
        "parameters": ref.parameters,
        "max_abs_diff": gaps,
        "matches": all(gap < MATCH_TOLERANCE for gap in gaps.values()),
        "pysd_translate_s": ref.translate_s,
        "pysd_run_s": ref.run_s,
        "materiel_load_s": load_s,
        "materiel_compile_s": compile_s,
        "materiel_engine_s": engine_s,
        "engine_over_pysd": engine_s / ref.run_s,
        "pysd_per_month_us": ref.run_s / months * 1e6,
        "materiel_per_month_us": engine_s / months * 1e6,
        "trajectories": {name: ours[name].tolist() for name in ("production", "stock")},
    }


# --- the run -----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


def _verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def _shape(m: Measurement) -> str:
    s = m.shape
    return (
        f"{s['line']} lines, {s['contract']} contracts, {s['party']} parties, "
        f"{s['product']} products, {s['pool']} pools, {s['pledge']} pledges, "
        f"{m.months} months"
    )


def _print_measurement(m: Measurement, engine_target: float | None = None) -> None:
    print(f"  {m.label}: {_shape(m)}")
    print(f"    load            {_ms(m.load_s)}")
    print(f"    compile         {_ms(m.compile_s)}")
    target = f"   (target <= {engine_target * 1e3:.0f} ms: " if engine_target else ""
    verdict = f"{_verdict(m.engine_s, engine_target)})" if engine_target else ""
    print(f"    engine          {_ms(m.engine_s)}{target}{verdict}")
    print(f"    label+checks    {_ms(m.label_s)}")
    print(f"    total           {_ms(m.total_s)}")
    print(f"    peak memory     {m.peak_bytes / 2**20:9.1f} MiB (tracemalloc, whole pipeline)")


_COLD_COMPILE = """
import time
import materiel
from materiel.engine import compile_inputs, run_engine
inp = compile_inputs(materiel.load({scenario!r}))
wall, cpu = time.perf_counter(), time.process_time()
run_engine(inp)
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def cold_compile(scenario: str = DEFAULT_SCENARIO) -> dict[str, float]:
    """First-call kernel compile time (seconds, wall and CPU) with an empty numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {"NUMBA_CACHE_DIR": cache}
        code = _COLD_COMPILE.format(scenario=scenario)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
        ).stdout.split()
    return {"wall_s": float(out[0]), "cpu_s": float(out[1])}


def profile_engine(inp: Inputs, top: int = 15) -> str:
    """cProfile one engine run; the ``top`` functions by own time, as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_engine(inp)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; raise if PySD and materiel disagree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repeat, x1 and x2")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest engine run")
    parser.add_argument("--compile", action="store_true", help="time a cold-cache kernel compile")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (default 7, quick 1)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 7)
    factors = (1, 2) if args.quick else (1, 2, 5, 10)
    months = 60 if args.quick else SCALED_MONTHS
    report: dict[str, Any] = {"repeats": repeats, "targets": TARGETS}
    say: Callable[..., None] = (lambda *a, **k: None) if args.json else print

    # 1. the default scenario
    default = default_scenario()
    say(f"materiel engine benchmark (best of {repeats}; numpy {np.__version__})")
    say(f"\n1. default scenario ({DEFAULT_SCENARIO})")
    if default is None:
        say(
            f"  {DEFAULT_SCENARIO!r} is missing (not among the embedded scenarios): skipped;"
            " the scaling runs below use a stand-in scenario"
        )
        base = materiel.load(stand_in_scenario())
        report["default"] = None
        m = measure(
            "stand-in (indicative only)", lambda: materiel.load(stand_in_scenario()), repeats
        )
        report["stand_in"] = asdict(m)
        if not args.json:
            _print_measurement(m, TARGETS["default_engine_s"])
    else:
        label, load = default
        m = measure(label, load, repeats)
        report["default"] = asdict(m)
        if not args.json:
            _print_measurement(m, TARGETS["default_engine_s"])
            print(
                f"    memory target   <= {TARGETS['default_peak_bytes'] / 1e9:.0f} GB: "
                f"{_verdict(m.peak_bytes, TARGETS['default_peak_bytes'])}"
            )
        base = load()
    report["base"] = base.id

    # 2. the synthetic scenario, scaled
    say(f"\n2. synthetic: {base.id!r} replicated in lines and parties, {months} months")
    say("  (load = scale_scenario: dump, replicate, validate with materiel.load)")
    scaled: list[Measurement] = []
    for factor in factors:
        m = measure(f"x{factor}", partial(scale_scenario, base, factor, months), repeats)
        scaled.append(m)
        if not args.json:
            _print_measurement(m, TARGETS["x10_engine_s"] if factor == 10 else None)
    one = scaled[0]
    say("\n  growth vs x1      entity-months   engine time   per entity-month")
    for m in scaled:
        say(
            f"    {m.label:>4}  {m.entity_months / one.entity_months:8.2f}x  "
            f"{m.engine_s / one.engine_s:12.2f}x   {m.engine_s / m.entity_months * 1e9:10.1f} ns"
        )
    report["scaled"] = [asdict(m) | {"entity_months": m.entity_months} for m in scaled]
    if args.profile:
        biggest = scale_scenario(base, factors[-1], months)
        text = profile_engine(compile_inputs(biggest))
        say(f"\n  cProfile of the x{factors[-1]} engine run\n{text}")
        report["profile"] = text

    # 3. kernel compile
    if args.compile:
        say(f"\n3. kernel compile, empty numba cache ({DEFAULT_SCENARIO})")
        report["cold_compile"] = cold = cold_compile()
        say(f"    first run_engine  wall {cold['wall_s']:.1f} s, CPU {cold['cpu_s']:.1f} s")

    # 4. PySD reference
    say(f"\n4. PySD reference ({MDL_PATH.name})")
    try:
        with _quiet():
            import pysd  # noqa: F401
    except ImportError:
        say("  pysd is not installed: skipped (pip install 'materiel[benchmark]')")
        report["pysd"] = None
    else:
        ref = compare_with_pysd(repeats)
        report["pysd"] = ref
        gap = max(ref["max_abs_diff"].values())
        say(
            f"  {ref['months']} monthly steps; largest gap over "
            f"{', '.join(ref['max_abs_diff'])}: {gap:.3g} "
            f"({'match' if ref['matches'] else 'MISMATCH'}, tolerance {MATCH_TOLERANCE:g})"
        )
        say(f"    PySD translate  {_ms(ref['pysd_translate_s'])}")
        say(
            f"    PySD run        {_ms(ref['pysd_run_s'])}"
            f"   ({ref['pysd_per_month_us']:.1f} us per month step)"
        )
        say(
            f"    materiel engine {_ms(ref['materiel_engine_s'])}"
            f"   ({ref['materiel_per_month_us']:.1f} us per month step)"
        )
        say(f"    ratio           materiel engine / PySD run = {ref['engine_over_pysd']:.3f}")
        if not ref["matches"]:  # an explicit check: ``assert`` would vanish under -O
            raise AssertionError(f"PySD and materiel disagree: {ref['max_abs_diff']}")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report["max_rss_bytes"] = rss * (1 if sys.platform == "darwin" else 1024)
    say(f"\nprocess peak RSS: {report['max_rss_bytes'] / 2**20:.0f} MiB")
    if args.json:
        print(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

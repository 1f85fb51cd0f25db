"""Monte Carlo and sweep benchmark (issues 6, 15): where the time goes, thread scaling, memory.

Run from the repository root::

    python benchmarks/bench_mc.py            # everything, 100,000 samples included
    python benchmarks/bench_mc.py --quick    # small sizes, no 100,000-sample run

Where the time went (profiled with cProfile and per-stage CPU time on the
2-core machine, default scenario ``action-plan`` with the five uncertain
inputs below: 132 months, 62 lines, 205 contracts of which policy slots,
34 parties x 16 products, 87 recorded cells), before issue 15:

- the compiled kernel: ~75% of CPU time (3.8 ms/sample of CPU under a load
  of ~9 on 2 cores; 0.45-1 ms/sample on an idle 16-core machine);
- per-sample input building in numpy under the GIL: ~23% (1.15 ms/sample),
  of which 97% was ``due_schedule``: the ``(sample, month, contract)``
  cumulative schedules through ``linear_schedule`` temporaries;
- result assembly: small in time, but memory grew as ``n * 147 KB``
  (float32 trajectories of every recorded cell and line, plus a float64
  copy in the metrics), so 100,000 samples peaked at 14.7 GB; and threads
  only split each chunk's kernel call, with the input building and the
  copies serial between them.

Since issue 15: schedules are built by a compiled function
(``engine.batch.due_rows``); whole chunks (inputs, kernel, reductions) run
on threads; reductions are streamed (per-sample outcomes, fixed-size fans),
so memory no longer grows with the trajectories. Measured after (2-core
machine under a load average of 10-13 from other sessions, so wall-clock
ratios there are not meaningful; CPU time per sample is): inputs 1.15 ->
0.29 ms/sample, kernel ~4.0 ms/sample (unchanged), streamed reductions
~0.45 ms/sample (mostly the fan sketch's logarithms); peak RSS 670 MiB at
1,000 and 673 MiB at 10,000 samples (was ~147 KB per sample on top);
``materiel mc`` of these inputs at 100,000 samples with ``--out``: peak RSS
731 MiB (target <= 2 GB; 14.7 GB before), 429 s of CPU (4.3 ms/sample).

Outside the kernel, second pass (issue 15; cProfile timed by process_time,
one thread; the old and new code run back to back, 1,000 samples in chunks
of 250, load 8.6-9.1 on 2 cores): inputs 0.303 -> 0.090 ms/sample, the
rest 0.445 -> 0.366 ms/sample (at load ~6: 0.54 -> 0.30), GIL held 5.4% ->
2.2% (two threads at most 1.90x -> 1.96x one); kernel 4.4/4.2 (not
touched here). Where it went and what changed:

- due schedules: a fresh ``(250, 132, 205)`` float64 array per chunk (51
  MiB) is above glibc's mmap threshold, so each chunk mapped and faulted
  it afresh (13,000 page faults, ~0.15 of the 0.19 ms/sample). Now each
  thread fills one buffer kept between chunks
  (``sample_overrides(workspace=)``, ``engine.batch.fill_due_rows``):
  0.045-0.066 ms/sample, bit for bit the same schedules;
- the fan sketch: ``_buckets`` walked series-outer over a sample-major
  array (a 37 KB stride per read), ``_count`` read its buckets with the
  same stride: 0.29 ms/sample at first; now blocks of 64 series, buckets
  written series-major, runs of equal buckets counted at once: 0.15-0.27
  ms/sample, of which 88% is one logarithm per value (production of a
  line differs from one sample to the next in 88% of cases, 34 buckets
  per series; a frexp-and-polynomial guess with an exact table check was
  not faster without SVML; a table lookup and the exact thresholds are,
  see the third pass below);
- target series (a numpy gather and sum per target): 0.085 -> 0.013
  ms/sample in one compiled loop (``_target_series``);
- sweeps skip the sketch altogether (``sample(fans=False)``: tasks only
  write per-sample outcomes) and build their outcome table in one frame
  (a frame per target and a concat cost 50 ms per task).

Chunks are now equal and a whole number per thread (``chunk_bounds``): 400
samples on two threads ran as 250 + 150 (the thread with 250 set the
pace), now 200 + 200. ``materiel mc`` of these inputs (written as a TOML
file) with ``--samples 20000 --out DIR`` on 2 threads: 90 s user + 7 s
system CPU (4.9 ms/sample including start-up, metrics and writing), peak
RSS 785 MiB, 7 min 15 s wall at 22% of a core (load ~10); 10^6 samples
would need about 80 min of CPU here, at a peak RSS near 1 GB (per-sample
outcomes, their requirements and draws, ~300 bytes a sample, are all that grows).

The kernel, line by line (perf on a ``NUMBA_DEBUGINFO=1`` build, samples
mapped to source lines with addr2line): no single hot spot. Per month it
walked every receipt row (623) and payment row (630) whatever was
delivered, every party x line fleet lot (2,108) twice, every assignment
(505) in each ``_split``; 11-14% went to page faults (per-sample copies of
the 132 x 205 due schedules, fresh output arrays). Now receipts and
payments visit only contracts that delivered, lots only while rounds wait
in one, ``_split`` skips contracts with nothing to share, and per-sample
copies are allocated once per call; results are bit for bit the same.
Same machine, same run of stage 1, before -> after: kernel 5.55 -> 3.76
ms/sample of CPU, total 6.52 -> 4.80. The GIL is held for 6% of the CPU
time (stage 1 prints it), a bound of 1.88x on two threads: what kept the
2-thread ratio at 1.41x here was the machine's load, not the GIL. The
0.3 ms/sample target is not met: the kernel's per-month work over every
row is still the cost. ``materiel mc`` of these inputs with ``--samples
1000000 --out`` (chunks of 250, 2 threads, load 12-14): stopped after
19 min wall, 313 s of CPU (about 65,000 samples) at a peak RSS of 0.99 GB,
flat since the start (draws and per-sample outcomes for all 10^6 samples
are allocated up front); the whole run needs about 80 min of CPU here.
Writing it no longer builds two (sample, target, month) arrays (1.3 GB
each at 10^6 samples) for ``met_by_month``.

Third pass (issue 15; same machine, load 3-5 on 2 cores from other
sessions, so each figure is the smallest CPU time of 3 processes x 4
repeats, old and new code alternated; wall-clock ratios there are noise):

- the kernel, profiled line by line as above: 17% of it was one line of
  ``_book_to_room``, ``room += _room(ln, committed, cap_max, lines)``. A
  compiled call takes a reference to every array of a tuple it is given
  (``Lines``: 23 arrays), and ``_room`` ran per line per level twice a
  month. The bill-of-materials helpers now take a five-array ``_Tree`` and
  ``_room`` the one array it reads; after that the profile is flat (the
  largest lines: the per-month walk of every contract and assignment in
  step 1, 7%; ``_split``, 6%; receipts, 3%; calls into ``fleets`` and
  ``policy`` with whole tuples, ~5%, left as they are). Kernel 2.33 ->
  2.15 ms/sample (250 samples, lean outputs);
- a lean Monte Carlo chunk (no trajectories kept) records only what its
  reductions read (``run_engine(lean=False)``: stock, usable stock,
  production, payments, capex; not capacity, shortfall, unusable or fleet
  stocks, ~280 of ~630 KB a sample no longer written), into per-thread
  output buffers reused chunk after chunk (``run_engine(buffers=)``; the
  kernel zeroes each sample's rows of the outputs it adds to), so no fresh
  pages are faulted in per chunk;
- the fan sketch finds each bucket from a table indexed by the value's
  exponent and top 8 mantissa bits, then the exact thresholds (found once
  by bisection on the logarithm definition), not a logarithm per value:
  the same bucket for every double (tested one ulp either side of every
  threshold); the line fan 0.094 -> 0.070 ms/sample;
- a whole chunk (inputs, kernel, reductions, fans): 2.57 -> 2.12
  ms/sample of CPU (-18%). Two threads: CPU/wall stayed at 0.9-1.6 in
  every run here (the other sessions held the second core), so the 1.8x
  target could not be checked on this machine. The 0.3 ms target is not
  met: the kernel is still ~2.1 ms/sample of work spread over every step.

Fourth pass (issue 15, kernel15b; 2-core machine at load 3.3-5.5 from other
sessions; old and new code alternated, each figure the smallest CPU time of
6 repeats, ``kernel_alone`` below). Profile first (perf on a
``NUMBA_DEBUGINFO=1`` build with a fresh cache, samples mapped to source
lines with addr2line, calls into other compiled functions to their
entry points): the kernel's body ~50%, the bill-of-materials helpers
~26% (``_down_the_bom`` 14, ``_add_needs`` 6, ``_book_to_room`` 5,
``_room`` 1.5), ``_split`` 10%, ``policy.review`` 6%, ``fleets`` 5%; in
the body, step 1's walk of every contract and assignment ~12%, deliveries'
walk of every assignment ~8%, receipts ~8%. Forcing the helpers inline
(``inline="always"``) changed nothing: their cost is work, not calls.
What changed (outputs bit for bit the same, ``tools/kernel_outputs.py``):

- dormant contracts: one with neither open orders nor firm book is
  skipped until the first month either may be nonzero (``kernel._wake``:
  its due schedule passing what it has received, or its signature for a
  firm one with book; a review that rewrites a slot wakes it); step 1
  walks only the assignments of the others (rebuilt when one falls asleep
  or wakes);
- deliveries and ``fleets.receive`` visit only the live assignments
  (unless a contract is kept per receiver), run by run of a line;
- ``fleets.mark_by_receiver``: the month a contract turns per receiver
  depends on the month alone, found once per call
  (``fleets.by_receiver_from``), not searched every month;
- bill-of-materials needs skip lines with nothing to pass on; receipts
  index the stock by a cell found once per call; ``_split`` zeroes its
  sums with one memset.

Kernel alone (250 samples, lean; three alternations at load 3.3-3.5)
1.86-1.90 -> 1.66-1.69 ms/sample (-11%); a whole chunk 2.05-2.12 ->
1.84-1.88 (-10%). The 0.3 ms target is still
far: after this pass the profile is flat again (the bill-of-materials
passes over all 62 lines twice a month, ``_split`` over the live
assignments twice a month, ``policy.review`` ~6%, ``_wake``'s column scans
~3%, the payments ~3%); the next step would be structural (lines with no
book and no orders skipped in the bill of materials, the per-sample copy of
the due schedules only for policy slots).

Fifth pass (issue 15, kernel15c; 2-core machine at load 3.3-4.5 from other
sessions; old and new code alternated six times, each figure the smallest
CPU time of 5 repeats, ``kernel_alone``):

- the fan sketches cost less than the 0.235 ms/sample once attributed to
  them: a whole chunk with fans 1.953, without (``fans=False``) 1.900
  ms/sample (0.05); bucketing the two fans of one captured chunk alone,
  hot in cache: ``_buckets`` 0.007 + 0.047, ``_count`` 0.002 + 0.015
  ms/sample (targets, lines). Left as they are: at most 3% of a chunk;
- the kernel's per-sample copy of the due schedules (132 x 205 doubles, 216
  KB a sample) now copies only the policy slots' columns (``due_col``;
  every other contract's schedule is read from the sample's row), and
  ``policy.review`` keeps its two shares in scalars, not an ``np.empty(2)``
  per review. Bit for bit the same (``tools/kernel_outputs.py``: 242 of 242
  arrays). Kernel alone old/new 1.724/1.652, 1.675/1.640, 1.654/1.682,
  1.701/1.682, 1.705/1.713, 1.638/1.732 ms/sample; whole chunk
  1.913/1.844, 1.848/1.813, 1.811/1.870, 1.864/1.859, 1.897/1.884,
  1.856/1.886: no change this machine can measure (smallest of all: old
  1.638, new 1.640). The kernel's cost is the per-month work over its
  rows, not the copies; with pools x products only 2 x 16 here, the
  per-cell loops of step 4 are not it either.

Main at 594e08d, every helper stopped (Dec 1, 09:45 UTC, load 1.9-2.2 from this run):
kernel alone 1.62, whole chunk 1.78 ms/sample; stage 1 kernel 1.82 / inputs 0.08 / rest
0.27 = 2.17 ms; 2 threads 1.68x one (CPU/wall 1.83, CPU per sample 1.89 -> 2.06 ms on two
threads; 1.92x in the last session's quiet run); peak 689 MiB at 1,000, 10,000 and
100,000 samples (100,000 in 106 s); sweep 2 workers 1.80x one. 1,000,000 samples of
action-plan with these five distributions (``materiel mc ... --samples 1000000 --threads 1
--out DIR``, nice 19 beside other work, kernel before the fourth pass): exit 0, 2,289 s
CPU, peak RSS 858 MiB.

Sixth pass (issue 15, kernel15d; 2-core machine at load 1.6-2.1 from other
sessions; old (140630d) and new code alternated three times, each figure the
smallest CPU time of 6 repeats, ``kernel_alone``). The profiles above missed
one cost: numba's reference counting. Every array a compiled call is given,
and every field of a tuple read beside a call, is taken and dropped with an
atomic add (``NRT_incref``/``NRT_decref``), in JIT code outside the kernel's
own library, so mapping perf samples to the kernel's lines never showed it.
Counted with a gdb breakpoint on each (return addresses mapped with addr2line
on the cached object code; NS=3 samples minus NS=1, so per-call work cancels):
on the normal build 51.3k a sample before, 15.2k after (a ``NUMBA_DEBUGINFO=1``
build, whose profile first showed them at 20%, made 188k in a one-sample call). Where:
``_book_to_room`` reading five ``_Tree`` fields per line beside a call of
``_room`` (three arrays) per line and level, twice a month;
``fleets.receive`` called every month with ~30 arrays though only two
contracts here have a receiver that keeps fleets; ``fleets.delivery_share``
(five arrays per row), a slice view per assignment in ``fleets.split``,
``stocks.consumption_floor`` read beside ``fleets.consume``. Now ``_room``
and ``delivery_share`` take values; ``_book_to_room`` takes the line arrays
and a depth's range and, with ``_add_needs``, is inlined (``inline="always"``:
the argument references pair up in the caller and are pruned); the month
loop reads line arrays hoisted once per call; ``receive`` runs only in a
month something was delivered to such a contract; ``mark_by_receiver`` only
from the first month a contract may turn per receiver, and the firm book's
``fleets.split`` only while one is kept per receiver (each walked all 205
contracts a month to do nothing here). Bit for bit the same
(``tools/kernel_outputs.py``: 242 of 242 arrays); cold compile unchanged (89
s for both). Kernel alone old/new 1.921/1.680, 2.088/1.632, 1.904/1.629
ms/sample (-14%); whole chunk 2.045/1.885, 2.048/1.920, 2.088/1.856 (-9%).
Two threads: not measurable here (the other sessions held the second core:
CPU/wall 0.7-1.03 in four runs); with 3.4x fewer atomic operations, many on
the reference counts of input arrays both threads share, two threads should
contend less: to be checked on a quiet or larger machine. Tried and dropped: inlining
``_down_the_bom`` as well (15.2k -> 11.0k operations a sample, but +35 s of
cold compile for ~1.5%). Left: ~6k operations a sample at calls from
``step`` (``_down_the_bom`` twice a month, ``_wake``, ``policy.review``);
``gc_collect_main`` is ~3% of a process running ``run_engine`` in a loop
(Python side, ``engine/core.py``). The profile is flat again (normal build:
``step``'s body 56%, ``_down_the_bom`` 18%, ``_split`` 12%, ``review`` 4%),
so 0.3 ms/sample would need a different layout (e.g. samples as the inner
loop), not more skipping.

Seventh pass (issue 15, kernel15e; 2-core machine at load 1.4-4.7 from other
sessions; old (17e341c) and new code alternated, each figure the smallest CPU
time of 6 repeats). The idea measured: loop over the cells that can move, not
over every (party, product) or (pool, product) cell. Counted first on this
scenario: every one of the 62 lines produces, has orders, book and capacity
in some month; 187 of 205 contracts deliver (18% of contract-months); the
dense cell loops are few here: no pledges (step 6 and ``fleets.aid`` never
run), 2 pools x 16 products. So:

- step 6 (aid) and ``fleets.aid`` visit only the pledges' donor cells, the
  cells with fleets and their lots (the 34 x 62 lot loops twice a month,
  three ``(P, K)`` arrays allocated a month, now per-call scratch zeroed only
  where written): hindcast-2022 (17 pledges, the only embedded scenario with
  any) kernel 0.664-1.098 -> 0.436-0.461 ms/sample (200 samples);
- one pass over the contracts a month after deliveries (not two); ``unfilled``
  one row per owner (36), not per line (62); the per-sample reset of the
  capacity increments zeroes only the months past ``T`` (65 KB less memset a
  sample of the ~160 KB the reset wrote; the other per-sample copies are
  under 10 KB together).

Bit for bit the same (``tools/kernel_outputs.py``: 242 of 242 arrays). This
scenario's kernel alone, old/new: 1.589/1.591, 1.565/1.599 (first step),
1.634/1.602, 1.686/1.608, 1.636/1.706 ms/sample (final, load 1.8-2.1): no
change this machine can resolve (+-3% between repeats). Tried and dropped:
step 4's need and fraction only at the (pool, input) cells some line at each
depth draws on (an index list per depth): the dense 32-cell loops cost less
than the indirect ones (smallest of four alternations: old 1.585, with it
1.659, without it 1.625 ms/sample). Two threads: not measurable here
(``run_engine`` on 500 samples, one thread against two, wall ratio 0.82-2.04
and CPU per sample +-5% to +27% in the same minutes, old and new alike);
the GIL is held for 2.5% of a chunk (stage 1), so it is not the limit. Not
done: giving each thread its own copies of the shared input arrays that
month-loop calls take references to (``_split``'s assignments,
``_down_the_bom``'s tree and rows, ``fleets.consume``'s fleets,
``policy.review``'s tuples), which would keep those reference counts off
cache lines both threads write; to be measured where two idle cores are
lent. The kernel's remaining per-month work is over lines, contracts and
assignments that are all live here, so skipping cells cannot reach 0.3
ms/sample.

Eighth pass (issues 15 and 18, kernel15f; 2-core machine at load 2.6-4.7 from other
sessions; old (f2e2c09) and new code alternated, each figure the fastest of its repeats):
what ``run_engine`` costs around the compiled kernel for one web run (stage 1c below:
``kernel.step`` timed inside the ``run_engine`` calls of 20 knobbed, retuned runs). Before:
``kernel_args`` 0.15-0.29 ms (of which the due schedules in numpy temporaries 0.11), the
output views 0.07-0.10 ms (a slice, ``view`` and ``reshape`` for each of 242), numba's
dispatch of the grouped arguments ~0.02 ms (the dispatcher for no sample 0.075 ms against
0.053 ms through the compiled overload's entry point), the kernel's own per-call set-up
and unboxing ~0.05 ms. What changed, bit for bit the same (``tools/kernel_outputs.py``: 242
of 242 arrays):

- the due schedules come from the compiled ``core.fill_due_rows`` (moved from
  ``engine.batch``, which Monte Carlo already used), now with ``error_model="numpy"``: no
  division-by-zero check per element, so its loop vectorises (one row 0.048 -> 0.025 ms,
  250 rows 0.061 -> 0.026 ms/sample in isolation; stage 1's due schedules, memory-bound at
  54 MB a chunk, 0.079 -> 0.063 ms/sample); a Hypothesis test checks it against
  ``inputs.due_share`` byte for byte. A single run now loads one more compiled function
  from numba's cache on its process's first run (Monte Carlo already did): a small cached
  function loaded after the kernel costs 5-8 ms once (measured on ``group_sums``); in
  numpy with in-place passes the schedules took 0.12-0.14 ms, no better than before;
- the derived inputs the knobs never change (lines by depth, receivers' cells, pledges'
  schedules) are built and cast once per set of their fields (``ByIdentity``, as the
  layouts are): ``kernel_args`` on knobbed inputs 0.15-0.26 -> 0.05-0.09 ms;
- each layout carries where every output lies in the block, and the views are made by
  ``np.ndarray`` at those offsets: 0.07-0.10 -> 0.03-0.05 ms.

Stage 1c, old/new alternating (ms): run_engine 2.893/2.363, 5.296/3.080, 2.773/2.603,
4.730/3.957; around the kernel 0.673/0.268, 1.297/0.332, 0.652/0.342, 1.119/0.617; fastest
run_engine 2.773 -> 2.363 (-15%), around the kernel 0.652 -> 0.268 (-59%); the compiled
kernel 2.1-2.2 ms of it at best (not changed). ``kernel_alone`` (1b) old/new 1.676/1.599,
1.649/1.658, 1.609/1.779, 1.829/1.738 ms/sample: unchanged, as it should be (the kernel is
not touched; the 0.3 ms target stays far). ``bench_web.py --phases-only``'s run_engine
figure (n=20, mean) swung 2.7-4.0 ms old and 3.0-3.9 ms new in the same minutes: it cannot
resolve 0.3 ms here. ``phases(n=120)`` in six pairs at load 5-6, the machine slowing
throughout: old run first, old/new 2.6/3.2, 3.5/3.9, 4.0/4.4 ms; new run first, new/old
2.7/3.0, 3.2/3.3, 3.5/3.8 ms: each version lost the pairs it ran second in. run_engine's
share of the request, which that drift moves less: 39-43% old (mean 40.7), 36-39% new
(38.2). Did not pay, or not done: calling the compiled overload's entry point
in place of the dispatcher (0.02 ms, and it skips the type checks that make a read-only or
differently typed array safe); a pool of output blocks (no page faults to save: 0 minor
faults a run with 16 results kept alive, glibc hands the freed 1.6 MB block back); a sparse
fill of the schedules (only the ramp months divided: 0.023 ms for one row but 0.067
ms/sample for 250, slower than the vectorised loop). What is left for the web: the kernel,
1.7-1.9 ms for one sample, of which recording every output costs ~0.19 ms (the same run
with only the lean outputs: 1.69 against 1.87 ms); whether the web needs all 242 is for the
caller to say (``record=``). The kernel's per-month work is what stays, as the passes
above found.

Measured in one run (each figure printed with its ratio):

1. per-stage CPU time per sample on one thread (inputs, kernel, reductions)
   and the share of it that holds the GIL; 1b. the kernel alone and a whole
   chunk, smallest CPU time of several repeats; 1c. ``run_engine`` for one web
   run: the compiled kernel and what is around it;
2. thread scaling: the same 2,000 samples on 1 and on every core;
3. peak memory (``ru_maxrss`` of a fresh process) at 10,000 and 100,000
   samples, streamed (no trajectories kept);
4. per-sample cost against ``simulate`` once per sample;
5. the PySD reference model against materiel's ``sample`` (``--reference``);
6. sweep: 2 variants x 400 samples on a LocalCluster of 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import subprocess
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
    "lines": {
        "rheinmetall-unterluess": {
            "expansion_lead_time_months": {"dist": "triangular", "low": 12, "mode": 18, "high": 30}
        }
    },
    "uncertain": {
        "stocks.USA.shell-155mm.quantity": {"dist": "normal", "mean": 1e6, "sd": 2e5, "min": 0},
        "consumption.usa-155mm-training.rate_per_month": {
            "dist": "uniform",
            "low": 4e3,
            "high": 12e3,
        },
        "contracts.ukr-155-us-2025-2026.contracting_delay_months": {
            "dist": "choice",
            "values": [3, 9, 15],
        },
        "policy.consumption_scale": {"dist": "lognormal", "median": 1.0, "sigma": 0.2},
    },
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_NOGIL = {
    "step": "kernel",
    "fill_due_rows": "inputs",
    "_buckets": "reductions",
    "_count": "reductions",
    "_target_series": "reductions",
}
"""Compiled functions that run without the GIL (numba ``nogil``), by stage."""


def stages(n: int = 500, chunk: int = 250) -> float:
    """CPU time per sample of each stage on one thread and the GIL-held share; returns the total.

    One profiled run of ``chunk`` after ``chunk`` (cProfile timed by
    ``time.process_time``, so other processes on the machine do not count):
    the compiled functions that release the GIL (:data:`_NOGIL`) against
    everything else, which holds it (numpy, Python). With a share ``g`` held,
    two threads can be at most ``2 / (1 + g)`` times faster than one.
    Stages: ``inputs`` is :func:`~materiel.engine.batch.sample_overrides`
    (all of it); ``kernel`` the compiled step alone; ``reductions`` the
    rest of a chunk (run_engine's output arrays, per-sample outcomes, fans).
    """
    import cProfile
    import pstats

    from materiel.analysis.montecarlo import _Run
    from materiel.engine import compile_inputs
    from materiel.scenario.uncertainty import draw

    s = materiel.load(UNCERTAIN)
    inp = compile_inputs(s)
    draws = draw(s.uncertain, s.correlations, n, 1)
    _Run(s, inp, draws, np.arange(n), {}, False).chunk(0, 10)  # compile
    run = _Run(s, inp, draws, np.arange(n), {}, False)
    profile = cProfile.Profile(time.process_time)
    c0 = time.process_time()
    profile.enable()
    for first in range(0, n, chunk):
        run.chunk(first, min(chunk, n - first))
    profile.disable()
    total = (time.process_time() - c0) / n
    free = dict.fromkeys(["kernel", "inputs", "reductions"], 0.0)
    own: dict[str, float] = {}
    inputs = 0.0
    for (_file, _line, fn), (_cc, _nc, tt, cum, _callers) in pstats.Stats(profile).stats.items():
        own[fn] = own.get(fn, 0.0) + tt / n
        if fn in _NOGIL:
            free[_NOGIL[fn]] += tt / n
        if fn == "sample_overrides":
            inputs = cum / n
    held = 1 - sum(free.values()) / total
    rest = total - free["kernel"] - inputs
    sketch = own.get("_buckets", 0.0) + own.get("_count", 0.0)
    load = os.getloadavg()[0]
    print(
        f"1. CPU time per sample on one thread ({n} samples in chunks of {chunk}, action-plan, "
        f"5 uncertain inputs; load {load:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"  kernel {free['kernel'] * 1e3:.3f} ms  inputs {inputs * 1e3:.3f} ms "
        f"(due schedules {free['inputs'] * 1e3:.3f})  reductions and the rest "
        f"{rest * 1e3:.3f} ms (fan sketches {sketch * 1e3:.3f}, target series "
        f"{own.get('_target_series', 0.0) * 1e3:.3f})  total {total * 1e3:.3f} ms/sample "
        f"(target <= 0.3)"
    )
    print(
        f"  GIL held {held:.1%} of it (all but {', '.join(_NOGIL)}): "
        f"two threads at most {2 / (1 + held):.2f}x one (target >= 1.8x)"
    )
    return total


def kernel_alone(n: int = 250, repeats: int = 6) -> float:
    """CPU time per sample of the compiled kernel alone and of a whole chunk; returns the kernel's.

    The smallest of ``repeats`` (``time.process_time``, one thread, so other
    processes on a shared machine count as little as they can): ``run_engine``
    on ``n`` drawn samples recording what a lean Monte Carlo chunk records,
    into buffers kept between repeats, and a whole chunk (inputs, kernel,
    reductions, fans). To compare two versions of the code, run this script
    with each one's ``src`` first on ``PYTHONPATH``, alternately.
    """
    from materiel.analysis.montecarlo import _Run
    from materiel.engine import compile_inputs, run_engine
    from materiel.engine.batch import sample_overrides
    from materiel.engine.core import kernel_args
    from materiel.scenario.uncertainty import draw

    s = materiel.load(UNCERTAIN)
    inp = compile_inputs(s)
    base = kernel_args(inp)
    draws = draw(s.uncertain, s.correlations, n, 1)
    overrides = sample_overrides(s, inp, draws, base)
    run = _Run(s, inp, draws, np.arange(n), {}, False)
    buffers: dict[str, np.ndarray] = {}

    def kernel() -> None:
        run_engine(
            inp,
            n,
            overrides=overrides,
            base=base,
            threads=1,
            lean=False,
            record=run.record,
            cells=run.cells,
            buffers=buffers,
        )

    kernel()
    run.chunk(0, n)
    k_took, c_took = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        kernel()
        k_took.append(time.process_time() - c0)
        c0 = time.process_time()
        run.chunk(0, n)
        c_took.append(time.process_time() - c0)
    k, c = min(k_took) / n, min(c_took) / n
    print(
        f"1b. kernel alone {k * 1e3:.3f} ms/sample, whole chunk {c * 1e3:.3f} ms/sample "
        f"(CPU, smallest of {repeats}, {n} samples, one thread; load "
        f"{os.getloadavg()[0]:.1f}; target <= 0.3)"
    )
    return k


def one_run(n: int = 20, repeats: int = 15) -> float:
    """Time of ``run_engine`` for one run as ``/api/simulate`` makes it, and of the compiled
    kernel within it; returns run_engine's.

    The default scenario with ``n`` sets of knobs (extra contracting delay, consumption
    scale), each retuned from one template's inputs as the web does
    (:func:`materiel.engine.inputs.retune`), one sample, every output, the live cells
    (:func:`materiel.engine.cells.live_cells`). ``kernel.step`` is timed inside those
    ``run_engine`` calls (wrapped for this measurement), so what is around the kernel
    (inputs by name, output block, arguments' tuples) is ``run_engine`` minus the kernel
    in the same calls; of ``repeats`` passes over the ``n`` runs, the fastest
    (``time.perf_counter``, one thread) is printed. Also: the kernel for no sample
    (numba's dispatch, unboxing and the kernel's per-call set-up) and ``kernel_args``.
    """
    from materiel.engine import compile_inputs, kernel, run_engine
    from materiel.engine.cells import live_cells
    from materiel.engine.core import kernel_args
    from materiel.engine.inputs import retune

    template = compile_inputs(materiel.load("action-plan"))
    runs = []
    for i in range(n):
        knobs = {"extra_contracting_delay_months": i % 13, "consumption_scale": 0.5 + 0.075 * i}
        inp = retune(
            template,
            materiel.load({"extends": "action-plan", "policy": knobs}),
            template.contract_quantity,
        )
        runs.append((inp, live_cells(inp)))
    step = kernel.step
    in_kernel = [0.0]

    def timed(*args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        step(*args, **kwargs)
        in_kernel[0] += time.perf_counter() - t0

    best = (float("inf"), 0.0)
    kernel.step = timed
    try:
        for inp, cells in runs:
            run_engine(inp, cells=cells)
        for _ in range(repeats):
            in_kernel[0] = 0.0
            t0 = time.perf_counter()
            for inp, cells in runs:
                run_engine(inp, cells=cells)
            best = min(best, ((time.perf_counter() - t0) / n, in_kernel[0] / n))
    finally:
        kernel.step = step
    whole, alone = best
    inp, cells = runs[0]
    bare = min(_time(lambda: run_engine(inp, 0, cells=cells)) for _ in range(200))
    args = min(_time(lambda: kernel_args(inp)) for _ in range(200))
    print(
        f"1c. run_engine for one web run (action-plan, {n} knob sets retuned, one sample, "
        f"every output, live cells; fastest of {repeats} passes; load "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(
        f"  run_engine {whole * 1e3:.3f} ms = compiled kernel {alone * 1e3:.3f} ms "
        f"({alone / whole:.0%}) + around it {(whole - alone) * 1e3:.3f} ms; run_engine for "
        f"no sample {bare * 1e3:.3f} ms, kernel_args {args * 1e3:.3f} ms"
    )
    return whole


def thread_scaling(n: int = 2000) -> None:
    """The same ``n`` samples on 1, 2 and every core, in the library's default chunks.

    Wall time, and CPU time of the process (``time.process_time``, every
    thread): CPU/wall is the parallelism the threads actually got, so a
    wall-time ratio below it is the machine's load, not the library (other
    processes take the cores). The default chunks give every thread the
    same number of equal chunks (:func:`~materiel.analysis.montecarlo.chunk_bounds`).
    """
    from materiel.analysis.montecarlo import chunk_bounds

    cores = os.cpu_count() or 1
    counts = sorted({1, 2, cores} & set(range(1, cores + 1)))
    materiel.sample(UNCERTAIN, 20, seed=0, trajectories=False)
    took, cpu, load = {}, {}, {}
    for threads in counts:
        c0 = time.process_time()
        took[threads] = _time(
            lambda t=threads: materiel.sample(UNCERTAIN, n, seed=1, threads=t, trajectories=False)
        )
        cpu[threads] = time.process_time() - c0
        load[threads] = os.getloadavg()[0]
    print(
        f"2. thread scaling, {n} samples in the default chunks, wall and CPU time ({cores} cores)"
    )
    for threads in counts:
        target = "  (target >= 1.8x)" if threads == 2 else ""
        dt = took[threads]
        sizes = sorted(set(np.diff(chunk_bounds(n, 250, threads)).tolist()))
        print(
            f"  {threads:>2} thread(s): {dt:7.2f} s wall  {n / dt:6.0f} samples/s  "
            f"{took[1] / dt:5.2f}x{target}  CPU {cpu[threads] / n * 1e3:.3f} ms/sample, "
            f"CPU/wall {cpu[threads] / dt:4.2f}  chunks of {sizes} "
            f"(load {load[threads]:.1f})"
        )


def peak_memory(sizes: list[int]) -> None:
    """Peak resident memory of a fresh process running ``sample`` (streamed)."""
    print("3. peak memory (ru_maxrss of a fresh process; streamed, no trajectories kept)")
    code = (
        "import resource,sys,time; sys.path.insert(0,'benchmarks'); import materiel;"
        "from bench_mc import UNCERTAIN; n=int(sys.argv[1]); t=time.perf_counter();"
        "materiel.sample(UNCERTAIN, n, seed=1, trajectories=False).metrics();"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    base = None
    for n in sizes:
        out = subprocess.run(
            [sys.executable, "-c", code, str(n)], capture_output=True, text=True, check=True
        ).stdout.split()
        dt, mb = float(out[0]), float(out[1])
        base = base or mb
        target = "  (target <= 2 GB)" if n == 100_000 else ""
        print(
            f"  N = {n:>7,}: {mb:7.0f} MiB peak ({mb / base:4.2f}x the smallest), "
            f"{dt:7.1f} s, {dt / n * 1e3:.3f} ms/sample wall{target}"
        )


def against_one_at_a_time(n: int = 20) -> None:
    mc = materiel.sample(UNCERTAIN, 2000, seed=2, trajectories=False)
    per_sample = (
        min(
            _time(lambda: materiel.sample(UNCERTAIN, 2000, seed=2, trajectories=False))
            for _ in range(2)
        )
        / 2000
    )
    s = mc.scenario
    deterministic = min(_time(lambda: materiel.simulate(s)) for _ in range(3))
    one_at_a_time = []
    for i in range(n):
        one_at_a_time.append(_time(lambda i=i: materiel.simulate(mc.scenario_for(i))))
    print("4. per-sample cost (default scenario), every core")
    print(f"  vectorised sample():           {per_sample * 1e3:8.3f} ms/sample")
    print(
        f"  one deterministic simulate():  {deterministic * 1e3:8.3f} ms "
        f"(per-sample cost = {per_sample / deterministic:.1%} of it; target <= 5%)"
    )
    print(
        f"  simulate() once per sample:    {np.mean(one_at_a_time) * 1e3:8.3f} ms/sample "
        f"(vectorised is {np.mean(one_at_a_time) / per_sample:.0f}x faster)"
    )


def against_pysd(n: int = 200) -> None:
    ref = run_pysd(1, MDL_PATH)
    params = ref.parameters
    scenario = reference_scenario(params)
    scenario["uncertain"] = {
        "consumption.use.rate_per_month": {
            "dist": "uniform",
            "low": 0.5 * params["Consumption Rate"],
            "high": 1.5 * params["Consumption Rate"],
        }
    }
    materiel.sample(scenario, 10, seed=0)
    t_ours = _time(lambda: materiel.sample(scenario, 10_000, seed=1, trajectories=False)) / 10_000
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
    print("5. PySD reference model (supply_chain.mdl), one run per sample")
    print(f"  PySD:     {t_pysd * 1e3:8.3f} ms/sample ({n} runs)")
    print(f"  materiel: {t_ours * 1e3:8.4f} ms/sample (sample() of the same model, N = 10,000)")
    print(f"  ratio: materiel is {t_pysd / t_ours:,.0f}x faster (target >= 100x)")


def _warm() -> None:
    """On a sweep worker: import materiel and load the compiled functions from numba's cache
    (about 3.6 s of CPU per process here), as its first task would."""
    materiel.sample(UNCERTAIN, 2, seed=0, threads=1, trajectories=False, fans=False)


def _worker_state() -> tuple[float, int, int]:
    """On a sweep worker: its process CPU time and its cache of prepared variants (hits, misses)."""
    from materiel.analysis.sweep import prepared

    info = prepared.cache_info()
    return time.process_time(), info.hits, info.misses


def sweep_throughput(samples: int = 400) -> None:
    """The same sweep on a LocalCluster of 1, 2 and every-core workers, task size adapted.

    The cluster is started (and each worker has loaded materiel and the
    compiled kernel, :func:`_warm`) before the clock starts, and its start-up is printed
    apart: the sweep's own wall time, the workers' CPU time (summed over
    workers, from each worker process), and the workers' cache of prepared
    variants (a variant is loaded and compiled once per worker, then hit
    by each later task of it).
    """
    from dask.distributed import Client, LocalCluster

    from materiel.analysis.sweep import SweepSpec, expand, run_sweep, task_size

    spec = SweepSpec(
        scenario="action-plan",
        samples=samples,
        seed=1,
        grid={"policy.extra_contracting_delay_months": [0, 12]},
    )
    base = copy.deepcopy(UNCERTAIN)
    variants = [
        (
            label,
            {
                **base,
                **{k: v for k, v in overlay.items() if k != "extends"},
                "policy": overlay["policy"],
            },
        )
        for label, overlay in expand(spec, "action-plan")
    ]
    cores = os.cpu_count() or 1
    print(
        f"6. sweep: {len(variants)} variants x {samples} samples on a LocalCluster of "
        f"single-threaded worker processes ({cores} cores), task size adapted"
    )
    took: dict[int, float] = {}
    for workers in sorted({1, 2, cores}):
        t0 = time.perf_counter()
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(_warm)
            start = time.perf_counter() - t0
            before = client.run(_worker_state)
            with tempfile.TemporaryDirectory() as tmp:
                took[workers] = _time(
                    lambda d=tmp, a=cluster.scheduler_address: run_sweep(
                        spec, variants, Path(d), scheduler=a
                    )
                )
            after = client.run(_worker_state)
        cpu = sum(after[w][0] - before[w][0] for w in after)
        hits = sum(after[w][1] - before[w][1] for w in after)
        misses = sum(after[w][2] - before[w][2] for w in after)
        size = task_size(spec, len(variants), workers)
        total = len(variants) * samples
        dt = took[workers]
        load = os.getloadavg()[0]
        print(
            f"  {workers:>2} worker(s): {dt:6.2f} s wall ({start:4.1f} s cluster start apart), "
            f"{total / dt:5.0f} samples/s  {took[1] / dt:4.2f}x  workers' CPU "
            f"{cpu / total * 1e3:.2f} ms/sample, CPU/wall {cpu / dt:4.2f}; tasks of {size}: "
            f"{misses} variant loads, {hits} cache hits (load {load:.1f})"
        )


def _time(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="small sizes, no 100,000 samples")
    args.add_argument("--reference", action="store_true", help="also the PySD comparison")
    opts = args.parse_args(argv)
    stages(200 if opts.quick else 500)
    kernel_alone()
    one_run()
    thread_scaling(400 if opts.quick else 2000)
    peak_memory([1000, 10_000] if opts.quick else [1000, 10_000, 100_000])
    against_one_at_a_time(5 if opts.quick else 20)
    if opts.reference:
        against_pysd(50 if opts.quick else 200)
    sweep_throughput(100 if opts.quick else 400)
    print(f"process peak RSS: {_peak_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

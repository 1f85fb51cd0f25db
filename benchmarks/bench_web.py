"""Load test: N concurrent clients on loopback running simulations with varied knobs.

Starts ``materiel serve`` (``--workers``) on a free port with a throwaway
SQLite store, runs for ``--seconds`` and prints requests/s, p50/p99 latency
and the error count, then where one request's time goes (in process, CPU
seconds, which a shared machine disturbs less than wall time).

``--mix distinct`` (default) sends new knobs with every request, so every
request simulates; ``--mix page`` draws from 12 knob settings, as analysts
re-running, comparing and downloading the same few settings do, so most
requests are answered from the server's result cache (per scenario, stored
version and knobs; :class:`materiel.web.catalogue.Catalogue`).

    .venv/bin/python benchmarks/bench_web.py --clients 8 --seconds 20 --workers 2
    .venv/bin/python benchmarks/bench_web.py --mix page
    .venv/bin/python benchmarks/bench_web.py --phases-only
    .venv/bin/python benchmarks/bench_web.py --client stdlib

Every answer is checked (status 200, JSON with a summary echoing the knobs sent).
``--client stdlib`` sends the same requests from ``http.client`` keep-alive connections
(one per client thread, gzip asked for and decoded, as httpx does) in place of httpx
(the default): a lighter load generator, not a faster server. On this 2-core machine the
client shares the server's cores, and httpx costs 2 to 4.5 ms of CPU a request against
0.6 to 1 ms for http.client; the figures below name the client used.

Measured on the shared 2-core machine, 8 clients, 2 workers, 10 s, ``--mix page``
(issue 18 asks 150 requests/s, p99 at most 300 ms). The machine's other sessions take
most of both CPUs, so requests/s moves with them; CPU per request does much less:

- main at 19a7498 (load 9.5 to 9.8): 40.7 to 52.4 requests/s, p99 316 to 512 ms; server
  CPU 6.4 to 6.6 ms per request, load-test client 2.7 to 3.2 ms;
- branch web18 (load 5.1): 89.9 requests/s, p50 64 ms, p99 195 ms, no errors; server
  CPU 3.3 ms per request, client 2.2 ms (at load 8.6 to 10: 67.5 to 99.4 requests/s,
  server 3.2 to 3.3 ms). Two otherwise idle cores at 5.5 ms of CPU per request (server
  and client together) would carry about 360 requests/s: a projection, not a
  measurement; 150/s was not reached on the shared machine.

Where the server's CPU went: a repeated request is now answered on the event loop from
the answer cache (no thread hop; the gzip made once and kept with the answer, where the
middleware compressed it again each time; embedded ids no longer globbed per request):
6.4 -> 4.2 to 5.6 ms; uvloop and httptools (uvicorn's own fast loop and HTTP parser, in
place of asyncio and h11): -> 3.2 ms. Through the ASGI app in process, without a socket
(``cached_through_app``), a cached request is 0.9 to 1.0 ms of CPU (1.1 to 1.2 on main).

``--mix distinct`` (every request simulates new knobs; 8 clients, 2 workers, 20 s),
main at dd62345 against branch web18, run back to back (load 3.8 to 4.3):

- main: 12.1 requests/s, p50 730 ms, p99 1528 ms, server CPU 119.7 ms per request;
- web18: 14.5 requests/s, p50 565 ms, p99 1189 ms, server CPU 79.7 ms per request.

``--phases-only`` (in process, CPU per request, main -> web18): inputs 24.4 -> 1.4 ms
(compile_inputs once per scenario and template knobs, then the knobs' arrays retuned:
:func:`materiel.web.knobs.knobbed_inputs`; compiling the knobbed scenario itself is
now 9.4 ms), build_dataset 14.1 -> 6.6 ms (index coordinates built once per set of
labels, unused policy slots dropped before the Dataset is built); run_engine 6.7,
check_invariants 3.6 and the response's tables (``summary``) 67 to 73 ms unchanged.
The simulate part (inputs to dataset) is 49 -> 18 ms; the tables are now 78% of an
uncached request, so 150 requests/s (about 10 ms of server CPU per request on two
cores) waits on them.

After rebasing on main fff9c92 (result tables reading plain arrays, fe12e77 and before;
kernel 9a8806b) (load 5.2 to 7.8): 15.8 requests/s, p50 466 ms, p99 1376 ms,
server CPU 55.2 ms per request; in process 48.6 ms: inputs 0.9, run_engine 5.4,
check_invariants 2.9, build_dataset 4.6, summary 34.3 ms (compile_inputs 5.9 ms).

Branch web18b against main 9975826, ``--mix distinct``, 8 clients, 2 workers, 20 s, back
to back on the shared machine (Dec 1, 08:07-08:11 UTC):

- main (load 6.1): 9.8 requests/s, p50 736 ms, p99 1690 ms, server CPU 47.8 ms per
  request, client 2.5 ms;
- web18b (load 5.2): 30.4 requests/s, p50 276 ms, p99 686 ms, server CPU 14.9 ms per
  request, client 1.5 ms; a second run (load 5.8): 26.4 requests/s, p99 1164 ms, server
  17.0 ms. No errors. Server CPU per request 3.2x less; 150/s not reached here: the
  machine's other sessions hold most of both cores;
- web18b final (invariants in place, 08:38, load 3.5 -> 5.6): 34.4 requests/s, p50
  216 ms, p99 500 ms, server CPU 15.8 ms per request, client 1.8 ms, no errors; in
  process 11.6 ms: inputs 0.7, run_engine 4.4, check_invariants 1.2, build_result 1.8,
  summary 3.2.

``--phases-only`` (in process, CPU per request), main -> web18b: 44.0 -> 10.9 to 13.1 ms.
summary 31.7 -> 3.1 to 3.5 ms: its tables come from plain rows (:meth:`Result.rows`:
targets, decisions, fleets, weapon systems) read from the run's arrays, no DataFrame, no
pandas groupby per fleet group; build_dataset 4.3 -> build_result 1.5 to 2.0 ms: the
Dataset is built only when something reads ``result.dataset`` (downloads, charts, full
metrics), the tables and the summary read :class:`materiel.analysis.metrics.Arrays`;
check_invariants 2.4 -> 1.2 to 1.4 ms (``-TOLERANCE <= err <= TOLERANCE`` answers first;
balances computed in place; isolated, same runs: 1.48 -> 1.0 ms).
What is left: run_engine 4.0 to 4.8 ms (a third of the request; kernel.step is ~60% of
it, its Python wrapper and output allocation the rest), the summary's tables 3.1,
labelling 1.5 to 2.0, invariants 1.2, inputs 0.7. Through the ASGI app in process (no
socket) an uncached request measured 14.4 to 21 ms against the phases' 11.7 to 14.7 ms
in alternating runs (noisy): the JSON and gzip of the 5 KB answer are under 0.5 ms, and
neither the catalogue's thread hop (a synchronous pool: no change) nor the garbage
collector (gc.freeze, gc.disable: within the noise) explains the rest, which is not yet
broken down (request validation and dependencies are ~1 ms under cProfile). At ~15.8 ms
of server CPU and 1.8 ms of client CPU per request, two otherwise idle cores would carry
about 110 requests/s (a projection, not a measurement): 150/s needs the kernel's
wrapper, the labelling and the app's own share cheaper still.

Branch web18c (Dec 1, 08:40-09:05 UTC): the "3-9 ms nobody has broken down" was mostly
the warm-up and noise. While the catalogue's caches fill (16 results, 32 answers) every
request keeps new memory and pays its first touch: 491 page faults and 1.9 ms of system
CPU a request over the first 80, 2 to 4 afterwards. After 40 warm-up requests
(``distinct_through_app``) an uncached request through the ASGI app costs the phases plus
1.2 to 2 ms: routing, dependencies and validation on the event loop (a cached request,
all of it, is 0.35 ms), the answer's clean, JSON and gzip (0.4 to 0.6 ms), the knobs'
dumps and keys (0.1 ms). The thread hops are not it: the route run inline on the loop and
the catalogue's pool replaced by a synchronous one measured 13.7 and 14.4 ms against 13.8
and 14.4 ms with both threads (vcsw 7 to 0 a request); nor is concurrency (4 requests at
a time: 13.4 ms against 13.2 to 15.7 one at a time). What went: the summary's two
avoidable costs, decisions' per-group sums by a DataFrame groupby (0.81 -> 0.43 ms;
:func:`materiel.analysis.result.group_sums` takes pandas' own two paths, reduceat or
Kahan, bit for bit) and the scenario's fleets compiled again for the weapon-system rows
(0.65 -> 0.31 ms: :class:`~materiel.analysis.metrics.Arrays` carries the run's
``qualified_from``). Alternating runs, f8f08a6 -> web18c (load 1.8 to 2.0):

- ``--phases-only``: 10.9 / 10.0 -> 9.5 / 9.6 ms; summary 3.0 / 2.8 -> 1.9 / 1.9 ms;
- through the app in process after warm-up: 12.2 / 11.8 -> 11.5 / 11.2 ms;
- ``--mix distinct``, 8 clients, 2 workers, 15 s, two alternating pairs (load 2.7 to
  3.7): server CPU 14.30 / 14.26 -> 13.31 / 13.28 ms per request (client 1.4 to 1.5);
  70.1 / 91.2 -> 68.6 / 105.7 requests/s (the other sessions move these), p99 193 to
  233 ms, no errors. 150/s not reached here; at 13.3 + 1.4 ms a request, two otherwise
  idle cores would carry about 135 requests/s (a projection). What is left per request:
  run_engine ~4.0 ms (engine/, not this branch's), build_result 1.6 (labelling), the
  summary 1.9 (targets 0.7, fleets 0.45, decisions 0.4, weapon systems 0.3), invariants
  1.1, inputs 0.7, the app's own 1.2 to 2, uvicorn and the socket ~2.

Branch web18d against 17b33fc (Dec 1, 09:07-09:25 UTC), in one process A/B (old code
imported beside the new, same inputs, alternating rounds, 16 results kept alive as the
catalogue does): run_engine 4.08 -> 3.65 ms min, 4.23 -> 3.92 median (outputs are views
of one ``np.empty`` block in place of ~28 ``np.zeros``; os.cpu_count, which reads /sys,
read once; of the rest, kernel.step is ~2.7 ms and numba's dispatch of its grouped
arguments only 0.07); build_result 1.06 -> 0.81 ms min, 1.14 -> 0.87 median (the
written contracts' ~200 buyer strings joined once per template's list of buyers, not per
request); target_rows reads the fleets' (party, product) pairs once, not per target.
``phases(n=120)``, alternating (load 4.0): run_engine 4.4 / 4.5 -> 4.1 / 4.0 ms,
build_result 2.0 / 2.1 -> 1.7 / 1.6, summary 2.4 / 2.6 -> 2.5 / 2.2 (noise), total
about 0.6 ms less. ``--mix distinct``, 8 clients, 2 workers, 15 s (load 4.5 to 4.9):
17b33fc 14.90 / 16.37 ms of server CPU per request (81.2 / 56.9 requests/s, p99 272 /
373 ms) against web18d 12.64 / 12.89 ms (75.7 / 101.1 requests/s, p99 385 / 199 ms),
no errors, client 1.5 to 1.9 ms. 150/s not reached on the shared machine; at ~12.8 +
1.5 ms a request two idle cores would carry about 140 requests/s (a projection).
Tried and dropped: ``months.label_of`` by integer arithmetic (not faster than numpy's
str). What is left: kernel.step ~2.7 ms, invariants 1.2, summary ~2 (targets, fleets,
decisions), labelling ~1.4 (Dataset parts built per request though only downloads and
charts read them), inputs 0.7, the app and uvicorn ~3 to 4.

Main at 594e08d, every helper stopped (Dec 1, 09:44-10:06 UTC, no other session's work;
``--mix distinct``, 8 clients, 2 workers, 20 s, six runs): 153.4 requests/s, p50 49 ms,
p99 107 ms, server CPU 11.55 ms per request (load 2.3; in process 9.2 ms: inputs 0.7,
run_engine 3.5, invariants 1.2, build_result 1.5, summary 2.0); then 56.6, 98.9, 125.3,
79.9 and 88.0 requests/s, p99 143 to 187 ms, server CPU 12.8 to 21.8 ms per request, no
errors in any. The machine's own speed moved meanwhile (``import numpy`` 0.13 s at 09:48,
0.14 to 0.25 s between the runs; the in-process request 9.2 ms at 09:44, 14.1 and 17.3 ms
at 09:50), and at 80 requests/s the two workers and the client used 1.4 of the 2 CPUs.
So the 150/s target was reached once, in the fastest period, and p99 <= 300 ms in all six.

Branch web18e against 140630d (Dec 1, 10:39-11:45 UTC; the other helper's benchmarks held
one or both cores much of the time, load 1.6 to 4.8, so the machine ran 1.2 to 1.7x slower
than in the quiet run above; old and new alternate, old from a ``git archive`` of 140630d).

Where the app's share goes (``distinct_through_app`` minus the phases; profiled with
py-spy ``--gil`` over every thread and ``perf`` cpu-clock samples, and each part timed
apart): Python on the event loop, FastAPI's routing, dependencies, validation and the
middleware (0.35 to 0.6 ms: all a cached request costs); the two thread hops, anyio's
worker then the catalogue's pool (0.17 + 0.08 ms of CPU, 3 to 5.5 context switches, timed
alone); the answer's clean, JSON and gzip (0.3 to 0.4 ms). Not the garbage collector (6
young collections in 300 requests: what a request allocates it frees), not the result
cache (16 results kept or 1: 14.7 against 14.4 ms median through the app). The same work
called directly in the same process, alternating with the app: 1.6 to 1.8 ms less at the
machine's slow speed then. The phases themselves were most of it, and what went:

- check_invariants: a whole run checked first in one compiled pass (numba, nogil,
  cache=True; the numpy laws run only if a cell breaks, and name it): 0.61-1.13 -> 0.33 ms
  alone; in the phases, where the run's arrays are fresh, 2.0-2.2 -> 0.7-0.9 ms;
- build_result: coordinates that depend only on the scenario's entities built once per
  template (keyed by the Inputs fields' identity) as read-only arrays; the binding labels
  (a 1.3 MB string array a run) made only when read, and the web summary never reads
  them; contract months labelled from a table: _label 1.22 -> 0.36 ms, the arrays 0.26
  -> 0.10 ms;
- summary: group sums' Kahan loop compiled (0.14-0.20 -> 0.01 ms; decisions 0.37-0.54 ->
  0.21), positions, month labels and fleet cells once per set of read-only coordinates,
  fleets' counts and maxima at once: targets 0.54-0.87 -> 0.37, fleets 0.39-0.76 -> 0.28;
  build_result and summary together 3.0-5.3 -> 1.9-2.7 ms (alternating, min of 9);
- run_engine's Python: the output layout once per set of sizes (0.057 -> 0.0002 ms),
  kernel_args' casts read once (0.19 -> 0.17 ms); numba's dispatch is not worth more.

``phases(n=120)``, alternating (load 1.8 to 1.9): 140630d 16.6 / 14.5 ms -> web18e 12.9 /
9.9 ms (inputs 1.4 / 1.2 -> 1.4 / 1.1, run_engine 5.8 / 5.2 -> 5.4 / 4.5, invariants 2.2 /
2.0 -> 0.9 / 0.7, build_result 2.9 / 2.5 -> 1.6 / 1.2, summary 3.9 / 3.3 -> 3.0 / 2.1).
Through the ASGI app in process after 40 warm-up requests, alternating: 16.9 / 17.2 ->
14.5 / 14.7 ms (load 1.9) and 15.9 / 14.9 -> 13.0 / 14.2 ms (load 1.6 to 1.9).
``--mix distinct``, 8 clients, 2 workers, 20 s, back to back while the other helper's
benchmarks ran (load 3.5 to 4.8): httpx 49.5 -> 51.2 requests/s, server CPU 18.3 -> 17.1
ms a request, client 2.7; ``--client stdlib`` 81.0 -> 81.2 requests/s, server 18.0 ->
17.7 ms, client 0.85 to 0.96 ms, p99 257 -> 221 ms; no errors. Under that load the
server's CPU per request is 4 ms above the in-process figure for old and new alike.
Final code (answers' ``clean`` 0.11-0.21 -> 0.08-0.09 ms as well), 11:25-11:27, load 2.9
to 4.2: ``--client stdlib`` 59.0 -> 63.4 requests/s, server CPU 20.5 -> 15.1 ms a
request, p99 319 -> 244 ms, client 0.9 ms; httpx 39.5 -> 49.1 requests/s, server 22.4 ->
17.7 ms, p99 683 -> 422 ms, client 3.0 ms; no errors. 150/s was not reachable on the
shared machine in this window for either; the server's CPU per request is 23 to 27% less.
Tried and dropped: the invariants pass without early exits so its stock loop vectorises
(0.48 against 0.34 ms: the receipts' running sum keeps it serial); the catalogue and store
read from the app's state instead of as dependencies (a cached request 0.38 -> 0.37 ms,
noise); the catalogue's pool at one thread (55.0 against 79.2 requests/s, server CPU 17.4
against 14.1 ms). Left: the double thread hop (0.25 ms, but the pool carries the run's time
limit); ``engine/inputs.py``'s retune, whose ``_consumption`` loop is ~7% of the request's
GIL-holding time (not this branch's file); the kernel (kernel15d's).

Lead's figures on main 59425aa (web18e and kernel15d merged), nothing else running, Dec 1
12:04-12:07; a slow phase of the VM (``import numpy`` 0.21-0.26 s; old code ran 1.6-2.3x
slower than at 10:38). ``--phases-only`` alternating old (140630d) / new, 11:45-11:50: in process
16.3 / 12.9, 19.9 / 12.4, 16.3 / 13.1 ms; through the app 19.7 / 15.9, 19.3 / 15.8, 20.4 / 16.6
ms. ``--mix distinct``, 8 clients, 2 workers, 20 s, three runs each: httpx 104.9, 114.2, 96.1
requests/s (p99 162-175 ms, server CPU 14.8-17.7 ms, client 2.1-2.8 ms); ``--client stdlib``
100.6, 109.6, 90.2 requests/s (p99 168-191 ms, server 15.8-18.9 ms, client 0.9-1.1 ms); no
errors. 150/s not reached on that machine. Next: a run writes 5.5 MB of outputs, 4.6 MB of
them the eight (party, product) cell outputs over 544 cells of which 74 are ever nonzero
(action-plan); recording only the cells that may be nonzero (the kernel's cell mask, as Monte
Carlo uses) and expanding them when the Dataset is built would cut the memory traffic that
grows under concurrency.

Branch web18f (Dec 1, 13:39-14:08 UTC, shared machine, load 1.1 to 4.7), against 17e341c
(``git archive`` into /tmp, its own numba cache), old and new run back to back: a single
run now records its cell outputs on the live cells only (``engine/cells.live_cells``: 83
of 544 cells in action-plan, every cell any cell output can be nonzero in; outputs 5.5 ->
1.6 MB a run), the invariants read them by cell, the tables and the web summary read the
few cells they need at their recorded columns (``metrics.cells_at``) and the Dataset
expands a cell output only when built (identical to a whole run's, bit for bit).

- ``--mix distinct``, 8 clients, 2 workers, 20 s, alternating; server CPU per request:
  httpx 16.09 -> 11.20 ms (57.4 -> 77.9 requests/s, p99 321 -> 223 ms) and 16.58 -> 13.84
  ms (75.5 / 73.4 requests/s, p99 262 / 220 ms); ``--client stdlib`` 15.03 -> 11.91 ms
  (66.4 -> 88.3 requests/s, p99 290 -> 196 ms) and 16.93 -> 14.09 ms (72.3 -> 94.4
  requests/s, p99 187 / 192 ms); no errors. Server CPU per request 17 to 30% less. 150/s
  not reached: the machine's other sessions held part of both cores (load 3.2 to 4.9
  during the runs), and 150 requests/s at ~12 ms of server CPU each is 1.8 CPUs.
- simulate + summary on the same 40 knobbed inputs (in process, min of 12 batches,
  alternating new/old, three pairs): simulate 4.42-4.77 -> 3.48-3.87 ms, summary
  1.69-1.71 -> 1.65-1.78 ms; on fresh inputs each request (means of 58): simulate
  7.8-8.2 -> 4.7-6.3 ms, summary 3.2 -> 2.0-3.1 ms. ``run_engine`` alone (min of 200,
  action-plan): every cell 4.18 ms, live cells 3.66 ms.
- ``--phases-only`` (n=20, too few against this machine's noise; three pairs old / new):
  in process 12.2 / 11.3, 12.8 / 6.8, 9.1 / 9.4 ms; through the app 15.7 / 14.2, 10.9 /
  8.6, 14.2 / 13.3 ms; check_invariants 0.6-1.1 -> 0.3-0.6 ms in each pair.
- After rebasing on main 01a8653 (kernel15e's sparse aid loops), 14:12-14:14, new / old
  (17e341c): stdlib 121.7 / 100.5 requests/s, p99 155 / 184 ms, server 14.52 / 16.99 ms;
  httpx 100.0 / 105.3 requests/s, p99 175 / 165 ms, server 15.16 / 15.80 ms (a pair
  within noise); no errors. Summary JSON, tables' rows and every Dataset variable's
  bytes identical to 17e341c (4 scenarios x 3 knobs).
Branch web18g against 8582f4c (Dec 1, 14:19-14:45 UTC, shared machine). Where the gap
between in-process and server CPU went: not the kernel's side of the server (``perf
record`` of both workers under load: 4.6% of their CPU in the kernel, libpython 48%,
numba's code 22%, numpy 14%, libc 8%; 15 to 60 page faults a request, so malloc tuning was
not tried), and in part not a gap at all (the in-process request through the app measured
12.1 to 13.6 ms in the same minutes as the servers' 12.5 to 16.9 ms). What did pay: the
threads. Each uncached ``/api/simulate`` ran in starlette's pool (up to 40 threads a
worker), so with 8 clients on 2 workers every request in flight ran at once, interleaved
under the GIL; now each worker computes its uncached answers in one thread
(:data:`materiel.web.catalogue.ANSWER_THREADS`), one at a time, the rest in line, and a
cached answer is still served on the event loop without waiting (``--perf`` prints the
workers' context switches, migrations and page faults a request from ``perf stat``; its
task-clock misses threads started after it attaches, so read CPU from the line above it).

- threads per worker, alternating rounds (``--client stdlib``, 15 s, load 3.9 to 6.5):
  the pool 15.31 / 15.20 / 16.93 ms of server CPU a request (96.8 / 98.2 / 98.4
  requests/s, 30 to 49 context switches a request), 2 threads 13.16 / 14.89 / 14.38 ms
  (117.3 / 95.6 / 104.9 requests/s), 1 thread 14.22 / 13.80 / 12.49 ms (98.6 / 103.3 /
  143.2 requests/s, 20 context switches); p99 135 to 316 ms in all.
- ``--mix distinct``, 8 clients, 2 workers, 20 s, 8582f4c / web18g alternating (14:40-14:44,
  load 0.8 -> 4.2): ``--client stdlib`` 105.5 / 133.1 and 107.5 / 133.3 requests/s, p99
  180 / 135 and 174 / 142 ms, server CPU 15.71 / 13.60 and 15.45 / 13.50 ms a request,
  context switches 45.7 / 20.9 and 45.3 / 20.9, migrations 2.0 / 0.2; httpx 112.5 / 131.9
  and 116.2 / 126.0 requests/s, p99 156 / 134 and 155 / 136 ms, server 14.44 / 12.38 and
  14.19 / 12.89 ms; no errors. Server CPU a request 9 to 14% less, requests/s 8 to 26%
  more; 150/s not reached on the shared machine (at ~13 ms of server and 1 to 2 ms of
  client CPU a request, two idle cores carry about 135 to 145).
- ``--phases-only`` (sequential, so the threads do not matter; n=20, noisy), old / new
  alternating: in process 9.7 / 11.0 and 6.5 / 12.4 ms, through the app 12.6 / 12.8 and
  13.9 / 15.3 ms, cached 0.54 / 0.54 and 0.67 / 0.42 ms.

The lead on main at 6e6aec9 (Dec 1, 15:08-15:16 UTC, nothing else running but the
benchmarks; load 1.2-3.7). ``--mix distinct``, 8 clients, 2 workers, 20 s, alternating
clients: httpx 76.1, 142.1, 137.0, 148.0 requests/s (p99 126, 110, 128, 97 ms; server
11.4-13.2 ms a request); stdlib 77.5, 148.6, 167.2 (p99 123, 124, 103 ms; server 11.1-13.0
ms); no errors. The results are two-moded, and the cause is where the connections land:
the workers share one listening socket and the kernel hands each of the 8 keep-alive
connections to whichever worker accepts first (counted with ``ss -tnp`` during a run: 7/1
and 6/2 in most runs, 8/0 in some). With all 8 on one worker, that worker alone answers
at about one core (~77 requests/s, p50 ~100 ms), whatever its number of answering
threads: in 12 s runs alternating 1 and 2 threads, the one 8/0 split (2 threads) gave 77.1
requests/s, as the 20 s runs above at 76.1 and 77.5 (their splits not counted); with splits
of 7/1 and 6/2, 1 thread 115.7 / 124.6 / 127.2 / 144.1 and 2 threads 116.8 / 134.2 / 145.0
requests/s (server 11.9-15.9 ms a request both; load 2.6-3.5). So one answering thread
stays; 150 requests/s was reached in 1 run of 19 (167.2/s; the other four, 10 s with
stdlib: 124.8-132.7), p99 at most 300 ms in every run. Spreading connections over the
workers (one socket per worker with SO_REUSEPORT, which the kernel balances by connection
hash) is the next thing to try; it is a server setting, not a change to the load test.

web18h: one socket per worker (Dec 1, 16:16-16:53 UTC, against f2e2c09 with ``--server-src``
so both sides run this same load test; the other helpers' tests and benchmarks held part of
both cores throughout, load 3.6 to 7.5). ``materiel serve --workers N`` on Linux now runs
N workers each listening on its own ``SO_REUSEPORT`` socket (:mod:`materiel.web.serving`);
this script waits until every worker listens, warms each on 4 connections a worker, and
prints each run's split at half time and each worker's CPU in cores.

- Splits, ``--splits 40`` three times each side, alternating (8 connections opened at
  once, one request each; 4/4, 5/3, 6/2, 7/1, 8/0): the kernel's hash alone 33, 56, 22,
  8, 1 of 120, the binomial odds exactly (32.8, 52.5, 26.3, 7.5, 0.9); f2e2c09's shared
  socket 45, 66, 8, 1, 0 on this loaded machine, where the workers' accepts interleave
  (the lead's 7/1 and 8/0 came from a quiet one, where one worker's accept loop drains
  the queue first). The hash alone is therefore not better than the shared socket here,
  only independent of timing; so each worker now answers ``Connection: close`` while it
  holds more than ceil(all / workers) of the open connections
  (:class:`materiel.web.serving.Rebalance`), and the clients' new connections are
  hashed afresh until they lie evenly: 4/4 at half time in 12 of 12 load-test runs with
  it, against 4 of 13 with the hash alone and 8 of 16 for f2e2c09.
- ``--mix distinct``, 8 clients, 2 workers, 20 s, alternating (requests/s, p99 ms, server
  CPU ms a request, split, load). Hash alone, 16:16-16:26: httpx old 150.8 / 94 / 10.9 /
  4/4 / 3.6, 82.2 / 306 / 11.2 / 6/2 / 4.7, 79.7 / 199 / 12.7 / 4/4 / 4.4, 57.3 / 296 /
  15.0 / 6/2 / 4.5; new 76.7 / 198 / 11.0 / 5/3 / 3.7, 85.3 / 287 / 10.2 / 5/3 / 4.6, 79.1
  / 272 / 11.7 / 4/4 / 4.5, 75.6 / 275 / 13.2 / 5/3 / 4.8; stdlib old 128.3 / 157 / 9.7 /
  6/2 / 3.8, 138.1 / 165 / 10.8 / 5/3 / 4.5, 81.2 / 222 / 11.4 / 5/3 / 4.3, 83.6 / 211 /
  12.4 / 4/4 / 4.6; new 133.9 / 166 / 8.7 / 4/4 / 4.3, 88.7 / 204 / 11.2 / 4/4 / 4.7, 67.9
  / 271 / 13.5 / 5/3 / 4.3, 78.8 / 304 / 12.4 / 5/3 / 4.6. With Rebalance, 16:42-16:53
  (each worker's CPU in cores last): httpx old 54.2 / 648 / 11.9 / 6/2 / 7.1 / 0.34+0.30,
  72.8 / 264 / 12.5 / 5/3 / 5.6 / 0.49+0.42, 79.9 / 342 / 12.7 / 4/4 / 6.3 / 0.51+0.51,
  85.5 / 203 / 13.0 / 4/4 / 4.5 / 0.57+0.54; new 104.4 / 319 / 9.6 / 4/4 / 6.7 /
  0.50+0.50, 80.4 / 262 / 12.5 / 4/4 / 6.2 / 0.52+0.48, 71.6 / 326 / 11.9 / 4/4 / 6.0 /
  0.45+0.40, 77.0 / 260 / 14.0 / 4/4 / 5.0 / 0.54+0.54; stdlib old 75.8 / 426 / 12.2 /
  4/4 / 7.5 / 0.49+0.44, 111.5 / 180 / 12.6 / 4/4 / 6.2 / 0.73+0.67, 124.4 / 204 / 12.3
  / 6/2 / 5.8 / 0.76+0.76, 154.9 / 87 / 11.9 / 4/4 / 4.1 / 0.93+0.92; new 75.2 / 465 /
  12.1 / 4/4 / 7.2 / 0.53+0.38, 69.9 / 280 / 13.1 / 4/4 / 5.6 / 0.46+0.45, 76.1 / 228 /
  14.1 / 4/4 / 5.4 / 0.54+0.53, 126.8 / 113 / 12.6 / 4/4 / 4.4 / 0.80+0.80. No errors.
- What that shows: on this loaded machine the split does not limit throughput (a 6/2
  run had both workers at 0.76 cores; the scheduler, not the connections, shares out the
  CPU) and requests/s follows the load (150.8 and 154.9 at load 3.6 and 4.1, 54 to 80 at
  5.6 to 7.5); old and new are within that noise, and server CPU per request is the
  same. 150/s with p99 <= 300 ms was reached by two 20 s runs, both old, at the quietest
  moments, and by one 10 s run with Rebalance (16:39, stdlib: 159.5/s, p99 107 ms, 4/4,
  each worker 0.93 cores).
  What the change buys is where the split does limit: a quiet machine, where the lead
  saw 8/0 runs at ~77/s; now a run's connections end 4/4 whatever the timing. That
  claim is untested here (no quiet machine in this window): rerun this A/B with
  ``--server-src`` when the machine is idle. The reconnects cost a TCP handshake each,
  a few a run.

web18i: CPU above the engine, against f2e2c09 (Dec 1, 16:05-16:50 UTC, shared machine,
load 2.7 to 6.4 from the other helpers). Where the app's share goes (through the ASGI app
minus the same work called directly, alternating batches in one process): 1.1 to 1.4 ms
a request. Not the thread hops: with both executors made synchronous the share was 1.26
to 1.35 ms against 1.12 to 1.37 with the answering thread and the run pool (noise), so
the pool keeps the time limit. Not the middleware: per cached request (0.38 ms in all)
GZip costs 0.03 ms and the body limit 0.01. The answer's clean 0.10, JSON 0.13 (0.2 in
the app) and gzip 0.05 to 0.08 ms (level 6, 5.1 -> 1.5 KB; level 1 0.05 ms, 1.6 KB):
left as they are. The rest is FastAPI's own request handling (about 435 calls in
fastapi and 150 in starlette a request under cProfile), which only leaving FastAPI for
this route would cut. The unused policy slots (207 slots, 189 kept in action-plan):
dropping them from contract_deliveries is a 14 us copy; nothing to gain there. What went
(answers byte for byte: summary JSON and the four row tables sha256-identical to f2e2c09
on 120 random and 16 fixed knob sets over the 4 embedded scenarios):

- fleet_rows: month labels fetched once per table (a cache look-up per labelled month
  cost ~10 us), values read with tolist() once, shortfalls and demands summed as one
  contiguous row per fleet in one call (bit for bit the column sums: 3,000 random
  arrays); interoperability_rows: a group's three sums in one call; target_rows: the met
  tests, first months and values at the date and horizon for every target at once;
  decisions: one group key per (origin, product) pair, not per contract; floors' parties
  once per scenario stocks;
- build_result: kept contract slots by one index array; the dimension labels' key, the
  merged index maps and a one-sample run's written buyers' text once per template;
- knobbed_inputs / retune: written contracts' quantities set from the ~20 contracts, not
  looked up per ~200 rows; always_delayed once per template.

Hot (same result again, min of 300, same process): fleet_rows 0.38 -> 0.18 ms, target_rows
0.42 -> 0.29, decisions 0.26 -> 0.17, _label 0.32-0.40 -> 0.22, build_result 0.48 -> 0.33,
knobbed_inputs 0.48 -> 0.40 (alternating). On fresh runs the gains are smaller (cold
caches after the engine): 8 processes a side, alternating, each part as a share of the
same process's run_engine (unchanged code, so the machine's speed divides out; raw
times moved by 40% between processes): summary 0.649 -> 0.566 of run_engine (-13%),
fleet and interoperability rows 0.240 -> 0.178 (-26%), decisions 0.124 -> 0.108,
target_rows 0.185 -> 0.180, build_result 0.345 -> 0.314 (-9%), check_invariants 0.124 ->
0.129 (unchanged code: the noise floor). At run_engine 3.0 ms that is about 0.35 ms less
CPU a request (summary 1.95 -> 1.70, build_result 1.04 -> 0.94).
``--phases-only --phases-n 200`` (new option: at 20 a run moved by a third), old / new
alternating, 16:27-16:29 (load 2.7 to 3.3): in process 7.5 / 8.6, 8.1 / 9.3, 7.6 / 7.7
ms, through the app 9.3 / 11.3, 10.6 / 11.3, 11.4 / 12.6 ms; run_engine, unchanged, read
3.0 to 3.4 ms in the old runs and 3.4 to 4.0 in the new: the machine's speed moved by
more than the change. ``--mix distinct``, 8 clients, 2 workers, 20 s, new / old
alternating, 16:36-16:38 (load 4.5 to 5.9): 66.5 / 104.0 and 80.7 / 84.9 requests/s,
p99 473 / 172 and 235 / 365 ms, server CPU 13.19 / 14.46 and 12.84 / 11.93 ms a request,
no errors: within the noise of that load. ``--client stdlib`` (16:47-16:50, load 5.5 to
6.4), new / old then old / new: 92.0 / 69.2 and 115.8 / 65.6 requests/s, p99 183 / 361
and 232 / 245 ms, server CPU 9.65 / 12.14 and 12.29 / 14.23 ms a request (14 to 20%
less), client 0.9 to 1.0 ms, no errors. 150 requests/s not reached on the shared
machine (the other sessions held most of both cores). What is left
per uncached request: run_engine ~3 to 4 ms, FastAPI ~1 ms, summary ~1.7, build_result
~0.9, inputs ~0.6, invariants ~0.4, JSON and gzip ~0.4.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gzip
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants (Linux /proc;
    0.0 elsewhere): the server's supervisor and its workers."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def _descendants(pid: int) -> list[int]:
    """Live descendants of a process (Linux /proc): the server's workers."""
    found: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = [int(c) for c in (task / "children").read_text().split()]
                found += kids
                todo += kids
        except (OSError, ValueError):
            continue
    return found


_PERF_EVENTS = ("task-clock", "context-switches", "cpu-migrations", "page-faults")


def _perf_start(pids: list[int]) -> subprocess.Popen[str]:
    """``perf stat`` counting :data:`_PERF_EVENTS` over ``pids`` until interrupted."""
    return subprocess.Popen(
        [
            "/usr/bin/perf",
            "stat",
            "-x",
            ",",
            "-e",
            ",".join(_PERF_EVENTS),
            "-p",
            ",".join(map(str, pids)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _perf_stop(perf: subprocess.Popen[str]) -> dict[str, float]:
    """Interrupt ``perf stat`` and read its counts by event name."""
    import signal

    perf.send_signal(signal.SIGINT)
    _, err = perf.communicate(timeout=30)
    counts: dict[str, float] = {}
    for line in err.splitlines():
        parts = line.split(",")
        if len(parts) > 2 and parts[2] in _PERF_EVENTS:
            try:
                counts[parts[2]] = float(parts[0])
            except ValueError:
                continue
    return counts


def main() -> None:
    """Run the load test and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenario", default="action-plan")
    ap.add_argument("--mix", choices=("distinct", "page"), default="distinct")
    ap.add_argument(
        "--client",
        choices=("httpx", "stdlib"),
        default="httpx",
        help="load generator: httpx (default) or http.client keep-alive connections, a "
        "lighter client on the same cores (not a faster server)",
    )
    ap.add_argument(
        "--perf",
        action="store_true",
        help="count the server workers' context switches, migrations and page faults per "
        "request with perf stat (Linux, /usr/bin/perf) during the load test",
    )
    ap.add_argument(
        "--server-src",
        help="serve the materiel sources under this folder (PYTHONPATH of the server only: "
        "an A/B against another checkout with the same load test)",
    )
    ap.add_argument(
        "--splits",
        type=int,
        metavar="N",
        help="only count, N times, how --clients connections opened at once lie over the "
        "workers (no load test, no phases)",
    )
    ap.add_argument("--phases-only", action="store_true", help="only the in-process breakdown")
    ap.add_argument("--no-phases", action="store_true", help="only the load test")
    ap.add_argument(
        "--phases-n",
        type=int,
        default=20,
        help="requests timed in the in-process breakdown (and 150 + this through the app): "
        "at 20 one run moves by a third on a shared machine; 200 settles within a tenth",
    )
    args = ap.parse_args()
    if args.splits:
        connection_splits(args)
        return
    if not args.phases_only:
        load_test(args)
    if not args.no_phases:
        phases(args.scenario, n=args.phases_n)
        distinct_through_app(args.scenario, n=150 + args.phases_n - 20)
        cached_through_app(args.scenario)


def _knobs(rng: random.Random) -> dict[str, float]:
    return {
        "extra_contracting_delay_months": rng.randint(0, 24),
        "consumption_scale": round(rng.uniform(0.5, 2.0), 2),
        "multi_year_share": round(rng.uniform(0, 1), 2),
    }


def phases(scenario: str, n: int = 20) -> None:
    """CPU time of each step of one ``/api/simulate`` request, in process."""
    from materiel.analysis.simulate import build_result
    from materiel.engine import check_invariants, compile_inputs, run_engine
    from materiel.engine.cells import live_cells
    from materiel.web.catalogue import Catalogue
    from materiel.web.routes.simulate import summary
    from materiel.web.schemas import SimulateRequest, clean
    from materiel.web.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        catalogue = Catalogue(Store(Path(tmp) / "phases.db"))
        rng = random.Random(1)
        reqs = [
            SimulateRequest.model_validate({"scenario": scenario, "knobs": _knobs(rng)})
            for _ in range(n)
        ]
        for r in reqs[:2]:
            summary(catalogue.run(r))  # compile and cache first
        took: dict[str, float] = dict.fromkeys(
            (
                "resolve + knobs",
                "inputs",
                "run_engine",
                "check_invariants",
                "build_result",
                "summary",
                "JSON clean",
            ),
            0.0,
        )

        def clock(name: str, t0: float) -> float:
            now = time.process_time()
            took[name] += now - t0
            return now

        for r in reqs:
            t0 = time.process_time()
            s = catalogue.resolve(r)
            t0 = clock("resolve + knobs", t0)
            inp = catalogue.compiled(r, s)  # a template's inputs retuned, as the server does
            t0 = clock("inputs", t0)
            cells = live_cells(inp)  # as simulate does: only the cells that may be nonzero
            raw = run_engine(inp, samples=1, cells=cells)
            t0 = clock("run_engine", t0)
            check_invariants(inp, raw, cells=cells)
            t0 = clock("check_invariants", t0)
            result = build_result(inp, raw, s, cells=cells)  # the Dataset is built if asked for
            t0 = clock("build_result", t0)
            out = summary(result)
            t0 = clock("summary", t0)
            clean(out)
            clock("JSON clean", t0)
        compiling = time.process_time()
        for r in reqs:
            compile_inputs(catalogue.resolve(r))
        compile_ms = (time.process_time() - compiling) / n * 1e3
        hits = time.process_time()
        for r in reqs[:2]:
            clean(summary(catalogue.run(r)))
        hit_ms = (time.process_time() - hits) / 2 * 1e3
        total = sum(took.values())
        print(f"one uncached request in process: {total / n * 1e3:.1f} ms CPU")
        for name, sec in took.items():
            print(f"  {name:<17} {sec / n * 1e3:7.1f} ms  {100 * sec / total:4.0f}%")
        print(f"  (compile_inputs of the knobbed scenario instead of inputs: {compile_ms:.1f} ms)")
        print(
            f"cached (same scenario and knobs): {hit_ms:.1f} ms CPU, "
            f"{total / n * 1e3 / max(hit_ms, 1e-3):.0f}x less"
        )


def _app_caller(app: Any) -> Callable[[bytes], Awaitable[int]]:
    """A coroutine function posting a body to ``/api/simulate`` through the ASGI app, in
    process and without a socket; it answers the status."""

    async def call(body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/simulate",
            "raw_path": b"/api/simulate",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"accept-encoding", b"gzip, deflate"),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = [0]

        async def receive() -> dict[str, object]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(str(message["status"]))

        await app(scope, receive, send)
        return status[0]

    return call


def cached_through_app(scenario: str, n: int = 600) -> None:
    """CPU of a repeated ``/api/simulate`` through the whole ASGI app (middleware,
    dependencies, validation, cache look-up, gzip), in process without a socket: the
    app's own share of a cached request, apart from uvicorn and the client."""
    import asyncio

    from materiel.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        call = _app_caller(create_app(Path(tmp) / "app.db"))
        bodies = [
            json.dumps({"scenario": scenario, "knobs": _knobs(random.Random(i))}).encode()
            for i in range(12)
        ]

        async def run() -> float:
            for body in bodies:  # simulate and keep each answer first
                assert await call(body) == 200
            t0 = time.process_time()
            for i in range(n):
                await call(bodies[i % len(bodies)])
            return time.process_time() - t0

        took = asyncio.run(run())
        print(f"cached request through the app, in process: {took / n * 1e3:.2f} ms CPU")


def distinct_through_app(scenario: str, n: int = 150, warm: int = 40) -> None:
    """CPU of an uncached ``/api/simulate`` (new knobs each time) through the whole ASGI
    app in process, after ``warm`` requests: the phases plus the app's own share.

    The warm-up must outlast the filling of the catalogue's caches (16 results, 32
    answers): while they fill, every request keeps new memory, whose first touch (page
    faults, system time) cost ~2 ms a request here, not the app."""
    import asyncio
    import resource

    from materiel.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        call = _app_caller(create_app(Path(tmp) / "distinct.db"))
        rng = random.Random(7)
        bodies = [
            json.dumps({"scenario": scenario, "knobs": _knobs(rng)}).encode()
            for _ in range(warm + n)
        ]

        async def run() -> tuple[float, float]:
            for body in bodies[:warm]:
                assert await call(body) == 200
            before = resource.getrusage(resource.RUSAGE_SELF)
            for body in bodies[warm:]:
                assert await call(body) == 200
            after = resource.getrusage(resource.RUSAGE_SELF)
            return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime

        user, system = asyncio.run(run())
        per, sys_ms = (user + system) / n * 1e3, system / n * 1e3
        print(
            f"uncached request through the app, in process (after {warm} warm-up): "
            f"{per:.1f} ms CPU (system {sys_ms:.2f})"
        )


def _answered(status: int, body: bytes, knobs: dict[str, float]) -> bool:
    """Whether a simulate answer is whole: status 200, JSON with a summary and each knob
    as sent (every client checks every answer the same way)."""
    if status != 200:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    echoed = answer.get("knobs", {})
    return "summary" in answer and all(echoed.get(k) == v for k, v in knobs.items())


@contextlib.contextmanager
def _serving(args: argparse.Namespace) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``materiel serve --workers`` on a free loopback port with a throwaway store (the
    sources under ``--server-src`` if given), once every worker listens and one answers;
    the process and its port."""
    from materiel.web.serving import worker_connections

    port = _free_port()
    env = dict(os.environ)
    if args.server_src:
        env["PYTHONPATH"] = os.pathsep.join([args.server_src, env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from materiel.cli import main; main()",
                "serve",
                "--port",
                str(port),
                "--store",
                str(Path(tmp) / "bench.db"),
                "--workers",
                str(args.workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            deadline = time.monotonic() + 120
            while True:  # a worker listening late would get none of the clients' connections
                try:
                    listening = len(worker_connections(port, _descendants(proc.pid)))
                    ok = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).is_success
                    if ok and listening >= args.workers:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)
            yield proc, port
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def connection_splits(args: argparse.Namespace) -> None:
    """``--splits N``: N times, open ``--clients`` connections at once (as the load test's
    clients do), one ``/api/health`` each, and count how they lie over the workers
    (:func:`materiel.web.serving.worker_connections`); the machine's load hardly matters."""
    from materiel.web.serving import worker_connections

    seen: collections.Counter[str] = collections.Counter()
    with _serving(args) as (proc, port):
        for _ in range(args.splits):
            conns = [
                http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for _ in range(args.clients)
            ]
            go = threading.Barrier(args.clients)

            def ask(conn: http.client.HTTPConnection, go: threading.Barrier = go) -> None:
                go.wait()
                conn.request("GET", "/api/health")
                conn.getresponse().read()

            threads = [threading.Thread(target=ask, args=(c,)) for c in conns]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            split = sorted(worker_connections(port, _descendants(proc.pid)).values())[::-1]
            seen["/".join(map(str, split))] += 1
            for c in conns:
                c.close()
            time.sleep(0.3)  # the workers drop the closed connections
    counted = ", ".join(f"{split} x{n}" for split, n in seen.most_common())
    print(
        f"{args.clients} connections opened at once, {args.workers} workers, "
        f"{args.splits} times: {counted}"
    )


def load_test(args: argparse.Namespace) -> None:
    """Serve on loopback and send requests from ``args.clients`` threads."""
    from materiel.web.serving import worker_connections

    with _serving(args) as (proc, port):
        url = f"http://127.0.0.1:{port}"
        settings = [_knobs(random.Random(i)) for i in range(12)] if args.mix == "page" else []
        # compile and cache first, on 4 connections a worker (one connection would warm
        # only the worker it lands on); each worker keeps its own cache
        warm = [httpx.Client(base_url=url, timeout=300) for _ in range(4 * args.workers)]
        try:
            for c in warm:
                c.post("/api/simulate", json={"scenario": args.scenario})
                for knobs in settings:
                    c.post("/api/simulate", json={"scenario": args.scenario, "knobs": knobs})
        finally:
            for c in warm:
                c.close()
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def record(dt: float, ok: bool) -> None:
            with lock:
                latencies.append(dt)
                if not ok:
                    errors[0] += 1

        def client(seed: int) -> None:  # httpx: one Client (keep-alive pool) per thread
            rng = random.Random(seed)
            with httpx.Client(base_url=url, timeout=30) as c:
                while time.monotonic() < stop_at:
                    knobs = settings[rng.randrange(12)] if settings else _knobs(rng)
                    t0 = time.perf_counter()
                    try:
                        r = c.post(
                            "/api/simulate", json={"scenario": args.scenario, "knobs": knobs}
                        )
                        ok = _answered(r.status_code, r.content, knobs)
                    except httpx.HTTPError:
                        ok = False
                    record(time.perf_counter() - t0, ok)

        def stdlib_client(seed: int) -> None:  # one keep-alive http.client connection
            rng = random.Random(seed)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Content-Type": "application/json", "Accept-Encoding": "gzip"}
            try:
                while time.monotonic() < stop_at:
                    knobs = settings[rng.randrange(12)] if settings else _knobs(rng)
                    body = json.dumps({"scenario": args.scenario, "knobs": knobs}).encode()
                    t0 = time.perf_counter()
                    try:
                        conn.request("POST", "/api/simulate", body=body, headers=headers)
                        r = conn.getresponse()
                        data = r.read()
                        if r.getheader("Content-Encoding") == "gzip":
                            data = gzip.decompress(data)
                        ok = _answered(r.status, data, knobs)
                    except (OSError, http.client.HTTPException):
                        ok = False
                        conn.close()  # reconnects on the next request
                    record(time.perf_counter() - t0, ok)
            finally:
                conn.close()

        run = stdlib_client if args.client == "stdlib" else client
        threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
        perf = _perf_start(_descendants(proc.pid)) if args.perf else None
        server_cpu, client_cpu = _tree_cpu_s(proc.pid), time.process_time()
        workers = list(worker_connections(port, _descendants(proc.pid)))
        worker_cpu = [_tree_cpu_s(pid) for pid in workers]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(args.seconds / 2)  # how the clients' connections lie over the workers
        split = sorted(worker_connections(port, _descendants(proc.pid)).values(), reverse=True)
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        worker_cpu = [_tree_cpu_s(pid) - cpu for pid, cpu in zip(workers, worker_cpu, strict=True)]
        server_cpu = _tree_cpu_s(proc.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        counts = _perf_stop(perf) if perf is not None else {}
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1e3
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3
    print(
        f"{args.mix} knobs, {args.clients} {args.client} clients, {args.workers} workers, "
        f"{elapsed:.1f} s: "
        f"{len(lat)} requests, {len(lat) / elapsed:.1f} req/s, "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, errors {errors[0]}"
    )
    busy = "/".join(f"{cpu / elapsed:.2f}" for cpu in sorted(worker_cpu, reverse=True))
    print(
        f"  connections per worker at half time: {'/'.join(map(str, split)) or 'unknown'}; "
        f"each worker's CPU: {busy or 'unknown'} cores"
    )
    n = max(len(lat), 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"  CPU per request: server {server_cpu / n * 1e3:.2f} ms (all workers), load-test "
        f"client {client_cpu / n * 1e3:.2f} ms; load average {load:.1f} on {os.cpu_count()} "
        "CPUs (the machine's other work shares them)"
    )
    if counts:
        print(
            f"  perf stat, server workers, per request: task-clock "
            f"{counts.get('task-clock', float('nan')) / n:.2f} ms, context switches "
            f"{counts.get('context-switches', float('nan')) / n:.1f}, migrations "
            f"{counts.get('cpu-migrations', float('nan')) / n:.2f}, page faults "
            f"{counts.get('page-faults', float('nan')) / n:.0f}"
        )


if __name__ == "__main__":
    main()

"""Scenario resolution for the API: embedded ids, stored scenarios and inline mappings.

``extends`` may only name an embedded scenario (never a file path), so a
request can never make the server read a file of its choosing.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
from fastapi import HTTPException

from materiel._errors import Problem, ScenarioError
from materiel.analysis.result import Result, group_sums
from materiel.analysis.simulate import simulate
from materiel.engine.inputs import Inputs, compile_inputs
from materiel.scenario.loading import DATASET_ID, embedded_ids, load
from materiel.scenario.schema import Scenario
from materiel.web.knobs import Knobs, apply_knobs, knobbed_inputs, template_knobs
from materiel.web.limits import Limits
from materiel.web.schemas import ScenarioRef, clean
from materiel.web.store import NotFound, Store

__all__ = [
    "ANSWER_THREADS",
    "GZIP_MINIMUM_BYTES",
    "LRU",
    "Answer",
    "Catalogue",
    "RunKey",
    "embedded_scenario",
    "embedded_set",
]

_STORED_CACHE_SIZE = 32
_RESULT_CACHE_SIZE = 16
_ANSWER_CACHE_SIZE = 32
_TEMPLATE_CACHE_SIZE = 16
ANSWER_THREADS = 1
"""Threads per worker process answering uncached ``/api/simulate`` requests
(:attr:`Catalogue.answering`): one, so a worker simulates one request at a time and the
next waits in line, where starlette's thread pool (up to 40 threads) ran every request
in flight at once, interleaved under the GIL. Measured with ``benchmarks/bench_web.py``
(8 clients, 2 workers, alternating): 1 thread 12.5 to 14.2 ms of server CPU a request,
2 threads 13.2 to 14.9, the pool 15.2 to 16.9 (30 to 49 context switches a request
against 20); the workers' processes give the parallelism."""
GZIP_MINIMUM_BYTES = 1000
"""Answers this long or longer are gzipped (for clients that accept it): the app's
``GZipMiddleware`` and the answer cache use the same threshold."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RunKey = tuple[str, int, str]
"""What a run depends on: scenario id, stored version (0 when embedded) and knobs as JSON."""


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` (now the most recent), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> V:
        """Keep ``value``; drop the least recently used beyond ``size``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def get_or(self, key: K | None, compute: Callable[[], V]) -> V:
        """The value for ``key``, computed and kept when missing (never kept for None)."""
        if key is None:
            return compute()
        found = self.get(key)
        return found if found is not None else self.put(key, compute())


class Answer(NamedTuple):
    """A JSON answer encoded once: the bytes, and gzipped when that is worth it."""

    body: bytes
    gzipped: bytes | None

    @classmethod
    def encode(cls, body: bytes, minimum_size: int = GZIP_MINIMUM_BYTES) -> Answer:
        """``body`` and, at ``minimum_size`` bytes or more, its gzip."""
        small = len(body) < minimum_size
        return cls(body, None if small else gzip.compress(body, compresslevel=6, mtime=0))


@lru_cache(maxsize=1)
def embedded_set() -> frozenset[str]:
    """Ids a request may name without the store: embedded scenarios and the dataset
    (package data, fixed for the process: listed once, not on every request)."""
    return frozenset({*embedded_ids(), DATASET_ID})


@lru_cache(maxsize=16)
def embedded_scenario(sid: str) -> Scenario:
    """Embedded scenarios, loaded once per process (the frozen model is never changed)."""
    return load(sid)


_warm_lock = threading.Lock()
_warm_done = False


def warm_kernel() -> None:
    """Run the engine once per process on the embedded scenarios with and without budgets.

    The first run in a process compiles (or loads from numba's cache) the engine's
    kernel (and the summary's compiled group sums, :func:`group_sums`): a minute on a
    loaded machine with no cache. Runs wait for this before
    their wall-clock limit starts (:meth:`Catalogue._simulate`), so the compile is
    never counted against a request's ``simulate_timeout_s``.
    """
    global _warm_done
    with _warm_lock:
        if not _warm_done:
            for sid in ("action-plan", "hague-pledge"):  # budgets off and on
                simulate(embedded_scenario(sid))
            group_sums(np.zeros((2, 1)), [1, 0], 2)  # the summary's compiled sums, loaded too
            _warm_done = True


class Catalogue:
    """Turns a :class:`ScenarioRef` into a validated scenario, caching stored ones by version."""

    def __init__(self, store: Store, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        # Synchronous runs go through a small pool so that runs abandoned at their
        # wall-clock limit (a numba kernel cannot be interrupted) cannot pile up.
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="materiel-run")
        self.answering = ThreadPoolExecutor(
            max_workers=ANSWER_THREADS, thread_name_prefix="materiel-answer"
        )
        """Where ``/api/simulate`` computes an answer it has not cached
        (:data:`ANSWER_THREADS`); cached answers never wait for it (the event loop
        serves them)."""
        self._stored_cache: LRU[tuple[str, int], Scenario] = LRU(_STORED_CACHE_SIZE)
        self._results: LRU[RunKey, Result] = LRU(_RESULT_CACHE_SIZE)
        self.answers: LRU[Hashable, Answer] = LRU(_ANSWER_CACHE_SIZE)
        """Encoded answers of read-only routes, keyed by their :meth:`run_key` and options."""
        self._templates: LRU[RunKey, Inputs] = LRU(_TEMPLATE_CACHE_SIZE)

    @staticmethod
    def load_mapping(body: dict[str, Any], name: str) -> Scenario:
        """Validate a mapping from a request (``extends`` only an embedded id)."""
        base = body.get("extends")
        if base is not None and (not isinstance(base, str) or base not in embedded_set()):
            raise ScenarioError(
                Problem(name, "extends", f"must name an embedded scenario, got {base!r}")
            )
        try:
            s = load(body, name=name)
        except ScenarioError:
            raise
        except Exception as exc:  # odd shapes the loader did not anticipate: still bad input
            raise ScenarioError(Problem(name, "", f"invalid scenario: {exc}")) from exc
        empty = [k for k in ("parties", "products", "lines") if not getattr(s, k)]
        if empty:
            raise ScenarioError(
                Problem(name, empty[0], f"no {empty[0]}: extend an embedded scenario (`extends`)")
            )
        return s

    def validated(self, sid: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The title and cleaned body of a mapping to store under ``sid`` (else 422)."""
        body = clean(body)
        s = self.load_mapping({**body, "id": sid}, sid)
        return s.title, body

    def stored(self, sid: str) -> Scenario:
        """A stored scenario, validated once per version."""
        return self._stored(sid)[0]

    def _stored(self, sid: str) -> tuple[Scenario, int]:
        rec = self.store.get_scenario(sid)
        s = self._stored_cache.get_or(
            (sid, rec.version), lambda: self.load_mapping({**rec.body, "id": sid}, sid)
        )
        return s, rec.version

    def _base(self, ref: ScenarioRef) -> tuple[Scenario, tuple[str, int] | None]:
        """The scenario a request names, before knobs, and its cache key (None for inline)."""
        if ref.inline is not None:
            return self.load_mapping(ref.inline, "<inline>"), None
        if ref.scenario is None:
            raise ScenarioError(Problem("<request>", "scenario", "give `scenario` or `inline`"))
        if ref.scenario in embedded_set():
            return embedded_scenario(ref.scenario), (ref.scenario, 0)
        try:
            s, version = self._stored(ref.scenario)
            return s, (ref.scenario, version)
        except NotFound:
            raise HTTPException(404, f"no scenario {ref.scenario!r}") from None

    def resolve(self, ref: ScenarioRef) -> Scenario:
        """The scenario a request names, with its knobs applied (404 for an unknown id)."""
        return apply_knobs(self._base(ref)[0], ref.knobs)

    def run_key(self, ref: ScenarioRef) -> RunKey | None:
        """What the run of ``ref`` depends on (None for an inline scenario): a cache key.

        404 for an unknown id, 422 for a stored scenario that no longer validates.
        """
        base_key = self._base(ref)[1]
        return None if base_key is None else (*base_key, ref.knobs.model_dump_json())

    @staticmethod
    def embedded_key(ref: ScenarioRef) -> RunKey | None:
        """:meth:`run_key` of a request naming an embedded scenario, found without the
        store or any file (so an async route may look up its cached answer without
        leaving the event loop); None otherwise."""
        if ref.inline is not None or ref.scenario is None or ref.scenario not in embedded_set():
            return None
        return (ref.scenario, 0, ref.knobs.model_dump_json())

    def run(self, ref: ScenarioRef) -> Result:
        """Simulate the scenario a request names, within the run budget and time limit.

        A run is deterministic in its scenario (id and stored version) and knobs,
        so the last ``_RESULT_CACHE_SIZE`` results are kept and shared: callers
        read a Result and never change it. Inline scenarios are not cached.
        Over ``Limits.max_run_cells`` (estimated before running): 413. Past
        ``Limits.simulate_timeout_s``: 422 (the run finishes in the background
        and its result is dropped).
        """
        base, base_key = self._base(ref)
        key = None if base_key is None else (*base_key, ref.knobs.model_dump_json())
        return self._results.get_or(
            key, lambda: self._simulate(apply_knobs(base, ref.knobs), base, base_key, ref.knobs)
        )

    def compiled(self, ref: ScenarioRef, s: Scenario) -> Inputs:
        """The engine inputs of ``s``, the scenario ``ref`` names with its knobs applied."""
        base, base_key = self._base(ref)
        return self._compiled(s, base, base_key, ref.knobs)

    def _compiled(
        self, s: Scenario, base: Scenario, base_key: tuple[str, int] | None, knobs: Knobs
    ) -> Inputs:
        """:meth:`compiled`: where :func:`template_knobs` allows, from the inputs of the
        template knobs, compiled once per scenario and stored version and retuned
        (:func:`knobbed_inputs`; identical to compiling ``s``, ``tests/test_web_inputs.py``);
        otherwise compiled."""
        template = None if base_key is None else template_knobs(base, knobs)
        if base_key is None or template is None:
            return compile_inputs(s)
        key = (*base_key, template.model_dump_json())
        inp = self._templates.get_or(key, lambda: compile_inputs(apply_knobs(base, template)))
        return knobbed_inputs(inp, s)

    def _simulate(
        self, s: Scenario, base: Scenario, base_key: tuple[str, int] | None, knobs: Knobs
    ) -> Result:
        self.limits.check_run(s)
        warm_kernel()  # the kernel's first compile is not part of the run's time limit
        future = self._pool.submit(
            lambda: simulate(s, inputs=self._compiled(s, base, base_key, knobs))
        )
        timeout = self.limits.simulate_timeout_s
        try:
            result: Result = future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()
            raise ScenarioError(
                Problem(
                    "<request>",
                    "",
                    f"the run took longer than the server's limit of {timeout:g} s; "
                    "ask for fewer months or entities",
                )
            ) from None
        return result

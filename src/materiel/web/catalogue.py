"""Scenario resolution for the API: embedded ids, stored scenarios and inline mappings.

``extends`` may only name an embedded scenario (never a file path), so a
request can never make the server read a file of its choosing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache
from typing import Any

from fastapi import HTTPException

from materiel._errors import Problem, ScenarioError
from materiel.analysis.result import Result
from materiel.analysis.simulate import simulate
from materiel.scenario.loading import DATASET_ID, embedded_ids, load
from materiel.scenario.schema import Scenario
from materiel.web.knobs import apply_knobs
from materiel.web.limits import Limits
from materiel.web.schemas import ScenarioRef, clean
from materiel.web.store import NotFound, Store

__all__ = ["Catalogue", "embedded_scenario", "embedded_set"]

_STORED_CACHE_SIZE = 32
_RESULT_CACHE_SIZE = 16


def embedded_set() -> set[str]:
    """Ids a request may name without the store: embedded scenarios and the dataset."""
    return {*embedded_ids(), DATASET_ID}


@lru_cache(maxsize=16)
def embedded_scenario(sid: str) -> Scenario:
    """Embedded scenarios, loaded once per process (the frozen model is never changed)."""
    return load(sid)


class Catalogue:
    """Turns a :class:`ScenarioRef` into a validated scenario, caching stored ones by version."""

    def __init__(self, store: Store, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        # Synchronous runs go through a small pool so that runs abandoned at their
        # wall-clock limit (a numba kernel cannot be interrupted) cannot pile up.
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="materiel-run")
        self._cache: OrderedDict[tuple[str, int], Scenario] = OrderedDict()
        self._results: OrderedDict[tuple[str, int, str], Result] = OrderedDict()
        self._lock = threading.Lock()

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
        key = (sid, rec.version)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key], rec.version
        s = self.load_mapping({**rec.body, "id": sid}, sid)
        with self._lock:
            self._cache[key] = s
            while len(self._cache) > _STORED_CACHE_SIZE:
                self._cache.popitem(last=False)
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
        if key is not None:
            with self._lock:
                if key in self._results:
                    self._results.move_to_end(key)
                    return self._results[key]
        s = apply_knobs(base, ref.knobs)
        self.limits.check_run(s)
        future = self._pool.submit(simulate, s)
        timeout = self.limits.simulate_timeout_s
        try:
            result = future.result(timeout=timeout)
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
        if key is not None:
            with self._lock:
                self._results[key] = result
                while len(self._results) > _RESULT_CACHE_SIZE:
                    self._results.popitem(last=False)
        return result

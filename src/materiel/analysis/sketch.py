"""Streaming quantiles in fixed memory: one log-bucket histogram per series.

A Monte Carlo run of a million samples cannot keep every trajectory to take
percentiles at the end. :class:`QuantileSketch` keeps, for each of ``n``
series (say month x line), counts in fixed logarithmic buckets (the
DDSketch of Masson, Rim and Lee, VLDB 2019, with a fixed range):

- bucket 0 holds every value ``x <= SMALLEST`` (zero, and rounding noise
  around it); its value is 0;
- bucket ``j >= 1`` holds ``SMALLEST * g**(j-1) < x <= SMALLEST * g**j``
  with ``g = (1 + ALPHA) / (1 - ALPHA)``; its value is
  ``2 * SMALLEST * g**j / (g + 1)``, within ``ALPHA`` (relative) of any
  value in the bucket;
- values above ``SMALLEST * g**(B-1)`` (about 1e13) fall in the last bucket.

**Stated error**: the ``q`` quantile returned is within ``ALPHA`` = 1%
(relative), or ``SMALLEST`` = 0.001 (absolute) near zero, of the exact
order statistic of rank ``floor(q * (n - 1))`` (numpy's
``method="lower"``). Counts are integers, so merging chunks in any order,
on any number of threads, gives the same sketch.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import njit

__all__ = ["ALPHA", "SMALLEST", "QuantileSketch"]

ALPHA = 0.01
SMALLEST = 1e-3
_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
BUCKETS = math.ceil(math.log(1e13 / SMALLEST) / _LOG_GAMMA) + 2


_BLOCK = 64
"""Series bucketed together by :func:`_buckets`: one 512-byte run of each sample's row read,
64 rows of the transposed output written (both stay in the L1 cache)."""


@njit(cache=True, nogil=True)
def _buckets(values: np.ndarray, log_gamma: float, smallest: float, B: int) -> np.ndarray:
    """Bucket of each of ``values`` (samples, series), transposed: ``(series, samples)`` int16.

    Walked in blocks of :data:`_BLOCK` series, sample by sample within a
    block, so that reading ``values`` (sample-major) and writing the
    series-major output both run along cache lines (a series-outer walk
    strided through memory and was most of the sketch's time). A value
    equal to the one before in its series (every series an uncertain input
    does not reach) reuses its bucket instead of a logarithm. Compiled
    without the GIL and without the sketch's lock: only :func:`_count`
    holds it.
    """
    S, N = values.shape
    out = np.empty((N, S), dtype=np.int16)
    inv = 1.0 / log_gamma
    last = np.empty(_BLOCK)
    bucket = np.zeros(_BLOCK, dtype=np.int16)
    for i0 in range(0, N, _BLOCK):
        i1 = min(i0 + _BLOCK, N)
        last[:] = np.nan
        for s in range(S):
            for i in range(i0, i1):
                x = values[s, i]
                if x != last[i - i0]:
                    last[i - i0], j = x, 0
                    if x > smallest:  # clamp as a float first: int(inf) is undefined
                        r = math.ceil(math.log(x / smallest) * inv)
                        j = B - 1 if r >= B - 1 else max(int(r), 1)
                    bucket[i - i0] = j
                out[i, s] = bucket[i - i0]
    return out


@njit(cache=True, nogil=True)
def _count(counts: np.ndarray, buckets: np.ndarray) -> None:
    """``counts[i, buckets[i, s]] += 1`` for every series ``i`` and sample ``s``.

    Series by series: each series' buckets and counts are contiguous, and a
    run of equal buckets (a series no draw reaches) is added at once.
    """
    N, S = buckets.shape
    if S == 0:
        return
    for i in range(N):
        row = buckets[i]
        j, run = row[0], 0
        for s in range(S):
            if row[s] != j:
                counts[i, j] += run
                j, run = row[s], 0
            run += 1
        counts[i, j] += run


@njit(cache=True, nogil=True)
def _quantiles(counts: np.ndarray, qs: np.ndarray, gamma: float, smallest: float) -> np.ndarray:
    N, B = counts.shape
    out = np.zeros((N, qs.shape[0]))
    for i in range(N):
        n = 0
        for j in range(B):
            n += counts[i, j]
        if n == 0:
            out[i, :] = np.nan
            continue
        for k in range(qs.shape[0]):
            rank = int(math.floor(qs[k] * (n - 1)))  # noqa: RUF046 (numba)
            seen = 0
            for j in range(B):
                seen += counts[i, j]
                if seen > rank:
                    out[i, k] = 0.0 if j == 0 else 2.0 * smallest * gamma**j / (gamma + 1.0)
                    break
    return out


class QuantileSketch:
    """Streaming quantiles of ``shape`` series at once (see the module docstring for the error).

    ``add(values)`` takes ``(samples, *shape)`` arrays, chunk by chunk, from
    any thread; ``quantiles(qs)`` returns ``(*shape, len(qs))``. Memory:
    ``prod(shape) * BUCKETS * 4`` bytes (1,851 buckets), whatever the number
    of samples.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.counts = np.zeros((int(np.prod(shape)), BUCKETS), dtype=np.int32)
        self._lock = threading.Lock()

    def add(self, values: np.ndarray) -> None:
        """Count one chunk of samples (first axis) of every series."""
        rows = np.asarray(values, dtype=np.float64).reshape(values.shape[0], len(self.counts))
        buckets = _buckets(rows, _LOG_GAMMA, SMALLEST, BUCKETS)
        with self._lock:
            _count(self.counts, buckets)

    def quantiles(self, qs: tuple[float, ...]) -> np.ndarray:
        """The ``qs`` quantiles of every series, ``(*shape, len(qs))`` (NaN before any sample)."""
        out = _quantiles(self.counts, np.asarray(qs, dtype=float), _GAMMA, SMALLEST)
        result: np.ndarray = out.reshape(*self.shape, len(qs))
        return result

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
_TABLES: list[tuple[np.ndarray, np.ndarray, int]] = []  # (low, guess, e0), built on first use


def _tables() -> tuple[np.ndarray, np.ndarray, int]:
    """The exact bucket thresholds and the guess table (built once, about a millisecond)."""
    if not _TABLES:
        low = _thresholds(1.0 / _LOG_GAMMA, SMALLEST, BUCKETS)
        guess, e0 = _guesses(low, SMALLEST)
        _TABLES.append((low, guess, e0))
    return _TABLES[0]


_BLOCK = 64
"""Series bucketed together by :func:`_buckets`: one 512-byte run of each sample's row read,
64 rows of the transposed output written (both stay in the L1 cache)."""

_TOP_BITS = 8
"""Mantissa bits of the guess table (:func:`_guesses`): a cell spans a ratio of at most
``1 + 2**-8``, under a bucket's ``g`` = 1.0202, so a guess is at most one bucket low."""


@njit(cache=True)
def _bucket(x: float, inv_log_gamma: float, smallest: float, B: int) -> int:
    """The bucket of ``x``: 0 up to ``smallest``, else ``ceil(log(x / smallest) / log(g))``
    within ``1 .. B-1`` (the definition; :func:`_buckets` finds the same without a logarithm)."""
    if x > smallest:
        v = math.log(x / smallest) * inv_log_gamma
        if v > B - 2:  # compared as a float: numba's ceil of inf is not a number of buckets
            return B - 1
        return max(math.ceil(v), 1)
    return 0


@njit(cache=True)
def _thresholds(inv_log_gamma: float, smallest: float, B: int) -> np.ndarray:
    """``low[j]``: the smallest float64 in bucket ``j`` or above (by :func:`_bucket`), j = 1..B-1.

    Found by bisection over the bit patterns of positive doubles (ordered as
    the doubles are); :func:`_bucket` never decreases as ``x`` grows (a
    quotient, a logarithm, a product and a ceiling, each monotone), so
    ``x >= low[j]`` exactly when ``x``'s bucket is ``j`` or above.
    """
    low = np.zeros(B)
    bits = np.zeros(1, dtype=np.int64)
    as_float = bits.view(np.float64)
    top = np.int64(0x7FF0000000000000)  # +inf: the last bucket
    for j in range(1, B):
        lo, hi = np.int64(0), top  # _bucket(lo) < j <= _bucket(hi)
        while hi - lo > 1:
            mid = lo + (hi - lo) // 2
            bits[0] = mid
            if _bucket(as_float[0], inv_log_gamma, smallest, B) >= j:
                hi = mid
            else:
                lo = mid
        bits[0] = hi
        low[j] = as_float[0]
    return low


@njit(cache=True)
def _guesses(low: np.ndarray, smallest: float) -> tuple[np.ndarray, int]:
    """Bucket of the smallest double of each (exponent, top mantissa bits) cell at or above
    ``smallest``'s exponent: ``guess[(e - e0) << _TOP_BITS | top]``, and ``e0``."""
    bits = np.zeros(1, dtype=np.int64)
    as_float = bits.view(np.float64)
    as_float[0] = smallest
    e0 = int(bits[0] >> 52)
    as_float[0] = low[low.shape[0] - 1]
    e1 = int(bits[0] >> 52) + 1
    n = (e1 - e0) << _TOP_BITS
    guess = np.ones(n, dtype=np.int16)
    j = 1
    for i in range(n):
        bits[0] = np.int64(e0 + (i >> _TOP_BITS)) << 52 | np.int64(i & ((1 << _TOP_BITS) - 1)) << (
            52 - _TOP_BITS
        )
        x = as_float[0]
        while j + 1 < low.shape[0] and x >= low[j + 1]:
            j += 1
        guess[i] = j
    return guess, e0


@njit(cache=True, nogil=True)
def _buckets(
    values: np.ndarray, low: np.ndarray, guess: np.ndarray, e0: int, smallest: float
) -> np.ndarray:
    """Bucket of each of ``values`` (samples, series), transposed: ``(series, samples)`` int16.

    Walked in blocks of :data:`_BLOCK` series, sample by sample within a
    block, so that reading ``values`` (sample-major) and writing the
    series-major output both run along cache lines (a series-outer walk
    strided through memory and was most of the sketch's time). A value
    equal to the one before in its series (every series an uncertain input
    does not reach) reuses its bucket. A bucket is found without a
    logarithm: the value's exponent and top mantissa bits index ``guess``
    (the bucket of the cell's smallest double), then ``low`` (the exact
    thresholds, :func:`_thresholds`) moves it up to the value's own; the
    same bucket as :func:`_bucket` for every double, at about a quarter of
    the cost. Compiled without the GIL and without the sketch's lock: only
    :func:`_count` holds it.
    """
    S, N = values.shape
    out = np.empty((N, S), dtype=np.int16)
    B = low.shape[0]
    n_guess = guess.shape[0]
    flat = values.reshape(-1).view(np.int64)
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
                    if x > smallest:  # NaN is not: bucket 0, as in _bucket
                        cell = (flat[s * N + i] >> (52 - _TOP_BITS)) - (e0 << _TOP_BITS)
                        j = B - 1 if cell >= n_guess else int(guess[cell])
                        while j + 1 < B and x >= low[j + 1]:
                            j += 1
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
        low, guess, e0 = _tables()
        buckets = _buckets(np.ascontiguousarray(rows), low, guess, e0, SMALLEST)
        with self._lock:
            _count(self.counts, buckets)

    def quantiles(self, qs: tuple[float, ...]) -> np.ndarray:
        """The ``qs`` quantiles of every series, ``(*shape, len(qs))`` (NaN before any sample)."""
        out = _quantiles(self.counts, np.asarray(qs, dtype=float), _GAMMA, SMALLEST)
        result: np.ndarray = out.reshape(*self.shape, len(qs))
        return result

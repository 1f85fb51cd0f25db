"""numba's first dispatch from its cache without its registries, and without ``scipy.linalg``.

Two costs of every ``materiel run`` that buy nothing for a kernel loaded
from numba's on-disk cache:

* **Registries.** Before loading a cached function numba refreshes its
  contexts (``Cache.load_overload`` calls ``BaseContext.refresh``): it
  imports every lowering and typing registry (typed lists, dicts and sets,
  ``np.random``, polynomials, datetimes, linear algebra; about 60 modules)
  and installs their thousands of entries, about 0.2 s of CPU. Those serve
  type inference and lowering, which a cached function has already been
  through: its machine code is loaded as it is. What that code calls at run
  time is numba's runtime (``NRT_*``, registered and compiled by
  ``rtsys.initialize``) and symbols given to LLVM at import: numba's C
  helpers and math functions (when numba and its CPU context are set up)
  and the string-hash secret (on importing ``numba.cpython.hashing``).
  :func:`cache_loads_without_registries` makes a cache load do just those
  two things, then load. Anything compiled afterwards refreshes the
  contexts itself (``compiler.compile_extra`` does, before type inference),
  so a later compile sees every registry, as before; a cache miss compiles
  the same way.
* **BLAS probe.** ``numba.np.arraymath``, imported with the registries or
  when a cached function's environment is unpickled, asks at import whether
  BLAS is available (``_HAVE_BLAS = _check_blas()``) by importing
  ``scipy.linalg.cython_blas``, which imports all of ``scipy.linalg`` and,
  through scipy's array-API layer, ``numpy.f2py`` (0.3 to 0.5 s of CPU), for
  a kernel that calls no BLAS routine. The answer only selects, when
  ``np.dot`` or ``np.vdot`` of two vectors is compiled, BLAS or a plain
  loop. :func:`arraymath_without_scipy` imports ``numba.np.arraymath`` with
  that one question answered by whether scipy is installed (a dependency of
  materiel, so the answer numba itself would give), then puts numba's own
  ``ensure_blas`` back: anything compiled later that really uses BLAS
  imports and checks scipy exactly as numba does.

Both are no-ops where numba's layout differs (then numba does its usual
work, slower but the same).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["arraymath_without_scipy", "cache_loads_without_registries"]


def arraymath_without_scipy() -> None:
    """Import ``numba.np.arraymath`` without ``scipy.linalg`` (idempotent)."""
    if "numba.np.arraymath" in sys.modules:
        return
    try:
        from numba.np import linalg
    except ImportError:  # pragma: no cover - another numba layout
        return
    real = getattr(linalg, "ensure_blas", None)
    if real is None:  # pragma: no cover - another numba layout
        return

    def scipy_installed() -> None:
        if importlib.util.find_spec("scipy") is None:
            raise ImportError("scipy 0.16+ is required for linear algebra")

    linalg.ensure_blas = scipy_installed
    try:
        from numba.np import arraymath
    finally:
        linalg.ensure_blas = real
    if getattr(arraymath, "ensure_blas", None) is scipy_installed:
        arraymath.ensure_blas = real  # type: ignore[attr-defined]


def cache_loads_without_registries() -> None:
    """Load functions from numba's cache without importing numba's registries (idempotent)."""
    try:
        from numba.core import caching
        from numba.core.runtime import nrt
    except ImportError:  # pragma: no cover - another numba layout
        return
    cache = caching.FunctionCache  # compiled functions' cache (not cfuncs' or ufuncs')
    if getattr(cache.load_overload, "_materiel", False):
        return
    if not all(hasattr(cache, n) for n in ("_load_overload", "_guard_against_spurious_io_errors")):
        return  # pragma: no cover - another numba layout

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        import numba.cpython.hashing  # noqa: F401  (gives LLVM the string-hash secret)

        arraymath_without_scipy()  # unpickling the environment may import arraymath

        nrt.rtsys.initialize(target_context)  # the runtime's symbols and functions
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)
        return None  # pragma: no cover - an I/O error swallowed by the guard: compile

    load_overload._materiel = True  # type: ignore[attr-defined]
    cache.load_overload = load_overload  # type: ignore[method-assign]

"""numba's lowering registries without importing ``scipy.linalg``.

On the first call of a compiled function, even one loaded from numba's cache,
numba imports all its lowering registries (``BaseContext.refresh``). One of
them, ``numba.np.arraymath``, asks at import whether BLAS is available
(``_HAVE_BLAS = _check_blas()``) by importing ``scipy.linalg.cython_blas``,
which imports all of ``scipy.linalg`` and, through scipy's array-API layer,
``numpy.f2py``: about 0.3 to 0.5 s of CPU on every ``materiel run``, for a
kernel that calls no BLAS routine. The answer only selects, when ``np.dot`` or
``np.vdot`` of two vectors is compiled, BLAS or a plain loop.

:func:`arraymath_without_scipy` imports ``numba.np.arraymath`` with that one
question answered by whether scipy is installed (a dependency of materiel,
so the answer numba itself would give), then puts numba's own
``ensure_blas`` back: anything compiled later that really uses BLAS imports
and checks scipy exactly as numba does. A no-op where numba's layout differs
or ``numba.np.arraymath`` is already imported.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["arraymath_without_scipy"]


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

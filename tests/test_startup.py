"""Start-up speed without changed answers: lazy dask.array, tables cached in Result."""

from __future__ import annotations

import subprocess
import sys


def _python(code: str, timeout_s: float) -> str:
    """Run ``code`` in a fresh interpreter (imports start cold); its standard output."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s, check=True
    )
    return proc.stdout


def test_lazy_dask_keeps_numpy_fast_and_dask_arrays_recognised() -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import xarray as xr\n"
        "from materiel._xarray import lazy_dask\n"
        "lazy_dask()\n"
        "lazy_dask()\n"  # idempotent
        "xr.Dataset({'a': (('x',), np.arange(3.0))})\n"
        "print('dask.array' in sys.modules)\n"
        "import dask.array as da\n"
        "v = xr.DataArray(da.ones(4, chunks=2), dims='x')\n"
        "print(type(v.data).__module__.split('.')[0], float(v.sum().compute()))\n"
    )
    out = _python(code, 120)
    assert out.split() == ["False", "dask", "4.0"]


def test_result_tables_are_cached_and_copied() -> None:
    """Each table is built once; a caller changing its copy changes nothing else."""
    from materiel.analysis.simulate import simulate

    r = simulate("status-quo")
    first = r.munitions()
    first.loc[:, "produced"] = -1.0
    again = r.munitions()
    assert (again.produced >= 0).all()
    assert r.metrics()["munitions"] == r.metrics()["munitions"]
    assert set(r._tables) >= {"munitions", "targets", "binding", "costs"}


def test_run_path_imports_neither_dask_nor_scipy_linalg() -> None:
    """``materiel run``'s path: xarray's dask checks and numba's BLAS probe stay lazy."""
    code = (
        "import sys\n"
        "from materiel.analysis.simulate import simulate\n"
        "from materiel.present.summary import summarize\n"
        "summarize(simulate('status-quo'))\n"
        "import numba.np.arraymath as am, numba.np.linalg as la\n"
        "print(sorted(m for m in ('dask', 'dask.base', 'scipy.linalg') if m in sys.modules))\n"
        "print(am._HAVE_BLAS, am.ensure_blas is la.ensure_blas, la.ensure_blas.__name__)\n"
    )
    out = _python(code, 300)
    assert out.split("\n")[:2] == ["[]", "True True ensure_blas"]


def test_decisions_equal_pandas_groupby() -> None:
    """``Result.decisions`` (groups found in a loop) equals the groupby it replaced."""
    import pandas as pd

    from materiel.analysis.simulate import simulate

    for sid in ("status-quo", "action-plan"):
        r = simulate(sid)
        df = r.contracts()
        df = df[df.decided_by == "policy"]
        expected = (
            df.assign(policy=df.origin.str.removeprefix("policy:"),
                      multi=df.quantity.where(df.multi_year, 0.0))
            .groupby(["policy", "product"], sort=False)
            .agg(contracts=("contract", "size"), first=("decided", "min"),
                 last=("decided", "max"), quantity=("quantity", "sum"),
                 multi_year_quantity=("multi", "sum"), delivered=("delivered", "sum"))
            .reset_index()
        )  # fmt: skip
        assert len(expected) > 0
        pd.testing.assert_frame_equal(r.decisions(), expected, check_exact=True)


def test_cached_kernel_loads_without_registries_and_later_compiles_see_them() -> None:
    """A cache load skips numba's registries; a compile afterwards refreshes them and works."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from materiel.analysis.simulate import simulate\n"
        "r = simulate('status-quo')\n"
        "from materiel.engine import kernel\n"
        "print(kernel.step.stats.cache_hits.total() > 0, kernel.step.stats.cache_misses.total())\n"
        "print(sorted(m for m in ('numba.typed.typedlist', 'numba.np.random.legacy',\n"
        "                         'numba.np.polynomial.polynomial_core') if m in sys.modules))\n"
        "from numba import njit, typed\n"
        "@njit\n"
        "def f(n):\n"
        "    xs = typed.List()\n"
        "    for i in range(n):\n"
        "        xs.append(np.sqrt(float(i)))\n"
        "    return len(xs), xs[n - 1]\n"
        "print(f(5))\n"
        "again = simulate('status-quo')\n"
        "print(bool((again.dataset.stock == r.dataset.stock).all()))\n"
    )
    out = _python(code, 600)
    assert out.split("\n")[:4] == ["True 0", "[]", "(5, 2.0)", "True"], out


def test_run_pauses_the_cycle_collector_and_turns_it_back_on() -> None:
    """``materiel run`` in-process prints its summary and leaves the collector on."""
    import gc

    from typer.testing import CliRunner

    from materiel.cli import _collector_paused, app

    seen = []
    with _collector_paused():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert "\nTargets\n" in result.output
    assert gc.isenabled()

"""Start-up speed without changed answers: lazy dask.array, tables cached in Result."""

from __future__ import annotations

import subprocess
import sys


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
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.split() == ["False", "dask", "4.0"]


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

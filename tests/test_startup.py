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
            df.assign(
                policy=df.origin.str.removeprefix("policy:"),
                multi=df.quantity.where(df.multi_year, 0.0),
            )
            .groupby(["policy", "product"], sort=False)
            .agg(
                contracts=("contract", "size"),
                first=("decided", "min"),
                last=("decided", "max"),
                quantity=("quantity", "sum"),
                multi_year_quantity=("multi", "sum"),
                delivered=("delivered", "sum"),
            )
            .reset_index()
        )
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


def test_run_text_path_imports_no_exporter() -> None:
    """``materiel run`` without ``--out`` never imports the file writers (nor Plotly);
    ``--out`` does."""
    code = (
        "import sys, tempfile\n"
        "from typer.testing import CliRunner\n"
        "from materiel.cli import app\n"
        "r = CliRunner().invoke(app, ['run', 'status-quo'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('materiel.present.export', 'plotly') if m in sys.modules))\n"
        "r = CliRunner().invoke(app, ['run', 'status-quo', '--out', tempfile.mkdtemp()])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('materiel.present.export' in sys.modules)\n"
    )
    out = _python(code, 600)
    assert out.split("\n")[:2] == ["[]", "True"], out


def test_plain_equals_the_labelled_selection() -> None:
    """``metrics.plain`` gives the values of ``ds[name].isel(sample=...).transpose(...)``."""
    import numpy as np

    from materiel.analysis.metrics import plain
    from materiel.analysis.simulate import simulate

    ds = simulate("action-plan").dataset
    checked = 0
    for name in [*ds.data_vars, *ds.coords]:
        da = ds[name]
        dims = tuple(reversed([d for d in da.dims if d != "sample"]))  # a non-trivial order
        expected = (da.isel(sample=0) if "sample" in da.dims else da).transpose(*dims).values
        got = plain(ds, str(name), dims)
        assert got.shape == expected.shape and got.dtype == expected.dtype, name
        assert np.array_equal(got, expected, equal_nan=got.dtype.kind == "f"), name
        checked += 1
    assert checked > 50
    every = plain(ds, "stock", sample=None)
    assert every.shape == ds.stock.shape


def test_array_tables_equal_labelled_selections() -> None:
    """The tables read by position (plain arrays) give what labelled selection gave, exactly,
    on every embedded scenario: aid, contracts, cost totals, interoperability, replacement."""
    from materiel.analysis.simulate import simulate

    for sid in ("action-plan", "status-quo", "hague-pledge", "hindcast-2022"):
        r = simulate(sid)
        ds = r.dataset.isel(sample=0)
        aid = r.aid().set_index("pledge")
        for g in ds.pledge.values:
            before = float(ds.pledge_given_before_start.sel(pledge=g))
            given = float(ds.pledge_deliveries.sum("month").sel(pledge=g))
            assert aid.loc[str(g), "delivered"] == given + before
        contracts = r.contracts().set_index("contract")
        delivered = ds.contract_deliveries.sum("month") + ds.contract_delivered_before_start
        for c in ds.contract.values:
            assert contracts.loc[str(c), "delivered"] == float(delivered.sel(contract=c))
            assert contracts.loc[str(c), "quantity"] == float(ds.contract_quantity.sel(contract=c))
        totals = r.cost_totals()
        assert totals["payments_usd"] == float(ds.payments_usd.sum())
        assert totals["capex_usd"] == float(ds.capex_usd.sum())
        assert totals["payments_by_party_usd"] == {
            str(p): float(v) for p, v in ds.payments_usd.sum("month").to_series().items() if v > 0
        }
        for row in r.interoperability().itertuples():
            at = {"party": row.party, "product": row.product}
            assert row.stock_end == float(ds.stock.sel(at)[-1])
            assert row.usable_end == float(ds.usable_stock.sel(at)[-1])
        capacity = ds.capacity_per_month.isel(month=0)
        for row in r.replacement().itertuples():
            mine = (ds.line_country == row.party) & (ds.line_product == row.product)
            assert row.production_rate_per_month == float(capacity.where(mine, 0.0).sum())
            start = ds.stock_start.sel(party=row.party, product=row.product)
            assert row.stock_start == float(start)

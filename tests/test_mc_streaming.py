"""Streamed Monte Carlo: thread- and chunk-independent, sketch within its stated error,
per-sample quantities equal to sums of the trajectories, trajectories to Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_montecarlo import UNCERTAIN

import materiel
from materiel.analysis.montecarlo import Quantity, chunk_bounds, sample, sample_quantities
from materiel.analysis.sketch import ALPHA, SMALLEST, QuantileSketch

QUANTITIES = {
    "made_2025": Quantity("production", ("2025-01", "2025-12"), {"line": "nammo-raufoss-155"}),
    "usa_mid_2026": Quantity("stock", "2026-06", {"party": "USA", "product": "shell-155mm"}),
    "peak_capacity": Quantity("capacity", ("2025-01", "2030-12"), how="max"),
}


def _same(a: materiel.MonteCarloResult, b: materiel.MonteCarloResult) -> None:
    pd.testing.assert_frame_equal(a.outcomes(), b.outcomes())
    pd.testing.assert_frame_equal(a.quantities, b.quantities)
    assert a.fans.identical(b.fans)


def test_threads_and_chunks_do_not_change_anything() -> None:
    one = sample(UNCERTAIN, 40, seed=4, threads=1, chunk=40, quantities=QUANTITIES)
    two = sample(UNCERTAIN, 40, seed=4, threads=2, chunk=7, quantities=QUANTITIES)
    three = sample(UNCERTAIN, 40, seed=4, threads=3, chunk=16, quantities=QUANTITIES)
    _same(one, two)
    _same(one, three)
    np.testing.assert_array_equal(one.dataset.stock.values, two.dataset.stock.values)
    # a subset runs the same samples as the whole run
    part = sample(UNCERTAIN, 40, seed=4, subset=range(10, 25), quantities=QUANTITIES)
    pd.testing.assert_frame_equal(part.quantities, one.quantities.iloc[10:25])


def test_chunks_give_every_thread_the_same_work() -> None:
    # 400 samples in chunks of at most 250 on two threads: 200 and 200, not 250 and 150
    assert chunk_bounds(400, 250, 2) == [0, 200, 400]
    assert chunk_bounds(400, 250, 1) == [0, 200, 400]
    assert chunk_bounds(10_000, 250, 2) == list(range(0, 10_001, 250))
    assert chunk_bounds(3, 250, 16) == [0, 1, 2, 3]  # never an empty chunk


@given(st.integers(1, 5000), st.integers(1, 600), st.integers(1, 32))
def test_chunk_bounds_cover_every_sample_once_in_equal_whole_shares(
    n: int, chunk: int, threads: int
) -> None:
    bounds = chunk_bounds(n, chunk, threads)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == n
    assert sizes.min() >= 1 and sizes.max() <= chunk
    assert sizes.max() - sizes.min() <= 1
    assert len(sizes) % threads == 0 or len(sizes) == n


def test_streamed_statistics_equal_exact_ones() -> None:
    mc = sample(UNCERTAIN, 300, seed=9, chunk=64, trajectories=True, quantities=QUANTITIES)
    ds = mc.dataset
    # quantities are sums over the trajectories
    made = ds.production.sel(line="nammo-raufoss-155", month=slice("2025-01", "2025-12")).sum(
        "month"
    )
    np.testing.assert_allclose(mc.quantities.made_2025, made.values, rtol=1e-5)
    usa = ds.stock.sel(party="USA", product="shell-155mm", month="2026-06-01")
    np.testing.assert_allclose(mc.quantities.usa_mid_2026, usa.values, rtol=1e-5)
    peak = ds.capacity_per_month.sum("line").max("month")
    np.testing.assert_allclose(mc.quantities.peak_capacity, peak.values, rtol=1e-5)
    # outcomes and probabilities equal those of the kept trajectories
    for tid, t in mc.scenario.targets.items():
        series, hit = mc.reached(tid)
        by = int(np.flatnonzero(ds.month.values == np.datetime64(t.by + "-01"))[0])
        got = mc.outcomes().query("target == @tid")
        np.testing.assert_allclose(got.stock_at_by, series[:, by], rtol=1e-5, atol=1e-3)
        assert (got.met_by_date.to_numpy() == hit[:, by]).all()
        reached = np.maximum.accumulate(hit, axis=1).mean(axis=0)
        np.testing.assert_allclose(mc.met_by_month().sel(target=tid).values, reached)
        # streamed fans within the sketch's stated error of the exact order statistics
        fan = mc.fans.target_stock.sel(target=tid).values  # (month, quantile)
        exact = np.quantile(series, mc.fans["quantile"].values, axis=0, method="lower").T
        assert (np.abs(fan - exact) <= ALPHA * np.abs(exact) + SMALLEST + 1e-6 * exact).all()
    fan = mc.fans.production.transpose("month", "line", "quantile").values
    exact = np.moveaxis(
        np.quantile(ds.production.values, mc.fans["quantile"].values, axis=0, method="lower"),
        0,
        -1,
    )
    assert (np.abs(fan - exact) <= ALPHA * np.abs(exact) + SMALLEST + 1e-6 * exact).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 1e12, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0]),
)
def test_sketch_quantiles_within_stated_error(values: list[float], q: float) -> None:
    x = np.array(values)
    sketch = QuantileSketch((1,))
    for part in np.array_split(x, 3):
        sketch.add(part[:, None])
    got = sketch.quantiles((q,))[0, 0]
    exact = np.quantile(x, q, method="lower")
    assert abs(got - exact) <= ALPHA * exact + SMALLEST * (1 + ALPHA)


def test_sketch_buckets_equal_the_logarithm_definition() -> None:
    # _buckets finds each bucket from a table and the exact thresholds, without a logarithm:
    # the same bucket as the definition for random values and one ulp either side of every
    # threshold (where a table off by one would show)
    from materiel.analysis import sketch as sk

    low, guess, e0 = sk._tables()
    rng = np.random.default_rng(7)
    edges = low[1:]
    x = np.concatenate(
        [
            np.exp(rng.uniform(-9, 33, 20_000)),
            rng.uniform(-1.0, 0.01, 1_000),
            edges,
            np.nextafter(edges, 0.0),
            np.nextafter(edges, np.inf),
            [0.0, SMALLEST, np.nextafter(SMALLEST, 1.0), 1e13, 1e300, np.inf, -np.inf, np.nan],
        ]
    )
    got = sk._buckets(x[:, None].copy(), low, guess, e0, SMALLEST)[0]
    inv = 1.0 / sk._LOG_GAMMA
    want = [sk._bucket(v, inv, SMALLEST, sk.BUCKETS) for v in x]
    assert got.tolist() == want
    assert want[-3:] == [sk.BUCKETS - 1, 0, 0]  # inf in the last bucket, -inf and NaN in 0


def test_big_runs_keep_no_trajectories_and_say_how_to(tmp_path: Path) -> None:
    mc = sample(UNCERTAIN, 20, seed=1, trajectories=False)
    with pytest.raises(materiel.ScenarioError, match="trajectories=True"):
        _ = mc.dataset
    assert mc.target_probabilities().shape[0] == len(mc.scenario.targets)


def test_trajectories_written_to_parquet(tmp_path: Path) -> None:
    kept = sample(UNCERTAIN, 12, seed=2, chunk=5, trajectories=True)
    sample(UNCERTAIN, 12, seed=2, chunk=5, threads=2, trajectories=tmp_path / "traj")
    # chunks of at most 5, a whole number per thread: 4 files of 3 samples
    assert len(list((tmp_path / "traj" / "stocks").glob("*.parquet"))) == 4
    stocks = pd.read_parquet(tmp_path / "traj" / "stocks")
    lines = pd.read_parquet(tmp_path / "traj" / "lines")
    row = stocks.query("sample == 7 and party == 'USA' and product == 'shell-155mm'")
    want = kept.dataset.stock.sel(sample=7, party="USA", product="shell-155mm").values
    np.testing.assert_array_equal(row.sort_values("month").stock.to_numpy(), want)
    made = lines.query("sample == 3 and line == 'nammo-raufoss-155'").sort_values("month")
    np.testing.assert_array_equal(
        made.production.to_numpy(), kept.dataset.production.sel(sample=3, line="nammo-raufoss-155")
    )


def test_sample_quantities_table_and_bad_quantity() -> None:
    df = sample_quantities(UNCERTAIN, QUANTITIES, 16, seed=3)
    assert list(df.columns[-3:]) == list(QUANTITIES)
    assert "policy.consumption_scale" in df.columns and len(df) == 16
    with pytest.raises(materiel.ScenarioError, match=r"where\.line"):
        sample_quantities(UNCERTAIN, {"x": Quantity("production", "2025-01", {"line": "no"})}, 2)
    with pytest.raises(materiel.ScenarioError, match="months"):
        sample_quantities(UNCERTAIN, {"x": Quantity("production", "1999-01")}, 2)

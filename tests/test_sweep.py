"""Sweeps: variants x samples, identical on a 2-worker LocalCluster and in-process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import materiel
from materiel.analysis.sweep import load_sweep, run_sweep, sweep_table
from materiel.cli import app

SWEEP = """\
scenario = "action-plan"
samples = 24
seed = 5
chunk = 8

[grid]
"policy.extra_contracting_delay_months" = [0, 12]

[[variants]]
id = "uncertain-stock"
"uncertain" = { "stocks.USA.shell-155mm.quantity" = { dist = "uniform", low = 5e5, high = 1.5e6 } }
"""


@contextmanager
def _port_taken(port: int) -> Iterator[None]:
    """Hold loopback ``port`` for the block (if something else holds it, it is taken anyway)."""
    sock = socket.socket()
    try:
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            pass  # already in use: just as taken
        yield
    finally:
        sock.close()


def parts(out: Path) -> pd.DataFrame:
    files = sorted((out / "parts").glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_local_cluster_gives_the_same_results_as_in_process(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP)
    spec, variants = load_sweep(path)
    assert [v for v, _ in variants] == [
        "extra_contracting_delay_months=0",
        "extra_contracting_delay_months=12",
        "uncertain-stock",
    ]
    local = run_sweep(spec, variants, tmp_path / "local", local=True)
    with _port_taken(8787):  # dask's default dashboard port: the cluster must not need it
        cluster = run_sweep(spec, variants, tmp_path / "cluster", workers=2)
    pd.testing.assert_frame_equal(local, cluster)
    pd.testing.assert_frame_equal(parts(tmp_path / "local"), parts(tmp_path / "cluster"))
    assert len(list((tmp_path / "cluster" / "parts").glob("*.parquet"))) == 3 * 3
    # a later contracting decision cannot make a target more likely
    p = local.pivot(index="target", columns="variant", values="p_met_by_date")
    assert (p["extra_contracting_delay_months=12"] <= p["extra_contracting_delay_months=0"]).all()
    # the variant with an uncertain stock varies; the samples of a variant match sample()
    mc = materiel.sample(variants[2][1], 24, seed=_seed(5, 2))
    stock = mc.stock_of(["USA"], "shell-155mm").values
    usa = parts(tmp_path / "local").query(
        "variant == 'uncertain-stock' and target == 'usa-155mm-2028'"
    )
    by = 47  # 2028-12 from 2025-01
    assert sorted(usa.stock_at_by.round(3)) == sorted(stock[:, by].round(3))


def _seed(seed: int, index: int) -> int:
    from materiel.analysis.sweep import variant_seed

    return variant_seed(seed, index)


def test_bad_sweep_names_the_variant_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('scenario = "action-plan"\n[grid]\n"lines.nope.capacity_per_month" = [1]\n')
    out = CliRunner().invoke(app, ["sweep", str(path), "--local", "--out", str(tmp_path / "o")])
    assert out.exit_code == 2
    assert "capacity_per_month=1" in out.output
    path.write_text('scenario = "action-plan"\nsamples = 0\n')
    out = CliRunner().invoke(app, ["sweep", str(path), "--local"])
    assert out.exit_code == 2 and "samples" in out.output


def test_sweep_table_keeps_the_variants_in_their_numeric_order() -> None:
    summary = pd.DataFrame(
        {
            "variant": ["delay=0", "delay=6", "delay=12"] * 2,
            "target": ["b-target"] * 3 + ["a-target"] * 3,
            "p_met_by_date": [0.9, 0.5, 0.1, 1.0, 0.8, 0.2],
        }
    )
    table = sweep_table(summary)
    assert list(table.columns) == ["delay=0", "delay=6", "delay=12"]  # not 0, 12, 6
    assert list(table.index) == ["b-target", "a-target"]
    assert table.loc["a-target", "delay=12"] == 0.2


def test_tasks_prefer_contiguous_blocks_of_workers() -> None:
    from materiel.analysis.sweep import preferred_workers

    # 6 tasks (variant-major) on two single-threaded workers: the first three on one
    assert preferred_workers(6, {"b": 1, "a": 1}) == [["a"]] * 3 + [["b"]] * 3
    # a worker with two threads takes twice the share
    assert preferred_workers(4, {"a": 2, "b": 1, "c": 1}) == [["a"], ["a"], ["b"], ["c"]]
    assert preferred_workers(3, {"a": 1}) == [None] * 3  # one worker: no preference


def test_a_worker_loads_a_variant_once_for_all_its_tasks(tmp_path: Path) -> None:
    import json

    from materiel.analysis.sweep import prepared, run_task

    overlay = {
        "extends": "action-plan",
        "id": "cache-check",
        "policy": {"extra_contracting_delay_months": 5},
    }
    prepared.cache_clear()
    for first in (0, 3, 6):
        run_task("v", 0, overlay, 9, 1, first, first + 3, str(tmp_path))
    info = prepared.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    assert prepared(json.dumps(overlay, sort_keys=True))[0].id == "cache-check"


def test_task_size_adapts_to_the_cluster_and_evens_out_the_tasks() -> None:
    from materiel.analysis.sweep import SweepSpec, task_size

    spec = SweepSpec(scenario="action-plan", samples=400)
    assert task_size(spec, 2, 2) == 200  # at least 250 -> two tasks, evened: 200 + 200
    assert task_size(spec, 2, 1) == 200
    big = SweepSpec(scenario="action-plan", samples=2000)
    assert task_size(big, 16, 16) == 500  # four tasks per worker thread over the sweep
    assert task_size(SweepSpec(scenario="action-plan", samples=24), 3, 2) == 24
    assert task_size(SweepSpec(scenario="action-plan", samples=400, chunk=7), 2, 2) == 7

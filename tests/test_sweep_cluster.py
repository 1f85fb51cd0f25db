"""A sweep on a Dask cluster of separate processes (scheduler and two workers on loopback)
equals the in-process run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_sweep import SWEEP, parts

import materiel
from materiel.analysis.sweep import load_sweep, run_sweep


def _dask() -> str:
    found = shutil.which("dask") or str(Path(sys.executable).parent / "dask")
    if not Path(found).exists():
        pytest.skip("the dask command is not installed")
    return found


@pytest.mark.slow
def test_scheduler_and_two_worker_processes_equal_in_process(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    dask = _dask()
    src = str(Path(materiel.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    info = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    procs = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(info),
                *common,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for _ in range(300):
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        "--scheduler-file",
                        str(info),
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--name",
                        name,
                        "--host",
                        "127.0.0.1",
                        *common,
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        import json

        from dask.distributed import Client

        address = json.loads(info.read_text())["address"]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        path = tmp_path / "sweep.toml"
        path.write_text(SWEEP.replace("chunk = 8\n", ""))  # task size from the cluster
        spec, variants = load_sweep(path)
        local = run_sweep(spec, variants, tmp_path / "local", local=True)
        cluster = run_sweep(spec, variants, tmp_path / "cluster", scheduler=address)
        pd.testing.assert_frame_equal(local, cluster)
        pd.testing.assert_frame_equal(parts(tmp_path / "local"), parts(tmp_path / "cluster"))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

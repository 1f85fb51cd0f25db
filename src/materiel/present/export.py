"""Write results to disk: tidy CSV or Parquet tables, or the whole Dataset as NetCDF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from materiel._io import atomic_path, atomic_write_text
from materiel.analysis.result import Result, tidy_tables

__all__ = ["FORMATS", "write_result"]

FORMATS = ("csv", "parquet", "netcdf")
Format = Literal["csv", "parquet", "netcdf"]


def write_result(result: Result, out_dir: Path, fmt: Format = "csv") -> list[Path]:
    """Write ``result`` under ``out_dir``; return the files written.

    ``csv``/``parquet``: one long table per variable (``production.csv`` with
    ``month, line, country, product, quantity``; ``stock.csv`` with ``month,
    party, product, quantity`` ...) plus ``metrics.json``. ``netcdf``: the
    labelled Dataset in one file plus ``metrics.json``. Each file is written to
    a temporary name and renamed, so a crash never leaves a half-written file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if fmt == "netcdf":
        path = out_dir / f"{result.scenario.id}.nc"
        ds = result.dataset.copy()
        ds.attrs = {k: str(v) for k, v in ds.attrs.items()}
        with atomic_path(path) as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf")
        written.append(path)
    else:
        for name, df in tidy_tables(result).items():
            path = out_dir / f"{name}.{fmt}"
            with atomic_path(path) as tmp:
                if fmt == "csv":
                    df.to_csv(tmp, index=False)
                else:
                    df.to_parquet(tmp, index=False)
            written.append(path)
    metrics_path = out_dir / "metrics.json"
    atomic_write_text(metrics_path, json.dumps(result.metrics(), indent=2, default=str))
    written.append(metrics_path)
    return written

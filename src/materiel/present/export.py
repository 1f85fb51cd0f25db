"""Write results to disk: tidy CSV or Parquet tables, or the whole Dataset as NetCDF."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from materiel._io import atomic_path, atomic_write_text
from materiel._json import dumps
from materiel.analysis.result import Result, tidy_tables

if TYPE_CHECKING:
    from materiel.analysis.montecarlo import MonteCarloResult

__all__ = ["FORMATS", "write_monte_carlo", "write_result"]

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
    atomic_write_text(metrics_path, dumps(result.metrics()))
    written.append(metrics_path)
    return written


def write_monte_carlo(
    result: MonteCarloResult, out_dir: Path, metrics: dict[str, Any] | None = None
) -> list[Path]:
    """Write a Monte Carlo run under ``out_dir``; return the files written.

    ``target_stock_fans.csv`` (``month, target, p5 ... p95``: percentiles of
    the stock each target counts), ``p_met_by_month.csv`` (share of samples
    meeting each target by each month), ``line_production_fans.csv``
    (percentiles of each line's production), ``inputs.parquet`` (the drawn
    value of every uncertain input per sample) and ``metrics.json``. The fans
    are the streamed ones (:attr:`~materiel.analysis.montecarlo.MonteCarloResult.fans`,
    within 1%). Each file
    is written to a temporary name and renamed.
    """
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    fans = result.fans  # streamed: memory does not grow with the samples
    names = [f"p{round(float(q) * 100)}" for q in fans["quantile"].values]
    frames = []
    for tid in result.scenario.targets:
        frame = pd.DataFrame(fans.target_stock.sel(target=tid).values, columns=names)
        frame.insert(0, "target", tid)
        frame.insert(0, "month", fans["month"].values)
        frames.append(frame)
    met = result.met_by_month().transpose("month", "target")
    p_met = pd.DataFrame(met.values, columns=[str(t) for t in met["target"].values])
    p_met.insert(0, "month", met["month"].values)
    tables = {
        "target_stock_fans.csv": pd.concat(frames) if frames else pd.DataFrame(),
        "p_met_by_month.csv": p_met,
        "line_production_fans.csv": fans.production.to_dataframe().reset_index(),
    }
    written: list[Path] = []
    for name, df in tables.items():
        if "month" in df.columns:
            df["month"] = pd.to_datetime(df["month"]).dt.strftime("%Y-%m")
        path = out_dir / name
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
        written.append(path)
    path = out_dir / "inputs.parquet"
    with atomic_path(path) as tmp:
        result.inputs.to_dataframe().to_parquet(tmp)
    written.append(path)
    path = out_dir / "metrics.json"
    atomic_write_text(path, dumps(result.metrics() if metrics is None else metrics))
    written.append(path)
    return written

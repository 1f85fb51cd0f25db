"""What matters most for each target, with a stated significance cut; Sobol indices by SALib.

Built on a Monte Carlo run's public parts only (:func:`materiel.analysis.montecarlo.sample`:
``inputs``, the drawn value of each uncertain input per sample, and ``stock_of``), so
the sampler's internals may change underneath.

**Rank correlation with a cut.** For target ``g`` the output is the stock its
parties hold of its munition at its date, ``y_s`` per sample ``s``. For each
uncertain input ``x`` that varies, Spearman's ``rho(x, y)`` and its two-sided
p-value (``scipy.stats.spearmanr``, t approximation). An input is
*significant* for ``g`` when ``p < alpha / m`` (Bonferroni over the ``m``
inputs tested for that target, ``alpha = 0.05`` by default): the chance that
any of a target's listed inputs is noise is at most ``alpha``. A rho of 0.04
over 1,000 samples (p about 0.2) is therefore not listed.

**First-order Sobol indices** ``S1_i = Var(E[y | x_i]) / Var(y)``: the share of
the output's variance that input ``i`` explains alone, estimated with SALib's
RBD-FAST (``SALib.analyze.rbd_fast``) from the same draws (no extra runs; it
needs no Saltelli design, and gives first order only, with a bootstrap
confidence half-width ``S1_conf``). The estimator has a small positive bias,
so values within ``S1_conf`` of 0 mean "no detectable effect".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from materiel._errors import bad_argument

if TYPE_CHECKING:
    from materiel.analysis.montecarlo import MonteCarloResult

__all__ = [
    "ALPHA",
    "CUT_RULE",
    "SOBOL_MIN_SAMPLES",
    "sensitivity_table",
    "sobol_table",
    "target_outputs",
]

RBD_HARMONICS = 10  # SALib's default M
SOBOL_MIN_SAMPLES = 2 * RBD_HARMONICS + 1
"""Fewest samples for :func:`sobol_table`: RBD-FAST's bias correction divides by
``1 - 2M/N`` (``M`` harmonics, ``N`` samples), so ``N`` must exceed ``2M``."""

ALPHA = 0.05
CUT_RULE = (
    "Spearman rank correlation with the target's stock at its date; listed when "
    "two-sided p < {alpha:g} / m (Bonferroni over the m inputs tested)"
)


def target_outputs(result: MonteCarloResult) -> dict[str, np.ndarray]:
    """Per target: the stock its parties hold of its munition at its date, one per sample."""
    return {tid: result.stock_at_date(tid) for tid in result.scenario.targets}


def _inputs(result: MonteCarloResult) -> dict[str, np.ndarray]:
    return {str(k): np.asarray(v.values, dtype=float) for k, v in result.inputs.data_vars.items()}


def _correlations(
    inputs: Mapping[str, np.ndarray], output: np.ndarray, alpha: float
) -> pd.DataFrame:
    from scipy import stats

    varying = {k: x for k, x in inputs.items() if np.ptp(x) > 0}
    m = len(varying)
    rows = []
    if m and np.ptp(output) > 0:
        for name, x in varying.items():
            test = stats.spearmanr(x, output)
            rho, p = float(test.statistic), float(test.pvalue)
            if math.isnan(rho):
                continue
            rows.append(
                {"input": name, "spearman": rho, "p_value": p, "significant": p < alpha / m}
            )
    df = pd.DataFrame(rows, columns=["input", "spearman", "p_value", "significant"])
    order = df.spearman.abs().sort_values(ascending=False, kind="stable").index
    return df.loc[order].reset_index(drop=True)


def sensitivity_table(result: MonteCarloResult, alpha: float = ALPHA) -> pd.DataFrame:
    """Every target x every varying input: rho, p-value and whether it passes the cut.

    Columns ``target, input, spearman, p_value, significant``, each target's
    rows by |rho| descending; the cut is :data:`CUT_RULE` (module docstring).
    """
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise bad_argument("sensitivity_table", "alpha", alpha, "a number between 0 and 1")
    inputs = _inputs(result)
    frames = []
    for tid, y in target_outputs(result).items():
        df = _correlations(inputs, y, float(alpha))
        df.insert(0, "target", tid)
        frames.append(df)
    columns = ["target", "input", "spearman", "p_value", "significant"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def sobol_table(result: MonteCarloResult, seed: int = 0) -> pd.DataFrame:
    """First-order Sobol indices of every varying input for every target (SALib RBD-FAST).

    Columns ``target, input, S1, S1_conf``; a target whose stock does not vary
    gets no rows. Needs at least :data:`SOBOL_MIN_SAMPLES` samples.
    """
    from SALib.analyze import rbd_fast

    inputs = {k: x for k, x in _inputs(result).items() if np.ptp(x) > 0}
    rows: list[dict[str, Any]] = []
    if inputs:
        names = list(inputs)
        x = np.column_stack([inputs[k] for k in names])
        if len(x) < SOBOL_MIN_SAMPLES:
            raise bad_argument(
                "sobol_table",
                "result",
                f"{len(x)} samples",
                f"at least {SOBOL_MIN_SAMPLES} samples for Sobol indices (RBD-FAST with "
                f"M = {RBD_HARMONICS} harmonics needs more than 2M)",
            )
        problem = {
            "num_vars": len(names),
            "names": names,
            "bounds": [[float(c.min()), float(c.max())] for c in x.T],
        }
        for tid, y in target_outputs(result).items():
            if np.ptp(y) == 0:
                continue
            found = rbd_fast.analyze(
                problem, x, y, M=RBD_HARMONICS, print_to_console=False, seed=seed
            )
            for name, s1, conf in zip(names, found["S1"], found["S1_conf"], strict=True):
                rows.append({"target": tid, "input": name, "S1": float(s1), "S1_conf": float(conf)})
    df = pd.DataFrame(rows, columns=["target", "input", "S1", "S1_conf"])
    return df.sort_values(["target", "S1"], ascending=[True, False], kind="stable").reset_index(
        drop=True
    )

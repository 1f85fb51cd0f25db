"""Calibration: fit behavioural parameters to the public record, with a posterior.

``calibrate(scenario, fits, until=...)`` varies the scenario fields named in
``fits`` (any path :mod:`materiel.scenario.uncertainty` can draw: contracting
delays, lead times, ramps, order-book horizons, capacities ...) within their
ranges and samples their posterior given the record rows
(:mod:`materiel.analysis.record`) dated up to ``until``. Rows dated after
``until`` never enter the likelihood: they are out-of-sample checks, reported
apart.

**Error model.** Each in-sample figure ``y_i`` is the model's value
``m_i(theta)`` times ``(1 + e_i)`` with independent ``e_i ~ N(0, sigma^2)``
(``sigma`` = 10 % by default): the relative error ``r_i = (m_i - y_i) / y_i``
gives ``log L(theta) = -1/2 sum_i (r_i / sigma)^2`` (constants dropped). The
prior is uniform on each ``[low, high]``, so ``log p(theta | y) = log L`` inside
the box and ``-inf`` outside.

**Sampler.** emcee's affine-invariant ensemble sampler (Goodman & Weare 2010)
with ``vectorize=True``: every proposal of half the ensemble is one batch of
engine runs (:func:`materiel.engine.run_engine` on
:func:`materiel.engine.batch.sample_overrides`), and each row's value is read
off per-sample outputs with one ``einsum`` against the row's weights
(:func:`materiel.analysis.record.row_map`) — no trajectories are kept. A
quarter of the runs first scans the prior box and the walkers start at its
best points (the engine rounds months, so the likelihood has plateaus that
uniform starts cross slowly). The first half of the chain is burn-in; the
rest is the posterior, and the record values computed along it (emcee's
blobs) are the posterior predictive of every row, out-of-sample rows
included.

**Tied fields.** A path's entity key may name several entities, as
comma-separated ids or ``fnmatch`` patterns (``lines.knds-*,nammo-*.order_book_horizon_months``):
one fitted value is then given to every field it matches (one behavioural
parameter shared by a group of lines, say), and the fitted scenario writes
the same distribution for each (the tie itself is not carried, like the
correlations).

The fitted scenario (:func:`fitted_scenario`) extends the calibrated one and
writes each fitted field as a normal distribution with the posterior mean and
standard deviation, truncated to the prior range, nominal at the posterior
median, so ``materiel mc`` carries the calibrated uncertainty forward. The
posterior correlations between fitted fields are reported, not carried.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from materiel._errors import Problem, ScenarioError, bad_argument
from materiel.analysis.record import (
    FIT_UNTIL,
    RecordRow,
    RowMap,
    check_counted,
    load_record,
    measured,
    row_map,
)
from materiel.engine import compile_inputs, run_engine
from materiel.engine.batch import sample_overrides
from materiel.engine.core import kernel_args
from materiel.months import month_range, parse_month
from materiel.scenario.loading import load
from materiel.scenario.schema import Scenario
from materiel.scenario.uncertainty import SUPPORTED_FIELDS, is_supported

__all__ = [
    "SIGMA",
    "Calibration",
    "Fit",
    "RecordEvaluator",
    "calibrate",
    "fitted_scenario",
    "fitted_toml",
    "log_likelihood_of",
    "outside_prior",
    "parse_fit",
    "tied_paths",
]

SIGMA = 0.10  # relative error of a public figure (module docstring)

_FIT = re.compile(r"^\s*([^=\s]+)\s*=\s*([^.\s][^\s]*?)\s*\.\.\s*([^\s]+)\s*$")


@dataclass(frozen=True)
class Fit:
    """One fitted field: its scenario path and the prior range ``[low, high]``."""

    path: str
    low: float
    high: float


def tied_paths(s: Scenario, path: str) -> list[str]:
    """The concrete field paths a (possibly tied) fitted ``path`` stands for, in order.

    ``table.KEYS.field`` with ``KEYS`` one id, or several comma-separated ids
    or ``fnmatch`` patterns: every entity of ``table`` they match (module
    docstring). A plain path is returned as it is; an empty list when a
    pattern matches nothing.
    """
    parts = path.split(".")
    if len(parts) < 3 or not any(c in parts[1] for c in ",*?["):
        return [path]
    table: Any = getattr(s, parts[0], None)
    if not isinstance(table, Mapping):
        return [path]
    keys = [k.strip() for k in parts[1].split(",") if k.strip()]
    chosen = [e for e in table if any(fnmatch.fnmatchcase(e, k) for k in keys)]
    return [".".join([parts[0], e, *parts[2:]]) for e in chosen]


def parse_fit(text: str) -> Fit:
    """``"PATH=LOW..HIGH"`` as a :class:`Fit`; raises :class:`ScenarioError` when malformed."""
    where = "<command line>"
    match = _FIT.match(text)
    if match is None:
        raise ScenarioError(
            Problem(
                where,
                "--fit",
                f"got {text!r}; expected PATH=LOW..HIGH, "
                "e.g. lines.knds-france.ramp_up_months=6..36",
            )
        )
    path, low_text, high_text = match.groups()
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise ScenarioError(
            Problem(
                where, "--fit", f"got {text!r}; expected numbers for LOW and HIGH in PATH=LOW..HIGH"
            )
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ScenarioError(Problem(where, "--fit", f"got {text!r}; expected finite LOW < HIGH"))
    return Fit(path, low, high)


def _check_fits(s: Scenario, fits: list[Fit]) -> None:
    """Each path is a field the sampler can vary, of an entity the scenario has, in range."""
    problems = []
    seen: set[str] = set()
    for tied in fits:
        paths = tied_paths(s, tied.path)
        if not paths:
            problems.append(
                Problem(
                    f"--fit {tied.path}",
                    "path",
                    f"{tied.path.split('.')[1]!r} "
                    f"matches no {tied.path.split('.')[0]} in scenario {s.id}; "
                    "expected ids or patterns of its entities",
                )
            )
        problems += _check_paths(s, [Fit(p, tied.low, tied.high) for p in paths], fits, seen)
    if problems:
        raise ScenarioError(problems)


def _check_paths(
    s: Scenario, concrete: list[Fit], fits: list[Fit], seen: set[str]
) -> list[Problem]:
    """:func:`_check_fits` for the concrete paths of one fit."""
    problems = []
    for f in concrete:
        where = f"--fit {f.path}"
        if f.path in seen:
            problems.append(Problem(where, "path", "fitted twice; expected each path once"))
        seen.add(f.path)
        if not is_supported(f.path):
            expected = ", ".join(SUPPORTED_FIELDS)
            problems.append(
                Problem(
                    where,
                    "path",
                    f"got {f.path!r}; expected a field the sampler can vary: {expected}",
                )
            )
            continue
        parts = f.path.split(".")
        table: Any = getattr(s, parts[0])
        for key in parts[1:-1]:
            if not isinstance(table, Mapping) or key not in table:
                table = None
                break
            table = table[key]
        if table is None:
            problems.append(
                Problem(
                    where,
                    "path",
                    f"no {'.'.join(parts[:-1])} in scenario {s.id}; expected one of its {parts[0]}",
                )
            )
            continue
        try:
            _current(s, f.path)
        except (TypeError, AttributeError):
            problems.append(
                Problem(
                    where,
                    "path",
                    f"scenario {s.id} sets no value for {f.path}; expected a field it sets",
                )
            )
            continue
        if parts[0] == "lines" and parts[2] == "capacity_per_month":
            ceiling = s.lines[parts[1]].max_capacity_per_month
            fitted_max = next(
                (g for g in fits if g.path == f"lines.{parts[1]}.max_capacity_per_month"), None
            )
            top = fitted_max.low if fitted_max is not None else ceiling
            if top is not None and f.high > top:
                problems.append(
                    Problem(
                        where,
                        "range",
                        f"got HIGH {f.high:g}; expected at most "
                        f"the line's max_capacity_per_month ({top:g}), or fit "
                        "that too with a range above this one",
                    )
                )
        if f.path.endswith("_months") and f.low < 0:
            problems.append(
                Problem(where, "range", f"got {f.low:g}..{f.high:g}; expected months >= 0")
            )
        elif f.low < 0 and not f.path.startswith("policy."):
            problems.append(
                Problem(
                    where, "range", f"got {f.low:g}..{f.high:g}; expected a quantity or rate >= 0"
                )
            )
    return problems


class RecordEvaluator:
    """Every record row's model value for many parameter sets at once (no trajectories).

    ``evaluator(theta)`` with ``theta`` shaped ``(samples, len(paths))`` runs
    the engine once per chunk of samples with those values in place (a tied
    path's value goes to every field it matches, :func:`tied_paths`) and
    returns ``(samples, rows)``: ``values[s, i] = sum(weights_i * output_i[s])``
    (:class:`materiel.analysis.record.RowMap`). Rows the run does not cover
    are left out (``rows`` lists those kept).
    """

    def __init__(
        self, scenario: Scenario, rows: list[RecordRow], paths: list[str], *, chunk: int = 500
    ) -> None:
        self.scenario = s = scenario
        self.paths = paths
        self.columns = [(c, j) for j, p in enumerate(paths) for c in tied_paths(s, p)]
        self.chunk = chunk
        self.inputs = inp = compile_inputs(s)
        self._base = kernel_args(inp)  # shared by every chunk, read only
        self._workspace: dict[str, np.ndarray] = {}  # per-sample buffers reused between calls
        months = [str(m)[:7] for m in month_range(s.start, inp.n_months)]
        lines = list(inp.lines)
        check_counted(s, rows)
        cells = np.zeros((len(inp.parties), len(inp.products)), dtype=bool)
        for r in rows:
            if r.measure == "delivered":
                for part in r.scope.split(";"):
                    if part.startswith("party:") and part[6:] in inp.parties:
                        cells[
                            list(inp.parties).index(part[6:]), list(inp.products).index(r.product)
                        ] = True
        self._cells = cells
        cell_list = [
            (inp.parties[p], inp.products[k]) for p, k in zip(*np.nonzero(cells), strict=True)
        ]
        self.rows: list[RecordRow] = []
        self.maps: list[RowMap] = []
        for r in rows:
            found = row_map(s, r, months, lines, cell_list)
            if found is not None:
                self.rows.append(r)
                self.maps.append(found)
        self._record = tuple(sorted({m.variable for m in self.maps})) or ("production",)
        self._stacked = {
            v: (
                np.array([i for i, m in enumerate(self.maps) if m.variable == v]),
                np.stack([m.weights for m in self.maps if m.variable == v]),
            )
            for v in self._record
            if any(m.variable == v for m in self.maps)
        }

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        n = theta.shape[0]
        return self._run(
            n, lambda first, size: {c: theta[first : first + size, j] for c, j in self.columns}
        )

    def nominal(self) -> np.ndarray:
        """Each row's value at the scenario's own values (tied fields each at its own)."""
        own = {c: np.array([_current(self.scenario, c)]) for c, _ in self.columns}
        values: np.ndarray = self._run(1, lambda first, size: own)[0]
        return values

    def _run(self, n: int, draws_for: Callable[[int, int], dict[str, np.ndarray]]) -> np.ndarray:
        out = np.empty((n, len(self.rows)))
        for first in range(0, n, self.chunk):
            size = min(self.chunk, n - first)
            overrides = sample_overrides(
                self.scenario,
                self.inputs,
                draws_for(first, size),
                self._base,
                workspace=self._workspace,
            )
            raw = run_engine(
                self.inputs,
                size,
                overrides=overrides,
                cells=self._cells,
                record=self._record,
                base=self._base,
            )
            for variable, (index, weights) in self._stacked.items():
                values = raw[variable].reshape(size, weights.shape[1], -1)
                out[first : first + size, index] = np.einsum("stx,rtx->sr", values, weights)
        return out


@dataclass
class Calibration:
    """The outcome of :func:`calibrate` (see the module docstring)."""

    scenario: Scenario
    source: str | None
    fits: list[Fit]
    until: str
    sigma: float
    seed: int
    walkers: int
    steps: int
    evaluations: int
    posterior: np.ndarray  # (draws, fitted fields) after burn-in
    predictive: np.ndarray  # (draws, rows): each row's model value at the posterior draws
    nominal: np.ndarray  # (rows,): each row's model value at the scenario's own values
    rows: list[RecordRow]
    in_sample: np.ndarray  # (rows,) bool: dated up to ``until`` (used in the likelihood)
    acceptance: float
    autocorrelation_steps: list[float] = field(default_factory=list)
    measured: list[str] = field(default_factory=list)
    log_likelihood: np.ndarray = field(default_factory=lambda: np.empty(0))  # (draws,)
    nominal_log_likelihood: float = math.nan  # at the scenario's own values

    def mode(self) -> tuple[dict[str, float], float]:
        """The posterior draw with the highest in-sample log-likelihood, and that log L.

        ``log L = -1/2 sum_i (r_i / sigma)^2`` over the in-sample rows (the
        module docstring); under the uniform prior this draw is also the
        highest posterior density found. Ties go to the first such draw.
        """
        best = int(np.argmax(self.log_likelihood))
        values = {f.path: float(self.posterior[best, j]) for j, f in enumerate(self.fits)}
        return values, float(self.log_likelihood[best])

    def parameters(self) -> pd.DataFrame:
        """Per fitted field: prior range, scenario value, posterior median, p5, p95, mean, sd."""
        return pd.DataFrame(self.parameter_rows())

    def parameter_rows(self) -> list[dict[str, Any]]:
        """:meth:`parameters` as a list of dicts."""
        out: list[dict[str, Any]] = []
        for j, f in enumerate(self.fits):
            x = self.posterior[:, j]
            out.append(
                {
                    "path": f.path,
                    "low": f.low,
                    "high": f.high,
                    "scenario_value": _tied_current(self.scenario, f.path),
                    "median": float(np.median(x)),
                    "p5": float(np.quantile(x, 0.05)),
                    "p95": float(np.quantile(x, 0.95)),
                    "mean": float(x.mean()),
                    "sd": float(x.std()),
                }
            )
        return out

    def correlations(self) -> pd.DataFrame:
        """Posterior correlation between fitted fields (not carried by the fitted scenario)."""
        paths = [f.path for f in self.fits]
        if len(paths) < 2:
            return pd.DataFrame(np.ones((len(paths), len(paths))), index=paths, columns=paths)
        c = np.corrcoef(self.posterior, rowvar=False)
        return pd.DataFrame(c, index=paths, columns=paths)

    def table(self) -> pd.DataFrame:
        """Every row: record, model before (scenario values) and after (posterior), errors.

        ``after`` is the posterior predictive median of the row's model value,
        ``after_p5``/``after_p95`` its 5-95 % range; ``sample`` says whether
        the row was fitted (``in-sample``) or only checked (``out-of-sample``).
        """
        out = []
        for i, r in enumerate(self.rows):
            x = self.predictive[:, i]
            after = float(np.median(x))
            out.append(
                {
                    "id": r.id,
                    "item": r.item,
                    "counted": r.counted,
                    "measured": self.measured[i],
                    "date": r.date,
                    "unit": r.unit,
                    "record": r.value,
                    "before": float(self.nominal[i]),
                    "after": after,
                    "after_p5": float(np.quantile(x, 0.05)),
                    "after_p95": float(np.quantile(x, 0.95)),
                    "before_pct": _pct(self.nominal[i], r.value),
                    "after_pct": _pct(after, r.value),
                    "sample": "in-sample" if self.in_sample[i] else "out-of-sample",
                    "in_dataset": r.in_dataset,
                }
            )
        return pd.DataFrame(out)

    def errors(self) -> dict[str, dict[str, float | int | None]]:
        """Mean and worst |% error| before and after, in-sample and out-of-sample apart."""
        t = self.table()
        summary: dict[str, dict[str, float | int | None]] = {}
        for which in ("in-sample", "out-of-sample"):
            part = t[t["sample"] == which]
            entry: dict[str, float | int | None] = {"rows": len(part)}
            for when in ("before", "after"):
                pct = part[f"{when}_pct"].dropna().abs()
                entry[f"{when}_mean_abs_pct"] = float(pct.mean()) if len(pct) else None
                entry[f"{when}_worst_abs_pct"] = float(pct.max()) if len(pct) else None
            summary[which] = entry
        return summary

    def metrics(self) -> dict[str, Any]:
        """Everything above, JSON-ready."""
        from materiel.analysis.result import records

        mode, mode_log_likelihood = self.mode()
        return {
            "scenario": self.scenario.id,
            "until": self.until,
            "sigma": self.sigma,
            "seed": self.seed,
            "walkers": self.walkers,
            "steps": self.steps,
            "evaluations": self.evaluations,
            "posterior_draws": int(self.posterior.shape[0]),
            "acceptance": self.acceptance,
            "autocorrelation_steps": dict(
                zip([f.path for f in self.fits], self.autocorrelation_steps, strict=True)
            ),
            "parameters": records(self.parameters()),
            "outside_prior": outside_prior(self.scenario, self.fits),
            "mode": mode,
            "mode_log_likelihood": mode_log_likelihood,
            "nominal_log_likelihood": self.nominal_log_likelihood,
            "correlations": records(self.correlations().reset_index(names="path")),
            "errors": self.errors(),
            "rows": records(self.table()),
        }


def _pct(model: float, record: float) -> float | None:
    return None if record == 0 else 100.0 * (float(model) - record) / record


def _current(s: Scenario, path: str) -> float:
    """The scenario's own (nominal) value of a field path."""
    parts = path.split(".")
    node: Any = getattr(s, parts[0])
    for key in parts[1:]:
        node = node[key] if isinstance(node, Mapping) else getattr(node, key)
    if node is None and parts[0] == "investments":  # inherits the line's value
        inv = s.investments[parts[1]]
        line_field = {"lead_time_months": "expansion_lead_time_months"}.get(parts[2], parts[2])
        node = getattr(s.lines[inv.line], line_field)
    return float(node)


def outside_prior(s: Scenario, fits: list[Fit]) -> list[dict[str, Any]]:
    """The fitted fields whose scenario value lies outside their prior range.

    A prior may exclude the current value on purpose (the value is known to be
    wrong), so this is a note, not an error: one entry per concrete field path
    (a tied path gives one per field it matches), as ``{"fit", "path",
    "scenario_value", "low", "high"}`` with ``value < low`` or ``value > high``.
    """
    out = []
    for f in fits:
        for path in tied_paths(s, f.path):
            value = _current(s, path)
            if not f.low <= value <= f.high:
                out.append(
                    {
                        "fit": f.path,
                        "path": path,
                        "scenario_value": value,
                        "low": f.low,
                        "high": f.high,
                    }
                )
    return out


def _tied_current(s: Scenario, path: str) -> float | None:
    """The scenario's value of a fitted path; tied: their one value, None if they differ."""
    values = {_current(s, c) for c in tied_paths(s, path)}
    return values.pop() if len(values) == 1 else None


def log_likelihood_of(
    values: np.ndarray, rows: list[RecordRow], fitted: np.ndarray, sigma: float
) -> np.ndarray:
    """In-sample ``log L = -1/2 sum_i ((m_i - y_i) / y_i / sigma)^2`` of row values.

    ``values`` (..., rows) holds the model's value of every row (one run, or
    one run per leading index); ``fitted`` marks the rows that enter the
    likelihood (in-sample, non-zero record). Constants are dropped, so two
    values compare at the same ``sigma`` only. Returns shape ``values.shape[:-1]``.
    """
    target = np.array([r.value for r in rows])[fitted]
    relative = (np.asarray(values, dtype=float)[..., fitted] - target) / target
    out: np.ndarray = -0.5 * np.sum((relative / sigma) ** 2, axis=-1)
    return out


def _log_posterior(
    evaluate: RecordEvaluator, fits: list[Fit], fitted: np.ndarray, sigma: float
) -> Callable[[np.ndarray], np.ndarray]:
    """``theta (n, d) -> (n, 1 + rows)``: log posterior, then every row's value (emcee blobs)."""
    low = np.array([f.low for f in fits])
    high = np.array([f.high for f in fits])

    def log_prob(theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        inside = np.all((theta >= low) & (theta <= high), axis=1)
        values = np.full((len(theta), len(evaluate.rows)), np.nan)
        if inside.any():
            values[inside] = evaluate(theta[inside])
        logp = np.where(inside, log_likelihood_of(values, evaluate.rows, fitted, sigma), -np.inf)
        return np.column_stack([logp, values])

    return log_prob


def calibrate(
    scenario: Scenario | str | Path,
    fits: list[Fit],
    *,
    rows: list[RecordRow] | None = None,
    until: str = FIT_UNTIL,
    samples: int = 4000,
    seed: int = 0,
    sigma: float = SIGMA,
    walkers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Sample the posterior of ``fits`` given the record rows dated up to ``until``.

    ``samples`` engine runs in all: a quarter scans the prior box (uniform
    draws, one batch) and ``walkers`` start at the best of them; the rest are
    ``walkers`` (by default ``max(8 d, 32, samples / 150)`` for ``d`` fitted
    fields, at most 256 and ``samples / 10``, even) times ``steps``; the
    first half of the steps is burn-in.
    Same inputs and ``seed``, same result. ``progress(done, total)`` is
    called after each step with the engine runs done and to do. Raises
    :class:`ScenarioError` for a bad path or range, a record row whose count
    does not match its product, or no in-sample row the run covers.
    """
    import emcee

    s = load(scenario)
    source = str(scenario) if isinstance(scenario, str | Path) else None
    if not fits:
        raise bad_argument("calibrate", "fits", fits, "at least one PATH=LOW..HIGH")
    try:
        parse_month(until)
    except ValueError:
        raise ScenarioError(
            Problem("<command line>", "--until", f"got {until!r}; expected YYYY-MM")
        ) from None
    if sigma <= 0 or not math.isfinite(sigma):
        raise bad_argument("calibrate", "sigma", sigma, "a relative error > 0")
    _check_fits(s, fits)
    rows = load_record() if rows is None else rows
    evaluate = RecordEvaluator(s, rows, [f.path for f in fits])
    in_sample = np.array([parse_month(r.last_month) <= parse_month(until) for r in evaluate.rows])
    fitted = in_sample & np.array([r.value != 0 for r in evaluate.rows])
    if not fitted.any():
        message = f"no record row dated up to {until} falls in the run of {s.id}; nothing to fit"
        raise ScenarioError(Problem("<command line>", "--until", message))
    d = len(fits)
    if walkers is None:
        # more walkers for larger budgets: bigger engine batches (about 70 runs at 20,000)
        walkers = min(max(8 * d, 32, samples // 150), 256)
        walkers = min(walkers, max(2 * d + 2, samples // 10))
    walkers += walkers % 2
    if walkers < 2 * d + 2:
        raise bad_argument("calibrate", "walkers", walkers, f"an even number >= {2 * d + 2}")
    scan_runs = max(walkers, samples // 4)
    steps = (samples - scan_runs) // walkers
    if steps < 4:
        raise bad_argument(
            "calibrate",
            "samples",
            samples,
            f"at least {5 * walkers} (walkers x 5) for {d} fitted field(s)",
        )
    low = np.array([f.low for f in fits])
    high = np.array([f.high for f in fits])
    rng = np.random.default_rng(seed)
    log_prob = _log_posterior(evaluate, fits, fitted, sigma)
    scan = low + (high - low) * rng.random((scan_runs, d))
    ranked = np.argsort(-log_prob(scan)[:, 0], kind="stable")
    if progress is not None:
        progress(scan_runs, scan_runs + walkers * steps)
    start = scan[ranked[:walkers]]
    sampler = emcee.EnsembleSampler(walkers, d, log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(seed).get_state()
    for i, _ in enumerate(sampler.sample(start, iterations=steps), start=1):
        if progress is not None:
            progress(scan_runs + walkers * i, scan_runs + walkers * steps)
    burn = steps // 2
    posterior = sampler.get_chain(discard=burn, flat=True)
    predictive = np.asarray(sampler.get_blobs(discard=burn, flat=True), dtype=float)
    log_likelihood = sampler.get_log_prob(discard=burn, flat=True)  # the prior is flat
    nominal = evaluate.nominal()
    with np.errstate(invalid="ignore", divide="ignore"):  # a walker that never moved: nan
        tau = sampler.get_autocorr_time(tol=0, quiet=True)
    return Calibration(
        scenario=s,
        source=source,
        fits=fits,
        until=until,
        sigma=sigma,
        seed=seed,
        walkers=walkers,
        steps=steps,
        evaluations=scan_runs + walkers * steps + 1,
        posterior=posterior,
        predictive=predictive.reshape(len(posterior), -1),
        nominal=nominal,
        rows=evaluate.rows,
        in_sample=in_sample,
        acceptance=float(np.mean(sampler.acceptance_fraction)),
        autocorrelation_steps=[float(t) for t in tau],
        measured=[measured(r, m) for r, m in zip(evaluate.rows, evaluate.maps, strict=True)],
        log_likelihood=np.asarray(log_likelihood, dtype=float),
        nominal_log_likelihood=float(log_likelihood_of(nominal, evaluate.rows, fitted, sigma)),
    )


def _posterior_distribution(p: Mapping[str, Any]) -> dict[str, Any]:
    """One fitted field's posterior as a truncated normal (see :func:`fitted_scenario`)."""
    span = p["high"] - p["low"]
    return {
        "dist": "normal",
        "mean": p["mean"],
        "sd": max(p["sd"], 1e-6 * span),
        "min": p["low"],
        "max": p["high"],
        # whole months where the field is a number of months (the engine rounds draws)
        "nominal": round(p["median"]) if p["path"].endswith("_months") else p["median"],
    }


def fitted_scenario(result: Calibration) -> dict[str, Any]:
    """A scenario extending the calibrated one, its fitted fields as posterior distributions.

    Each field ``x`` becomes ``normal(mean_x, sd_x)`` truncated to the prior
    range, nominal at the posterior median (rounded to whole months for a
    number of months, as the engine rounds draws). The scenario extends the
    calibrated one by id or path when it was loaded from one; otherwise it
    is the full scenario with the distributions added.
    """
    s = result.scenario
    uncertain: dict[str, Any] = {}
    for p in result.parameter_rows():
        for concrete in tied_paths(s, p["path"]):
            uncertain[concrete] = _posterior_distribution(p)
    description = (
        f"{s.id} with {len(result.fits)} field(s) calibrated on the public record rows dated up "
        f"to {result.until} (emcee, {result.evaluations} engine runs, seed {result.seed}, "
        f"relative error sigma {result.sigma:g}); each fitted field is its posterior as a "
        "truncated normal (posterior correlations are not carried)."
    )
    head: dict[str, Any] = {
        "id": f"{s.id}-calibrated",
        "title": f"{s.title or s.id} (calibrated)",
        "description": description,
    }
    if result.source is not None:
        ref = result.source
        if Path(ref).is_file():
            ref = str(Path(ref).resolve())
        return {"extends": ref, **head, "uncertain": uncertain}
    data = s.model_dump(mode="json", exclude_none=True)
    data.update(head)
    data["uncertain"] = {**data.get("uncertain", {}), **uncertain}
    return data


def fitted_toml(result: Calibration) -> str:
    """:func:`fitted_scenario` as TOML text, with a header saying how it was fitted."""
    import tomli_w

    fits = ", ".join(f"{f.path}={f.low:g}..{f.high:g}" for f in result.fits)
    header = (
        f"# Calibrated by `materiel calibrate` on the public record rows dated up to "
        f"{result.until}\n# (in-sample; later rows are out-of-sample checks). Fitted: {fits}.\n"
        f"# Error model: relative error of each row ~ N(0, {result.sigma:g}^2); uniform priors.\n"
        "# Each fitted field is its posterior as a truncated normal; `materiel mc` draws it.\n\n"
    )
    return header + tomli_w.dumps(fitted_scenario(result))

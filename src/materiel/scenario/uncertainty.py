"""Uncertain parameters: distributions written in scenario files, and how they are drawn.

Any supported numeric field of a scenario may be written as a distribution
instead of a number, in place::

    [lines.rheinmetall-unterluess]
    expansion_lead_time_months = { dist = "triangular", low = 12, mode = 18, high = 30 }

or in a top-level table keyed by the field's path::

    [uncertain."stocks.USA.shell-155mm.quantity"]
    dist = "normal"
    mean = 1_000_000
    sd = 200_000
    min = 0

Unit prices (a product's default, a ``prices`` row, a contract's or procurement
policy's own), GDP growth and the equipment and munitions shares may be
distributions too: each sample's contracts pay its drawn prices and, with
budgets, each sample's budgets come from its drawn growth and shares::

    [uncertain."prices.shell-155mm-2024.usd"]
    dist = "triangular"
    low = 3_000
    mode = 4_000
    high = 8_500

A deterministic run uses each distribution's ``nominal`` value (by default the
mean, mode or median, see :meth:`Distribution.central`). Distributions with
the same ``group`` are correlated through a Gaussian copula with the
pairwise correlation given in ``[correlations]`` (``group = 0.7``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from materiel.scenario.numbers import Finite, NotBool

__all__ = [
    "SUPPORTED_FIELDS",
    "Distribution",
    "draw",
    "extract_distributions",
    "is_supported",
]


SUPPORTED_FIELDS = (
    "lines.*.capacity_per_month",
    "lines.*.max_capacity_per_month",
    "lines.*.expansion_lead_time_months",
    "lines.*.ramp_up_months",
    "lines.*.order_book_horizon_months",
    "investments.*.capacity_added_per_month",
    "investments.*.lead_time_months",
    "investments.*.ramp_up_months",
    "contracts.*.quantity",
    "contracts.*.contracting_delay_months",
    "stocks.*.*.quantity",
    "consumption.*.rate_per_day",
    "consumption.*.rate_per_month",
    "targets.*.quantity",
    "policy.contracting_delay_months",
    "policy.extra_contracting_delay_months",
    "policy.consumption_scale",
    # prices and budgets (engine/batch.py: sample_economics)
    "products.*.unit_price_usd",
    "prices.*.usd",
    "contracts.*.unit_price_usd",
    "procurement.*.unit_price_usd",
    "policy.gdp_growth_pct_per_year",
    "policy.equipment_share",
    "policy.munitions_share",
)


def _pattern(glob: str) -> re.Pattern[str]:
    parts = ("[^.]+" if part == "*" else re.escape(part) for part in glob.split("."))
    return re.compile("^" + "\\.".join(parts) + "$")


_SUPPORTED_RE = [_pattern(glob) for glob in SUPPORTED_FIELDS]


def is_supported(path: str) -> bool:
    """Whether ``path`` (``lines.x.capacity_per_month``) may be a distribution."""
    return any(r.match(path) for r in _SUPPORTED_RE)


class Distribution(BaseModel):
    """A probability distribution for one numeric field.

    ``uniform(low, high)``, ``triangular(low, mode, high)``, ``normal(mean, sd)``,
    ``lognormal(median, sigma)`` (sigma of the logarithm), optionally truncated
    to ``[min, max]``, or ``choice(values, weights)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dist: Literal["uniform", "triangular", "normal", "lognormal", "choice"]
    low: Finite | None = None
    high: Finite | None = None
    mode: Finite | None = None
    mean: Finite | None = None
    sd: Annotated[float, Field(gt=0, allow_inf_nan=False), NotBool] | None = None
    median: Annotated[float, Field(gt=0, allow_inf_nan=False), NotBool] | None = None
    sigma: Annotated[float, Field(gt=0, allow_inf_nan=False), NotBool] | None = None
    min: Finite | None = None
    max: Finite | None = None
    values: list[Finite] | None = None
    weights: list[Annotated[float, Field(ge=0, allow_inf_nan=False), NotBool]] | None = None
    nominal: Finite | None = Field(None, description="value for deterministic runs")
    group: str | None = Field(None, description="correlation group (see [correlations])")

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        need = {
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("median", "sigma"),
            "choice": ("values",),
        }[self.dist]
        missing = [p for p in need if getattr(self, p) is None]
        if missing:
            raise ValueError(f"{self.dist} needs {', '.join(need)}; missing {', '.join(missing)}")
        if self.dist in ("uniform", "triangular"):
            assert self.low is not None and self.high is not None
            if not self.low < self.high:
                raise ValueError("expected low < high")
            if self.mode is not None and not self.low <= self.mode <= self.high:
                raise ValueError("expected low <= mode <= high")
        if self.dist == "choice":
            assert self.values is not None
            if not self.values:
                raise ValueError("expected at least one value")
            if self.weights is not None and (
                len(self.weights) != len(self.values) or sum(self.weights) <= 0
            ):
                raise ValueError("expected one non-negative weight per value, not all zero")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError("expected min < max")
        if self.dist in ("uniform", "triangular"):
            assert self.low is not None and self.high is not None
            if (self.min is not None and self.min >= self.high) or (
                self.max is not None and self.max <= self.low
            ):
                raise ValueError("expected [min, max] to overlap [low, high]")
        return self

    def support(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take (``min``/``max`` applied).

        ``uniform``/``triangular``: ``[low, high]``; ``normal``: the real line;
        ``lognormal``: ``(0, inf)``; ``choice``: the least and greatest value.
        """
        if self.dist == "choice":
            assert self.values is not None
            return min(self.values), max(self.values)
        if self.dist in ("uniform", "triangular"):
            assert self.low is not None and self.high is not None
            lo, hi = self.low, self.high
        else:
            lo, hi = (0.0 if self.dist == "lognormal" else -math.inf), math.inf
        if self.min is not None:
            lo = max(lo, self.min)
        if self.max is not None:
            hi = min(hi, self.max)
        return lo, hi

    def central(self) -> float:
        """The value a deterministic run uses: ``nominal``, else the mean/mode/median.

        The midpoint of ``uniform`` is ``lo/2 + hi/2`` of its :meth:`support` (no
        overflow near the largest float); the value is clipped to ``[min, max]``
        when they are given (``min = 0`` is a minimum like any other).
        """
        if self.nominal is not None:
            return self.nominal
        if self.dist == "choice":
            assert self.values is not None
            w = self.weights or [1.0] * len(self.values)
            return self.values[int(np.argmax(w))]
        lo, hi = self.support()
        if self.dist == "uniform":
            value = lo / 2 + hi / 2  # the midpoint of the (truncated) interval
        elif self.dist == "triangular":
            assert self.mode is not None
            value = self.mode
        elif self.dist == "normal":
            assert self.mean is not None
            value = self.mean
        else:
            assert self.median is not None
            value = self.median
        return float(min(max(value, lo), hi))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF at probabilities ``u`` in (0, 1), honouring truncation to ``[min, max]``.

        A truncated normal is :func:`truncated_normal_ppf` on the standardised
        bounds ``a = (min - mean) / sd``, ``b = (max - mean) / sd`` (exact far in
        the tails, where ``norm.ppf(norm.cdf(min))`` gives ``inf``); a truncated
        lognormal is ``exp`` of a truncated normal on the logarithm. Every draw
        lies in :meth:`support`.
        """
        if self.dist == "choice":
            assert self.values is not None
            w = np.asarray(self.weights or [1.0] * len(self.values), dtype=float)
            edges = np.cumsum(w / w.sum())
            index = np.searchsorted(edges, u, side="right").clip(0, len(self.values) - 1)
            picked: np.ndarray = np.asarray(self.values, dtype=float)[index]
            return picked
        lo, hi = self.support()
        if self.dist in ("normal", "lognormal"):
            if self.dist == "normal":
                assert self.mean is not None and self.sd is not None
                loc, scale, a_x, b_x = self.mean, self.sd, lo, hi
            else:
                assert self.median is not None and self.sigma is not None
                loc, scale = math.log(self.median), self.sigma
                a_x = math.log(lo) if lo > 0 else -math.inf
                b_x = math.log(hi) if hi < math.inf else math.inf
            z = loc + scale * truncated_normal_ppf(u, (a_x - loc) / scale, (b_x - loc) / scale)
            values = np.exp(z) if self.dist == "lognormal" else z
        else:
            frozen = self._frozen()
            cdf_lo = frozen.cdf(self.min) if self.min is not None else 0.0
            cdf_hi = frozen.cdf(self.max) if self.max is not None else 1.0
            values = np.asarray(frozen.ppf(cdf_lo + u * (cdf_hi - cdf_lo)), dtype=float)
        clipped: np.ndarray = np.clip(values, lo, hi)
        return clipped

    def _frozen(self) -> Any:
        """The uniform or triangular distribution as a frozen scipy distribution."""
        from scipy import stats

        assert self.low is not None and self.high is not None
        if self.dist == "uniform":
            return stats.uniform(self.low, self.high - self.low)
        assert self.mode is not None
        width = self.high - self.low
        return stats.triang((self.mode - self.low) / width, self.low, width)


def truncated_normal_ppf(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """Inverse CDF of the standard normal truncated to ``[a, b]``, at probabilities ``u``.

    ``x = Phi^-1(Phi(a) + u (Phi(b) - Phi(a)))``. An interval above the mean is
    mirrored (``[a, b] -> [-b, -a]``, ``u -> 1 - u``, ``x -> -x``) so that it
    lies in the lower tail, where the CDF keeps its relative precision; there
    the sum is taken in logarithms, ``log p = log Phi(b) + log(u + (1 - u)
    exp(log Phi(a) - log Phi(b)))``, and inverted with ``ndtri_exp``, so that
    ``a = 40`` still gives finite draws in ``[a, b]`` (the same as
    ``scipy.stats.truncnorm.ppf`` to 1e-13, and about 200 times faster).
    """
    from scipy import special

    u = np.asarray(u, dtype=float)
    if a > 0:  # mirror into the lower tail
        return -truncated_normal_ppf(1.0 - u, -b, -a)
    if b <= 0:
        log_a, log_b = special.log_ndtr(a), special.log_ndtr(b)
        log_p = log_b + np.log(u + (1.0 - u) * np.exp(log_a - log_b))
        x = special.ndtri_exp(log_p)
    else:  # a <= 0 < b: the interval holds the mean
        p_a, p_b = special.ndtr(a), special.ndtr(b)
        x = special.ndtri(p_a + u * (p_b - p_a))
    out: np.ndarray = np.clip(x, a, b)
    return out


def extract_distributions(
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replace in-place distributions in ``data`` by their nominal value.

    Returns the cleaned data and ``{path: raw distribution table}``, merged
    with the top-level ``uncertain`` table. Raw tables are validated by the
    caller so that errors carry file and line.
    """
    found: dict[str, Any] = {}

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            if "dist" in node and path and path[0] not in ("uncertain", "sources"):
                found[".".join(path)] = node
                return _nominal_of(node)
            return {k: walk(v, (*path, str(k))) for k, v in node.items()}
        return node

    cleaned = walk({k: v for k, v in data.items() if k != "uncertain"}, ())
    top = data.get("uncertain", {})
    if isinstance(top, dict):
        for path, spec in top.items():
            found[str(path)] = spec
            _set_path(cleaned, str(path).split("."), _nominal_of(spec))
    return cleaned, found


def _nominal_of(spec: Any) -> Any:
    try:
        return Distribution.model_validate(spec).central()
    except Exception:
        return spec  # left invalid: the schema reports it at this path


def _set_path(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node: Any = data
    for key in keys[:-1]:
        if not isinstance(node, dict) or key not in node:
            return  # an unknown path: reported when the distributions are checked
        node = node[key]
    if isinstance(node, dict):  # the entity exists: set (or add) the field's nominal value
        node[keys[-1]] = value


def draw(
    distributions: dict[str, Distribution],
    correlations: dict[str, float],
    n: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """``n`` draws of every distribution, reproducible from ``seed``.

    Each draw is ``ppf(u)`` with ``u`` uniform; within a correlation group
    ``u = Phi(sqrt(rho) * z_group + sqrt(1 - rho) * z_own)`` (a Gaussian
    copula with pairwise correlation ``rho``). Paths are processed in sorted
    order so the same seed gives the same draws whatever the file order.
    """
    from scipy import special

    rng = np.random.default_rng(seed)
    groups = sorted({d.group for d in distributions.values() if d.group})
    common = {g: rng.standard_normal(n) for g in groups}
    out = {}
    for path in sorted(distributions):
        d = distributions[path]
        z = rng.standard_normal(n)
        if d.group:
            rho = correlations.get(d.group, 0.0)
            z = math.sqrt(max(rho, 0.0)) * common[d.group] + math.sqrt(1 - max(rho, 0.0)) * z
        u = np.clip(special.ndtr(z), 1e-12, 1 - 1e-12)
        out[path] = d.ppf(np.asarray(u, dtype=float))
    return out

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

__all__ = [
    "SUPPORTED_FIELDS",
    "Distribution",
    "draw",
    "extract_distributions",
    "is_supported",
]

Finite = Annotated[float, Field(allow_inf_nan=False)]

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

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: Literal["uniform", "triangular", "normal", "lognormal", "choice"]
    low: Finite | None = None
    high: Finite | None = None
    mode: Finite | None = None
    mean: Finite | None = None
    sd: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    median: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    sigma: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    min: Finite | None = None
    max: Finite | None = None
    values: list[Finite] | None = None
    weights: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = None
    nominal: Finite | None = Field(None, description="value for deterministic runs")
    group: str | None = Field(None, description="correlation group (see [correlations])")

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        need = {
            "uniform": ("low", "high"), "triangular": ("low", "mode", "high"),
            "normal": ("mean", "sd"), "lognormal": ("median", "sigma"), "choice": ("values",),
        }[self.dist]  # fmt: skip
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
        return self

    def central(self) -> float:
        """The value a deterministic run uses: ``nominal``, else the mean/mode/median."""
        if self.nominal is not None:
            return self.nominal
        if self.dist == "uniform":
            assert self.low is not None and self.high is not None
            return (self.low + self.high) / 2
        if self.dist == "triangular":
            assert self.mode is not None
            return self.mode
        if self.dist == "normal":
            assert self.mean is not None
            return float(np.clip(self.mean, self.min or -math.inf, self.max or math.inf))
        if self.dist == "lognormal":
            assert self.median is not None
            return self.median
        assert self.values is not None
        w = self.weights or [1.0] * len(self.values)
        return self.values[int(np.argmax(w))]

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF at probabilities ``u`` in (0, 1), honouring truncation."""
        if self.dist == "choice":
            assert self.values is not None
            w = np.asarray(self.weights or [1.0] * len(self.values), dtype=float)
            edges = np.cumsum(w / w.sum())
            index = np.searchsorted(edges, u, side="right").clip(0, len(self.values) - 1)
            picked: np.ndarray = np.asarray(self.values, dtype=float)[index]
            return picked
        frozen = self._frozen()
        lo = frozen.cdf(self.min) if self.min is not None else 0.0
        hi = frozen.cdf(self.max) if self.max is not None else 1.0
        return np.asarray(frozen.ppf(lo + u * (hi - lo)), dtype=float)

    def _frozen(self) -> Any:
        from scipy import stats  # about 1 s to import: only when samples are drawn

        if self.dist == "uniform":
            assert self.low is not None and self.high is not None
            return stats.uniform(self.low, self.high - self.low)
        if self.dist == "triangular":
            assert self.low is not None and self.high is not None and self.mode is not None
            width = self.high - self.low
            return stats.triang((self.mode - self.low) / width, self.low, width)
        if self.dist == "normal":
            return stats.norm(self.mean, self.sd)
        assert self.median is not None
        return stats.lognorm(self.sigma, scale=self.median)


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
    from scipy import stats

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
        u = np.clip(stats.norm.cdf(z), 1e-12, 1 - 1e-12)
        out[path] = d.ppf(np.asarray(u, dtype=float))
    return out

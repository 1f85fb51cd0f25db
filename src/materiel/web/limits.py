"""Caps on what one request may ask of the server (configurable on ``materiel serve``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Caps on what one request may ask for."""

    max_body_bytes: int = 1_000_000
    max_mc_samples: int = 2000
    job_timeout_s: float = 300.0
    max_active_jobs: int = 2

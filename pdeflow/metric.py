"""The metric of a gradient flow: Wasserstein (transport), Fisher–Rao (reaction), or both.

A gradient flow is an energy *and a metric*. With ξ = δE/δρ and rate α > 0:

    Wasserstein (W):         ∂t ρ = ∇·(ρ ∇ξ)
    Fisher–Rao (FR):         ∂t ρ = −α ρ (ξ − ξ̄),   ξ̄ = ∫ ξ ρ / ∫ ρ     (normalized: mass kept)
                             ∂t ρ = −α ρ ξ                              (unbalanced: mass changes)
    Wasserstein–Fisher–Rao:  the sum of the two (also called Hellinger–Kantorovich)

and the energy falls at the rate ∫ ρ |∇ξ|² (W) plus α ∫ ρ (ξ − ξ̄)² (FR; α ∫ ρ ξ² unbalanced).
The metric is part of the problem (``pf.problems.fokker_planck(..., metric=pf.FisherRao(2.0))``);
``method="fv"`` solves all three (see :mod:`pdeflow.solvers.fv_reaction`), the other methods the
Wasserstein flow.

Examples
--------
>>> import pdeflow as pf
>>> pf.WassersteinFisherRao(rate=0.5).to_dict()
{'metric': 'wasserstein_fisher_rao', 'rate': 0.5, 'normalized': True}
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import PdeflowError


@dataclass(frozen=True)
class Metric:
    """Base: ``transport`` (a Wasserstein part) and ``rate`` α of the Fisher–Rao part (0: none)."""

    rate: float = 0.0
    normalized: bool = True

    transport = True
    name = "metric"

    def __post_init__(self) -> None:
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
            raise PdeflowError(f"{type(self).__name__} rate must be a finite number, got {rate!r}")
        if not isinstance(self.normalized, bool):
            raise PdeflowError(f"normalized must be True or False, got {self.normalized!r}")

    @property
    def reaction(self) -> bool:
        """Whether the flow has a Fisher–Rao (reaction) part."""
        return self.rate > 0

    def to_dict(self) -> dict:
        out = {"metric": self.name}
        if self.reaction:
            out.update({"rate": float(self.rate), "normalized": self.normalized})
        return out


@dataclass(frozen=True)
class Wasserstein(Metric):
    """The Wasserstein metric: ``∂t ρ = ∇·(ρ∇ξ)`` (the default)."""

    name = "wasserstein"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rate != 0:
            raise PdeflowError("Wasserstein() has no rate; use WassersteinFisherRao(rate=...)")


def _positive_rate(metric: Metric) -> None:
    if not metric.rate > 0:
        raise PdeflowError(f"{type(metric).__name__} rate must be > 0, got {metric.rate}")


@dataclass(frozen=True)
class FisherRao(Metric):
    """The Fisher–Rao metric: ``∂t ρ = −α ρ (ξ − ξ̄)`` (normalized) or ``−α ρ ξ``.

    Parameters
    ----------
    rate : float
        α > 0.
    normalized : bool
        Keep the mass (the spherical Fisher–Rao flow, default) or not (unbalanced).
    """

    rate: float = 1.0
    transport = False
    name = "fisher_rao"

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive_rate(self)


@dataclass(frozen=True)
class WassersteinFisherRao(Metric):
    """Wasserstein–Fisher–Rao: ``∂t ρ = ∇·(ρ∇ξ) − α ρ (ξ − ξ̄)`` (normalized) or ``… − α ρ ξ``.

    Parameters
    ----------
    rate : float
        α > 0, the weight of the reaction part.
    normalized : bool
        Keep the mass (default) or not (unbalanced).
    """

    rate: float = 1.0
    name = "wasserstein_fisher_rao"

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive_rate(self)


def as_metric(metric) -> Metric:
    """``None`` → :class:`Wasserstein`; a :class:`Metric` as it is; anything else refused."""
    if metric is None:
        return Wasserstein()
    if not isinstance(metric, Metric):
        raise PdeflowError(
            f"metric must be pf.Wasserstein(), pf.FisherRao(rate) or pf.WassersteinFisherRao(rate), "
            f"got {metric!r}"
        )
    return metric

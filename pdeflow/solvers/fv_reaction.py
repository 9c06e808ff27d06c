"""The Fisher–Rao (reaction) part of a finite-volume run: ``∂t ρ = −α ρ (ξ − ξ̄)`` per cell.

With ξ = U'(ρ) + Φ, Φ = V + W*ρ, the reaction is solved cell by cell with the part of ξ that is
not the entropy, ``R = Φ`` (+ ``U'(ρ)`` for a power law), frozen:

- U = D ρ log ρ: ``L = log ρ`` obeys the linear ODE ``L' = −α (D L + D + R) (+ α ξ̄)``, solved
  exactly:

      L(s) = e^{−αDs} L(0) − (1 − e^{−αDs}) (D + R)/D   (+ a constant, fixed by the mass);

- otherwise ``ρ(s) = ρ(0) e^{−α s R}`` (+ the same constant).

Normalized (the spherical flow, ``ξ̄ = ∫ξρ/∫ρ``), the ``+α ξ̄`` term is a uniform rate whose
integral over the step is exactly the factor that keeps the mass: ρ ← M ρ(s) / ∫ρ(s). This is the
exact solution of the normalized equation with R frozen, not a correction. Unbalanced
(``−α ρ ξ``), no constant. Every update multiplies a cell by a positive number: positive, and
vacuum stays vacuum (Fisher–Rao moves no mass between cells).

Where R does not depend on ρ (no interaction, no power law: Fokker–Planck, heat) the update is
the exact reaction flow for any step; otherwise R is frozen at the midpoint state (a half step
with R(ρ) first), second order. With a Wasserstein part the step is Strang's splitting
R(dt/2) T(dt) R(dt/2), T the explicit transport step: second order in time overall.
"""

from __future__ import annotations

import numpy as np

ACCURACY = 0.5  # reaction step: α dt max|R − R̄| on the support at most this (non-exact cases)


class Reaction:
    """The reaction step of a :class:`~pdeflow.solvers.fv.FiniteVolume` stepper."""

    def __init__(self, fv, metric):
        self.fv = fv
        self.alpha = float(metric.rate)
        self.normalized = bool(metric.normalized)
        self.D = fv.entropy_D
        self.power_law = fv.power_law
        self.exact = not fv.energy.has_interaction and fv.power_law is None

    def rest(self, rho: np.ndarray) -> np.ndarray:
        """R: the part of ξ that the step freezes (all of ξ but the entropy)."""
        rest = np.array(self.fv.energy.drift_potential(rho), dtype=float, copy=True)
        if self.power_law is not None:
            rest += self.power_law.first_variation(rho)
        if self.fv.energy.internal is not None and self.D is None and self.power_law is None:
            rest += self.fv.energy.internal.first_variation(rho)  # (an Entropy with D = 0)
        return rest

    def step_limit(self, rho: np.ndarray) -> float:
        """The longest step the frozen R allows for accuracy (inf where the update is exact)."""
        if self.exact:
            return np.inf
        support = rho > 0
        if not support.any():
            return np.inf
        rest = self.rest(rho)[support]
        spread = float(rest.max() - rest.min())
        return np.inf if spread == 0 else ACCURACY / (self.alpha * spread)

    def flow(self, rho: np.ndarray, s: float, rest: np.ndarray, mass: float) -> np.ndarray:
        """ρ after the reaction over time s with R frozen (a new array)."""
        out = np.zeros_like(rho)
        live = rho > 0
        a = self.alpha
        if self.D is not None:
            decay = np.exp(-a * self.D * s)
            log_rho = decay * np.log(rho[live]) - (1.0 - decay) * (self.D + rest[live]) / self.D
        else:
            log_rho = np.log(rho[live]) - a * s * rest[live]
        if self.normalized:  # the uniform rate α ξ̄: a constant in log ρ, fixed by the mass
            log_rho -= log_rho.max()
            out[live] = np.exp(log_rho)
            out *= mass / self.fv.grid.integrate(out)
        else:
            out[live] = np.exp(log_rho)
        return out

    def step(self, s: float) -> None:
        """Advance the stepper's ρ by the reaction over time s (midpoint R unless exact)."""
        fv = self.fv
        rho = fv.rho
        mass = fv.grid.integrate(rho)
        rest = self.rest(rho)
        if not self.exact:
            rest = self.rest(self.flow(rho, 0.5 * s, rest, mass))
        rho[...] = self.flow(rho, s, rest, mass)

    def dissipation(self, rho: np.ndarray) -> float:
        """α ∫ ρ (ξ − ξ̄)² (normalized) or α ∫ ρ ξ²: the energy's rate of loss to the reaction."""
        grid = self.fv.grid
        xi = self.fv.energy.xi(rho)
        mass = grid.integrate(rho)
        if self.normalized and mass > 0:
            xi = xi - grid.integrate(xi * rho) / mass
        return self.alpha * grid.integrate(rho * np.where(rho > 0, xi, 0.0) ** 2)

"""Exact linear diffusion by fast transforms, and the split step built on it (``scheme="split"``).

For U = D ρ log ρ the flow is ∂t ρ = D Δρ + ∇·(ρ ∇Φ), Φ = V + W*ρ. The diffusion part,
discretised as the explicit path discretises it where Φ is uniform (the walled or periodic
3-point Laplacian on each axis, ``Δ_h = Σ_k Δ_k``), is diagonalised by transforms:

- a walled axis (no flux) by the orthonormal DCT-II: eigenvalues −(2 − 2 cos(π j/n)) / h²;
- a periodic axis by the FFT: eigenvalues −(2 − 2 cos(2π j/n)) / h².

So ``exp(t D Δ_h) ρ`` costs one transform pair at any t (:class:`HeatPropagator`): the exact
solution of the semi-discrete heat equation. It is positive: D Δ_h has non-negative off-diagonals,
so exp(t D Δ_h) = e^{−ct} exp(t (D Δ_h + c I)) is a product of e^{−ct} and a matrix power series
with non-negative terms. It keeps the mass: the constant mode has eigenvalue 0. In floating point
the transforms add round-off of order ε · max ρ, which does two things this module undoes at
the round-off level: cells where it lands below zero (|value| ≤ :data:`ROUND_OFF` · max ρ;
anything larger is an error) are set to zero (the amount is counted: ``clipped_mass`` in the
summary), and the mass it changes (measured: a systematic 4e-16 of the mass per transform pair on
40², which over 10⁴ steps would exceed the 1e-12 that the flux-form schemes keep) is given back
to the largest cell. Both corrections are of the size of the transforms' round-off, not of a
scheme's error.

The split step (Strang): ``ρⁿ⁺¹ = H(τ/2) T(τ) H(τ/2) ρⁿ``, H the exact diffusion, T the transport
∂t ρ = ∇·(ρ ∇Φ) by the Carrillo–Chertock–Huang upwind flux with the minmod reconstruction
(u = −ΔΦ/h) and SSP-RK2 (Heun), positive for τ ≤ cfl · h / (2 Σ_k max|u_k|) — the drift's CFL
limit, not the diffusion's. Second order in time (Strang); positive (both parts are); mass to
round-off (the transport is in flux form). Where Φ is uniform (the heat equation) there is no
transport and a step covers the whole interval asked for: the exact semi-discrete solution. The
spatial scheme is the 3-point Laplacian plus CCH for the drift (second order), not
Scharfetter–Gummel: the discrete Gibbs state is stationary only up to the splitting error.
"""

from __future__ import annotations

import numpy as np

from ..errors import PdeflowError
from ..spectral import SpectralLaplacian
from ._fv_kernels import largest_jumps, upwind_stage
from .stepper import BlowUp, land

ROUND_OFF = 1e-12
"""Negative values of the exact propagator above −ROUND_OFF · max ρ are transform round-off."""


class HeatPropagator:
    """ρ ↦ exp(t D Δ_h) ρ on a :class:`~pdeflow.grid.Grid` (walls: DCT-II, periodic: FFT)."""

    def __init__(self, grid, D: float):
        self.laplacian = SpectralLaplacian(grid, real=True)
        self.eigenvalues = -D * self.laplacian.eigenvalues  # of D Δ_h, in the spectral shape
        self._factor: tuple[float, np.ndarray] | None = None
        self.clipped_mass = 0.0  # Σ |negative round-off| set to zero, in density units

    def factor(self, t: float) -> np.ndarray:
        if self._factor is None or self._factor[0] != t:
            self._factor = (t, np.exp(t * self.eigenvalues))
        return self._factor[1]

    def apply(self, rho: np.ndarray, t: float) -> np.ndarray:
        """exp(t D Δ_h) ρ, a new array (ρ is not changed); round-off negatives set to zero."""
        a = self.laplacian.forward(rho)
        a *= self.factor(t)
        a = self.laplacian.backward(a)
        negative = a < 0.0
        if negative.any():
            low, top = a.min(), np.abs(a).max()
            if low < -ROUND_OFF * top:
                raise PdeflowError(f"the exact heat propagator gave a negative density {low:.3g} "
                                   f"(max {top:.3g}): beyond round-off; the input was not >= 0")
            self.clipped_mass -= a[negative].sum()
            a[negative] = 0.0
        a.flat[np.argmax(a)] += rho.sum() - a.sum()  # the round-off of the mass: see above
        return a


class StrangSplit:
    """The split step of a :class:`~pdeflow.solvers.fv.FiniteVolume` stepper (module docstring)."""

    time_scheme = ("Strang split: exact diffusion by DCT/FFT, drift by SSP-RK2 at its CFL limit "
                   "(second order; positive and conservative)")

    def __init__(self, fv):
        if fv.entropy_D is None:
            raise PdeflowError("scheme='split' needs a linear diffusion, U = D rho log rho with "
                               "D > 0 (heat, Fokker-Planck, Keller-Segel); use scheme='rkl2' or "
                               "'explicit' for the porous medium")
        self.fv = fv
        grid = fv.grid
        self.heat = HeatPropagator(grid, fv.entropy_D)
        self.inv_h = np.array([1.0 / h for h in grid.dx])
        self.jumps = np.zeros(grid.ndim)
        self.stage, self.stage2 = np.zeros(grid.shape), np.zeros(grid.shape)
        self.phi = np.zeros(grid.shape)
        static = not fv.energy.has_interaction
        self.static_phi = fv.energy.drift_potential(fv.rho, out=self.phi).copy() if static else None
        self.drift = not (static and np.ptp(self.static_phi) == 0.0)
        self.rejected = 0

    def _potential(self, rho: np.ndarray) -> np.ndarray:
        if self.static_phi is not None:
            return self.static_phi
        return self.fv.energy.drift_potential(rho, out=self.phi)

    def drift_limit(self, rho: np.ndarray) -> float:
        """1 / Σ_k 2 max|u_k| / h_k, u_k = Δ_kΦ / h_k: the transport's positive forward-Euler
        step (the explicit path's CCH bound; inf without a drift)."""
        if not self.drift:
            return np.inf
        largest_jumps(self._potential(rho), self.fv.periodic, self.jumps)
        rate = sum(2.0 * jump / h**2 for jump, h in zip(self.jumps, self.fv.dx, strict=True))
        return 1.0 / rate if rate > 0 else np.inf

    def step(self, remaining: float) -> float:
        fv = self.fv
        dt = land(min(fv.cfl * self.drift_limit(fv.rho), fv.dt_cap, remaining), remaining)
        if not self.drift:
            fv.rho = self.heat.apply(fv.rho, dt)
            return dt
        while True:
            half = self.heat.apply(fv.rho, 0.5 * dt)
            if self._transport(half, dt):
                fv.rho = self.heat.apply(half, 0.5 * dt)
                return dt
            self.rejected += 1
            dt *= 0.5
            if dt < 1e-14 * max(fv.t, 1.0):
                raise BlowUp(fv.t, "time step collapsed while keeping the density positive")

    def _transport(self, rho: np.ndarray, dt: float) -> bool:
        """rho ← SSP-RK2 step of ∂t ρ = ∇·(ρ∇Φ) (in place); False at a negative stage."""
        fv, s = self.fv, self.stage
        args = (self.inv_h, fv.periodic)
        if upwind_stage(rho, self._potential(rho), *args, 0.0, rho, 1.0, dt, np.inf, s)[0]:
            return False
        out = self.stage2
        negative, _ = upwind_stage(s, self._potential(s), *args, 0.5, rho, 0.5, dt, np.inf, out)
        if negative:
            return False
        rho[...] = out
        return True

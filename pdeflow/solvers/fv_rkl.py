"""Super-time-stepping for the finite-volume method (``scheme="rkl2"``): the second-order
Runge–Kutta–Legendre method of Meyer, Balsara and Aslam (J. Comput. Phys. 257, 2014).

One step of length τ takes s stages of the explicit path's spatial operator L (the same fluxes and
fused kernels),

    Y₀ = ρⁿ,   Y₁ = Y₀ + μ̃₁ τ L(Y₀),
    Y_j = μ_j Y_{j−1} + ν_j Y_{j−2} + (1 − μ_j − ν_j) Y₀ + μ̃_j τ L(Y_{j−1}) + γ̃_j τ L(Y₀),
    ρⁿ⁺¹ = Y_s,

with b₀ = b₁ = b₂ = 1/3, b_j = (j² + j − 2) / (2j(j + 1)), a_j = 1 − b_j, w₁ = 4 / (s² + s − 2),
μ̃₁ = b₁ w₁, μ_j = (2j − 1)/j · b_j/b_{j−1}, ν_j = −(j − 1)/j · b_j/b_{j−2}, μ̃_j = μ_j w₁,
γ̃_j = −a_{j−1} μ̃_j. Its stability polynomial is R(z) = a_s + b_s P_s(1 + w₁ z) (P_s Legendre),
second order, with |R| ≤ 1 on z ∈ [−(s² + s − 2)/2, 0]: since every eigenvalue of L lies in
[−2/Δt, 0], Δt the forward-Euler positivity limit (Gershgorin: a cell's outflow rate is at most
1/Δt), the step is stable for τ ≤ Δt (s² + s − 2)/4 — s stages cover ≈ s²/4 forward-Euler steps.
The step is τ = min(cfl · Δt · (S² + S − 2)/4, dt, remaining) with S = ``stages`` (the option), and
the fewest stages s ≤ S that cover it.

Mass: every stage is a linear combination, with coefficients summing to 1, of states and flux
divergences in conservative form, so the mass is kept to round-off.

Positivity is *not* a property of the scheme beyond forward Euler's step: the recursion has
ν_j < 0 (it is not a convex combination of forward-Euler steps), and no s-stage first- or
higher-order method can be positive for every positive L at τ > s Δt (Kraaijevanger's threshold
factor is at most s; RKL1 has the same non-convex recursion, so it buys nothing here either). It is
enforced: a step with a negative cell in any stage is rejected and retried at half τ (fewer
stages); a step at or below the SSP-RK3 bound cfl · Δt is taken by the explicit path's SSP-RK3
(positive there). For the smooth data of the benchmarks and order tests no step was rejected
(Barenblatt's compact support included); on rough random data (120 runs to t = 0.2, 8²–40²,
Fokker–Planck, porous medium, aggregation) 81 steps were rejected for 318 accepted with positive
data, and 256 for 300 with vacuum between random cells: there the rejections cost about as many
stages as they save.

Error control (``rtol``): after each step the local error is estimated as in RKC (Sommeijer,
Shampine and Verwer 1998), from the step's end points and the operator there,

    est = (1/15) [12 (ρⁿ − ρⁿ⁺¹) + 6τ (L(ρⁿ) + L(ρⁿ⁺¹))],

which costs one evaluation of L (at ρⁿ⁺¹, reused as L(Y₀) by the next step). It measures the
O(τ³) defect of the trapezoidal relation between the two end points, which for a second-order
step is of the size of its local error. A step whose error ‖est‖₁ / M (L1, relative to the mass)
exceeds ``rtol`` is rejected; the next τ is τ · min(4, max(0.2, 0.9 (rtol / err)^{1/3})), and
the number of stages follows from τ (the fewest that cover it, at most ``stages``). The run records
the largest and the last estimate (``error_estimate_max``, ``error_estimate_last``) and the steps
rejected for accuracy (``error_rejected_steps``). rtol bounds the local error per step; the global
error is at most about the number of steps times rtol, and smaller where the flow contracts, as
diffusion does.

Energy: for a linear flow (Φ = V, no interaction) L is self-adjoint in ℓ²(1/π), π the discrete
Gibbs state, and |R| ≤ 1 on its spectrum, so the χ² distance Σ (ρ − π)²/π does not increase.
The free energy itself is not guaranteed to decrease at every step (R is not positive); the tests
measure it.
"""

from __future__ import annotations

import math

import numpy as np

from ._fv_stages import scharfetter_gummel_rkl_stage, upwind_rkl_stage
from .stepper import BlowUp, land


def rkl2_coefficients(s: int) -> tuple[np.ndarray, ...]:
    """(μ, ν, μ̃, γ̃) for stages j = 0 .. s (entries 0 unused, μ̃[1] = μ̃₁), Meyer–Balsara–Aslam."""
    if s < 2:
        raise ValueError(f"RKL2 needs at least 2 stages, got {s}")
    j = np.arange(s + 1, dtype=float)
    b = np.full(s + 1, 1.0 / 3.0)
    b[3:] = (j[3:] ** 2 + j[3:] - 2) / (2 * j[3:] * (j[3:] + 1))
    a = 1.0 - b
    w1 = 4.0 / (s * s + s - 2)
    mu, nu, mu_t, gamma_t = (np.zeros(s + 1) for _ in range(4))
    mu_t[1] = b[1] * w1
    for k in range(2, s + 1):
        mu[k] = (2 * k - 1) / k * b[k] / b[k - 1]
        nu[k] = -(k - 1) / k * b[k] / b[k - 2]
        mu_t[k] = mu[k] * w1
        gamma_t[k] = -a[k - 1] * mu_t[k]
    return mu, nu, mu_t, gamma_t


def rkl2_coverage(s: int) -> float:
    """Forward-Euler steps one s-stage RKL2 step covers: (s² + s − 2)/4."""
    return (s * s + s - 2) / 4.0


def rkl2_stages(ratio: float) -> int:
    """The fewest stages s ≥ 2 with (s² + s − 2)/4 ≥ ratio."""
    s = max(2, math.ceil((math.sqrt(9.0 + 16.0 * ratio) - 1.0) / 2.0))
    while rkl2_coverage(s) < ratio:  # guard the square root's rounding
        s += 1
    return s


class RungeKuttaLegendre:
    """The RKL2 step of a :class:`~pdeflow.solvers.fv.FiniteVolume` stepper (module docstring)."""

    time_scheme = ("RKL2 super-time-stepping (second order; stable to (s²+s-2)/4 explicit limits; "
                   "positivity enforced: a stage with a negative cell is rejected and the step "
                   "halved, SSP-RK3 at or below the explicit limit)")

    def __init__(self, fv, max_stages: int, rtol: float | None = None):
        self.fv = fv
        self.max_stages = int(max_stages)
        self.rtol = rtol
        self.buffers = [np.zeros(fv.grid.shape) for _ in range(3)]
        self.m0 = np.zeros(fv.grid.shape)
        self.m1 = np.zeros(fv.grid.shape)  # L(ρⁿ⁺¹) for the error estimate
        self.estimate = np.zeros(fv.grid.shape)
        self.rejected = 0
        self.error_rejected = 0
        self.error_max = 0.0
        self.error_last = math.nan
        self.dt_error = math.inf  # the step the error controller proposes
        self._m0_at: tuple | None = None  # (array, t) where self.m0 = L(ρ) is known
        self._spare: np.ndarray | None = None  # the last step's output buffer (to undo it)
        if rtol is not None:
            self.time_scheme = ("RKL2 super-time-stepping (second order; stable to (s²+s-2)/4 "
                                f"explicit limits; local error per step <= rtol = {rtol:g} by an "
                                "RKC estimate; positivity enforced: a stage with a negative cell "
                                "is rejected and the step halved)")
        self.stages = 0  # stages taken, all steps (explicit fallbacks count 3)
        self._coefficients: dict[int, tuple[np.ndarray, ...]] = {}

    def step(self, remaining: float) -> float:
        """One step of at most ``remaining``; returns the dt taken."""
        fv = self.fv
        dt_fe = fv.cfl * fv.prepare(fv.rho)
        stable = dt_fe * rkl2_coverage(self.max_stages)
        dt = land(min(stable, self.dt_error, fv.dt_cap, remaining), remaining)
        while True:
            if dt <= dt_fe and self.rtol is None:  # within the explicit limit: SSP-RK3
                self.stages += 3
                return fv.explicit_step(dt)
            s = rkl2_stages(dt / dt_fe)
            rho0 = fv.rho
            if self._stages(dt, s):
                if self.rtol is None or self._accept(rho0, dt):
                    return dt
                self.error_rejected += 1
                fv.rho = rho0  # the step's input array is untouched: go back to it
                self.buffers = [b for b in self.buffers if b is not rho0] + [self._spare]
                self._m0_at = (rho0, fv.t)  # and m0 still holds L(ρⁿ)
                dt = land(min(self.dt_error, remaining), remaining)
            else:
                self.rejected += 1
                dt *= 0.5
            if dt < 1e-14 * max(fv.t, 1.0):
                raise BlowUp(fv.t, "time step collapsed while keeping the density positive")
            fv.prepare(fv.rho)

    def _accept(self, rho0: np.ndarray, tau: float) -> bool:
        """The RKC error estimate of the step just taken from ``rho0`` (module docstring); sets
        the next step's proposal and returns whether the error is within rtol."""
        fv = self.fv
        fv.prepare(fv.rho, limit=False)
        fv.apply(fv.rho, self.m1)
        est = self.estimate  # (ρⁿ − ρⁿ⁺¹) + (τ/2)(L(ρⁿ) + L(ρⁿ⁺¹)), in place: 12/15 of it is est
        np.add(self.m0, self.m1, out=est)
        est *= 0.5 * tau
        est += rho0
        est -= fv.rho
        error = 12.0 * float(np.abs(est, out=est).sum()) / (15.0 * float(rho0.sum()))
        factor = 4.0 if error == 0.0 else min(4.0, max(0.2, 0.9 * (self.rtol / error) ** (1 / 3)))
        self.dt_error = tau * factor
        if error > self.rtol:
            return False
        self.error_max = max(self.error_max, error)
        self.error_last = error
        self.m0, self.m1 = self.m1, self.m0  # L(ρⁿ⁺¹) is the next step's L(Y₀)
        self._m0_at = (fv.rho, fv.t + tau)
        return True

    def _stages(self, tau: float, s: int) -> bool:
        """The s stages from fv.rho (the flux prepared there); False at a negative cell."""
        fv = self.fv
        if s not in self._coefficients:
            self._coefficients[s] = rkl2_coefficients(s)
        mu, nu, mu_t, gamma_t = self._coefficients[s]
        y0, m0 = fv.rho, self.m0
        if self._m0_at is None or self._m0_at[0] is not y0 or self._m0_at[1] != fv.t:
            fv.apply(y0, m0)
        prev, before = self.buffers[0], y0
        np.multiply(m0, mu_t[1] * tau, out=prev)
        prev += y0
        if (prev < 0.0).any():
            return False
        self.stages += s
        free = [b for b in self.buffers if b is not prev]
        for j in range(2, s + 1):
            out = free[0] if free[0] is not before else free[1]
            fv.prepare(prev, limit=False)
            threshold = fv.blowup_density if j == s else np.inf
            c0 = 1.0 - mu[j] - nu[j]
            args = (mu[j], before, nu[j], y0, c0, mu_t[j] * tau, m0, gamma_t[j] * tau, threshold,
                    out)
            if fv.entropy_D is not None:
                negative, high = scharfetter_gummel_rkl_stage(prev, fv.flux_data, fv.coef,
                                                              fv.periodic, *args)
            else:
                negative, high = upwind_rkl_stage(prev, fv.flux_data, fv.inv_h, fv.periodic,
                                                  *args)
            if negative:
                return False
            free = [b for b in self.buffers if b is not out and b is not prev]
            before, prev = prev, out
        # the new state is prev: swap it with rho's array, which becomes a buffer
        self._spare = prev
        self.buffers = [y0 if b is prev else b for b in self.buffers]
        fv.rho = prev
        fv.high_cells = high
        return True

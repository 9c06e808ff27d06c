"""The implicit finite-volume steps, controlled by the energy: linearly implicit Euler
(``scheme="implicit"``) and linearly implicit BDF2 (``scheme="bdf2"``).

One Euler step solves

    (I − dt L[ρⁿ]) ρⁿ⁺¹ = ρⁿ,

``L[ρⁿ]`` the spatial operator with its nonlinear coefficients frozen at ρⁿ. Per face between
cells ``l`` and ``r`` of an axis with spacing ``h`` the frozen flux is ``F/h = g_l ρ_l − g_r ρ_r``
with rates ``g ≥ 0``:

- U = D ρ log ρ (heat, Fokker–Planck, Keller–Segel): the Scharfetter–Gummel flux of the
  explicit path, ``g_l = D B(ΔΦ/D)/h²``, ``g_r = D B(−ΔΦ/D)/h²``, Φ = V + W*ρⁿ lagged. Where Φ
  does not depend on ρ (heat, Fokker–Planck) the step is exact implicit Euler of the explicit
  path's semi-discrete system, and its steady state is the same discrete Gibbs state.
- U = ρ^m/(m−1) or no U (porous medium, aggregation): the Carrillo–Chertock–Huang flux of the
  explicit path, ``F = u⁺ ρᴱ_l + u⁻ ρᵂ_r``, ``u = −Δξ/h`` (ξ with the pressure term U'(ρ)), with
  ``u`` and the ratios ``θ = ρᴱ/ρ`` of the minmod reconstruction (in ``[0, 2]``) taken from ρⁿ:
  ``g_l = u⁺ θᴱ_l / h``, ``g_r = −u⁻ θᵂ_r / h``. The operator is the explicit one at ρⁿ
  (``L[ρⁿ] ρⁿ`` equals the explicit ``L(ρⁿ)``), so a steady state of either path is one of the
  other: second order in space. (An SG flux with a lagged face diffusivity P'(ρ) keeps the
  degenerate diffusion implicit and takes longer steps, but it is first-order upwind at support
  edges under a drift and is not a descent direction of the discrete energy there: near a pinned
  steady state its energy rose at every step size, and the energy control stalled.)

Positivity and mass, by construction: ``L`` has off-diagonals ``g ≥ 0`` and zero column sums, so
``A = I − dt L`` is an M-matrix whose columns sum to 1: ``A⁻¹ ≥ 0`` and ``1ᵀ A⁻¹ = 1ᵀ``, for every
dt. Nothing is clipped or rescaled. In floating point, ``A`` is column diagonally dominant, so the
LU factorisation pivots on the diagonal and its triangular solves add non-negative terms only:
the computed ρⁿ⁺¹ is ≥ 0 exactly. The mass is conserved to the round-off of the solve, a relative
``≲ ε · dt · max rate`` (below 1e-13 at the default step; ~1e-7 at ``dt · D/h² = 1e9``).

Both fluxes are descent directions of the discrete energy: ``Σ_i ξ_i (L ρ)_i = −Σ_faces F u ≤ 0``
(CCH; SG likewise for ξ = D log ρ + Φ), so a small enough step always lowers the energy.

Energy control: a step is accepted only when the discrete energy does not increase,
``E(ρⁿ⁺¹) ≤ E(ρⁿ) + 1e-12 · S`` (S the sum of the energy terms' magnitudes: round-off). A lagged
interaction can otherwise overshoot (a two-cycle of profiles with the energy rising every other
step); a rejected step is retried at half the step, and after an accepted step the step doubles
back towards the nominal one. For heat and Fokker–Planck no step is ever rejected (implicit
Euler of a reversible Markov generator decreases the relative entropy); the counts are in the
run attributes (``rejected_steps``).

BDF2 (``scheme="bdf2"``), variable step, ω = dtₙ/dtₙ₋₁ (ω = 1: ``(I − ⅔dt L) ρⁿ⁺¹ =
(4ρⁿ − ρⁿ⁻¹)/3``):

    (I − dt (1+ω)/(1+2ω) L[ρ̃]) ρⁿ⁺¹ = ((1+ω)² ρⁿ − ω² ρⁿ⁻¹)/(1+2ω),    ρ̃ = ((1+ω)ρⁿ − ωρⁿ⁻¹)⁺.

What it guarantees, and at which step: the right-hand side sums to the mass and the matrix is
the same M-matrix with unit column sums, so the mass is kept at every step and every dt;
ρⁿ⁺¹ ≥ 0 wherever the right-hand side is ≥ 0 in every cell (A⁻¹ ≥ 0). No linear scheme of order
> 1 is positive for every dt (Bolley–Crouzeix), and this one is not: the right-hand side is
negative where the density falls by more than ω²/(1+ω)² (¼ at a constant step) of its previous
value in one step. Such a step is taken as implicit Euler instead (positive at every dt), as is
the first step, the first after a resume (ρⁿ⁻¹ is not stored), and a step more than twice the
one before (after a step shortened to land on a snapshot time: variable-step BDF2 is
zero-stable for ω < 1 + √2 only); the run counts them (``euler_steps``). The coefficients are
frozen at the extrapolation ρ̃, not at ρⁿ: with coefficients that depend on ρ, freezing them at
ρⁿ leaves an O(dt²) local error, first order.
Its positive part is taken only where the coefficients are evaluated (the CCH ratios and U'(ρ)
are defined for ρ ≥ 0); the density itself is never altered. Energy control as for Euler (a
rejected step is retried at half the step with ω recomputed; the history is the last accepted
step). Measured time orders (tests/test_fv_bdf2.py): 2.07, 2.03 on heat against the exact
semi-discrete solution (errors 10.9× below implicit Euler's at dt = 0.02, 48× at 0.005); 2.06,
2.02 on Ornstein–Uhlenbeck against exp(tL)ρ₀ (errors 9.4× below Euler's at dt = 0.05, 41× at
0.0125); 2.03, 2.01 with an interaction (Φ = V + W*ρ). The switch to Euler is per step and
global: one cell whose right-hand side is negative, however small its density, makes the whole
step first order. With the Krylov solves, whose error is bounded in L1 (not relative to each
cell), a far tail can trip it: Keller–Segel 128², dt = T/40, had 2 Euler steps with Krylov
against 1 with LU, L1 error 9.19e-3 against 8.57e-3.

Time to a solution (Keller–Segel 128², the work–precision case): BDF2 with ``auto`` reaches
9.2e-3 in 2.7 s (40 steps, 1 factorisation, 4.9 GMRES iterations per step; 6.8 s with an LU
every step), where rkl2 reaches 8.1e-3 in 0.05 s; the implicit schemes are not the fastest way
there, and ``scheme="auto"`` does not choose them.

The linear solves are :mod:`pdeflow.solvers.fv_linear`'s: a sparse LU, or GMRES preconditioned by
a kept LU (``linear_solver``). Measured at 2D 256², walls, the benchmarks' problems, per step
against the former path (a fresh SuperLU every step), one process, OPENBLAS_NUM_THREADS=1,
interleaved (a shared 2-core machine; ratios, not seconds, are what carries over):

- Keller–Segel (M = 0.6·8π, default dt = 0.047, 30 steps): ``auto`` chooses Krylov, 0.23–0.28×
  the former time per step (0.11–0.19 s against 0.44–0.66 s, four runs); 1 factorisation in 30
  steps, 4.8 GMRES iterations per solve, no fallback; the density 4.2e-11 of the mass from the
  direct one after 30 steps. The whole work–precision run (to t = 0.5, 11 steps): 0.30× (1.2–1.7 s
  against 4.4–4.6 s). BDF2 with Krylov: 0.36–0.43× per step (2 factorisations in 10 steps, one a
  fallback for a negative entry).
- Porous medium (Barenblatt m = 2 from t₀ = 0.1, default dt, 30 steps, 18 halved by the energy
  control): ``auto`` factorises every step, 1.0–1.05× the former time; Krylov forced would take
  1.25–1.4× (9.1 iterations per solve and 18 refactorisations: the halved and re-doubled steps
  change the matrix more than a kept LU follows).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import PdeflowError
from .drift_diffusion import drift_diffusion_weight
from .fv_linear import ImplicitSolve
from .stepper import land

ENERGY_SLACK = 1e-12  # relative to the energy terms' magnitudes: the round-off of the energy sum

SCHARFETTER_GUMMEL = "scharfetter-gummel (second order)"
CCH_LAGGED = "carrillo-chertock-huang, minmod, velocity and limiter lagged (second order)"
STALL = 1e-10  # a step this far below the nominal one: the energy control has stalled
# BDF2: the largest step ratio dtₙ/dtₙ₋₁ (zero-stable below 1 + √2; the energy control grows the
# step by 2 at most). A step after a short one (a landing on a snapshot time) is an Euler step.
RATIO_MAX = 2.0


class LinearlyImplicit:
    """Linearly implicit Euler (``order=1``) or BDF2 (``order=2``) step of a
    :class:`~pdeflow.solvers.fv.FiniteVolume` stepper, with energy control (see the module
    docstring); the linear solves are :class:`~pdeflow.solvers.fv_linear.ImplicitSolve`'s."""

    def __init__(self, fv, nominal_dt: float, order: int = 1, linear_solver: str = "auto",
                 refactor: int = 10):
        self.fv = fv
        grid = fv.grid
        self.index = np.arange(grid.size).reshape(grid.shape)
        self.nominal_dt = float(nominal_dt)
        self.dt = self.nominal_dt  # the step to try next
        self.order = int(order)
        self.constant = not fv.energy.has_interaction and fv.power_law is None
        self.linear = ImplicitSolve(linear_solver, self.constant, refactor)
        self.rejected = 0
        self.euler_steps = 0  # BDF2: steps taken as implicit Euler (the first, and non-positive RHS)
        self.previous: np.ndarray | None = None  # BDF2: ρⁿ⁻¹ ...
        self.dt_previous = 0.0  # ... and the step that led from it to ρⁿ
        self.spatial_scheme = SCHARFETTER_GUMMEL if fv.entropy_D is not None else CCH_LAGGED

    def reset(self) -> None:
        """Forget the history (BDF2's previous state, kept factorisations): a resumed run."""
        self.previous = None
        self.linear.reset()

    @property
    def time_scheme(self) -> str:
        if self.order == 1:
            return ("linearly implicit Euler, energy-controlled step (first order; positive and "
                    "conservative at every dt)")
        return ("linearly implicit variable-step BDF2, coefficients at the extrapolation "
                "((1+w) rho^n - w rho^(n-1))+, w = dt_n/dt_(n-1), energy-controlled step (second "
                "order; conservative at every dt; positive at every step: a step whose right-hand "
                "side ((1+w)^2 rho^n - w^2 rho^(n-1))/(1+2w) has a negative cell is taken as "
                "implicit Euler, counted in euler_steps, as are the first and any step more than "
                "twice the one before)")

    def summary(self) -> dict:
        out = {"time_scheme": self.time_scheme, "spatial_scheme": self.spatial_scheme,
               "rejected_steps": int(self.rejected), **self.linear.summary()}
        if self.order == 2:
            out["euler_steps"] = int(self.euler_steps)
        return out

    # -- the operator ---------------------------------------------------------------------------
    def _faces(self, axis: int):
        """Cell indices (left, right) of every face of ``axis`` and the neighbours beyond them
        (left − 1, right + 1; clamped at walls, as the explicit kernels do)."""
        n = self.fv.grid.shape[axis]
        periodic = self.fv.grid.periodic[axis]
        left = np.arange(n) if periodic else np.arange(n - 1)
        right = (left + 1) % n
        if periodic:
            return left, right, (left - 1) % n, (right + 1) % n
        return left, right, np.maximum(left - 1, 0), np.minimum(right + 1, n - 1)

    def rates(self, rho: np.ndarray, axis: int, h: float) -> tuple[np.ndarray, np.ndarray]:
        """The face rates ``(g_l, g_r)`` of ``axis`` at ρ (arrays over the faces, ``F/h = g_l ρ_l
        − g_r ρ_r``)."""
        fv = self.fv
        left, right, before, after = self._faces(axis)

        def at(a, idx):
            return np.take(a, idx, axis=axis)

        phi = fv.energy.drift_potential(rho)
        if fv.entropy_D is None:  # CCH, lagged u and θ
            xi = phi if fv.power_law is None else phi + fv.power_law.first_variation(rho)
            u = (at(xi, left) - at(xi, right)) / h
            rho_l, rho_r = at(rho, left), at(rho, right)
            east = rho_l + 0.5 * _minmod(rho_r - rho_l, rho_l - at(rho, before))
            west = rho_r - 0.5 * _minmod(at(rho, after) - rho_r, rho_r - rho_l)
            theta_east = np.divide(east, rho_l, out=np.zeros_like(east), where=rho_l > 0)
            theta_west = np.divide(west, rho_r, out=np.zeros_like(west), where=rho_r > 0)
            return np.maximum(u, 0.0) * theta_east / h, -np.minimum(u, 0.0) * theta_west / h
        dphi = at(phi, right) - at(phi, left)
        D = np.full(dphi.shape, fv.entropy_D)
        return drift_diffusion_weight(D, dphi) / h**2, drift_diffusion_weight(D, -dphi) / h**2

    def operator(self, rho: np.ndarray) -> sp.csc_matrix:
        """``L[ρ]``: off-diagonals ``g ≥ 0``, columns summing to zero."""
        grid = self.fv.grid
        rows, cols, vals = [], [], []
        for axis, h in enumerate(grid.dx):
            left, right, _, _ = self._faces(axis)
            i = np.take(self.index, left, axis=axis).ravel()
            j = np.take(self.index, right, axis=axis).ravel()
            g_left, g_right = (g.ravel() for g in self.rates(rho, axis, h))
            # dρ_i/dt = −F/h, dρ_j/dt = +F/h with F/h = g_left ρ_i − g_right ρ_j
            rows += [i, i, j, j]
            cols += [i, j, i, j]
            vals += [-g_left, g_right, g_left, -g_right]
        return sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(grid.size, grid.size),
        )

    def _advance(self, dt: float) -> np.ndarray:
        """ρⁿ⁺¹ from ρⁿ (and ρⁿ⁻¹ for BDF2) over ``dt``.

        Euler: (I − dt L[ρⁿ]) ρⁿ⁺¹ = ρⁿ. Variable-step BDF2, w = dt/dtₙ₋₁:

            (I − dt (1+w)/(1+2w) L[ρ̃]) ρⁿ⁺¹ = ((1+w)² ρⁿ − w² ρⁿ⁻¹)/(1+2w),
            ρ̃ = ((1+w) ρⁿ − w ρⁿ⁻¹)⁺,

        (w = 1: (I − ⅔dt L) ρⁿ⁺¹ = (4ρⁿ − ρⁿ⁻¹)/3), taken where the right-hand side is ≥ 0 in
        every cell and w ≤ :data:`RATIO_MAX`; elsewhere, and at the first step, the Euler step.
        """
        rho = self.fv.rho
        if self.order == 2 and self.previous is not None and dt <= RATIO_MAX * self.dt_previous:
            w = dt / self.dt_previous
            rhs = ((1.0 + w) ** 2 * rho - w**2 * self.previous) / (1.0 + 2.0 * w)
            if rhs.min() >= 0.0:  # then A⁻¹ rhs ≥ 0: a positive step
                # the coefficients' extrapolation; its positive part where the density is
                # about to vanish (the CCH ratios and U'(ρ) are defined for ρ ≥ 0)
                at = np.maximum((1.0 + w) * rho - w * self.previous, 0.0)
                c = dt * (1.0 + w) / (1.0 + 2.0 * w)
                return self.linear.solve(c, lambda: self.operator(at), rhs.ravel())
            self.euler_steps += 1
        elif self.order == 2:
            self.euler_steps += 1
        return self.linear.solve(dt, lambda: self.operator(rho), rho.ravel())

    # -- the step -------------------------------------------------------------------------------
    def step(self, remaining: float) -> float:
        """Take one accepted step of at most ``remaining``; return its dt."""
        fv = self.fv
        energy_before, scale_before = fv.energy.value_and_scale(fv.rho)
        dt = land(min(self.dt, remaining), remaining)
        full = dt == self.dt
        while True:
            euler_steps = self.euler_steps
            rho_new = self._advance(dt).reshape(fv.grid.shape)
            energy_after, scale_after = fv.energy.value_and_scale(rho_new)
            slack = ENERGY_SLACK * max(scale_before, scale_after)
            if energy_after <= energy_before + slack or not np.isfinite(energy_after):
                break  # (a non-finite result is reported by the caller, not retried)
            self.rejected += 1
            self.euler_steps = euler_steps  # counted when accepted
            dt *= 0.5
            self.dt, full = dt, False
            if dt < STALL * self.nominal_dt:
                raise PdeflowError(
                    f"implicit step could not decrease the energy at t={fv.t:.4g} even at "
                    f"dt={dt:.3g} ({dt / self.nominal_dt:.1e} of the nominal step); use "
                    "scheme='explicit'"
                )
        if self.order == 2:
            self.previous, self.dt_previous = fv.rho.copy(), dt
        fv.rho[...] = rho_new
        if full:  # a whole step accepted at the first try: grow back towards the nominal step
            self.dt = min(2.0 * self.dt, self.nominal_dt)
        return dt


def _minmod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The argument of smaller magnitude where a and b have one sign, else 0."""
    return np.where(a * b > 0.0, np.where(np.abs(a) < np.abs(b), a, b), 0.0)

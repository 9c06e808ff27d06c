"""Finite-volume solver (``method="fv"``) for ``∂t ρ = ∇·(ρ ∇ξ)``, ξ = U'(ρ) + V + W*ρ.

Fluxes (one concept each, in :mod:`pdeflow.solvers._fv_kernels`):

- U = D ρ log ρ: Scharfetter–Gummel, J = (D/h)[B(δ) ρ_i − B(−δ) ρ_{i+1}], δ = ΔΦ/D,
  Φ = V + W*ρ. Handles vacuum; the discrete Gibbs state ρ ∝ e^{−Φ/D} is exactly stationary.
- U = ρ^m/(m−1) or no U: Carrillo–Chertock–Huang, F = u⁺ρᴱ_i + u⁻ρᵂ_{i+1}, u = −Δξ/h, with a
  minmod (positivity-preserving) reconstruction; second order.

Time stepping (``scheme``):

- ``scheme="auto"`` (the default): chosen from the problem at t = 0 and recorded with the run
  (``scheme_choice``): split for pure diffusion and for linear Fokker–Planck with a separable
  potential (the exact propagator), error-controlled rkl2 for the other diffusion-limited
  problems (mesh Péclet number ≤ 1) and the porous medium without drift, explicit otherwise
  (:mod:`pdeflow.solvers.fv_auto`).
- ``scheme="explicit"``: SSP-RK3 (Shu–Osher) with an adaptive step ``dt = cfl · dt_max`` where
  ``dt_max`` is the positivity limit of forward Euler (SG: 1/Σ_k 2 max rate_k; CCH:
  1/Σ_k 2 max|u_k|/h_k) and, for U = ρ^m, the diffusion limit 1/Σ_k 2 P'(max ρ)/h_k². A stage that
  turns negative is rejected and the step halved. Each stage is one kernel call (flux on every
  axis and the stage combination); where Φ does not depend on ρ the SG weights B(±δ) and the
  step limit are computed once (and where Φ is uniform, B ≡ 1: plain diffusion).
- ``scheme="rkl2"``: Runge–Kutta–Legendre super-time-stepping, second order, s ≤ ``stages``
  stages of the same fused kernels covering ≈ s²/4 explicit limits per step, the step chosen by
  an error estimate (local error ≤ ``rtol`` per step, relative L1); positivity enforced by
  rejection (:mod:`pdeflow.solvers.fv_rkl`).
- ``scheme="split"`` (U = D ρ log ρ): Strang splitting of the exact diffusion (one positive,
  column-stochastic matrix exponential per axis) and the drift ∇·(ρ∇Φ) by SSP-RK2 at the drift's
  CFL limit; without a drift (heat), and for a static separable potential V = Σ_k V_k(x_k)
  (Ornstein–Uhlenbeck), where the SG operator is a Kronecker sum of per-axis generators, one
  step is the exact semi-discrete solution (:mod:`pdeflow.solvers.fv_split`).
- ``scheme="implicit"``: linearly implicit Euler, (I − dt L[ρⁿ]) ρⁿ⁺¹ = ρⁿ with the nonlinear
  coefficients frozen at ρⁿ, an M-matrix with unit column sums (positive and conservative at
  every dt, by construction), the step halved where the energy would rise
  (:mod:`pdeflow.solvers.fv_implicit`). Its spatial operator is the explicit path's (SG, or
  CCH with the velocity and limiter frozen at ρⁿ). The run records both (``spatial_scheme``,
  ``time_scheme``).
- ``scheme="bdf2"``: linearly implicit BDF2 (variable step; constant step (I − ⅔dt L[ρ̃]) ρⁿ⁺¹ =
  (4ρⁿ − ρⁿ⁻¹)/3, ρ̃ = (2ρⁿ − ρⁿ⁻¹)⁺): second order, mass kept at every dt, positive at every
  step — a step whose right-hand side has a negative cell is taken as implicit Euler
  (``euler_steps``); energy control as for implicit.
- The implicit solves (``linear_solver``, :mod:`pdeflow.solvers.fv_linear`): a sparse LU (kept
  while the operator is constant), or GMRES preconditioned by a kept LU where the operator
  changes every step and its factor is expensive (conservative to round-off at every iteration,
  checked to 1e-13; a negative result re-solved by a fresh LU). The counts are run attributes
  (``factorisations``, ``krylov_solves``, ``krylov_iterations``, ``krylov_fallbacks``,
  ``krylov_refactorisations``).

Every scheme is conservative in flux form (mass to round-off) and treats walls as no-flux.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..energy import Entropy, PowerLaw
from ..errors import PdeflowError
from ._fv_kernels import (
    as_3d,
    largest_jumps,
    scharfetter_gummel_apply,
    scharfetter_gummel_stage,
    scharfetter_gummel_weights,
    upwind_apply,
    upwind_stage,
)
from .fv_auto import choose_scheme
from .fv_implicit import LinearlyImplicit
from .fv_reaction import Reaction
from .fv_rkl import RungeKuttaLegendre, rkl2_coverage
from .fv_split import StrangSplit
from .method import Method, Options, max_steps_option, option
from .stepper import BlowUp, StepperBase, default_blowup_density, land

IMPLICIT = {"implicit": 1, "bdf2": 2}  # the linearly implicit schemes, and their order


@dataclass(frozen=True)
class FiniteVolumeOptions(Options):
    """Options of ``method="fv"``."""

    method: ClassVar[str] = "fv"
    scheme: str = option("auto", "time stepping: SSP-RK3 within the CFL limit, RKL2 "
                         "super-time-stepping, Strang split with exact (positive matrix "
                         "exponential) diffusion, linearly implicit Euler (positive at every "
                         "dt), linearly implicit BDF2 (second order; an Euler step where its "
                         "right-hand side is not positive), or auto (chosen from the problem, "
                         "recorded as scheme_choice)", "choice",
                         choices=("explicit", "rkl2", "split", "implicit", "bdf2", "auto"))
    cfl: float = option(0.9, "fraction of the explicit positivity / diffusion step limit",
                        "fraction")
    dt: float | None = option(None, "explicit: an upper bound on the step; implicit, bdf2: the "
                              "step "
                              "(default implicit_factor x the explicit limit at t = 0)",
                              "positive", units="time")
    max_steps: int = max_steps_option()
    blowup_density: float | None = option(None, "blow-up when max density reaches it (default "
                                          "with an interaction: 0.1 M / cell volume)", "threshold",
                                          units="mass/volume")
    stages: int = option(40, "rkl2: the most stages per step (a step covers (s^2+s-2)/4 explicit "
                         "limits)", "count", low=2, high=1000)
    rtol: float | None = option(1e-5, "rkl2: the largest local error per step, L1 relative to "
                                "the mass (estimated as in RKC; the step and its stage count "
                                "follow it); none: steps bounded by the stage count only",
                                "positive")
    implicit_factor: float = option(50.0, "implicit, bdf2: default step, in explicit limits at "
                                    "t = 0", "positive")
    linear_solver: str = option("auto", "implicit, bdf2: sparse LU every step (kept while the "
                                "operator is constant), GMRES preconditioned by a kept LU "
                                "(refactorised when it needs more than krylov_iterations; a "
                                "negative result re-solved by LU), or auto (LU for constant "
                                "operators and cheap factors, else krylov)", "choice",
                                choices=("auto", "direct", "krylov"))
    krylov_iterations: int = option(10, "krylov: the most GMRES iterations of a solve before "
                                    "the operator is factorised afresh", "count", low=1,
                                    high=1000)


def _build(problem, t_end: float, options: FiniteVolumeOptions):
    stepper = FiniteVolume(problem, options)
    stepper.check_reachable(t_end)
    return stepper


def make_stepper(problem, t_end: float, **options):
    """The fv stepper for ``problem`` (options as for :func:`pdeflow.solve`)."""
    return METHOD.stepper(problem, t_end, **options)


class FiniteVolume(StepperBase):
    """Stepper of the finite-volume method (see the module docstring for the schemes; the
    options are :class:`FiniteVolumeOptions`)."""

    method = "fv"
    max_steps_hint = "raise max_steps or use scheme='implicit'"

    def __init__(self, problem, options: FiniteVolumeOptions):
        grid = problem.grid
        self.grid = grid
        self.energy = problem.energy.on(grid)
        self.options = options.to_dict()
        scheme, dt, blowup_density = options.scheme, options.dt, options.blowup_density
        self.scheme, self.cfl, self.max_steps = scheme, float(options.cfl), int(options.max_steps)
        self.dt_cap = float(dt) if dt is not None and scheme not in IMPLICIT else np.inf
        internal = self.energy.internal
        self.entropy_D = internal.D if isinstance(internal, Entropy) and internal.D > 0 else None
        self.power_law = internal if isinstance(internal, PowerLaw) else None
        self.rho = problem.rho0.copy()
        self.mass0 = grid.integrate(self.rho)
        self.rejected = 0
        if blowup_density is None and self.energy.may_concentrate:
            blowup_density = default_blowup_density(self.mass0, grid.cell_volume)
        self.blowup_density = float(blowup_density) if blowup_density is not None else np.inf
        if self.rho.max() >= self.blowup_density:
            raise PdeflowError(
                f"initial max density {self.rho.max():.3g} is already above the blow-up "
                f"threshold {self.blowup_density:.3g}; refine the grid or set blowup_density"
            )
        # work arrays (the SSP-RK3 stages), allocated once
        self.stage1 = np.zeros(grid.shape)
        self.stage2 = np.zeros(grid.shape)
        # Φ = V + W*ρ at the last prepared ρ (without an interaction Φ is V: no array)
        self.phi = np.zeros(grid.shape) if self.energy.has_interaction else None
        self.high_cells = 0  # cells of the last explicit step not below blowup_density
        self.check_peak = False  # whether the last step asks for the blow-up check
        # what the kernels take: per-axis constants, the flux's data at the last ρ
        self.periodic = np.array(grid.periodic, dtype=np.bool_)
        self.dx = grid.dx
        if self.entropy_D is not None:
            D = self.entropy_D
            self.coef = np.array([D / (h * h) for h in self.dx])
            self.weights = np.zeros((grid.ndim, 2) + as_3d(self.rho).shape)
            self.flux_data = None  # the weights, or None where Φ is uniform (B ≡ 1)
            self.static_limit = None  # Φ independent of ρ: weights and step limit computed once
        else:
            self.inv_h = np.array([1.0 / h for h in self.dx])
            self.jumps = np.zeros(grid.ndim)
        self.metric = problem.metric
        self.reaction = Reaction(self, self.metric) if self.metric.reaction else None
        if self.reaction is not None and scheme not in ("explicit", "auto"):
            raise PdeflowError(
                f"{type(self.metric).__name__} runs with scheme='explicit' (a reaction split with "
                f"the explicit transport); the {scheme} step solves Wasserstein flows"
            )
        self.scheme_choice = None
        if scheme == "auto":
            scheme, why = choose_scheme(self)
            self.scheme, self.scheme_choice = scheme, f"{scheme}: {why}"
            self.dt_cap = float(dt) if dt is not None else np.inf
        self.rkl = (RungeKuttaLegendre(self, options.stages, options.rtol) if scheme == "rkl2"
                    else None)
        self.split = StrangSplit(self) if scheme == "split" else None
        if scheme in IMPLICIT:
            self.implicit_dt = (
                float(dt) if dt is not None else options.implicit_factor * self.prepare(self.rho)
            )
            self.implicit = LinearlyImplicit(self, self.implicit_dt, IMPLICIT[scheme],
                                             options.linear_solver, options.krylov_iterations)

    def check_reachable(self, t_end: float) -> None:
        """Refuse, before any stepping, a run whose first time step already implies more than
        ``max_steps`` steps to ``t_end`` (an explicit step far below the problem's time scale)."""
        if not self.metric.transport:
            return  # Fisher–Rao alone: exact per-cell updates, steps set by accuracy only
        if self.scheme in IMPLICIT:
            dt = self.implicit_dt
        elif self.scheme == "split":
            dt = min(self.cfl * self.split.drift_limit(self.rho), self.dt_cap)
        else:
            coverage = rkl2_coverage(self.rkl.max_stages) if self.rkl is not None else 1.0
            dt = min(self.cfl * self.prepare(self.rho) * coverage, self.dt_cap)
        if dt > 0 and t_end / dt > self.max_steps:
            hint = ("raise dt" if self.scheme in IMPLICIT
                    else "use scheme='rkl2', 'split' or 'implicit'")
            raise PdeflowError(
                f"fv would need about {t_end / dt:.3g} steps of dt = {dt:.3g} to reach "
                f"t = {t_end:g}, more than max_steps = {self.max_steps}; {hint}, coarsen the "
                "grid, shorten t_end or raise max_steps"
            )

    # -- the semi-discrete right-hand side ---------------------------------------------------
    def prepare(self, rho: np.ndarray, limit: bool = True) -> float | None:
        """Set up the flux at ρ (SG face weights, or ξ for CCH); return the explicit step limit."""
        if self.entropy_D is not None:
            if self.static_limit is not None:
                return self.static_limit
            phi = self.energy.drift_potential(rho, out=self.phi)
            inv_dt = scharfetter_gummel_weights(
                phi, self.entropy_D, self.coef, self.periodic, self.weights
            )
            self.flux_data = self.weights
            step_limit = 1.0 / inv_dt if inv_dt > 0 else np.inf
            if not self.energy.has_interaction:
                self.static_limit = step_limit
                if _uniform(self.weights, self.periodic):
                    self.flux_data = self.weights = None  # plain diffusion: free the weights
            return step_limit
        phi = self.energy.drift_potential(rho, out=self.phi)
        xi = phi if self.power_law is None else phi + self.power_law.first_variation(rho)
        self.flux_data = xi
        if not limit:
            return None
        pressure = 0.0 if self.power_law is None else self.power_law.diffusivity(rho.max())
        largest_jumps(self.flux_data, self.periodic, self.jumps)
        inv_dt, diffusion = 0.0, 0.0
        for jump, h in zip(self.jumps, self.dx, strict=True):
            speed = jump / h  # max |u| = max |Δξ| / h
            inv_dt += 2.0 * speed / h
            diffusion += 2.0 * pressure / h**2
        inv_dt = max(inv_dt, diffusion)
        return 1.0 / inv_dt if inv_dt > 0 else np.inf

    def rhs(self, rho: np.ndarray, out: np.ndarray) -> float:
        """out = L(ρ) = −div F(ρ); returns the explicit step limit at ρ."""
        step_limit = self.prepare(rho)
        self.apply(rho, out)
        return step_limit

    def apply(self, rho: np.ndarray, out: np.ndarray) -> None:
        """out = L(ρ), the flux as last prepared (at ρ)."""
        if self.entropy_D is not None:
            scharfetter_gummel_apply(rho, self.flux_data, self.coef, self.periodic, out)
        else:
            upwind_apply(rho, self.flux_data, self.inv_h, self.periodic, out)

    def _stage(self, alpha: float, x: np.ndarray, beta: float, y: np.ndarray, dt: float,
               out: np.ndarray, threshold: float = np.inf) -> tuple[int, int]:
        """out = α x + β (y + dt L(y)), the flux prepared at y; returns the number of cells
        below 0 and of cells not below ``threshold``."""
        if self.entropy_D is not None:
            return scharfetter_gummel_stage(y, self.flux_data, self.coef, self.periodic,
                                            alpha, x, beta, dt, threshold, out)
        return upwind_stage(y, self.flux_data, self.inv_h, self.periodic,
                            alpha, x, beta, dt, threshold, out)

    # -- time stepping ----------------------------------------------------------------------
    def step(self, remaining: float) -> float:
        """One step of at most ``remaining`` (explicit, implicit, or split with the reaction)."""
        if self.reaction is not None:
            dt = self._reaction_step(remaining)
            self.check_peak = True
        elif self.scheme == "explicit":
            dt = self.explicit_step(remaining)
            self.check_peak = self.high_cells > 0
        elif self.scheme == "rkl2":
            dt = self.rkl.step(remaining)
            self.check_peak = self.high_cells > 0
        elif self.scheme == "split":
            dt = self.split.step(remaining)
            self.check_peak = True
        else:
            dt = self.implicit.step(remaining)
            self.check_peak = True
        return dt

    def peak_density(self) -> float | None:
        """max ρ after a step; explicit: only when its last stage saw a cell >= blowup_density
        (or NaN)."""
        return self.rho.max() if self.check_peak else None

    def _reaction_step(self, remaining: float) -> float:
        """A Fisher–Rao step (the exact per-cell reaction of :mod:`.fv_reaction`), or with a
        Wasserstein part Strang's R(dt/2) T(dt) R(dt/2); returns the dt taken."""
        reaction = self.reaction
        limit = reaction.step_limit(self.rho)
        if self.metric.transport:
            limit = min(limit, self.cfl * self.prepare(self.rho))
        dt = land(min(limit, self.dt_cap, remaining), remaining)
        if not self.metric.transport:
            reaction.step(dt)
            return dt
        reaction.step(0.5 * dt)
        taken = self.explicit_step(dt)  # dt, unless the state after R asks for less
        reaction.step(taken - 0.5 * dt)  # the reaction covers the same time as the transport
        return taken

    def explicit_step(self, remaining: float) -> float:
        """One SSP-RK3 step (Shu–Osher form), each stage one fused kernel; returns the dt taken.

            s1 = ρ + dt L(ρ),  s2 = ¾ ρ + ¼ (s1 + dt L(s1)),  ρ' = ⅓ ρ + ⅔ (s2 + dt L(s2))
        """
        rho, s1, s2 = self.rho, self.stage1, self.stage2
        dt_limit = self.prepare(rho)
        dt = land(min(self.cfl * dt_limit, self.dt_cap, remaining), remaining)
        while True:
            ok = self._stage(0.0, rho, 1.0, rho, dt, s1)[0] == 0
            if ok:
                self.prepare(s1, limit=False)
                ok = self._stage(0.75, rho, 0.25, s1, dt, s2)[0] == 0
            if ok:
                self.prepare(s2, limit=False)
                negative, self.high_cells = self._stage(1.0 / 3.0, rho, 2.0 / 3.0, s2, dt, s1,
                                                        self.blowup_density)
                ok = negative == 0
            if ok:  # the new state is s1: swap buffers instead of copying
                self.rho, self.stage1 = s1, rho
                return dt
            self.rejected += 1
            dt *= 0.5
            if dt < 1e-14 * max(self.t, 1.0):
                raise BlowUp(self.t, "time step collapsed while keeping the density positive")
            self.prepare(rho)

    def checkpoint(self) -> dict | None:
        """The error controller's state (rkl2 with rtol): the step it proposes next, and its
        statistics; None otherwise (the density alone is the state)."""
        rkl = self.rkl
        if rkl is None or rkl.rtol is None:
            return None
        return {"rkl2_dt_error": rkl.dt_error, "rkl2_error_max": rkl.error_max,
                "rkl2_error_last": rkl.error_last, "rkl2_error_rejected": rkl.error_rejected}

    def restore(self, t: float, fields: dict, checkpoint: dict | None = None) -> None:
        """Continue from a stored snapshot (the density, and the rkl2 error controller's state
        where the snapshot's checkpoint holds it)."""
        self.grid.check_shape(fields["density"], "stored density")
        self.rho[...] = fields["density"]
        self.t = t
        if self.scheme in IMPLICIT:  # BDF2 restarts with an Euler step; a fresh LU
            self.implicit.reset()
        if self.rkl is not None and checkpoint is not None and "rkl2_dt_error" in checkpoint:
            self.rkl.dt_error = float(checkpoint["rkl2_dt_error"])
            self.rkl.error_max = float(checkpoint["rkl2_error_max"])
            self.rkl.error_last = float(checkpoint["rkl2_error_last"])
            self.rkl.error_rejected = int(checkpoint["rkl2_error_rejected"])

    # -- output -------------------------------------------------------------------------------
    def fields(self) -> dict:
        return {"density": self.rho}

    def diagnostics(self) -> dict:
        out = self.energy.diagnostics(self.rho)
        if self.reaction is not None:
            out["reaction_dissipation"] = self.reaction.dissipation(self.rho)
        return out

    def summary(self) -> dict:
        if self.scheme in IMPLICIT:
            return self.implicit.summary()
        if self.scheme == "split":
            time_scheme = self.split.time_scheme
            spatial = self.split.spatial_scheme
            rejected = self.split.rejected
        else:
            time_scheme = "SSP-RK3 (third order; positive within the CFL limit)"
            spatial = ("scharfetter-gummel (second order)" if self.entropy_D is not None
                       else "carrillo-chertock-huang, minmod (second order)")
            rejected = self.rejected
        out = {"rejected_steps": int(rejected), "time_scheme": time_scheme,
               "spatial_scheme": spatial}
        if self.rkl is not None:
            out.update(time_scheme=self.rkl.time_scheme, stages=int(self.rkl.stages),
                       rejected_steps=int(self.rkl.rejected + self.rejected))
            if self.rkl.rtol is not None:
                out.update(rtol=float(self.rkl.rtol), error_estimate_max=self.rkl.error_max,
                           error_estimate_last=self.rkl.error_last,
                           error_rejected_steps=int(self.rkl.error_rejected))
        if self.scheme_choice is not None:
            out["scheme_choice"] = self.scheme_choice
        return out


METHOD = Method(
    name="fv", options=FiniteVolumeOptions, build=_build, reaction=True,
    summary="finite volumes on a pf.Grid: Scharfetter-Gummel / Carrillo-Chertock-Huang fluxes, "
            "SSP-RK3 or linearly implicit Euler; positive and conservative",
)


def _uniform(weights: np.ndarray, periodic: np.ndarray) -> bool:
    """Whether every face weight B(±δ) is exactly 1 (Φ uniform): the flux is then plain diffusion."""
    d = len(periodic)
    for k in range(d):
        faces = weights[k]
        if not periodic[k]:  # the wall face (the last index) carries 0
            axis = 1 + 3 - d + k
            faces = np.delete(faces, -1, axis=axis)
        if not np.all(faces == 1.0):
            return False
    return True

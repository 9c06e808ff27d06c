"""Phase-space finite volumes (``method="kinetic"``) for Kramers' equation on a (θ, v) grid,

    ∂t f = −∂θ(v f) − ∂v(−V'(θ) f) + ∂v(γ v f + γT ∂v f).

Why it is built this way:

- The Hamiltonian part (transport in θ at velocity v, in v under the force −V') is upwind on a
  reconstructed edge value, minmod-limited (``order=2``, the default: second order where f is
  smooth, first order at its extrema) or piecewise constant (``order=1``). Each velocity is
  constant along its own direction, so the flux is exactly conservative and, within the CFL
  limit, positive.
- Friction and noise act in v alone and are a Fokker–Planck operator with potential γv²/2 and
  diffusivity γT: the Scharfetter–Gummel flux (the same weight as ``fv``'s), which is zero on
  the discrete Maxwellian ``e^{−v²/2T}``, so the velocity relaxation does not bias the
  Maxwell–Boltzmann state. At T = 0 (heavy ball) SG would be first-order upwind friction, so
  the friction −γv joins the force in the limited transport instead.
- SSP-RK3 (Shu–Osher): each stage a convex combination of forward-Euler steps, so positivity
  holds at ``dt ≤ cfl / (2 max|v|/h_θ + 2 max|V' + γv|/h_v + max_j (w⁺_j + w⁻_{j−1})/h_v²)``. A stage
  that turns negative (it cannot within the limit) is rejected and the step halved.

Mass is conserved to round-off (flux form, no-flux walls); the free energy
``∫ f(v²/2 + V) + T f log f`` is recorded as ``energy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import PdeflowError
from ._kinetic_kernels import kinetic_stage
from .drift_diffusion import drift_diffusion_weight
from .method import Method, Options, max_steps_option, option
from .stepper import BlowUp, StepperBase, land


@dataclass(frozen=True)
class KineticOptions(Options):
    """Options of ``method="kinetic"``."""

    method: ClassVar[str] = "kinetic"
    order: int = option(2, "reconstruction of the transport fluxes: 1 upwind, 2 minmod-limited",
                        "count", low=1, high=2)
    cfl: float = option(0.9, "fraction of the forward-Euler positivity step limit", "fraction")
    dt: float | None = option(None, "an upper bound on the step", "positive", units="time")
    max_steps: int = max_steps_option()


class KineticFiniteVolume(StepperBase):
    """The state and step of one phase-space run (module docstring)."""

    method = "kinetic"
    max_steps_hint = "raise max_steps or coarsen the grid"

    def __init__(self, problem, options: KineticOptions):
        grid = problem.grid
        self.grid = grid
        self.order = int(options.order)
        self.cfl = options.cfl
        self.dt_cap = options.dt if options.dt is not None else np.inf
        self.max_steps = options.max_steps
        self.theta, self.v = grid.axes
        self.h_theta, self.h_v = grid.dx
        self.periodic = bool(grid.periodic[0])
        self.f = np.array(problem.rho0, dtype=float)
        self.field = problem.force  # −∂θξ[ρ]: fixed (Kramers), or recomputed per stage (network)
        self.force = self._force(self.f)
        self.gamma, self.T = problem.gamma, problem.T
        dpsi = 0.5 * self.gamma * np.diff(self.v**2)
        if self.T > 0:  # friction and noise: SG, exact on the discrete Maxwellian
            D = np.full_like(dpsi, self.gamma * self.T)
            self.w_plus = drift_diffusion_weight(D, dpsi)
            self.w_minus = drift_diffusion_weight(D, -dpsi)
            self.friction = np.zeros_like(dpsi)
        else:  # friction alone: limited transport at −γv on the faces (SG would be upwind)
            self.w_plus = self.w_minus = np.zeros_like(dpsi)
            self.friction = -self.gamma * 0.5 * (self.v[1:] + self.v[:-1])
        outflow = np.zeros_like(self.v)  # per v cell: what SG takes out of it, per unit f
        outflow[:-1] += self.w_plus
        outflow[1:] += self.w_minus
        self.fixed_rate = 2 * np.abs(self.v).max() / self.h_theta + outflow.max() / self.h_v**2
        self.kinetic = 0.5 * self.v**2
        self.stage1, self.stage2 = np.empty_like(self.f), np.empty_like(self.f)
        self.rejected = 0

    def _force(self, f: np.ndarray) -> np.ndarray:
        """−∂θξ[ρ] at the θ cell centres, ρ = ∫ f dv."""
        return np.ascontiguousarray(self.field.on_grid(self.theta, f.sum(axis=1) * self.h_v),
                                    dtype=float)

    def dt_limit(self) -> float:
        """The forward-Euler positivity limit at the current force (module docstring)."""
        speed_v = np.abs(self.force).max() + np.abs(self.friction).max()
        return 1.0 / (self.fixed_rate + 2 * speed_v / self.h_v)

    def _stage(self, alpha, x, beta, y, dt, out) -> bool:
        if self.field.interacting:
            self.force = self._force(y)
        return kinetic_stage(alpha, x, beta, y, dt, self.v, self.force, self.friction, self.w_plus,
                             self.w_minus, self.h_theta, self.h_v, self.periodic, self.order,
                             out) == 0

    def step(self, remaining: float) -> float:
        """SSP-RK3: s1 = f + dt L f, s2 = ¾ f + ¼ (s1 + dt L s1), f' = ⅓ f + ⅔ (s2 + dt L s2)."""
        f, s1, s2 = self.f, self.stage1, self.stage2
        if self.field.interacting:
            self.force = self._force(f)
        dt = land(min(self.cfl * self.dt_limit(), self.dt_cap, remaining), remaining)
        while not (self._stage(0.0, f, 1.0, f, dt, s1)
                   and self._stage(0.75, f, 0.25, s1, dt, s2)
                   and self._stage(1.0 / 3.0, f, 2.0 / 3.0, s2, dt, s1)):
            self.rejected += 1
            dt *= 0.5
            if dt < 1e-14 * max(self.t, 1.0):
                raise BlowUp(self.t, "time step collapsed while keeping the density positive")
        self.f, self.stage1 = s1, f
        return dt

    def peak_density(self) -> float:
        return float(self.f.max())

    def restore(self, t: float, fields: dict, checkpoint: dict | None = None) -> None:
        """Continue from a stored snapshot (the state is the phase-space density alone)."""
        self.grid.check_shape(fields["density"], "stored density")
        self.f[...] = fields["density"]
        self.t = t

    def fields(self) -> dict:
        return {"density": self.f}

    def diagnostics(self) -> dict:
        rho = self.f.sum(axis=1) * self.h_v
        potential = self.field.energy_on_grid(self.theta, rho, self.h_theta)
        return free_energy_diagnostics(self.f, self.kinetic, potential, self.T,
                                       self.grid.cell_volume)

    def summary(self) -> dict:
        spatial = ("upwind (first order)" if self.order == 1 else
                   "minmod-limited upwind transport (second order)")
        return {"rejected_steps": int(self.rejected),
                "time_scheme": "SSP-RK3 (third order; positive within the CFL limit)",
                "spatial_scheme": f"{spatial}, Scharfetter-Gummel friction and noise in v"}


def free_energy_diagnostics(f: np.ndarray, kinetic: np.ndarray, potential: float, T: float,
                            cell: float) -> dict:
    """Mass and the free energy ``∫ f |v|²/2 + potential + T ∫ f log f`` (``0 log 0 = 0``) of a
    grid density; ``kinetic`` is |v|²/2 on the v axis, ``potential`` ∫ V ρ (or the risk)."""
    positive = f > 0
    entropy = float(np.sum(f[positive] * np.log(f[positive]))) * cell
    return {"mass": float(np.sum(f)) * cell,
            "energy": float(np.sum(f * kinetic)) * cell + potential + T * entropy}


def requires(problem) -> str | None:
    """A kinetic problem on a 2-axis phase-space grid (the kinetic flag itself is checked by
    :func:`pdeflow.solvers.unsupported`)."""
    if problem.grid is None:
        return ("method='kinetic' needs a phase-space grid (θ, v); a problem without a grid "
                "runs with method='kinetic_particles'")
    return None


def _build(problem, t_end: float, options: KineticOptions):
    stepper = KineticFiniteVolume(problem, options)
    dt = min(stepper.cfl * stepper.dt_limit(), stepper.dt_cap)
    if t_end / dt > stepper.max_steps:
        raise PdeflowError(
            f"t_end={t_end:.4g} needs more than max_steps={stepper.max_steps} steps of "
            f"{dt:.3g}; raise max_steps or coarsen the grid"
        )
    return stepper


METHOD = Method(
    name="kinetic", options=KineticOptions, build=_build, kinetic=True, requires=requires,
    summary="phase-space finite volumes for Kramers' equation: limited upwind transport, "
            "Scharfetter-Gummel friction and noise in v, SSP-RK3; positive and conservative",
)

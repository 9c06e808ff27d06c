"""Finite elements (``method="fem"``): P1 on triangle meshes for ``∂t ρ = ∇·(ρ ∇ξ)``,
ξ = U'(ρ) + V + W*ρ, with no-flux (natural) boundary conditions.

Every scheme is written ``M ẋ = −G x`` with a *diagonal* (lumped) mass M, a state x on the
nodes and the density ``ρ_i = ω_i x_i``, and stepped by the θ-scheme

    (M + θ Δt G) xⁿ⁺¹ = (M − (1 − θ) Δt G) xⁿ,      θ = 1 implicit Euler, θ = ½ Crank–Nicolson.

Every G has zero column sums (``1ᵀG = 0``: test with v = 1), so the mass ``Σ_i m_i ρ_i =
1ᵀ M x`` — exactly :meth:`Mesh.integrate` — is conserved to round-off for every Δt and θ.
Why lumped: the diagonal M makes ``M + Δt G`` an M-matrix whenever G's off-diagonals are ≤ 0,
so implicit Euler keeps ρ ≥ 0 (the consistent mass matrix has positive off-diagonals and
breaks this for small Δt); lumping keeps P1's O(h²) accuracy in L².

``form="symmetrised"`` (default for heat and Fokker–Planck, U = D ρ log ρ, no interaction).
With ω = e^{−(V − min V)/D} and ρ = ω u, ``∂t ρ = ∇·(D∇ρ + ρ∇V) = ∇·(D ω ∇u)``, whose weak form

    ∫ ω ∂t u v + D ∫ ω ∇u·∇v = 0      for every v

is symmetric: ``M = diag(m_i ω_i)``, ``G_ij = D ∫ ω_h ∇φ_j·∇φ_i`` (ω_h = e^{−(V_h − min V)/D}
at the quadrature points, V_h the P1 interpolant). The Gibbs state ρ ∝ e^{−V/D} (u constant)
is exactly stationary, and G is symmetric positive semi-definite: the θ-scheme is
unconditionally stable for θ ≥ ½. ρ ≥ 0 holds for θ = 1 on non-obtuse meshes (every built-in
mesh). Needs D > 0 and a moderate range (max V − min V)/D (ω must not underflow).

``form="drift"`` (the only form for the porous medium, Keller–Segel and any interaction). The
unknown is ρ itself; G is the edge (exponentially fitted, Scharfetter–Gummel) operator of
:func:`~pdeflow.solvers._fem_forms.drift_diffusion_operator` with the P1 cotangent weights:

    (G ρ)_i = Σ_j w_ij D_ij [B(δ_ij) ρ_i − B(−δ_ij) ρ_j],   δ_ij = (Φ_j − Φ_i)/D_ij,

Φ = V + W*ρ and D_ij the edge diffusivity. It reduces to the P1 stiffness for Φ constant,
keeps the discrete Gibbs state stationary, and is upwind where D_ij = 0. Negative cotangent
weights (non-Delaunay edges) are set to zero — discrete upwinding, which adds diffusion on
those edges only — so ``M + Δt G`` is an M-matrix: for θ = 1, ρⁿ⁺¹ ≥ 0 for every Δt.

- Porous medium, U = D ρ^m/(m − 1): semi-implicit, lagged diffusivity
  ``D_ij = ½ (P'(ρⁿ_i) + P'(ρⁿ_j))``, P'(ρ) = D m ρ^{m−1}, with the lumped mass: one linear
  M-matrix solve per step, ρ ≥ 0 and mass exact (first order in time).
- Interactions (Keller–Segel W = −χG): Φⁿ = V + W*ρⁿ is lagged (semi-implicit drift), with
  ``G * ρ`` from a Neumann Poisson solve on the mesh each step, ``−Δc = ρ − ρ̄``, ``∫c = 0``
  (:class:`~pdeflow.solvers._fem_forms.NeumannPoisson`, factorised once).

When G does not change (heat, Fokker–Planck) its factorisation is reused across steps; the
steps between two snapshots are all equal, so one factorisation serves the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..domain import is_mesh
from ..energy import TINY, Entropy, PowerLaw, log_mean
from ..errors import PdeflowError
from ..mesh import Mesh
from ._fem_forms import (
    ConstrainedSolve,
    MeshInteraction,
    at_quadrature_points,
    drift_diffusion_operator,
    edge_weights,
    stiffness,
)
from .method import Method, Options, low_rank_refusal, max_steps_option, option
from .stepper import LANDING, StepperBase, default_blowup_density

FORMS = ("symmetrised", "drift")


@dataclass(frozen=True)
class FiniteElementOptions(Options):
    """Options of ``method="fem"`` (see :class:`FiniteElement`)."""

    method: ClassVar[str] = "fem"
    dt: float | None = option(None, "time step (default 10 x the forward-Euler positivity limit "
                              "at t = 0, at most t_end / 20)", "positive", units="time")
    theta: float = option(1.0, "theta-scheme", "interval", low=0.5, high=1.0,
                          hint=" (1 implicit Euler, 0.5 Crank–Nicolson)")
    form: str | None = option(None, "symmetrised (default for heat and Fokker-Planck) or drift",
                              "choice", choices=FORMS)
    dirichlet: object = option(None, "density imposed on the boundary nodes (number or "
                               "function of x, y); default: no flux", "any")
    blowup_density: float | None = option(None, "blow-up when max density reaches it (default "
                                          "with an interaction: 0.1 M / min_i m_i)", "threshold",
                                          units="mass/volume")
    max_steps: int = max_steps_option()


def unsupported(problem) -> str | None:
    """Why the finite elements cannot solve ``problem`` (None: they can)."""
    if (why := low_rank_refusal(problem, "fem")) is not None:
        return why
    if not is_mesh(problem.grid):
        return (f"method='fem' needs a problem on a pf.Mesh, got {type(problem.grid).__name__}; "
                "build it on e.g. pf.Mesh.rectangle(bounds, refine) or pf.Mesh.disk(radius, refine) "
                "(presets and TOML specs are on grids)")
    return None


def _build(problem, t_end: float, options: FiniteElementOptions):
    why = unsupported(problem)
    if why is not None:
        raise PdeflowError(why)
    return FiniteElement(problem, t_end, options)


def make_stepper(problem, t_end: float, **options):
    """The finite-element stepper for ``problem`` (options as for :func:`pdeflow.solve`)."""
    return METHOD.stepper(problem, t_end, **options)


class FiniteElement(StepperBase):
    """Stepper of the P1 finite-element method (the schemes are in the module docstring).

    Options
    -------
    dt : float, optional
        Time step (the last steps before a snapshot are shortened equally to land on it).
        Default: ten times the forward-Euler positivity limit ``min_i M_ii / G_ii`` at t = 0,
        at most t_end / 20.
    theta : float in [0.5, 1]
        1 implicit Euler (positive), 0.5 Crank–Nicolson (second order for linear problems).
    form : "symmetrised" | "drift"
        Default "symmetrised" for U = D ρ log ρ without interactions, else "drift".
    dirichlet : float or callable(x, y), optional
        Density imposed on every boundary node from t = 0 on (it replaces ρ0 there). Default
        None: no flux through the boundary. With Dirichlet data the mass is not conserved.
    blowup_density : float, optional
        Blow-up when max ρ exceeds it; default with an interaction 0.1·M / min_i m_i.
    max_steps : int

    Examples
    --------
    >>> import pdeflow as pf
    >>> from pdeflow.mesh import Mesh
    >>> mesh = Mesh.disk(radius=1.0, refine=3)
    >>> rho0 = pf.gaussian(mesh, mean=(0.3, 0.0), cov=0.05)
    >>> p = pf.problems.fokker_planck(mesh, rho0, V=lambda x, y: x**2 + y**2, D=1.0)
    >>> traj = pf.solve(p, t_end=1.0, method="fem", dt=0.01, progress=False)
    >>> bool(abs(traj.mass[-1] - traj.mass[0]) < 1e-12), bool(traj.density().min() >= 0)
    (True, True)
    """

    method = "fem"
    max_steps_hint = "raise max_steps or dt"

    def __init__(self, problem, t_end: float, options: FiniteElementOptions):
        dt, theta, form, dirichlet = options.dt, options.theta, options.form, options.dirichlet
        blowup_density, max_steps = options.blowup_density, options.max_steps
        mesh: Mesh = problem.grid
        self.mesh = mesh
        energy = problem.energy
        self.internal = energy.internal
        self.V = np.zeros(mesh.shape)
        for term in energy.potentials:
            self.V = self.V + term.on_grid(mesh)
        self.K = stiffness(mesh)
        self.interactions = [MeshInteraction(mesh, t, self.K) for t in energy.interactions]
        entropy = isinstance(self.internal, Entropy) and self.internal.D > 0
        linear = not self.interactions and not isinstance(self.internal, PowerLaw)
        if form is None:
            form = "symmetrised" if entropy and linear else "drift"
        if form == "symmetrised" and not (entropy and linear):
            raise PdeflowError(
                "form='symmetrised' needs U = D ρ log ρ with D > 0 and no interaction "
                "(heat, Fokker–Planck); use form='drift'"
            )
        self.form, self.theta, self.max_steps = form, float(theta), int(max_steps)
        self.constant = linear  # G independent of ρ: factorisations are reused
        self.options = {"dt": dt, "theta": theta, "form": form, "dirichlet": dirichlet,
                        "blowup_density": blowup_density, "max_steps": max_steps}

        w = edge_weights(mesh, self.K)
        self.w = np.maximum(w, 0.0)
        self.clipped_edges = int(np.sum(w < -1e-12 * np.abs(w).max()))
        if form == "symmetrised":
            D = self.internal.D
            self.omega = np.exp(-(self.V - self.V.min()) / D)
            if self.omega.min() < 1e-250:
                raise PdeflowError(
                    f"form='symmetrised' needs e^(-(V - min V)/D) representable; (max V - min V)/D "
                    f"= {np.ptp(self.V) / D:.3g} is too large, use form='drift'"
                )
            weight = np.exp(-(at_quadrature_points(mesh, self.V) - self.V.min()) / D)
            self._G = D * stiffness(mesh, weight).tocsc()
        else:
            self.omega = np.ones(mesh.shape)
            self._G = None
        self.M = mesh.lumped_mass * self.omega
        self.x = problem.rho0 / self.omega

        self.fixed, self.g = None, None
        if dirichlet is not None:
            self.fixed = mesh.boundary_nodes
            values = mesh.evaluate(dirichlet, "dirichlet value")[self.fixed]
            if np.any(values < 0):
                raise PdeflowError(f"dirichlet density must be >= 0, min {values.min():.3g}")
            self.g = values / self.omega[self.fixed]
            self.x[self.fixed] = self.g

        self.mass0 = mesh.integrate(problem.rho0)
        self._solvers: dict[float, ConstrainedSolve] = {}
        G0 = self.operator(self.x)
        limit = float(np.min(self.M / np.maximum(G0.diagonal(), 1e-300)))
        self.dt = float(dt) if dt is not None else min(10.0 * limit, t_end / 20.0)
        self.step_dt = self.dt  # the equal steps to the next snapshot time
        if blowup_density is None and self.interactions:
            blowup_density = default_blowup_density(self.mass0, mesh.lumped_mass.min())
        self.blowup_density = float(blowup_density) if blowup_density is not None else np.inf
        if problem.rho0.max() >= self.blowup_density:
            raise PdeflowError(
                f"initial max density {problem.rho0.max():.3g} is already above the blow-up "
                f"threshold {self.blowup_density:.3g}; refine the mesh or set blowup_density"
            )

    # -- the spatial operator -----------------------------------------------------------------
    @property
    def density(self) -> np.ndarray:
        """``ρ_i = ω_i x_i``."""
        return self.omega * self.x

    def drift_potential(self, rho: np.ndarray) -> np.ndarray:
        """``Φ = V + W*ρ``."""
        return self.V + sum((inter(rho) for inter in self.interactions), np.zeros(self.mesh.shape))

    def edge_diffusivity(self, rho: np.ndarray) -> np.ndarray:
        """``D_ij``: D (entropy), ½(P'(ρ_i) + P'(ρ_j)) (power law, lagged), 0 (no U)."""
        n_edges = len(self.mesh.edges)
        if self.internal is None:
            return np.zeros(n_edges)
        p = self.internal.diffusivity(np.maximum(rho, 0.0))
        i, j = self.mesh.edges.T
        return 0.5 * (p[i] + p[j])

    def operator(self, x: np.ndarray) -> sp.csc_matrix:
        """G at the state x (``M ẋ = −G x``)."""
        if self._G is not None:
            return self._G
        rho = self.omega * x
        G = drift_diffusion_operator(
            self.mesh, self.w, self.edge_diffusivity(rho), self.drift_potential(rho)
        )
        if self.constant:
            self._G = G
        return G

    # -- time stepping ------------------------------------------------------------------------
    def begin(self, t_target: float) -> None:
        """Equal steps of at most ``dt`` to ``t_target`` (one factorisation serves them all)."""
        remaining = t_target - self.t
        n = max(1, math.ceil(remaining / self.dt * (1 - LANDING)))
        self.step_dt = remaining / n

    def step(self, remaining: float) -> float:
        self.theta_step(self.step_dt)
        return self.step_dt

    def peak_density(self) -> float:
        return float(np.max(self.x * self.omega))

    def theta_step(self, dt: float) -> None:
        """One θ-step ``(M + θΔt G) xⁿ⁺¹ = (M − (1−θ)Δt G) xⁿ``."""
        G = self.operator(self.x)
        rhs = self.M * self.x
        if self.theta < 1.0:
            rhs = rhs - (1.0 - self.theta) * dt * (G @ self.x)
        self.x = self._solver(G, dt)(rhs, self.g)

    def _solver(self, G: sp.csc_matrix, dt: float) -> ConstrainedSolve:
        if self.constant:
            for key, solver in self._solvers.items():
                if abs(key - dt) <= 1e-12 * dt:
                    return solver
        A = (sp.diags(self.M) + self.theta * dt * G).tocsc()
        solver = ConstrainedSolve(A, self.fixed)
        if self.constant:
            if len(self._solvers) >= 8:
                self._solvers.clear()
            self._solvers[dt] = solver
        return solver

    # -- output -------------------------------------------------------------------------------
    def fields(self) -> dict:
        return {"density": self.density}

    def energy_terms(self, rho: np.ndarray):
        """Energy density per node and ξ (lumped quadrature: E = Σ_i m_i e_i)."""
        interaction = self.drift_potential(rho) - self.V
        density = self.V * rho + 0.5 * rho * interaction
        xi = self.V + interaction
        if self.internal is not None:
            density = density + self.internal.density(rho)
            xi = xi + self.internal.first_variation(np.maximum(rho, TINY))
        return density, xi

    def diagnostics(self) -> dict:
        """Mass ``Σ m_i ρ_i``, energy ``Σ m_i [U(ρ_i) + V_i ρ_i + ½ ρ_i (W*ρ)_i]``, the
        dissipation ``Σ_edges w_ij ρ_ij (ξ_j − ξ_i)²`` (ρ_ij the logarithmic mean for the
        entropy, else the arithmetic mean; ≈ ∫ ρ|∇ξ|²), the second moment and min/max ρ."""
        mesh, rho = self.mesh, self.density
        density, xi = self.energy_terms(rho)
        i, j = mesh.edges.T
        if isinstance(self.internal, Entropy):
            face = log_mean(rho[i], rho[j])
        else:
            face = 0.5 * (rho[i] + rho[j])
        x, y = mesh.coords()
        return {
            "mass": mesh.integrate(rho),
            "energy": mesh.integrate(density),
            "dissipation": float(np.sum(self.w * face * (xi[j] - xi[i]) ** 2)),
            "second_moment": mesh.integrate((x**2 + y**2) * rho),
            "min_density": float(rho.min()),
            "max_density": float(rho.max()),
        }

    def summary(self) -> dict:
        return {
            "h": self.mesh.h,
            "n_nodes": self.mesh.size,
            "clipped_edges": self.clipped_edges,
        }


METHOD = Method(
    name="fem", options=FiniteElementOptions, build=_build, requires=unsupported,
    summary="P1 finite elements on a pf.Mesh (scikit-fem): lumped mass, theta-scheme, "
            "exponentially fitted drift; positive for theta = 1",
)

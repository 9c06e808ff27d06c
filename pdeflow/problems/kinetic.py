"""Kinetic Fokker–Planck (Kramers) equation: a density f(θ, v) on phase space.

    ∂t f + v·∇θ f − ∇θV(θ)·∇v f = γ ∇v·(v f) + γT Δv f

is the law of underdamped Langevin dynamics dθ = v dt, dv = −∇V dt − γ v dt + √(2γT) dW, and at
T = 0 of heavy-ball momentum. It is not a Wasserstein gradient flow of ρ: transport in θ at
velocity v, a force in v and a Fokker–Planck operator in v; but it dissipates the free energy

    F[f] = ∫ f (|v|²/2 + V) + T f log f,

whose minimiser is the Maxwell–Boltzmann density ``∝ exp(−(|v|²/2 + V)/T)``. Grid runs live on a
phase-space :class:`~pdeflow.Grid` with axes (θ, v) (θ ∈ R: a 2D grid) or (θ1, θ2, v1, v2)
(θ ∈ R²: a 4D grid), named so in storage (:data:`AXES`); particle runs carry positions (θ, v)
of any dimension (``grid=None``). Every run records the position density ρ = ∫ f dv (observable
``rho`` on the θ axes of the grid) and the phase-space moments.

For V = ω²|θ|²/2 (:func:`kramers_harmonic`) Gaussians stay Gaussian: with Z = (θ, v),

    μ' = A μ,   Σ' = AΣ + ΣAᵀ + diag(0, 2γT I),   A = [[0, I], [−ω² I, −γ I]],

solved exactly here by the matrix exponential and the Lyapunov equation.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm, solve_continuous_lyapunov

from ..energy import FreeEnergy, Potential
from ..errors import PdeflowError
from ..grid import Grid
from .base import Problem
from .gaussians import gaussian_moments, gaussian_on_grid

AXES = {1: ("theta", "v"), 2: ("theta1", "theta2", "v1", "v2")}
"""Names of the phase-space axes of a grid run, by the dimension of θ (also the names of the
coordinates in the moment diagnostics: ``mean_theta``, ``cov_theta_v``, ...)."""


def kinetic_fokker_planck(grid: Grid | None, f0, V, gamma: float = 1.0, T: float = 1.0,
                          grad_V=None, particles0=None) -> Problem:
    """Kramers' equation for ``f(θ, v)`` in the potential ``V(θ)`` (see the module docstring).

    Parameters
    ----------
    grid : Grid or None
        Phase space: 2 axes (θ, v) or 4 axes (θ1, θ2, v1, v2); θ may be periodic, v has walls.
        None: particles only (then ``particles0`` gives the (θ, v) of the particles, or a
        sampler ``(n, rng) -> (n, 2d)``).
    f0 : array of grid.shape or None
        Initial phase-space density.
    V, grad_V : callables of θ (one array per θ component: ``V(theta)`` or ``V(theta1, theta2)``)
        The potential and its gradient (a tuple of arrays; default: centred differences of V).
    gamma, T : float
        Friction γ > 0 (or 0: no friction) and temperature T >= 0 (0: heavy ball, no noise).

    Examples
    --------
    >>> import pdeflow as pf
    >>> grid = pf.Grid([(-5.0, 5.0), (-5.0, 5.0)], 40)
    >>> f0 = pf.gaussian(grid, (1.0, 0.0), 0.3)
    >>> p = pf.problems.kinetic_fokker_planck(grid, f0, lambda x: 0.5 * x**2, gamma=1.0, T=0.5)
    >>> traj = pf.solve(p, 0.5, method="kinetic", snapshots=2, progress=False)
    >>> bool(abs(traj.mass[-1] - 1.0) < 1e-13), bool(traj.energy[-1] < traj.energy[0])
    (True, True)
    """
    if grad_V is None:
        grad_V = _centred_gradient(V)
    return kinetic_problem("kinetic_fokker_planck", grid, f0, PotentialForce(V, grad_V), gamma, T,
                           FreeEnergy(Potential(V, gradient=grad_V)), particles0=particles0)


def kinetic_problem(name: str, grid: Grid | None, f0, force, gamma: float, T: float,
                    energy: FreeEnergy, particles0=None, parameters=None, axes=None,
                    coordinates=None) -> Problem:
    """A kinetic :class:`Problem` driven by ``force`` (:class:`PotentialForce` or any object with
    its methods), with the phase-space observables. The equation families call it. ``axes``:
    names of the grid's 2d axes (default :data:`AXES`); ``coordinates``: names of the 2d
    phase-space coordinates in the moment diagnostics (default: ``axes``, or
    :func:`coordinate_names` without a grid)."""
    gamma, T = float(gamma), float(T)
    if not (np.isfinite(gamma) and gamma >= 0):
        raise PdeflowError(f"gamma (friction) must be >= 0, got {gamma}")
    if not (np.isfinite(T) and T >= 0):
        raise PdeflowError(f"T (temperature) must be >= 0, got {T}")
    if grid is not None:
        if grid.ndim not in (2, 4):
            raise PdeflowError(f"a phase-space grid has axes (θ, v) or (θ1, θ2, v1, v2): 2 or 4 "
                               f"axes, got {grid.ndim}; θ of 3 or more dimensions runs with "
                               "particles (grid=None)")
        d = grid.ndim // 2
        if any(grid.periodic[d:]):
            raise PdeflowError("the velocity axes of a phase-space grid cannot be periodic; "
                               f"pass periodic={(True,) * d + (False,) * d} for a periodic θ")
        if f0 is None:
            raise PdeflowError("a phase-space grid needs f0=, the initial density on it")
    axes = axes or (AXES[grid.ndim // 2] if grid is not None else None)
    problem = Problem(
        name, grid, f0, energy, particles0=particles0, kinetic=True,
        parameters={"gamma": gamma, "T": T, "axes": list(axes) if grid is not None else None,
                    **(parameters or {})},
    )
    problem.gamma, problem.T, problem.force = gamma, T, force
    problem.axis_names = axes if grid is not None else None
    if grid is not None:  # ρ = ∫ f dv lies along the θ axes
        problem.field_axes = {"rho": tuple(axes[:grid.ndim // 2])}
    problem.coordinates = coordinates or (axes if grid is not None else None)
    problem.observe = _observer(problem)
    return problem


class PotentialForce:
    """The force −∇V(θ) of a fixed potential, on the θ axes of a grid and at particles.

    The kinetic methods ask a problem's ``force`` for: ``interacting`` (whether the force
    depends on ρ), ``on_grid(theta, rho)`` (−∇θξ, an array (d, *rho.shape), at the cell centres
    ``theta``, a tuple of the d θ axes, given ρ = ∫ f dv there, a cell-average array),
    ``at(Theta, w)`` (−∇θξ at particles (N, d) of weights w) and the potential part of the free
    energy, ``energy_on_grid(theta, rho, h)`` (h the θ cell volume) and ``energy_at(Theta, w)``.
    """

    interacting = False

    def __init__(self, V, grad_V):
        self.V, self.grad_V = V, grad_V

    def on_grid(self, theta, rho):
        coords = np.meshgrid(*theta, indexing="ij", sparse=True)
        return -np.stack(np.broadcast_arrays(*self.grad_V(*coords), rho))[:-1].astype(float)

    def at(self, Theta, w):
        return -np.stack(np.broadcast_arrays(*self.grad_V(*Theta.T)), axis=1)

    def energy_on_grid(self, theta, rho, h):
        return float(np.sum(self.V(*np.meshgrid(*theta, indexing="ij", sparse=True)) * rho) * h)

    def energy_at(self, Theta, w):
        return float(w @ np.asarray(self.V(*Theta.T)))


def kramers_harmonic(grid: Grid | None, omega: float = 1.0, gamma: float = 1.0, T: float = 1.0,
                     mean=(1.0, 0.0), cov=0.25, dim: int = 1, mass: float = 1.0) -> Problem:
    """Kramers' equation for ``V = ω²|θ|²/2`` from ``mass`` N(mean, cov) on phase space.

    ``problem.exact_moments(t) -> (μ, Σ)`` (size 2d) and, on a grid, ``problem.exact(t)``: the
    Gaussian with those moments. ``dim`` is the dimension of θ (on a grid: half its axes, 1 or
    2; any with particles).
    """
    omega = float(omega)
    d = grid.ndim // 2 if grid is not None else int(dim)
    mu0 = np.broadcast_to(np.asarray(mean, dtype=float), (2 * d,)).copy()
    cov0 = gaussian_moments(2 * d, cov)

    def V(*theta):
        return 0.5 * omega**2 * sum(t**2 for t in theta)

    def grad_V(*theta):
        return tuple(omega**2 * t for t in theta)

    def sample(n, rng):
        return rng.multivariate_normal(mu0, cov0, size=n)

    f0 = gaussian_on_grid(grid, mu0, cov0, mass) if grid is not None else None
    problem = kinetic_fokker_planck(grid, f0, V, gamma, T, grad_V=grad_V,
                                    particles0=sample if grid is None else None)
    problem.name = "kramers_harmonic"
    problem.dim = d
    problem.parameters.update({"omega": omega, "mean": mu0.tolist(), "cov": cov0.tolist(),
                               "dim": d})
    drift, noise = harmonic_generator(d, omega, problem.gamma, problem.T)

    def moments(t: float):
        return gaussian_moments_at(drift, noise, mu0, cov0, t)

    problem.exact_moments = moments
    if grid is not None:
        problem.exact = lambda t: gaussian_on_grid(grid, *moments(t), mass)
    return problem


def harmonic_generator(d: int, omega: float, gamma: float, T: float):
    """``A = [[0, I], [−ω² I, −γ I]]`` and the noise covariance ``Q = diag(0, 2γT I)``."""
    eye, zero = np.eye(d), np.zeros((d, d))
    A = np.block([[zero, eye], [-omega**2 * eye, -gamma * eye]])
    Q = np.block([[zero, zero], [zero, 2.0 * gamma * T * eye]])
    return A, Q


def gaussian_moments_at(A, Q, mu0, cov0, t: float):
    """Mean and covariance at time t of dZ = AZ dt + Q^{1/2} dW from N(mu0, cov0):
    μ = e^{At} μ0 and Σ = e^{At} Σ0 e^{Aᵀt} + ∫₀ᵗ e^{As} Q e^{Aᵀs} ds.

    For a stable A (γ, ω > 0) the integral is Σ∞ − e^{At} Σ∞ e^{Aᵀt} with Σ∞ the solution of
    the Lyapunov equation AΣ∞ + Σ∞Aᵀ + Q = 0 (well conditioned at every t); otherwise Van
    Loan's exponential of [[−A, Q], [0, Aᵀ]] t, which holds e^{−At} (fine while that is finite).
    """
    n = A.shape[0]
    phi = expm(A * t)
    if not np.any(Q):
        noise = np.zeros_like(Q)
    elif np.all(np.linalg.eigvals(A).real < 0):
        stationary = solve_continuous_lyapunov(A, -Q)
        noise = stationary - phi @ stationary @ phi.T
    else:
        block = expm(np.block([[-A, Q], [np.zeros((n, n)), A.T]]) * t)
        noise = phi @ block[:n, n:]
    cov = phi @ cov0 @ phi.T + noise
    return phi @ mu0, 0.5 * (cov + cov.T)


def _centred_gradient(V, h: float = 1e-6):
    def grad_V(*theta):
        return tuple(
            (np.asarray(V(*[t + h * (j == k) for j, t in enumerate(theta)]))
             - np.asarray(V(*[t - h * (j == k) for j, t in enumerate(theta)]))) / (2 * h)
            for k in range(len(theta))
        )
    return grad_V


def phase_moments(Z: np.ndarray, w: np.ndarray, names=None) -> dict:
    """Weighted mean and covariance entries of phase-space points ``Z`` (N, 2d), as diagnostics
    named by coordinate (``mean_theta``, ``cov_theta_v``, ...; default names
    :func:`coordinate_names`)."""
    mass = float(np.sum(w))
    mean = w @ Z / mass
    centred = Z - mean
    return _moment_entries(mean, (centred * w[:, None]).T @ centred / mass, names)


def grid_phase_moments(f: np.ndarray, grid: Grid, names=None) -> dict:
    """:func:`phase_moments` of the cell-centre points of ``grid`` weighted by the cell masses
    of ``f``, summed axis by axis (no (cells, 2d) array of points)."""
    mass = float(np.sum(f))
    coords = grid.coords()
    mean = np.array([float(np.sum(f * c)) / mass for c in coords])
    centred = [c - m for c, m in zip(coords, mean, strict=True)]
    n = grid.ndim
    cov = np.empty((n, n))
    for i in range(n):
        weighted = f * centred[i]
        for j in range(i, n):
            cov[i, j] = cov[j, i] = float(np.sum(weighted * centred[j])) / mass
    return _moment_entries(mean, cov, names)


def _moment_entries(mean: np.ndarray, cov: np.ndarray, names) -> dict:
    d2 = mean.size
    names = names or coordinate_names(d2 // 2)
    out = {f"mean_{names[i]}": float(mean[i]) for i in range(d2)}
    out.update({f"cov_{names[i]}_{names[j]}": float(cov[i, j])
                for i in range(d2) for j in range(i, d2)})
    return out


def moments_vector(diagnostics: dict, k: int, d: int = 1, names=None):
    """(μ, Σ) at snapshot ``k`` from the recorded moment diagnostics of a kinetic run."""
    names = names or coordinate_names(d)
    mu = np.array([diagnostics[f"mean_{a}"][k] for a in names])
    cov = np.empty((2 * d, 2 * d))
    for i, a in enumerate(names):
        for j in range(i, 2 * d):
            cov[i, j] = cov[j, i] = diagnostics[f"cov_{a}_{names[j]}"][k]
    return mu, cov


def coordinate_names(d: int) -> tuple[str, ...]:
    """Names of the 2d phase-space coordinates: :data:`AXES`, or theta1.., v1.. beyond d = 2."""
    if d in AXES:
        return AXES[d]
    return (*(f"theta{k + 1}" for k in range(d)), *(f"v{k + 1}" for k in range(d)))


def _observer(problem: Problem):
    """``observe(frame)``: ρ = ∫ f dv on the θ axes (grid runs), the moments, the kinetic
    energy ∫ f |v|²/2 and the potential energy (∫ V ρ, or the network's risk)."""
    grid, force, names = problem.grid, problem.force, problem.coordinates
    if grid is not None:
        d = grid.ndim // 2
        theta_axes, v_axes = grid.axes[:d], grid.axes[d:]
        h_theta, h_v = float(np.prod(grid.dx[:d])), float(np.prod(grid.dx[d:]))
        speed2 = sum(c**2 for c in np.meshgrid(*v_axes, indexing="ij", sparse=True))
        edges = [np.concatenate([a - 0.5 * h, [a[-1] + 0.5 * h]])
                 for a, h in zip(theta_axes, grid.dx[:d], strict=True)]

    def observe(frame: dict):
        if "density" in frame:
            f = frame["density"]
            cell = grid.cell_volume
            out = grid_phase_moments(f, grid, names)
            rho = f.sum(axis=tuple(range(d, 2 * d))) * h_v
            out["kinetic_energy"] = 0.5 * float(np.sum(f.sum(axis=tuple(range(d))) * speed2)) * cell
            out["potential_energy"] = force.energy_on_grid(theta_axes, rho, h_theta)
            return {"rho": rho}, out
        Z, w = frame["position"], frame["weight"]
        dz = Z.shape[1] // 2
        out = phase_moments(Z, w, names)
        out["kinetic_energy"] = float(w @ (0.5 * np.sum(Z[:, dz:] ** 2, axis=1)))
        out["potential_energy"] = force.energy_at(Z[:, :dz], w)
        if grid is None:
            return {}, out
        inside = np.stack([np.clip(Z[:, k], e[0], e[-1]) for k, e in enumerate(edges)], axis=1)
        rho, _ = np.histogramdd(inside, bins=edges, weights=w)
        return {"rho": rho / h_theta}, out

    return observe

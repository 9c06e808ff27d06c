"""Exact linear diffusion as a product of positive matrices, and the split step built on it
(``scheme="split"``).

For U = D ρ log ρ the flow is ∂t ρ = D Δρ + ∇·(ρ ∇Φ), Φ = V + W*ρ. The diffusion part,
discretised as the explicit path discretises it where Φ is uniform (the walled or periodic
3-point Laplacian on each axis, ``Δ_h = Σ_k Δ_k``), has the exact solution
``exp(t D Δ_h) = ⊗_k exp(t D Δ_k)`` (the axes' operators commute): one n_k × n_k matrix per axis,
applied along its axis (:class:`HeatPropagator`). Each factor is built so that it is a
non-negative matrix with unit column sums *in floating point*, which makes the propagator
positive and conservative by construction, with no correction of its output:

- uniformization: with G = D Δ_k (off-diagonals ≥ 0, columns summing to 0) and λ ≥ max |G_ii|,
  A = I + G/λ is non-negative and exp(sG) = Σ_j e^{−sλ}(sλ)^j/j! A^j, a series of non-negative
  terms, summed (Horner, A applied as a tridiagonal: :mod:`pdeflow._numba.markov`) for sλ ≤ 8
  until the Poisson weights fall below 1e-20 of the sum;
- scaling and squaring: exp(tG) = exp(sG)^(2^q), s = t/2^q; products of non-negative matrices
  are non-negative;
- each column is divided by its sum and its diagonal entry set to 1 minus the sum of the others
  (summed in extended precision) (changes of relative size ≤ 1e-13, the round-off of the construction), so
  that P has unit column sums to the last bit and Σ (P ρ) = Σ ρ to the round-off of one matrix
  product (measured: 2e-14 of the mass over 400 applications on 40², 5e-17 each).

Applying a non-negative matrix to a non-negative density adds non-negative numbers: the result
is ≥ 0 exactly, whatever the round-off. The factors are cached per step length. Cost per
application: Σ_k n_k operations per cell (dense factors, n_k² numbers each: axes of at most
:data:`MAX_AXIS` cells), against O(Σ_k log n_k) for a fast transform: a 256² step is two
256 × 256 matrix products (1 ms, against 2.3 ms for a DCT pair; building a factor takes 4–6 ms).
The fast transforms (DCT/FFT, :mod:`pdeflow.spectral`) scale better with n but are not positive
in floating point: they leave round-off negatives of order ε · max ρ in empty cells.

The same construction propagates any generator that is a Kronecker sum of per-axis tridiagonal
generators. For U = D ρ log ρ with a static separable potential V = Σ_k V_k(x_k) (no
interaction) the explicit path's Scharfetter–Gummel operator is one (the face weights of axis k
depend only on the position along k: :func:`separable_generators`), so the split scheme then
propagates the Fokker–Planck semi-discrete system exactly, one step per snapshot interval, with
the SG spatial scheme (its discrete Gibbs state exactly stationary) — no time error, no
transport step, positive and conservative as above (Ornstein–Uhlenbeck 256² to t = 1: the
spatial error 1.432e-4 exactly).

The split step (Strang): ``ρⁿ⁺¹ = H(τ/2) T(τ) H(τ/2) ρⁿ``, H the exact diffusion, T the transport
∂t ρ = ∇·(ρ ∇Φ) by the Carrillo–Chertock–Huang upwind flux with the minmod reconstruction
(u = −ΔΦ/h) and SSP-RK2 (Heun), positive for τ ≤ cfl · h / (2 Σ_k max|u_k|) — the drift's CFL
limit, not the diffusion's. Second order in time (Strang); positive (both parts are); mass to
round-off (the transport is in flux form). Where Φ is uniform (the heat equation) there is no
transport and a step covers the whole interval asked for: the exact semi-discrete solution.
Where Φ depends on ρ (interactions) the step is rounded down to a power of 2^(1/4) (at most 16 %
below the CFL limit) so that the diffusion factors are reused across steps. The spatial scheme
is the 3-point Laplacian plus CCH for the drift (second order), not Scharfetter–Gummel: the
discrete Gibbs state is stationary only up to the splitting error.
"""

from __future__ import annotations

import numpy as np

from .._numba.markov import uniformization_series
from ..errors import PdeflowError
from ._fv_kernels import largest_jumps, upwind_stage
from .stepper import BlowUp, land

UNIFORMIZATION_SPAN = 8.0
"""The largest sλ summed as a series; longer times are reached by squaring."""
MAX_AXIS = 4096
"""The longest axis the split scheme takes: its dense factor holds n² numbers (134 MB at 4096)."""
CACHED_FACTORS = 8


def axis_generator(n: int, h: float, periodic: bool, D: float) -> tuple[np.ndarray, ...]:
    """D Δ_k, the 3-point Laplacian of one axis (no-flux walls or periodic), as its three
    diagonals (lower[i] = G[i, i−1], diag[i] = G[i, i], upper[i] = G[i, i+1]; on a periodic axis
    lower[0] and upper[n−1] are the corners G[0, n−1] and G[n−1, 0])."""
    c = D / h**2
    lower, upper = np.full(n, c), np.full(n, c)
    diag = np.full(n, -2.0 * c)
    if not periodic:
        lower[0] = upper[-1] = 0.0
        diag[0] += c
        diag[-1] += c
    elif n == 1:
        lower[:] = upper[:] = diag[:] = 0.0
    elif n == 2:  # each cell is both neighbours of the other
        lower[:] = upper[:] = c
    return lower, diag, upper


SEPARABLE_TOLERANCE = 1e-12
"""Largest difference between the SG face weights B(±δ) of two lines of one axis (relative to
max(1, max B)) for Φ to count as separable: the round-off of forming δ from V at the cells."""


def separable_generators(fv) -> list[tuple[np.ndarray, ...]] | None:
    """The explicit path's semi-discrete operator as per-axis generators, when it is a Kronecker
    sum ``L = Σ_k I ⊗ … ⊗ G_k ⊗ … ⊗ I``; None when it is not.

    For U = D ρ log ρ and a static Φ = V (no interaction) the Scharfetter–Gummel flux of face
    (i, i + e_k) is ``(D/h_k²) [B(δ) ρ_i − B(−δ) ρ_{i+e_k}]``, δ = (Φ_{i+e_k} − Φ_i)/D. Where
    V(x) = Σ_k V_k(x_k) is separable, δ depends only on the position along axis k, so every line
    of the axis carries the same 1D generator G_k (rates ``G_k[i+1, i] = (D/h²) B(δ_i)`` and
    ``G_k[i, i+1] = (D/h²) B(−δ_i)``): the operators of different axes commute and
    ``exp(tL) = ⊗_k exp(t G_k)``. Separability is read off the weights the explicit path uses
    (:data:`SEPARABLE_TOLERANCE`), so the exact propagator is the exponential of that very
    operator (Ornstein–Uhlenbeck, any V = Σ V_k(x_k)); the weights of the first line are taken."""
    if fv.entropy_D is None or fv.energy.has_interaction:
        return None
    fv.prepare(fv.rho)
    if fv.weights is None:  # Φ uniform: the heat equation
        return [axis_generator(n, h, p, fv.entropy_D)
                for n, h, p in zip(fv.grid.shape, fv.grid.dx, fv.grid.periodic, strict=True)]
    d = fv.grid.ndim
    generators = []
    for k, (n, h, periodic) in enumerate(zip(fv.grid.shape, fv.grid.dx, fv.grid.periodic,
                                             strict=True)):
        if periodic and n < 3:
            return None
        faces = np.moveaxis(fv.weights[k], 1 + 3 - d + k, -1).reshape(2, -1, n)
        first = faces[:, :1, :]
        if np.abs(faces - first).max() > SEPARABLE_TOLERANCE * max(1.0, float(first.max())):
            return None
        c = fv.entropy_D / h**2
        forward, backward = c * first[0, 0], c * first[1, 0]  # face i: i → i+1, i+1 → i
        lower, upper = np.zeros(n), np.zeros(n)
        lower[1:], upper[:-1] = forward[:-1], backward[:-1]
        if periodic:  # face n−1 joins cell n−1 to cell 0
            lower[0], upper[-1] = forward[-1], backward[-1]
        diag = -(forward + np.roll(backward, 1))  # walls: the last face's weights are 0
        generators.append((lower, diag, upper))
    return generators


def generator_matrix(lower, diag, upper, periodic: bool) -> np.ndarray:
    """The dense (n, n) matrix of :func:`axis_generator`'s diagonals (for tests and checks)."""
    n = diag.size
    G = np.diag(diag)
    for i in range(n):
        if i > 0 or periodic:
            G[i, i - 1] += lower[i]
        if i < n - 1 or periodic:
            G[i, (i + 1) % n] += upper[i]
    return G


def markov_exponential(generator: tuple[np.ndarray, ...], t: float) -> np.ndarray:
    """exp(tG) for a generator G given by :func:`axis_generator` (off-diagonals ≥ 0, zero column
    sums), as a dense non-negative matrix with unit column sums (module docstring:
    uniformization, squaring, normalisation)."""
    lower, diag, upper = generator
    n = diag.size
    rate = float(-diag.min()) if n else 0.0
    if rate <= 0.0 or t == 0.0:
        return np.eye(n)
    squarings = max(0, int(np.ceil(np.log2(t * rate / UNIFORMIZATION_SPAN))))
    x = t * rate / 2.0**squarings
    weights = [np.exp(-x)]
    while len(weights) <= x or weights[-1] > 1e-20 * max(weights):
        weights.append(weights[-1] * x / len(weights))
    # A = I + G/rate, non-negative; Horner's rule sums Σ_k w_k A^k term by term
    P = uniformization_series(lower / rate, 1.0 + diag / rate, upper / rate, np.array(weights),
                              np.empty((n, n)), np.empty((n, n)))
    for _ in range(squarings):
        P = P @ P
    P /= P.sum(axis=0)
    # each diagonal entry := 1 − (the sum of the others, in extended precision)
    others = P.astype(np.longdouble).sum(axis=0) - np.diagonal(P)
    rest = (1.0 - others).astype(float)
    P.flat[:: n + 1] = np.where(rest >= 0.0, rest, np.diagonal(P))
    return P


class HeatPropagator:
    """ρ ↦ exp(t D Δ_h) ρ on a :class:`~pdeflow.grid.Grid`: one non-negative, column-stochastic
    factor per axis (module docstring), so the result is ≥ 0 and keeps the mass by construction.
    With ``generators`` (one tridiagonal generator per axis, :func:`separable_generators`) it is
    ρ ↦ exp(tL) ρ for the Kronecker sum L of those generators."""

    def __init__(self, grid, D: float, generators: list[tuple[np.ndarray, ...]] | None = None):
        if generators is None:
            self.axes = list(zip(grid.shape, grid.dx, grid.periodic, strict=True))
            self.generators = {axis: axis_generator(*axis, D) for axis in dict.fromkeys(self.axes)}
        else:  # axes with equal generators share their factors
            self.axes = [np.concatenate(G).tobytes() for G in generators]
            self.generators = dict(zip(self.axes, generators, strict=True))
        self._factors: dict[float, list[np.ndarray]] = {}
        # outputs alternate between two buffers (an input may be one of them); 2D needs a third
        self._out = [np.empty(grid.shape), np.empty(grid.shape)] if grid.ndim <= 2 else None
        self._middle = np.empty(grid.shape) if grid.ndim == 2 else None

    def factors(self, t: float) -> list[np.ndarray]:
        """The axes' factors exp(t D Δ_k), built once per t and per distinct axis (the last few
        t are kept). Lengths equal to 12 significant digits share their factors (snapshot
        intervals t_{k+1} − t_k differ in their last bits): a time error ≤ 1e-12 · t."""
        t = float(f"{t:.11e}")
        if t not in self._factors:
            if len(self._factors) >= CACHED_FACTORS:
                self._factors.pop(next(iter(self._factors)))
            built = {axis: markov_exponential(G, t) for axis, G in self.generators.items()}
            self._factors[t] = [built[axis] for axis in self.axes]
        return self._factors[t]

    def apply(self, rho: np.ndarray, t: float) -> np.ndarray:
        """exp(t D Δ_h) ρ (ρ is not changed). In 1D and 2D the result is one of two buffers the
        propagator owns and reuses (never the one ρ is): valid until the next call but one; in
        3D a new array."""
        factors = self.factors(t)
        if rho.ndim <= 2:
            out = self._out[1] if rho is self._out[0] else self._out[0]
            if rho.ndim == 1:
                return np.matmul(factors[0], rho, out=out)
            np.matmul(factors[0], rho, out=self._middle)
            return np.matmul(self._middle, factors[1].T, out=out)
        out = rho
        for k, P in enumerate(factors):
            out = np.moveaxis(np.tensordot(P, out, axes=(1, k)), 0, k)
        return np.ascontiguousarray(out)


class StrangSplit:
    """The split step of a :class:`~pdeflow.solvers.fv.FiniteVolume` stepper (module docstring);
    for a linear problem with a separable potential, the exact propagator of the explicit path's
    semi-discrete system instead (:func:`separable_generators`)."""

    time_scheme = ("Strang split: exact diffusion by positive per-axis factors, drift by SSP-RK2 "
                   "at its CFL limit (second order; positive and conservative)")
    spatial_scheme = "3-point Laplacian (exact in time) + carrillo-chertock-huang drift, minmod"

    def __init__(self, fv):
        if fv.entropy_D is None:
            raise PdeflowError("scheme='split' needs a linear diffusion, U = D rho log rho with "
                               "D > 0 (heat, Fokker-Planck, Keller-Segel); use scheme='rkl2' or "
                               "'explicit' for the porous medium")
        self.fv = fv
        grid = fv.grid
        if max(grid.shape) > MAX_AXIS:
            n = max(grid.shape)
            raise PdeflowError(
                f"scheme='split' keeps one dense n x n factor per axis; an axis of {n} cells would "
                f"need {8 * n * n / 2**30:.3g} GiB (at most {MAX_AXIS} cells per axis): use "
                "scheme='rkl2', or the default scheme='auto'")
        generators = separable_generators(fv)
        self.exact = generators is not None  # a linear system, propagated exactly
        self.heat = HeatPropagator(grid, fv.entropy_D, generators)
        if self.exact and fv.weights is not None:
            self.time_scheme = ("exact propagator of the linear Scharfetter-Gummel system, "
                                "separable potential: positive per-axis factors (no time error; "
                                "positive and conservative at every step)")
            self.spatial_scheme = "scharfetter-gummel (second order), exact in time"
        self.inv_h = np.array([1.0 / h for h in grid.dx])
        self.jumps = np.zeros(grid.ndim)
        self.stage, self.stage2 = np.zeros(grid.shape), np.zeros(grid.shape)
        self.phi = np.zeros(grid.shape)
        static = not fv.energy.has_interaction
        self.static_phi = fv.energy.drift_potential(fv.rho, out=self.phi).copy() if static else None
        self.drift = not (self.exact or (static and np.ptp(self.static_phi) == 0.0))
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
        dt = min(fv.cfl * self.drift_limit(fv.rho), fv.dt_cap)
        if self.static_phi is None:  # a step from a ladder, so that the diffusion factors recur
            dt = 2.0 ** (np.floor(4.0 * np.log2(dt)) / 4.0)
        dt = land(min(dt, remaining), remaining)
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

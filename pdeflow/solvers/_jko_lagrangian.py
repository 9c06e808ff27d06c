"""1D JKO step in Lagrangian form: the quantile map, exact W2, Newton on a tridiagonal system.

A density ρ of mass M on an interval is carried by its quantile (inverse CDF) map
X : (0, M) → ℝ, X(F(x)) = x. In mass coordinates s every term of the JKO functional is explicit:

    W2²(ρ, ρ_k) = ∫_0^M |X(s) − X_k(s)|² ds,             ρ(X(s)) = 1 / X'(s),
    ∫ U(ρ) dx   = ∫_0^M U(ρ)/ρ ds      (U = D ρ log ρ: −D ∫ log X'(s) ds + const;
                                         U = D ρ^m/(m−1): D/(m−1) ∫ X'(s)^{1−m} ds),
    ∫ V ρ dx    = ∫_0^M V(X(s)) ds,     ½ ∬ W ρ ρ = ½ ∬ W(X(s) − X(s')) ds ds'.

Discretisation. Nodes X_0 < … < X_N at mass levels 0 = s_0 < … < s_N = M; X is linear between
nodes, so the density is constant on each Lagrangian cell [X_c, X_{c+1}]:

    ρ_c = h_c / Δ_c,   h_c = s_{c+1} − s_c,   Δ_c = X_{c+1} − X_c,   M_c = (X_c + X_{c+1})/2,

and, with nodal weights w_i = (h_{i−1} + h_i)/2 (h_{−1} = h_N = 0) and Y = X_k,

    F(X) = Σ_c Δ_c U(h_c/Δ_c)                                        (exact)
         + Σ_c (h_c/6) [V(X_c) + 4 V(M_c) + V(X_{c+1})]               (Simpson: exact for cubic V)
         + ½ Σ_cd h_c h_d W(M_c − M_d)                                (midpoint rule per cell)
         + Σ_i w_i |X_i − Y_i|² / (2τ)                                 (lumped, trapezoid in s).

Since d/dΔ [Δ U(h/Δ)] = −P(ρ) with the pressure P = ρU' − U, and d²/dΔ² = P'(ρ) ρ/Δ,

    ∂F/∂X_i = P_i − P_{i−1} + ∂(V terms) + ½ (G_{i−1} + G_i) + w_i (X_i − Y_i)/τ,
    G_c = h_c Σ_d h_d W'(M_c − M_d),

(P_{−1} = P_N = 0) and the Hessian of the local terms is tridiagonal: a_c = P'(ρ_c) ρ_c/Δ_c couples
X_c and X_{c+1}, the Simpson V term adds V'' at its points (tridiagonal too), w_i/τ the diagonal.
The internal energy is a barrier (F → ∞ as Δ_c → 0), so a line search that keeps X strictly
increasing keeps ρ finite.

Solver. Newton on the tridiagonal (banded Cholesky) system with a backtracking Armijo line
search that keeps X strictly increasing. V'' is clipped from below at −1/(2τ) so the matrix stays
positive definite (the Simpson weights form the consistent mass matrix, bounded by the lumped
one; exact Newton for convex V and for τ|V''| < 1/2). The interaction term
(dense, O(N²)) enters the gradient and the energy exactly but not the matrix: the iteration is then
a quasi-Newton method preconditioned by the tridiagonal Hessian, converging linearly at a rate
≈ τ M max|W''|. Stopping rule: the Newton correction d is below ``tol`` in the W2 norm relative to
the box, ``sqrt(Σ_i w_i d_i² / M) / L ≤ tol``.

Walls. The end nodes are the edges of the support and obey a ≤ X_0, X_N ≤ b: a projected Newton
method (active set of the two end nodes) holds an end node on its wall while the gradient pushes
it outward. A density that fills the box (heat, Fokker–Planck) keeps X_0 = a, X_N = b exactly, the
no-flux solution; a compactly supported one (porous medium) moves its free boundary until it
reaches a wall.

Mass levels. ``spacing="graded"`` (default) uses s_i = M g(i/N), g(u) = u − sin(2πu)/(2π): cells
of mass ~M·6.6/N³ at the two ends, 2M/N in the middle, so that tails (Gaussian tails, the edge of
a Barenblatt profile) are resolved; ``"uniform"`` uses equal masses M/N (for a density that fills
the box, the end cells then spread M/N over the whole tail: a W2 error ~ sqrt(M/N) × tail width).
The initial X is the quantile map of the grid density's piecewise-linear CDF; a vacuum gap inside
the support is smeared over the Lagrangian cell that spans it.

Initial guess: the linear extrapolation of the last two steps, except at the first step after a
snapshot (each ``advance``), which starts from X_k: a step from a snapshot then depends on X_k
alone (one Newton iteration more per snapshot, measured), and a run resumed from the X stored
with the snapshot (:meth:`LagrangianJKO.checkpoint`) continues bitwise as the uninterrupted run.

Back to the grid: cell averages of the piecewise-constant density, i.e. differences of the
piecewise-linear CDF G(x) at the cell faces divided by dx. Their sum telescopes to G(b) − G(a) = M:
the grid mass equals M to round-off.
"""

from __future__ import annotations

import base64

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.linalg import LinAlgError, solveh_banded

from ..energy import Entropy, PowerLaw
from ..errors import PdeflowError
from .stepper import BlowUp

PAIR_BLOCK = 16384  # entries per block of the O(N²) pair sums: temporaries stay in cache


class LagrangianJKO:
    """State and JKO step of the 1D quantile-map discretisation (see the module docstring).

    Parameters
    ----------
    problem : Problem
        On a 1D grid with walls.
    n_quantiles : int
        Number N of Lagrangian cells (N + 1 nodes).
    tol, max_iter : float, int
        Newton stopping rule (relative W2 size of the correction) and iteration cap per step.
    spacing : "graded" or "uniform"
        Mass levels s_i (see the module docstring).
    """

    def __init__(self, problem, n_quantiles: int, tol: float, max_iter: int, spacing: str,
                 bdf2: bool = False):
        grid = problem.grid
        if grid.ndim != 1:
            raise PdeflowError(f"the Lagrangian JKO is 1D; this grid has {grid.ndim} axes")
        if grid.periodic[0]:
            raise PdeflowError(
                "the 1D JKO (quantile map) needs walls; this grid is periodic. "
                "Use pf.Grid(..., periodic=False) or method='fv'"
            )
        self.grid = grid
        (self.a, self.b), = grid.bounds
        self.length = self.b - self.a
        self.faces = self.a + grid.dx[0] * np.arange(grid.shape[0] + 1)
        self.faces[-1] = self.b
        self.tol, self.max_iter = float(tol), int(max_iter)
        energy = problem.energy
        self.internal = energy.internal
        self.potential = _Potential1D(energy.potentials, grid) if energy.potentials else None
        self.interactions = energy.interactions

        cdf = np.concatenate([[0.0], np.cumsum(problem.rho0 * grid.dx[0])])
        self.mass = float(cdf[-1])
        self.s = self.mass * _mass_levels(int(n_quantiles), spacing)
        self.h = np.diff(self.s)
        self.w = 0.5 * (np.concatenate([[0.0], self.h]) + np.concatenate([self.h, [0.0]]))
        self.omega = np.empty(2 * len(self.h) + 1)  # Simpson weights at nodes and midpoints
        self.omega[0::2] = self.w / 3
        self.omega[1::2] = 2 * self.h / 3
        self.X = quantiles(self.faces, cdf, self.s)
        if not np.all(np.diff(self.X) > 0):
            raise PdeflowError(
                f"n_quantiles={n_quantiles} resolves mass finer than the grid density's "
                "round-off allows; use fewer quantile points"
            )
        self.X_prev: np.ndarray | None = None
        self.tau_prev = None
        self.bdf2 = bool(bdf2)

    # -- the discrete functional ---------------------------------------------------------------
    def energy(self, X: np.ndarray) -> float:
        """E(X): internal energy (exact), V by Simpson per cell, W by the midpoint rule."""
        total = 0.0
        if self.internal is not None:
            delta = np.diff(X)
            total += float(np.sum(delta * self.internal.density(self.h / delta)))
        if self.potential is not None:
            total += float(self.omega @ self.potential.value(_simpson_points(X)))
        if self.interactions:
            mid = 0.5 * (X[:-1] + X[1:])
            for term in self.interactions:
                total += _pair_energy(mid, self.h, term.kernel, term.strength)
        return total

    def objective(self, X: np.ndarray, Y: np.ndarray, tau: float) -> float:
        """F(X) = E(X) + Σ_i w_i |X_i − Y_i|² / (2τ)."""
        return self.energy(X) + float(self.w @ (X - Y) ** 2) / (2 * tau)

    def gradient_and_hessian(self, X, Y, tau):
        """∂F/∂X and the tridiagonal local Hessian (diagonal, off-diagonal)."""
        g = self.w * (X - Y) / tau
        diag = self.w / tau
        off = np.zeros(len(X) - 1)
        if self.internal is not None:
            delta = np.diff(X)
            rho = self.h / delta
            P = _pressure(self.internal, rho)
            g[:-1] += P
            g[1:] -= P
            a_c = self.internal.diffusivity(rho) * rho / delta
            diag = diag + np.concatenate([a_c, [0.0]]) + np.concatenate([[0.0], a_c])
            off = -a_c
        if self.potential is not None:
            Z = _simpson_points(X)
            dV = self.omega * self.potential.gradient(Z)
            g += dV[0::2]
            g[:-1] += 0.5 * dV[1::2]
            g[1:] += 0.5 * dV[1::2]
            d2V = self.omega * np.maximum(self.potential.hessian(Z), -0.5 / tau)
            quarter = 0.25 * d2V[1::2]
            diag = diag + d2V[0::2] + np.concatenate([quarter, [0.0]]) + np.concatenate([[0.0], quarter])
            off = off + quarter
        if self.interactions:
            mid = 0.5 * (X[:-1] + X[1:])
            G = sum(_pair_gradient(mid, self.h, t.kernel, t.strength) for t in self.interactions)
            g[:-1] += 0.5 * G
            g[1:] += 0.5 * G
        return g, diag, off

    # -- one JKO step ----------------------------------------------------------------------------
    def reference(self, tau: float) -> tuple[np.ndarray, float]:
        """The point Y and step τ' of this step's objective E(X) + |X − Y|²_w / (2τ').

        JKO (implicit Euler): Y = X_n, τ' = τ. BDF2 (Matthes–Plazotta's variational BDF2; in the
        quantile map W2 is the flat weighted norm, so it is exactly variable-step BDF2 of the
        Lagrangian ODE): with ω = τ/τ_prev and a = (1 + 2ω)/(1 + ω),

            Y = [(1 + ω) X_n − ω²/(1 + ω) X_{n−1}] / a,   τ' = τ / a

        (ω = 1: Y = (4 X_n − X_{n−1})/3, τ' = 2τ/3). The first step after a snapshot, which has
        no X_{n−1} (see :meth:`forget`), is a JKO step.
        """
        if not self.bdf2 or self.X_prev is None:
            return self.X, tau
        omega = tau / self.tau_prev
        a = (1 + 2 * omega) / (1 + omega)
        Y = ((1 + omega) * self.X - omega**2 / (1 + omega) * self.X_prev) / a
        return Y, tau / a

    def step(self, tau: float, t: float) -> tuple[int, float]:
        """X ← argmin F(·; Y, τ') (see :meth:`reference`); returns (Newton iterations, final
        residual)."""
        X_n, step_tau = self.X, tau
        Y, tau = self.reference(tau)
        X = self._initial_guess(X_n, step_tau)
        F = self.objective(X, Y, tau)
        residual = np.inf
        for iteration in range(1, self.max_iter + 1):
            g, diag, off = self.gradient_and_hessian(X, Y, tau)
            active = np.zeros(len(X), dtype=bool)
            active[0] = X[0] <= self.a and g[0] > 0     # held on the left wall
            active[-1] = X[-1] >= self.b and g[-1] < 0  # held on the right wall
            d = _solve_tridiagonal(diag, off, -g, active)
            residual = float(np.sqrt(self.w @ d**2 / self.mass)) / self.length
            X, F, ok = self._line_search(X, F, g, d, Y, tau)
            # a stalled line search at a residual near tol is the round-off floor: converged
            if residual <= self.tol or (not ok and residual <= 100 * self.tol):
                self.X_prev, self.tau_prev, self.X = X_n, step_tau, X
                return iteration, residual
            if not ok:
                gap = float(np.min(np.diff(X)))
                if gap < 1e-12 * self.length:
                    raise BlowUp(t, f"quantile points collide (gap {gap:.2e}): the density concentrates")
                raise PdeflowError(
                    f"JKO line search stalled at t={t:.4g} (residual {residual:.3e}); reduce tau"
                )
        raise PdeflowError(
            f"JKO Newton did not converge in max_iter={self.max_iter} iterations at "
            f"t={t:.4g} (residual {residual:.3e} > tol {self.tol:.1e}); reduce tau or "
            "raise max_iter"
        )

    def _initial_guess(self, Y: np.ndarray, tau: float) -> np.ndarray:
        """Linear extrapolation of the last two steps (when it keeps X increasing), else Y."""
        if self.X_prev is None:
            return Y
        guess = self._project(Y + (Y - self.X_prev) * (tau / self.tau_prev))
        return guess if np.all(np.diff(guess) > 0) else Y

    def _project(self, X: np.ndarray) -> np.ndarray:
        X = X.copy()
        X[0] = max(X[0], self.a)
        X[-1] = min(X[-1], self.b)
        return X

    def _line_search(self, X, F, g, d, Y, tau):
        """Projected backtracking: F(P(X + αd)) ≤ F + 10⁻⁴ g·(P(X + αd) − X), X increasing."""
        alpha = 1.0
        slack = 1e-13 * max(1.0, abs(F))
        while alpha > 1e-12:
            trial = self._project(X + alpha * d)
            if np.all(np.diff(trial) > 0):
                F_trial = self.objective(trial, Y, tau)
                if F_trial <= F + 1e-4 * float(g @ (trial - X)) + slack:
                    return trial, F_trial, True
            alpha *= 0.5
        return X, F, False

    # -- resume ------------------------------------------------------------------------------------
    def forget(self) -> None:
        """Start the next step from X_k (no extrapolation): it then depends on X_k alone."""
        self.X_prev, self.tau_prev = None, None

    def checkpoint(self) -> dict:
        """The quantile map X, exactly: its float64 bytes (little-endian), base64 (JSON-able;
        10.7 characters a node, half a JSON list of the same numbers)."""
        return {"quantiles": base64.b64encode(self.X.astype("<f8").tobytes()).decode("ascii")}

    def restore(self, checkpoint: dict) -> None:
        """Put back the quantile map of :meth:`checkpoint` (the next step starts from it)."""
        X = np.frombuffer(base64.b64decode(checkpoint["quantiles"]), dtype="<f8").astype(float)
        if X.shape != self.X.shape or not np.all(np.diff(X) > 0):
            raise PdeflowError(
                f"the stored quantile map has {X.size} points (increasing: "
                f"{bool(np.all(np.diff(X) > 0))}); this run needs {self.X.size} increasing ones"
            )
        self.X = X
        self.forget()

    # -- output ------------------------------------------------------------------------------------
    def density(self) -> np.ndarray:
        """Cell averages on the grid: ρ_j = (G(x_{j+1/2}) − G(x_{j−1/2})) / dx, G the CDF."""
        G = np.interp(self.faces, self.X, self.s)
        return np.diff(G) / self.grid.dx[0]

    def lagrangian_density(self) -> tuple[np.ndarray, np.ndarray]:
        """(cell edges X, density h_c/Δ_c on each Lagrangian cell)."""
        return self.X.copy(), self.h / np.diff(self.X)


def quantiles(faces: np.ndarray, cdf: np.ndarray, s: np.ndarray) -> np.ndarray:
    """X(s) = G⁻¹(s) for the piecewise-linear CDF G through (faces, cdf); s_0 = 0, s_N = cdf[-1].

    End points are the edges of the support (first face where G leaves 0, last face where it
    reaches the total mass).
    """
    inner = s[1:-1]
    j = np.searchsorted(cdf, inner, side="left")  # cdf[j−1] < s ≤ cdf[j]: cell j−1 has mass
    j = np.clip(j, 1, len(cdf) - 1)
    lo, hi = cdf[j - 1], cdf[j]
    frac = (inner - lo) / np.where(hi > lo, hi - lo, 1.0)
    x_inner = faces[j - 1] + frac * (faces[j] - faces[j - 1])
    positive = np.nonzero(np.diff(cdf) > 0)[0]
    first = faces[positive[0]]
    last = faces[positive[-1] + 1]
    return np.concatenate([[first], x_inner, [last]])


def _simpson_points(X: np.ndarray) -> np.ndarray:
    """Nodes and cell midpoints interleaved: Z_{2c} = X_c, Z_{2c+1} = (X_c + X_{c+1})/2."""
    Z = np.empty(2 * len(X) - 1)
    Z[0::2] = X
    Z[1::2] = 0.5 * (X[:-1] + X[1:])
    return Z


def _mass_levels(n: int, spacing: str) -> np.ndarray:
    """Mass fractions s_i/M, i = 0..n: uniform, or graded u − sin(2πu)/(2π)."""
    u = np.linspace(0.0, 1.0, n + 1)
    if spacing == "uniform":
        return u
    if spacing == "graded":
        levels = u - np.sin(2 * np.pi * u) / (2 * np.pi)
        levels[0], levels[-1] = 0.0, 1.0
        return levels
    raise PdeflowError(f"spacing must be 'graded' or 'uniform', got {spacing!r}")


def _pressure(internal, rho: np.ndarray) -> np.ndarray:
    """P(ρ) = ρU'(ρ) − U(ρ): Dρ for the entropy, Dρ^m for the power law."""
    if isinstance(internal, Entropy):
        return internal.D * rho
    if isinstance(internal, PowerLaw):
        return internal.D * rho**internal.m
    return rho * internal.first_variation(rho) - internal.density(rho)


def _solve_tridiagonal(diag, off, rhs, active):
    """Solve the SPD tridiagonal system, rows in ``active`` fixed (d = 0 there)."""
    diag = np.where(active, 1.0, diag)
    off = np.where(active[:-1] | active[1:], 0.0, off)
    rhs = np.where(active, 0.0, rhs)
    banded = np.zeros((2, len(diag)))
    banded[0] = diag
    banded[1, :-1] = off
    try:
        return solveh_banded(banded, rhs, lower=True, check_finite=False)
    except LinAlgError as err:
        raise PdeflowError("the JKO Hessian lost positive definiteness; reduce tau") from err


def _pair_energy(X, w, kernel, strength) -> float:
    """½ Σ_ij w_i w_j W(X_i − X_j), W = strength · k(|r|), in row blocks of the pair matrix."""
    total = 0.0
    block = max(1, PAIR_BLOCK // len(X))
    for start in range(0, len(X), block):
        rows = slice(start, start + block)
        r = np.abs(X[rows, None] - X[None, :])
        total += float(w[rows] @ (kernel(r) @ w))
    return 0.5 * strength * total


def _pair_gradient(X, w, kernel, strength) -> np.ndarray:
    """w_i Σ_j w_j W'(X_i − X_j), W'(r) = strength · k'(|r|) sign(r)."""
    out = np.empty(len(X))
    block = max(1, PAIR_BLOCK // len(X))
    for start in range(0, len(X), block):
        rows = slice(start, start + block)
        r = X[rows, None] - X[None, :]
        out[rows] = (kernel.derivative(np.abs(r)) * np.sign(r)) @ w
    return strength * w * out


class _Potential1D:
    """Σ V over the energy's potentials at arbitrary points, with V' and V''.

    Callables are evaluated directly; ``gradient`` is used when given, else a central difference.
    Array potentials are interpolated by a cubic spline through the cell centres.
    """

    def __init__(self, potentials, grid):
        self.length = grid.lengths[0]
        self.terms = []
        for term in potentials:
            if callable(term.V):
                self.terms.append((term.V, term.gradient))
            else:
                spline = CubicSpline(grid.axes[0], term.on_grid(grid))
                self.terms.append((spline, spline.derivative()))

    def value(self, x: np.ndarray) -> np.ndarray:
        return sum(np.broadcast_to(np.asarray(V(x), dtype=float), x.shape) for V, _ in self.terms)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        total = np.zeros_like(x)
        for V, dV in self.terms:
            if dV is None:
                step = 1e-6 * self.length
                total += (np.asarray(V(x + step)) - np.asarray(V(x - step))) / (2 * step)
            else:
                g = dV(x)
                total += np.asarray(g[0] if isinstance(g, tuple | list) else g, dtype=float)
        return total

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """V'' by a central difference of V' (it only shapes the Newton matrix)."""
        step = 1e-4 * self.length
        return (self.gradient(x + step) - self.gradient(x - step)) / (2 * step)

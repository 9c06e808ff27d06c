"""The particle, JKO and finite-element solvers, each against a plain baseline in the same run.

    python -m benchmarks.methods [--quick]      (prints the tables; ``python -m benchmarks``
                                                 runs these cases too and records them)

Every case times pdeflow and its baselines alternately (``interleaved``: a warm-up call each, then
the median of at least 5 repeats) on the same data, checks that they computed the same thing, and
reports the ratio pdeflow / baseline (below 1: pdeflow is faster).

1. Particle–mesh (Keller–Segel 2D, N = 10⁶ particles, the 128² grid refined twice: a 256² mesh):
   the interaction drift ``−∇(W * μ_N)`` at the particles (``Particles.interaction_velocity``:
   Numba CIC deposit, ``GridConvolution`` FFT, ``np.gradient``, Numba CIC interpolation) and one
   full step (``Particles.advance``: drift, Euler–Maruyama, walls, the blow-up check's deposit)
   against the same in plain NumPy (corner indices and weights as arrays, ``np.bincount``
   deposit, ``numpy.fft`` with the same zero padding and kernel transform, ``np.gradient``,
   gathers back).
2. Direct softened pair sums ``Σ_j w_j k'(r_δ)/r_δ (X_i − X_j)`` (2D Newtonian kernel, Plummer
   softening δ), N = 2000 … 20000: pdeflow's Numba sums (all threads) and its serial kernel
   against NumPy in blocks of targets (the block's difference matrices, in place).
3. One JKO step. 1D (Fokker–Planck, V = x²/2, 2000 quantile cells): pdeflow's Newton on the
   tridiagonal system against ``scipy.optimize.minimize(method="L-BFGS-B")`` on the same discrete
   functional, written out in NumPy. 2D entropic (Fokker–Planck, 32², 64², 128²): pdeflow's
   iterations (exp domain where safe, else log domain; the domain used is recorded) against
   the same iterations in the exp domain with the separable kernel
   (NumPy), with the dense (cells × cells) kernel (NumPy, and POT's
   ``ot.unbalanced.sinkhorn_unbalanced``, the same problem as unbalanced OT) where the dense
   kernel is affordable, and a textbook log-domain version (``scipy.special.logsumexp``).
4. One implicit Euler step of Fokker–Planck on a disk mesh (8·10³ … 1.3·10⁵ nodes): pdeflow's step
   (LU factorisation reused; and with the factorisation) against scikit-fem assembly + scipy
   ``spsolve`` per step, and ``spsolve`` alone on the assembled matrix.
"""

from __future__ import annotations

import argparse
import os
import warnings
from functools import partial

import numba
import numpy as np
import ot
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from scipy.optimize import minimize
from scipy.special import logsumexp
from skfem.helpers import dot, grad

import pdeflow as pf
from benchmarks import interleaved
from pdeflow.solvers import _particle_kernels as pk
from pdeflow.solvers import fem, jko, particles


# -- 1. particle–mesh ---------------------------------------------------------------------------
def case_particle_mesh(n_particles: int = 10**6, cells: int = 128, refine: int = 2) -> dict:
    """Keller–Segel (χ = 1, D = 1, M = 4π) with N particles: pdeflow's particle–mesh drift and
    step against plain NumPy on the same particles and mesh."""
    grid = pf.Grid([(-5.0, 5.0)] * 2, cells)
    problem = pf.problems.keller_segel(grid, pf.gaussian(grid, 0.0, 1.0, mass=4 * np.pi))
    stepper = particles.make_stepper(problem, 1.0, n_particles=n_particles, seed=0,
                                     interaction="mesh", mesh_refine=refine)
    mesh = stepper.mesh
    transform = sum(conv.transform for conv in stepper.convolutions)  # setup: the cached Ŵ
    baseline = NumpyParticleMesh(grid, mesh, transform, stepper.w, D=1.0)
    X = stepper.X.copy()
    out = np.empty_like(X)
    stepper.interaction_velocity(X, out)
    v = baseline.drift(X)
    agreement = float(np.abs(out - v).max() / np.abs(v).max())

    Xb, rng, dt = X.copy(), np.random.default_rng(1), stepper.dt
    t = interleaved({
        "pdeflow_drift": lambda: stepper.interaction_velocity(X, out),
        "numpy_drift": lambda: baseline.drift(X),
        "pdeflow_step": lambda: stepper.advance(stepper.t + dt),
        "numpy_step": lambda: baseline.step(Xb, dt, rng),
    }, repeats=5)
    steps_per_call = stepper.steps / 6  # a warm-up and 5 repeats
    return {
        "case": f"particle–mesh, Keller–Segel 2D, N = {n_particles:.0e} particles, "
                f"{mesh.shape[0]}x{mesh.shape[1]} mesh",
        "n_particles": n_particles, "mesh": list(mesh.shape),
        "pdeflow_drift_s": t["pdeflow_drift"], "numpy_drift_s": t["numpy_drift"],
        "ratio_drift": t["pdeflow_drift"] / t["numpy_drift"],
        "pdeflow_step_s": t["pdeflow_step"], "numpy_step_s": t["numpy_step"],
        "ratio_step": t["pdeflow_step"] / t["numpy_step"],
        "steps_per_call": steps_per_call, "drift_max_rel_difference": agreement,
    }


class NumpyParticleMesh:
    """The particle–mesh drift and Euler–Maruyama step in plain NumPy.

    CIC on the cell-centred mesh: s = (x − lo)/h − ½, i = ⌊s⌋, f = s − i, weights 1 − f on cell i
    and f on i + 1 per axis, indices clamped at walls (the ghost cell is the edge cell, as
    pdeflow's). Deposit ρ = Σ_corners bincount(cell, w·weight)/|cell|; Φ = irfft2(rfft2(ρ, 2n) Ŵ)
    restricted to the mesh; ∇Φ by ``np.gradient`` (second order at the edges); v = −Σ_corners
    weight·∇Φ[cell].
    """

    def __init__(self, grid, mesh, transform, w, D):
        self.grid, self.mesh, self.transform, self.w, self.D = grid, mesh, transform, w, D
        self.lo = np.array([a for a, _ in mesh.bounds])
        self.hi = np.array([b for _, b in mesh.bounds])
        self.padded = tuple(2 * n for n in mesh.shape)

    @staticmethod
    def corners(X, lo, h, shape):
        """[(flat cell index, weight)] of the 2² CIC corners, one array of N each."""
        n = np.array(shape)
        s = (X - lo) / h - 0.5
        i = np.floor(s).astype(np.int64)
        f = s - i
        ends = [(np.clip(i, 0, n - 1), 1.0 - f), (np.clip(i + 1, 0, n - 1), f)]
        return [(ix[:, 0] * n[1] + iy[:, 1], wx[:, 0] * wy[:, 1])
                for ix, wx in ends for iy, wy in ends]

    def deposit(self, X, grid):
        h = np.array(grid.dx)
        rho = np.zeros(grid.size)
        for cell, weight in self.corners(X, self.lo, h, grid.shape):
            rho += np.bincount(cell, weights=self.w * weight, minlength=grid.size)
        return rho.reshape(grid.shape) / grid.cell_volume

    def drift(self, X):
        mesh = self.mesh
        h = np.array(mesh.dx)
        rho = np.zeros(mesh.size)
        corners = self.corners(X, self.lo, h, mesh.shape)
        for cell, weight in corners:
            rho += np.bincount(cell, weights=self.w * weight, minlength=mesh.size)
        rho = rho.reshape(mesh.shape) / mesh.cell_volume
        n0, n1 = mesh.shape
        phi = np.fft.irfft2(np.fft.rfft2(rho, s=self.padded) * self.transform, s=self.padded)[:n0, :n1]
        gx, gy = np.gradient(phi, h[0], h[1], edge_order=2)
        gx, gy = gx.ravel(), gy.ravel()
        v = np.zeros_like(X)
        for cell, weight in corners:
            v[:, 0] -= weight * gx[cell]
            v[:, 1] -= weight * gy[cell]
        return v

    def step(self, X, dt, rng):
        """X ← X + dt v + √(2D dt) ξ, reflected at the walls; max|v| (the step bound) and the
        blow-up check's deposit on the grid, as pdeflow's step."""
        v = self.drift(X)
        speed = np.abs(v).max()
        X += dt * v + np.sqrt(2 * self.D * dt) * rng.standard_normal(X.shape)
        np.copyto(X, 2 * self.lo - X, where=X < self.lo)
        np.copyto(X, 2 * self.hi - X, where=X > self.hi)
        return speed, self.deposit(X, self.grid).max()


# -- 2. direct pair sums ------------------------------------------------------------------------
def case_pair_sums(sizes=(2000, 5000, 10000, 20000)) -> list[dict]:
    """Keller–Segel's interaction drift by direct softened sums (``interaction="direct"``)."""
    grid = pf.Grid([(-5.0, 5.0)] * 2, 64)
    problem = pf.problems.keller_segel(grid, pf.gaussian(grid, 0.0, 1.0))
    strength = problem.energy.interactions[0].strength
    results = []
    for n in sizes:
        stepper = particles.make_stepper(problem, 1.0, n_particles=n, seed=0, interaction="direct")
        X, w, delta = stepper.X, stepper.w, stepper.softening
        out, serial = np.empty_like(X), np.empty_like(X)
        stepper.interaction_velocity(X, out)
        v = -strength * numpy_pair_gradient(X, w, delta)
        agreement = float(np.abs(out - v).max() / np.abs(v).max())
        no_period = np.zeros(2)
        t = interleaved({
            "pdeflow": partial(stepper.interaction_velocity, X, out),
            "pdeflow_serial": partial(pk.pair_gradient_serial, X, w, pk.NEWTONIAN_2D, 0.0, delta,
                                      no_period, serial),
            "numpy": partial(numpy_pair_gradient, X, w, delta),
        }, repeats=5)
        pairs = n * (n - 1)
        results.append({
            "case": f"direct softened pair sums, 2D Newtonian, N = {n}",
            "n_particles": n, "softening": delta,
            "pdeflow_s": t["pdeflow"], "pdeflow_serial_s": t["pdeflow_serial"], "numpy_s": t["numpy"],
            "pdeflow_pairs_per_s": pairs / t["pdeflow"],
            "pdeflow_serial_pairs_per_s": pairs / t["pdeflow_serial"],
            "numpy_pairs_per_s": pairs / t["numpy"],
            "ratio": t["pdeflow"] / t["numpy"], "ratio_serial": t["pdeflow_serial"] / t["numpy"],
            "max_rel_difference": agreement,
        })
    return results


def numpy_pair_gradient(X, w, delta, entries: int = 2**17):
    """Σ_{j} w_j k'(r_δ)/r_δ (X_i − X_j), k'(r)/r = −1/(2π r²), r_δ² = r² + δ² (the j = i term
    vanishes: X_i − X_i = 0), in blocks of targets of about ``entries`` pairs (in cache)."""
    x, y = X[:, 0], X[:, 1]
    out = np.empty_like(X)
    block = max(8, entries // len(X))
    for start in range(0, len(X), block):
        rows = slice(start, start + block)
        dx = x[rows, None] - x
        dy = y[rows, None] - y
        g = dx * dx
        g += dy * dy
        g += delta * delta
        np.divide(w, g, out=g)  # w_j / r_δ²
        dx *= g
        dy *= g
        out[rows, 0] = dx.sum(axis=1)
        out[rows, 1] = dy.sum(axis=1)
    out *= -1.0 / (2.0 * np.pi)
    return out


# -- 3. JKO: 1D Newton against L-BFGS-B ---------------------------------------------------------
def case_jko_1d(n_quantiles: int = 2000, tau: float = 0.01) -> dict:
    """One JKO step of Fokker–Planck (V = x²/2, D = 1) from N(1, 0.5) on [−5, 5]."""
    grid = pf.Grid([(-5.0, 5.0)], 500)
    V, dV = (lambda x: 0.5 * x**2), (lambda x: x)
    problem = pf.problems.fokker_planck(grid, pf.gaussian(grid, 1.0, 0.5), V=V, D=1.0)
    engine = jko.make_stepper(problem, 1.0, tau=tau, n_quantiles=n_quantiles).engine
    Y = engine.X.copy()

    def newton():
        engine.X, engine.X_prev = Y.copy(), None  # every call: the first step from Y
        return engine.step(tau, 0.0)

    iterations, _ = newton()
    X_newton = engine.X.copy()
    lbfgs = LbfgsJKO(engine.h, engine.w, Y, tau, D=1.0, V=V, dV=dV, bounds=grid.bounds[0])
    result = lbfgs.solve()
    X_lbfgs = lbfgs.positions(result.x)
    gap = float(np.sqrt(engine.w @ (X_lbfgs - X_newton) ** 2 / engine.mass) / grid.lengths[0])
    objective_gap = float(engine.objective(X_lbfgs, Y, tau) - engine.objective(X_newton, Y, tau))
    t = interleaved({"newton": newton, "lbfgs": lbfgs.solve}, repeats=5)
    return {
        "case": f"JKO step 1D, Fokker–Planck, {n_quantiles} quantile cells (graded), tau = {tau}",
        "pdeflow_s": t["newton"], "newton_iterations": iterations,
        "baseline": "scipy L-BFGS-B on the same discrete functional",
        "baseline_s": t["lbfgs"], "lbfgs_iterations": int(result.nit),
        "lbfgs_evaluations": int(result.nfev), "lbfgs_message": str(result.message),
        "ratio": t["newton"] / t["lbfgs"],
        "relative_w2_gap": gap, "objective_gap": objective_gap,
    }


class LbfgsJKO:
    """The discrete JKO functional of pdeflow's 1D scheme, minimised by L-BFGS-B.

    F(X) = −D Σ_c h_c log(Δ_c/h_c) + Σ_c (h_c/6)[V(X_c) + 4V(M_c) + V(X_{c+1})]
           + Σ_i w_i (X_i − Y_i)²/(2τ),    Δ_c = X_{c+1} − X_c,  M_c the cell midpoint,

    in the variables u_i = √(w_i/τ)(X_i − Y_i) (the W2 term becomes |u|²/2: L-BFGS-B's first step
    and its Hessian model are then on the right scale; in X itself it needs ~50× more iterations),
    walls a ≤ X ≤ b as bounds. L-BFGS-B needs finite values where X stops increasing, so below
    Δ_min = 10⁻³ min Δ(Y) the barrier −log Δ is continued by its second-order Taylor polynomial
    (the minimiser has no gap that small: the extension changes nothing there). ftol = 0: it
    stops at its round-off floor (no relative decrease of F left).
    """

    def __init__(self, h, w, Y, tau, D, V, dV, bounds):
        self.h, self.w, self.Y, self.tau, self.D, self.V, self.dV = h, w, Y, tau, D, V, dV
        self.scale = np.sqrt(w / tau)
        self.gap_min = 1e-3 * np.diff(Y).min()
        a, b = bounds
        self.bounds = list(zip((a - Y) * self.scale, (b - Y) * self.scale, strict=True))

    def positions(self, u):
        return self.Y + u / self.scale

    def objective(self, u):
        X, h, D = self.positions(u), self.h, self.D
        gap = np.diff(X)
        safe = np.maximum(gap, self.gap_min)
        s = (gap - safe) / safe  # 0 above Δ_min
        F = -D * np.sum(h * (np.log(safe / h) + s - 0.5 * s * s))
        P = D * h / safe * (1.0 - s)  # −∂F/∂Δ_c, the pressure D ρ_c
        M = 0.5 * (X[:-1] + X[1:])
        F += np.sum(h / 6 * (self.V(X[:-1]) + 4 * self.V(M) + self.V(X[1:])))
        F += 0.5 * u @ u
        g = np.zeros_like(X)
        g[:-1] += P + h / 6 * (self.dV(X[:-1]) + 2 * self.dV(M))
        g[1:] += -P + h / 6 * (self.dV(X[1:]) + 2 * self.dV(M))
        return F, g / self.scale + u

    def solve(self):
        return minimize(self.objective, np.zeros_like(self.Y), jac=True, method="L-BFGS-B",
                        bounds=self.bounds,
                        options={"maxiter": 100_000, "maxfun": 200_000, "ftol": 0.0, "gtol": 1e-7})


# -- 3. JKO: 2D entropic ------------------------------------------------------------------------
def case_jko_2d(n: int, tau: float = 0.1, dense_cells: int = 4096, log_iterations: int = 10) -> dict:
    """One entropic JKO step (cold start) of Fokker–Planck (V = |x|²/2, D = 1) from N((1, 0), 0.5)
    on [−5, 5]², ε = dx² (pdeflow's default), against the baselines of the module docstring."""
    grid = pf.Grid([(-5.0, 5.0)] * 2, n)
    V = lambda x, y: 0.5 * (x**2 + y**2)  # noqa: E731
    problem = pf.problems.fokker_planck(grid, pf.gaussian(grid, (1.0, 0.0), 0.5), V=V, D=1.0)
    with warnings.catch_warnings():  # 32²: ε/(4τ) = 0.24 D; the timing is what counts here
        warnings.simplefilter("ignore", UserWarning)
        engine = jko.make_stepper(problem, 1.0, tau=tau, solver="entropic").engine
    rho0 = problem.rho0.copy()

    def pdeflow_step():
        _restart(engine, rho0)
        return engine.step(tau, 0.0)

    iterations, _ = pdeflow_step()
    reference = engine.density() * grid.cell_volume

    def difference(density):
        return float(np.abs(density.reshape(reference.shape) - reference).sum() / engine.mass)

    exp = ExpSinkhorn(engine, rho0 * grid.cell_volume, V, tau)
    full = {"numpy_exp_separable": ("NumPy, exp domain, separable kernel",
                                    partial(exp.run, exp.separable))}
    if n * n <= dense_cells:
        exp.make_dense()
        full["numpy_exp_dense"] = ("NumPy, exp domain, dense kernel", partial(exp.run, exp.dense))
        full["pot_dense"] = ("POT `sinkhorn_unbalanced`, dense kernel", partial(exp.pot, iterations))
    candidates, rows = {"pdeflow": pdeflow_step}, []
    for name, (description, call) in full.items():
        density, its, _ = call()
        row = {"baseline": name, "description": description}
        if np.all(np.isfinite(density)):
            row.update(iterations=its, l1_difference=difference(density))
            candidates[name] = call
        else:
            row["failed"] = "non-finite scalings (ξb underflows to 0): not timed"
        rows.append(row)
    log_step = LogSinkhorn(engine, exp)
    candidates["numpy_log_separable"] = partial(log_step.run, log_iterations)
    t = interleaved(candidates, repeats=5)

    for row in rows:
        name = row["baseline"]
        if name in t:
            row.update(s_per_step=t[name], s_per_iteration=t[name] / row["iterations"],
                       ratio=t["pdeflow"] / t[name],
                       ratio_per_iteration=t["pdeflow"] / iterations / (t[name] / row["iterations"]))
    log_row = {
        "baseline": "numpy_log_separable",
        "description": f"NumPy, log domain (`logsumexp`), separable kernel: {log_iterations} "
                       "iterations timed",
        "s_per_iteration": t["numpy_log_separable"] / log_iterations,
        "ratio_per_iteration": t["pdeflow"] / iterations / (t["numpy_log_separable"] / log_iterations),
    }
    if n * n <= dense_cells:  # the same iterates: run it as far as pdeflow (untimed)
        log_row["l1_difference"] = difference(log_step.run(iterations)[0])
    rows.append(log_row)
    return {
        "case": f"entropic JKO step 2D {n}x{n}, Fokker–Planck, tau = {tau}, epsilon = dx^2",
        "cells": n * n, "epsilon": engine.epsilon, "kappa": 2 * tau / engine.epsilon,
        "pdeflow_s": t["pdeflow"], "iterations": iterations, "domain": engine.last_domain,
        "pdeflow_s_per_iteration": t["pdeflow"] / iterations, "baselines": rows,
    }


def _restart(engine, rho0):
    """Put the density back and start the step cold (β = 0 on the support)."""
    if hasattr(engine, "restore"):
        engine.restore(rho0)
    else:  # an engine that keeps cell masses p and β
        engine.p = rho0 * engine.cell
        engine.beta = np.where(engine.p > 0, 0.0, -np.inf)


class ExpSinkhorn:
    """pdeflow's entropic JKO iterations in the exp domain (a = e^α, b = e^β):

        z = ξb,  a = (c/z)^f,  q = a z,  b = p / ξᵀa,   stop when ‖a ⊙ ξb − q‖₁/M ≤ tol,

    with f = κD/(1 + κD), κ = 2τ/ε and c = |cell| e^{−Φ/D − 1}: the same iterates as pdeflow's
    closed-form proximal map of the entropy, log q = (log z − κΦ + κD(log|cell| − 1))/(1 + κD).
    ξ is applied with the separable kernel (ξ_0 b ξ_1ᵀ, ξ_k = exp(−(x − x')²/ε) per axis) or
    the dense one (cells × cells). The same step is POT's unbalanced OT problem
    min ⟨C, π⟩ + ε KL(π|1) + 2τD KL(π1|c) with πᵀ1 = p (``reg_m = (2τD, ∞)``).
    """

    def __init__(self, engine, p, V, tau):
        grid = engine.grid
        self.p, self.mass, self.tol = p, engine.mass, engine.tol
        self.max_iter, self.eps, self.tau = engine.max_iter, engine.epsilon, tau
        D = engine.internal.D
        kappa = 2 * tau / self.eps
        self.D, self.f = D, kappa * D / (1 + kappa * D)
        self.c = grid.cell_volume * np.exp(-V(*np.meshgrid(*grid.axes, indexing="ij")) / D - 1.0)
        self.K0, self.K1 = engine.kernels
        self.points = np.stack(np.meshgrid(*grid.axes, indexing="ij"), axis=-1).reshape(-1, 2)
        self.Kd = None

    def separable(self, v):
        return self.K0 @ v @ self.K1.T

    def make_dense(self):
        self.C = ot.dist(self.points, self.points)  # |x − y|²
        self.Kd = np.exp(-self.C / self.eps)

    def dense(self, v):
        return (self.Kd @ v.ravel()).reshape(v.shape)

    def run(self, apply):
        p, c, f = self.p, self.c, self.f
        b = (p > 0).astype(float)
        z = apply(b)
        with np.errstate(all="ignore"):
            for iteration in range(1, self.max_iter + 1):
                a = (c / z) ** f
                q = a * z
                b = p / apply(a)
                z = apply(b)
                row = a * z
                error = float(np.abs(row - q).sum()) / self.mass
                if error <= self.tol or not np.isfinite(error):
                    return row, iteration, error
        return row, self.max_iter, error

    def pot(self, iterations):
        with warnings.catch_warnings():  # reg_type="entropy" warns that it sets c = 1
            warnings.simplefilter("ignore")
            plan = ot.unbalanced.sinkhorn_unbalanced(
                self.c.ravel(), self.p.ravel(), self.C, self.eps,
                (2 * self.tau * self.D, float("inf")), method="sinkhorn", reg_type="entropy",
                numItermax=iterations, stopThr=0.0)  # pdeflow's iteration count
        return plan.sum(axis=1), iterations, None


class LogSinkhorn:
    """The same iterations in the log domain, each axis product a ``logsumexp`` over
    log ξ_k[i, l] + β[…, l] (an n³ array per axis): exact, the textbook way."""

    def __init__(self, engine, exp: ExpSinkhorn):
        self.log_kernels, self.f, self.mass = engine.log_kernels, exp.f, exp.mass
        with np.errstate(divide="ignore"):
            self.log_p, self.log_c = np.log(exp.p), np.log(exp.c)

    def apply(self, log_v):
        out = log_v
        for axis, log_K in enumerate(self.log_kernels):
            moved = np.moveaxis(out, axis, -1)
            out = np.moveaxis(logsumexp(log_K + moved[..., None, :], axis=-1), -1, axis)
        return out

    def run(self, iterations):
        """``iterations`` iterations (no stopping rule): (first marginal, iterations, error)."""
        log_z = self.apply(np.where(np.isfinite(self.log_p), 0.0, -np.inf))
        for _ in range(iterations):
            alpha = self.f * (self.log_c - log_z)
            log_q = alpha + log_z
            log_z = self.apply(self.log_p - self.apply(alpha))
            row = np.exp(alpha + log_z)
            error = float(np.abs(row - np.exp(log_q)).sum()) / self.mass
        return row, iterations, error


# -- 4. finite elements -------------------------------------------------------------------------
def case_fem(refine: int, dt: float = 0.01) -> dict:
    """Implicit Euler for Fokker–Planck (V = |x|², D = 1) on the disk of radius 2, symmetrised
    form (ρ = ωu, ω = e^{−(V − min V)/D}): (diag(mω) + dt K^ω) uⁿ⁺¹ = diag(mω) uⁿ."""
    mesh = pf.Mesh.disk(radius=2.0, refine=refine)
    V = lambda x, y: x**2 + y**2  # noqa: E731
    problem = pf.problems.fokker_planck(mesh, pf.gaussian(mesh, (0.5, 0.0), 0.1), V=V, D=1.0)
    stepper = fem.make_stepper(problem, 1.0, dt=dt)
    plain = SkfemStep(mesh.skfem, V, dt)
    rho0 = problem.rho0.copy()
    stepper.step(dt)
    agreement = float(np.abs(stepper.density - plain.step(rho0)).max() / rho0.max())
    A = plain.assemble()[0]
    rhs = plain.mass * rho0  # m ⊙ ω u, u = ρ/ω

    def refactorised():
        stepper._solvers.clear()  # forget the LU: this step factorises
        stepper.step(dt)

    t = interleaved({
        "pdeflow": lambda: stepper.step(dt),
        "pdeflow_factorise": refactorised,
        "skfem_spsolve": lambda: plain.step(rho0),
        "spsolve": lambda: spla.spsolve(A, rhs),
    }, repeats=5)
    return {
        "case": f"FEM implicit Euler step, Fokker–Planck, disk, {mesh.size} nodes",
        "nodes": mesh.size, "triangles": mesh.n_triangles,
        "pdeflow_s": t["pdeflow"], "pdeflow_factorise_s": t["pdeflow_factorise"],
        "skfem_spsolve_s": t["skfem_spsolve"], "spsolve_s": t["spsolve"],
        "ratio": t["pdeflow"] / t["skfem_spsolve"],
        "ratio_vs_spsolve": t["pdeflow"] / t["spsolve"],
        "ratio_factorise_vs_spsolve": t["pdeflow_factorise"] / t["spsolve"],
        "max_rel_difference": agreement,
    }


class SkfemStep:
    """One implicit Euler step the plain way: assemble with scikit-fem, solve with ``spsolve``.

    K^ω_ij = ∫ ω ∇φ_j·∇φ_i (ω at the quadrature points), lumped mass m_i = ∫ φ_i, A = diag(mω) +
    dt K^ω, u = A⁻¹(m ⊙ ρ), ρ ← ωu.
    """

    def __init__(self, mesh, V, dt):
        self.m, self.V, self.dt = mesh, V, dt
        values = V(*mesh.p)
        self.V_min = values.min()
        self.omega = np.exp(-(values - self.V_min))
        self.mass = self.assemble()[1]

    def assemble(self):
        basis = skfem.Basis(self.m, skfem.ElementTriP1(), intorder=4)
        omega_q = np.exp(-(basis.interpolate(self.V(*self.m.p)) - self.V_min))
        K = skfem.asm(weighted_laplace, basis, omega=omega_q)
        mass = skfem.asm(unit_load, basis)
        return (sp.diags(mass * self.omega) + self.dt * K).tocsc(), mass

    def step(self, rho):
        A, mass = self.assemble()
        return self.omega * spla.spsolve(A, mass * rho)


weighted_laplace = skfem.BilinearForm(lambda u, v, w: w.omega * dot(grad(u), grad(v)))
unit_load = skfem.LinearForm(lambda v, w: v)


# -- the suite ----------------------------------------------------------------------------------
def run(quick: bool = False, log=print) -> dict:
    """Every case; ``quick``: smaller sizes (a smoke run)."""
    load_before = os.getloadavg()
    out = {}
    out["particle_mesh"] = case_particle_mesh(2 * 10**5 if quick else 10**6)
    r = out["particle_mesh"]
    log(r["case"], f"drift ratio {r['ratio_drift']:.2f}, step ratio {r['ratio_step']:.2f}")
    out["pair_sums"] = case_pair_sums((2000, 5000) if quick else (2000, 5000, 10000, 20000))
    for r in out["pair_sums"]:
        log(r["case"], f"ratio {r['ratio']:.3f} ({r['pdeflow_pairs_per_s'] / 1e9:.2f} vs "
                       f"{r['numpy_pairs_per_s'] / 1e9:.2f} Gpairs/s)")
    out["jko_1d"] = case_jko_1d()
    r = out["jko_1d"]
    log(r["case"], f"ratio {r['ratio']:.4f}")
    out["jko_2d"] = [case_jko_2d(n, dense_cells=1024 if quick else 4096)
                     for n in ((32, 64) if quick else (32, 64, 128))]
    for r in out["jko_2d"]:
        log(r["case"], ", ".join(
            f"{b['baseline']} {b.get('ratio', b.get('ratio_per_iteration', np.nan)):.3f}"
            for b in r["baselines"] if "failed" not in b))
    out["fem"] = [case_fem(k) for k in ((6,) if quick else (6, 7, 8))]
    for r in out["fem"]:
        log(r["case"], f"ratio {r['ratio']:.3f}, vs spsolve {r['ratio_vs_spsolve']:.3f}")
    out["environment"] = environment(load_before)
    return out


def environment(load_before) -> dict:
    return {
        "pot": ot.__version__, "scikit_fem": skfem.__version__,
        "numba_threads": numba.get_num_threads(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


# -- markdown -----------------------------------------------------------------------------------
def _s(seconds: float) -> str:
    return f"{seconds:.3g} s"


def to_markdown(m: dict) -> str:
    env = m["environment"]
    pm = m["particle_mesh"]
    lines = [
        "### Particles, JKO and finite elements",
        "",
        f"Same machine and run; POT {env['pot']}, scikit-fem {env['scikit_fem']}. Threads: the "
        f"pair sums on all {env['numba_threads']} Numba threads (and timed on one); everything "
        "else on one (pdeflow's O(N) particle kernels, FFTs, NumPy, SuperLU; BLAS: "
        f"OPENBLAS_NUM_THREADS={env['blas_threads']}). Load average (1, 5, 15 min) "
        f"{', '.join(map(str, env['load_average_before']))} before these cases, "
        f"{', '.join(map(str, env['load_average_after']))} after: a shared machine, so the "
        "absolute times carry noise; the interleaving keeps the ratios fair. Medians of 5 "
        "interleaved repeats after a warm-up; ratio = pdeflow / baseline (below 1: pdeflow "
        "faster). Each baseline is checked to compute the same result (last column: the largest "
        "difference relative to the largest value, or the L1 difference relative to the mass).",
        "",
        f"**Particle–mesh**, Keller–Segel 2D, N = {pm['n_particles']:.0e} particles, "
        f"{pm['mesh'][0]}² mesh (CIC deposit, zero-padded FFT convolution, centred-difference "
        "gradient, CIC interpolation). Baseline: the same in plain NumPy (`np.bincount` deposit, "
        "`numpy.fft`, `np.gradient`, gathers; same kernel transform). The step adds "
        "Euler–Maruyama, the walls and the blow-up check's deposit on the 128² grid, in both.",
        "",
        "| | pdeflow | NumPy | ratio | max rel. difference |",
        "|---|---|---|---|---|",
        f"| drift −∇(W∗μ_N) at the particles | {_s(pm['pdeflow_drift_s'])} | "
        f"{_s(pm['numpy_drift_s'])} | {pm['ratio_drift']:.2f} | {pm['drift_max_rel_difference']:.1e} |",
        f"| one step | {_s(pm['pdeflow_step_s'])} | {_s(pm['numpy_step_s'])} | "
        f"{pm['ratio_step']:.2f} | (random) |",
        "",
        "**Direct softened pair sums** Σ_j w_j k'(r_δ)/r_δ (X_i − X_j), 2D Newtonian kernel "
        "(`interaction=\"direct\"`). Baseline: NumPy in blocks of targets (~1 MiB difference "
        "matrices, in place). Pairs per second = N(N − 1)/time.",
        "",
        f"| N | pdeflow ({env['numba_threads']} threads) | pdeflow, 1 thread | NumPy | ratio | "
        "ratio, 1 thread | max rel. difference |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in m["pair_sums"]:
        lines.append(
            f"| {r['n_particles']} | {_s(r['pdeflow_s'])} ({r['pdeflow_pairs_per_s'] / 1e9:.2f} G/s) "
            f"| {_s(r['pdeflow_serial_s'])} ({r['pdeflow_serial_pairs_per_s'] / 1e9:.2f} G/s) "
            f"| {_s(r['numpy_s'])} ({r['numpy_pairs_per_s'] / 1e9:.3f} G/s) | {r['ratio']:.3f} "
            f"| {r['ratio_serial']:.3f} | {r['max_rel_difference']:.1e} |")
    j = m["jko_1d"]
    lines += [
        "",
        f"**JKO step, 1D** ({j['case'].split(', ', 1)[1]}). pdeflow: Newton on the tridiagonal "
        "system (tol 1e-10). Baseline: `scipy.optimize.minimize(method=\"L-BFGS-B\")` on the "
        "same discrete functional in NumPy (variables scaled by the W2 metric, walls as bounds, "
        "run to its round-off floor). Gap: relative W2 distance between the two minimisers.",
        "",
        "| pdeflow | iterations | L-BFGS-B | iterations | ratio | W2 gap | F gap |",
        "|---|---|---|---|---|---|---|",
        f"| {_s(j['pdeflow_s'])} | {j['newton_iterations']} | {_s(j['baseline_s'])} | "
        f"{j['lbfgs_iterations']} | {j['ratio']:.2g} | {j['relative_w2_gap']:.1e} | "
        f"{j['objective_gap']:.1e} |",
        "",
        "**Entropic JKO step, 2D** (Fokker–Planck, τ = 0.1, ε = dx², cold start, tol 1e-9). "
        "pdeflow: exp-domain iterations where the scalings stay in range (checked every iteration; "
        "else the log domain, shifted BLAS products), separable kernel. Baselines: the "
        "same iterations in NumPy (exp domain with the separable or the dense kernel; log domain "
        "with `logsumexp`, timed per iteration over a few iterations) and POT's "
        "`ot.unbalanced.sinkhorn_unbalanced` (dense kernel, `reg_m = (2τD, ∞)`, run for "
        "pdeflow's iteration count). Dense kernels only up to 64² (128²: 2 GiB a matrix).",
        "",
        "| grid | pdeflow step (iterations) | baseline | baseline step (iterations) | "
        "ratio (step) | ratio (per iteration) | L1 difference |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in m["jko_2d"]:
        n = int(round(np.sqrt(r["cells"])))
        for b in r["baselines"]:
            row = (f"| {n}² | {_s(r['pdeflow_s'])} ({r['iterations']}, {r.get('domain', 'log')} "
                   f"domain) | {b['description']}")
            difference = f"{b['l1_difference']:.1e}" if "l1_difference" in b else ""
            if "failed" in b:
                lines.append(f"{row} | {b['failed']} | | | |")
            elif "s_per_step" in b:
                lines.append(f"{row} | {_s(b['s_per_step'])} ({b['iterations']}) | {b['ratio']:.3f} "
                             f"| {b['ratio_per_iteration']:.3f} | {difference} |")
            else:
                lines.append(f"{row} | {_s(b['s_per_iteration'])} per iteration | "
                             f"| {b['ratio_per_iteration']:.3f} | {difference} |")
    lines += [
        "",
        "**Finite elements**: one implicit Euler step, Fokker–Planck (V = |x|², symmetrised "
        "form), disk of radius 2. pdeflow: the step with its LU factorisation reused (as in a run: "
        "G is constant) and with the factorisation (`splu`, minimum degree on A + Aᵀ, after a "
        "reverse Cuthill–McKee renumbering where the mesh's numbering is 10× wider). Baselines: "
        "scikit-fem assembly (weighted stiffness, lumped mass) + `scipy.sparse.linalg.spsolve` "
        "(SuperLU, COLAMD) every step, and `spsolve` alone on the assembled matrix.",
        "",
        "| nodes | pdeflow step | pdeflow step + factorisation | scikit-fem + spsolve | "
        "spsolve only | ratio | ratio vs spsolve | factorising / spsolve | max rel. difference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in m["fem"]:
        lines.append(
            f"| {r['nodes']} | {_s(r['pdeflow_s'])} | {_s(r['pdeflow_factorise_s'])} | "
            f"{_s(r['skfem_spsolve_s'])} | {_s(r['spsolve_s'])} | {r['ratio']:.3f} | "
            f"{r['ratio_vs_spsolve']:.3f} | {r['ratio_factorise_vs_spsolve']:.2f} | "
            f"{r['max_rel_difference']:.1e} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()

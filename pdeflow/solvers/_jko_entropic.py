"""Entropic JKO step on a grid (Peyré 2015, "Entropic approximation of Wasserstein gradient flows").

The JKO step ρ = argmin E[ρ] + W2²(ρ, ρ_k)/(2τ) with W2² replaced by its entropic regularisation

    W_ε(ρ, ρ_k) = min_{π ∈ Π(ρ, ρ_k)} ⟨|x − y|², π⟩ + ε Σ π (log π − 1)

becomes, with the Gibbs kernel ξ(x, y) = exp(−|x − y|²/ε) and κ = 2τ/ε, the KL-proximal problem

    min_π  KL(π | ξ) + κ E(π 1)   subject to   πᵀ 1 = p_k,

over couplings of cell masses (p_i = ρ_i |cell|). Its solution is π = diag(a) ξ diag(b), with the
Sinkhorn-like iterations

    a ← prox_{κE}(ξ b) / (ξ b),     b ← p_k / (ξᵀ a),      prox_{κE}(z) = argmin_q κE(q) + KL(q | z),

and ρ_{k+1} = (a ⊙ ξ b) / |cell|. The proximal map is per cell, with Φ = V + W*ρ_k (the interaction
is evaluated at the previous step, a linearisation of ½∬Wρρ):

- U = D ρ log ρ:          log q = (log z − κΦ + κD (log|cell| − 1)) / (1 + κD)      (closed form);
- U = D ρ^m/(m − 1):     u = log q solves A e^{(m−1)u} + u = log z − κΦ, A = κDm/(m−1) |cell|^{1−m}
                          (scalar Newton per cell; the left side is convex and increasing in u);
- no U:                   log q = log z − κΦ.

The kernel is separable, ξ = ⊗_k ξ_k with ξ_k(x, x') = exp(−(x − x')²/ε) on the cell centres of
axis k (minimum-image distance on periodic axes), so ξ b is one small matrix product per axis;
no (cells × cells) matrix is formed, and ξ is symmetric (ξᵀ = ξ).

Two domains, one iteration. The *log domain* iterates a = e^α, b = e^β: each axis product is a
log-sum-exp, evaluated as m + log Σ_l ξ_kl e^{β_l − m} with m the row maximum (a BLAS product),
and recomputed exactly (scipy ``logsumexp`` over log ξ + β) for the entries whose sum falls below
1e-280, where the product would underflow. It is safe for any ε, but slow (2.7–5× the iteration
on a, b itself at 32²–64²). The *exp domain* iterates a, b themselves: each ξv is a matrix product
per axis into preallocated arrays, and with entropy (or no U) a = G z^{−γ}, z = ξb, γ = κD/(1 + κD),
log G = (κD(log|cell| − 1) − κΦ)/(1 + κD) (without U: γ = 0, G = e^{−κΦ}); the power law keeps
its Newton on log z, and a = q/z < e^{−κΦ} = G bounds it. The exp domain computes the same
iterates as the log domain up to round-off when

1. before the step, |log G| ≤ 644 (G and 1/G ≥ 1e-280);
2. at every product ξv (v = b, then a): min ξv ≥ 1e-280 max(1, max v) and max v ≤ 1e280, with
   the bounds max b ≤ max p / min ξa and max a ≤ max G (min ξb)^{−γ}. An entry of ξ, of v or of
   an intermediate product that underflows errs by at most 2^{−1074} (max v + 1), so each entry of
   ξv is then exact to N·1e-43 relative (N cells); a NaN or inf reaches the marginal error.

The kernel's smallest entry exp(−L²/ε) is no criterion: at ε = dx² it underflows (< 1e-308) on
any axis of 28 cells or more, while the products stay exact wherever the density fills the box.
Check 2 fails where a product ξv spans more than 280 decades: a vacuum region reaching farther
than sqrt(644 ε) (25 cells at ε = dx²) from the support, or far tails against a large κ, where the
span grows by ~10 decades per iteration (measured: an off-centre Ornstein–Uhlenbeck step on 128²
cells, ε = dx², τ = 0.1, fails it at iteration 31 of 1019; ε = dx²/20 on 48², at 43 of 754).
Then the step restarts in the log domain from its start (ρ, β), so its result is the log
domain's, bit for bit. ``domain="auto"`` (the default) does this; "exp" raises instead, "log"
never tries the exp domain. The domain of a step depends on its inputs alone (ρ, β, τ), never on
the domains of earlier steps.

Warm start: the iterations of a step start from the β of the previous step (a quarter fewer
iterations), except the first step after a snapshot (each ``advance``), which starts cold
(β = 0 on the support): the step from a snapshot then depends on the snapshot's density alone, so a
run resumed from its stored density continues bitwise as the uninterrupted run. The state is the
density itself (the cell masses p = ρ|cell| are formed at each step), stored exactly with every
snapshot.

Stopping rule: the two marginal constraints are met alternately; after the b-update πᵀ1 = p_k
exactly, and the iteration stops when the first marginal moved by less than ``tol``:
‖a ⊙ ξ b_new − q‖₁ / M ≤ tol (q = a ⊙ ξ b_old). Mass: Σ_i (π1)_i = Σ_j (πᵀ1)_j = Σ p_k, so it is
conserved to round-off at every iterate.

Entropic bias. The blur sqrt(ε) is the length scale of the regularisation: one step without an
energy convolves ρ with a Gaussian of variance ε/2 per axis. Over a step of length τ this acts as
an extra diffusion D_ε = ε/(4τ); the scheme approximates the flow of E + D_ε ∫ρ log ρ, so ε ≪ 4τD
is needed for accuracy, and ε ≳ dx²/2 for the kernel to couple neighbouring cells.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from ..energy import Entropy, PowerLaw
from ..errors import PdeflowError

UNDERFLOW = 1e-280  # a kernel sum below this (times the largest term) is not exact in float64
LOG_RANGE = -math.log(UNDERFLOW)  # 644.7: the exp domain keeps G within e^{±LOG_RANGE}
DOMAINS = ("auto", "exp", "log")

Plan = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # np.matmul(x, y, out=o), one per axis


class EntropicJKO:
    """State (the density ρ, the log-scaling β of the warm start) and JKO step of the entropic
    scheme.

    Parameters
    ----------
    problem : Problem
        On a grid with 2 or 3 axes (walls or periodic per axis).
    epsilon : float
        Entropic regularisation ε (a squared length); blur sqrt(ε).
    tol, max_iter : float, int
        Marginal-error stopping rule and iteration cap per step.
    domain : {"auto", "exp", "log"}
        Where the iteration runs (module docstring): "auto" in the exp domain where exact, else
        in the log domain; "exp" raises where the exp domain is not exact; "log" always.

    Attributes
    ----------
    last_domain : str
        The domain the last step ran in ("exp" or "log").
    """

    def __init__(self, problem, epsilon: float, tol: float, max_iter: int, domain: str = "auto"):
        if domain not in DOMAINS:
            raise PdeflowError(f"entropic JKO domain must be one of {DOMAINS}, got {domain!r}")
        grid = problem.grid
        self.grid = grid
        self.epsilon, self.tol, self.max_iter = float(epsilon), float(tol), int(max_iter)
        self.domain, self.last_domain = domain, ""
        self.grid_energy = problem.energy.on(grid)
        self.internal = problem.energy.internal
        self.cell = grid.cell_volume
        self.log_kernels = []
        for x, length, periodic in zip(grid.axes, grid.lengths, grid.periodic, strict=True):
            r = x[:, None] - x[None, :]
            if periodic:
                r = r - length * np.round(r / length)
            self.log_kernels.append(-(r**2) / self.epsilon)
        self.kernels = [np.exp(lk) for lk in self.log_kernels]
        self.rho = np.array(problem.rho0, dtype=float)
        self.mass = float(np.sum(self.rho * self.cell))
        self.beta: np.ndarray | None = None  # the warm start; None: cold (β = 0 on the support)
        # exp-domain work arrays and the matrix products between them
        self._a, self._b, self._s, self._t, self._G = (np.empty(grid.shape) for _ in range(5))
        self._z = (np.empty(grid.shape), np.empty(grid.shape))  # ξb of this and of the last iterate
        self._between = (np.empty(grid.shape), np.empty(grid.shape))
        self._to_s = self._plan(self._a, self._s)
        self._to_z = tuple(self._plan(self._b, z) for z in self._z)

    def forget(self) -> None:
        """Start the next step cold: its result then depends on the density alone (resume)."""
        self.beta = None

    def restore(self, density: np.ndarray) -> None:
        """Put back the state of a stored snapshot (the density; the next step starts cold)."""
        self.grid.check_shape(density, "stored density")
        self.rho = np.array(density, dtype=float)
        self.beta = None

    # -- the separable Gibbs kernel -----------------------------------------------------------------
    def log_apply(self, log_v: np.ndarray) -> np.ndarray:
        """log(ξ e^{log_v}), one log-sum-exp matrix product per axis."""
        out = log_v
        for axis, (K, log_K) in enumerate(zip(self.kernels, self.log_kernels, strict=True)):
            out = _log_apply_axis(out, K, log_K, axis)
        return out

    def _plan(self, src: np.ndarray, dst: np.ndarray) -> Plan:
        """The products that write ξ src into dst: last axis first, through two work arrays."""
        shape, plan, v = src.shape, [], src
        for k in reversed(range(len(shape))):
            out, n = (dst if k == 0 else self._between[k % 2]), shape[k]
            pre, post = math.prod(shape[:k]), math.prod(shape[k + 1:])
            if post == 1:  # last axis: (ξ_k v)_{ri} = Σ_l v_rl ξ_k,il
                plan.append((v.reshape(pre, n), self.kernels[k].T, out.reshape(pre, n)))
            else:  # stacked over the leading axes (none for axis 0)
                view = (n, post) if pre == 1 else (pre, n, post)
                plan.append((self.kernels[k], v.reshape(view), out.reshape(view)))
            v = out
        return plan

    @staticmethod
    def _apply(plan: Plan) -> None:
        for x, y, out in plan:
            np.matmul(x, y, out=out)

    # -- the proximal map of κE ---------------------------------------------------------------------
    def log_prox(self, log_z: np.ndarray, phi: np.ndarray, kappa: float) -> np.ndarray:
        """log q, q = argmin_q κE(q) + KL(q|z), per cell (see the module docstring)."""
        finite = np.isfinite(log_z)
        r = np.where(finite, log_z, 0.0) - kappa * phi
        internal = self.internal
        if isinstance(internal, Entropy) and internal.D > 0:
            kD = kappa * internal.D
            log_q = (r + kD * (np.log(self.cell) - 1.0)) / (1.0 + kD)
        elif isinstance(internal, PowerLaw) and internal.D > 0:
            m = internal.m
            A = kappa * internal.D * m / (m - 1) * self.cell ** (1 - m)
            log_q = _solve_power_prox(r, A, m)
        elif internal is None or internal.D == 0:
            log_q = r
        else:
            raise PdeflowError(f"the entropic JKO has no proximal map for {internal!r}")
        return np.where(finite, log_q, -np.inf)

    # -- one JKO step --------------------------------------------------------------------------------
    def step(self, tau: float, t: float) -> tuple[int, float]:
        """p ← first marginal of the entropic JKO plan; returns (iterations, marginal error)."""
        kappa = 2.0 * tau / self.epsilon
        p = self.rho * self.cell
        phi = self.grid_energy.drift_potential(self.rho)
        if self.domain != "log":
            done = self._exp_step(p, phi, kappa, t)
            if done is not None:
                self.last_domain = "exp"
                return done
            if self.domain == "exp":
                raise PdeflowError(
                    f"entropic JKO: the exp-domain scalings left the exact float64 range at "
                    f"t={t:.4g} (epsilon={self.epsilon:.3g}, tau={tau:.3g}); use domain='auto' "
                    "(falls back to the log domain) or domain='log'"
                )
        self.last_domain = "log"
        return self._log_step(p, phi, kappa, tau, t)

    def _exp_step(self, p: np.ndarray, phi: np.ndarray, kappa: float, t: float) -> tuple[int, float] | None:
        """The iteration on a, b themselves; None (nothing changed) where a check fails."""
        internal = self.internal
        closed = internal is None or internal.D == 0 or isinstance(internal, Entropy)  # a = G z^{−γ}
        kD = kappa * internal.D if isinstance(internal, Entropy) else 0.0
        gamma, G = kD / (1.0 + kD), self._G
        np.multiply(phi, -kappa, out=G)
        if kD > 0:
            G += kD * (math.log(self.cell) - 1.0)
            G /= 1.0 + kD
        lo, hi = float(G.min()), float(G.max())
        if not (-LOG_RANGE <= lo and hi <= LOG_RANGE):  # check 1 (False for NaN)
            return None
        np.exp(G, out=G)
        G_max, p_max = math.exp(hi), float(p.max())
        a, b, s, tmp = self._a, self._b, self._s, self._t
        if self.beta is None:
            np.greater(p, 0.0, out=b)
        else:
            np.exp(self.beta, out=b)
        k, z = 0, self._z[0]
        self._apply(self._to_z[0])
        z_min = float(z.min())
        if not _exact(z_min, float(b.max())):
            return None
        error = np.inf
        with np.errstate(all="ignore"):  # what leaves the range is caught by the checks
            for iteration in range(1, self.max_iter + 1):
                if closed:
                    np.power(z, -gamma, out=a)
                    a *= G
                else:
                    np.log(z, out=tmp)
                    np.subtract(self.log_prox(tmp, phi, kappa), tmp, out=a)
                    np.exp(a, out=a)
                self._apply(self._to_s)  # s = ξᵀa
                s_min = float(s.min())
                if not _exact(s_min, G_max * z_min**-gamma):
                    return None
                np.divide(p, s, out=b)
                z_new = self._z[1 - k]
                self._apply(self._to_z[1 - k])
                z_min = float(z_new.min())
                if not _exact(z_min, p_max / s_min):
                    return None
                np.subtract(z_new, z, out=tmp)
                np.abs(tmp, out=tmp)
                error = float(np.vdot(a, tmp)) / self.mass  # ‖a ⊙ ξb_new − a ⊙ ξb‖₁ / M
                k, z = 1 - k, z_new
                if error <= self.tol:
                    self.beta = np.log(b)  # warm start of the next step
                    self.rho = a * z / self.cell
                    return iteration, error
                if not error < np.inf:
                    return None
        raise self._not_converged(t, error)

    def _log_step(
        self, p: np.ndarray, phi: np.ndarray, kappa: float, tau: float, t: float
    ) -> tuple[int, float]:
        """The iteration on α = log a, β = log b (exact for any ε)."""
        with np.errstate(divide="ignore"):
            log_p = np.log(p)
        beta = self.beta if self.beta is not None else np.where(p > 0, 0.0, -np.inf)
        log_z = self.log_apply(beta)
        error = np.inf
        with np.errstate(invalid="ignore", over="ignore"):
            for iteration in range(1, self.max_iter + 1):
                log_q = self.log_prox(log_z, phi, kappa)
                alpha = np.where(np.isfinite(log_z), log_q - log_z, -np.inf)
                beta = np.where(p > 0, log_p - self.log_apply(alpha), -np.inf)
                log_z = self.log_apply(beta)
                row = np.exp(alpha + log_z)
                error = float(np.sum(np.abs(row - np.exp(log_q)))) / self.mass
                if error <= self.tol:
                    self.beta = beta  # warm start of the next step
                    self.rho = row / self.cell
                    return iteration, error
                if not np.isfinite(error):
                    raise PdeflowError(
                        f"entropic JKO produced non-finite scalings at t={t:.4g} "
                        f"(epsilon={self.epsilon:.3g}, tau={tau:.3g}); increase epsilon"
                    )
        raise self._not_converged(t, error)

    def _not_converged(self, t: float, error: float) -> PdeflowError:
        return PdeflowError(
            f"entropic JKO did not converge in max_iter={self.max_iter} iterations at "
            f"t={t:.4g} (marginal error {error:.3e} > tol {self.tol:.1e}); raise max_iter "
            "or epsilon, or loosen tol"
        )

    def density(self) -> np.ndarray:
        return self.rho


def _exact(smallest: float, largest_source: float) -> bool:
    """Check 2 of the module docstring: min ξv ≥ 1e-280 max(1, max v), max v ≤ 1e280 (no NaN)."""
    return largest_source <= 1.0 / UNDERFLOW and smallest >= UNDERFLOW * max(1.0, largest_source)


def _log_apply_axis(log_v: np.ndarray, K: np.ndarray, log_K: np.ndarray, axis: int) -> np.ndarray:
    """log Σ_l K_kl e^{v_l} along ``axis``: shifted BLAS product, exact where it underflows."""
    moved = np.moveaxis(log_v, axis, -1)
    shape = moved.shape
    v = moved.reshape(-1, shape[-1])
    top = v.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    sums = np.exp(v - top) @ K.T
    with np.errstate(divide="ignore"):
        out = top + np.log(sums)
    low = sums < UNDERFLOW
    if low.any():
        rows, cols = np.nonzero(low)
        out[rows, cols] = logsumexp(log_K[cols, :] + v[rows, :], axis=1)
    return np.moveaxis(out.reshape(shape), -1, axis)


def _solve_power_prox(r: np.ndarray, A: float, m: float) -> np.ndarray:
    """u solving A e^{(m−1)u} + u = r per cell, by Newton.

    The left side is convex and increasing: from u₀ = min(r, (log(1 + |r|) − log A)/(m − 1)) the
    first iterate lands right of the root and the rest decrease monotonically onto it.
    """
    u = np.minimum(r, (np.log1p(np.abs(r)) - np.log(A)) / (m - 1))
    for _ in range(100):
        e = A * np.exp((m - 1) * u)
        du = (e + u - r) / ((m - 1) * e + 1.0)
        u = u - du
        if np.max(np.abs(du)) <= 1e-13 * (1.0 + np.max(np.abs(u))):
            break
    return u

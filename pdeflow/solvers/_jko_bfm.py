"""Back-and-forth JKO step on a 2D grid (Jacobs & Léger 2020; Jacobs, Lee & Léger 2021).

One JKO step ρ = argmin_ρ E_k[ρ] + W2²(ρ, μ)/(2τ), μ = ρ_k, with the energy of the step

    E_k[ρ] = ∫ U(ρ) + ∫ Φ ρ,     Φ = V + W*ρ_k        (the interaction lagged one step),

is solved through its dual: with c(x, y) = |x − y|²/(2τ) and U*(φ) = ∫ u*(φ − Φ) the convex
conjugate of E_k,

    sup_φ J(φ),   J(φ) = ∫ φ^c dμ − U*(φ),       φ^c(y) = min_x φ(x) + c(x, y),
    sup_ψ I(ψ),   I(ψ) = ∫ ψ dμ − U*(ψ^c̄),       ψ^c̄(x) = max_y ψ(y) − c(x, y),

two forms of the same dual problem, whose solutions give the minimiser ρ = δU*(φ):

    U = D ρ log ρ:            u*(s) = D e^{s/D − 1},                  ρ = e^{(φ − Φ)/D − 1};
    U = D ρ^m/(m − 1):        u*(s) = (m − 1)/m · s ρ,                 ρ = ((m − 1)(φ − Φ)₊/(D m))^{1/(m−1)}.

The iteration alternates one gradient-ascent step on J (in φ) and one on I (in ψ), switching
between them by exact c-transforms (ψ = φ^c after the φ-step, φ = ψ^c̄ after the ψ-step):

    φ ← φ + σ_φ P (T_φ#μ − δU*(φ)),          ψ ← ψ + σ_ψ P (μ − S_ψ#δU*(ψ^c̄)),

where T_φ#μ(x) = μ(x + τ∇φ) det(I + τD²φ) and S_ψ#ρ(y) = ρ(y − τ∇ψ) det(I − τD²ψ) are the
push-forwards by the optimal maps written with the Jacobian formula (the gradients of
∫φ^c dμ and of U*(ψ^c̄)), and P is the H¹ preconditioner, one DCT (walls: Neumann) or FFT
(periodic axes) Poisson solve per half step, scaled to the dual's Hessian, whose transport part
is ≈ τ(−∇·μ∇) and whose energy part is the multiplication by ∂ρ/∂φ:

    U = D ρ log ρ:     P = w⁻¹ (τ μ_max (−Δ) + μ_max/D)⁻¹ w⁻¹,   w² = μ/μ_max + 3·10⁻⁶,

spectrally close to (−τ∇·μ∇ + μ/D)⁻¹ wherever μ > 3·10⁻⁶ μ_max (the difference is the
multiplication by τ μ^{1/2}Δμ^{1/2}), so that σ = 1 is the natural step for every mode, the
wide ones (a Gaussian's variance) included, where the unweighted (τ μ_max (−Δ) + θ)⁻¹ took
hundreds of iterations (measured; its tail converges sublinearly). Below the floor, in the far
tails where the Jacobian formula's relative error is O(1), P is smaller than the inverse
Hessian by μ_max w²/μ: those cells are kept from large updates. The floor is a trade-off,
measured: at 10⁻⁴, P is up to 100 times below the inverse Hessian in the cells between 10⁻⁴
and 10⁻⁶ of the peak, which hold ~10⁻⁴ of the mass and so go unseen by the dual and the
residuals; they lagged step after step, and at small τ (many steps) their error grew into
bumps up to 300 times the exact density (1e-3 where it is 1e-5), which raised the residuals'
floor until the ascent stalled (fokker-planck preset, τ = 0.02: from t ≈ 0.3 on, failing at
t = 1.3; 50 steps of τ = 0.01 from t = 1: L¹ error in those tails 3.6e-5 at 10⁻⁴, 7.5e-6 at
10⁻⁶). At
3·10⁻⁶ that preset takes 9.8, 14.9 and 18.6 iterations per step on average at τ = 0.0625, 0.02
and 0.01 (22.4 at 0.0625 with 10⁻⁴); at 10⁻⁶ the coarse heat step of the tests (64², a
Gaussian of variance 0.5, whose tails the grid does not resolve) is off by 1.4 %.

    U = D ρ^m/(m − 1): P = (τ μ_max (−Δ) + θ)⁻¹, θ = 0.05 max ∂ρ/∂φ|_{ρ_k}.

The steps σ adapt after each half step (Armijo and Goldstein tests on the dual values, as the
authors adapt theirs): a half step that lowers the dual by more than 0.1 of its predicted rise
σ⟨r, P r⟩ is an overshoot and is retried with σ/2, and after six halvings one that lowers it
by more than the whole predicted rise (smaller falls are the discretisation's: the Jacobian
formula is not the exact derivative of the grid dual, which shows near convergence, where a
strict ascent test would stall); then σ shrinks by 0.9 when
the gain was below 0.1 of the prediction and grows by 1.1 when above 0.9 of it. The baselines
are exact: J(φ) at φ = ψ^c̄ costs one more c-transform (three per iteration).

The c-transforms are the exact grid ones (lower envelopes, :mod:`pdeflow._numba.c_transform`) refined by
the local quadratic model of the potential around the grid minimiser: the plain grid minimum
is off by up to a dx²/(8τ), which switches cell as the displacement passes dx/2 and puts
O(1/τ) kinks into the second differences the Jacobian formula needs; the refined transform is
exact for quadratic potentials and smooth otherwise.

Mass, exactly. J(φ + c) is concave in the constant c with derivative M − ∫δU*(φ + c): after
every update φ is shifted by the c that maximises J along constants, ∫δU*(φ + c) = M (closed
form for the entropy, a bracketed 1D root find, brentq, for the power law; the same shift is
applied to ψ). This exact maximisation over the constants is part of the ascent, not a
correction afterwards: every iterate, and so the returned density ρ_{k+1} = δU*(φ), has the
mass M = ∫ρ_k to round-off. The constant mode of P is then immaterial.

Stopping rule. The relative L¹ residuals of the optimality conditions, ‖T_φ#μ − ρ‖₁/M and
‖μ − S_ψ#ρ‖₁/M, have a floor of the discretisation's size (the Jacobian formulas of the two
conditions agree only to O(dx²)), so they are reported, not used to stop. Their mass defect
(the Jacobian formula conserves mass only to O(dx²)) is removed in proportion to ρ (forth) and
μ (back), the direction along which the exact mass shift acts (∂ρ/∂c = ρ/D for the entropy),
not uniformly: a uniform correction put a density of the defect's size, per unit area, into
every cell, orders of magnitude above the far tails, which the ascent then filled (with the
weight floor above, the second cause of the stall at small τ). The step stops when the dual
I(ψ) rose, over the last back-and-forth iteration, by at most ``tol`` times its rise over the
whole step (default 1e-4). This *relative dual increment* is what the step reports; it is not
a certified primal–dual gap (that would need W2(ρ, μ), which the step never forms).

The grid dual is not smooth: the refined c-transform switches its local model where the grid
minimiser moves, so its values carry a noise of O(dx³) per cell that no ascent removes, and
the switch between J and I through the two refined transforms is not exactly monotone (it
lost up to 1.6e-4 per iteration at the stalled step above, whose whole dual gain was 4e-4).
Where that noise exceeds ``tol`` times the step's dual gain (small τ, coarse grids, rough
data) the dual stops rising and falls back and forth; the step then also ends ("floor") when
the dual fell over three iterations in a row *and* both residuals are at the floor of the
discretisation, measured on the step's own data: the round trip of μ forth by the cold start
φ₀ and back by ψ₀ = φ₀^c, ‖S_ψ₀#(T_φ₀#μ) − μ‖₁/M (its mass defect removed in proportion to μ),
the two Jacobian push-forwards' consistency at this step's displacement (two pull-backs a
step). At a solution the round trip is S_ψ#r_f − r_b, so the residuals cannot both fall much
below half of it: measured on the fokker-planck preset at t = 1.3, τ = 0.02, 1.3e-3 for smooth
data (the back residual where the forth one is solved to 4e-5: 1.3e-3; both at 7e-4 at the
end of the back-and-forth ascent) and 1.0e-2 for the rough data the stall left. This replaces
three rules of thumb (residuals below 0.2 of their first value, stagnant within 1 % over four
iterations, within 1.5 times the smallest residual an earlier step ended at — the last one
held before any step had ended); on the fokker-planck preset the steps end where they ended
under those rules, and the porous medium at 64² (τ = 0.01) takes 18 iterations per step
instead of 9 (W2 against Barenblatt 8.6e-3, was 8.9e-3). A step whose step sizes collapse
(σ < 1e-8: no ascent direction is left at the grid's resolution) ends the same way when at
that floor; above it σ restarts at 1, at most three times a step (the Goldstein shrinking can
trap it in a kink of the grid dual).
Such steps are counted (``floor_stops``, with the run's summary): on the fokker-planck preset
1, 10 and 15 of 32, 100 and 200 steps at τ = 0.0625, 0.02 and 0.01 (none are needed there:
without the floor rule every step ends by ``tol``, W2 changing by < 4 %), whose W2 errors
against the exact solution at t = 2 are 1.6e-2, 5.3e-3 and 2.6e-3 (first order in τ; the
residuals fall from 4.7e-3 (τ = 0.02) and 2.9e-3 (0.01) at the first step to 4.1e-4 and
2.8e-4 at t = 2, where before they sat at 1.5e-3 from t ≈ 1 on and rose). A step that meets
no rule in ``max_iter`` iterations, or whose σ collapses above the floor, raises an error
with the increment and both residuals.

Cold start: each step starts from φ = U'(ρ_k) + Φ (the dual variable for which δU*(φ) = ρ_k),
so a step depends on ρ_k alone and a resumed run continues bitwise.

What this scheme is not: it has no entropic blur, but the grid c-transform minimises over cell
centres, and the Jacobian formula interpolates μ bilinearly; both are O(dx²) for smooth data.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

from .._numba.c_transform import c_transform, pull_back_2d
from ..energy import TINY, Entropy, PowerLaw
from ..errors import PdeflowError
from ..spectral import SpectralLaplacian

SHRINK, GROW = 0.9, 1.1           # step-size factors
THETA = 0.05                       # power law: P's energy part, a fraction of max ∂ρ/∂φ
ACCEPT = 0.1                       # a half step may lower the dual by ACCEPT × its predicted rise,
HALVINGS = 6                       # by its whole predicted rise after HALVINGS halvings of σ
WEIGHT_FLOOR = 3e-6                # entropy: P's weight w² = μ/max μ + WEIGHT_FLOOR
FALLS = 3                          # the grid dual's noise floor: see "Stopping rule"
RESTARTS = 3                       # σ restarts (at 1) per step when it collapses above the floor
MIN_STEP = 1e-8                    # a step σ below this stalls the ascent: an error
BETA_LOW, BETA_HIGH = 0.1, 0.9     # Goldstein band for the ratio gain / predicted gain


class BackAndForthJKO:
    """State (the density ρ) and JKO step of the back-and-forth method on a 2D grid.

    Parameters
    ----------
    problem : Problem
        On a 2D grid (walls or periodic per axis), with U = D ρ log ρ or D ρ^m/(m − 1), D > 0.
    tol, max_iter : float, int
        Relative dual-increment stopping rule and iteration cap per step (module docstring).

    Attributes
    ----------
    last_increment : float
        The last step's final dual increment, relative to its total dual increase (the
        stopping quantity, module docstring).
    last_residual : float
        The last step's final relative L¹ residual of the optimality conditions.
    last_stop, floor_stops : str, int
        Which rule ended the last step ("tolerance" or "floor"), and how many steps ended at
        the noise floor so far.
    consistency : float
        The last step's floor of the residuals: the push-forwards' round trip at its cold start.
    """

    def __init__(self, problem, tol: float, max_iter: int):
        grid = problem.grid
        if grid.ndim != 2:
            raise PdeflowError(
                f"the back-and-forth JKO runs on 2D grids, this one has {grid.ndim} axes; "
                "use solver='entropic'"
            )
        internal = problem.energy.internal
        if not isinstance(internal, Entropy | PowerLaw) or internal.D <= 0:
            raise PdeflowError(
                "the back-and-forth JKO needs an internal energy D rho log rho or "
                f"D rho^m/(m-1) with D > 0 (got {internal!r}); use solver='entropic'"
            )
        self.grid, self.internal = grid, internal
        self.grid_energy = problem.energy.on(grid)
        self.tol, self.max_iter = float(tol), int(max_iter)
        self.cell = grid.cell_volume
        self.rho = np.array(problem.rho0, dtype=float)
        self.mass = float(np.sum(self.rho) * self.cell)
        self.last_residual = self.last_increment = 0.0
        self.last_stop, self.floor_stops = "", 0
        self.consistency = 0.0  # the last step's floor (module docstring, "Stopping rule")
        self._laplacian = SpectralLaplacian(grid)  # −Δ_h: DCT-II on walls, FFT on periodic axes

    def forget(self) -> None:
        """Nothing to forget: every step starts cold from ρ_k and measures its own floor, so the
        steps from a snapshot depend on its state alone."""

    def restore(self, density: np.ndarray) -> None:
        self.grid.check_shape(density, "stored density")
        self.rho = np.array(density, dtype=float)

    def density(self) -> np.ndarray:
        return self.rho

    # -- the energy's conjugate ------------------------------------------------------------------
    def _primal(self, s: np.ndarray) -> np.ndarray:
        """δU*: ρ as a function of s = φ − Φ."""
        D = self.internal.D
        if isinstance(self.internal, Entropy):
            return np.exp(s / D - 1.0)
        m = self.internal.m
        return ((m - 1.0) * np.maximum(s, 0.0) / (D * m)) ** (1.0 / (m - 1.0))

    def _conjugate(self, s: np.ndarray, rho: np.ndarray) -> float:
        """U*(φ) = Σ u*(s) |cell| at ρ = δU*(φ)."""
        if isinstance(self.internal, Entropy):
            return self.internal.D * float(np.sum(rho)) * self.cell
        m = self.internal.m
        return (m - 1.0) / m * float(np.sum(np.maximum(s, 0.0) * rho)) * self.cell

    def _mass_shift(self, s: np.ndarray) -> float:
        """The constant c with ∫δU*(s + c) = M (the maximiser of J along constants)."""
        D, M = self.internal.D, self.mass
        if isinstance(self.internal, Entropy):
            return D * (math.log(M / self.cell) - logsumexp(s / D - 1.0))
        m = self.internal.m
        area = self.cell * s.size
        lo = -float(s.max())
        hi = -float(s.min()) + D * m / (m - 1.0) * (M / area) ** (m - 1.0)
        excess = lambda c: float(np.sum(self._primal(s + c))) * self.cell - M  # noqa: E731
        return brentq(excess, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=200)

    def _dual(self, psi: np.ndarray, phi: np.ndarray, rho: np.ndarray, Phi: np.ndarray) -> float:
        """∫ψ dμ − U*(φ): J(φ) for ψ = φ^c, I(ψ) for φ = ψ^c̄ (ρ = δU*(φ))."""
        return float(np.sum(psi * self.rho)) * self.cell - self._conjugate(phi - Phi, rho)

    # -- the H¹ preconditioner ---------------------------------------------------------------------
    def _precondition(self, r: np.ndarray, c1: float, theta: float, w=None) -> np.ndarray:
        """w^{-1/2} (c1 (−Δ) + θ)⁻¹ w^{-1/2} r: DCT on wall axes, FFT on periodic axes."""
        if w is not None:
            return self._precondition(r / w, c1, theta) / w
        return self._laplacian.solve(r, c1, theta)

    # -- one JKO step --------------------------------------------------------------------------------
    def step(self, tau: float, t: float) -> tuple[int, float]:
        """ρ ← the JKO step from ρ; returns (iterations, the final relative dual increment)."""
        grid, cell = self.grid, self.cell
        (hx, hy), (px, py) = grid.dx, grid.periodic
        mu = self.rho
        Phi = np.array(self.grid_energy.drift_potential(mu), dtype=float)
        internal = self.internal
        # cold start: δU*(φ) = ρ_k; its constant is fixed by the mass shift below
        phi = internal.first_variation(np.maximum(mu, TINY) if isinstance(internal, Entropy) else mu) + Phi
        D, mu_max = internal.D, float(mu.max())
        c1, w = tau * mu_max, None
        if isinstance(internal, Entropy):  # P = w⁻¹ (τ μ_max (−Δ) + μ_max/D)⁻¹ w⁻¹
            theta = mu_max / D
            w = np.sqrt(mu / mu_max + WEIGHT_FLOOR)
        else:
            m = internal.m
            theta = THETA * float(np.max(np.maximum(mu, TINY) ** (2.0 - m))) / (D * m)

        def normalise(phi):
            c = self._mass_shift(phi - Phi)
            phi = phi + c
            return phi, self._primal(phi - Phi), c

        def forth(sigma, g):  # φ ← φ + σg, then ψ = φ^c: (φ, ρ, ψ), J(φ)
            phi_new, rho_new, _ = normalise(phi + sigma * g)
            psi_new = c_transform(phi_new, tau, grid.dx, grid.periodic)
            return (phi_new, rho_new, psi_new), self._dual(psi_new, phi_new, rho_new, Phi)

        def back(sigma, g):  # ψ ← ψ + σg, then φ = ψ^c̄: (φ, ρ, ψ), I(ψ)
            phi_new, rho_new, c = normalise(c_transform(psi + sigma * g, tau, grid.dx, grid.periodic,
                                                        sign=-1.0))
            psi_new = psi + sigma * g + c
            return (phi_new, rho_new, psi_new), self._dual(psi_new, phi_new, rho_new, Phi)

        phi, rho, _ = normalise(phi)
        psi = c_transform(phi, tau, grid.dx, grid.periodic)
        value = self._dual(psi, phi, rho, Phi)
        pushed = np.empty(grid.shape)
        # the floor: the two Jacobian push-forwards' own consistency on this step's data, μ
        # forth by φ and back by ψ = φ^c at the cold start (module docstring, "Stopping rule")
        trip = np.empty(grid.shape)
        pull_back_2d(mu, phi, tau, hx, hy, px, py, pushed)
        pull_back_2d(pushed, psi, -tau, hx, hy, px, py, trip)
        trip -= mu
        trip -= np.sum(trip) / self.mass * cell * mu
        self.consistency = float(np.sum(np.abs(trip))) * cell / self.mass
        start = previous = value
        sigma_f = sigma_b = 1.0
        err_f = err_b = increment = np.inf
        falls, restarts = 0, 0
        for iteration in range(1, self.max_iter + 1):
            # forth: ascent on J(φ) from φ = ψ^c̄ (J(φ) ≥ I(ψ): its own baseline, one c-transform)
            if iteration > 1:
                value = self._dual(c_transform(phi, tau, grid.dx, grid.periodic), phi, rho, Phi)
            pull_back_2d(mu, phi, tau, hx, hy, px, py, pushed)
            r = pushed - rho
            r -= np.sum(r) / self.mass * cell * rho  # the mass defect, along ∂ρ/∂c (see docstring)
            err_f = float(np.sum(np.abs(r))) * cell / self.mass
            g = self._precondition(r, c1, theta, w)
            (phi, rho, psi), value, sigma_f = _ascend(forth, g, sigma_f, value, float(np.sum(r * g)) * cell)
            # back: ascent on I(ψ) from ψ = φ^c (its baseline I(φ^c) ≥ J(φ) costs the c̄-transform)
            phi, rho, c = normalise(c_transform(psi, tau, grid.dx, grid.periodic, sign=-1.0))
            psi = psi + c
            value = self._dual(psi, phi, rho, Phi)
            pull_back_2d(rho, psi, -tau, hx, hy, px, py, pushed)
            r = mu - pushed
            r -= np.sum(r) / self.mass * cell * mu
            err_b = float(np.sum(np.abs(r))) * cell / self.mass
            g = self._precondition(r, c1, theta, w)
            (phi, rho, psi), value, sigma_b = _ascend(back, g, sigma_b, value, float(np.sum(r * g)) * cell)
            increment, previous = value - previous, value
            self.last_residual = max(err_f, err_b)
            self.last_increment = increment / (value - start)
            falls = falls + 1 if increment < 0 else 0
            # at the floor: both residuals within the push-forwards' consistency on this step
            at_floor = self.last_residual <= self.consistency
            if not np.isfinite(value):
                break
            if min(sigma_f, sigma_b) < MIN_STEP:  # no ascent direction left: the floor, or fail
                if not at_floor and restarts < RESTARTS:
                    # the Goldstein shrinking can trap σ in a kink of the grid dual: afresh
                    restarts += 1
                    sigma_f = sigma_b = 1.0
                    continue
                if not at_floor:
                    break
                self.rho, self.last_stop = rho, "floor"
                self.floor_stops += 1
                return iteration, self.last_increment
            if iteration > 1 and abs(increment) <= self.tol * (value - start):
                self.rho, self.last_stop = rho, "tolerance"
                return iteration, self.last_increment
            if falls >= FALLS and at_floor:
                self.rho, self.last_stop = rho, "floor"
                self.floor_stops += 1
                return iteration, self.last_increment
        else:
            iteration = self.max_iter
        raise PdeflowError(
            f"back-and-forth JKO did not converge at t={t:.4g} (tau={tau:.3g}) after {iteration} "
            f"iterations (max_iter={self.max_iter}, step sizes {sigma_f:.2e}, {sigma_b:.2e}): last "
            f"dual increment {increment:.3e} = {self.last_increment:.3e} of the step's dual gain "
            f"(tol {self.tol:.1e}), residuals {err_f:.3e} (forth), {err_b:.3e} (back); raise "
            "max_iter, loosen tol, or refine the grid or tau where the data are rough"
        )


def _ascend(trial, g, sigma, baseline, predicted):
    """One ascent step along g, σ halved while the dual falls by more than 0.1 × the predicted
    rise σ⟨r, Pr⟩ (an overshoot), and after six halvings while it falls by more than the
    predicted rise itself (smaller falls are the discretisation's: the Jacobian formula is not
    the exact derivative of the grid dual, which shows near convergence); then Goldstein's
    update of σ for the next step: shrink when the gain is below 0.1 of the predicted rise,
    grow when above 0.9 of it."""
    halvings = 0
    while True:
        state, value = trial(sigma, g)
        gain = value - baseline
        slack = ACCEPT if halvings < HALVINGS else 1.0
        if gain >= -slack * sigma * predicted or sigma < MIN_STEP:
            break
        sigma *= 0.5
        halvings += 1
    return state, value, _adapt(sigma, gain, sigma * predicted)


def _adapt(sigma: float, gain: float, predicted: float) -> float:
    """Goldstein's test: shrink σ when the dual gained less than 0.1 of the predicted σ⟨r, Pr⟩,
    grow it when more than 0.9."""
    if not gain >= BETA_LOW * predicted:
        return sigma * SHRINK
    if gain > BETA_HIGH * predicted:
        return sigma * GROW
    return sigma

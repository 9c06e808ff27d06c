"""Weighted particles for Fisher–Rao and Wasserstein–Fisher–Rao flows: the weights react.

The measure μ_N = Σ_i w_i δ_{X_i} of the particle method moves its atoms with the Wasserstein
velocity −∇ξ (the particle step) and, with a Fisher–Rao part of rate α (:mod:`pdeflow.metric`),
changes their weights,

    dw_i/dt = −α w_i (ξ(X_i) − ξ̄),   ξ̄ = Σ_j w_j ξ(X_j) / Σ_j w_j     (normalized: Σ w kept)
    dw_i/dt = −α w_i ξ(X_i)                                           (unbalanced),

the conic particle gradient descent of Chizat (2022) and the birth–death dynamics of Rotskoff,
Jelassi, Bruna & Vanden-Eijnden (2019) for the network's risk. Each step after the transport
applies the exact solution for ξ frozen over the step,

    w_i ← w_i e^{−α dt ξ(X_i)} (· M / Σ_j w_j e^{−α dt ξ(X_j)} when normalized),

positive by construction, the mass exactly M when normalized (the normalisation is the exact
solution's, not a correction), first order in dt as the transport step (Lie splitting).

ξ(X_i) is evaluated at the particles: the potentials V(X_i); for low-rank interactions
W = s Σ_k φ_k ⊗ φ_k (the network), s Σ_k m_k φ_k(X_i), m_k = Σ_j w_j φ_k(X_j); for the entropy
U = D ρ log ρ, D (log ρ_h(X_i) + 1) with ρ_h the Gaussian kernel density estimate of the weighted
particles (:mod:`~._particle_kde`: its bandwidth rule, bias O(h²) and cost). A power law (U' needs
ρ^{m−1}, whose estimate is not implemented) and pair interactions W*ρ are refused: those flows run
with ``method="fv"``.

Birth–death resampling (``resample="birth-death"``): the reaction concentrates the mass on few
particles (the effective sample size ESS = (Σw)²/Σw² falls); when after a step ESS < ``resample_below``
× N, systematic resampling replaces them by N particles of weight M/N at the positions X_{a_k},
a_k the particle whose cumulative-weight interval holds (U + k) M/N, k = 0..N−1, with one uniform
U per event from the run's generator: particle i gets ⌊N w_i/M⌋ or ⌈N w_i/M⌉ copies (unbiased,
E[copies] = N w_i/M, less spread than multinomial resampling), Σw = M to round-off. Duplicates sit
at one point until the Brownian noise separates them (at the next step; with Fisher–Rao alone,
or without noise, they never part: resampling then trades spread weights for repeated atoms);
the number of events is the run's ``resample_events``.
"""

from __future__ import annotations

import numpy as np

from ..energy import Entropy
from ..errors import PdeflowError
from ._particle_kde import KernelDensity

RESAMPLE = ("none", "birth-death")


def reaction_refusal(problem) -> str | None:
    """Why weighted particles cannot solve the Fisher–Rao part of ``problem`` (None: they can)."""
    energy = problem.energy
    internal = energy.internal
    if internal is not None and getattr(internal, "D", 0.0) > 0 and not isinstance(internal, Entropy):
        return ("weighted particles need ξ = δE/δρ at the particles; they estimate the entropy's "
                f"log ρ there (a kernel density estimate), not U'(ρ) of {internal!r}: use method='fv'")
    if energy.interactions:
        return ("weighted particles evaluate potentials and low-rank interactions at the "
                "particles, not pair interactions W*ρ: use method='fv'")
    if any(not callable(term.V) for term in energy.potentials):
        return "weighted particles need potentials given as functions V(x, ...), not arrays"
    return None


class WeightReaction:
    """The Fisher–Rao part of a particle run: the weight update and its dissipation."""

    def __init__(self, energy, metric, drifts, density: KernelDensity | None = None,
                 resample: str = "none", resample_below: float = 0.5):
        self.energy, self.rate, self.normalized = energy, float(metric.rate), metric.normalized
        self.drifts = drifts  # the low-rank terms (FeatureDrift), whose moments give W*μ
        internal = energy.internal
        self.D = float(internal.D) if isinstance(internal, Entropy) and internal.D > 0 else 0.0
        if self.D and density is None:
            raise PdeflowError("the entropy at weighted particles needs a KernelDensity")
        self.density = density if self.D else None
        if resample not in RESAMPLE:
            raise PdeflowError(f"resample must be one of {RESAMPLE}, got {resample!r}")
        self.resample, self.resample_below = resample, float(resample_below)
        self.resample_events = 0
        self._index = None
        handled = [id(linear) for drift in drifts for linear in drift.linear]
        # the potentials not already in a drift's Ψ (those linear in its features are)
        self.potentials = [t for t in energy.potentials if id(t.gradient) not in handled]
        self.xi = None
        self._xi = self._part = None

    def first_variation(self, X: np.ndarray, w: np.ndarray) -> np.ndarray:
        """ξ(X_i) = D (log ρ_h(X_i) + 1) + Σ V(X_i) + Σ_terms s Σ_k m_k φ_k(X_i), in a buffer reused
        from step to step (the network's Ψ by the feature kernels, without an (n, N) array)."""
        if self._xi is None or self._xi.shape[0] != len(X):
            self._xi, self._part = np.zeros(len(X)), np.zeros(len(X))
        xi, part = self._xi, self._part
        xi[:] = 0.0
        if self.density is not None:
            np.log(self.density(X, w), out=xi)
            xi += 1.0
            xi *= self.D
        if self.potentials:
            cols = [X[:, k] for k in range(X.shape[1])]
            for term in self.potentials:
                xi += np.broadcast_to(term.V(*cols), xi.shape)
        for drift in self.drifts:
            drift.values(X, w, part)
            xi += part
        return xi

    def step(self, X: np.ndarray, w: np.ndarray, dt: float, rng: np.random.Generator) -> None:
        """w ← w e^{−α dt (ξ − c)} in place (c = max ξ for range, the exact normalisation after),
        then birth–death resampling of (X, w) in place when it is on and the ESS fell below."""
        xi = self.xi = self.first_variation(X, w)
        mass = float(w.sum())
        factor = self._part  # free once ξ is summed
        if self.normalized:  # the shift by max ξ (for range) cancels in the normalisation
            np.subtract(xi, xi.max(), out=factor)
            factor *= -self.rate * dt
            np.exp(factor, out=factor)
            w *= factor
            w *= mass / w.sum()
        else:
            np.multiply(xi, -self.rate * dt, out=factor)
            np.exp(factor, out=factor)
            w *= factor
        if self.resample != "none" and effective_size(w) < self.resample_below * len(w):
            self._index = systematic_resample(X, w, rng, self._index)
            self.resample_events += 1

    def summary(self) -> dict:
        """The resampling events so far and the KDE's evaluation (with the entropy)."""
        out = {"resample_events": self.resample_events}
        if self.density is not None:
            out["kde_mode"] = self.density.mode
        return out

    def dissipation(self, X: np.ndarray, w: np.ndarray) -> float:
        """α Σ_i w_i (ξ_i − ξ̄)² (normalized) or α Σ_i w_i ξ_i² (unbalanced): the Fisher–Rao part
        of −dE/dt."""
        xi = self.first_variation(X, w)
        if self.normalized:
            xi = xi - float(w @ xi) / float(w.sum())
        return self.rate * float(w @ xi**2)


def effective_size(w: np.ndarray) -> float:
    """ESS = (Σ w)² / Σ w²: N for equal weights, 1 when one particle holds all the mass."""
    return float(w.sum()) ** 2 / float(w @ w)


def systematic_resample(X: np.ndarray, w: np.ndarray, rng: np.random.Generator,
                        index: np.ndarray | None = None) -> np.ndarray:
    """Systematic resampling in place: X ← X[a_k], w ← M/N, a_k the particle whose cumulative
    weight interval holds (U + k) M/N, k = 0..N−1, U ~ U[0, 1) (one draw). Returns the index
    buffer (reused by the next call)."""
    N = len(w)
    mass = float(w.sum())
    cumulative = np.cumsum(w)
    u = (rng.random() + np.arange(N)) * (cumulative[-1] / N)
    if index is None or len(index) != N:
        index = np.empty(N, dtype=np.int64)
    index[:] = np.minimum(np.searchsorted(cumulative, u, side="right"), N - 1)
    X[...] = X[index]
    w.fill(mass / N)
    return index

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

ξ(X_i) is evaluated at the particles: the potentials V(X_i) and, for low-rank interactions
W = s Σ_k φ_k ⊗ φ_k (the network), s Σ_k m_k φ_k(X_i), m_k = Σ_j w_j φ_k(X_j). An internal
energy (ξ ∋ U'(ρ), which needs the density at the particles) and pair interactions are not
supported here: those flows run with ``method="fv"``.
"""

from __future__ import annotations

import numpy as np


def reaction_refusal(problem) -> str | None:
    """Why weighted particles cannot solve the Fisher–Rao part of ``problem`` (None: they can)."""
    energy = problem.energy
    internal = energy.internal
    if internal is not None and getattr(internal, "D", 0.0) > 0:
        return ("weighted particles need ξ = δE/δρ at the particles; an internal energy (U'(ρ)) "
                "needs the density there, not supported: use method='fv'")
    if energy.interactions:
        return ("weighted particles evaluate potentials and low-rank interactions at the "
                "particles, not pair interactions W*ρ: use method='fv'")
    if any(not callable(term.V) for term in energy.potentials):
        return "weighted particles need potentials given as functions V(x, ...), not arrays"
    return None


class WeightReaction:
    """The Fisher–Rao part of a particle run: the weight update and its dissipation."""

    def __init__(self, energy, metric, drifts):
        self.energy, self.rate, self.normalized = energy, float(metric.rate), metric.normalized
        self.drifts = drifts  # the low-rank terms (FeatureDrift), whose moments give W*μ
        handled = [id(linear) for drift in drifts for linear in drift.linear]
        # the potentials not already in a drift's Ψ (those linear in its features are)
        self.potentials = [t for t in energy.potentials if id(t.gradient) not in handled]
        self.xi = None
        self._xi = self._part = None

    def first_variation(self, X: np.ndarray, w: np.ndarray) -> np.ndarray:
        """ξ(X_i) = Σ V(X_i) + Σ_terms s Σ_k m_k φ_k(X_i), in a buffer reused from step to step
        (the network's Ψ by the feature kernels, without an (n, N) array)."""
        if self._xi is None or self._xi.shape[0] != len(X):
            self._xi, self._part = np.zeros(len(X)), np.zeros(len(X))
        xi, part = self._xi, self._part
        xi[:] = 0.0
        if self.potentials:
            cols = [X[:, k] for k in range(X.shape[1])]
            for term in self.potentials:
                xi += np.broadcast_to(term.V(*cols), xi.shape)
        for drift in self.drifts:
            drift.values(X, w, part)
            xi += part
        return xi

    def step(self, X: np.ndarray, w: np.ndarray, dt: float) -> None:
        """w ← w e^{−α dt (ξ − c)} in place (c = max ξ for range, the exact normalisation after)."""
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

    def dissipation(self, X: np.ndarray, w: np.ndarray) -> float:
        """α Σ_i w_i (ξ_i − ξ̄)² (normalized) or α Σ_i w_i ξ_i² (unbalanced): the Fisher–Rao part
        of −dE/dt."""
        xi = self.first_variation(X, w)
        if self.normalized:
            xi = xi - float(w @ xi) / float(w.sum())
        return self.rate * float(w @ xi**2)

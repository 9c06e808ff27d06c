"""The network's features in the particle method: ∇Ψ at the particles for the low-rank terms.

:class:`FeatureDrift` groups the low-rank interactions on one features object with the
potentials linear in the same features and evaluates their drift in two O(N·n) passes per step
(the Numba kernels of :mod:`pdeflow._numba.features`, through the features object), on the
whole data or on a minibatch.
"""

from __future__ import annotations

import numpy as np

from .._numba.features import PARALLEL_WORK
from ..errors import PdeflowError


class FeatureDrift:
    """∇Ψ at the particles, Ψ = Σ_k (s m_k + c_k) φ_k + (λ/2)|θ|², m_k = Σ_j w_j φ_k(X_j).

    One per features object: the low-rank terms on it (scales s summed) and the potentials linear
    in it (``linear``: their gradients, coefficients c and decay λ summed). Minibatches: each call
    draws ``batch_size`` of the n features without replacement and weights them n/b.
    """

    def __init__(self, features, gradient, X: np.ndarray, batch_size: int | None):
        from numba import get_num_threads

        self.features, self.feature_gradient = features, gradient
        self.fast = hasattr(features, "moments") and hasattr(features, "combine_gradient")
        self.n = int(np.asarray(features(*X[:1].T)).shape[0])
        self.b = self.n if batch_size is None else min(int(batch_size), self.n)
        self.scale, self.decay, self.linear = 0.0, 0.0, []
        self.c0 = np.zeros(self.n)
        self.batch = np.arange(self.n)  # its first b entries: the current minibatch
        self.everything = np.arange(self.n)
        self.m, self.coef = np.zeros(self.n), np.zeros(self.n)
        self.chunks = get_num_threads() if X.shape[0] * self.b > PARALLEL_WORK else 1
        if gradient is None and not self.fast:
            raise PdeflowError("a LowRankInteraction needs gradient= (∇φ_k) for particles")

    def moments(self, X, w, batch, out) -> None:
        """out_q = Σ_j w_j φ_{k_q}(X_j)."""
        if self.fast:
            self.features.moments(X, w, batch, out, self.chunks)
        else:
            out[:] = np.asarray(self.features(*X.T))[batch] @ w

    def gradient(self, X, w, rng, out) -> None:
        """out_i = ∇Ψ(X_i) on a fresh minibatch (all features when batch_size ≥ n)."""
        if self.b < self.n:
            self.batch[: self.b] = np.sort(rng.choice(self.n, size=self.b, replace=False))
        batch, m, coef = self.batch[: self.b], self.m[: self.b], self.coef[: self.b]
        self.moments(X, w, batch, m)
        np.take(self.c0, batch, out=coef)
        coef += self.scale * m
        coef *= self.n / self.b
        if self.fast:
            self.features.combine_gradient(X, batch, coef, self.decay, out, self.chunks)
        else:
            for k, g in enumerate(self.feature_gradient(*X.T)):
                out[:, k] = coef @ np.asarray(g)[batch] + self.decay * X[:, k]

    def values(self, X, w, out) -> None:
        """out_i = Ψ(X_i) = Σ_k (s m_k + c_k) φ_k(X_i) + (λ/2)|X_i|² over all n features: the first
        variation of the low-rank terms and of the potentials linear in them, at the particles."""
        everything = self.everything
        self.moments(X, w, everything, self.m)
        np.multiply(self.m, self.scale, out=self.coef)
        self.coef += self.c0
        if self.fast:
            self.features.combine_values(X, everything, self.coef, self.decay, out, self.chunks)
        else:
            phi = np.asarray(self.features(*X.T))
            out[:] = self.coef @ phi + 0.5 * self.decay * np.sum(X**2, axis=1)

    def interaction_energy(self, X, w) -> float:
        """(s/2) Σ_k m_k² over all n features."""
        self.moments(X, w, self.everything, self.m)
        return 0.5 * self.scale * float(self.m @ self.m)


def feature_drifts(energy, X: np.ndarray, batch_size: int | None) -> list[FeatureDrift]:
    """The low-rank terms grouped by features object, with the potentials linear in them."""
    drifts: dict[int, FeatureDrift] = {}
    for term in energy.low_rank:
        key = id(term.features)
        if key not in drifts:
            drifts[key] = FeatureDrift(term.features, term.gradient, X, batch_size)
        drifts[key].scale += term.scale
    for term in energy.potentials:
        linear = term.gradient
        drift = drifts.get(id(getattr(linear, "features", None)))
        if drift is not None and hasattr(linear, "coefficients") and hasattr(linear, "decay"):
            drift.c0 += linear.coefficients
            drift.decay += linear.decay
            drift.linear.append(linear)
    return list(drifts.values())

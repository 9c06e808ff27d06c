"""Mean-field training of a two-layer network: the continuity equation on neuron parameters.

A neuron is θ = (a, w, b) (or (a, w)); the network is f(x; ρ) = ∫ a σ(w·x + b) dρ(θ). With
features φ_k(θ) = a σ(w·x_k + b) on the data (x_k, y_k), k = 1..n, the empirical risk is

    R(ρ) = (1/2n) Σ_k (⟨φ_k, ρ⟩ − y_k)²
         = (1/2n) Σ_k y_k²  −  (1/n) Σ_k y_k ⟨φ_k, ρ⟩  +  ½ ∬ (1/n) Σ_k φ_k(θ)φ_k(θ') dρ dρ,

a potential V = −(1/n) Σ_k y_k φ_k plus a low-rank interaction W = (1/n) Σ_k φ_k ⊗ φ_k. Weight
decay adds (λ/2)|θ|² to V, noise (inverse temperature β) adds (1/β) ρ log ρ. Gradient descent
on the risk is the gradient flow

    ∂t ρ = ∇·(ρ ∇Ψ) + (1/β) Δρ,   Ψ(θ; ρ) = (1/n) Σ_k (f(x_k; ρ) − y_k) φ_k(θ) + (λ/2)|θ|²

(Mei–Montanari–Nguyen 2018; Chizat–Bach 2018; Rotskoff–Vanden-Eijnden 2018). The free energy
(``traj.energy``) is the risk minus (1/2n) Σ y_k², plus the weight decay and entropy terms;
every snapshot also records ``risk``, ``output_data`` (f on the data) and ``output_plot``
(f on ``x_plot``).
"""

from __future__ import annotations

import numpy as np

from ..activations import activation as get_activation
from ..energy import Entropy, FreeEnergy, LowRankInteraction, Potential
from ..errors import PdeflowError
from ..grid import Grid
from .base import Problem

PARAMETER_SETS = (("a", "w"), ("a", "w", "b"))


class NeuronFeatures:
    """φ_k(θ) = a σ(w·x_k + b) and its gradient, θ given as one coordinate array per parameter."""

    def __init__(self, x: np.ndarray, sigma, sigma_prime, with_bias: bool):
        self.x = x  # (n, d_in)
        self.sigma, self.sigma_prime = sigma, sigma_prime
        self.with_bias = with_bias
        self.d_in = x.shape[1]

    @property
    def n_params(self) -> int:
        return 1 + self.d_in + int(self.with_bias)

    def _preactivation(self, theta):
        w = theta[1 : 1 + self.d_in]
        shape = (-1,) + (1,) * np.ndim(theta[0])
        z = sum(self.x[:, j].reshape(shape) * w[j][None] for j in range(self.d_in))
        if self.with_bias:
            z = z + theta[-1][None]
        return z

    def __call__(self, *theta) -> np.ndarray:
        """``(n, *shape)``: φ_k at the points θ."""
        theta = np.broadcast_arrays(*[np.asarray(t, dtype=float) for t in theta])
        return theta[0][None] * self.sigma(self._preactivation(theta))

    def gradient(self, *theta) -> tuple[np.ndarray, ...]:
        """∂φ_k/∂a = σ(z), ∂φ_k/∂w_j = a σ'(z) x_kj, ∂φ_k/∂b = a σ'(z); each ``(n, *shape)``."""
        theta = np.broadcast_arrays(*[np.asarray(t, dtype=float) for t in theta])
        z = self._preactivation(theta)
        a_sp = theta[0][None] * self.sigma_prime(z)
        shape = (-1,) + (1,) * np.ndim(theta[0])
        grads = [self.sigma(z)] + [a_sp * self.x[:, j].reshape(shape) for j in range(self.d_in)]
        if self.with_bias:
            grads.append(a_sp)
        return tuple(grads)


def mean_field_network(
    x, y, activation="relu", parameters=("a", "w"), grid: Grid | None = None, rho0=None,
    weight_decay: float = 0.0, beta: float | None = None, x_plot=None,
) -> Problem:
    """The mean-field gradient flow of a two-layer network's empirical risk (module docstring).

    Parameters
    ----------
    x : array (n,) or (n, d_in)
        Inputs. The grid view needs d_in = 1 (a 2D grid for ("a", "w"), 3D for ("a", "w", "b")).
    y : array (n,)
        Targets.
    activation : "relu" | "tanh" | "sigmoid" | "linear" | (σ, σ')
    parameters : ("a", "w") or ("a", "w", "b")
        The neuron parameters; the grid's axes in this order.
    grid : Grid
        The parameter grid (axes a, w[, b]).
    rho0 : array of grid.shape
        Initial neuron density (its mass is the network's width normalisation, usually 1).
    weight_decay : float
        λ >= 0: adds (λ/2)|θ|² to the potential.
    beta : float, optional
        Inverse temperature of noisy gradient descent: adds (1/β) ρ log ρ.
    x_plot : array, optional
        Inputs (d_in = 1) where the output f(x; ρ_t) is recorded (default: 200 points spanning x).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != y.size or y.size == 0:
        raise PdeflowError(
            f"x has shape {x.shape} and y has {y.size} values; give n inputs (n,) or (n, d_in) "
            "and n targets"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise PdeflowError("x and y must be finite")
    parameters = tuple(parameters)
    if parameters not in PARAMETER_SETS:
        raise PdeflowError(f"parameters must be ('a', 'w') or ('a', 'w', 'b'), got {parameters}")
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise PdeflowError(f"weight_decay must be >= 0, got {weight_decay}")
    if beta is not None and not (np.isfinite(beta) and beta > 0):
        raise PdeflowError(f"beta (inverse temperature) must be > 0, got {beta}")
    name, sigma, sigma_prime = get_activation(activation)
    features = NeuronFeatures(x, sigma, sigma_prime, with_bias="b" in parameters)
    if grid is None or rho0 is None:
        raise PdeflowError("mean_field_network needs grid= (axes a, w[, b]) and rho0= on it")
    if grid.ndim != features.n_params:
        raise PdeflowError(
            f"the grid has {grid.ndim} axes but a neuron has {features.n_params} parameters "
            f"{parameters} with {x.shape[1]}-dimensional inputs; the grid view needs d_in = 1"
        )
    n = y.size

    def V(*theta):
        value = -np.tensordot(y, features(*theta), axes=(0, 0)) / n
        if weight_decay:
            value = value + 0.5 * weight_decay * sum(t**2 for t in theta)
        return value

    def grad_V(*theta):
        grads = features.gradient(*theta)
        return tuple(
            -np.tensordot(y, g, axes=(0, 0)) / n + weight_decay * t
            for g, t in zip(grads, np.broadcast_arrays(*theta), strict=True)
        )

    terms = [Potential(V, gradient=grad_V, name="data"),
             LowRankInteraction(features, scale=1.0 / n, gradient=features.gradient, name="network")]
    if beta is not None:
        terms.insert(0, Entropy(1.0 / beta))
    x_plot = (np.linspace(x.min(), x.max(), 200) if x_plot is None
              else np.asarray(x_plot, dtype=float))
    plot_features = NeuronFeatures(x_plot.reshape(len(x_plot), -1), sigma, sigma_prime,
                                   with_bias="b" in parameters)
    half_mean_y2 = 0.5 * float(np.mean(y**2))
    data_on_grid = features(*grid.coords()).reshape(n, -1)
    plot_on_grid = plot_features(*grid.coords()).reshape(len(x_plot), -1)

    def observe(frame: dict):
        if "density" in frame:
            rho = frame["density"].reshape(-1) * grid.cell_volume
            out_data, out_plot = data_on_grid @ rho, plot_on_grid @ rho
        else:
            theta = tuple(np.asarray(frame["position"]).T)
            w = np.asarray(frame["weight"])
            out_data, out_plot = features(*theta) @ w, plot_features(*theta) @ w
        risk = 0.5 * float(np.mean((out_data - y) ** 2))
        return {"output_data": out_data, "output_plot": out_plot}, {"risk": risk}

    problem = Problem(
        "mean_field_network", grid, rho0, FreeEnergy(*terms),
        parameters={
            "activation": name, "parameters": list(parameters), "n_data": n,
            "input_dim": x.shape[1], "weight_decay": float(weight_decay), "beta": beta,
            "risk_constant": half_mean_y2,
        },
        observe=observe,
    )
    problem.features = features
    problem.data = (x, y)
    problem.x_plot = x_plot
    return problem

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

from dataclasses import dataclass

import numpy as np

from ..activations import activation as get_activation
from ..energy import Entropy, FreeEnergy, LowRankInteraction, Potential
from ..errors import PdeflowError
from ..grid import Grid
from .base import Problem

PARAMETER_SETS = (("a", "w"), ("a", "w", "b"))


class NeuronFeatures:
    """φ_k(θ) = a σ(w·x_k + b) and its gradient, θ given as one coordinate array per parameter.

    ``moments`` and ``combine_gradient`` evaluate them at particles (rows of an ``(N, p)`` array)
    without allocating: Numba kernels (:mod:`pdeflow._numba.features`) when
    ``kernel_name`` names a built-in activation, NumPy otherwise. The particle method uses them.
    """

    def __init__(self, x: np.ndarray, sigma, sigma_prime, with_bias: bool, kernel_name=None):
        self.x = np.ascontiguousarray(x, dtype=float)  # (n, d_in)
        self.sigma, self.sigma_prime = sigma, sigma_prime
        self.with_bias = with_bias
        self.d_in = x.shape[1]
        self.kernel_name = kernel_name  # a key of pdeflow._numba.features.CODES, or None
        self._scratch: dict[int, np.ndarray] = {}

    @property
    def n_params(self) -> int:
        return 1 + self.d_in + int(self.with_bias)

    @property
    def n_features(self) -> int:
        return self.x.shape[0]

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

    def _work(self, chunks: int) -> np.ndarray:
        """The kernels' scratch (chunks, 2 + d_in, n), allocated once per chunk count."""
        if chunks not in self._scratch:
            self._scratch[chunks] = np.zeros((chunks, 2 + self.d_in, self.n_features))
        return self._scratch[chunks]

    def moments(self, X, w, batch, out, chunks: int = 1) -> None:
        """``out_q = Σ_i w_i φ_{k_q}(X_i)``, k_q = batch[q]: the output f(x_k; ρ_N) on the batch,
        the particles in ``chunks`` blocks (in parallel when there are several)."""
        if self.kernel_name is None:
            out[:] = self(*X.T)[batch] @ w
            return
        from .._numba import features as nk

        kernel = nk.feature_moments if chunks > 1 else nk.feature_moments_serial
        kernel(X, w, self.x, self.with_bias, nk.CODES[self.kernel_name], batch, self._work(chunks),
               out)

    def combine_gradient(self, X, batch, coef, decay, out, chunks: int = 1) -> None:
        """``out_i = Σ_q c_q ∇φ_{k_q}(X_i) + λ X_i``: ∇Ψ at the particles for Ψ = Σ c φ + λ|θ|²/2."""
        if self.kernel_name is None:
            for j, g in enumerate(self.gradient(*X.T)):
                out[:, j] = coef @ g[batch] + decay * X[:, j]
            return
        from .._numba import features as nk

        kernel = nk.feature_gradient if chunks > 1 else nk.feature_gradient_serial
        kernel(X, self.x, self.with_bias, nk.CODES[self.kernel_name], batch, coef, decay,
               self._work(chunks), out)


    def combine_values(self, X, batch, coef, decay, out, chunks: int = 1) -> None:
        """``out_i = Σ_q c_q φ_{k_q}(X_i) + (λ/2)|X_i|²``: Ψ at the particles (the values whose
        gradient :meth:`combine_gradient` gives)."""
        if self.kernel_name is None:
            out[:] = coef @ self(*X.T)[batch] + 0.5 * decay * np.sum(X**2, axis=1)
            return
        from .._numba import features as nk

        kernel = nk.feature_values if chunks > 1 else nk.feature_values_serial
        kernel(X, self.x, self.with_bias, nk.CODES[self.kernel_name], batch, coef, decay,
               self._work(chunks), out)


class LinearInFeatures:
    """∇V for a potential linear in the features, ``V(θ) = Σ_k c_k φ_k(θ) + (λ/2)|θ|²``.

    Called with one coordinate array per parameter it returns ``∇V`` (one array per axis), as
    :class:`~pdeflow.energy.Potential` expects. The particle method reads ``features``,
    ``coefficients`` and ``decay`` to fold V into the same two passes over (particles × data) as
    the low-rank interaction on the same features.
    """

    def __init__(self, features: NeuronFeatures, coefficients: np.ndarray, decay: float):
        self.features = features
        self.coefficients = np.asarray(coefficients, dtype=float)
        self.decay = float(decay)

    def __call__(self, *theta) -> tuple[np.ndarray, ...]:
        grads = self.features.gradient(*theta)
        return tuple(
            np.tensordot(self.coefficients, g, axes=(0, 0)) + self.decay * t
            for g, t in zip(grads, np.broadcast_arrays(*theta), strict=True)
        )


@dataclass
class NetworkProblem(Problem):
    """The :class:`Problem` of :func:`mean_field_network`, with the network's data.

    Attributes
    ----------
    features : NeuronFeatures
        φ_k(θ) on the data inputs.
    data : (x (n, d_in), y (n,))
        The inputs and targets.
    x_plot : array (n_plot,) or (n_plot, d_in)
        The inputs where every snapshot records the output f(x; ρ_t) (``output_plot``).
    """

    features: NeuronFeatures | None = None
    data: tuple[np.ndarray, np.ndarray] | None = None
    x_plot: np.ndarray | None = None


def mean_field_network(
    x, y, activation="relu", parameters=("a", "w"), grid: Grid | None = None, rho0=None,
    weight_decay: float = 0.0, beta: float | None = None, x_plot=None, theta0=None, metric=None,
) -> NetworkProblem:
    """The mean-field gradient flow of a two-layer network's empirical risk (module docstring).

    Two views: on a grid (``grid`` and ``rho0``; d_in = 1, methods "fv" and "particles"), and as
    particles only (``grid=None``, ``theta0``; any d_in, method "particles": gradient descent on
    a width-m network, see :mod:`pdeflow.solvers.particles`).

    Parameters
    ----------
    x : array (n,) or (n, d_in)
        Inputs. The grid view needs d_in = 1 (a 2D grid for ("a", "w"), 3D for ("a", "w", "b")).
    y : array (n,)
        Targets.
    activation : "relu" | "tanh" | "sigmoid" | "linear" | (σ, σ')
    parameters : ("a", "w") or ("a", "w", "b")
        The neuron parameters θ = (a, w_1..w_d_in[, b]); the grid's axes in this order.
    grid : Grid, optional
        The parameter grid (axes a, w[, b]). For particles it is a window, not a wall: neurons
        leave it freely (deposits clamp them onto its edge cells). The grid view has no-flux
        walls, which hold the mass that reaches them: take a box that keeps the mass inside
        over the run (the neurons of a relu network drift out along a = ±w as they fit).
    rho0 : array of grid.shape, optional
        Initial neuron density (its mass is the network's width normalisation, usually 1).
    weight_decay : float
        λ >= 0: adds (λ/2)|θ|² to the potential.
    beta : float, optional
        Inverse temperature of noisy gradient descent: adds (1/β) ρ log ρ.
    x_plot : array, optional
        Inputs where the output f(x; ρ_t) is recorded: (n_plot,) or (n_plot, d_in) (default:
        200 points spanning x when d_in = 1, else the data inputs x).
    theta0 : array (m, p) or callable, optional
        Initial neurons of particle runs, p = 1 + d_in (+ 1 with a bias), or a sampler
        ``theta0(m, rng) -> (m, p)``; required without a grid (default: samples of rho0).

    Examples
    --------
    Gradient descent on a width-100 network fitting ``|x|``, learning rate 0.1, without a grid:

    >>> import numpy as np, pdeflow as pf
    >>> x = np.linspace(-1.0, 1.0, 20)
    >>> theta0 = np.random.default_rng(0).normal(0.0, 0.5, (100, 2))
    >>> p = pf.problems.mean_field_network(x, np.abs(x), "relu", theta0=theta0)
    >>> traj = pf.solve(p, 20.0, method="particles", dt=0.1, progress=False)
    >>> risk = traj.diagnostics["risk"]
    >>> bool(risk[-1] < 1e-3 * risk[0]), traj.meta["steps"]
    (True, 200)
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
    with_bias = "b" in parameters
    features = NeuronFeatures(x, sigma, sigma_prime, with_bias,
                              kernel_name=name if name != "user" else None)
    if grid is None and theta0 is None:
        raise PdeflowError("mean_field_network needs grid= (axes a, w[, b]) and rho0= on it, or "
                           "theta0= (initial neurons (m, p), or a sampler) for particles only")
    if grid is not None and rho0 is None:
        raise PdeflowError("a grid needs rho0=, the initial neuron density on it")
    if grid is not None and grid.ndim != features.n_params:
        raise PdeflowError(
            f"the grid has {grid.ndim} axes but a neuron has {features.n_params} parameters "
            f"{parameters} with {x.shape[1]}-dimensional inputs; the grid view needs d_in = 1"
        )
    if theta0 is not None and not callable(theta0):
        theta0 = np.array(theta0, dtype=float, ndmin=2)
        if theta0.shape[1] != features.n_params or not np.all(np.isfinite(theta0)):
            raise PdeflowError(
                f"theta0 has shape {theta0.shape}; give finite neurons (m, {features.n_params}): "
                f"a, w_1..w_{x.shape[1]}" + (", b" if with_bias else "")
            )
    n = y.size
    data_gradient = LinearInFeatures(features, -y / n, weight_decay)  # ∇V = −(1/n)Σ y_k∇φ_k + λθ

    def V(*theta):
        value = -np.tensordot(y, features(*theta), axes=(0, 0)) / n
        if weight_decay:
            value = value + 0.5 * weight_decay * sum(t**2 for t in theta)
        return value

    terms = [Potential(V, gradient=data_gradient, name="data"),
             LowRankInteraction(features, scale=1.0 / n, gradient=features.gradient, name="network")]
    if beta is not None:
        terms.insert(0, Entropy(1.0 / beta))
    if x_plot is None:
        x_plot = np.linspace(x.min(), x.max(), 200) if x.shape[1] == 1 else x
    x_plot = np.asarray(x_plot, dtype=float).reshape(-1, x.shape[1])
    plot_features = NeuronFeatures(x_plot, sigma, sigma_prime, with_bias, features.kernel_name)
    half_mean_y2 = 0.5 * float(np.mean(y**2))
    if grid is not None:
        data_on_grid = features(*grid.coords()).reshape(n, -1)
        plot_on_grid = plot_features(*grid.coords()).reshape(len(x_plot), -1)

    def observe(frame: dict):
        if "density" in frame:
            rho = frame["density"].reshape(-1) * grid.cell_volume
            out_data, out_plot = data_on_grid @ rho, plot_on_grid @ rho
        else:  # f(x; ρ_N) = Σ_i w_i a_i σ(w_i·x + b_i), by the particle kernels
            X = np.ascontiguousarray(frame["position"], dtype=float)
            w = np.ascontiguousarray(frame["weight"], dtype=float)
            out_data, out_plot = np.empty(n), np.empty(len(x_plot))
            features.moments(X, w, np.arange(n), out_data)
            plot_features.moments(X, w, np.arange(len(x_plot)), out_plot)
        risk = 0.5 * float(np.mean((out_data - y) ** 2))
        return {"output_data": out_data, "output_plot": out_plot}, {"risk": risk}

    w_names = ("w",) if x.shape[1] == 1 else tuple(f"w{j + 1}" for j in range(x.shape[1]))
    return NetworkProblem(
        "mean_field_network", grid, rho0, FreeEnergy(*terms),
        parameters={
            "activation": name, "parameters": list(parameters), "n_data": n,
            "input_dim": x.shape[1], "weight_decay": float(weight_decay), "beta": beta,
            "risk_constant": half_mean_y2,
        },
        observe=observe, particles0=theta0, walls=False, metric=metric,
        axis_names=("a", *w_names, *(("b",) if with_bias else ())),  # particle diagnostics
        features=features, data=(x, y), x_plot=x_plot[:, 0] if x.shape[1] == 1 else x_plot,
    )


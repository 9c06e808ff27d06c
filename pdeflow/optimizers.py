"""Training algorithms against the continuous-time dynamics they discretise.

Each optimizer below is written as its iteration, next to the ODE it is a scheme for, with the
time that one step stands for:

- gradient descent θ_{k+1} = θ_k − η∇f(θ_k): explicit Euler of the gradient flow θ' = −∇f, one
  step = η of time; gap O(η).
- heavy ball θ_{k+1} = θ_k − η∇f(θ_k) + β(θ_k − θ_{k−1}) with β = 1 − γ√η: with h = √η,
  (θ_{k+1} − 2θ_k + θ_{k−1})/h² + γ(θ_k − θ_{k−1})/h = −∇f(θ_k), a scheme for the damped
  Newton equation θ'' + γθ' + ∇f(θ) = 0 (θ'(0) = 0), one step = h; gap O(h).
- Nesterov θ_{k+1} = y_k − η∇f(y_k), y_k = θ_k + (k − 1)/(k + 2) (θ_k − θ_{k−1}): the ODE
  θ'' + (3/t)θ' + ∇f(θ) = 0 (Su, Boyd and Candès 2016), one step = √η; gap O(√η).
- Adam with β₁ = 1 − aη, β₂ = 1 − bη and bias corrections: m' = a(∇f − m), v' = b(∇f² − v),
  θ' = −m̂/(√v̂ + ε), m̂ = m/(1 − e^{−at}), v̂ = v/(1 − e^{−bt}) (Barakat and Bianchi 2021), one
  step = η; gap O(η).

:func:`flow` integrates each ODE with ``solve_ivp`` (LSODA, rtol 1e-11) and :func:`gap` is
``max_k |θ_k − θ(t_k)|`` over [0, T].

Natural gradient: on the Gaussian family N(μ, σ²) with the Fisher metric F = diag(1/σ², 2/σ²),
natural gradient descent on KL(N(μ, σ²) | N(m, s²)) is a scheme for the natural gradient flow,
which is the Fisher–Rao flow of KL(· | π) restricted to the family — and that flow leaves the
family invariant: ρ_t ∝ ρ₀^{e^{−t}} π^{1 − e^{−t}}, i.e. the natural parameters (μ/σ², 1/σ²)
relax to π's as e^{−t} (:func:`fisher_rao_gaussian`). Gap O(η).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

from .errors import PdeflowError

OPTIMIZERS = ("gradient_descent", "heavy_ball", "nesterov", "adam")


def step_time(name: str, lr: float) -> float:
    """The time one step of ``name`` at learning rate ``lr`` stands for (module docstring)."""
    return float(np.sqrt(lr)) if name in ("heavy_ball", "nesterov") else float(lr)


def iterate(name: str, grad: Callable, x0, lr: float, steps: int, gamma: float = 1.0,
            a: float = 1.0, b: float = 1.0, eps: float = 1e-8) -> np.ndarray:
    """The iterates θ_0..θ_steps, (steps + 1, d), of optimizer ``name`` (module docstring)."""
    if name not in OPTIMIZERS:
        raise PdeflowError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    x = np.array(x0, dtype=float)
    path = np.empty((steps + 1, x.size))
    path[0] = x
    previous = x.copy()
    m, v = np.zeros_like(x), np.zeros_like(x)
    beta = 1.0 - gamma * np.sqrt(lr)
    for k in range(steps):
        if name == "gradient_descent":
            new = x - lr * grad(x)
        elif name == "heavy_ball":
            new = x - lr * grad(x) + beta * (x - previous)
        elif name == "nesterov":
            y = x + (k - 1) / (k + 2) * (x - previous) if k > 0 else x
            new = y - lr * grad(y)
        else:
            g = grad(x)
            beta1, beta2 = 1.0 - a * lr, 1.0 - b * lr
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            m_hat, v_hat = m / (1 - beta1 ** (k + 1)), v / (1 - beta2 ** (k + 1))
            new = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        previous, x = x, new
        path[k + 1] = x
    return path


def flow(name: str, grad: Callable, x0, T: float, gamma: float = 1.0, a: float = 1.0,
         b: float = 1.0, eps: float = 1e-8, t0: float = 1e-4) -> Callable:
    """The continuous-time limit of ``name`` from ``x0`` on [0, T]: a callable t -> θ(t) (d, n).

    The ODEs are those of the module docstring, integrated by ``solve_ivp`` (LSODA, rtol 1e-11).
    The Nesterov and Adam ODEs are singular at t = 0; they start at ``t0`` from their series
    (Nesterov: ``θ ≈ θ0 − t² ∇f / 8``; Adam: ``m = (1 − exp(−at)) ∇f``, ``v = (1 − exp(−bt)) ∇f²``,
    ``θ ≈ θ0 − t ∇f / (abs(∇f) + ε)``), exact to O(t0²) there.
    """
    x0 = np.array(x0, dtype=float)
    d = x0.size
    g0 = grad(x0)
    start_time = 0.0
    if name == "gradient_descent":
        rhs, state = (lambda t, s: -grad(s)), x0
    elif name == "heavy_ball":
        def rhs(t, s):
            return np.concatenate([s[d:], -gamma * s[d:] - grad(s[:d])])
        state = np.concatenate([x0, np.zeros(d)])
    elif name == "nesterov":
        def rhs(t, s):
            return np.concatenate([s[d:], -3.0 / t * s[d:] - grad(s[:d])])
        start_time = t0
        state = np.concatenate([x0 - t0**2 / 8 * g0, -t0 / 4 * g0])
    elif name == "adam":
        def rhs(t, s):
            x, m, v = s[:d], s[d:2 * d], s[2 * d:]
            g = grad(x)
            m_hat, v_hat = m / -np.expm1(-a * t), v / -np.expm1(-b * t)
            return np.concatenate([-m_hat / (np.sqrt(np.maximum(v_hat, 0.0)) + eps),
                                   a * (g - m), b * (g**2 - v)])
        start_time = t0
        state = np.concatenate([x0 - t0 * g0 / (np.abs(g0) + eps), -np.expm1(-a * t0) * g0,
                                -np.expm1(-b * t0) * g0**2])
    else:
        raise PdeflowError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    sol = solve_ivp(rhs, (start_time, T), state, method="LSODA", rtol=1e-11, atol=1e-13,
                    dense_output=True)
    if not sol.success:
        raise PdeflowError(f"the {name} flow failed: {sol.message}")

    def theta(t):
        t = np.asarray(t, dtype=float)
        early = t < start_time  # before t0: the series start (within O(t0²))
        out = sol.sol(np.maximum(t, start_time))[:d]
        return np.where(early, x0[:, None] if out.ndim == 2 else x0, out)

    return theta


def gap(name: str, grad: Callable, x0, lr: float, T: float, reference: Callable | None = None,
        **params) -> float:
    """``max_k |θ_k − θ(t_k)|`` over the steps that fit in [0, T] (``reference``: the flow, to
    reuse it across learning rates)."""
    h = step_time(name, lr)
    steps = int(round(T / h))
    path = iterate(name, grad, x0, lr, steps, **params)
    theta = reference or flow(name, grad, x0, T, **params)
    return float(np.max(np.linalg.norm(path - theta(h * np.arange(steps + 1)).T, axis=1)))


def natural_gradient_gaussian(mu0: float, sigma0: float, m: float, s: float, lr: float,
                              steps: int) -> np.ndarray:
    """Natural gradient descent on L(μ, σ) = KL(N(μ, σ²) | N(m, s²)): (steps + 1, 2) of (μ, σ).

    With ∇L = ((μ − m)/s², σ/s² − 1/σ) and the inverse Fisher metric F⁻¹ = diag(σ², σ²/2), a
    step is ``μ ← μ − η σ² (μ − m)/s²`` and ``σ ← σ − η (σ³/s² − σ)/2``.
    """
    path = np.empty((steps + 1, 2))
    mu, sigma = float(mu0), float(sigma0)
    path[0] = mu, sigma
    for k in range(steps):
        mu, sigma = (mu - lr * sigma**2 * (mu - m) / s**2,
                     sigma - 0.5 * lr * (sigma**3 / s**2 - sigma))
        path[k + 1] = mu, sigma
    return path


def fisher_rao_gaussian(mu0: float, sigma0: float, m: float, s: float, t):
    """(μ(t), σ(t)) of the Fisher–Rao flow ``ρ_t ∝ ρ₀^exp(−t) π^(1 − exp(−t))`` from N(μ0, σ0²)
    to π = N(m, s²): the precision is ``λ = exp(−t)/σ0² + (1 − exp(−t))/s²`` and the mean
    ``μ = (exp(−t) μ0/σ0² + (1 − exp(−t)) m/s²) / λ``."""
    decay = np.exp(-np.asarray(t, dtype=float))
    precision = decay / sigma0**2 + (1 - decay) / s**2
    mean = (decay * mu0 / sigma0**2 + (1 - decay) * m / s**2) / precision
    return mean, 1.0 / np.sqrt(precision)


def network_gradient(problem) -> Callable:
    """The gradient of m·R at the neurons of a width-m network in mean-field scaling.

    ``problem`` is a :func:`pdeflow.problems.mean_field_network`; the returned ``grad(θ)`` takes
    the m neurons flattened, θ = (θ_1, …, θ_m) with θ_i = (a_i, w_i[, b_i]), and returns
    (∇Ψ(θ_1), …, ∇Ψ(θ_m)), Ψ(θ) = (1/n) Σ_k (f(x_k) − y_k) φ_k(θ) + (λ/2)|θ|² with
    f(x) = (1/m) Σ_i a_i σ(w_i·x + b_i). Gradient descent with it at rate η is gradient descent
    on the risk with the per-neuron rate m·η — the particle method at ``dt = η`` — and its flow
    is the m-particle gradient flow of the mean-field equation.
    """
    features, (_, y) = problem.features, problem.data
    decay, n, p = problem.parameters["weight_decay"], y.size, problem.features.n_params

    def grad(theta):
        X = np.asarray(theta, dtype=float).reshape(-1, p)
        coef = (features(*X.T).mean(axis=1) - y) / n
        return (np.column_stack([coef @ g for g in features.gradient(*X.T)]) + decay * X).ravel()

    return grad

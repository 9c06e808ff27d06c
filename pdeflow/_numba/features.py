"""Numba kernels of the two-layer network's features φ_k(θ) = a σ(w·x_k + b) at particles.

A particle (neuron) is a row ``θ_i = (a_i, w_i1, ..., w_id, [b_i])`` of ``theta`` ``(N, p)``; the
data inputs are the rows ``x_k`` of ``x`` ``(n, d)``; ``batch`` ``(B,)`` lists the data indices k
taking part (all of them for full-batch gradient descent, B of them for a minibatch). The
activation is a code (:data:`CODES`); each kernel branches on it once and runs loops compiled for
that σ (a branch on the code inside the loops costs ~20×; σ passed as a function argument would
recompile in every process, its cache key not being stable).

Two O(N·B·d) passes make one gradient-descent step:

- :func:`feature_moments`: ``m_q = Σ_i w_i φ_{k_q}(θ_i)``, the network's output f(x_k; ρ_N) on
  the batch (the moments ⟨φ_k, ρ_N⟩ of the low-rank interaction);
- :func:`feature_gradient`: ``g_i = Σ_q c_q ∇φ_{k_q}(θ_i) + λ θ_i`` with
  ``∇_a φ_k = σ(z)``, ``∇_w φ_k = a σ'(z) x_k``, ``∇_b φ_k = a σ'(z)``, z = w·x_k + b: the gradient
  of Ψ(θ) = Σ_k c_k φ_k(θ) + (λ/2)|θ|² at every particle.

The batch's inputs are first gathered into a contiguous work block (d, B); per particle, the
preactivations of the whole batch go to a work row (loops over the input axes outside, over the
batch inside: contiguous and vectorised, ~10× faster than a loop over d inside the batch loop).
Kernels are pure functions of arrays and scalars that write into ``out`` and allocate nothing;
``work`` ``(chunks, 2 + d, ≥ B)`` is the caller's. Each comes serial and parallel (``prange`` over
``chunks`` blocks of particles, the moments reduced over the blocks afterwards); the caller picks
by the amount of work.

:class:`pdeflow.problems.mean_field.NeuronFeatures` calls them; the particle method's driver is
:mod:`pdeflow.solvers._network_drift`.
"""

from __future__ import annotations

import math

from numba import njit, prange

PARALLEL_WORK = 2_000_000  # particle × data evaluations above which the passes run on all threads
REASSOCIATE = {"reassoc", "contract"}  # lets LLVM vectorise the sums over the batch (NaN/inf kept)


# the activations; the kernels branch on a code once, outside the loops, and pass σ, σ' on
@njit(cache=True)
def relu(z):
    return z if z > 0.0 else 0.0


@njit(cache=True)
def relu_prime(z):
    """1 for z > 0, else 0 (as :mod:`pdeflow.activations`)."""
    return 1.0 if z > 0.0 else 0.0


@njit(cache=True)
def tanh(z):
    return math.tanh(z)


@njit(cache=True)
def tanh_prime(z):
    t = math.tanh(z)
    return 1.0 - t * t


@njit(cache=True)
def sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(cache=True)
def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1.0 - s)


@njit(cache=True)
def linear(z):
    return z


@njit(cache=True)
def linear_prime(z):
    return 1.0


RELU, TANH, SIGMOID, LINEAR = 0, 1, 2, 3
CODES = {"relu": RELU, "tanh": TANH, "sigmoid": SIGMOID, "linear": LINEAR}


@njit(cache=True, inline="always")
def _gather(x, batch, xt):
    """xt[j, q] = x[batch[q], j]: the batch's inputs, contiguous along the batch."""
    for j in range(x.shape[1]):
        for q in range(batch.shape[0]):
            xt[j, q] = x[batch[q], j]


@njit(cache=True, inline="always")
def _preactivations(theta, i, xt, with_bias, B, z):
    """z_q = w_i·x_q + b_i for q < B (input axes outside, batch inside: contiguous, vectorised)."""
    d = xt.shape[0]
    b = theta[i, 1 + d] if with_bias else 0.0
    for q in range(B):
        z[q] = b
    for j in range(d):
        w = theta[i, 1 + j]
        for q in range(B):
            z[q] += w * xt[j, q]


@njit(cache=True, inline="always")
def _moments_rows(start, stop, theta, w, xt, with_bias, sigma, B, z, acc):
    """acc_q = Σ_{start ≤ i < stop} w_i a_i σ(w_i·x_q + b_i)."""
    for q in range(B):
        acc[q] = 0.0
    for i in range(start, stop):
        _preactivations(theta, i, xt, with_bias, B, z)
        wa = w[i] * theta[i, 0]
        for q in range(B):
            acc[q] += wa * sigma(z[q])


@njit(cache=True, inline="always")
def _gradient_rows(start, stop, theta, xt, with_bias, sigma, sigma_prime, B, coef, decay, z, out):
    """out_i = Σ_q c_q ∇φ_q(θ_i) + λ θ_i for start ≤ i < stop: ∇_a = Σ c σ(z),
    ∇_w = a Σ c σ'(z) x_q, ∇_b = a Σ c σ'(z)."""
    d = xt.shape[0]
    for i in range(start, stop):
        _preactivations(theta, i, xt, with_bias, B, z)
        a = theta[i, 0]
        ga, gb = 0.0, 0.0
        for q in range(B):
            c = coef[q]
            ga += c * sigma(z[q])
            g = c * sigma_prime(z[q])
            gb += g
            z[q] = g  # z now holds c σ'(z)
        out[i, 0] = ga + decay * a
        for j in range(d):
            s = 0.0
            for q in range(B):
                s += z[q] * xt[j, q]
            out[i, 1 + j] = a * s + decay * theta[i, 1 + j]
        if with_bias:
            out[i, 1 + d] = a * gb + decay * theta[i, 1 + d]


@njit(cache=True, inline="always")
def _values_rows(start, stop, theta, xt, with_bias, sigma, B, coef, decay, z, out):
    """out_i = a_i Σ_q c_q σ(w_i·x_q + b_i) + (λ/2)|θ_i|² for start ≤ i < stop: Ψ(θ_i)."""
    for i in range(start, stop):
        _preactivations(theta, i, xt, with_bias, B, z)
        s = 0.0
        for q in range(B):
            s += coef[q] * sigma(z[q])
        norm2 = 0.0
        for k in range(theta.shape[1]):
            norm2 += theta[i, k] * theta[i, k]
        out[i] = theta[i, 0] * s + 0.5 * decay * norm2


@njit(cache=True, inline="always")
def _moments(theta, w, x, with_bias, sigma, batch, work, out):
    chunks, N, B, d = work.shape[0], theta.shape[0], batch.shape[0], x.shape[1]
    for c in prange(chunks):
        _gather(x, batch, work[c, 2 : 2 + d])
        _moments_rows(c * N // chunks, (c + 1) * N // chunks, theta, w, work[c, 2 : 2 + d],
                      with_bias, sigma, B, work[c, 0], work[c, 1])
    for q in range(B):
        out[q] = 0.0
        for c in range(chunks):
            out[q] += work[c, 1, q]


@njit(cache=True, inline="always")
def _gradient(theta, x, with_bias, sigma, sigma_prime, batch, coef, decay, work, out):
    chunks, N, B, d = work.shape[0], theta.shape[0], batch.shape[0], x.shape[1]
    for c in prange(chunks):
        _gather(x, batch, work[c, 2 : 2 + d])
        _gradient_rows(c * N // chunks, (c + 1) * N // chunks, theta, work[c, 2 : 2 + d],
                       with_bias, sigma, sigma_prime, B, coef, decay, work[c, 0], out)


@njit(cache=True, inline="always")
def _values(theta, x, with_bias, sigma, batch, coef, decay, work, out):
    chunks, N, B, d = work.shape[0], theta.shape[0], batch.shape[0], x.shape[1]
    for c in prange(chunks):
        _gather(x, batch, work[c, 2 : 2 + d])
        _values_rows(c * N // chunks, (c + 1) * N // chunks, theta, work[c, 2 : 2 + d],
                     with_bias, sigma, B, coef, decay, work[c, 0], out)


@njit(cache=True, inline="always")
def _values_by_code(theta, x, with_bias, code, batch, coef, decay, work, out):
    """:func:`_values` with the activation named by ``code``."""
    if code == RELU:
        _values(theta, x, with_bias, relu, batch, coef, decay, work, out)
    elif code == TANH:
        _values(theta, x, with_bias, tanh, batch, coef, decay, work, out)
    elif code == SIGMOID:
        _values(theta, x, with_bias, sigmoid, batch, coef, decay, work, out)
    else:
        _values(theta, x, with_bias, linear, batch, coef, decay, work, out)


@njit(cache=True, inline="always")
def _moments_by_code(theta, w, x, with_bias, code, batch, work, out):
    """:func:`_moments` with the activation named by ``code`` (one dispatch for both kernels)."""
    if code == RELU:
        _moments(theta, w, x, with_bias, relu, batch, work, out)
    elif code == TANH:
        _moments(theta, w, x, with_bias, tanh, batch, work, out)
    elif code == SIGMOID:
        _moments(theta, w, x, with_bias, sigmoid, batch, work, out)
    else:
        _moments(theta, w, x, with_bias, linear, batch, work, out)


@njit(cache=True, inline="always")
def _gradient_by_code(theta, x, with_bias, code, batch, coef, decay, work, out):
    """:func:`_gradient` with the activation (and derivative) named by ``code``."""
    if code == RELU:
        _gradient(theta, x, with_bias, relu, relu_prime, batch, coef, decay, work, out)
    elif code == TANH:
        _gradient(theta, x, with_bias, tanh, tanh_prime, batch, coef, decay, work, out)
    elif code == SIGMOID:
        _gradient(theta, x, with_bias, sigmoid, sigmoid_prime, batch, coef, decay, work, out)
    else:
        _gradient(theta, x, with_bias, linear, linear_prime, batch, coef, decay, work, out)


@njit(cache=True, parallel=True, fastmath=REASSOCIATE)
def feature_moments(theta, w, x, with_bias, code, batch, work, out):
    """out_q = Σ_i w_i φ_{k_q}(θ_i) = f(x_{k_q}; ρ_N), activation ``code``; the particles split into
    ``work.shape[0]`` blocks run in parallel, ``work[c]`` holding block c's z, partial sums and
    gathered inputs."""
    _moments_by_code(theta, w, x, with_bias, code, batch, work, out)


@njit(cache=True, fastmath=REASSOCIATE)
def feature_moments_serial(theta, w, x, with_bias, code, batch, work, out):
    """:func:`feature_moments` on one thread (the blocks in turn)."""
    _moments_by_code(theta, w, x, with_bias, code, batch, work, out)


@njit(cache=True, parallel=True, fastmath=REASSOCIATE)
def feature_gradient(theta, x, with_bias, code, batch, coef, decay, work, out):
    """out_i = Σ_q c_q ∇φ_{k_q}(θ_i) + λ θ_i, blocks of particles in parallel (``work[c]``)."""
    _gradient_by_code(theta, x, with_bias, code, batch, coef, decay, work, out)


@njit(cache=True, fastmath=REASSOCIATE)
def feature_gradient_serial(theta, x, with_bias, code, batch, coef, decay, work, out):
    """:func:`feature_gradient` on one thread."""
    _gradient_by_code(theta, x, with_bias, code, batch, coef, decay, work, out)


@njit(cache=True, parallel=True, fastmath=REASSOCIATE)
def feature_values(theta, x, with_bias, code, batch, coef, decay, work, out):
    """out_i = Σ_q c_q φ_{k_q}(θ_i) + (λ/2)|θ_i|², blocks of particles in parallel (``work[c]``)."""
    _values_by_code(theta, x, with_bias, code, batch, coef, decay, work, out)


@njit(cache=True, fastmath=REASSOCIATE)
def feature_values_serial(theta, x, with_bias, code, batch, coef, decay, work, out):
    """:func:`feature_values` on one thread."""
    _values_by_code(theta, x, with_bias, code, batch, coef, decay, work, out)

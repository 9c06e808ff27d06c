"""Activation functions σ with their derivatives σ', for the mean-field two-layer network."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

from .errors import PdeflowError


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_prime(z):
    return (z > 0).astype(float)


def _tanh_prime(z):
    return 1.0 - np.tanh(z) ** 2


def _sigmoid_prime(z):
    s = expit(z)
    return s * (1.0 - s)


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (_relu, _relu_prime),
    "tanh": (np.tanh, _tanh_prime),
    "sigmoid": (expit, _sigmoid_prime),
    "linear": (lambda z: np.asarray(z, dtype=float), lambda z: np.ones_like(z, dtype=float)),
}


def activation(spec) -> tuple[str, Callable, Callable]:
    """``(name, σ, σ')`` from a name in :data:`ACTIVATIONS` or a pair of callables ``(σ, σ')``."""
    if isinstance(spec, str):
        if spec not in ACTIVATIONS:
            raise PdeflowError(
                f"unknown activation '{spec}'; use one of {sorted(ACTIVATIONS)} or a pair "
                "(sigma, sigma_prime) of callables"
            )
        return (spec, *ACTIVATIONS[spec])
    if isinstance(spec, tuple | list) and len(spec) == 2 and all(callable(f) for f in spec):
        return ("user", spec[0], spec[1])
    raise PdeflowError(
        f"activation must be a name {sorted(ACTIVATIONS)} or a pair (sigma, sigma_prime), got {spec!r}"
    )

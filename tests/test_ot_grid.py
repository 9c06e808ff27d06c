"""W2 between 2D grid densities by the back-and-forth method, against closed forms.

For Gaussians, W2² = |m₁ − m₂|² + Σ_k (σ₁ₖ − σ₂ₖ)² (diagonal covariances). The grid measures are
cell averages, so the reference is the continuous value up to O(dx²); the dual value the method
reports is a lower bound of ½ W2² of the grid measures at every iterate.
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.ot_grid import w2_grid


def _gaussian_w2(m1, v1, m2, v2) -> float:
    m1, m2, v1, v2 = map(np.asarray, (m1, m2, v1, v2))
    return float(np.sqrt(np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)))


def test_translation_converges_with_the_grid():
    exact = _gaussian_w2((-0.5, 0.0), (0.3, 0.3), (0.5, 0.2), (0.3, 0.3))  # 1.0198
    errors = []
    for n in (64, 128):
        grid = pf.Grid([(-4.0, 4.0)] * 2, n)
        result = w2_grid(pf.gaussian(grid, (-0.5, 0.0), 0.3), pf.gaussian(grid, (0.5, 0.2), 0.3), grid)
        errors.append(abs(result.w2 - exact) / exact)
    # measured 1.3e-3 (64²) and 2.2e-4 (128²): the push-forward's centred differences and the
    # bilinear interpolation are second order, and the dual iteration stops at its own floor
    assert errors[0] < 3e-3 and errors[1] < 5e-4, errors
    assert errors[1] < errors[0] / 3, errors


def test_covariance_change_and_a_small_distance_are_resolved():
    grid = pf.Grid([(-4.0, 4.0)] * 2, 128)
    mu = pf.gaussian(grid, (0.0, 0.0), 0.3)
    nu = pf.gaussian(grid, (0.3, 0.0), np.diag([0.6, 0.2]))
    exact = _gaussian_w2((0.0, 0.0), (0.3, 0.3), (0.3, 0.0), (0.6, 0.2))  # 0.3893
    result = w2_grid(mu, nu, grid)
    assert abs(result.w2 - exact) < 5e-3 * exact, (result, exact)  # measured 2.4e-3
    # a distance of 3.9e-4 (variance 0.3 -> 0.3003), below what a 2000-atom coarsening resolves
    # (a coarse cell of 0.36 here): measured 0.5 % low
    near = pf.gaussian(grid, (0.0, 0.0), 0.3003)
    small = _gaussian_w2((0.0, 0.0), (0.3, 0.3), (0.0, 0.0), (0.3003, 0.3003))
    assert abs(w2_grid(mu, near, grid).w2 - small) < 1.5e-2 * small
    assert w2_grid(mu, mu, grid).w2 < 1e-6  # identical densities: the dual starts at its maximum


def test_unequal_masses_and_other_dimensions_are_refused():
    grid = pf.Grid([(-1.0, 1.0)] * 2, 8)
    with pytest.raises(pf.PdeflowError, match="equal positive masses"):
        w2_grid(grid.ones(), 2 * grid.ones(), grid)
    line = pf.Grid([(-1.0, 1.0)], 8)
    with pytest.raises(pf.PdeflowError, match="2D grids"):
        w2_grid(line.ones(), line.ones(), line)

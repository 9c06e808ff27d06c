"""Kernels against NumPy versions of themselves; convolution against a direct sum; energy pieces."""

import numpy as np
import pytest
from scipy import integrate

import pdeflow as pf
from pdeflow.convolution import GridConvolution
from pdeflow.solvers._fv_kernels import (
    as_axis_view,
    scharfetter_gummel_divergence,
    upwind_divergence,
)


def _bernoulli(z):
    return np.where(np.abs(z) < 1e-12, 1.0, z / np.expm1(np.where(z == 0, 1, z)))


def _sg_numpy(rho, phi, D, h, periodic):
    right = np.roll(rho, -1) if periodic else rho[1:]
    left = rho if periodic else rho[:-1]
    dphi = (np.roll(phi, -1) - phi) if periodic else np.diff(phi)
    J = D / h * (_bernoulli(dphi / D) * left - _bernoulli(-dphi / D) * right)
    out = np.zeros_like(rho)
    if periodic:
        out -= (J - np.roll(J, 1)) / h
    else:
        out[:-1] -= J / h
        out[1:] += J / h
    return out


def _minmod(a, b):
    return np.where(a * b <= 0, 0.0, np.where(a > 0, np.minimum(a, b), np.maximum(a, b)))


def _upwind_numpy(rho, xi, h, periodic):
    n = rho.size
    if periodic:
        slope = _minmod(np.roll(rho, -1) - rho, rho - np.roll(rho, 1))
    else:
        slope = np.zeros(n)
        slope[1:-1] = _minmod(rho[2:] - rho[1:-1], rho[1:-1] - rho[:-2])
    east, west = rho + slope / 2, rho - slope / 2
    idx = np.arange(n if periodic else n - 1)
    j = (idx + 1) % n
    u = -(xi[j] - xi[idx]) / h
    F = np.maximum(u, 0) * east[idx] + np.minimum(u, 0) * west[j]
    out = np.zeros(n)
    np.add.at(out, idx, -F / h)
    np.add.at(out, j, F / h)
    return out


@pytest.mark.parametrize("periodic", [False, True])
def test_flux_kernels_match_numpy(periodic):
    rng = np.random.default_rng(1)
    rho = rng.random(17)
    rho[3:6] = 0.0  # vacuum
    phi = rng.normal(size=17) * 3
    out = np.zeros(17)
    scharfetter_gummel_divergence(rho[None, :, None], phi[None, :, None], 0.7, 0.1, periodic,
                                  out[None, :, None])
    np.testing.assert_allclose(out, _sg_numpy(rho, phi, 0.7, 0.1, periodic), rtol=1e-12, atol=1e-12)
    out[:] = 0
    upwind_divergence(rho[None, :, None], phi[None, :, None], 0.1, periodic, out[None, :, None])
    np.testing.assert_allclose(out, _upwind_numpy(rho, phi, 0.1, periodic), rtol=1e-12, atol=1e-12)


def test_axis_view_applies_kernel_along_each_axis():
    rng = np.random.default_rng(2)
    rho = rng.random((5, 6, 7))
    phi = rng.normal(size=(5, 6, 7))
    for axis in range(3):
        out = np.zeros_like(rho)
        scharfetter_gummel_divergence(as_axis_view(rho, axis), as_axis_view(phi, axis), 1.0, 0.2,
                                      False, as_axis_view(out, axis))
        expected = np.zeros_like(rho)
        it = np.nditer(rho[(slice(None),) * axis + (0,)], flags=["multi_index"])
        for _ in it:
            idx = list(it.multi_index)
            idx.insert(axis, slice(None))
            expected[tuple(idx)] = _sg_numpy(rho[tuple(idx)], phi[tuple(idx)], 1.0, 0.2, False)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("periodic", [(False,), (True,), (False, False), (True, True), (True, False),
                                      (False, True), (False, True, False), (True, False, True)])
def test_fft_convolution_matches_direct_sum(periodic):
    bounds = [(-1.0, 1.0), (0.0, 1.5), (-0.5, 0.4)][: len(periodic)]
    grid = pf.Grid(bounds, (9, 7, 6)[: len(periodic)], periodic=periodic)
    kernel = pf.GaussianKernel(0.3)
    rng = np.random.default_rng(3)
    rho = rng.random(grid.shape)
    pts = grid.points()
    diff = pts[:, None, :] - pts[None, :, :]
    for k, (p, L) in enumerate(zip(periodic, grid.lengths, strict=True)):
        if p:
            diff[..., k] -= L * np.round(diff[..., k] / L)
    direct = (kernel(np.linalg.norm(diff, axis=-1)) @ rho.ravel()) * grid.cell_volume
    conv = GridConvolution(grid, kernel, strength=1.0)
    first = conv(rho)
    np.testing.assert_allclose(first.ravel(), direct, rtol=1e-12, atol=1e-12)
    # the work arrays are reused: a second call neither changes the first result nor differs
    other = rng.random(grid.shape)
    second = conv(other)
    np.testing.assert_allclose(first.ravel(), direct, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(conv(rho), first)
    total = np.ones(grid.shape)
    conv.add_to(other, total)
    np.testing.assert_allclose(total, 1.0 + second, rtol=1e-14, atol=1e-14)


def test_fft_convolution_is_safe_across_threads_and_pickles():
    # the work arrays are per thread: concurrent calls on one convolution do not mix results
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    grid = pf.Grid([(-1.0, 1.0), (0.0, 1.5)], (48, 40))
    conv = GridConvolution(grid, pf.Newtonian(2), strength=-1.0)
    rng = np.random.default_rng(5)
    densities = [rng.random(grid.shape) for _ in range(8)]
    expected = [conv(r) for r in densities]

    def repeat(i):
        return all(np.array_equal(conv(densities[i]), expected[i]) for _ in range(30))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(repeat, range(8)))
    again = pickle.loads(pickle.dumps(conv))
    np.testing.assert_array_equal(again(densities[0]), expected[0])


def test_bernoulli_function_is_accurate_to_round_off():
    """B(z) = z/(eᶻ − 1) against 40-digit decimal arithmetic, across the switch from the series
    (|z| ≤ 1) to the exponential, at tiny z and at large |z|."""
    from decimal import Decimal, localcontext

    from pdeflow.solvers._fv_kernels import bernoulli

    zs = np.concatenate([np.linspace(-1.2, 1.2, 481), np.geomspace(1e-14, 1.0, 60),
                         -np.geomspace(1e-14, 1.0, 60), [np.nextafter(1.0, 2.0), -1.0, 30.0, -30.0]])
    worst = 0.0
    with localcontext() as ctx:
        ctx.prec = 40
        for z in zs:
            exact = float(Decimal(z) / (Decimal(z).exp() - 1)) if z != 0 else 1.0
            worst = max(worst, abs(bernoulli(z) - exact) / exact)
    assert worst < 1e-15


def test_newtonian_cell_averages_match_quadrature():
    h = (0.3, 0.2)
    avg2 = pf.Newtonian(2).cell_average_at_origin(h)
    # midpoint rule on a 2000² sub-grid (never at r = 0): error ~ log(n)/n² ≈ 1e-6
    n = 2000
    xs = (np.arange(n) + 0.5) / n - 0.5
    r = np.hypot(xs[:, None] * h[0], xs[None, :] * h[1])
    assert abs(avg2 - np.mean(-np.log(r) / (2 * np.pi))) < 1e-5
    h3 = (0.2, 0.2, 0.3)
    avg3 = pf.Newtonian(3).cell_average_at_origin(h3)
    val3, _ = integrate.tplquad(lambda z, y, x: 1 / (4 * np.pi * np.sqrt(x * x + y * y + z * z)),
                                0, h3[0] / 2, 0, h3[1] / 2, 0, h3[2] / 2)
    assert abs(avg3 - 8 * val3 / np.prod(h3)) < 1e-6 * avg3


@pytest.mark.parametrize("dim, cells, max_error", [(1, (80, 160), 9.1e-5), (2, (40, 80), 1.4e-4),
                                                   (3, (24, 48), 1.4e-4)])
def test_newtonian_potential_of_a_gaussian_converges_second_order(dim, cells, max_error):
    """G * ρ for ρ = N(0, s² I), unit mass, in closed form: 1D −½ E|x − Y| = −½ [s √(2/π)
    e^{−x²/2s²} + x erf(x/√2 s)]; 2D −(log r + ½ E₁(r²/2s²)) / 2π; 3D erf(r/√2 s) / (4π r). The
    free-space (zero-padded) grid convolution, the kernel's normalisation and its cell average
    at the origin together make a second-order quadrature: measured ∫|φ_h − φ| ρ = 2.59e-4,
    6.49e-5 (1D), 3.90e-4, 9.84e-5 (2D), 3.81e-4, 9.90e-5 (3D); bounds 1.4x the finest. A
    kernel 1.5 % too strong gives 6.0e-3 (1D), 4.5e-4 (2D), 8.4e-4 (3D); an origin average 10 %
    too small 2.2e-4 (2D), 1.5e-4 (3D)."""
    from scipy.special import erf, exp1

    s2 = 0.5
    s = np.sqrt(s2)

    def exact(r):
        if dim == 1:
            return -0.5 * (s * np.sqrt(2 / np.pi) * np.exp(-(r**2) / (2 * s2))
                           + r * erf(r / (np.sqrt(2) * s)))
        if dim == 2:
            return -(np.log(r) + 0.5 * exp1(r**2 / (2 * s2))) / (2 * np.pi)
        return erf(r / (np.sqrt(2) * s)) / (4 * np.pi * r)

    errors = []
    for n in cells:  # even n: no cell centre at r = 0
        grid = pf.Grid([(-5.0, 5.0)] * dim, n)
        rho = pf.gaussian(grid, 0.0 if dim == 1 else (0.0,) * dim, s2)
        phi = GridConvolution(grid, pf.Newtonian(dim))(rho)
        r = np.sqrt(sum(c**2 for c in grid.coords()))
        errors.append(grid.integrate(np.abs(phi - exact(r)) * rho))
    assert np.log2(errors[0] / errors[1]) > 1.8, errors
    assert errors[1] < max_error, errors


def test_periodic_newtonian_potential_solves_poisson():
    grid = pf.Grid([(0, 2 * np.pi)] * 2, 32, periodic=True)
    x, y = grid.coords()
    rho = 1.0 + 0.5 * np.cos(x) * np.cos(2 * y)
    phi = GridConvolution(grid, pf.Newtonian(2))(rho)
    # -Δφ = ρ - mean ρ  ⇒  φ = 0.5 cos x cos 2y / 5
    np.testing.assert_allclose(phi, 0.1 * np.cos(x) * np.cos(2 * y), atol=1e-12)


def test_dissipation_matches_energy_decay_rate():
    grid = pf.Grid([(-5.0, 5.0)], 400)
    p = pf.problems.fokker_planck(grid, pf.gaussian(grid, 1.0, 0.3), V=lambda x: 0.5 * x**2)
    traj = pf.solve(p, t_end=0.02, snapshots=[0.0, 0.01, 0.02], progress=False)
    # dE/dt = -∫ρ|∇ξ|²: centred difference of E against the dissipation at t = 0.01
    rate = (traj.energy[2] - traj.energy[0]) / 0.02
    assert abs(rate + traj.dissipation[1]) < 1e-3 * traj.dissipation[1]


def test_energy_of_gaussian_matches_closed_form():
    grid = pf.Grid([(-8.0, 8.0)], 800)
    s2 = 0.5
    rho = pf.gaussian(grid, 0.0, s2)
    energy = pf.FreeEnergy(pf.Entropy(1.0), pf.Potential(lambda x: x**2))
    # ∫ρ log ρ = -½ log(2πe s²), ∫x² ρ = s²
    exact = -0.5 * np.log(2 * np.pi * np.e * s2) + s2
    assert abs(energy.value(rho, grid) - exact) < 1e-8


def test_low_rank_interaction_matches_dense_pair_sum():
    grid = pf.Grid([(-1.0, 1.0), (-2.0, 2.0)], (6, 5))
    xk = np.array([-0.5, 0.1, 0.7])

    def features(a, w):  # φ_k(a, w) = a tanh(w x_k)
        return a[None] * np.tanh(w[None] * xk.reshape(-1, 1, 1))

    term = pf.LowRankInteraction(features, scale=1 / 3)
    energy = pf.FreeEnergy(term)
    rng = np.random.default_rng(4)
    rho = rng.random(grid.shape)
    phi = term.on_grid(grid)  # (n, cells)
    dense = (phi.T @ phi) / 3  # W(θ_i, θ_j)
    expected = (dense @ rho.ravel()) * grid.cell_volume
    np.testing.assert_allclose(energy.on(grid).interaction_potential(rho).ravel(), expected,
                               rtol=1e-13)
    value = 0.5 * rho.ravel() @ dense @ rho.ravel() * grid.cell_volume**2
    assert abs(energy.value(rho, grid) - value) < 1e-13 * abs(value)


@pytest.mark.parametrize("shape", [(1,), (2,), (7,), (3, 4), (5, 1), (2, 3, 4), (4, 5, 2)])
@pytest.mark.parametrize("uniform_phi", [False, True])
def test_fused_kernels_match_axis_kernels(shape, uniform_phi):
    # the solver's fused all-axes kernels against the one-axis kernels above (themselves checked
    # against NumPy): equal to 1e-13 of the largest flux, step limits exactly equal
    import itertools

    from benchmarks.check_kernels import check_case

    for periodic in itertools.product([False, True], repeat=len(shape)):
        check_case(shape, periodic, np.random.default_rng(0), uniform_phi)

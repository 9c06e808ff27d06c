"""Singular user kernels on grids: cell averages at the origin and in the near field.

The reference case is 1D aggregation with W = |x|²/2 − ln|x| and no diffusion, whose steady state
of mass 1 is ρ∞ = (1/π)√(2 − x²) on [−√2, √2].
"""

import time

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.convolution import GridConvolution

SQRT2 = np.sqrt(2.0)


def _log_kernel(**kwargs) -> pf.RadialKernel:
    """k(r) = r²/2 − ln r, a user kernel (no closed form given unless in kwargs)."""
    return pf.RadialKernel(lambda r: r**2 / 2 - np.log(r), lambda r: r - 1 / r, name="log",
                           **kwargs)


def _steady_state_cell_averages(grid: pf.Grid) -> np.ndarray:
    """Exact cell averages of ρ∞ = (1/π)√(2 − x²): differences of its CDF at the faces."""
    lo, hi = grid.bounds[0]
    x = np.clip(np.linspace(lo, hi, grid.shape[0] + 1), -SQRT2, SQRT2)
    cdf = (x * np.sqrt(np.maximum(2 - x * x, 0.0)) + 2 * np.arcsin(x / SQRT2)) / (2 * np.pi)
    return np.diff(cdf) / grid.dx[0]


def _log_aggregation_l1_error(n: int, t_end: float = 6.0) -> tuple[float, pf.Trajectory]:
    # [−2√2, 2√2] with n a multiple of 4: ±√2 are faces (3n/4 and n/4)
    grid = pf.Grid([(-2 * SQRT2, 2 * SQRT2)], n)
    p = pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 0.0, 0.5),
                                          pf.FreeEnergy(pf.Interaction(_log_kernel(), 1.0)))
    traj = pf.solve(p, t_end, method="fv", snapshots=2, progress=False)
    rho = traj.density(1)
    return float(np.sum(np.abs(rho - _steady_state_cell_averages(grid))) * grid.dx[0]), traj


def test_log_kernel_aggregation_converges_at_order_one_and_a_half():
    # Measured (t_end = 6; the L1 error is steady from t ≈ 5 to 3 digits): 6.45e-4, 2.30e-4,
    # 8.17e-5 at n = 100, 200, 400: orders 1.49, 1.49 (and 1.50 to n = 800), the rate the
    # √(2 − x²) edge allows. With point values on every cell but the origin, the same runs give
    # 2.05e-3, 1.00e-3, 4.98e-4, 2.48e-4: order 1.03, 1.01, 1.01; with cell averages on the
    # near field only (point values beyond 2 cells) 7.6e-4, 3.2e-4, 1.4e-4, 6.4e-5: orders
    # 1.27, 1.18, 1.12, falling to 1 (see the pdeflow.kernels docstring). On today's main the
    # run stops at once: k(0) = +∞ makes the kernel's transform NaN.
    errors, trajs = zip(*(_log_aggregation_l1_error(n) for n in (100, 200, 400)), strict=True)
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders >= 1.4), orders  # measured 1.49: the order the issue asks for
    assert errors[-1] < 1e-4  # measured 8.17e-5: 20% for the slow tail of the time relaxation
    for traj in trajs:  # conservative and positive as before
        assert abs(traj.mass[-1] - traj.mass[0]) < 1e-12 * traj.mass[0]
        assert traj.density(1).min() >= 0.0


def test_origin_cell_averages_by_quadrature_match_closed_forms():
    for h in (1e-3, 0.1, 10.0):  # mean of r²/2 − ln r over [−h/2, h/2]: h²/24 + 1 − ln(h/2)
        assert abs(_log_kernel().cell_average_at_origin((h,)) - (h * h / 24 + 1 - np.log(h / 2))) \
            < 1e-14 * max(1.0, abs(np.log(h)))
    # the Newtonian closed forms (2D exact; 3D by a face integral) against the ray quadrature of
    # the same k given as a user kernel, including a 10:1 cell; measured ≤ 1.1e-12 relative
    for dim, dx in [(2, (0.3, 0.2)), (2, (0.01, 0.1)), (3, (0.2, 0.2, 0.3)),
                    (3, (0.01, 0.05, 0.1))]:
        newtonian = pf.Newtonian(dim)
        user = pf.RadialKernel(newtonian._g, name="user_newtonian")
        exact = newtonian.cell_average_at_origin(dx)
        assert abs(user.cell_average_at_origin(dx) - exact) < 1e-10 * abs(exact)


def _log_box_integral(a: float, b: float) -> float:
    """∫_0^a ∫_0^b ln(x² + y²) dy dx (closed form; signed for a, b < 0 by oddness)."""
    if a == 0 or b == 0:
        return 0.0
    s = np.sign(a) * np.sign(b)
    a, b = abs(a), abs(b)
    return s * (a * b * np.log(a * a + b * b) - 3 * a * b + a * a * np.arctan(b / a)
                + b * b * np.arctan(a / b))


def test_near_field_cells_are_cell_averages_of_the_newtonian_kernel():
    # exact cell averages of −ln r/(2π) over the cell at offset (i, j), by inclusion–exclusion of
    # the closed-form box integral, against kernel_on_cells. Measured largest absolute errors:
    # 5.7e-13 on the near field (Gauss–Legendre, 16 points per axis; the rest is round-off of the
    # four-term difference), 1.7e-5 beyond (2 points per axis, error h⁴ ∂⁴k/4320 per axis),
    # against up to 8.6e-3 for point values next to the origin
    from pdeflow.kernels import kernel_on_cells  # new with the cell averages

    hx, hy = 0.3, 0.2
    kernel = pf.Newtonian(2)
    offsets = [np.arange(-4, 5) * hx, np.arange(-4, 5) * hy]
    values = kernel_on_cells(kernel, offsets, (hx, hy))
    for i in range(-4, 5):
        for j in range(-4, 5):
            x0, x1, y0, y1 = (i - 0.5) * hx, (i + 0.5) * hx, (j - 0.5) * hy, (j + 0.5) * hy
            box = (_log_box_integral(x1, y1) - _log_box_integral(x0, y1)
                   - _log_box_integral(x1, y0) + _log_box_integral(x0, y0))
            exact = -box / 2 / (hx * hy) / (2 * np.pi)  # ∫ ln r = ½ ∫ ln r²
            got = values[i + 4, j + 4]
            near = max(abs(i), abs(j)) <= 2
            assert abs(got - exact) < (2e-12 if near else 3e-5), (i, j, got, exact)
            if (i, j) == (1, 0):
                point = kernel(np.hypot(hx, 0.0))
                assert abs(point - exact) > 2e-3  # point values: 3.5e-3 off here


def test_user_closed_form_is_used_at_the_origin():
    calls = []

    def mean(dx):
        calls.append(dx)
        return dx[0] ** 2 / 24 + 1 - np.log(dx[0] / 2)

    grid = pf.Grid([(-1.0, 1.0)], 40)
    conv = GridConvolution(grid, _log_kernel(cell_average=mean))
    quad = GridConvolution(grid, _log_kernel())
    assert calls == [grid.dx]
    # the transforms agree: the quadrature reproduces the closed form to round-off
    np.testing.assert_allclose(conv.transform, quad.transform, rtol=0, atol=1e-13)


def test_kernel_not_integrable_at_the_origin_is_refused_with_a_hint():
    grid = pf.Grid([(-1.0, 1.0)], 32)
    rho0 = pf.gaussian(grid, 0.0, 0.1)
    kernel = pf.RadialKernel(lambda r: 1.0 / r, name="coulomb1d")  # ∫_0 dr/r = ∞ in 1D
    p = pf.problems.aggregation_diffusion(grid, rho0, pf.FreeEnergy(pf.Interaction(kernel)))
    with pytest.raises(pf.PdeflowError, match="coulomb1d.*no finite average.*cell_average"):
        pf.solve(p, 0.1, method="fv", progress=False)
    with pytest.raises(pf.PdeflowError, match="no finite average"):
        pf.RadialKernel(lambda r: r**-2.5).cell_average_at_origin((0.1, 0.1))  # 2D: needs < r^-2
    # integrable but strong (r^−0.9): the quadrature's average is exact, 1 / (0.1 · 0.05^0.9)
    assert abs(pf.RadialKernel(lambda r: r**-0.9).cell_average_at_origin((0.1,))
               - 1 / (0.1 * 0.05**0.9)) < 1e-10 * 148.2


def test_singular_flag_follows_the_kernel_at_zero():
    assert _log_kernel().singular and pf.Newtonian(2).singular and pf.Newtonian(3).singular
    assert not pf.Newtonian(1).singular and not pf.GaussianKernel(0.5).singular
    assert not pf.RadialKernel(lambda r: np.exp(-r)).singular


def test_kernel_transform_costs_well_under_a_second_at_256_squared():
    # measured 0.075 s (cell averages 0.05 s, FFT of the 512² padded array the rest; 2 shared
    # cores); the bound allows a machine 10× slower or busier
    grid = pf.Grid([(-1.0, 1.0)] * 2, 256)
    GridConvolution(grid, _log_kernel())  # scipy's quadrature imported outside the timing
    start = time.perf_counter()
    GridConvolution(grid, pf.Newtonian(2))
    assert time.perf_counter() - start < 1.0


def test_far_field_integral_with_gauss_points_is_second_order_in_1d():
    # k = −ln r in 1D: the 2-point rule's cell averages against exact ones (∫ ln x = x ln x − x)
    from pdeflow.kernels import kernel_on_cells  # new with the cell averages

    h = 0.01
    offsets = np.arange(0, 200) * h
    got = kernel_on_cells(pf.RadialKernel(lambda r: -np.log(r)), [offsets], (h,))
    x0, x1 = np.abs(offsets - h / 2), offsets + h / 2
    prim = lambda x: np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)) - x, 0.0)  # noqa: E731
    exact = -(prim(x1) - np.sign(offsets - h / 2) * prim(x0)) / h
    exact[0] = 1 - np.log(h / 2)
    # summed error Σ_j h |error_j| ~ h Σ_{j≥3} 2/(720 j⁴) ≈ 6e-5 h (module docstring): measured
    # below that, against (h/12) Σ 1/j² ≈ 0.14 h with point values
    total = h * np.sum(np.abs(got - exact))
    assert total < 6e-5 * h

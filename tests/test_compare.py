"""Cross-checks (pf.compare) and particle deposits: exact W2 values, mass conservation, outputs."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.compare import compare, resample
from pdeflow.deposit import particles_to_density
from pdeflow.problems.gaussians import gaussian_on_grid
from pdeflow.trajectory import Trajectory


def _grid_run(grid, densities, times, method="fv", energy=None):
    traj = Trajectory(method=method, grid=grid, status="finished")
    for k, (t, rho) in enumerate(zip(times, densities, strict=True)):
        diagnostics = {"mass": grid.integrate(rho)}
        if energy is not None:
            diagnostics["energy"] = energy[k]
        traj.append(t, {"density": rho}, diagnostics)
    return traj


def _particle_run(grid, X_list, times, mass=1.0):
    traj = Trajectory(method="particles", grid=grid, status="finished")
    for t, X in zip(times, X_list, strict=True):
        traj.append(t, {"position": X}, {"mass": mass})
    traj.weights = np.full(len(X_list[0]), mass / len(X_list[0]))
    return traj


# -- deposits ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["cic", "histogram", "kde"])
@pytest.mark.parametrize("grid", [
    pf.Grid([(-1.0, 1.0)], 37),
    pf.Grid([(0.0, 1.0)], 20, periodic=True),
    pf.Grid([(-1.0, 1.0), (0.0, 2.0)], (17, 9), periodic=(True, False)),
    pf.Grid([(0.0, 1.0)] * 3, (5, 6, 7)),
], ids=["1d", "1d-periodic", "2d-mixed", "3d"])
def test_deposit_conserves_mass_to_round_off(method, grid):
    rng = np.random.default_rng(0)
    lo = np.array([a for a, _ in grid.bounds])
    # particles inside, on the walls, and outside (clamped or wrapped)
    X = lo + (rng.random((3000, grid.ndim)) * 1.4 - 0.2) * np.array(grid.lengths)
    X[:10] = lo
    w = rng.random(3000)
    rho = particles_to_density(X, w, grid, method=method)
    assert rho.shape == grid.shape and rho.min() >= 0
    assert grid.integrate(rho) == pytest.approx(w.sum(), rel=1e-12)  # summed weights, round-off


def test_kde_recovers_a_gaussian():
    grid = pf.Grid([(-5.0, 5.0)], 200)
    X = np.random.default_rng(1).standard_normal((100_000, 1))
    exact = gaussian_on_grid(grid, 0.0, 1.0, 1.0)
    kde = particles_to_density(X, None, grid, method="kde")
    cic = particles_to_density(X, None, grid, method="cic")
    # Scott's rule balances bias and variance at L1 ~ N^{-2/5} ≈ 1e-2; the raw CIC deposit is
    # noisier (≈ √(cells/N) ≈ 4e-2)
    assert grid.integrate(np.abs(kde - exact)) < 0.02
    assert grid.integrate(np.abs(kde - exact)) < grid.integrate(np.abs(cic - exact))


def test_deposit_rejects_bad_input():
    grid = pf.Grid([(-1.0, 1.0), (-1.0, 1.0)], 8)
    with pytest.raises(pf.PdeflowError, match=r"\(N, 2\)"):
        particles_to_density(np.zeros((5, 3)), None, grid)
    with pytest.raises(pf.PdeflowError, match="unknown deposit method"):
        particles_to_density(np.zeros((5, 2)), None, grid, method="sph")


# -- compare -------------------------------------------------------------------------------------
def test_compare_without_common_times_fails_clearly():
    grid = pf.Grid([(-3.0, 3.0)], 60)
    rho = pf.gaussian(grid, 0.0, 0.5)
    a = _grid_run(grid, [rho, rho], [0.0, 1.0])
    b = _grid_run(grid, [rho, rho], [0.5, 2.0], method="jko")
    with pytest.raises(pf.PdeflowError, match="share no snapshot time.*fv: 2 times in \\[0, 1\\]"):
        compare(a, b)
    with pytest.raises(pf.PdeflowError, match="not a snapshot time of every run; shared times: 0, 1"):
        compare(a, a, times=[0.5])


def test_w2_1d_between_shifted_gaussians_is_the_shift():
    grid = pf.Grid([(-6.0, 6.0)], 600)
    a = _grid_run(grid, [gaussian_on_grid(grid, 0.0, 0.5, 1.0)], [0.0])
    b = _grid_run(grid, [gaussian_on_grid(grid, 0.3, 0.5, 1.0)], [1e-12])  # same time to 1e-9
    result = compare(a, b)
    # W2(N(0,σ²), N(a,σ²)) = |a|; the grid sampling of each is second order (dx² ≈ 4e-4)
    assert result["w2"][0, 0] == pytest.approx(0.3, abs=1e-3)
    assert result["mean_gap"][0, 0] == pytest.approx(0.3, abs=1e-9)  # both grids symmetric


def test_w2_2d_by_exact_ot_between_translated_densities_is_the_translation():
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 40)  # dx = 0.2; max_points 400 -> 2x2 blocks
    shift = 0.8  # two blocks: the coarsened atoms translate exactly
    a = _grid_run(grid, [gaussian_on_grid(grid, (0.0, 0.0), 0.4, 1.0)], [0.0])
    b = _grid_run(grid, [gaussian_on_grid(grid, (shift, 0.0), 0.4, 1.0)], [0.0])
    result = compare(a, b, max_points=400, w2="atoms")
    # translation by s: W2 = s exactly; the tails cut by the box change mass by < 1e-6
    assert result["w2"][0, 0] == pytest.approx(shift, rel=1e-3)
    assert "coarsened by 2 per axis" in result.method
    # the default in 2D, back-and-forth on the grid itself: the same translation (4 cells)
    on_grid = compare(a, b)  # measured 1.25e-3 low at dx = 0.2: the dual value, a lower bound
    assert shift * (1 - 3e-3) < on_grid["w2"][0, 0] <= shift * (1 + 1e-9)
    assert "back-and-forth OT" in on_grid.method


def test_particles_sampled_from_a_density_are_close_in_w2_and_binning_beats_subsampling():
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 40)
    rho = gaussian_on_grid(grid, (0.0, 0.0), 0.5, 1.0)
    X = np.random.default_rng(2).multivariate_normal([0.0, 0.0], 0.5 * np.eye(2), size=40_000)
    runs = (_grid_run(grid, [rho], [0.0]), _particle_run(grid, [X], [0.0]))
    sub = compare(*runs, max_points=400, w2="atoms")["w2"][0, 0]
    binned = compare(*runs, max_points=400, particle_atoms="bin", w2="atoms")["w2"][0, 0]
    # a 400-point subsample carries its own sampling error (2D: ~ σ √(log n / n) up to a constant;
    # measured 0.20–0.22 over N = 1e4 … 6e5); binning all 40 000 particles into the same 400 blocks
    # leaves the block-mass noise (measured 0.10, 0.07, 0.05 at N = 1e4, 4e4, 1.6e5) over a floor
    # 0.04 from the grid's midpoint-rule block masses, seen through W2's square root
    assert sub < 0.3
    assert binned < 0.1
    assert binned < sub / 2


def test_resampling_between_grids_conserves_mass_and_position():
    fine = pf.Grid([(-3.0, 3.0)], 240)
    coarse = pf.Grid([(-3.0, 3.0)], 60)
    rho_f = pf.gaussian(fine, 0.4, 0.3)
    rho_c = pf.gaussian(coarse, 0.4, 0.3)
    down = resample(rho_f, fine, coarse)  # finer -> coarser: cell masses deposited
    up = resample(rho_c, coarse, fine)  # coarser -> finer: interpolated, rescaled
    assert coarse.integrate(down) == pytest.approx(1.0, rel=1e-12)  # mass, round-off
    assert fine.integrate(up) == pytest.approx(1.0, rel=1e-12)
    a, b = _grid_run(fine, [rho_f], [0.0]), _grid_run(coarse, [rho_c], [0.0], method="coarse")
    result = compare(a, b)
    # the same Gaussian on two grids: W2 and L1 at the coarse grid's second-order error
    # (dx² = 1e-2 times a constant below 1): measured W2 9.9e-4, L1 2.8e-3 (after interpolation)
    assert result["w2"][0, 0] < 1.5e-3
    assert result["l1"][0, 0] < 4e-3


def test_comparison_table_dict_xarray_hdf5_and_plot(tmp_path):
    grid = pf.Grid([(-6.0, 6.0)], 120)
    p = pf.problems.ornstein_uhlenbeck(grid, mean=1.0, cov=0.5)
    fv = pf.solve(p, 0.2, method="fv", snapshots=3, progress=False)
    particles = pf.solve(p, 0.2, method="particles", n_particles=2000, seed=0, snapshots=3,
                         progress=False)
    result = compare(fv, particles, exact=p.exact, energy=p.energy)
    assert result.pair_names == ["fv vs particles", "fv vs exact", "particles vs exact"]
    # with energy given, every energy is the grid energy of the density on fv's grid: fv's own
    # energy diagnostic is that same number
    np.testing.assert_allclose(result.energies[:, 0], fv.energy, rtol=1e-12)
    # the fv run against the exact solution: second order on this grid (dx = 0.1)
    assert np.all(result["w2"][:, 1] < 1e-3)  # measured ~2e-4: exact 1D W2, O(dx²) solution
    text = str(result)
    assert "quantile functions" in text and "fv vs exact" in text and text.count("\n") == 2 + 3 * 3
    as_dict = result.to_dict()
    assert as_dict["pairs"] == result.pair_names and len(as_dict["w2"]) == 3
    ds = result.to_xarray()
    assert dict(ds.sizes) == {"time": 3, "pair": 3, "run": 3}
    path = tmp_path / "cmp.h5"
    result.write(path)
    result.write(path)  # replaces the group
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["compare/w2"][()], result["w2"])
        assert [s.decode() for s in f["compare/pair"][()]] == result.pair_names
    fig = result.plot(tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").stat().st_size > 0 and len(fig.axes) == 6


def test_1d_w2_of_piecewise_constant_densities_is_exact():
    from pdeflow.wasserstein import grid_measure, w2_distance

    # uniform on [0, 1] against uniform on [0.5, 2.5]: Q_a = s, Q_b = 0.5 + 2s, so
    # W2² = ∫ (0.5 + s)² ds = 13/12 exactly — on any grid whose cells resolve the supports
    grid = pf.Grid([(0.0, 3.0)], 12)
    x = grid.axes[0]
    a = ((x > 0) & (x < 1)).astype(float)
    b = ((x > 0.5) & (x < 2.5)).astype(float)
    w2 = w2_distance(grid_measure(a, grid), grid_measure(b, grid))
    assert abs(w2**2 - 13 / 12) < 1e-14
    # against atoms: uniform on [0, 1] vs a point mass at 0.25: W2² = ∫(s − 1/4)² = 1/12 + 1/16
    atoms = (np.array([[0.25]]), np.array([3.0]))
    assert abs(w2_distance(grid_measure(a, grid), atoms) ** 2 - (1 / 12 + 1 / 16)) < 1e-14


def test_1d_w2_between_particle_sets_matches_pot():
    import ot

    from pdeflow.wasserstein import w2_distance

    rng = np.random.default_rng(5)
    xa, wa = rng.normal(size=(60, 1)), rng.random(60)
    xb, wb = rng.normal(1.0, 2.0, size=(80, 1)), rng.random(80)
    pot = ot.wasserstein_1d(xa[:, 0], xb[:, 0], wa / wa.sum(), wb / wb.sum(), p=2)
    assert abs(w2_distance((xa, wa), (xb, wb)) ** 2 - pot) < 1e-12


def test_2d_w2_resolves_grid_errors_and_particle_convergence():
    # Ornstein–Uhlenbeck 2D on 64² cells of 0.156, t = 0.5. Coarsened to <= 2000 atoms, W2 has a
    # floor of ~0.02 (fv vs exact) and ~0.16 (fv vs particles, whatever N); on the grid itself it
    # sees the grid error and the particles' sampling error
    grid = pf.Grid([(-5.0, 5.0)] * 2, 64)
    p = pf.problems.ornstein_uhlenbeck(grid, mean=(1.0, 0.0), cov=0.5)
    fv = pf.solve(p, 0.5, method="fv", snapshots=2, progress=False)
    exact = compare(fv, exact=p.exact, times=[0.5])
    coarse = compare(fv, exact=p.exact, times=[0.5], w2="atoms")
    # measured 1.45e-3 with L1 1.6e-3 (second-order SG on h = 0.156); atoms: 2.3e-2
    assert exact["w2"][0, 0] < 3e-3 and exact["w2"][0, 0] < coarse["w2"][0, 0] / 10
    gaps = []
    for n in (1_000, 10_000, 100_000):
        particles = pf.solve(p, 0.5, method="particles", n_particles=n, seed=1, snapshots=2,
                             progress=False)
        c = compare(fv, particles, times=[0.5])
        w2, mean_gap = c["w2"][0, 0], c["mean_gap"][0, 0]
        assert w2 >= mean_gap  # W2 ≥ |Δmean| for any two measures (the deposit keeps the mean)
        gaps.append((w2, c["l1"][0, 0]))
    (w1, l1), (w2_, l2), (w3, l3) = gaps
    # measured W2 0.081, 0.040, 0.013 and L1 0.44, 0.15, 0.049: both fall about √10 per decade
    assert w2_ < 0.7 * w1 and w3 < 0.5 * w2_, gaps
    assert 0.3 < (w1 / w3) / (l1 / l3) < 3, gaps

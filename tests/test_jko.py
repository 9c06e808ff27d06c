"""JKO minimizing movement (method="jko"): 1D quantile-map Newton, 2D entropic (Peyré).

Errors against exact solutions are measured in W2 between grid densities, computed exactly for
piecewise-constant densities through their piecewise-linear quantile functions (`w2_1d`).
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.solvers.jko import make_stepper


def _quantile(faces, cdf, s, side):
    j = np.clip(np.searchsorted(cdf, s, side=side), 1, len(cdf) - 1)
    lo, hi = cdf[j - 1], cdf[j]
    frac = np.clip((s - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    return faces[j - 1] + frac * (faces[j] - faces[j - 1])


def w2_1d(grid: pf.Grid, a: np.ndarray, b: np.ndarray) -> float:
    """Exact W2 between two piecewise-constant densities (normalised to unit mass).

    W2² = ∫_0^1 |Q_a(s) − Q_b(s)|² ds; both quantile functions are linear between the merged
    CDF breakpoints, where the integral of the squared difference is Δs (d0² + d0 d1 + d1²)/3.
    """
    (lo, hi), = grid.bounds
    faces = np.linspace(lo, hi, grid.shape[0] + 1)
    cdfs = [np.concatenate([[0.0], np.cumsum(r)]) for r in (a, b)]
    cdfs = [c / c[-1] for c in cdfs]
    s = np.unique(np.concatenate(cdfs))
    d0 = _quantile(faces, cdfs[0], s[:-1], "right") - _quantile(faces, cdfs[1], s[:-1], "right")
    d1 = _quantile(faces, cdfs[0], s[1:], "left") - _quantile(faces, cdfs[1], s[1:], "left")
    return float(np.sqrt(np.sum(np.diff(s) * (d0**2 + d0 * d1 + d1**2) / 3)))


def test_w2_1d_matches_gaussian_closed_form():
    grid = pf.Grid([(-6.0, 6.0)], 1200)
    a, b = pf.gaussian(grid, 0.0, 0.5), pf.gaussian(grid, 0.3, 0.7)
    exact = np.hypot(0.3, np.sqrt(0.7) - np.sqrt(0.5))  # W2 of 1D Gaussians
    # grid sampling of the Gaussians (dx = 0.01) moves the quantiles by O(dx²)
    assert abs(w2_1d(grid, a, b) - exact) < 1e-5


# -- 1D: convergence to exact solutions, first order in tau -----------------------------------------
def _heat():
    grid = pf.Grid([(-6.0, 6.0)], 1200)
    return pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), D=1.0, exact_gaussian=(0.0, 0.5, 1.0))


def _ou():
    grid = pf.Grid([(-6.0, 6.0)], 1200)
    return pf.problems.ornstein_uhlenbeck(grid, mean=1.0, cov=0.25, gamma=1.0, D=0.5)


def _porous_medium():
    return pf.problems.porous_medium(pf.Grid([(-3.0, 3.0)], 1200), m=2, t0=0.1)


@pytest.mark.parametrize(
    "build, t_end, tau",
    [(_heat, 0.5, 0.05), (_ou, 1.0, 0.1), (_porous_medium, 0.5, 0.05)],
    ids=["heat", "ornstein_uhlenbeck", "porous_medium"],
)
def test_1d_converges_first_order_in_tau_with_exact_mass(build, t_end, tau):
    problem = build()
    grid = problem.grid
    errors = []
    for k in range(3):
        traj = pf.solve(
            problem, t_end, method="jko", tau=tau / 2**k, n_quantiles=4000, snapshots=2,
            progress=False,
        )
        errors.append(w2_1d(grid, traj.density(-1), problem.exact(t_end)))
        # mass: the grid density telescopes to the quantile map's mass; only round-off
        assert abs(traj.mass[-1] - traj.mass[0]) <= 1e-13 * traj.mass[0]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # JKO is implicit Euler in W2: order 1. With 4000 graded quantiles and dx = 0.005-0.01 the
    # spatial W2 error (< 1e-5) is < 0.5% of the smallest tau error (> 2.5e-3): order within 0.8-1.2
    assert np.all((orders > 0.8) & (orders < 1.2)), (errors, orders)
    # measured W2 at tau/4: heat 2.8e-3, OU 4.8e-3, porous medium 3.2e-3
    assert errors[-1] < 6e-3


def test_1d_aggregation_agrees_with_finite_volume():
    grid = pf.Grid([(-6.0, 6.0)], 480)
    rho0 = pf.gaussian(grid, -1.5, 0.3, 0.5) + pf.gaussian(grid, 1.5, 0.3, 0.5)
    energy = pf.FreeEnergy(pf.Entropy(0.1), pf.Interaction(pf.GaussianKernel(1.0), strength=-1))
    problem = pf.problems.aggregation_diffusion(grid, rho0, energy)
    fv = pf.solve(problem, 1.0, method="fv", snapshots=2, progress=False)
    jko = pf.solve(problem, 1.0, method="jko", tau=0.02, n_quantiles=800, snapshots=2, progress=False)
    travelled = w2_1d(grid, rho0, fv.density(-1))  # ≈ 0.079
    gap = w2_1d(grid, jko.density(-1), fv.density(-1))
    # JKO error ≈ 0.009 tau (measured: 3.5e-4 at tau = 0.04, 1.8e-4 at 0.02) + spatial errors of
    # 800 quantiles and of fv on 480 cells (each ≈ 4e-5): 5e-4 leaves a factor ~2.5
    assert gap < 5e-4, (gap, travelled)
    assert gap < 0.01 * travelled
    assert jko.meta["max_newton_iterations"] <= 10  # quasi-Newton rate ≈ tau M max|W''| = 0.02


def test_1d_energy_never_increases_from_step_to_step():
    grid = pf.Grid([(-6.0, 6.0)], 600)
    rho0 = pf.gaussian(grid, -1.5, 0.3, 0.5) + pf.gaussian(grid, 1.5, 0.3, 0.5)
    energy = pf.FreeEnergy(
        pf.Entropy(0.1), pf.Potential(lambda x: 0.05 * x**2),
        pf.Interaction(pf.GaussianKernel(1.0), strength=-1),
    )
    problem = pf.problems.aggregation_diffusion(grid, rho0, energy)
    traj = pf.solve(problem, 1.0, method="jko", tau=0.05, n_quantiles=400, snapshots=21, progress=False)
    lagrangian = traj.diagnostics["lagrangian_energy"]
    # the discrete functional is minimised each step: E_{k+1} + W2²/(2τ) <= E_k, up to the
    # Newton tolerance (1e-10 relative displacement) and round-off of |E| ≈ 0.5
    assert np.all(np.diff(lagrangian) <= 1e-12)
    # the grid energy of the converted density (fv's definition) follows it: measured steps of
    # -5e-4 or less, while the two energies differ by a smooth O(dx²) quadrature offset
    assert np.all(np.diff(traj.energy) < 0)


def test_1d_step_lands_on_snapshot_times_and_walls_hold_full_support():
    grid = pf.Grid([(-5.0, 5.0)], 200)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), D=1.0)
    stepper = make_stepper(problem, t_end=1.0, tau=0.03)
    stepper.advance(0.1)
    assert stepper.t == 0.1 and stepper.steps == 4  # 3 steps of 0.03 and one of 0.01
    X = stepper.engine.X
    # a density that fills the box keeps its support's ends on the walls (no-flux)
    assert X[0] == -5.0 and X[-1] == 5.0
    assert np.all(np.diff(X) > 0)


# -- 2D: entropic JKO (solver="entropic"; the back-and-forth default: test_jko_bfm.py) ---------
def _ou_2d():
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 64)
    return pf.problems.ornstein_uhlenbeck(grid, mean=(1.0, -0.5), cov=0.5, gamma=1.0, D=1.0)


def _moments(grid, rho):
    mass = grid.integrate(rho)
    coords = grid.coords()
    mean = np.array([grid.integrate(c * rho) for c in coords]) / mass
    cov = np.array([
        [grid.integrate((ci - mi) * (cj - mj) * rho) for cj, mj in zip(coords, mean, strict=True)]
        for ci, mi in zip(coords, mean, strict=True)
    ]) / mass
    return mean, cov


def _jko_gaussian_variance(var0, t, tau, D, gamma):
    """Exact W2-JKO of OU on a Gaussian: σ' = (σ + sqrt(σ² + 4(1 + γτ)Dτ)) / (2(1 + γτ))."""
    sigma = np.sqrt(var0)
    for _ in range(int(round(t / tau))):
        sigma = (sigma + np.sqrt(sigma**2 + 4 * (1 + gamma * tau) * D * tau)) / (2 * (1 + gamma * tau))
    return sigma**2


def test_2d_ornstein_uhlenbeck_moments_follow_exact():
    problem = _ou_2d()
    grid = problem.grid
    t_end, tau, gamma, D = 0.5, 0.05, 1.0, 1.0
    eps = grid.dx[0] ** 2
    with pytest.warns(UserWarning, match="adds 8% to the diffusion"):  # the blur, accepted
        traj = pf.solve(problem, t_end, method="jko", tau=tau, epsilon=eps, snapshots=2,
                        progress=False, solver="entropic")
    mean, cov = _moments(grid, traj.density(-1))
    mean_exact, cov_exact = problem.exact_moments(t_end)
    n = round(t_end / tau)
    m0 = np.array([1.0, -0.5])
    # mean: the W2-JKO gives m0 (1 + γτ)^{-n} instead of m0 e^{-γt}; the entropic blur is
    # symmetric and does not move it. Tolerance: that time error + 1e-3 for the grid
    mean_error_tau = np.abs(m0 * ((1 + gamma * tau) ** -n - np.exp(-gamma * t_end)))
    assert np.all(np.abs(mean - mean_exact) <= mean_error_tau + 1e-3), (mean, mean_exact)
    # covariance: time error of the exact JKO recursion, plus the entropic extra diffusion
    # ε/(4τ) whose OU effect is (ε/(4τγ))(1 − e^{−2γt}) (0.049 here)
    extra = eps / (4 * tau)
    var_tau = _jko_gaussian_variance(0.5, t_end, tau, D, gamma)
    tol = abs(var_tau - cov_exact[0, 0]) + extra / gamma * (1 - np.exp(-2 * gamma * t_end))
    assert np.all(np.abs(np.diag(cov) - np.diag(cov_exact)) <= tol), (cov, cov_exact, tol)
    assert abs(cov[0, 1]) < 1e-6  # isotropic data, separable kernel: no correlation appears
    # sharper: the recursion with D + ε/(4τ) predicts the variance; measured gap 7e-4 (x), 2e-4 (y)
    var_pred = _jko_gaussian_variance(0.5, t_end, tau, D + extra, gamma)
    assert np.all(np.abs(np.diag(cov) - var_pred) < 3e-3), (cov, var_pred)
    # mass: the plan's second marginal is p_k exactly after every b-update; round-off only
    assert np.max(np.abs(traj.mass - traj.mass[0])) < 1e-12
    assert traj.meta["epsilon"] == eps and traj.meta["blur"] == pytest.approx(grid.dx[0])


def test_2d_energy_never_increases_from_step_to_step():
    problem = _ou_2d()
    eps = problem.grid.dx[0] ** 2  # given: the default run is refused (blur 8 % of D, > 5 %)
    with pytest.warns(UserWarning, match="adds 8% to the diffusion"):
        traj = pf.solve(problem, 0.5, method="jko", tau=0.05, snapshots=11, progress=False,
                        solver="entropic", epsilon=eps)
    assert traj.meta["blur_exceeds_threshold"] and traj.meta["entropic_diffusion_fraction"] == (
        pytest.approx(eps / (4 * 0.05)))
    # the variance grows from 0.5 towards (D + ε/(4τ))/γ = 1.08 but stays below 0.86 < D/γ over
    # t <= 0.5, where E is decreasing in it; measured decrements <= -0.028 per step
    assert np.all(np.diff(traj.energy) < -1e-3)
    assert np.all(traj.diagnostics["marginal_error"][1:] <= 1e-9)


def test_entropic_default_that_would_blur_is_refused_before_the_run():
    problem = _ou_2d()  # cells of 0.125: eps = dx² = 0.0156; at tau = 0.05, eps/(4 tau) = 8 % of D
    message = (r"eps/\(4 tau\) = 8% of D = 1, more than 5%; take tau >= 0.0781, or cells <= 0.1, "
               r"or solver='bfm' \(no blur\)")
    with pytest.raises(pf.PdeflowError, match=message):
        pf.solve(problem, 0.5, method="jko", tau=0.05, solver="entropic", progress=False)
    # the suggested tau passes: blur 5 %, recorded as within the threshold
    traj = pf.solve(problem, 0.0782, method="jko", tau=0.0782, solver="entropic", snapshots=2,
                    progress=False)
    assert traj.meta["entropic_diffusion_fraction"] == pytest.approx(0.0156 / 0.0782 / 4, rel=2e-3)
    assert not traj.meta["blur_exceeds_threshold"]


# -- options ------------------------------------------------------------------------------------------
def test_unknown_and_misplaced_options_raise():
    grid = pf.Grid([(-5.0, 5.0)], 100)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    with pytest.raises(pf.PdeflowError, match="known: .*n_quantiles"):
        pf.solve(problem, 0.1, method="jko", step=0.1, progress=False)
    with pytest.raises(pf.PdeflowError, match="epsilon"):
        pf.solve(problem, 0.1, method="jko", epsilon=0.01, progress=False)
    with pytest.raises(pf.PdeflowError, match="positive"):
        pf.solve(problem, 0.1, method="jko", tau=-1.0, progress=False)
    periodic = pf.problems.heat(pf.Grid([(-5.0, 5.0)], 100, periodic=True), pf.gaussian(grid, 0.0, 0.5))
    with pytest.raises(pf.PdeflowError, match="walls"):
        pf.solve(periodic, 0.1, method="jko", progress=False)


def test_run_attributes_are_stored(tmp_path):
    problem = _ou_2d()
    path = tmp_path / "run.h5"
    pf.solve(problem, 0.16, method="jko", tau=0.08, snapshots=2, store=path, progress=False,
             solver="entropic")  # tau = 0.08: the default eps = dx² adds 4.9 % to D
    meta = pf.load(path)["jko"].meta
    eps = problem.grid.dx[0] ** 2
    assert meta["epsilon"] == pytest.approx(eps) and meta["blur"] == pytest.approx(np.sqrt(eps))
    assert meta["tolerance"] == 1e-9 and meta["sinkhorn_iterations"] > 0
    assert meta["entropic_diffusion_fraction"] == pytest.approx(eps / 0.32)
    assert not meta["blur_exceeds_threshold"]


def test_1d_aggregation_jko_grid_and_particles_agree_in_w2():
    from pdeflow.trajectory import Trajectory

    # Keller–Segel-type aggregation–diffusion with a smooth attractive kernel, from a Gaussian:
    # W2 travelled over t = 1 is 0.12, every tolerance below is a small fraction of it
    t_end, N = 1.0, 50_000
    energy = pf.FreeEnergy(pf.Entropy(0.1), pf.Interaction(pf.GaussianKernel(1.0), strength=-1.0))

    def problem(cells):
        grid = pf.Grid([(-6.0, 6.0)], cells)
        return pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 0.5, 1.0), energy)

    p = problem(480)
    grid = p.grid
    run = {"progress": False, "snapshots": 3}
    fv = pf.solve(p, t_end, method="fv", **run)
    fv_fine = pf.solve(problem(960), t_end, method="fv", **run)
    jko = pf.solve(p, t_end, method="jko", tau=0.04, n_quantiles=800, **run)
    jko_half = pf.solve(p, t_end, method="jko", tau=0.02, n_quantiles=800, **run)
    particles = [pf.solve(p, t_end, method="particles", n_particles=N, seed=s, **run) for s in (0, 1)]
    result = pf.compare(fv, fv_fine, jko, jko_half, *particles,
                        labels=["fv", "fv960", "jko", "jko/2", "particles0", "particles1"])
    w2 = dict(zip(result.pairs, result["w2"][-1], strict=True))

    # fv: second order in dx, so its error at 480 cells is 4/3 of its gap to 960 cells
    # (measured gap 5.5e-5)
    fv_error = 4 / 3 * w2["fv", "fv960"]
    assert fv_error < 1e-4
    # JKO: implicit Euler in W2, first order in tau, so its error at tau is about twice its gap
    # to tau/2 (Richardson; measured gap 1.7e-4); 800 graded quantiles add ~4e-5 (see
    # test_1d_aggregation_agrees_with_finite_volume), inside the 1e-4 margin. The fv-JKO gap
    # is that error within fv's (measured 3.25e-4 at tau = 0.04, 1.57e-4 at 0.02: ratio 2.07)
    jko_error = 2 * w2["jko", "jko/2"]
    assert w2["fv", "jko"] < jko_error + fv_error + 1e-4, (w2["fv", "jko"], jko_error, fv_error)
    ratio = w2["fv", "jko"] / w2["fv", "jko/2"]
    assert ratio > 1.6 and ratio < 2.5
    assert w2["fv", "jko"] < 5e-4

    # particles: W2 between N particles and their limit is the N^{-1/2} sampling scale plus an
    # O(dt) Euler–Maruyama bias and the particle–mesh force error, together below ~1e-3 (with 10⁶
    # particles W2 to fv is 2.2e-3 at dt = 0.01, 1.8e-3 at 0.0025: that N's sampling scale). Measure
    # that scale: N i.i.d. samples of fv's final (piecewise-constant) density, by inverse CDF,
    # RMS over 8 draws (measured 9.2e-3 ≈ 2.05/√N; over 20 draws the largest was 1.33 × the RMS)
    rho = fv.density(-1)
    faces = np.linspace(*grid.bounds[0], grid.shape[0] + 1)
    cdf = np.concatenate([[0.0], np.cumsum(rho)]) / rho.sum()
    rng = np.random.default_rng(1000)
    scale = []
    for _ in range(8):
        samples = Trajectory(method="samples", grid=grid, status="finished")
        samples.append(t_end, {"position": _quantile(faces, cdf, rng.random(N), "right")[:, None]},
                       {"mass": 1.0})
        scale.append(pf.compare(fv, samples, times=[t_end])["w2"][0, 0])
    sampling = float(np.sqrt(np.mean(np.square(scale))))
    assert sampling * np.sqrt(N) > 1.5 and sampling * np.sqrt(N) < 3  # the N^{-1/2} scale itself
    for k in ("particles0", "particles1"):
        # measured 7.0e-3 and 8.5e-3 (0.77 and 0.93 × the sampling scale): the particles are as
        # close to fv and JKO as exact samples are, so their own bias is below the sampling error
        for other in ("fv", "jko/2"):
            assert w2[other, k] < 2 * sampling, (other, k, w2[other, k], sampling)
        assert w2["fv", k] > 10 * w2["fv", "jko"]  # sampling dominates the deterministic gaps
    # two independent particle runs: √2 × the sampling scale (measured 1.19e-2 = 1.30 × it)
    assert w2["particles0", "particles1"] < 2 * np.sqrt(2) * sampling

"""pf.compare with finite-element (mesh) runs: against grid, particle and mesh runs, in any position."""

from __future__ import annotations

import numpy as np
import pytest
from skfem import Basis, ElementTriP1, Functional

import pdeflow as pf
from pdeflow.compare import compare, resample
from pdeflow.trajectory import Trajectory
from pdeflow.wasserstein import mesh_atoms, moments

BOUNDS = [(-4.0, 4.0), (-4.0, 4.0)]
MEAN0, COV0, D, T = (0.3, -0.2), 0.2, 1.0, 0.2  # N(MEAN0, COV0 + 2 D t I); walls at > 4.8 σ


def _heat(domain):
    rho0 = pf.gaussian(domain, mean=MEAN0, cov=COV0)
    return pf.problems.heat(domain, rho0, D=D, exact_gaussian=(MEAN0, COV0, 1.0))


def _fem(problem, snapshots=3):
    # Crank–Nicolson with λ_max dt small enough that the time error is far below the spatial one
    return pf.solve(problem, T, method="fem", snapshots=snapshots, dt=T / 100, theta=0.5,
                    progress=False)


def _fv(problem, snapshots=3):
    return pf.solve(problem, T, method="fv", snapshots=snapshots, progress=False)


def test_mesh_atoms_carry_the_exact_p1_mass_and_centre_of_mass():
    mesh = pf.Mesh.l_shape(2)
    rho = np.random.default_rng(0).random(mesh.size)
    points, masses = mesh_atoms(rho, mesh)
    basis = Basis(mesh.skfem, ElementTriP1(), intorder=4)
    r = basis.interpolate(rho)
    mass = Functional(lambda w: w.r).assemble(basis, r=r)
    centre = [Functional(lambda w, k=k: w.r * w.x[k]).assemble(basis, r=r) for k in range(2)]
    # the atoms are the P1 density's triangle masses at their centres of mass: total mass and
    # first moment of ρ_h exactly (round-off), and the mass is the lumped mass Σ m_i ρ_i
    assert abs(masses.sum() - mass) < 1e-13 and abs(mesh.integrate(rho) - mass) < 1e-13
    np.testing.assert_allclose(masses @ points, centre, atol=1e-13)


def test_heat_on_square_mesh_and_grid_converge_together():
    w2, l1 = [], []
    for k in (5, 6):  # h = 1/4, 1/8 on [−4, 4]²; the mesh nodes are the grid's cell corners
        grid, mesh = pf.Grid(BOUNDS, 2**k), pf.Mesh.rectangle(BOUNDS, k)
        p_grid, p_mesh = _heat(grid), _heat(mesh)
        fem, fv = _fem(p_mesh), _fv(p_grid)
        result = compare(fem, fv, exact=p_grid.exact)  # the mesh run first: fv's grid is the reference
        assert result.grid == grid and "first grid run" in result.method
        assert result.pair_names == ["fem vs fv", "fem vs exact", "fv vs exact"]
        assert np.all(np.isfinite(result["w2"])) and np.all(np.isfinite(result["l1"]))
        w2.append(result["w2"][-1, 0])
        l1.append(result["l1"][-1, 0])
        h = grid.dx[0]
        # moments: the lumped measure Σ m_i ρ_i δ_{x_i} of the mesh run (what compare uses) follows
        # the exact Gaussian's: on this mesh the lumped P1 heat operator is the 5-point Laplacian,
        # which moves the mean and covariance exactly as ∂t ρ = Δρ does (Δ of x, x², xy is exact);
        # only the walls at 4.8 σ act (measured |Δmean| 7e-7, 4e-7; |Δcov| 6e-6, 3e-6)
        rho = fem.density(-1)
        mean, cov = moments(mesh.nodes, mesh.lumped_mass * rho)
        assert np.max(np.abs(mean - MEAN0)) < 1e-5
        assert np.max(np.abs(cov - (COV0 + 2 * D * T) * np.eye(2))) < 5e-5
        # the grid run's covariance carries its cells' own spread dx²/12 on the diagonal (the
        # piecewise-constant density), so |dcov| (fem, fv) is √2 dx²/12 (measured to 2e-6, 2e-7)
        assert abs(result["cov_gap"][-1, 0] - np.sqrt(2) * h**2 / 12) < 1e-4
        assert result["mean_gap"][-1, 0] < 1e-5
        # energies are each run's own diagnostic (lumped quadrature of the nodal entropy, midpoint
        # rule of the cells'): measured gaps 9e-8 (k = 5) and 1e-8 (k = 6), far below h²
        assert result["energy_gap"][-1, 0] < 1e-6
    # L1: both schemes and the interpolation of the P1 field at the cell centres are O(h²):
    # measured 2.52e-2 → 6.30e-3 (factor 4.0)
    assert l1[0] / l1[1] > 3.5, l1
    # W2 on the default 2000 atoms: blocks of 0.25 at both resolutions (32² cells, then 64² in
    # 2×2 blocks), and W2 between block masses that differ by L1 on a fixed block lattice is
    # ~ block width × √L1: it falls like √L1, i.e. first order (measured 6.32e-2 → 3.19e-2,
    # factor 1.98)
    assert w2[0] / w2[1] > 1.7, w2
    assert w2[1] < 0.05


def test_particles_against_a_mesh_run_show_only_their_sampling_error():
    grid, mesh = pf.Grid(BOUNDS, 32), pf.Mesh.rectangle(BOUNDS, 5)
    p_grid = _heat(grid)
    fem = _fem(_heat(mesh), snapshots=2)
    N = 20_000
    particles = pf.solve(p_grid, T, method="particles", n_particles=N, seed=0, snapshots=2,
                         progress=False)
    # heat: Brownian steps are exact in law, so the particles are N i.i.d. samples of the exact
    # Gaussian (the walls at 4.8 σ aside); a set of N i.i.d. samples drawn directly is the yardstick
    X = np.random.default_rng(100).multivariate_normal(MEAN0, (COV0 + 2 * D * T) * np.eye(2), size=N)
    iid = Trajectory(method="samples", grid=grid, status="finished")
    iid.append(T, {"position": X}, {"mass": 1.0})
    result = compare(fem, particles, iid, times=[T])
    assert result.pair_names == ["fem vs particles", "fem vs samples", "particles vs samples"]
    for name in ("w2", "l1", "mean_gap", "cov_gap"):
        assert np.all(np.isfinite(result[name])), name
    # W2 (2000-point subsamples, O(n^-1/2 log) in 2D) and L1 (CIC deposit noise) of the mesh run
    # against the particles are those against exact samples: measured ratios over seeds 0–4,
    # W2 0.97–1.08, L1 0.90–1.14 (0.99 and 1.02 at seed 0; W2 ≈ 0.125, L1 ≈ 0.062)
    w2_ratio = result["w2"][0, 0] / result["w2"][0, 1]
    l1_ratio = result["l1"][0, 0] / result["l1"][0, 1]
    assert 0.75 < w2_ratio < 1.33 and 0.75 < l1_ratio < 1.33, (w2_ratio, l1_ratio)
    # the particle mean is off by ~ σ/√N per axis (σ² = 0.6): 4 σ √(2/N) = 0.022 bounds it
    # (measured 3.4e-3); the covariance by ~ σ² √(2/N) per entry: 4 σ² √(6/N) (0.042) bounds
    # the Frobenius gap (measured 5.7e-3)
    sigma2 = COV0 + 2 * D * T
    assert result["mean_gap"][0, 0] < 4 * np.sqrt(sigma2) * np.sqrt(2 / N)
    assert result["cov_gap"][0, 0] < 4 * sigma2 * np.sqrt(6 / N)
    binned = compare(fem, particles, times=[T], particle_atoms="bin")
    # particles binned into the reference blocks (no subsample): measured 0.074 (0.067–0.079)
    assert binned["w2"][0, 0] < 0.1


def test_mesh_run_first_or_alone_gets_a_grid_reference_and_exact_on_its_nodes():
    mesh = pf.Mesh.disk(radius=3.5, refine=5)  # h = 0.2; the no-flux wall 4 σ from the mass at t = 0.2
    p_mesh = _heat(mesh)
    fem = _fem(p_mesh)
    # mesh runs only, exact on the mesh nodes: the reference grid covers the disk's bounding box
    alone = compare(fem, exact=p_mesh.exact)
    assert "bounding box" in alone.method
    assert alone.grid.bounds == mesh.bounds and alone.grid.shape == (51, 51)
    # the P1 field at the cell centres, zero outside the disk, rescaled to the lumped mass
    assert alone.grid.integrate(alone.densities["fem"][-1]) == pytest.approx(1.0, rel=1e-12)
    # against the exact solution sampled on the same nodes: the O(h²) P1 error (measured L1
    # 2.6e-3), W2 on 2×2 blocks of 0.14 cells (measured 2.5e-2, see the square-mesh test)
    assert alone["l1"][-1, 0] < 6e-3
    assert alone["w2"][-1, 0] < 0.04
    # a grid run later in the list gives the reference grid
    grid = pf.Grid(BOUNDS, 32)
    fv = _fv(_heat(grid))
    result = compare(fem, fv)
    assert result.grid == grid and result.pair_names == ["fem vs fv"]
    # L1 is fv's own error at h = 0.25 (1.16e-2 against the exact Gaussian; measured 1.17e-2);
    # W2 on the 0.25 blocks: cell-centre atoms against the disk's binned triangle atoms, whose
    # floor is 0.048 for exact block masses already (measured 8.5e-2)
    assert result["l1"][-1, 0] < 0.02 and result["w2"][-1, 0] < 0.12
    # resample conserves the mesh run's mass on any grid
    other = pf.Grid([(-4.0, 4.0), (-3.6, 3.6)], (50, 40))
    assert other.integrate(resample(fem.density(-1), mesh, other)) == pytest.approx(
        mesh.integrate(fem.density(-1)), rel=1e-12)


def test_1d_grid_and_2d_mesh_are_refused_clearly():
    grid = pf.Grid([(-4.0, 4.0)], 80)
    fv = pf.solve(pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.2)), T, method="fv",
                  snapshots=3, progress=False)
    mesh = pf.Mesh.rectangle(BOUNDS, 3)
    fem = _fem(_heat(mesh))
    for runs in ((fv, fem), (fem, fv)):
        with pytest.raises(pf.PdeflowError, match="cannot compare runs of different dimensions") as err:
            compare(*runs)
        assert "fv 1D (grid)" in str(err.value) and "fem 2D (mesh)" in str(err.value)

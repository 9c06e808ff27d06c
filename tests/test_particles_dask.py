"""The particle method on Dask (``solve(..., method="particles", client=...)``): one partition
repeats the single-process run bit for bit; two partitions agree with it in law (mean, covariance,
the Keller–Segel virial slope) to statistical error; positions stored per partition read back
through one virtual dataset; an interrupted run resumes to the uninterrupted one, bit for bit.

The cluster: 2 workers of 1 thread each, in this process (``processes=False``): process workers
would each start an interpreter and load the Numba kernels (seconds per test session on the
2-core test machine) and test nothing more: the tasks, the worker-side partitions and the data
flow are the same (deposits, fields and scalars move between workers as Dask futures either way).
"""

import warnings

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.errors import PdeflowError
from pdeflow.problems.keller_segel import second_moment_slope
from pdeflow.solvers.particles_dask import DistributedParticles
from tests.conftest import interrupt_advance

distributed = pytest.importorskip(
    "dask.distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')")

OPTIONS = {"interaction": "mesh", "progress": False}


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():  # its HTTP server (health checks) takes any free port
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                           dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def keller_segel(n: int = 48, mass: float = np.pi):
    grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], n)
    return pf.problems.keller_segel(grid, pf.gaussian(grid, 0.0, 0.5, mass=mass))


def test_one_partition_repeats_the_single_process_run_bitwise(client):
    # partition 0 of 1 draws from SeedSequence(seed), the single-process generator: the same
    # samples, noise, deposits (one partition: no sum) and field, so the same floats
    p = keller_segel()
    kw = dict(n_particles=4000, seed=3, snapshots=4, **OPTIONS)
    single = pf.solve(p, 0.03, method="particles", **kw)
    dask = pf.solve(p, 0.03, method="particles", client=client, partitions=1, **kw)
    assert dask.meta["steps"] == single.meta["steps"] > 50
    for i in range(len(single)):
        np.testing.assert_array_equal(dask.positions(i), single.positions(i))
    for key, values in single.diagnostics.items():
        np.testing.assert_array_equal(dask.diagnostics[key], values, err_msg=key)
    assert {**dask.meta["options"], "partitions": None} == single.meta["options"]


def test_two_partitions_agree_in_law_with_single_process_keller_segel(client):
    # subcritical 2D Keller–Segel, M = 2π < 8π: d/dt ∫|x|²ρ = 4DM − χM²/(2π) = 6π exactly
    M, N, T = 2 * np.pi, 20_000, 0.1
    p = keller_segel(64, M)
    kw = dict(n_particles=N, seed=11, snapshots=11, **OPTIONS)
    single = pf.solve(p, T, method="particles", **kw)
    dask = pf.solve(p, T, method="particles", client=client, **kw)
    assert dask.meta["partitions"] == 2 and dask.meta["workers"] == 2
    d, s = dask.diagnostics, single.diagnostics
    # independent samples of N particles: a mean per axis has standard deviation √(var/N)
    # (0.0064 here, var = 0.81 at t = 0.1), a variance var·√(2/N) (0.0081), a covariance about
    # var/√N; two runs differ by √2 of that; 4σ. Measured at t = 0.1: |Δmean| 0.0028 and 0.0043
    # (bound 0.032), |Δvar| 0.0047 and 0.0065 (bound 0.037), |Δcov| 0.0046 (bound 0.026).
    for a in ("x", "y"):
        var = s[f"var_{a}"][-1]
        assert abs(d[f"mean_{a}"][-1] - s[f"mean_{a}"][-1]) < 4 * np.sqrt(2 * var / N)
        assert abs(d[f"var_{a}"][-1] - var) < 4 * np.sqrt(2) * var * np.sqrt(2 / N)
    assert abs(d["cov_xy"][-1] - s["cov_xy"][-1]) < 4 * np.sqrt(2) * s["var_x"][-1] / np.sqrt(N)
    # the virial slope, as tests/test_particles.py: noise σ = √(6q/(5T)), q = 8 (M/N) M₂ (σ = 0.47
    # here), and the mesh's smoothing of the force at h = dx/2 (bias M²h²/(8πℓ²) log(ℓ²/h²), 0.11).
    # Measured: distributed 19.23, single 19.34 (σ 0.47 each), exact 6π = 18.85.
    exact = second_moment_slope(M)
    h2, l2 = (p.grid.dx[0] / 2) ** 2, 0.5
    bias = M**2 * h2 / (8 * np.pi * l2) * np.log(l2 / h2)
    slopes = []
    for run in (dask, single):
        slope = np.polyfit(run.times, run.second_moment, 1)[0]
        sigma = np.sqrt(6 * 8 * (M / N) * run.second_moment.mean() / (5 * T))
        assert abs(slope - exact) < 4 * sigma + bias
        slopes.append(slope)
    assert abs(slopes[0] - slopes[1]) < 4 * np.sqrt(2) * sigma
    np.testing.assert_allclose(d["mass"], M, rtol=1e-13)  # equal weights M/N, N of them


def test_positions_stored_per_partition_read_as_one_virtual_dataset(client, tmp_path):
    path = tmp_path / "run.h5"
    address = client.scheduler.address  # a scheduler address works as client= too
    run = pf.solve(keller_segel(), 0.01, method="particles", n_particles=3001, seed=2,
                   snapshots=3, store=path, client=address, **OPTIONS)
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "run.h5", "run.particles.part000.h5", "run.particles.part001.h5"]
    with h5py.File(path, "r") as f:
        ds = f["particles/position"]
        assert ds.is_virtual and ds.shape == (3, 3001, 2)
        assert [s.file_name for s in ds.virtual_sources()] == ["run.particles.part000.h5",
                                                               "run.particles.part001.h5"]
    with h5py.File(tmp_path / "run.particles.part001.h5", "r") as f:
        assert f["position"].shape == (3, 1500, 2)  # 3001 = 1501 + 1500
    back = pf.load(path)["particles"]
    assert back.status == "finished" and back.weights.shape == (3001,)
    for i in range(3):
        X = back.positions(i)
        assert X.shape == (3001, 2) and np.all(np.isfinite(X))
        np.testing.assert_array_equal(X, run.positions(i))
    assert back.density(-1).sum() * back.grid.cell_volume == pytest.approx(np.pi, rel=1e-12)


def test_interrupted_run_resumes_to_the_uninterrupted_run_bitwise(client, tmp_path, monkeypatch):
    p = keller_segel()
    kw = dict(n_particles=2000, seed=7, snapshots=6, client=client, **OPTIONS)
    reference = pf.solve(p, 0.02, method="particles", store=tmp_path / "ref.h5", **kw)
    undo = interrupt_advance(monkeypatch, DistributedParticles, 3)
    with pytest.raises(KeyboardInterrupt):
        pf.solve(p, 0.02, method="particles", store=tmp_path / "run.h5", **kw)
    undo()
    assert pf.load(tmp_path / "run.h5")["particles"].status == "interrupted"
    resumed = pf.solve(p, 0.02, method="particles", store=tmp_path / "run.h5", resume=True, **kw)
    assert resumed.meta["resumed_from"] == pytest.approx(0.008)
    back = pf.load(tmp_path / "run.h5")["particles"]
    assert back.status == "finished" and len(back) == 6
    for i in range(6):
        np.testing.assert_array_equal(back.positions(i), reference.positions(i))
    for key in ("mass", "energy", "second_moment", "var_x"):
        np.testing.assert_array_equal(back.diagnostics[key], reference.diagnostics[key])
    assert back.meta["steps"] == reference.meta["steps"]


def test_supercritical_keller_segel_blows_up_on_dask(client):
    # as tests/test_particles.py: M = 10π > 8π, T* ≤ 0.5; the peak deposit is gathered each step
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 64)
    p = pf.problems.keller_segel(grid, pf.gaussian(grid, 0.0, 0.25, mass=10 * np.pi))
    run = pf.solve(p, 1.0, method="particles", n_particles=20_000, seed=0, client=client,
                   progress=False)
    assert run.status == "blow-up" and run.meta["blowup_time"] < 0.5
    assert run.diagnostics["max_density"][-1] >= run.meta["blowup_threshold"]


@pytest.mark.parametrize("change, words", [
    ({"interaction": "direct"}, "pair sums"),
    ({"diffusion": "blob"}, "blob method"),
    ({"interaction": "none"}, "interaction='none' is for problems without interactions"),
    ({"method": "fv"}, "runs method='particles' on Dask"),
])
def test_unsupported_combinations_are_refused_with_the_fix(client, change, words):
    options = {"method": "particles", "n_particles": 100, "seed": 0, "progress": False, **change}
    with pytest.raises(PdeflowError, match=words):
        pf.solve(keller_segel(), 0.01, client=client, **options)


def test_weighted_particles_are_refused(client):
    grid = pf.Grid([(-3.0, 3.0)], 60)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), metric=pf.WassersteinFisherRao(2.0))
    with pytest.raises(PdeflowError, match="weighted particles"):
        pf.solve(p, 0.01, method="particles", client=client, n_particles=100, progress=False)


def test_partitions_option_needs_a_client():
    with pytest.raises(PdeflowError, match="pass client="):
        pf.solve(keller_segel(), 0.01, method="particles", partitions=2, n_particles=10, seed=0,
                 progress=False)

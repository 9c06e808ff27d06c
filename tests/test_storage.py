"""HDF5 layout, xarray access, reading back, interrupted and killed runs, bad files."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.solvers.fv import FiniteVolume
from tests.conftest import interrupt_advance


@pytest.fixture
def ou2d():
    grid = pf.Grid([(-5.0, 5.0), (-4.0, 4.0)], (40, 32))
    return pf.problems.ornstein_uhlenbeck(grid, mean=(0.5, 0.0), cov=0.3)


def test_file_layout_and_round_trip(tmp_path, ou2d):
    path = tmp_path / "run.h5"
    traj = pf.solve(ou2d, 0.5, snapshots=5, store=path, progress=False)
    with h5py.File(path, "r") as f:
        assert f.attrs["pdeflow_version"] == pf.__version__
        g = f["fv"]
        assert g.attrs["status"] == "finished"
        assert g["density"].shape == (5, 40, 32)
        assert g["density"].chunks == (1, 40, 32)
        assert g["density"].compression == "gzip" and g["density"].shuffle
        assert [d.label or d[0].name for d in g["density"].dims] == ["/fv/time", "/fv/x", "/fv/y"]
    back = pf.load(path)["fv"]
    assert back.status == "finished"
    np.testing.assert_array_equal(back.times, traj.times)
    np.testing.assert_array_equal(back.density(-1), traj.density(-1))
    np.testing.assert_array_equal(back.energy, traj.energy)
    assert back.grid == ou2d.grid
    assert (tmp_path / "run.xmf").read_text().count("<Time ") == 5


def test_xarray_opens_group_with_named_dimensions(tmp_path, ou2d):
    xr = pytest.importorskip("xarray")
    path = tmp_path / "run.h5"
    pf.solve(ou2d, 0.2, snapshots=3, store=path, progress=False)
    ds = xr.open_dataset(path, group="fv", engine="h5netcdf")
    assert ds["density"].dims == ("time", "x", "y")
    np.testing.assert_allclose(ds["x"].values, ou2d.grid.axes[0])
    mass = ds["density"].sum(("x", "y")).values * ou2d.grid.cell_volume
    np.testing.assert_allclose(mass, ds["mass"].values, rtol=1e-12)
    ds.close()


def test_two_runs_share_a_file_and_existing_run_is_protected(tmp_path, ou2d):
    path = tmp_path / "run.h5"
    pf.solve(ou2d, 0.1, snapshots=2, store=path, progress=False)
    pf.solve(ou2d, 0.1, snapshots=2, store=path, name="implicit", scheme="implicit",
             progress=False)
    assert set(pf.load(path)) == {"fv", "implicit"}
    with pytest.raises(pf.StorageError, match="already holds a run 'fv'"):
        pf.solve(ou2d, 0.1, snapshots=2, store=path, progress=False)
    pf.solve(ou2d, 0.1, snapshots=3, store=path, overwrite=True, progress=False)
    assert len(pf.load(path)["fv"]) == 3


def test_interrupted_run_keeps_finished_frames(tmp_path, ou2d, monkeypatch):
    path = tmp_path / "run.h5"
    interrupt_advance(monkeypatch, FiniteVolume, 4)
    with pytest.raises(KeyboardInterrupt):
        pf.solve(ou2d, 1.0, snapshots=11, store=path, progress=False)
    back = pf.load(path)["fv"]
    assert back.status == "interrupted"
    assert len(back) == 4  # t = 0 and three finished snapshots
    np.testing.assert_allclose(back.times, [0.0, 0.1, 0.2, 0.3])
    assert abs(back.mass[-1] - 1.0) < 1e-12


KILL_SCRIPT = """
import sys
import pdeflow as pf
grid = pf.Grid([(-5.0, 5.0)] * 2, 256)
p = pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3)
pf.solve(p, 3.0, snapshots=31, store=sys.argv[1], progress=False, resume=True)
"""  # ~5 s of stepping: the kills below land well before the end


def _kill_after_frames(path, min_frames, rng, script=KILL_SCRIPT, run="fv"):
    """Start (or resume) the run in a new process; SIGKILL it at a random moment once it has
    written ``min_frames`` snapshots."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)])
    try:
        deadline = time.time() + 120
        frames = 0
        while time.time() < deadline and frames < min_frames and proc.poll() is None:
            time.sleep(0.05)
            try:
                frames = len(pf.load(path)[run])
            except (pf.StorageError, KeyError):
                frames = 0
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return frames


def test_sigkilled_runs_keep_their_frames_and_resume_exactly(tmp_path):
    rng = np.random.default_rng()
    path = tmp_path / "killed.h5"
    seen = []
    for min_frames in (3, 10):  # kill, resume in a new process, kill again
        assert _kill_after_frames(path, min_frames, rng) >= min_frames
        back = pf.load(path)["fv"]
        assert back.status == "running"  # never closed: not finished
        assert len(back) >= min_frames
        assert np.all(np.isfinite(back.density(-1)))
        np.testing.assert_allclose(back.mass, 1.0, rtol=1e-12)
        seen.append(len(back))
    grid = pf.Grid([(-5.0, 5.0)] * 2, 256)
    p = pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3)
    finished = pf.solve(p, 3.0, snapshots=31, store=path, progress=False, resume=True)
    assert finished.status == "finished" and len(finished) == 31
    reference = pf.solve(p, 3.0, snapshots=31, progress=False)
    back = pf.load(path)["fv"]
    for i in range(31):
        np.testing.assert_allclose(back.density(i), reference.density(i), rtol=0, atol=1e-15)
    assert seen[1] >= seen[0]


JKO_SCRIPT = """
import sys
import pdeflow as pf
grid = pf.Grid([(-4.0, 4.0)], 200)
energy = pf.FreeEnergy(pf.Entropy(0.3), pf.Interaction(pf.GaussianKernel(1.0), -2.0))
p = pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 0.5, 1.0), energy)
traj = pf.solve(p, 1.0, snapshots=41, store=sys.argv[1], progress=False, resume=True, method="jko",
                tau=0.002, n_quantiles=400)
"""  # ~2 s of stepping; it continues only from a checkpoint (the quantile map) that matches its frames


def test_sigkilled_jko_run_resumes_from_its_checkpoint_bitwise(tmp_path):
    path = tmp_path / "killed.h5"
    assert _kill_after_frames(path, 5, np.random.default_rng(), JKO_SCRIPT, "jko") >= 5
    grid = pf.Grid([(-4.0, 4.0)], 200)
    energy = pf.FreeEnergy(pf.Entropy(0.3), pf.Interaction(pf.GaussianKernel(1.0), -2.0))
    p = pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 0.5, 1.0), energy)
    options = {"method": "jko", "tau": 0.002, "n_quantiles": 400}
    resumed = pf.solve(p, 1.0, snapshots=41, store=path, progress=False, resume=True, **options)
    assert resumed.status == "finished" and resumed.meta["resumed_from"] > 0  # not started again
    reference = pf.solve(p, 1.0, snapshots=41, progress=False, **options)
    back = pf.load(path)["jko"]
    for i in range(41):
        np.testing.assert_array_equal(back.density(i), reference.density(i))


def _growth_beyond_data(monkeypatch, path, problem, t_end, snapshots, **options):
    """Bytes the file grows by from its second snapshot to its last, beyond what the datasets
    hold more (their storage: the compressed frames and the diagnostics)."""
    from pdeflow.storage import RunWriter

    sizes, append = [], RunWriter.append

    def measured_append(self, *args, **kwargs):
        append(self, *args, **kwargs)
        data = []
        self.file.visititems(lambda _, o: data.append(o.id.get_storage_size())
                             if isinstance(o, h5py.Dataset) else None)
        sizes.append((path.stat().st_size, sum(data)))

    monkeypatch.setattr(RunWriter, "append", measured_append)
    pf.solve(problem, t_end, snapshots=snapshots, store=path, progress=False, **options)
    monkeypatch.undo()
    (file_1, data_1), (file_n, data_n) = sizes[1], sizes[-1]
    return (file_n - file_1) - (data_n - data_1)


def test_checkpoints_rewritten_at_every_snapshot_do_not_grow_the_file(tmp_path, monkeypatch):
    # The checkpoint (the 1D JKO quantile map, 4.4 kB; the particles' random generator, 0.3 kB)
    # is rewritten with every snapshot. In an attribute, HDF5 kept each old value's space: the
    # file grew beyond its data by 4480 B (JKO) and 251 B (particles) per snapshot, 219 kB and
    # 12 kB over these 49. In place, it grows by the data alone (measured: 0 B beyond); allowed:
    # one more node of a chunk index (< 4 kB) and 16 B per snapshot.
    grid = pf.Grid([(-4.0, 4.0)], 200)
    energy = pf.FreeEnergy(pf.Entropy(0.3), pf.Interaction(pf.GaussianKernel(1.0), -2.0))
    jko = pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 0.5, 1.0), energy)
    beyond = _growth_beyond_data(monkeypatch, tmp_path / "jko.h5", jko, 0.2, 51, method="jko",
                                 tau=0.004, n_quantiles=400)
    assert beyond <= 4096 + 16 * 49
    grid = pf.Grid([(-4.0, 4.0)], 40)
    heat = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    beyond = _growth_beyond_data(monkeypatch, tmp_path / "particles.h5", heat, 0.5, 51,
                                 method="particles", n_particles=200, seed=2)
    assert beyond <= 4096 + 16 * 49


def test_has_run_reads_the_group_not_the_frames(tmp_path, ou2d, monkeypatch):
    from pdeflow import storage

    path = tmp_path / "run.h5"
    assert not storage.has_run(path, "fv")  # no file yet
    pf.solve(ou2d, 0.1, snapshots=3, store=path, progress=False)
    pf.compare(pf.load(path)["fv"], exact=ou2d.exact).write(path)  # a group that is no run

    def no_reading(*args, **kwargs):
        raise AssertionError("has_run read a run")

    monkeypatch.setattr(storage, "read_group", no_reading)
    assert storage.has_run(path, "fv")
    assert not storage.has_run(path, "jko") and not storage.has_run(path, "compare")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["fv"] = 1
    with pytest.raises(pf.StorageError, match="not written by pdeflow"):
        storage.has_run(foreign, "fv")


def test_corrupt_and_foreign_files_raise_clear_errors(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(pf.StorageError, match="cannot be opened as HDF5"):
        pf.load(bad)
    with pytest.raises(pf.StorageError, match="does not exist"):
        pf.load(tmp_path / "missing.h5")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["a"] = 1
    with pytest.raises(pf.StorageError, match="not written by pdeflow"):
        pf.load(foreign)


def test_truncated_file_raises_clear_error(tmp_path, ou2d):
    path = tmp_path / "run.h5"
    pf.solve(ou2d, 0.1, snapshots=3, store=path, progress=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(pf.StorageError):
        pf.load(path)


@pytest.mark.parametrize("scheme", ["explicit", "implicit"])
def test_resume_reproduces_uninterrupted_run(tmp_path, ou2d, monkeypatch, scheme):
    reference = pf.solve(ou2d, 1.0, snapshots=11, progress=False, scheme=scheme)
    path = tmp_path / "run.h5"
    undo = interrupt_advance(monkeypatch, FiniteVolume, 5)
    with pytest.raises(KeyboardInterrupt):
        pf.solve(ou2d, 1.0, snapshots=11, store=path, progress=False, scheme=scheme)
    undo()
    assert len(pf.load(path)["fv"]) == 5
    resumed = pf.solve(ou2d, 1.0, snapshots=11, store=path, progress=False, resume=True)
    assert resumed.status == "finished" and len(resumed) == 11
    back = pf.load(path)["fv"]
    assert back.status == "finished" and len(back) == 11
    for i in range(11):  # the same steps from the same stored state: equal to round-off
        np.testing.assert_allclose(back.density(i), reference.density(i), rtol=0, atol=1e-15)
    again = pf.solve(ou2d, 1.0, snapshots=11, store=path, progress=False, resume=True)
    assert len(again) == 11  # a finished run is returned as it is


def test_resume_rejects_other_snapshot_times(tmp_path, ou2d, monkeypatch):
    path = tmp_path / "run.h5"
    pf.solve(ou2d, 0.2, snapshots=3, store=path, progress=False)
    with h5py.File(path, "a") as f:
        f["fv"].attrs["status"] = "running"
    with pytest.raises(pf.PdeflowError, match="not the first snapshot times"):
        pf.solve(ou2d, 1.0, snapshots=4, store=path, progress=False, resume=True)


def test_problem_observables_are_recorded_with_every_snapshot(tmp_path, ou2d):
    def observe(frame):
        rho = frame["density"]
        x, _ = ou2d.grid.coords()
        mean_x = ou2d.grid.integrate(x * rho) / ou2d.grid.integrate(rho)
        return {"marginal_x": rho.sum(axis=1) * ou2d.grid.dx[1]}, {"mean_x": mean_x}

    ou2d.observe = observe
    path = tmp_path / "obs.h5"
    traj = pf.solve(ou2d, 0.5, snapshots=3, store=path, progress=False)
    mean_exact = ou2d.exact_moments(0.5)[0][0]  # 0.5 e^{-t}
    # second order: measured 1.6e-3 = 0.025 h² at h = 0.25; allow 2x
    assert abs(traj.diagnostics["mean_x"][-1] - mean_exact) < 0.05 * 0.25**2
    back = pf.load(path)["fv"]
    np.testing.assert_array_equal(back.diagnostics["mean_x"], traj.diagnostics["mean_x"])
    with h5py.File(path, "r") as f:
        assert f["fv/marginal_x"].shape == (3, 40)
        np.testing.assert_allclose(f["fv/marginal_x"][-1].sum() * ou2d.grid.dx[0], 1.0, rtol=1e-12)


def test_observable_fields_are_read_back(tmp_path, ou2d):
    ou2d.observe = lambda frame: ({"marginal_x": frame["density"].sum(axis=1)}, {})
    path = tmp_path / "obs.h5"
    traj = pf.solve(ou2d, 0.2, snapshots=3, store=path, progress=False)
    back = pf.load(path)["fv"]
    assert set(back.frames) == {"density", "marginal_x"}
    for i in range(3):
        np.testing.assert_array_equal(back.frames["marginal_x"][i], traj.frames["marginal_x"][i])

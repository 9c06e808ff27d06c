"""Resume of the particle and JKO methods: a run interrupted after a few snapshots and resumed with
``solve(..., resume=True)`` writes the snapshots an uninterrupted run writes.

Tolerance: bitwise. The resumed stepper starts from the stored float64 state (positions and the
random generator's state; the 1D quantile map; the 2D density) and repeats the uninterrupted run's
arithmetic step for step: the first step after every snapshot starts afresh in both runs (JKO: no
extrapolated Newton guess, Sinkhorn from a cold start), and the parallel kernels reduce in a fixed
order for a fixed thread count.
"""

import json
import shutil
import zlib

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.solvers.jko import JKO
from pdeflow.solvers.particles import Particles
from tests.conftest import interrupt_advance


def _run_interrupted(monkeypatch, cls, path, problem, t_end, snapshots, at_call, **options):
    """Store a run Ctrl-C'd in its ``at_call``-th snapshot interval; it keeps ``at_call`` frames."""
    undo = interrupt_advance(monkeypatch, cls, at_call)
    with pytest.raises(KeyboardInterrupt):
        pf.solve(problem, t_end, snapshots=snapshots, store=path, progress=False, **options)
    undo()
    back = next(iter(pf.load(path).values()))
    assert back.status == "interrupted" and len(back) == at_call


def _assert_same_run(run, reference, field):
    assert run.status == "finished" and len(run) == len(reference)
    np.testing.assert_array_equal(run.times, reference.times)
    for i in range(len(reference)):
        np.testing.assert_array_equal(run.frames[field][i], reference.frames[field][i])
    for key in ("mass", "energy"):
        np.testing.assert_array_equal(run.diagnostics[key], reference.diagnostics[key])
    assert run.meta["steps"] == reference.meta["steps"]  # the step counter came back too


def _check_resume(monkeypatch, tmp_path, cls, problem, t_end, snapshots, at_call, field, edit=None,
                  resumed_at=None, **options):
    """Interrupt a stored run in its ``at_call``-th snapshot interval, ``edit(path)`` the file, resume
    it, and check that it continues from snapshot ``resumed_at`` (default: the last stored one) and
    writes the uninterrupted run, bitwise."""
    reference = pf.solve(problem, t_end, snapshots=snapshots, progress=False, **options)
    path = tmp_path / "run.h5"
    _run_interrupted(monkeypatch, cls, path, problem, t_end, snapshots, at_call, **options)
    if edit is not None:
        edit(path)
    method = options["method"]
    resumed = pf.solve(problem, t_end, snapshots=snapshots, store=path, progress=False,
                       resume=True, **options)
    at = at_call - 1 if resumed_at is None else resumed_at
    assert resumed.meta["resumed_from"] == reference.times[at]
    _assert_same_run(resumed, reference, field)
    _assert_same_run(pf.load(path)[method], reference, field)
    return path, reference


def _slots(run: h5py.Group) -> list[dict]:
    """The checkpoints in the two slots of a run, ``/<run>/checkpoint/slot_{frame % 2}``: JSON text,
    NUL-padded, whose CRC-32 is ``/<run>/checkpoint/crc32[frame % 2]``."""
    texts = [run[f"checkpoint/slot_{k}"][()].tobytes().rstrip(b"\0") for k in (0, 1)]
    assert [zlib.crc32(t) for t in texts] == list(run["checkpoint/crc32"][:])
    return [json.loads(t) for t in texts]


# -- particles ---------------------------------------------------------------------------------------
def test_brownian_particles_with_mesh_interaction_resume_bitwise(monkeypatch, tmp_path):
    # Euler–Maruyama noise + particle–mesh Keller–Segel attraction (subcritical mass)
    grid = pf.Grid([(-4.0, 4.0)] * 2, 24)
    problem = pf.problems.keller_segel(grid, pf.gaussian(grid, (0.3, -0.2), 0.6, mass=4.0))
    _check_resume(monkeypatch, tmp_path, Particles, problem, 0.2, 6, 3, "position",
                  method="particles", n_particles=400, seed=7, interaction="mesh")


def test_blob_particles_resume_bitwise(monkeypatch, tmp_path):
    grid = pf.Grid([(-3.0, 3.0)], 60)
    problem = pf.problems.porous_medium(grid, m=2, t0=0.1)
    _check_resume(monkeypatch, tmp_path, Particles, problem, 0.05, 5, 2, "position",
                  method="particles", n_particles=300, seed=1)


def test_minibatch_network_particles_resume_bitwise(monkeypatch, tmp_path):
    # minibatch SGD (a fresh batch from the generator every step) with Langevin noise
    x = np.linspace(-2.0, 2.0, 16)
    y = np.maximum(x, 0.0) - 0.5 * np.maximum(-x, 0.0)
    grid = pf.Grid([(-3.0, 3.0)] * 2, 24)
    problem = pf.problems.mean_field_network(x, y, "relu", grid=grid, beta=20.0,
                                             rho0=pf.gaussian(grid, (0.0, 0.0), 0.3))
    _check_resume(monkeypatch, tmp_path, Particles, problem, 1.0, 6, 4, "position",
                  method="particles", n_particles=200, seed=5, dt=0.02, batch_size=4)


def test_weighted_particles_with_kde_and_resampling_resume_bitwise(monkeypatch, tmp_path):
    # WFR of KL(ρ | N(0, 1)): Brownian noise, the entropy by the KDE at the particles, and
    # birth–death resampling (one uniform per event from the generator) several times a run
    grid = pf.Grid([(-5.0, 5.0)], 100)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=1.5, cov=0.25,
                                             metric=pf.WassersteinFisherRao(4.0))
    path, reference = _check_resume(monkeypatch, tmp_path, Particles, problem, 0.5, 5, 3,
                                    "position", method="particles", n_particles=300, seed=3,
                                    resample="birth-death", resample_below=0.9)
    assert reference.meta["resample_events"] >= 2
    back = pf.load(path)["particles"]
    assert back.meta["resample_events"] == reference.meta["resample_events"]
    for i in range(len(reference)):
        np.testing.assert_array_equal(back.weights_at(i), reference.weights_at(i))


def test_unseeded_particles_continue_the_stored_random_stream(monkeypatch, tmp_path):
    # seed=None: no reference run exists, but two resumptions of one file draw the same numbers
    grid = pf.Grid([(-4.0, 4.0)], 40)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    path = tmp_path / "a.h5"
    _run_interrupted(monkeypatch, Particles, path, problem, 0.1, 5, 2, method="particles",
                     n_particles=200)
    shutil.copy(path, tmp_path / "b.h5")
    a, b = (pf.solve(problem, 0.1, snapshots=5, store=tmp_path / f"{k}.h5", progress=False,
                     resume=True, method="particles") for k in "ab")
    _assert_same_run(a, b, "position")
    assert not np.array_equal(a.positions(-1), a.positions(1))


def test_particles_without_their_checkpoint_start_again(monkeypatch, tmp_path):
    # a file from before checkpoints (or cut back to an earlier snapshot): the random stream cannot
    # continue, so the run starts again from t = 0, with a warning; seeded, it is the same run
    grid = pf.Grid([(-4.0, 4.0)], 40)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    options = {"method": "particles", "n_particles": 200, "seed": 2}
    reference = pf.solve(problem, 0.1, snapshots=5, progress=False, **options)
    path = tmp_path / "run.h5"
    _run_interrupted(monkeypatch, Particles, path, problem, 0.1, 5, 3, **options)
    with h5py.File(path, "a") as f:
        del f["particles/checkpoint"]
    with pytest.warns(UserWarning, match="cannot continue from a snapshot.*starts again"):
        again = pf.solve(problem, 0.1, snapshots=5, store=path, progress=False, resume=True,
                         **options)
    assert "resumed_from" not in again.meta
    _assert_same_run(pf.load(path)["particles"], reference, "position")


def test_deterministic_particles_continue_without_their_checkpoint(monkeypatch, tmp_path):
    # the blob without noise: the positions are the whole state; only the step count restarts
    grid = pf.Grid([(-3.0, 3.0)], 60)
    problem = pf.problems.porous_medium(grid, m=2, t0=0.1)
    options = {"method": "particles", "n_particles": 300, "seed": 1}
    reference = pf.solve(problem, 0.05, snapshots=5, progress=False, **options)
    path = tmp_path / "run.h5"
    _run_interrupted(monkeypatch, Particles, path, problem, 0.05, 5, 3, **options)
    with h5py.File(path, "a") as f:
        del f["particles/checkpoint"]
    resumed = pf.solve(problem, 0.05, snapshots=5, store=path, progress=False, resume=True,
                       **options)
    assert resumed.meta["resumed_from"] == reference.times[2]
    for i in range(5):
        np.testing.assert_array_equal(resumed.positions(i), reference.positions(i))


# -- JKO -------------------------------------------------------------------------------------------
def test_jko_1d_resumes_from_the_stored_quantile_map_bitwise(monkeypatch, tmp_path):
    # aggregation–diffusion: the interaction makes Newton a quasi-Newton iteration converging
    # linearly, so its result depends on the initial guess at the tolerance level
    grid = pf.Grid([(-4.0, 4.0)], 200)
    energy = pf.FreeEnergy(pf.Entropy(0.3), pf.Interaction(pf.GaussianKernel(1.0), -2.0))
    problem = pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 0.5, 1.0), energy)
    path, _ = _check_resume(monkeypatch, tmp_path, JKO, problem, 0.05, 6, 3, "density",
                            method="jko", tau=0.004, n_quantiles=400)
    with h5py.File(path, "r") as f:
        assert [c["frame"] for c in _slots(f["jko"])] == [4, 5]  # the two last snapshots'
        # 401 nodes, 8 bytes each in base64: 4.3 kB, in a slot with 1/8 + 64 bytes to spare
        text = len(json.dumps(_slots(f["jko"])[0]))
        assert text < 4_500 and f["jko/checkpoint/slot_0"].shape[0] <= text * 9 // 8 + 64


def test_jko_2d_resumes_from_the_stored_density_bitwise(monkeypatch, tmp_path):
    # two Sinkhorn steps per snapshot interval: the second starts warm, from the first's β
    grid = pf.Grid([(-4.0, 4.0)] * 2, 32)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=(1.0, -0.5), cov=0.5)
    _check_resume(monkeypatch, tmp_path, JKO, problem, 1.2, 4, 2, "density", method="jko",
                  tau=0.2)


# -- the checkpoint on disk ------------------------------------------------------------------------
def _jko_1d():
    grid = pf.Grid([(-4.0, 4.0)], 200)
    energy = pf.FreeEnergy(pf.Entropy(0.3), pf.Interaction(pf.GaussianKernel(1.0), -2.0))
    return pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 0.5, 1.0), energy)


def _as_before_the_slots(path, run):
    """Store the newest checkpoint the way pdeflow did before the slots: JSON text in the run
    group's attribute "checkpoint", rewritten with every snapshot."""
    with h5py.File(path, "a") as f:
        newest = max(_slots(f[run]), key=lambda c: c["frame"])
        del f[run]["checkpoint"]
        f[run].attrs["checkpoint"] = json.dumps(newest)


@pytest.mark.parametrize("method", ["jko", "particles"])
def test_a_file_with_the_checkpoint_in_an_attribute_resumes_bitwise(monkeypatch, tmp_path, method):
    # both need the checkpoint to continue (the 1D quantile map; the Brownian noise's generator):
    # without it they would start again from t = 0
    if method == "jko":
        problem, options = _jko_1d(), {"tau": 0.004, "n_quantiles": 400}
        cls, field, t_end = JKO, "density", 0.05
    else:
        grid = pf.Grid([(-4.0, 4.0)], 40)
        problem, options = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5)), {"n_particles": 200,
                                                                                  "seed": 2}
        cls, field, t_end = Particles, "position", 0.1
    path, _ = _check_resume(monkeypatch, tmp_path, cls, problem, t_end, 5, 3, field,
                            edit=lambda p: _as_before_the_slots(p, method), method=method, **options)
    with h5py.File(path, "r") as f:  # moved into the slots on resume
        assert "checkpoint" not in f[method].attrs
        assert [c["frame"] for c in _slots(f[method])] == [4, 3]


def _tear_newest_slot(path):
    """A crash in the middle of writing snapshot 3's checkpoint: its slot holds other bytes (a
    base64 digit of the quantile map changed: still valid JSON) than the CRC was computed for."""
    with h5py.File(path, "a") as f:
        slot = f["jko/checkpoint/slot_1"]
        assert json.loads(slot[()].tobytes().rstrip(b"\0"))["frame"] == 3
        text = slot[:]
        at = text.tobytes().index(b'"quantiles": "') + 100
        text[at] = ord("A") if text[at] != ord("A") else ord("B")
        slot[...] = text


def _cut_last_frame(path):
    """A crash that wrote snapshot 3's checkpoint but not its time: the frame is incomplete."""
    with h5py.File(path, "a") as f:
        f["jko/time"].resize(3, axis=0)


@pytest.mark.parametrize("crash", [_tear_newest_slot, _cut_last_frame])
def test_a_crash_mid_snapshot_resumes_from_the_snapshot_before_bitwise(monkeypatch, tmp_path, crash):
    # snapshots 0-3 stored, the checkpoints of 2 and 3 in the slots; a crash that leaves snapshot
    # 3 or its checkpoint incomplete resumes from snapshot 2 and its checkpoint
    _check_resume(monkeypatch, tmp_path, JKO, _jko_1d(), 0.05, 6, 4, "density", edit=crash,
                  resumed_at=2, method="jko", tau=0.004, n_quantiles=400)

"""Parameter sweeps (pdeflow.sweep): Dask against serial, failures, re-runs, Keller–Segel, the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import pdeflow.spec
import pdeflow.sweep
from pdeflow.cli import main
from pdeflow.errors import PdeflowError
from pdeflow.spec import load_spec
from pdeflow.sweep import SweepWarning, sweep

EIGHT_PI = 8.0 * math.pi
FLOATS = ("final_time", "mass_drift", "final_energy", "final_second_moment", "blowup_time")


def heat(methods=("fv",)) -> dict:
    """The 1D heat preset on 100 cells up to t = 0.2 (a few hundredths of a second per run)."""
    spec = load_spec("heat")
    spec["grid"]["cells"] = 100
    spec["run"].update(t_end=0.2, snapshots=6, methods=list(methods))
    if "particles" in methods:
        spec["particles"] = {"n_particles": 2000}
    return spec


def keller_segel() -> dict:
    """2D Keller–Segel on 48² cells of [-4, 4]², Gaussian of variance 0.5 (so M₂(0) = M), up to
    1.5 T* with T* = 2π M₂(0) / (M (M − 8π)) = 0.625 the blow-up bound at M = 1.4·8π."""
    spec = load_spec("keller-segel-blowup")
    spec["grid"].update(bounds=[[-4.0, 4.0], [-4.0, 4.0]], cells=48)
    spec["initial"]["cov"] = 0.5
    spec["run"].update(t_end=1.5 * 0.625, snapshots=6)
    return spec


def test_local_cluster_and_serial_give_identical_summaries(tmp_path):
    pytest.importorskip("dask.distributed")
    spec, params = heat(("fv", "particles")), {"D": [0.5, 1.0, -1.0]}  # D = -1 is invalid
    environ = dict(os.environ)
    with pytest.warns(SweepWarning, match=r"D=-1.0, seed=[01]\) failed twice: .*D must be > 0"):
        on_dask = sweep(spec, params, seeds=2, workers=2, out_dir=tmp_path / "dask", progress=False)
    with pytest.warns(SweepWarning):
        serial = sweep(spec, params, seeds=2, workers=0, out_dir=tmp_path / "serial", progress=False)
    assert dict(os.environ) == environ  # the nanny's OMP_NUM_THREADS=1 ... do not leak here
    assert dict(on_dask.sizes) == {"D": 3, "seed": 2, "solver": 2}
    for name in ("status", "error", "file", "reused", *FLOATS):
        np.testing.assert_array_equal(on_dask[name].values, serial[name].values, err_msg=name)
    assert (on_dask.status.sel(D=[0.5, 1.0]) == "finished").all()
    assert (on_dask.status.sel(D=-1.0) == "failed").all()
    # exact second moment of the heat flow: M₂(t) = M₂(0) + 2Dt = 0.5 + 2D·0.2. The scheme keeps
    # it exactly too (Σ x_i² (Δ_h ρ)_i = Σ ρ_i (Δ_h x²)_i = 2 Σ ρ_i away from the walls, 15σ out):
    # measured to 1e-14, so round-off of the sums bounds the gap
    fv = on_dask.final_second_moment.sel(solver="fv", seed=0)
    np.testing.assert_allclose(fv.sel(D=[0.5, 1.0]), [0.7, 0.9], rtol=1e-11)
    # the two seeds are two different particle ensembles, each within sampling error (2000 particles)
    particles = on_dask.final_second_moment.sel(solver="particles", D=1.0).values
    assert particles[0] != particles[1]
    np.testing.assert_allclose(particles, 0.9, rtol=0.1)


def test_failing_run_is_reported_and_the_others_complete(tmp_path):
    with pytest.warns(SweepWarning, match=r"run \(mass=-1.0\) failed twice: .*initial.mass must be > 0"):
        table = sweep(heat(), {"mass": [1.0, -1.0, 2.0]}, workers=0, out_dir=tmp_path, progress=False,
                      figure=tmp_path / "sweep.png")
    assert table.status.values.tolist() == ["finished", "failed", "finished"]
    assert "initial.mass must be > 0, got -1.0" in str(table.error.sel(mass=-1.0).values)
    assert table.error.sel(mass=[1.0, 2.0]).values.tolist() == ["", ""]
    np.testing.assert_array_equal(table.final_time.values, [0.2, np.nan, 0.2])
    assert sorted(p.name for p in tmp_path.glob("*.h5")) == ["run_000_mass=1.h5", "run_002_mass=2.h5"]
    assert (tmp_path / "sweep.nc").is_file() and (tmp_path / "sweep.png").stat().st_size > 10_000


def test_a_run_that_fails_once_is_retried(tmp_path, monkeypatch):
    calls = []
    sweep_module = sys.modules["pdeflow.sweep"]  # pf.sweep is the function of the same name
    run_one = sweep_module.run_one

    def flaky(spec, point, path, *args):
        calls.append(point["cells"])
        if len(calls) == 1:
            raise OSError("the disk hiccupped")
        return run_one(spec, point, path, *args)

    monkeypatch.setattr(sweep_module, "run_one", flaky)
    table = sweep(heat(), {"cells": [50, 100]}, workers=0, out_dir=tmp_path, progress=False)
    assert calls == [50, 50, 100]
    assert table.status.values.tolist() == ["finished", "finished"]
    assert not list(tmp_path.glob("*.png"))  # no figure unless figure= asks for one


def test_rerun_finishes_only_the_missing_runs(tmp_path, monkeypatch):
    params = {"D": [0.5, 1.0, 2.0]}
    first = sweep(heat(), params, workers=0, out_dir=tmp_path, progress=False)
    files = [tmp_path / f for f in first.file.values]
    files[0].unlink()  # never written
    with h5py.File(files[1], "a") as f:  # killed after its third snapshot
        f["fv"].attrs["status"] = "running"
        f["fv"]["time"].resize(3, axis=0)
    untouched = files[2].stat().st_mtime_ns
    runs = []
    run_spec = pdeflow.spec.run_spec

    def counted(spec, out, **options):
        runs.append((out.name, options["resume"]))
        return run_spec(spec, out, **options)

    monkeypatch.setattr(pdeflow.spec, "run_spec", counted)
    again = sweep(heat(), params, workers=0, out_dir=tmp_path, progress=False)
    assert runs == [(files[0].name, False), (files[1].name, True)]
    assert files[2].stat().st_mtime_ns == untouched
    assert again.reused.values.tolist() == [False, False, True]
    assert pdeflow.load(files[1])["fv"].meta["resumed_from"] == pytest.approx(0.08)  # 3rd snapshot
    # the resumed run reproduces the uninterrupted one to round-off
    np.testing.assert_allclose(again.final_energy, first.final_energy, rtol=1e-12, atol=0)
    np.testing.assert_allclose(again.final_second_moment, first.final_second_moment, rtol=1e-12)


def test_keller_segel_mass_sweep_classifies_blow_up(tmp_path):
    masses = [0.6 * EIGHT_PI, 1.4 * EIGHT_PI]
    table = sweep(keller_segel(), {"mass": masses}, workers=0, out_dir=tmp_path, progress=False)
    assert table.status.values.tolist() == ["finished", "blow-up"]  # 8π is the critical mass
    subcritical, supercritical = table.sel(mass=masses[0]), table.sel(mass=masses[1])
    assert np.isnan(subcritical.blowup_time) and subcritical.final_time == pytest.approx(0.9375)
    assert 0.1 < supercritical.blowup_time < 0.625  # before the second-moment bound T*
    assert supercritical.final_time == supercritical.blowup_time
    assert float(table.mass_drift.max()) < 1e-12  # finite volumes conserve mass to round-off


def test_metrics_and_zip_mode(tmp_path):
    def peak(traj):
        return float(traj.density(-1).max())

    def broken(traj):
        raise RuntimeError("no such thing")

    table = sweep(heat(), {"D": [0.5, 1.0], "t_end": [0.1, 0.3]}, mode="zip", workers=0,
                  out_dir=tmp_path, progress=False, metrics={"peak": peak, "broken": broken})
    assert dict(table.sizes) == {"run": 2}
    assert table.D.values.tolist() == [0.5, 1.0] and table.t_end.values.tolist() == [0.1, 0.3]
    np.testing.assert_allclose(table.final_time, [0.1, 0.3])
    # exact: N(0, s), s = 0.5 + 2Dt, at the cell centres nearest 0, x = ±h/2 = ±0.1; the cell
    # averages differ from it by O(h²/s) ~ 3e-3
    s = 0.5 + 2 * np.array([0.5 * 0.1, 1.0 * 0.3])
    np.testing.assert_allclose(table.peak, np.exp(-0.01 / (2 * s)) / np.sqrt(2 * np.pi * s), rtol=5e-3)
    assert table.status.values.tolist() == ["finished", "finished"]  # a metric never fails a run
    assert np.isnan(table.broken).all() and "no such thing" in str(table.error.values[0])
    with h5py.File(tmp_path / table.file.values[1], "r") as f:
        assert json.loads(f.attrs["sweep_parameters"]) == {"D": 1.0, "t_end": 0.3}


def test_bad_sweeps_fail_before_running(tmp_path):
    for parameters, message in (
        ({"foo": [1]}, "neither a short name"),
        ({"particles.n_particles": [10]}, r"sets \[particles\], which is not a table"),
        ({"mass": [1.0, 1.0]}, "lists a value twice"),
        ({"initial.masss": [1.0, 2.0]}, "fails for every value: .*unknown key"),
    ):
        with pytest.raises(PdeflowError, match=message):
            sweep(heat(), parameters, workers=0, out_dir=tmp_path, progress=False)
    with pytest.raises(PdeflowError, match="equally many values"):
        sweep(heat(), {"D": [1.0, 2.0], "mass": [1.0]}, mode="zip", workers=0, out_dir=tmp_path)
    with pytest.raises(PdeflowError, match="stochastic method"):
        sweep(heat(), {"D": [1.0]}, seeds=3, workers=0, out_dir=tmp_path)
    sweep(heat(), {"D": [1.0]}, workers=0, out_dir=tmp_path, progress=False)
    other = heat()
    other["initial"]["cov"] = 0.25
    with pytest.raises(PdeflowError, match="holds a run of another spec; pass overwrite=True"):
        sweep(other, {"D": [1.0]}, workers=0, out_dir=tmp_path)
    assert sweep(other, {"D": [1.0]}, workers=0, out_dir=tmp_path, overwrite=True,
                 progress=False).status.item() == "finished"


def test_cli_sweep_serial(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["sweep", "heat", "--param", "cells=20,40", "--param", "D=0.5,1", "--workers", "0",
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["cells", "D", "status"]
    assert [line.split()[:3] for line in lines[1:5]] == [
        ["20", "0.5", "finished"], ["20", "1", "finished"], ["40", "0.5", "finished"],
        ["40", "1", "finished"]]
    assert lines[5] == f"wrote {out / 'sweep.nc'} and {out / 'sweep.png'} (4 runs, 0 failed)"
    assert (out / "sweep.png").stat().st_size > 10_000
    with h5py.File(out / "run_003_cells=40_D=1.h5", "r") as f:
        assert json.loads(f.attrs["sweep_parameters"]) == {"cells": 40, "D": 1}
    xr = pytest.importorskip("xarray")
    with xr.open_dataset(out / "sweep.nc", engine="h5netcdf") as table:
        assert table.status.shape == (2, 2) and table.cells.values.tolist() == [20, 40]
    assert main([*argv[:-1], "--param", "mass=1,-1", "--quiet"]) == 1  # a failed run: exit 1
    assert "failed" in capsys.readouterr().out
    assert main(["sweep", "heat", "--param", "mass", "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "pdeflow: error: --param 'mass' must look like NAME=V1,V2,... e.g. mass=10,20,30")


def test_serial_sweep_needs_no_dask(tmp_path):
    script = f"""
import sys
import pdeflow.sweep
assert "dask" not in sys.modules, "importing pdeflow.sweep imported dask"
sys.modules["dask"] = None  # as if Dask were not installed
from pdeflow.errors import PdeflowError
from pdeflow.sweep import sweep
table = sweep("heat", {{"cells": [20]}}, workers=0, out_dir={str(tmp_path)!r}, progress=False)
assert table.status.item() == "finished"
assert not [m for m in sys.modules if m.startswith("distributed")]
try:
    sweep("heat", {{"cells": [20]}}, out_dir={str(tmp_path)!r})
except PdeflowError as err:
    print(err)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "needs dask" in result.stdout and "pip install '.[dask]'" in result.stdout

"""The ``pdeflow`` command line (through ``main`` and once as the console script) and the plots."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.cli import main
from pdeflow.plot import plot_file, plot_trajectory

SMALL = ["--cells", "40", "--t-end", "0.05"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("pdeflow: error: ")
    return lines[0]


def test_run_preset_writes_file_plot_and_summary(tmp_path, capsys):
    out = tmp_path / "ks.h5"
    assert main(["run", "keller-segel", *SMALL, "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "fv" in stdout and "finished" in stdout and "11 snapshots" in stdout
    assert "mass drift" in stdout and "energy" in stdout and "wall" in stdout
    assert f"wrote {out}, {tmp_path / 'ks.xmf'} and {tmp_path / 'ks.png'}" in stdout
    assert (tmp_path / "ks.png").stat().st_size > 10_000
    traj = pf.load(out)["fv"]
    assert traj.status == "finished"
    assert traj.grid.shape == (40, 40)
    assert traj.times[-1] == pytest.approx(0.05)


def test_default_output_is_named_after_the_preset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "heat", *SMALL, "--no-plot", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert (tmp_path / "heat.h5").exists()
    assert not (tmp_path / "heat.png").exists()


def test_blowup_preset_reports_blowup(tmp_path, capsys):
    out = tmp_path / "b.h5"
    assert main(["run", "keller-segel-blowup", "--cells", "48", "--out", str(out), "--no-plot"]) == 0
    assert "blow-up at t=0." in capsys.readouterr().out
    assert pf.load(out)["fv"].status == "blow-up"


def test_console_script_runs_a_spec_file(tmp_path):
    spec = Path(__file__).parents[1] / "examples" / "ornstein_uhlenbeck_2d.toml"
    script = Path(sys.executable).with_name("pdeflow")
    result = subprocess.run(
        [str(script), "run", str(spec), *SMALL, "--out", str(tmp_path / "ou.h5")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "finished" in result.stdout
    assert (tmp_path / "ou.h5").exists() and (tmp_path / "ou.png").exists()
    traj = pf.load(tmp_path / "ou.h5")["fv"]
    assert traj.meta["options"]["scheme"] == "implicit"  # the [fv] table of the spec


def test_overwrite_replaces_the_file(tmp_path, capsys):
    out = tmp_path / "h.h5"
    assert main(["run", "heat", *SMALL, "--out", str(out), "--no-plot"]) == 0
    assert main(["run", "heat", "--cells", "30", "--t-end", "0.02", "--out", str(out),
                 "--no-plot", "--overwrite"]) == 0
    traj = pf.load(out)["fv"]
    assert traj.grid.shape == (30,)
    assert traj.times[-1] == pytest.approx(0.02)


def test_info_describes_runs(tmp_path, capsys):
    out = tmp_path / "h.h5"
    main(["run", "heat", *SMALL, "--out", str(out), "--no-plot", "--quiet"])
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 run(s), equation heat" in text
    assert "[fv] method fv, status finished" in text
    assert "snapshots 11 (t = 0 .. 0.05)" in text
    assert "grid 40 cells on [-10, 10], walls" in text
    assert "mass drift" in text and "energy" in text
    with h5py.File(out, "a") as f:  # a run whose process died
        f["fv"].attrs["status"] = "running"
    assert main(["info", str(out)]) == 0
    assert "status not finished" in capsys.readouterr().out


def test_plot_and_presets_commands(tmp_path, capsys):
    out = tmp_path / "pm.h5"
    main(["run", "porous-medium", *SMALL, "--out", str(out), "--no-plot", "--quiet"])
    assert main(["plot", str(out), "--out", str(tmp_path / "fig.png")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    assert main(["presets"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]
             if not line.lstrip().startswith("methods:")]
    assert names == ["heat", "fokker-planck", "porous-medium", "keller-segel", "keller-segel-blowup",
                     "mean-field", "fisher-rao", "wfr-network",
                     "kramers"]


def test_compare_command(tmp_path, capsys):
    out = tmp_path / "h.h5"
    main(["run", "heat", *SMALL, "--out", str(out), "--no-plot", "--quiet"])
    capsys.readouterr()
    code = main(["compare", str(out), "--out", str(tmp_path / "cmp.png")])
    if importlib.util.find_spec("pdeflow.compare") is None:
        assert code == 2
        assert "needs the pdeflow.compare module" in _error_line(capsys)
    else:
        assert code == 0
        assert "(against the exact solution)" in capsys.readouterr().out
        assert (tmp_path / "cmp.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no-such-preset"], "unknown preset 'no-such-preset'; known presets: heat,"),
        (["run", "heat", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "heat", "--cells", "many"], "argument --cells: invalid int value: 'many'"),
        (["run", "heat", "--cells", "1"], "grid.cells must be an integer >= 2 (or a list"),
        (["run", "heat", "--t-end", "-1"], "run.t_end must be > 0, got -1.0"),
        (["run", "heat", "--methods", "fv,magic"], "unknown or unavailable method 'magic'"),
        (["run", "heat", "--particles", "100"], "--particles needs the particles method"),
        (["run", "missing.toml"], "spec file missing.toml does not exist"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "give a command"),
        (["info", "missing.h5"], "missing.h5 does not exist"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "heat.h5").exists()  # nothing ran


def test_bad_toml_is_one_line_with_the_line_number(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('equation = "heat"\n[grid]\ncells = = 3\n')
    assert main(["run", str(bad)]) == 2
    assert "bad.toml: invalid TOML:" in _error_line(capsys)


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "h.h5"
    out.write_bytes(b"precious")
    assert main(["run", "heat", *SMALL, "--out", str(out)]) == 2
    assert "h.h5 exists; pass --overwrite" in _error_line(capsys)
    assert out.read_bytes() == b"precious"


def test_corrupt_hdf5_is_one_line(tmp_path, capsys):
    out = tmp_path / "corrupt.h5"
    out.write_bytes(np.random.default_rng(0).bytes(4096))
    assert main(["info", str(out)]) == 2
    assert "cannot be opened as HDF5" in _error_line(capsys)
    assert main(["plot", str(out)]) == 2
    assert "cannot be opened as HDF5" in _error_line(capsys)


def test_ctrl_c_keeps_finished_snapshots(tmp_path, capsys, monkeypatch):
    from pdeflow.solvers import driver

    record, calls = driver._record, []

    def interrupt_after_three(*args):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        record(*args)

    monkeypatch.setattr(driver, "_record", interrupt_after_three)
    out = tmp_path / "h.h5"
    assert main(["run", "heat", *SMALL, "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0] == f"pdeflow: run interrupted; {out} keeps fv: 3 snapshots up to t=0.01 (interrupted)"
    assert pf.load(out)["fv"].status == "interrupted"


def test_plot_images_are_transposed_for_ij_indexing(tmp_path):
    grid = pf.Grid([(-4.0, 4.0), (-2.0, 2.0)], (32, 16))
    problem = pf.problems.heat(grid, pf.gaussian(grid, (2.125, -1.125), 0.3))  # a cell centre
    traj = pf.solve(problem, 0.01, snapshots=2, progress=False)
    fig = plot_trajectory(traj, tmp_path / "t.png")
    image = fig.axes[0].images[0]
    assert image.get_extent() == [-4.0, 4.0, -2.0, 2.0]
    data = np.asarray(image.get_array())
    assert data.shape == (16, 32)  # rows are y, columns are x
    row, col = np.unravel_index(np.argmax(data), data.shape)
    assert (grid.axes[0][col], grid.axes[1][row]) == (pytest.approx(2.125), pytest.approx(-1.125))
    assert (tmp_path / "t.png").exists()


def test_plot_1d_draws_exact_dashed(tmp_path):
    grid = pf.Grid([(-5.0, 5.0)], 50)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), exact_gaussian=(0.0, 0.5, 1.0))
    traj = pf.solve(problem, 0.1, snapshots=5, progress=False)
    fig = plot_trajectory(traj, exact=problem.exact)
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert len(dashed) == 4 + 1  # four snapshots and the legend entry
    assert fig.axes[2].get_ylabel() == "free energy E[ρ]"
    out = tmp_path / "f.h5"
    pf.solve(problem, 0.1, snapshots=3, store=out, progress=False)
    assert len(plot_file(out).axes) == 3


def test_plot_3d_shows_the_middle_z_slice():
    grid = pf.Grid([(-2.0, 2.0), (-2.0, 2.0), (-1.0, 1.0)], (8, 6, 4))
    problem = pf.problems.heat(grid, pf.gaussian(grid, (1.0, 0.0, 0.0), 0.5))
    traj = pf.solve(problem, 0.01, snapshots=2, progress=False)
    fig = plot_trajectory(traj)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), traj.density(0)[:, :, 2].T)
    assert ax.get_title().startswith("t = 0, z = 0.25")  # z centres -0.75, -0.25, 0.25, 0.75


def test_particles_flag_sets_n_particles(tmp_path, capsys):
    out = tmp_path / "hp.h5"
    argv = ["run", "heat", *SMALL, "--methods", "fv,particles", "--particles", "500", "--out", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [["fv", "finished"], ["particles", "finished"]]
    runs = pf.load(out)
    assert sorted(runs) == ["fv", "particles"]
    assert runs["particles"].meta["options"]["n_particles"] == 500
    assert runs["particles"].positions(-1).shape == (500, 1)
    assert (tmp_path / "hp.png").exists()


def test_run_resume_continues_an_interrupted_file(tmp_path):
    out = tmp_path / "h.h5"
    assert main(["run", "heat", "--out", str(out), "--no-plot", "--quiet"]) == 0
    full = pf.load(out)["fv"]
    with h5py.File(out, "a") as f:  # cut the run after 4 snapshots, as a crash would
        g = f["fv"]
        for ds in g.values():
            if isinstance(ds, h5py.Dataset) and ds.maxshape and ds.maxshape[0] is None:
                ds.resize(4, axis=0)
        g.attrs["status"] = "running"
    assert main(["run", "heat", "--out", str(out), "--no-plot", "--quiet", "--resume"]) == 0
    back = pf.load(out)["fv"]
    assert back.status == "finished" and len(back) == len(full)
    np.testing.assert_allclose(back.density(-1), full.density(-1), rtol=0, atol=1e-15)


def test_entropic_jko_blur_is_refused_before_the_run_or_recorded(tmp_path, capsys):
    # fokker-planck at 32² cells of 0.375: eps = dx² = 0.14 adds eps/(4 tau) = 3.5 D at tau = 0.01
    out = tmp_path / "jko.h5"
    base = ["run", "fokker-planck", "--cells", "32", "--t-end", "0.1", "--methods", "jko",
            "--option", "jko.solver=entropic", "--out", str(out), "--no-plot", "--quiet"]
    assert main([*base, "--tau", "0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more than 5%; take tau >= 0.703" in err[0] and not out.exists()
    assert main([*base, "--tau", "0.05", "--epsilon", "0.01"]) == 0  # accepted: 5 % of D
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "entropic blur  adds 5.0% of D" in capsys.readouterr().out
    assert pf.load(out)["jko"].meta["options"]["epsilon"] == 0.01

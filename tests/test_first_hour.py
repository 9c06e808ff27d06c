"""What a new user hits in the first hour (issue 17): finite-element files in ``pdeflow info``, a
comparison stored next to the runs, ParaView's view of a 2D run, method checks before any run."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.cli import main


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("pdeflow: error: ") and "internal error" not in lines[0], err
    return lines[0]


# -- pdeflow info on finite-element files ---------------------------------------------------------
def test_info_describes_a_finite_element_run(tmp_path, capsys):
    mesh = pf.Mesh.disk(radius=1.0, refine=2)
    rho0 = pf.gaussian(mesh, mean=(0.3, 0.0), cov=0.05)
    p = pf.problems.fokker_planck(mesh, rho0, V=lambda x, y: x**2 + y**2, D=1.0)
    out = tmp_path / "disk.h5"
    pf.solve(p, t_end=0.05, method="fem", snapshots=3, store=out, progress=False)
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "equation fokker_planck" in text and "[fem] method fem, status finished" in text
    assert f"mesh disk: {mesh.size} nodes, {mesh.n_triangles} triangles" in text
    assert main(["plot", str(out), "--out", str(tmp_path / "disk.png")]) == 0


# -- a comparison stored in the file of its runs ----------------------------------------------------
@pytest.fixture(scope="module")
def ou_file(tmp_path_factory):
    """The README's Ornstein–Uhlenbeck cross-check, small: fv and particles, then report.write."""
    path = tmp_path_factory.mktemp("ou") / "ou.h5"
    p = pf.problems.ornstein_uhlenbeck(pf.Grid([(-5.0, 5.0)], 100), mean=1.0, cov=0.3)
    fv = pf.solve(p, 0.5, snapshots=3, store=path, progress=False)
    pt = pf.solve(p, 0.5, snapshots=3, method="particles", n_particles=2000, seed=0, store=path,
                  progress=False)
    report = pf.compare(fv, pt, exact=p.exact)
    report.write(path)
    return path, report


def test_a_stored_comparison_is_not_read_as_a_run(ou_file, tmp_path, capsys):
    path, report = ou_file
    runs = pf.load(path)
    assert list(runs) == ["fv", "particles"]  # not "compare"
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{path}: 2 run(s), equation ornstein_uhlenbeck")
    assert "not finished" not in text
    assert "[compare] comparison of fv, particles, exact at 3 times" in text
    assert main(["plot", str(path), "--out", str(tmp_path / "ou.png")]) == 0
    capsys.readouterr()
    assert main(["compare", str(path), "--out", str(tmp_path / "ou_compare.png")]) == 0
    assert "fv vs particles" in capsys.readouterr().out


def test_comparisons_of_older_files_are_recognised(ou_file, tmp_path):
    """Files written before the ``content`` mark: the compare group had ``method`` and no status."""
    import h5py

    path, _ = ou_file
    old = tmp_path / "old.h5"
    shutil.copy(path, old)
    with h5py.File(old, "a") as f:
        g = f["compare"]
        g.attrs["method"] = g.attrs["w2_method"]
        del g.attrs["content"], g.attrs["w2_method"]
    assert list(pf.load(old)) == ["fv", "particles"]


# -- ParaView: a 2D run opens in the X-Y plane --------------------------------------------------------
@pytest.fixture(scope="module")
def run_2d(tmp_path_factory):
    """A 2D run on an anisotropic box, so that every axis has its own origin, spacing and count."""
    path = tmp_path_factory.mktemp("xmf") / "run.h5"
    grid = pf.Grid(bounds=[(-4.0, 4.0), (1.0, 3.0)], shape=(16, 10))
    rho0 = pf.gaussian(grid, mean=(1.0, 1.6), cov=0.4)
    pf.solve(pf.problems.heat(grid, rho0, D=0.1), 0.1, snapshots=3, store=path, progress=False)
    return path, grid


def test_2d_xdmf_declares_a_grid_in_the_xy_plane(run_2d):
    """Parse the .xmf: a 3D co-rectilinear mesh one cell thick in Z (the slowest XDMF axis), and the
    origin/spacing of ParaView's Y = pdeflow's x and ParaView's X = pdeflow's y."""
    path, grid = run_2d
    root = ET.parse(path.with_suffix(".xmf")).getroot()
    steps = root.findall("./Domain/Grid/Grid")
    assert len(steps) == 3
    for step in steps:
        topology = step.find("Topology")
        assert topology.get("TopologyType") == "3DCoRectMesh"
        assert topology.get("Dimensions").split() == ["2", "17", "11"]  # points Z, Y, X
        geometry = step.find("Geometry")
        assert geometry.get("GeometryType") == "ORIGIN_DXDYDZ"
        origin, spacing = ([float(v) for v in item.text.split()] for item in geometry)
        assert origin == [0.0, -4.0, 1.0]  # Z, Y (pdeflow x), X (pdeflow y)
        assert spacing == pytest.approx([0.2, 0.5, 0.2])  # Z one cell of the smaller width
        slab = step.find("Attribute/DataItem")
        assert slab.get("Dimensions").split() == ["1", "16", "10"]


def _vtk_xdmf_bounds(xmf, time: float):
    """ParaView's XDMF reader (vtkXdmfReader, the "XDMF Reader" of ParaView 5.11) in VTK."""
    import vtk  # in the [dev] extra: ParaView 5.11's XDMF reader is this VTK class
    reader = vtk.vtkXdmfReader()
    reader.SetFileName(str(xmf))
    reader.UpdateInformation()
    reader.UpdateTimeStep(time)
    image = reader.GetOutputDataObject(0)
    from vtk.util.numpy_support import vtk_to_numpy

    values = vtk_to_numpy(image.GetCellData().GetArray("density"))
    return image.GetBounds(), image.GetDimensions(), values


def test_2d_xdmf_opens_in_the_xy_plane_in_vtk(run_2d):
    path, grid = run_2d
    traj = pf.load(path)["fv"]
    bounds, dims, values = _vtk_xdmf_bounds(path.with_suffix(".xmf"), float(traj.times[2]))
    # X = pdeflow y on [1, 3], Y = pdeflow x on [-4, 4], Z one cell thick (width 0.2)
    np.testing.assert_allclose(bounds, [1.0, 3.0, -4.0, 4.0, 0.0, 0.2], atol=1e-6)
    assert dims == (11, 17, 2)
    # VTK cell ids run X fastest: cell (i_X, i_Y) holds density[i_Y, i_X] of the last snapshot
    np.testing.assert_allclose(values.reshape(16, 10), traj.density(2), rtol=1e-6)  # float32


PVPYTHON = shutil.which("pvpython")


@pytest.mark.skipif(PVPYTHON is None, reason="pvpython (ParaView) is not installed here: "
                    "Debian's paraview package provides it")
def test_2d_xdmf_opens_in_the_xy_plane_in_paraview(run_2d, tmp_path):
    """ParaView itself (pvpython 5.11, its "XDMF Reader"): bounds in the X–Y plane, one cell thick
    in Z, the snapshot times, and the density's range equal to the stored frame's. (Its Xdmf3
    readers, which ``OpenDataFile`` picks by default, show the grid but skip the density: they do
    not read HDF5 hyperslabs; docs/guide/storage.md says which reader to choose.)"""
    path, grid = run_2d
    traj = pf.load(path)["fv"]
    script = tmp_path / "open.py"
    script.write_text(
        "import json, sys\n"
        "from paraview.simple import XDMFReader\n"
        f"reader = XDMFReader(FileNames=[{str(path.with_suffix('.xmf'))!r}])\n"
        f"reader.UpdatePipeline({float(traj.times[2])!r})\n"
        "info = reader.GetDataInformation()\n"
        "print(json.dumps({'bounds': list(info.GetBounds()), 'times': list(reader.TimestepValues),\n"
        "                  'range': list(reader.CellData['density'].GetRange())}))\n"
    )
    done = subprocess.run([PVPYTHON, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(seen["bounds"], [1.0, 3.0, -4.0, 4.0, 0.0, 0.2], atol=1e-6)
    np.testing.assert_allclose(seen["times"], traj.times, rtol=1e-12)
    last = traj.density(2)
    np.testing.assert_allclose(seen["range"], [last.min(), last.max()], rtol=1e-6)  # float32


# -- every method is checked against the problem before the first one runs ---------------------------
def test_a_method_that_cannot_solve_the_problem_fails_before_any_run(tmp_path, capsys):
    out = tmp_path / "pm.h5"
    code = main(["run", "porous-medium", "--methods", "fv,particles,jko,fem", "--out", str(out)])
    assert code == 2
    line = _error_line(capsys)
    assert "fem: method='fem' needs a problem on a pf.Mesh" in line and "nothing was run" in line
    assert "methods that solve this problem: fv, jko, particles" in line
    assert not out.exists() and not out.with_suffix(".xmf").exists()


def test_solve_refuses_a_grid_method_on_a_mesh():
    mesh = pf.Mesh.square(refine=2)
    p = pf.problems.heat(mesh, pf.gaussian(mesh, mean=(0.5, 0.5), cov=0.05))
    for method in ("fv", "particles", "jko"):
        with pytest.raises(pf.PdeflowError, match=f"method='{method}' needs a problem on a pf.Grid"):
            pf.solve(p, 0.01, method=method, progress=False)


def test_presets_list_the_methods_that_solve_them(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    methods = {lines[k].split()[0]: lines[k + 1].split("methods:")[1].split(", ")
               for k in range(0, len(lines), 2)}
    assert [m.strip() for m in methods["porous-medium"]] == ["fv", "jko", "particles"]
    assert [m.strip() for m in methods["mean-field"]] == ["fv", "particles"]  # low rank: no jko


# -- presets as TOML, method options and the seed on the command line --------------------------------
@pytest.mark.parametrize("name", ["heat", "keller-segel", "mean-field", "porous-medium"])
def test_a_preset_exported_as_toml_reads_back_as_the_same_spec(name, tmp_path, capsys):
    from pdeflow.spec import load_spec

    assert main(["presets", name, "--toml"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    exported = {k: v for k, v in load_spec(path).items() if v != {}}  # [fv] with options commented
    assert exported == load_spec(name)
    # uncommenting an option line gives a valid spec
    option_lines = [line for line in text.splitlines() if line.startswith("# ") and " = " in line
                    and "..." not in line]
    assert option_lines
    path.write_text(text.replace(option_lines[0], option_lines[0][2:]))
    load_spec(path)


def test_option_flags_reach_the_method_and_are_recorded(tmp_path, capsys):
    out = tmp_path / "h.h5"
    assert main(["run", "heat", "--cells", "40", "--t-end", "0.02", "--methods", "fv,particles",
                 "--particles", "500", "--seed", "7", "--dt", "0.002", "--option", "fv.cfl=0.5",
                 "--snapshots", "3", "--out", str(out), "--no-plot", "--quiet"]) == 0
    runs = pf.load(out)
    assert runs["particles"].meta["options"]["seed"] == 7
    assert runs["particles"].meta["options"]["dt"] == 0.002 and runs["fv"].meta["options"]["dt"] == 0.002
    assert runs["fv"].meta["options"]["cfl"] == 0.5 and len(runs["fv"].times) == 3
    for bad, message in ((["--option", "fv.foo=1"], "fv has no option 'foo'"),
                         (["--option", "seed=1"], "no method of this run (fv) has an option 'seed'"),
                         (["--tau", "0.1"], "no method of this run (fv) has an option 'tau'"),
                         (["--option", "cfl"], "must look like NAME=VALUE")):
        assert main(["run", "heat", "--out", str(tmp_path / "x.h5"), *bad]) == 2
        assert message in _error_line(capsys)
    assert not (tmp_path / "x.h5").exists()


def test_particle_runs_from_the_command_line_are_reproducible(tmp_path, capsys):
    """No --seed: the default seed 0 is used and recorded, and two runs give the same positions."""
    runs = []
    for k in range(2):
        out = tmp_path / f"r{k}.h5"
        assert main(["run", "heat", "--methods", "particles", "--particles", "300", "--t-end", "0.02",
                     "--snapshots", "2", "--out", str(out), "--no-plot", "--quiet"]) == 0
        runs.append(pf.load(out)["particles"])
    assert runs[0].meta["options"]["seed"] == 0
    np.testing.assert_array_equal(runs[0].positions(-1), runs[1].positions(-1))
    assert main(["info", str(tmp_path / "r0.h5")]) == 0
    assert "seed=0" in capsys.readouterr().out


def test_unseeded_library_runs_record_the_seed_they_drew():
    grid = pf.Grid([(-4.0, 4.0)], 40)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    a = pf.solve(p, 0.01, method="particles", n_particles=200, snapshots=2, progress=False)
    seed = a.meta["options"]["seed"]
    assert isinstance(seed, int)
    b = pf.solve(p, 0.01, method="particles", n_particles=200, snapshots=2, progress=False, seed=seed)
    np.testing.assert_array_equal(a.positions(-1), b.positions(-1))


def test_the_run_message_names_every_file_written(tmp_path, capsys):
    out = tmp_path / "ks.h5"
    assert main(["run", "keller-segel", "--cells", "24", "--t-end", "0.01", "--out", str(out)]) == 0
    assert f"wrote {out}, {out.with_suffix('.xmf')} and {out.with_suffix('.png')}" in capsys.readouterr().out


# -- names and messages ---------------------------------------------------------------------------
def test_the_gaussian_kernel_is_not_confused_with_the_gaussian_density():
    assert not hasattr(pf, "Gaussian")  # renamed, no alias: pf.gaussian is the density
    kernel = pf.GaussianKernel(0.5)
    assert kernel(np.array([0.0, 0.5]))[1] == pytest.approx(np.exp(-0.5))  # exp(-r²/2σ²) at r = σ


@pytest.mark.parametrize("mean, message", [((0.0, 0.0, 1.0), "has 3 entries but the grid has 2 axes"),
                                           ([[0.0, 0.0]], "a flat list of 2 numbers"),
                                           ("centre", "must be a number or 2 numbers")])
def test_a_wrong_mean_says_what_is_wrong(mean, message):
    grid = pf.Grid([(-5.0, 5.0), (-5.0, 5.0)], 8)
    with pytest.raises(pf.PdeflowError, match=message):
        pf.gaussian(grid, mean=mean, cov=0.5)
    with pytest.raises(pf.PdeflowError, match=message.replace("mean", "low")):
        pf.box(grid, low=mean, high=(1.0, 1.0))


def test_a_non_finite_potential_is_named_once():
    grid = pf.Grid([(-5.0, 5.0)], 8)
    p = pf.problems.fokker_planck(grid, pf.gaussian(grid), V=lambda x: np.log(x))
    with pytest.raises(pf.PdeflowError, match="^potential V has 4 non-finite values"):
        pf.solve(p, 0.1, progress=False)


# -- Keller-Segel blow-up times that converge with the grid ---------------------------------------------
def test_blowup_estimates_converge_with_the_grid_where_the_threshold_crossing_does_not():
    """Preset keller-segel-blowup (M = 1.4·8π, chi = D = 1, N(0, 0.5 I)): dM₂/dt = 4M − M²/(2π)
    exactly, so M₂ reaches 0 at T₂ = M₂(0) / (M²/(2π) − 4M) = 0.625, an upper bound of T*."""
    from pdeflow.spec import build_problem, load_spec

    crossing, second, peak = [], [], []
    for cells in (48, 64, 96):
        spec = load_spec("keller-segel-blowup")
        spec["grid"]["cells"] = cells
        traj = pf.solve(build_problem(spec), 1.0, snapshots=21, progress=False)
        assert traj.status == "blow-up"
        dx = 16.0 / cells
        assert traj.meta["blowup_threshold"] == pytest.approx(0.1 * 1.4 * 8 * np.pi / dx**2)
        crossing.append(traj.meta["blowup_time"])
        second.append(traj.meta["blowup_time_second_moment"])
        peak.append(traj.meta["blowup_time_max_density"])
    M = 1.4 * 8 * np.pi
    bound = M * 1.0 / (M**2 / (2 * np.pi) - 4 * M)
    assert bound == pytest.approx(0.625, abs=1e-3)
    # measured crossings 0.262, 0.321, 0.379: they move by 0.06 per refinement
    assert crossing[2] - crossing[0] > 0.1
    # measured 0.723, 0.688, 0.661: the distance to 0.625 falls with every refinement, and the
    # steps shrink (the estimate converges; the remaining gap is O(h) from the resolved peak)
    gaps = np.abs(np.array(second) - bound)
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.05, second
    # measured 0.557, 0.543, 0.518: above each crossing, below the bound; it moves less than the
    # crossings do
    assert all(c < p < bound for c, p in zip(crossing, peak, strict=True)), (crossing, peak)
    assert abs(peak[2] - peak[0]) < 0.5 * (crossing[2] - crossing[0])
    # and against the 256² reference of data/keller_segel_blowup.json (crossing 0.427, 1/max ρ
    # extrapolation 0.462): the crossings rise towards the reference's from below, the
    # extrapolations fall towards its own from above, and the two brackets nest
    from pathlib import Path

    ref = json.loads((Path(__file__).resolve().parents[1] / "data" / "keller_segel_blowup.json").read_text())
    assert crossing[0] < crossing[1] < crossing[2] < ref["threshold_crossing"]
    assert peak[0] > peak[1] > peak[2] > ref["max_density_extrapolation"]


# -- figures a referee would accept ---------------------------------------------------------------
def _labelled(fig):
    """Every axes with data has both axis labels; every colorbar has a label; no offset text."""
    fig.canvas.draw()  # offset texts exist once drawn
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        assert ax.get_xlabel() or ax.get_ylabel(), ax
        if ax.get_label() == "<colorbar>":
            assert ax.get_ylabel(), "a colorbar without a label"
            continue
        assert ax.get_xlabel() and ax.get_ylabel(), (ax.get_title(), ax.get_xlabel(), ax.get_ylabel())
        assert ax.yaxis.get_offset_text().get_text() == "", ax.get_title()


def test_run_figures_name_equation_method_and_time_and_label_everything(ou_file, tmp_path):
    from pdeflow.plot import plot_file

    path, report = ou_file
    fig = plot_file(path)
    titles = [sub._suptitle.get_text() for sub in fig.subfigs]
    assert all("Ornstein–Uhlenbeck" in t and "t = 0 … 0.5" in t for t in titles), titles
    assert "finite volumes" in titles[0] and "particles" in titles[1]
    for sub in fig.subfigs:
        _labelled(sub)
    fig = report.plot(tmp_path / "cmp.png")
    assert "Ornstein–Uhlenbeck" in fig._suptitle.get_text()
    _labelled(fig)
    w2 = [ax for ax in fig.axes if ax.get_ylabel() == "W₂ distance"][0]
    markers = {line.get_marker() for line in w2.get_lines()}
    assert len(markers) == len(report.pair_names)  # a curve under another still shows its markers


def test_network_figures_are_on_a_w_axes_with_the_risk(tmp_path):
    from pdeflow.plot import plot_trajectory

    x = np.linspace(-2.0, 2.0, 8)
    grid = pf.Grid([(-3.0, 3.0), (-3.0, 3.0)], 24)
    p = pf.problems.mean_field_network(x, np.abs(x), "relu", grid=grid,
                                       rho0=pf.gaussian(grid, (0.0, 0.0), 0.3))
    traj = pf.solve(p, 0.2, snapshots=3, progress=False)
    fig = plot_trajectory(traj, tmp_path / "mf.png")
    labels = {(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes}
    assert ("a", "w") in labels and not any(lab == ("x", "y") for lab in labels)
    assert any(ylabel.startswith("risk") for _, ylabel in labels)
    assert "mean-field two-layer network" in fig._suptitle.get_text()


# -- the spec reference, generated from the validator's declarations ----------------------------------
def test_the_docs_spec_reference_is_generated_not_pasted():
    """The guide includes the table that the docs build writes from ``python -m
    pdeflow.spec_reference`` (docs/_ext/pdeflow_docs.py): no pasted copy can go stale.
    tests/test_docs.py builds the pages and finds every key of the table on the page."""
    from pathlib import Path

    root = Path(__file__).parents[1]
    page = (root / "docs" / "guide" / "cli.md").read_text()
    assert "```{include} ../_generated/spec_reference.md" in page
    assert "| `equation` |" not in page and "| `equation` |" not in (root / "README.md").read_text()
    assert '"-m", "pdeflow.spec_reference"' in (root / "docs" / "_ext" / "pdeflow_docs.py").read_text()


def test_the_spec_reference_lists_every_key_the_validator_accepts():
    from pdeflow.spec_reference import spec_reference
    from pdeflow.spec_validation import INITIAL, PARAMETERS, TABLES

    text = spec_reference()
    keys = {k for keys in (*INITIAL.values(), *PARAMETERS.values(), *TABLES.values()) for k in keys}
    for key in keys | {"equation", "description", "kind", "scheme", "seed", "tau", "theta"}:
        assert f"| `{key}` |" in text, key


@pytest.mark.parametrize("argv", [["presets", "spec.toml"], ["presets", "spec.toml", "--toml"],
                                  ["presets", "nope", "--toml"], ["presets", "--toml"]])
def test_presets_of_a_name_that_is_not_a_preset_fail_in_one_line(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.toml").write_text('equation = "heat"\n')
    assert main(argv) == 2
    line = _error_line(capsys)
    assert "unknown preset" in line or "--toml needs a preset name" in line

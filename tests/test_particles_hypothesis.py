"""Property-based tests of the particle method over random small problems: 1D and 2D grids with
walls or periodic axes, Brownian or blob diffusion, with or without a potential and an
interaction (direct or particle–mesh), particles sampled from random grid densities.

At every snapshot: the particle count and the weights are those of the start, the total mass
Σw is constant to round-off (1e-12 relative), and every position is finite and inside the box
(walls reflect into [a, b]; periodic axes wrap into [a, b)).

The default profile runs a bounded number of examples (CI); set HYPOTHESIS_PROFILE=nightly for a
larger search.
"""

import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pdeflow as pf

settings.register_profile("ci", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
MAX_STEPS = 2000


@st.composite
def problems(draw):
    """A random small particle problem as plain data (printed when a property fails)."""
    ndim = draw(st.integers(1, 2))
    return {
        "shape": tuple(draw(st.integers(4, 16)) for _ in range(ndim)),
        "bounds": [(-draw(st.floats(0.5, 4.0)), draw(st.floats(0.5, 4.0))) for _ in range(ndim)],
        "periodic": tuple(draw(st.booleans()) for _ in range(ndim)),
        "density": draw(st.sampled_from(["random", "near-vacuum", "compact"])),
        "mass": draw(st.floats(0.1, 2.0)),
        "data_seed": draw(st.integers(0, 2**31 - 1)),
        "diffusion": draw(st.sampled_from(["brownian", "blob", "power-law", "none"])),
        "D": draw(st.floats(0.05, 1.0)),
        "m": draw(st.floats(1.5, 2.5)),
        "potential": draw(st.booleans()),
        "interaction": draw(st.sampled_from(["none", "direct", "mesh"])),
        "strength": draw(st.floats(-2.0, 2.0)),  # attractive (< 0) or repulsive
        "width": draw(st.floats(0.2, 1.5)),
        "n_particles": draw(st.integers(1, 150)),
        "seed": draw(st.integers(0, 2**16)),
    }


def build(spec):
    """(problem, solve options) of a spec from :func:`problems`."""
    grid = pf.Grid(spec["bounds"], spec["shape"], spec["periodic"])
    rng = np.random.default_rng(spec["data_seed"])
    rho = rng.random(grid.shape)
    if spec["density"] == "near-vacuum":
        rho = rho**8 * 1e-3 + (rng.random(grid.shape) < 0.2)
    elif spec["density"] == "compact":
        rho = rho * (rng.random(grid.shape) < 0.3)
    if rho.sum() == 0:
        rho.flat[0] = 1.0
    rho *= spec["mass"] / grid.integrate(rho)
    diffusion, D = spec["diffusion"], spec["D"]
    terms = {"brownian": [pf.Entropy(D)], "blob": [pf.Entropy(D)], "none": [],
             "power-law": [pf.PowerLaw(spec["m"], D)]}[diffusion]
    if spec["potential"]:
        terms.append(pf.Potential(rng.normal(size=grid.shape)))
    if spec["interaction"] != "none":
        terms.append(pf.Interaction(pf.GaussianKernel(spec["width"]), spec["strength"]))
    options = {"n_particles": spec["n_particles"], "seed": spec["seed"],
               "blowup_density": 1e300}  # an attractive run may concentrate: keep stepping
    if diffusion in ("brownian", "blob"):
        options["diffusion"] = diffusion
    if spec["interaction"] != "none":
        options["interaction"] = spec["interaction"]
    energy = pf.FreeEnergy(*terms) if terms else pf.FreeEnergy(pf.Potential(np.zeros(grid.shape)))
    return pf.problems.aggregation_diffusion(grid, rho, energy), options


@given(problems(), st.floats(0.01, 0.1))
def test_particles_keep_count_weights_mass_and_stay_in_the_box(spec, t_end):
    problem, options = build(spec)
    grid = problem.grid
    # a concentrated start makes the blob's stable step tiny (ε² / P'(max ρ_ε)): runs stop after
    # MAX_STEPS steps, and the snapshots written until then are checked, from the file
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.h5")
        try:
            pf.solve(problem, t_end, method="particles", snapshots=4, store=path,
                     progress=False, max_steps=MAX_STEPS, **options)
        except pf.PdeflowError as err:
            assert "max_steps" in str(err)
        traj = pf.load(path)["particles"].in_memory()  # the file goes with the directory
    assert traj.status in ("finished", "failed") and len(traj) >= 1
    N, d = options["n_particles"], grid.ndim
    mass = grid.integrate(problem.rho0)
    w = traj.weights
    assert w.shape == (N,) and np.all(w == w[0]) and w[0] > 0  # equal weights M/N
    assert abs(w.sum() - mass) <= 1e-12 * mass
    np.testing.assert_allclose(traj.mass, w.sum(), rtol=1e-12, atol=0)
    lo = np.array([a for a, _ in grid.bounds])
    hi = np.array([b for _, b in grid.bounds])
    periodic = np.array(grid.periodic)
    for i in range(len(traj)):
        X = traj.positions(i)
        assert X.shape == (N, d)
        assert np.all(np.isfinite(X)), f"non-finite positions at snapshot {i}"
        inside = (X >= lo) & np.where(periodic, X < hi, X <= hi)
        assert np.all(inside), (i, X[~inside.all(axis=1)], lo, hi, periodic)

"""Property-based tests of the finite-volume schemes over random grids, boundaries, data and
parameters within the documented stability limits.

The default profile runs a bounded number of examples (CI); set HYPOTHESIS_PROFILE=nightly for a
larger search.
"""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pdeflow as pf

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@st.composite
def problems(draw):
    ndim = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(4, 24)) for _ in range(ndim))
    bounds = [(-draw(st.floats(0.5, 4.0)), draw(st.floats(0.5, 4.0))) for _ in range(ndim)]
    periodic = tuple(draw(st.booleans()) for _ in range(ndim))
    grid = pf.Grid(bounds, shape, periodic)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["random", "near-vacuum", "compact"]))
    rho = rng.random(grid.shape)
    if kind == "near-vacuum":
        rho = rho**8 * 1e-3 + (rng.random(grid.shape) < 0.2)
    elif kind == "compact":
        rho = rho * (rng.random(grid.shape) < 0.3)
    if rho.sum() == 0:
        rho.flat[0] = 1.0
    equation = draw(st.sampled_from(["fokker_planck", "porous_medium", "aggregation"]))
    strength = draw(st.floats(0.1, 3.0))
    if equation == "fokker_planck":
        V = rng.normal(size=grid.shape) * strength
        energy = pf.FreeEnergy(pf.Entropy(draw(st.floats(0.05, 2.0))), pf.Potential(V))
    elif equation == "porous_medium":
        energy = pf.FreeEnergy(pf.PowerLaw(draw(st.floats(1.2, 4.0)), draw(st.floats(0.1, 2.0))),
                               pf.Potential(rng.normal(size=grid.shape)))
    else:
        internal = draw(st.sampled_from([pf.Entropy(0.3), pf.PowerLaw(2.0, 0.3), None]))
        terms = [pf.Interaction(pf.GaussianKernel(draw(st.floats(0.2, 2.0))), -strength)]
        energy = pf.FreeEnergy(*([internal] if internal else []), *terms)
    scheme = draw(st.sampled_from(["explicit", "implicit", "bdf2"]))
    solver = draw(st.sampled_from(["auto", "krylov"]))  # the implicit schemes' linear solves
    return pf.problems.aggregation_diffusion(grid, rho, energy), scheme, solver


@given(problems(), st.floats(0.01, 0.3))
def test_mass_positivity_and_energy_for_random_problems(case, t_end):
    problem, scheme, solver = case
    options = {"scheme": scheme}
    if scheme in ("implicit", "bdf2"):
        options["implicit_factor"] = 10.0
        options["linear_solver"] = solver
    traj = pf.solve(problem, t_end, snapshots=5, progress=False, blowup_density=np.inf, **options)
    assert traj.status == "finished"
    assert np.abs(traj.mass / traj.mass[0] - 1).max() <= 1e-12
    assert traj.diagnostics["min_density"].min() >= 0.0
    if scheme == "explicit":
        # positivity comes from the step bound; rejecting a negative stage is the backstop. The
        # bound covers the first stage exactly, the later two lag the face weights by a stage:
        # measured no rejection in 250 random explicit runs (nightly profile); allowed: one, or
        # 2 % of the steps (a bound 4x too large rejects every step that it limits)
        steps, rejected = traj.meta["steps"], traj.meta["rejected_steps"]
        assert rejected <= max(1, 0.02 * steps), (rejected, steps)
    if scheme == "explicit":  # the explicit steps within the CFL limit dissipate energy
        scale = max(1.0, np.abs(traj.energy).max())
        assert np.diff(traj.energy).max() <= 1e-10 * scale, np.diff(traj.energy)

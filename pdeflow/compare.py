"""Cross-checks between runs of one problem, and against an exact solution.

``compare(fv, particles, jko, exact=p.exact)`` evaluates, at every snapshot time the runs share,
for every pair of runs (and every run against the exact solution):

- W2, the quadratic Wasserstein distance between the normalised measures ρ/M:

  * 1D: exact, the L² distance of the quantile functions, W2² = ∫₀¹ |Q_a − Q_b|² ds. A grid
    density enters as the piecewise-constant density it is (its quantile function is linear on
    each cell's mass interval), particles as their weighted positions (a step function); on the
    merged mass intervals both are linear, so Simpson's rule integrates the square exactly.
  * 2D, by default (``w2="grid"``): the back-and-forth method (:mod:`pdeflow.ot_grid`) between
    the runs' densities on the reference grid, at its full resolution: no coarsening, no
    subsampling (errors measured against Gaussians: 2e-4 relative for a translation at 128²,
    0.5 % for a W2 of 4e-4). Particle runs enter by their cloud-in-cell deposit, which spreads
    each particle over a tent of its cell's width: a bias of at most h·√(d/4) per measure (the
    tent's and the cell's own spread), the same that a grid run's cell averages carry, so that
    between a grid run and a particle run it largely cancels.
  * 3D, and 2D with ``w2="atoms"``: exact optimal transport ``ot.emd2`` (network simplex,
    O(n³)) between at most ``max_points`` atoms per measure: a grid density is coarsened by
    merging f×f(×f) blocks of cells (the smallest f that leaves at most ``max_points``
    blocks), each block an atom of its mass at its centre of mass; particles are subsampled
    without replacement (fixed seed) to ``max_points``, which adds a sampling error of order
    n^{−1/d} (or, ``particle_atoms="bin"``, binned into the same blocks, at their particles'
    centre of mass). The resolution is stated
    in ``Comparison.method``. W2 reacts like the square root of small mass differences moved
    over a block: expect a floor near the block width times √(L1).
  * finite-element (mesh) runs, nodal values ρ_i of the P1 density ρ_h = Σ_i ρ_i φ_i: one atom
    per triangle T, its P1 mass ∫_T ρ_h = |T| (ρ_a + ρ_b + ρ_c)/3 at its P1 centre of mass
    ∫_T x ρ_h / ∫_T ρ_h (the masses sum to the lumped mass Σ_i m_i ρ_i, the mass the solver
    conserves); more than ``max_points`` triangles are binned, like particles, into the blocks of
    the coarsened reference grid, each block an atom at its triangles' centre of mass. A mesh
    aligned with the reference grid's cells (``Mesh.rectangle`` on the same box) thus gives the
    exact P1 mass of every block, and a grid run and a mesh run are compared block for block.
    (Atoms at the nodes with the lumped masses would sit on the cell corners, half a cell from a
    grid's atoms: a W2 floor of order h from the representation alone.)
- L1, ``Σ_i |ρ_a − ρ_b| |cell|`` on the reference grid. Particle runs are deposited by
  cloud-in-cell (so L1 carries their sampling noise, of order √(cells/N)).
- the gaps of the mean, ``|m_a − m_b|``, and of the covariance, ``‖Σ_a − Σ_b‖_F`` (particles:
  weighted moments; grids: the moments of the piecewise-constant density, cell centres plus
  dx²/12 on the diagonal; meshes: the moments of the lumped measure Σ_i m_i ρ_i δ_{x_i}, the
  measure the lumped-mass scheme evolves — for the heat flow on ``Mesh.rectangle`` its mean and
  covariance follow the exact ones to round-off away from the walls. The P1 density ρ_h itself
  has each hat function's spread on top, O(h²), as a grid's dx²/12: a grid run and a mesh run
  of one flow differ by that much in covariance);
- the energy gap ``|E_a − E_b|``: each run's recorded "energy" diagnostic (a mesh run's is its
  lumped quadrature Σ_i m_i e(ρ_i)), or, when ``energy`` (a :class:`~pdeflow.FreeEnergy`) is
  given, ``energy.on(grid).value(ρ)`` of every density on the reference grid, the exact
  solution included.

The reference grid (L1, ``energy=``, the plots) is the first run's grid. A mesh is no grid:
when the first run is on a mesh, the reference is the grid of the first run that has one (a
grid or particle run); with mesh runs only, a grid over the first mesh's bounding box with
square-ish cells of the mesh's size ``√(2|Ω|/n_triangles)`` (one cell per pair of triangles).
Runs on other grids are brought to the reference grid for L1 and the plots: particles are
deposited on it; a finer grid's cell masses are deposited at their centres by cloud-in-cell
(mass-conserving), a coarser grid is interpolated linearly at the cell centres and rescaled to
its mass; a mesh run's P1 field is evaluated at the cell centres (linear interpolation on its
own triangles, zero at centres outside the mesh) and rescaled to its lumped mass Σ_i m_i ρ_i.
Every run in one comparison must have the same dimension (a 1D grid and a 2D mesh are refused).
W2 and the moments always use each run's own representation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from .deposit import cic_density, particles_to_density
from .domain import is_grid, is_mesh
from .errors import PdeflowError
from .grid import Grid
from .mesh import Mesh
from .stored_comparisons import write_comparison
from .trajectory import Trajectory
from .wasserstein import (
    coarsening_factor,
    grid_measure,
    mesh_measure,
    moments,
    p1_at_cell_centres,
    particle_measure,
    w2_distance,
)

TIME_TOLERANCE = 1e-9    # snapshot times within this (relative to max(1, |t|)) are the same time
METRICS = ("w2", "l1", "mean_gap", "cov_gap", "energy_gap")
HEADINGS = {"w2": "W2", "l1": "L1", "mean_gap": "|dmean|", "cov_gap": "|dcov|", "energy_gap": "|dE|"}


@dataclass
class _State:
    density: np.ndarray          # on the reference grid
    atoms: tuple                 # (points, masses) for W2
    mean: np.ndarray
    cov: np.ndarray
    energy: float


def _particle_weights(traj: Trajectory, i: int) -> np.ndarray:
    X = traj.positions(i)
    if traj.weights_at(i) is not None:
        return np.asarray(traj.weights_at(i), dtype=float)
    mass = traj.diagnostics.get("mass", np.ones(len(traj)))[i]
    return np.full(len(X), float(mass) / len(X))


def _state(traj: Trajectory | None, i, rho, grid, ref: Grid, max_points, energy, seed, binned):
    """One run (or, with ``traj=None``, the density ``rho`` on ``grid``) at one time."""
    if traj is not None and "position" in traj.frames:
        X = traj.positions(i).reshape(-1, ref.ndim)
        w = _particle_weights(traj, i)
        atoms = particle_measure(X, w, max_points, seed, grid=ref if binned else None)
        mean, cov = moments(X, w)
        density = particles_to_density(X, w, ref)
    else:
        if traj is not None:
            rho, grid = traj.density(i), traj.grid
        if is_mesh(grid):  # the lumped measure Σ m_i ρ_i δ_{x_i} for the moments
            atoms = mesh_measure(rho, grid, ref, max_points)
            mean, cov = moments(grid.nodes, grid.lumped_mass * rho)
        else:
            atoms = grid_measure(rho, grid, max_points)
            mean, cov = moments(grid.points(), rho.ravel(), np.square(grid.dx) / 12)
        density = resample(rho, grid, ref)
    if energy is not None:
        E = energy.on(ref).value(density)
    elif traj is not None and "energy" in traj.diagnostics:
        E = float(traj.diagnostics["energy"][i])
    else:
        E = np.nan
    return _State(density, atoms, mean, cov, E)


def resample(rho: np.ndarray, grid: Grid | Mesh, ref: Grid) -> np.ndarray:
    """A grid or mesh density on the grid ``ref`` (see the module docstring); the same grid
    returns ``rho``."""
    if grid == ref:
        return rho
    if grid.ndim != ref.ndim:
        raise PdeflowError(f"cannot compare a {grid.ndim}D run with a {ref.ndim}D run")
    mass = grid.integrate(rho)
    if is_mesh(grid):  # the P1 field at the cell centres, zero outside the mesh
        vertices, weights = p1_at_cell_centres(grid, ref)
        out = np.sum(weights * np.asarray(rho, dtype=float)[vertices], axis=1).reshape(ref.shape)
        total = ref.integrate(out)
        return out * (mass / total) if total > 0 else out
    if all(a <= b for a, b in zip(grid.dx, ref.dx, strict=True)):  # finer: deposit cell masses
        return cic_density(grid.points(), rho.ravel() * grid.cell_volume, ref)
    from scipy.interpolate import RegularGridInterpolator

    f = RegularGridInterpolator(grid.axes, rho, bounds_error=False, fill_value=None)
    out = np.maximum(f(ref.points()).reshape(ref.shape), 0.0)
    total = ref.integrate(out)
    return out * (mass / total) if total > 0 else out


# -- the comparison -----------------------------------------------------------------------------------
@dataclass
class Comparison:
    """The result of :func:`compare`: metrics per (time, pair), the densities, the method used.

    ``metrics[name]`` has shape ``(len(times), len(pairs))`` for name in w2, l1, mean_gap, cov_gap,
    energy_gap; ``energies`` has shape ``(len(times), len(runs))`` (the exact solution last, when
    given); ``densities[label]`` lists the densities on ``grid`` per time.
    """

    times: np.ndarray
    runs: list[str]
    pairs: list[tuple[str, str]]
    metrics: dict[str, np.ndarray]
    energies: np.ndarray
    method: str
    grid: Grid
    densities: dict[str, list[np.ndarray]] = field(default_factory=dict)
    equation: str = ""  # in words, for titles
    axis_names: list[str] = field(default_factory=lambda: ["x", "y", "z"])

    @property
    def pair_names(self) -> list[str]:
        return [f"{a} vs {b}" for a, b in self.pairs]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.metrics[name]

    def __str__(self) -> str:
        width = max(len(p) for p in self.pair_names)
        head = f"{'time':>10}  {'pair':<{width}}" + "".join(f"{HEADINGS[m]:>12}" for m in METRICS)
        lines = [self.method, head, "-" * len(head)]
        for ti, t in enumerate(self.times):
            for pi, name in enumerate(self.pair_names):
                values = "".join(f"{self.metrics[m][ti, pi]:12.4e}" for m in METRICS)
                lines.append(f"{t:10.4g}  {name:<{width}}{values}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "times": self.times.tolist(), "runs": list(self.runs), "pairs": self.pair_names,
            "method": self.method, "energy": self.energies.tolist(),
            **{m: self.metrics[m].tolist() for m in METRICS},
        }

    def to_xarray(self):
        """An ``xarray.Dataset`` with dimensions (time, pair) and (time, run)."""
        try:
            import xarray as xr
        except ImportError as err:
            raise PdeflowError("to_xarray needs xarray: pip install 'pdeflow[dev]'") from err
        data = {m: (("time", "pair"), self.metrics[m]) for m in METRICS}
        data["energy"] = (("time", "run"), self.energies)
        coords = {"time": self.times, "pair": self.pair_names, "run": self.runs}
        return xr.Dataset(data, coords=coords, attrs={"method": self.method})

    def write(self, path) -> None:
        """Write the tables to the group ``compare`` of the HDF5 file ``path`` (replacing it).

        The group is marked ``content = "comparison"``: the file's runs read back as before
        (``pf.load``, ``pdeflow info/plot/compare``), and ``pdeflow info`` lists the comparison.
        """
        tables = {m: (self.metrics[m], ("time", "pair")) for m in METRICS}
        tables["energy"] = (self.energies, ("time", "run"))
        write_comparison(
            path, "compare",
            {"w2_method": self.method,
             "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "grid": json.dumps(self.grid.to_dict())},
            {"time": self.times, "pair": self.pair_names, "run": self.runs}, tables,
        )

    def plot(self, path=None, n_times: int = 3):
        """Density overlays at up to ``n_times`` times, W2 against time, energy against time.

        1D: lines (particle runs as their CIC density, drawn as steps); 2D and 3D: contours of each
        run at the levels of the first run (3D: the middle z-slice). Returns the matplotlib Figure,
        saved when ``path`` is given.
        """
        from .plot_compare import plot_comparison

        return plot_comparison(self, path, n_times)


def compare(*trajectories: Trajectory, exact=None, times=None, max_points: int = 2000,
            energy=None, labels=None, seed: int = 0, particle_atoms: str = "subsample",
            w2: str = "auto") -> Comparison:
    """Compare runs of one problem with each other and with ``exact`` (see the module docstring).

    Parameters
    ----------
    *trajectories : Trajectory
        Runs of the same problem, on grids, particles or meshes, all of one dimension. The
        reference grid is the first run's grid (when it is a mesh: see the module docstring).
    exact : callable, optional
        ``exact(t)`` -> density on the first run's grid or mesh, or on the reference grid
        (``problem.exact`` of the first run's problem).
    times : sequence of float, optional
        Times to compare at (each must be a snapshot time of every run); default all shared ones.
    max_points : int
        2D/3D W2: atoms per measure (exact OT costs O(n³)).
    energy : FreeEnergy, optional
        Evaluate every energy on the reference grid (else each run's "energy" diagnostic).
    labels : sequence of str, optional
        Run names (default: the method names, numbered when repeated).
    seed : int
        Seed of the particle subsampling (2D/3D).
    particle_atoms : "subsample" | "bin"
        2D/3D particle runs in W2: a subsample of ``max_points`` particles (sampling error ~
        n^{−1/d}), or their mass binned into the blocks of the coarsened reference grid, at the
        blocks' centres of mass (no sampling error beyond the run's own).
    w2 : "auto" | "grid" | "atoms"
        2D W2: the back-and-forth OT on the reference grid ("grid", the default in 2D) or exact
        OT between at most ``max_points`` atoms ("atoms", the only choice in 3D). 1D is exact.

    Examples
    --------
    >>> import pdeflow as pf
    >>> from pdeflow.compare import compare
    >>> grid = pf.Grid([(-6.0, 6.0)], 240)
    >>> p = pf.problems.ornstein_uhlenbeck(grid, mean=1.0, cov=0.5)
    >>> fv = pf.solve(p, 0.5, method="fv", snapshots=3, progress=False)
    >>> report = compare(fv, exact=p.exact)
    >>> report.pair_names, bool(report["w2"].max() < 1e-2)
    (['fv vs exact'], True)
    """
    if particle_atoms not in ("subsample", "bin"):
        raise PdeflowError(f"particle_atoms must be 'subsample' or 'bin', got {particle_atoms!r}")
    binned = particle_atoms == "bin"
    if w2 not in ("auto", "grid", "atoms"):
        raise PdeflowError(f"w2 must be 'auto', 'grid' or 'atoms', got {w2!r}")
    if not trajectories or not all(isinstance(t, Trajectory) for t in trajectories):
        raise PdeflowError("compare takes Trajectory objects (what pf.solve or pf.load return)")
    if len(trajectories) < 2 and exact is None:
        raise PdeflowError("compare needs two trajectories, or one and exact=problem.exact")
    runs = _labels(trajectories, labels)
    _check_dimensions(trajectories, runs)
    ref, ref_text = reference_grid(trajectories)
    first = trajectories[0].grid
    if w2 == "grid" and ref.ndim != 2:
        raise PdeflowError(f"w2='grid' works in 2D; these runs are {ref.ndim}D (use w2='atoms')")
    on_grid = ref.ndim == 2 and w2 != "atoms"
    common, index = _common_times(trajectories, runs, times)
    names = runs + (["exact"] if exact is not None else [])
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    metrics = {m: np.full((len(common), len(pairs)), np.nan) for m in METRICS}
    energies = np.full((len(common), len(names)), np.nan)
    densities: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for ti, t in enumerate(common):
        states = {
            run: _state(traj, index[ri][ti], None, None, ref, max_points, energy, seed, binned)
            for ri, (run, traj) in enumerate(zip(runs, trajectories, strict=True))
        }
        if exact is not None:
            rho = np.asarray(exact(float(t)), dtype=float)
            on = first if is_mesh(first) and rho.shape == first.shape else ref
            on.check_shape(rho, f"exact({t:g})")
            states["exact"] = _state(None, None, rho, on, ref, max_points, energy, seed, binned)
        for ni, name in enumerate(names):
            energies[ti, ni] = states[name].energy
            densities[name].append(states[name].density)
        for pi, (a, b) in enumerate(pairs):
            sa, sb = states[a], states[b]
            metrics["w2"][ti, pi] = (_grid_w2(sa.density, sb.density, ref) if on_grid
                                     else w2_distance(sa.atoms, sb.atoms))
            metrics["l1"][ti, pi] = ref.integrate(np.abs(sa.density - sb.density))
            metrics["mean_gap"][ti, pi] = float(np.linalg.norm(sa.mean - sb.mean))
            metrics["cov_gap"][ti, pi] = float(np.linalg.norm(sa.cov - sb.cov))
            metrics["energy_gap"][ti, pi] = abs(sa.energy - sb.energy)
    meshes = any(is_mesh(traj.grid) for traj in trajectories)
    from .plot import axis_names, equation_name

    return Comparison(np.asarray(common), names, pairs, metrics, energies,
                      _method_text(ref, max_points, binned, meshes, ref_text, on_grid), ref, densities,
                      equation_name(trajectories[0]), axis_names(trajectories[0]))


def reference_grid(trajectories) -> tuple[Grid, str]:
    """The grid of L1, ``energy=`` and the plots, and how it was chosen: the first run's grid;
    after a mesh run, the first grid of a later run; mesh runs only, a grid over the first
    mesh's bounding box with cells of width ``√(2|Ω|/n_triangles)`` (two triangles a cell)."""
    grids = [traj.grid for traj in trajectories if is_grid(traj.grid)]
    first = trajectories[0].grid
    if is_grid(first):
        return first, ""
    if first is None:
        raise PdeflowError("the first trajectory has no grid; put a grid (or particle) run first")
    if grids:
        return grids[0], f"reference grid {grids[0].shape} of the first grid run (the first run is on a mesh)"
    width = np.sqrt(2 * first.area / first.n_triangles)
    shape = tuple(max(2, round((b - a) / width)) for a, b in first.bounds)
    return Grid(first.bounds, shape), (f"reference grid {shape} over the mesh's bounding box "
                                       f"(cells of the mesh size {width:.3g})")


def _check_dimensions(trajectories, runs) -> None:
    def describe(traj):
        if is_mesh(traj.grid):
            return traj.grid.ndim, "mesh"
        if traj.grid is not None:
            return traj.grid.ndim, "grid"
        return traj.positions(0).shape[-1] if len(traj) else None, "particles"

    kinds = [describe(traj) for traj in trajectories]
    if len({d for d, _ in kinds if d is not None}) > 1:
        listing = ", ".join(f"{run} {d}D ({kind})" for run, (d, kind) in zip(runs, kinds, strict=True))
        raise PdeflowError(
            f"cannot compare runs of different dimensions: {listing}; compare runs of one problem "
            "(a 2D mesh run against 2D grid or particle runs)"
        )


def _labels(trajectories, labels) -> list[str]:
    if labels is not None:
        labels = [str(x) for x in labels]
        if len(labels) != len(trajectories) or len(set(labels)) != len(labels):
            raise PdeflowError(f"labels {labels} must be {len(trajectories)} distinct names")
        return labels
    out, seen = [], {}
    for traj in trajectories:
        seen[traj.method] = seen.get(traj.method, 0) + 1
        out.append(traj.method if seen[traj.method] == 1 else f"{traj.method}#{seen[traj.method]}")
    return out


def _common_times(trajectories, runs, requested):
    def matches(t, ts):
        return np.abs(ts - t) <= TIME_TOLERANCE * max(1.0, abs(t))

    first = np.asarray(trajectories[0].times, dtype=float)
    common = [t for t in first if all(matches(t, np.asarray(o.times)).any() for o in trajectories[1:])]
    if not common:
        spans = "; ".join(
            f"{r}: {len(tr.times)} times in [{tr.times[0]:g}, {tr.times[-1]:g}]" if len(tr.times)
            else f"{r}: no snapshots" for r, tr in zip(runs, trajectories, strict=True)
        )
        raise PdeflowError(
            f"the runs share no snapshot time (to {TIME_TOLERANCE:g}): {spans}; solve them with "
            "the same t_end and snapshots, or compare runs of the same times"
        )
    if requested is not None:
        chosen = []
        for t in np.atleast_1d(np.asarray(requested, dtype=float)):
            hit = [c for c in common if matches(t, np.array([c]))[0]]
            if not hit:
                raise PdeflowError(
                    f"time {t:g} is not a snapshot time of every run; shared times: "
                    f"{', '.join(f'{c:g}' for c in common)}"
                )
            chosen.append(hit[0])
        common = chosen
    index = [[int(np.argmin(np.abs(np.asarray(tr.times) - t))) for t in common] for tr in trajectories]
    return np.asarray(common), index


def _grid_w2(a: np.ndarray, b: np.ndarray, grid: Grid) -> float:
    """W2 between the normalised densities a/M_a and b/M_b on the 2D ``grid`` (back-and-forth)."""
    from .ot_grid import w2_grid

    return w2_grid(a / grid.integrate(a), b / grid.integrate(b), grid).w2


def _method_text(grid: Grid, max_points: int, binned: bool, meshes: bool = False,
                 reference: str = "", on_grid: bool = False) -> str:
    if grid.ndim == 1:
        return ("W2: exact 1D (L² distance of the quantile functions; grid densities piecewise "
                "constant, particles as weighted positions)")
    if on_grid:
        h = max(grid.dx)
        text = (f"W2: back-and-forth OT (Jacobs-Leger) on the reference grid {grid.shape[0]}x"
                f"{grid.shape[1]}, no coarsening; particle runs by their CIC deposit (a bias of at "
                f"most {h * np.sqrt(grid.ndim / 4):.3g} per measure, as a grid run's cell averages)")
        return text + (f"; {reference}" if reference else "")
    f = coarsening_factor(grid.shape, max_points)
    particles = ("particles binned into the same blocks" if binned else
                 f"particle subsamples of at most {max_points} (sampling error ~ n^(-1/{grid.ndim}))")
    text = (f"W2: exact OT (ot.emd2) on grid densities coarsened by {f} per axis "
            f"(<= {max_points} atoms at block centres of mass; block width "
            f"{', '.join(f'{f * h:.3g}' for h in grid.dx)}) and {particles}")
    if meshes:
        text += (f"; mesh runs as P1 triangle masses at their centres of mass (binned into the same "
                 f"blocks beyond {max_points} triangles), L1 from the P1 field at the cell centres")
    return text + (f"; {reference}" if reference else "")

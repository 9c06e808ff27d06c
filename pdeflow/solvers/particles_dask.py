"""The particle method on Dask: ``solve(problem, t_end, method="particles", client=...)``.

The particles are split into P partitions (default: one per worker), each held by one Dask
worker for the whole run (:class:`Partition`, in a worker-side table; nothing is sent back and
forth but deposits, fields and scalars). One Euler–Maruyama step of the particle–mesh method,
``X ← X + v dt + √(2 D dt) ξ``, v = −∇V(X) − ∇(W * ρ)(X), is one round of tasks:

1. each partition moves its particles with the velocity it holds and deposits them (CIC) on
   the mesh (the problem's grid refined ``mesh_refine`` times) and, for the blow-up check, on
   the grid;
2. the deposits are summed by a tree of pairwise additions (P − 1 of them), on the workers;
3. the field ``∇(W * ρ)`` is solved once, by FFT on the mesh
   (:class:`~pdeflow.solvers._particle_interactions.MeshField`), on a worker;
4. every partition interpolates it (CIC) at its particles, adds −∇V, keeps the velocity and
   returns its largest speed;

and the driver gathers P + 1 numbers (the speeds and the largest deposited density): the next
step is ``min(dt, ½ cell / max speed, remaining)``, as in the single-process method
(:mod:`~pdeflow.solvers.particles`), whose formulas and defaults apply unchanged.

Scaling model, per step and worker: it computes O(N/P) (push, two deposits, one interpolation
of its N/P particles) and sends a deposit of n mesh cells (plus the grid's n/refine^d) and
receives a field of d·n cells, 8 bytes each: 8 (d + 1) n bytes against N/P particles, so the
communication is negligible while N/P ≫ (d + 1) n (``benchmarks/particles_dask.py`` measures
it). The field solve, O(n log n), is not divided.

Random numbers: partition p draws from ``SeedSequence(seed, spawn_key=(p,))``, its own stream
in the spawn tree of the run's seed; a single partition draws from ``SeedSequence(seed)``, the
generator of the single-process run, which it then repeats bit for bit (same samples, same
noise, same summation order). With P > 1 the particles and the noise differ (independent
streams), so runs agree in law: to statistical error.

Supported: the entropy by Brownian noise, potentials V (gradient, differenced or on the grid),
interactions W by particle–mesh (``interaction="auto"`` is the mesh here, at any N), walls and
periodic axes, blow-up detection, storage (each partition writes its rows to a file of its own,
joined by a virtual dataset: :mod:`~pdeflow.stored_partitions`) and resume (the checkpoint holds
every partition's generator; a resumed run repeats the uninterrupted one bit for bit with the
same partitions). Refused, with what to do: pair sums, the blob method (power laws), weighted
(Fisher–Rao, WFR) particles, low-rank (network) terms, problems without a grid.

With a store, the partitions write their positions themselves; without one, every snapshot's
positions are gathered into the driver's memory. Resume sends the stored positions back to the
workers through the driver (once).
"""

from __future__ import annotations

import importlib
import uuid
from dataclasses import replace

import numpy as np

from ..deposit import cic_density, grid_arrays, interpolate
from ..energy import Entropy
from ..errors import PdeflowError
from . import _particle_kernels as pk
from ._particle_interactions import MeshField
from .particles import DT_FRACTION, MAX_MOVE, initial_particles, potential_drift, potential_terms
from .stepper import BlowUp, StepperBase, default_blowup_density, land

INSTALL = "pip install 'dask[distributed]'  (or: pip install '.[dask]')"
PARTITIONS: dict[str, Partition] = {}
"""On each worker: the partitions it holds, by key."""


def distributed():
    """``dask.distributed``, or a PdeflowError saying how to install it."""
    try:
        return importlib.import_module("dask.distributed")
    except ImportError as err:
        raise PdeflowError(f"solve(..., client=) needs dask.distributed: {INSTALL}") from err


def refusal(problem, method: str, options) -> str | None:
    """Why a run on Dask cannot solve ``problem`` with these options (None: it can)."""
    if method != "particles":
        return (f"client= runs method='particles' on Dask, not {method!r}; drop client= (whole "
                "runs of any method go to Dask with pf.sweep(..., client=))")
    energy = problem.energy
    if problem.grid is None:
        return "particles on Dask need a grid (particle-mesh deposits); give the problem a grid"
    if problem.metric.reaction or not problem.metric.transport:
        return ("weighted particles (Fisher-Rao, Wasserstein-Fisher-Rao) do not run on Dask; drop "
                "client= to run them in one process")
    if energy.low_rank or options.batch_size is not None:
        return "low-rank (network) terms do not run on Dask; drop client= to run them in one process"
    if options.interaction == "direct":
        return ("pair sums need every pair of particles in one process; use interaction='mesh' "
                "(or 'auto') on Dask, or drop client=")
    internal = energy.internal
    if options.interaction == "none" and energy.interactions:
        return (f"interaction='none' is for problems without interactions; this one has "
                f"{len(energy.interactions)}: use 'auto' or 'mesh'")
    if options.diffusion == "none" and internal is not None and getattr(internal, "D", 0) > 0:
        return (f"diffusion='none' is for problems without an internal energy; this one has "
                f"{internal!r}: use 'auto' or 'brownian'")
    if options.diffusion == "blob" or (internal is not None and not isinstance(internal, Entropy)
                                       and getattr(internal, "D", 0) > 0):
        return ("the blob method (diffusion='blob', power laws) does not run on Dask; use "
                "diffusion='brownian' for the entropy, or drop client= to run it in one process")
    start = problem.particles0
    if start is not None and not callable(start):
        return ("on Dask particles0 must be a sampler (n, rng) -> positions, which each partition "
                "calls; or give rho0")
    return None


class DaskRun:
    """The Dask side of one ``solve(..., client=)``: connects (a scheduler address opens a client,
    closed at the end), builds the :class:`DistributedParticles` and drops their partitions."""

    def __init__(self, client, method: str):
        if method != "particles":
            raise PdeflowError(refusal(None, method, None))
        self.method = method
        self.owned = None
        if isinstance(client, str):
            client = self.owned = distributed().Client(client)
        elif client is not None:
            distributed()
        self.client = client
        self.steppers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for stepper in self.steppers:
            stepper.close()
        if self.owned is not None:
            self.owned.close()

    def build(self, problem, t_end: float, options):
        why = refusal(problem, self.method, options)
        if why is not None:
            raise PdeflowError(why)
        if options.seed is None:
            options = replace(options, seed=int(np.random.SeedSequence().entropy % 2**63))
        stepper = DistributedParticles(problem, t_end, options, self.client)
        self.steppers.append(stepper)
        return stepper


class Partition:
    """The particles of one partition, on its worker: positions, velocity, generator."""

    def __init__(self, problem, seed: int, p: int, P: int, N: int, mass: float, mesh, grid_deposit):
        grid = self.grid = problem.grid
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(p,) if P > 1 else ()))
        n = N // P + (p < N % P)
        self.X, _, self.scale = initial_particles(problem, n, self.rng)
        self.w = np.full(n, mass / N)  # equal weights M/N of the whole run
        self.lo, _, _, self.periodic = grid_arrays(grid)
        self.hi = np.array([b for _, b in grid.bounds])
        self.walls = bool(problem.walls)
        internal = problem.energy.internal
        self.D = internal.D if isinstance(internal, Entropy) else 0.0
        self.terms = potential_terms(problem.energy, grid)
        self.mesh, self.grid_deposit = mesh, grid_deposit
        self.v, self.part = np.zeros_like(self.X), np.zeros_like(self.X)
        self.noise = np.zeros(self.X.shape if self.D else (0, self.X.shape[1]))

    def deposits(self, grid_too: bool = False):
        """(grid deposit or None, mesh deposit or None) of these particles."""
        rho_grid = cic_density(self.X, self.w, self.grid) if grid_too or self.grid_deposit else None
        rho_mesh = cic_density(self.X, self.w, self.mesh) if self.mesh is not None else None
        return rho_grid, rho_mesh

    def velocity(self, field) -> float:
        """v = −Σ∇V(X) − ∇(W * ρ)(X) (``field`` the mesh's ∇(W * ρ), or None); its max |v_k|."""
        v = self.v
        v.fill(0.0)
        if self.terms:
            potential_drift(self.terms, self.X, self.grid, self.part)
            v += self.part
        if field is not None:
            interpolate(field, self.X, self.mesh, out=self.part)
            self.part *= -1.0
            v += self.part
        return float(np.max(np.abs(v))) if v.size else 0.0

    def advance(self, dt: float):
        """Euler–Maruyama with the velocity held, then the deposits of the moved particles."""
        amplitude = 0.0
        if self.D:
            self.rng.standard_normal(out=self.noise)
            amplitude = np.sqrt(2.0 * self.D * dt)
        pk.advance_positions(self.X, self.v, self.noise, dt, amplitude, self.lo, self.hi,
                             self.periodic, self.walls)
        return self.deposits()

    def moments(self):
        """(Σw, Σ w X, Σ w |X|²)."""
        return float(self.w.sum()), self.w @ self.X, float(self.w @ np.sum(self.X**2, axis=1))

    def centred(self, mean: np.ndarray) -> np.ndarray:
        """Σ w (X − mean)(X − mean)ᵀ."""
        return (self.X - mean).T @ ((self.X - mean) * self.w[:, None])

    def store(self, path, k: int) -> None:
        from ..stored_partitions import append_partition_frame

        append_partition_frame(path, k, self.X)

    def positions(self) -> np.ndarray:
        return self.X.copy()

    def state(self):
        return self.rng.bit_generator.state

    def restore(self, X: np.ndarray, state: dict | None) -> None:
        self.X[...] = X
        if state is not None:
            self.rng.bit_generator.state = state


# -- tasks (run on the workers) --------------------------------------------------------------------
def create_partition(key: str, *args) -> tuple[int, float]:
    PARTITIONS[key] = part = Partition(*args)
    return len(part.X), part.scale


def call(key: str, name: str, *args):
    """``PARTITIONS[key].name(*args)``."""
    return getattr(PARTITIONS[key], name)(*args)


def drop(key: str) -> None:
    PARTITIONS.pop(key, None)


def add_deposits(a: tuple, b: tuple) -> tuple:
    return tuple(None if x is None else x + y for x, y in zip(a, b, strict=True))


def solve_field(field: MeshField, deposits: tuple):
    return field(deposits[1])


def peak(deposits: tuple) -> float:
    return float(deposits[0].max())


# -- the driver's side -----------------------------------------------------------------------------
class DistributedParticles(StepperBase):
    """The particle–mesh stepper over partitions on Dask workers (see the module docstring)."""

    method = "particles"
    max_steps_hint = "raise max_steps or dt"
    peak_label = "max deposited density"

    def __init__(self, problem, t_end: float, options, client):
        self.client = client
        grid = self.grid = problem.grid
        self.grid_energy = problem.energy.on(grid)
        self.names = grid.axis_names
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise PdeflowError("the Dask cluster has no workers; start some, or wait for them")
        P = int(options.partitions or len(workers))
        N = int(options.n_particles or 10_000)
        if P > N:
            raise PdeflowError(f"partitions={P} is more than n_particles={N}; use fewer partitions")
        self.P, self.N, self.d = P, N, grid.ndim
        self.workers = [workers[p % len(workers)] for p in range(P)]
        terms = problem.energy.interactions
        self.field = MeshField(terms, grid, options.mesh_refine) if terms else None
        mass = float(problem.mass if problem.particles0 is not None
                     else np.cumsum(problem.rho0.ravel() * grid.cell_volume)[-1])  # as sampled
        self.w = np.full(N, mass / N)
        self.mass = float(self.w.sum())
        blowup_density = options.blowup_density
        if blowup_density is None and terms:
            blowup_density = default_blowup_density(self.mass, grid.cell_volume)
        self.blowup_density = float(blowup_density) if blowup_density is not None else np.inf
        run = uuid.uuid4().hex
        self.keys = [f"pdeflow-{run}-{p}" for p in range(P)]
        mesh = self.field.mesh if self.field is not None else None
        made = [self._on(p, create_partition, self.keys[p], problem, options.seed, p, P, N, mass, mesh,
                         bool(np.isfinite(self.blowup_density))) for p in range(P)]
        made = client.gather(made)
        self.partition_rows = [n for n, _ in made]
        scale = made[0][1]
        self.field_future = client.scatter(self.field) if self.field is not None else None
        self.D = problem.energy.internal.D if isinstance(problem.energy.internal, Entropy) else 0.0
        self.max_steps = int(options.max_steps)
        self._deposits = [self._call(p, "deposits") for p in range(P)]
        self._solve_field()
        if self.peak is not None and self.peak >= self.blowup_density:
            raise PdeflowError(f"initial max deposited density {self.peak:.3g} is already above the "
                               f"blow-up threshold {self.blowup_density:.3g}; refine the grid or set "
                               "blowup_density")
        if options.dt is not None:
            self.dt = float(options.dt)
        else:
            times = [t_end] + ([scale**2 / self.D] if self.D else [])
            times += [scale / self.speed] if self.speed > 0 else []
            self.dt = DT_FRACTION * min(times)
        singular = any(getattr(t.kernel, "singular", False) for t in terms)
        self.options = {**options.to_dict(), "n_particles": N, "dt": self.dt, "partitions": P,
                        "diffusion": "brownian" if self.D else "none", "blob_width": None,
                        "interaction": "mesh" if terms else "none",
                        "softening": scale * N ** (-1.0 / self.d) if singular else 0.0,
                        "blowup_density": blowup_density}

    # -- tasks -------------------------------------------------------------------------------------
    def _on(self, p: int, function, *args):
        """``function(*args)`` on partition p's worker."""
        return self.client.submit(function, *args, workers=[self.workers[p]],
                                  allow_other_workers=False, pure=False)

    def _call(self, p: int, name: str, *args):
        return self._on(p, call, self.keys[p], name, *args)

    def _sum(self, futures: list):
        """The deposits summed by a tree of pairwise additions on the workers."""
        while len(futures) > 1:
            pairs = [self.client.submit(add_deposits, a, b, pure=False)
                     for a, b in zip(futures[::2], futures[1::2], strict=False)]
            futures = pairs + futures[len(futures) - len(futures) % 2:]
        return futures[0]

    def _solve_field(self) -> None:
        """From the partitions' deposits: the field, every partition's velocity, the max speed
        and the largest grid density (one gather)."""
        total = self._sum(self._deposits)
        field = (self.client.submit(solve_field, self.field_future, total, pure=False)
                 if self.field is not None else None)
        speeds = [self._call(p, "velocity", field) for p in range(self.P)]
        check = np.isfinite(self.blowup_density)
        extra = [self.client.submit(peak, total, pure=False)] if check else []
        values = self.client.gather(speeds + extra)
        self.speed = max(values[: self.P])
        self.peak = values[-1] if check else None
        self._total = total

    # -- stepping ----------------------------------------------------------------------------------
    def step(self, remaining: float) -> float:
        if not np.isfinite(self.speed):
            raise BlowUp(self.t, "non-finite particle velocity")
        bound = MAX_MOVE * min(self.grid.dx) / self.speed if self.speed > 0 else np.inf
        dt = land(min(self.dt, bound, remaining), remaining)
        self._deposits = [self._call(p, "advance", dt) for p in range(self.P)]
        self._solve_field()
        return dt

    def peak_density(self) -> float | None:
        return self.peak

    # -- output ------------------------------------------------------------------------------------
    def fields(self) -> dict:
        return {"position": PartitionedPositions(self)}

    def static(self) -> dict:
        return {"weight": self.w}

    def diagnostics(self) -> dict:
        gather = self.client.gather
        moments = gather([self._call(p, "moments") for p in range(self.P)])
        M = sum(m[0] for m in moments)
        mean = sum(m[1] for m in moments) / M
        cov = sum(gather([self._call(p, "centred", mean) for p in range(self.P)])) / M
        rho = self._total.result()[0]
        if rho is None:
            rho = self._sum([self._call(p, "deposits", True) for p in range(self.P)]).result()[0]
        out = {"mass": M, "energy": self.grid_energy.value(rho),
               "second_moment": float(sum(m[2] for m in moments)), "max_density": float(rho.max())}
        for k, a in enumerate(self.names):
            out[f"mean_{a}"] = float(mean[k])
            out[f"var_{a}"] = float(cov[k, k])
        for k in range(self.d):
            for j in range(k + 1, self.d):
                out[f"cov_{self.names[k]}{self.names[j]}"] = float(cov[k, j])
        return out

    def summary(self) -> dict:
        return {"n_particles": self.N, "interaction_mode": self.options["interaction"],
                "diffusion_mode": self.options["diffusion"], "fixed_step": False,
                "partitions": self.P, "workers": len(set(self.workers))}

    def positions(self) -> np.ndarray:
        """All positions (N, d), gathered from the partitions."""
        return np.concatenate(self.client.gather([self._call(p, "positions")
                                                  for p in range(self.P)]))

    # -- resume ------------------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        states = self.client.gather([self._call(p, "state") for p in range(self.P)])
        return {"rng": states, "steps": self.steps, "partitions": self.P,
                "dt_min": float(self.dt_min) if np.isfinite(self.dt_min) else None,
                "dt_max": float(self.dt_max)}

    def restore(self, t: float, fields: dict, checkpoint: dict | None = None) -> bool:
        states = (checkpoint or {}).get("rng")
        if self.D and (states is None or len(states) != self.P):
            return False
        X = np.asarray(fields["position"], dtype=float)
        if X.shape != (self.N, self.d):
            raise PdeflowError(f"the stored positions have shape {X.shape}; this run has "
                               f"{(self.N, self.d)} (n_particles={self.N} in {self.d}D)")
        starts = np.cumsum([0, *self.partition_rows])
        done = [self._call(p, "restore", X[starts[p]:starts[p + 1]], states[p] if states else None)
                for p in range(self.P)]
        self.client.gather(done)
        self.t = float(t)
        if states is not None:
            self.steps = int(checkpoint["steps"])
            self.dt_min = np.inf if checkpoint["dt_min"] is None else float(checkpoint["dt_min"])
            self.dt_max = float(checkpoint["dt_max"])
        self._deposits = [self._call(p, "deposits") for p in range(self.P)]
        self._solve_field()
        return True

    def close(self) -> None:
        """Drop the partitions on the workers."""
        try:
            self.client.gather([self._on(p, drop, self.keys[p]) for p in range(self.P)])
        except Exception:  # the cluster is gone: so are its partitions
            pass


class PartitionedPositions:
    """The positions (N, d) of a run on Dask at one snapshot, left on the workers: ``np.asarray``
    gathers them; a run's writer has each partition write its rows to its own file."""

    def __init__(self, stepper: DistributedParticles):
        self.stepper = stepper
        self.partition_rows = list(stepper.partition_rows)
        self.shape = (stepper.N, stepper.d)
        self.nbytes = 8 * stepper.N * stepper.d

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.stepper.positions(), dtype=dtype)

    def store_partitions(self, paths: list, k: int) -> None:
        s = self.stepper
        s.client.gather([s._call(p, "store", str(paths[p]), k) for p in range(s.P)])

"""Particle solver (``method="particles"``) for ``∂t ρ = ∇·(ρ ∇ξ)``, ξ = U'(ρ) + V + W*ρ.

The density is ``μ_N = Σ_i w_i δ_{X_i}`` with equal weights ``w_i = M/N``, and every particle moves
with the velocity of the flow, ``dX_i = −∇(V + W*μ_N)(X_i) dt`` plus the internal energy:

- U = D ρ log ρ, ``diffusion="brownian"``: Euler–Maruyama,
  ``X ← X + v dt + √(2 D dt) ξ``, ξ ~ N(0, I); the law of X solves the Fokker–Planck equation
  (weak order one in dt: for the Ornstein–Uhlenbeck process the stationary variance is
  (D/γ)(1 + γdt/2 + O(dt²))).
- U = D ρ^m/(m−1), or the entropy with ``diffusion="blob"``: the blob method of Carrillo, Craig
  and Patacchini (2019), deterministic: each particle follows ``−∇ δF_ε/δρ`` of the energy
  regularised by a Gaussian of width ε (default ε = ℓ N^{−1/(2d)}, ℓ the initial standard
  deviation), explicit Euler with the step capped at ``0.8 ε² / P'(max ρ_ε)``, P'(ρ) = D m ρ^{m−1}
  (:mod:`~pdeflow.solvers._particle_blob`: the regularised energy, its velocity, the default ε).
- V: ``−∇V`` from ``Potential.gradient`` when given; else a centred difference of V with step
  ``6e-6·max(1, |x_k|)`` (≈ ε_mach^{1/3}, the step that balances truncation and round-off); a V
  given as an array is differentiated on the grid and interpolated (CIC).
- W = s·k(|x − y|): ``−∇(W * μ_N)(X_i)``, ``interaction="direct"``: softened pair sums
  ``−s Σ_j w_j k'(r_δ) (X_i − X_j)/r_δ``, r_δ = √(r² + δ²) (δ = ``softening``), O(N²);
  ``"mesh"``: particle–mesh (CIC deposit on the grid refined ``mesh_refine`` times, FFT
  convolution, centred differences, CIC interpolation); ``"auto"``: mesh above 5000 particles or
  on a periodic grid (:mod:`~pdeflow.solvers._particle_interactions`: the formulas and defaults).
- Low-rank interactions ``W = s Σ_k φ_k ⊗ φ_k`` (the mean-field network) with the potentials
  linear in the same features: ``v_i = −∇Ψ(X_i)``, Ψ = Σ_k (s m_k + c_k) φ_k + (λ/2)|θ|²,
  m_k = Σ_j w_j φ_k(X_j), in two O(N·n) passes (:class:`~._network_drift.FeatureDrift`). For
  the network, with w_j = 1/m, this is gradient descent on a width-m network in mean-field
  scaling with learning rate dt, θ_i ← θ_i − dt ∇Ψ(θ_i; ρ_m); ``batch_size`` = b < n makes it
  minibatch SGD; the entropy (1/β) ρ log ρ adds the Langevin noise √(2 dt/β) ξ.

Walls reflect particles (``x ↦ 2a − x``); periodic axes wrap. A problem with ``walls=False``
(the network: its grid is a window, not a wall) lets particles leave the box; deposits clamp them
onto its edge cells. A problem without a grid (``particles0`` only) has no walls, no deposits, no
blob and no particle–mesh. The step ``dt`` (default ``0.01 × min(t_end, ℓ²/D, ℓ/max|v(0)|)``,
with ℓ²/P'(max ρ₀) for a power law, ℓ the initial spread) is an upper bound: a step never moves a
particle more than half a grid cell by drift, nor exceeds the blob limit. With low-rank terms the
step is ``dt`` itself, the learning rate, with no cap (gradient descent is stable for
dt < 2/λ_max(∇²Ψ), which is not checked: a non-finite velocity stops the run). The last step
before a snapshot is shortened to land on it.

Resume (``solve(..., resume=True)``): the state is the positions (the snapshot's frame), the
random generator (Brownian noise, minibatches) and the step counters (its checkpoint, stored with
every snapshot); a resumed run draws the same random numbers and its snapshots equal the
uninterrupted run's bitwise (on the same machine and thread count). A random run whose snapshot
has no checkpoint (a file from before checkpoints) starts again from t = 0.

Fisher–Rao and WFR flows (``metric=``): the weights react, dw_i/dt = −α w_i (ξ(X_i) − ξ̄), the
entropy's log ρ at the particles by a kernel density estimate (``kde``, ``kde_bandwidth``), with
optional birth–death resampling (``resample``): :mod:`~._particle_reaction`, :mod:`~._particle_kde`.

Diagnostics per snapshot: mass Σw; second moment Σ w|X|²; mean and (co)variance per axis; the
energy of the CIC density on the problem's grid, ``problem.energy.on(grid).value(ρ_CIC)`` (for
the entropy it carries the particle noise: D ∫ρ log ρ of a histogram of N particles sits above
the continuum value by about D M cells_in_support / (2N), less for the smoother CIC deposit);
the largest CIC density. With low-rank terms the potential and interaction energies are those of
the particles themselves, ``Σ_i w_i V(X_i) + (s/2) Σ_k m_k²`` (exact; the network's risk minus
(1/2n)Σ y_k²), plus the internal energy of the CIC density (left out without a grid); so are
they with reacting weights, which add ``reaction_dissipation`` and ``ess`` = (Σw)²/Σw². With an
interaction, a largest CIC density above ``blowup_density`` (default 0.1 M/|cell|, as the finite-volume
solver) raises :class:`~pdeflow.solvers.driver.BlowUp`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from ..deposit import cic_density, grid_arrays, initial_scale, interpolate, sample_particles
from ..domain import is_grid
from ..energy import Entropy, PowerLaw
from ..errors import PdeflowError
from ..grid import Grid
from . import _particle_kernels as pk
from ._network_drift import feature_drifts
from ._particle_blob import BlobDrift, default_blob_width
from ._particle_interactions import InteractionDrift, grid_gradient
from ._particle_kde import KernelDensity
from ._particle_reaction import RESAMPLE, WeightReaction, effective_size, reaction_refusal
from .method import Method, Options, max_steps_option, option, seed_option
from .stepper import BlowUp, StepperBase, default_blowup_density, land

DT_FRACTION = 0.01     # default dt as a fraction of the shortest characteristic time
MAX_MOVE = 0.5         # drift per step at most this many grid cells
FD_STEP = 6e-6
MAX_PARTICLES = 100_000_000  # refused before anything is allocated


def n_particles_option():
    """The ``n_particles`` option of a particle method."""
    return option(None, "number of particles (default 10 000, or the number of the problem's "
                  "particles0)", "count", low=1, limit=MAX_PARTICLES)


@dataclass(frozen=True)
class ParticlesOptions(Options):
    """Options of ``method="particles"``."""

    method: ClassVar[str] = "particles"
    n_particles: int | None = n_particles_option()
    seed: int | None = seed_option()
    dt: float | None = option(None, "step, an upper bound (default 0.01 x min(t_end, l^2/D, "
                              "l / max speed at t = 0)); with low-rank terms the step itself", "positive",
                              units="time")
    diffusion: str = option("auto", "the entropy's realisation: Brownian noise or the "
                            "deterministic blob method ('none': no internal energy)", "choice",
                            choices=("auto", "brownian", "blob", "none"))
    blob_width: float | None = option(None, "blob width eps (default l N^(-1/(2d)))", "positive",
                                      units="length")
    interaction: str = option("auto", "interaction forces: direct pair sums or particle-mesh "
                              "(auto: mesh above 5000 particles or on a periodic grid)", "choice",
                              choices=("auto", "direct", "mesh", "none"))
    softening: float | None = option(None, "softening length of the direct pair sums",
                                     "non-negative", units="length")
    mesh_refine: int = option(2, "particle-mesh grid: the problem's grid refined this many "
                              "times", "count", low=1, limit=64)
    blowup_density: float | None = option(None, "blow-up when the deposited density reaches it "
                                          "(default with an interaction: 0.1 M / cell volume)",
                                          "threshold", units="mass/volume")
    max_steps: int = max_steps_option()
    batch_size: int | None = option(None, "minibatch size of the low-rank (network) terms "
                                    "(default: all data, gradient descent)", "count", low=1)
    kde: str = option("auto", "weighted particles with the entropy: log rho there by a Gaussian "
                      "KDE, O(N^2) sums or binned (auto: binned in 1D/2D above 100/500 particles)",
                      "choice", choices=("auto", "direct", "binned"))
    kde_bandwidth: float | None = option(None, "the KDE's bandwidth (default Scott's rule, every "
                                         "step)", "positive", units="length")
    resample: str = option("none", "weighted particles: birth-death (systematic) resampling when "
                           "the ESS falls below resample_below x N", "choice", choices=RESAMPLE)
    resample_below: float = option(0.5, "the ESS fraction that triggers resampling", "fraction")
    partitions: int | None = option(None, "runs on Dask (solve(..., client=)): particle partitions "
                                    "(default: one per worker)", "count", low=1, limit=4096)


def _build(problem, t_end: float, options: ParticlesOptions):
    if options.seed is None:  # a fresh seed, recorded with the run's options: every run repeats
        options = replace(options, seed=int(np.random.SeedSequence().entropy % 2**63))
    return Particles(problem, t_end, options)


def make_stepper(problem, t_end: float, **options):
    """The particle stepper for ``problem`` (options as for :func:`pdeflow.solve`)."""
    return METHOD.stepper(problem, t_end, **options)


class Particles(StepperBase):
    """Stepper of the particle method (see the module docstring for the equations and defaults;
    the options are :class:`ParticlesOptions`).

    Examples
    --------
    >>> import pdeflow as pf
    >>> grid = pf.Grid([(-5.0, 5.0)], 100)
    >>> p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    >>> traj = pf.solve(p, 0.1, method="particles", n_particles=1000, seed=0, progress=False)
    >>> traj.positions(-1).shape, round(float(traj.mass[-1]), 12)
    ((1000, 1), 1.0)
    """

    method = "particles"
    max_steps_hint = "raise max_steps or dt"
    peak_label = "max deposited density"

    def __init__(self, problem, t_end: float, options: ParticlesOptions):
        seed, dt, mesh_refine = options.seed, options.dt, options.mesh_refine
        blowup_density, batch_size = options.blowup_density, options.batch_size
        if options.partitions is not None:
            raise PdeflowError(f"partitions={options.partitions} is for runs on Dask; pass "
                               "client= (a dask.distributed.Client or a scheduler address) to solve")
        grid = self.grid = problem.grid
        self.energy = problem.energy
        self.grid_energy = problem.energy.on(grid) if grid is not None else None
        self.rng = np.random.default_rng(seed)
        self.X, self.w, self.scale = initial_particles(problem, options.n_particles, self.rng)
        self.N, self.d = self.X.shape
        self.mass = float(self.w.sum())
        self.names = getattr(problem, "axis_names", None) or (
            grid.axis_names if grid is not None else tuple(f"x{k}" for k in range(self.d)))
        self.walls = grid is not None and bool(problem.walls)
        if grid is not None:
            self.lo, self.h, self.n, self.periodic = grid_arrays(grid)
            self.hi = np.array([b for _, b in grid.bounds])
        else:
            self.lo, self.hi, self.periodic = np.zeros(self.d), np.zeros(self.d), np.zeros(self.d, bool)
        self.period = np.where(self.periodic, self.hi - self.lo, 0.0)
        self.max_steps = int(options.max_steps)
        # work arrays, allocated once
        self.v = np.zeros((self.N, self.d))
        self.part = np.zeros((self.N, self.d))
        self.rho_grid = np.zeros(grid.shape) if grid is not None else None
        self._setup_internal(options.diffusion, options.blob_width)
        self.features = feature_drifts(self.energy, self.X, batch_size)
        self._setup_potentials()
        self.interactions = InteractionDrift(self.energy.interactions, self.w, grid,
                                             options.interaction, options.softening, mesh_refine,
                                             self.scale, self.periodic, self.period)
        self.interaction, self.softening = self.interactions.mode, self.interactions.softening
        self.metric = problem.metric
        self.reaction = None
        if self.metric.reaction:  # weighted particles (and the entropy's KDE)
            density = KernelDensity(options.kde, options.kde_bandwidth, self.N, self.d, self.lo,
                                    self.hi, self.period) if self.energy.internal is not None else None
            self.reaction = WeightReaction(self.energy, self.metric, self.features, density,
                                           options.resample, options.resample_below)
        elif options.resample != "none":
            raise PdeflowError(f"resample={options.resample!r} is for weighted particles (a "
                               "Fisher-Rao part: metric=pf.FisherRao or WassersteinFisherRao)")
        self.noise = np.zeros((self.N, self.d) if self.brownian_D else (0, self.d))
        if blowup_density is None and self.energy.interactions and grid is not None:
            blowup_density = default_blowup_density(self.mass, grid.cell_volume)
        self.blowup_density = float(blowup_density) if blowup_density is not None else np.inf
        peak = cic_density(self.X, self.w, grid, out=self.rho_grid).max() if grid else 0.0
        if peak >= self.blowup_density:
            raise PdeflowError(
                f"initial max deposited density {peak:.3g} is already above the blow-up "
                f"threshold {self.blowup_density:.3g}; refine the grid or set blowup_density"
            )
        self.dt = float(dt) if dt is not None else self.default_dt(t_end)
        # the options as resolved: a run repeats from them (resume, sweeps)
        self.options = replace(
            options, n_particles=self.N, dt=self.dt, diffusion=self.diffusion,
            blob_width=self.eps, interaction=self.interaction, softening=self.softening,
            blowup_density=blowup_density,
        ).to_dict()

    # -- set-up ----------------------------------------------------------------------------------
    def _setup_internal(self, diffusion, blob_width):
        internal = self.energy.internal
        self.brownian_D, self.blob, self.eps = 0.0, None, None
        blob_m = None
        if isinstance(internal, PowerLaw) and internal.D > 0:
            if diffusion == "brownian":
                raise PdeflowError("diffusion='brownian' realises only U = D ρ log ρ; a power law "
                                   "needs the blob method (diffusion='blob' or 'auto')")
            self.diffusion, blob_m = "blob", internal.m
        elif isinstance(internal, Entropy) and internal.D > 0:
            self.diffusion = "blob" if diffusion == "blob" else "brownian"
            if self.diffusion == "blob":
                blob_m = 1.0
            else:
                self.brownian_D = internal.D
        else:
            self.diffusion = "none"
        if diffusion == "none" and self.diffusion != "none":
            raise PdeflowError(f"diffusion='none' is for problems without an internal energy; "
                               f"this one has {internal!r}: use 'auto', 'brownian' or 'blob'")
        if blob_m is None:
            return
        if self.grid is None:
            raise PdeflowError("the blob method needs a grid (its cell list spans the box); give "
                               "the problem a grid, or use diffusion='brownian' for the entropy")
        self.eps = float(blob_width) if blob_width is not None else (
            default_blob_width(self.scale, self.N, self.d))
        self.blob = BlobDrift(blob_m, internal.D, self.eps, self.N, self.lo, self.hi, self.periodic,
                              self.period)

    def _setup_potentials(self):
        folded = [id(g) for f in self.features for g in f.linear]
        self.potential_terms = potential_terms(self.energy, self.grid, folded)

    def default_dt(self, t_end: float) -> float:
        """``DT_FRACTION × min(t_end, ℓ²/D, ℓ/max|v(0)|)`` (ℓ²/P'(max ρ₀) for a power law)."""
        self.velocity(self.X, self.v)  # also fills ρ_ε for the blob
        times = [t_end]
        if self.brownian_D:
            times.append(self.scale**2 / self.brownian_D)
        if self.blob is not None:
            times.append(self.scale**2 / self.blob.pressure())
        speed = np.max(np.abs(self.v))
        if speed > 0:
            times.append(self.scale / speed)
        return DT_FRACTION * min(times)

    # -- the velocity field ------------------------------------------------------------------------
    def velocity(self, X: np.ndarray, out: np.ndarray) -> float:
        """out = deterministic velocity at X; returns the largest stable step for it."""
        out.fill(0.0)
        dt_bound = np.inf
        if self.potential_terms:
            self.potential_velocity(X, self.part)
            out += self.part
        if self.interaction != "none":
            self.interaction_velocity(X, self.part)
            out += self.part
        for drift in self.features:  # low-rank terms: out −= ∇Ψ
            drift.gradient(X, self.w, self.rng, self.part)
            out -= self.part
        if self.blob is not None:
            self.blob.velocity(X, self.w, self.part)
            out += self.part
            dt_bound = self.blob.stable_step()
        speed = np.max(np.abs(out)) if out.size else 0.0
        if not np.isfinite(speed):
            raise BlowUp(self.t, "non-finite particle velocity")
        if speed > 0 and self.grid is not None and not self.features:
            dt_bound = min(dt_bound, MAX_MOVE * min(self.grid.dx) / speed)
        return dt_bound

    def potential_velocity(self, X: np.ndarray, out: np.ndarray) -> None:
        """out = −Σ ∇V(X) over the potentials."""
        potential_drift(self.potential_terms, X, self.grid, out)

    def interaction_velocity(self, X: np.ndarray, out: np.ndarray) -> None:
        """out = −∇(W * μ_N)(X), direct softened pair sums or particle–mesh."""
        self.interactions.velocity(X, out)

    # -- time stepping ---------------------------------------------------------------------------
    def step(self, remaining: float) -> float:
        """Euler(–Maruyama): X ← X + v dt (+ √(2 D dt) ξ), reflected at walls, wrapped on
        periodic axes."""
        if not self.metric.transport:  # Fisher–Rao alone: the atoms stay, their weights react
            dt = land(min(self.dt, remaining), remaining)
            self.reaction.step(self.X, self.w, dt, self.rng)
            return dt
        dt = land(min(self.dt, self.velocity(self.X, self.v), remaining), remaining)
        amplitude = 0.0
        if self.brownian_D:
            self.rng.standard_normal(out=self.noise)
            amplitude = np.sqrt(2.0 * self.brownian_D * dt)
        pk.advance_positions(self.X, self.v, self.noise, dt, amplitude, self.lo, self.hi,
                             self.periodic, self.walls)
        if self.reaction is not None:  # Lie splitting: transport, then the weights' reaction
            self.reaction.step(self.X, self.w, dt, self.rng)
        return dt

    def peak_density(self) -> float | None:
        """The largest CIC density, where there is a blow-up threshold."""
        if np.isfinite(self.blowup_density):
            return cic_density(self.X, self.w, self.grid, out=self.rho_grid).max()
        return None

    # -- resume ----------------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        """The state beyond the positions (JSON-able): the random generator, the step count and
        the step statistics."""
        return {"rng": self.rng.bit_generator.state, "steps": self.steps,
                "dt_min": float(self.dt_min) if np.isfinite(self.dt_min) else None,
                "dt_max": float(self.dt_max),
                **(self.reaction.summary() if self.reaction is not None else {})}

    def restore(self, t: float, fields: dict, checkpoint: dict | None = None) -> bool:
        """Continue from a stored snapshot: its positions and the generator of its checkpoint.

        Without the checkpoint a deterministic run continues from the positions alone (its step
        counters restart), and a random one (Brownian noise, minibatches) returns False: its
        random stream cannot continue, so the run starts again.
        """
        random = (self.brownian_D > 0 or any(drift.b < drift.n for drift in self.features)
                  or (self.reaction is not None and self.reaction.resample != "none"))
        if (not checkpoint or "rng" not in checkpoint) and random:
            return False
        X = np.asarray(fields["position"], dtype=float)
        if X.shape != self.X.shape:
            raise PdeflowError(f"the stored positions have shape {X.shape}; this run has "
                               f"{self.X.shape} (n_particles={self.N} in {self.d}D)")
        self.X[...] = X
        if self.reaction is not None:  # the weights changed with time: they are in the frame
            self.w[...] = fields["weight"]
        self.t = float(t)
        if checkpoint and "rng" in checkpoint:
            self.rng.bit_generator.state = checkpoint["rng"]
            self.steps = int(checkpoint["steps"])
            dt_min = checkpoint["dt_min"]
            self.dt_min = np.inf if dt_min is None else float(dt_min)
            self.dt_max = float(checkpoint["dt_max"])
            if self.reaction is not None:
                self.reaction.resample_events = int(checkpoint.get("resample_events", 0))
        return True

    # -- output ----------------------------------------------------------------------------------
    def fields(self) -> dict:
        if self.reaction is not None:  # weights that change: one frame per snapshot
            return {"position": self.X, "weight": self.w}
        return {"position": self.X}

    def static(self) -> dict:
        return {} if self.reaction is not None else {"weight": self.w}

    def diagnostics(self) -> dict:
        X, w = self.X, self.w
        M = float(w.sum()) if self.reaction is not None else self.mass
        mean = w @ X / M
        cov = (X - mean).T @ ((X - mean) * w[:, None]) / M
        out = {"mass": float(w.sum()), "energy": np.nan,
               "second_moment": float(w @ np.sum(X**2, axis=1))}
        rho = None
        if self.grid is not None:
            rho = cic_density(X, w, self.grid, out=self.rho_grid)
            out["max_density"] = float(rho.max())
            if not self.features and self.reaction is None:
                out["energy"] = self.grid_energy.value(rho)
        if self.features or self.reaction is not None:  # the particles' own energies (exact)
            out["energy"] = self.particle_energy(rho)
        if self.reaction is not None:
            out["reaction_dissipation"] = self.reaction.dissipation(X, w)
            out["ess"] = effective_size(w)
        for k, a in enumerate(self.names):
            out[f"mean_{a}"] = float(mean[k])
            out[f"var_{a}"] = float(cov[k, k])
        for k in range(self.d if self.d <= 3 else 0):
            for j in range(k + 1, self.d):
                out[f"cov_{self.names[k]}{self.names[j]}"] = float(cov[k, j])
        return out

    def particle_energy(self, rho) -> float:
        """Σ_i w_i V(X_i) + Σ_terms (s/2) Σ_k m_k², plus ∫U(ρ_CIC) when ``rho`` (a deposit) is given."""
        cols = [self.X[:, k] for k in range(self.d)]
        energy = 0.0
        for term in self.energy.potentials:
            V = term.V(*cols) if callable(term.V) else interpolate(
                term.on_grid(self.grid)[None], self.X, self.grid)[:, 0]
            energy += float(self.w @ np.broadcast_to(V, (self.N,)))
        energy += sum(drift.interaction_energy(self.X, self.w) for drift in self.features)
        if rho is not None and self.energy.internal is not None:
            energy += self.grid.integrate(self.energy.internal.density(rho))
        return energy

    def summary(self) -> dict:
        out = {"n_particles": self.N, "interaction_mode": self.interaction,
               "diffusion_mode": self.diffusion, "fixed_step": bool(self.features)}
        if self.eps is not None:
            out["blob_width"] = self.eps
        return {**out, **(self.reaction.summary() if self.reaction is not None else {})}


# -- helpers (plain NumPy; the loops live in _particle_kernels) ---------------------------------
def initial_particles(problem, n_particles: int | None, rng: np.random.Generator):
    """(X, w, ℓ): positions (N, d), equal weights M/N and their length scale ℓ.

    From ``problem.particles0`` (positions, or a sampler ``(n, rng) -> (n, d)``) or samples of
    ``rho0`` (N = 10 000 by default). ℓ: the RMS standard deviation per axis (of ρ₀ when sampled),
    or the RMS size of the positions when they coincide (one particle), or 1.
    """
    start, n = problem.particles0, n_particles
    if start is None:
        X, w = sample_particles(problem.rho0, problem.grid, n or 10_000, rng)
        return X, w, initial_scale(problem.rho0, problem.grid)
    X = np.array(start(n or 10_000, rng) if callable(start) else start, dtype=float, ndmin=2)
    n, d = n or X.shape[0], problem.grid.ndim if problem.grid is not None else X.shape[1]
    if X.shape != (n, d) or not np.all(np.isfinite(X)):
        raise PdeflowError(f"the initial particles have shape {X.shape} (finite: "
                           f"{bool(np.all(np.isfinite(X)))}); expected {n} finite rows of {d}")
    spread, size = np.sqrt(np.mean(np.var(X, axis=0))), np.sqrt(np.mean(X**2))
    scale = float(spread if spread > 0 else size if size > 0 else 1.0)
    return np.ascontiguousarray(X), np.full(n, problem.mass / n), scale


def potential_terms(energy, grid: Grid | None, folded=()) -> list[tuple]:
    """``(kind, f)`` per potential of ``energy`` not in ``folded`` (ids of gradients a low-rank
    term handles): its gradient, V to difference, or ∇V on the grid (V given as an array)."""
    terms = []
    for term in energy.potentials:
        if id(term.gradient) in folded:  # linear in a low-rank term's features: done there
            continue
        if term.gradient is not None:
            terms.append(("gradient", term.gradient))
        elif callable(term.V):
            terms.append(("difference", term.V))
        else:
            terms.append(("mesh", grid_gradient(term.on_grid(grid), grid)))
    return terms


def potential_drift(terms: list[tuple], X: np.ndarray, grid: Grid | None, out: np.ndarray) -> None:
    """out = −Σ ∇V(X) over the :func:`potential_terms`."""
    out.fill(0.0)
    cols = [X[:, k] for k in range(X.shape[1])]
    for kind, f in terms:
        if kind == "gradient":
            for k, g in enumerate(f(*cols)):
                out[:, k] -= g
        elif kind == "difference":
            for k in range(X.shape[1]):
                step = FD_STEP * np.maximum(1.0, np.abs(cols[k]))
                plus, minus = list(cols), list(cols)
                plus[k], minus[k] = cols[k] + step, cols[k] - step
                out[:, k] -= (f(*plus) - f(*minus)) / (2 * step)
        else:
            out -= interpolate(f, X, grid)


def unsupported(problem) -> str | None:
    """Why the particle method cannot solve ``problem`` (None: it can): a problem on a pf.Grid
    (or without a grid), and for a Fisher–Rao part, weighted particles' conditions."""
    grid = problem.grid
    if grid is not None and not is_grid(grid):
        return (f"method='particles' needs a problem on a pf.Grid, got {type(grid).__name__}; "
                "use method='fem' on meshes")
    return reaction_refusal(problem) if problem.metric.reaction else None


METHOD = Method(
    name="particles", options=ParticlesOptions, build=_build, stochastic=True, reaction=True,
    requires=unsupported,
    summary="particles: Euler-Maruyama or the blob method for the entropy, pair sums or "
            "particle-mesh for interactions; also networks given by their neurons",
)

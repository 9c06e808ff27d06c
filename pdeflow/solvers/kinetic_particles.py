"""Underdamped Langevin particles (``method="kinetic_particles"``) for Kramers' equation:

    dθ = v dt,   dv = −∇V(θ) dt − γ v dt + √(2γT) dW,

whose law is the kinetic Fokker–Planck density f(θ, v) (heavy-ball momentum at T = 0).

The step is BAOAB (Leimkuhler–Matthews): a half kick B (v += −∇V dt/2), a half drift A
(θ += v dt/2), the exact Ornstein–Uhlenbeck solution O of the friction and noise
(v ← e^{−γdt} v + √(T(1 − e^{−2γdt})) ξ), then A and B again. It is second order in dt for the
law (weak order 2) and exact for the velocity relaxation at any step; at T = 0 it is the
symmetric (Störmer–Verlet-like) splitting of damped Newton dynamics.

A particle is a row (θ_1..θ_d, v_1..v_d) of ``position``; on a problem with a phase-space grid
(d = 1 or 2) the grid is a window for deposits and plots (particles leave it freely; a periodic θ
axis wraps them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from ..errors import PdeflowError
from .method import Method, Options, max_steps_option, option, seed_option
from .particles import initial_particles, n_particles_option
from .stepper import StepperBase, land


@dataclass(frozen=True)
class KineticParticlesOptions(Options):
    """Options of ``method="kinetic_particles"``."""

    method: ClassVar[str] = "kinetic_particles"
    n_particles: int | None = n_particles_option()
    seed: int | None = seed_option()
    dt: float = option(0.01, "the BAOAB step", "positive", units="time")
    max_steps: int = max_steps_option()


class KineticParticles(StepperBase):
    """N particles in phase space, advanced by BAOAB (module docstring)."""

    method = "kinetic_particles"
    max_steps_hint = "raise max_steps or the step dt"

    def __init__(self, problem, options: KineticParticlesOptions):
        self.rng = np.random.default_rng(options.seed)
        self.Z, self.w, _ = initial_particles(problem, options.n_particles, self.rng)
        if self.Z.shape[1] % 2:
            raise PdeflowError(f"kinetic particles are rows (θ, v) of even length 2d, got "
                               f"{self.Z.shape[1]} columns")
        self.d = self.Z.shape[1] // 2
        self.theta, self.v = self.Z[:, :self.d], self.Z[:, self.d:]  # views: Z is the state
        self.field = problem.force  # −∇θξ at the particles
        self.gamma, self.T = problem.gamma, problem.T
        self.dt = options.dt
        self.max_steps = options.max_steps
        self.noise = np.empty_like(self.v)
        grid = problem.grid  # periodic θ axes wrap the particles: (axis, low, high)
        self.wrap = [] if grid is None else [
            (k, *grid.bounds[k]) for k in range(self.d) if grid.periodic[k]]

    def _kick(self, h: float) -> None:
        self.v += h * self.field.at(self.theta, self.w)

    def _drift(self, h: float) -> None:
        self.theta += h * self.v
        for k, low, high in self.wrap:
            self.theta[:, k] = low + np.mod(self.theta[:, k] - low, high - low)

    def step(self, remaining: float) -> float:
        """B A O A B (module docstring)."""
        dt = land(min(self.dt, remaining), remaining)
        self._kick(0.5 * dt)
        self._drift(0.5 * dt)
        decay = np.exp(-self.gamma * dt)
        self.v *= decay
        if self.T > 0:
            self.rng.standard_normal(out=self.noise)
            self.v += np.sqrt(self.T * -np.expm1(-2.0 * self.gamma * dt)) * self.noise
        self._drift(0.5 * dt)
        self._kick(0.5 * dt)
        return dt

    def peak_density(self) -> float:
        """Not a density: the largest |coordinate|, so that the driver's finiteness check sees
        a particle that ran off to infinity."""
        return float(np.abs(self.Z).max())

    def checkpoint(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "steps": self.steps}

    def restore(self, t: float, fields: dict, checkpoint: dict | None = None) -> bool:
        """Continue from stored particles and the generator of their checkpoint (a run with
        noise and no checkpoint starts again)."""
        if (not checkpoint or "rng" not in checkpoint) and self.T > 0:
            return False
        Z = np.asarray(fields["position"], dtype=float)
        if Z.shape != self.Z.shape:
            raise PdeflowError(f"the stored particles have shape {Z.shape}; this run has "
                               f"{self.Z.shape}")
        self.Z[...] = Z
        self.t = float(t)
        if checkpoint and "rng" in checkpoint:
            self.rng.bit_generator.state = checkpoint["rng"]
            self.steps = int(checkpoint["steps"])
        return True

    def fields(self) -> dict:
        return {"position": self.Z}

    def static(self) -> dict:
        return {"weight": self.w}

    def diagnostics(self) -> dict:
        """Mass and ``energy``, the free energy ∫ f (|v|²/2 + V) − T S with the entropy S of the
        Gaussian of the particles' mean and covariance, ½ log((2πe)^{2d} det Σ): exact when the
        law is Gaussian (a harmonic V from Gaussian data), an upper bound on S otherwise (the
        Gaussian has the most entropy for its covariance), so then a lower bound on F."""
        w, M = self.w, float(np.sum(self.w))
        energy = (0.5 * float(w @ np.sum(self.v**2, axis=1))
                  + self.field.energy_at(self.theta, w)) / M
        if self.T > 0:
            centred = self.Z - w @ self.Z / M
            cov = (centred * w[:, None]).T @ centred / M
            sign, logdet = np.linalg.slogdet(cov)
            entropy = 0.5 * (2 * self.d * np.log(2 * np.pi * np.e) + logdet) if sign > 0 else np.inf
            energy -= self.T * entropy
        return {"mass": M, "energy": M * energy}


def _build(problem, t_end: float, options: KineticParticlesOptions):
    if options.seed is None:  # a fresh seed, recorded with the run's options
        options = replace(options, seed=int(np.random.SeedSequence().entropy % 2**63))
    if t_end / options.dt > options.max_steps:
        raise PdeflowError(f"t_end={t_end:.4g} needs {t_end / options.dt:.3g} steps of dt="
                           f"{options.dt:.3g}, more than max_steps={options.max_steps}")
    stepper = KineticParticles(problem, options)
    stepper.options = options.to_dict()
    return stepper


METHOD = Method(
    name="kinetic_particles", options=KineticParticlesOptions, build=_build, stochastic=True,
    kinetic=True,
    summary="underdamped Langevin (heavy-ball at T = 0) particles in phase space, BAOAB",
)

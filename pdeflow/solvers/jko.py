"""JKO minimizing-movement solver (``method="jko"``): ρ_{k+1} = argmin E[ρ] + W2²(ρ, ρ_k)/(2τ).

Each step is an implicit Euler step of the gradient flow ∂t ρ = ∇·(ρ∇ξ) in the Wasserstein
metric (first order in τ, unconditionally stable, energy-diminishing).

- 1D (:mod:`pdeflow.solvers._jko_lagrangian`): the quantile map X(s) of the density, in which W2 is
  exact, W2² = ∫|X − X_k|² ds; Newton on a tridiagonal system with a line search that keeps X
  increasing; walls hold the support's end points inside the box.
- 2D, by default (``solver="bfm"``, :mod:`pdeflow.solvers._jko_bfm`): the back-and-forth method
  (Jacobs, Lee & Léger 2021) on the dual of each step, with exact grid c-transforms and H¹
  (DCT/FFT) preconditioned gradient ascent; no entropic blur. Needs U = D ρ log ρ or
  D ρ^m/(m − 1) with D > 0.
- 2D (``solver="entropic"``) and 3D (:mod:`pdeflow.solvers._jko_entropic`): Peyré's entropic
  JKO on the grid, Sinkhorn-like iterations with a separable Gaussian kernel, in the exp domain
  where the scalings stay within floating point (checked at every iteration) and in the log
  domain otherwise, with the same result up to round-off. The entropic blur sqrt(ε) and
  the extra diffusion ε/(4τ) it causes are reported with the run.

Resume (``solve(..., resume=True)``) continues a stored run bitwise: the first step after each
snapshot starts afresh (1D: no extrapolated Newton guess; 2D: Sinkhorn from a cold β), so the
steps from a snapshot depend on its state alone; that state is the stored density in 2D and the
quantile map X, stored with every snapshot (its checkpoint), in 1D.

Options
-------
tau : float
    JKO step (default ``t_end / 100``; for the back-and-forth step with U = D ρ log ρ at least
    4 dx²/D, below which near stationary states a step's dual gain sinks into the grid dual's
    noise). ``advance`` takes steps of ``tau`` and shortens the last one to land on the snapshot
    time exactly.
solver : "bfm" | "entropic" (2D)
    The 2D step: back-and-forth (default in 2D) or entropic (the only one in 3D; also the
    default when ``epsilon`` is given, as in runs stored before the back-and-forth default).
tol : float
    1D: Newton stopping rule, correction below ``tol`` in relative W2 size (default 1e-10).
    2D entropic: marginal error ‖π1 − prox‖₁/M below ``tol`` (default 1e-9).
    2D back-and-forth: the dual's increase over the last iteration below ``tol`` times its
    increase over the whole step (default 1e-4).
max_iter : int
    Iterations per step before giving up (default 100 Newton, 20000 Sinkhorn, 1000
    back-and-forth).
scheme : "jko" | "bdf2" (1D)
    "jko": the minimizing movement (implicit Euler in W2, first order in τ). "bdf2": the
    variational BDF2 of Matthes and Plazotta, ρ_{k+1} = argmin E + W2²(·, ρ_k)/τ
    − W2²(·, ρ_{k−1})/(4τ) (variable-step form for the shortened last step), second order in τ;
    the first step after each snapshot is a JKO step.
n_quantiles : int (1D)
    Lagrangian cells (default max(1000, 4 × grid cells); 1000 with interactions, whose pair
    sums cost O(N²) per iteration).
spacing : "graded" | "uniform" (1D)
    Mass levels of the quantile points (default "graded": finer in the tails). Equal masses
    ("uniform") spread the mass M/N of each end cell over the whole tail, a W2 error
    ~ sqrt(M/N) × (tail width) for densities that fill the box; use them for compact supports.
epsilon : float (2D)
    Entropic regularisation ε, a squared length (default dx_min²: blur = one cell). Smaller
    ε pins slow motion to the grid (measured: ε = dx²/2 already biases the drift); the scheme
    adds a diffusion ε/(4τ), so ε ≪ 4τD is needed. Without ``epsilon``, a run whose default
    ε = dx² would add more than :data:`BLUR_FRACTION` (5 %) of D is refused before it starts,
    with the τ or the cell size that would do; an ``epsilon`` given explicitly is taken, with a
    warning before the run, and the run records ``entropic_diffusion_fraction`` (ε/(4τD)) and
    ``blur_exceeds_threshold`` in its attributes (``pdeflow info`` shows them).

Examples
--------
>>> import pdeflow as pf
>>> grid = pf.Grid([(-5.0, 5.0)], 200)
>>> p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), D=1.0)
>>> traj = pf.solve(p, t_end=0.1, method="jko", tau=0.01, snapshots=3, progress=False)
>>> bool(abs(traj.mass[-1] - 1.0) < 1e-12), traj.meta["newton_iterations"] > 0
(True, True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..domain import is_grid
from ..energy import Entropy
from ..errors import PdeflowError
from ._jko_bfm import BackAndForthJKO
from ._jko_entropic import EntropicJKO
from ._jko_lagrangian import LagrangianJKO
from .method import Method, Options, low_rank_refusal, option
from .stepper import StepperBase, land

BFM_MIN_STEPS = 4.0
"""The back-and-forth default τ is at least this many dx²/D (with the entropy)."""
BLUR_FRACTION = 0.05
"""The entropic step's added diffusion ε/(4τ) allowed without an explicit ``epsilon``, in D."""
ONLY_1D = ("n_quantiles", "spacing", "scheme")
ONLY_2D = ("epsilon", "solver")
MAX_QUANTILES = 10_000_000  # refused before anything is allocated


@dataclass(frozen=True)
class JKOOptions(Options):
    """Options of ``method="jko"`` (see the module docstring for each)."""

    method: ClassVar[str] = "jko"
    tau: float | None = option(None, "JKO step (default t_end / 100; back-and-forth with the "
                               "entropy: at least 4 dx^2/D)", "positive", units="time")
    tol: float | None = option(None, "stopping rule of each step (default 1e-10 Newton, 1e-9 "
                               "entropic, 1e-4 back-and-forth)", "positive")
    max_iter: int | None = option(None, "iterations per step (default 100 Newton, 20000 "
                                  "Sinkhorn, 1000 back-and-forth)", "count", low=1)
    n_quantiles: int | None = option(None, "Lagrangian cells (default max(1000, 4 x grid "
                                     "cells); 1000 with interactions)", "count", low=2,
                                     limit=MAX_QUANTILES, only="1D")
    spacing: str | None = option(None, "mass levels of the quantile points (default graded)",
                                 "choice", choices=("graded", "uniform"), only="1D")
    epsilon: float | None = option(None, "entropic regularisation (default dx_min^2)",
                                   "positive", units="length^2", only="2D/3D")
    solver: str | None = option(None, "the 2D step: back-and-forth (default) or entropic (3D: "
                                "entropic only)", "choice", choices=("bfm", "entropic"),
                                only="2D/3D")
    scheme: str | None = option(None, "minimizing movement (default) or the second-order "
                                "variational BDF2", "choice", choices=("jko", "bdf2"),
                                only="1D")


def unsupported(problem) -> str | None:
    """Why JKO cannot solve ``problem`` (None: it can)."""
    if (why := low_rank_refusal(problem, "jko")) is not None:
        return why
    if not is_grid(problem.grid):
        return (f"method='jko' needs a problem on a pf.Grid, got {type(problem.grid).__name__}; "
                "use method='fem' on meshes")
    return None


def make_stepper(problem, t_end: float, **options):
    """The JKO stepper for ``problem`` (options as for :func:`pdeflow.solve`)."""
    return METHOD.stepper(problem, t_end, **options)


def _build(problem, t_end: float, options: JKOOptions):
    """Resolve the options for the grid's dimension (see the module docstring); the JKO stepper."""
    why = unsupported(problem)
    if why is not None:
        raise PdeflowError(why)
    grid = problem.grid
    given = options.to_dict()
    wrong = ONLY_2D if grid.ndim == 1 else ONLY_1D
    misplaced = sorted(k for k in wrong if given[k] is not None)
    if misplaced:
        where = "2D/3D grids" if grid.ndim == 1 else "1D grids (quantile map)"
        raise PdeflowError(
            f"jko option(s) {misplaced} apply to {where}; this grid has {grid.ndim} axes"
        )
    tau = options.tau if options.tau is not None else float(t_end) / 100
    if grid.ndim == 1:
        # the interaction sums cost O(N²) per Newton iteration: stay at 1000 points with them
        default_quantiles = 1000 if problem.energy.interactions else max(1000, 4 * grid.shape[0])
        opts = {
            "tau": tau,
            "tol": _default(options.tol, 1e-10),
            "max_iter": _default(options.max_iter, 100),
            "n_quantiles": _default(options.n_quantiles, default_quantiles),
            "spacing": options.spacing or "graded",
        }
        scheme = options.scheme or "jko"
        if scheme != "jko":
            opts["scheme"] = scheme  # (absent for plain JKO: stored options stay as before)
        engine = LagrangianJKO(
            problem, opts["n_quantiles"], opts["tol"], opts["max_iter"], opts["spacing"],
            bdf2=scheme == "bdf2",
        )
        return JKO(problem, engine, opts)
    # epsilon names the entropic step (and runs stored before the back-and-forth default)
    entropic = grid.ndim != 2 or options.epsilon is not None
    solver = options.solver or ("entropic" if entropic else "bfm")
    if solver == "bfm" and grid.ndim != 2:
        raise PdeflowError(
            f"jko solver='bfm' runs on 2D grids, this one has {grid.ndim} axes; "
            "use solver='entropic'"
        )
    if solver == "bfm" and options.epsilon is not None:
        raise PdeflowError("jko option epsilon applies to solver='entropic', not 'bfm'")
    if solver == "bfm":
        internal = problem.energy.internal
        if options.tau is None and isinstance(internal, Entropy) and internal.D > 0:
            # steps of a few cells' diffusion time by default (smaller ones, given, run: the
            # fokker-planck preset at 0.64 dx²/D reaches t_end, see _jko_bfm's stopping rule)
            tau = max(tau, BFM_MIN_STEPS * min(grid.dx) ** 2 / internal.D)
        opts = {
            "tau": tau,
            "solver": solver,
            "tol": _default(options.tol, 1e-4),
            "max_iter": _default(options.max_iter, 1000),
        }
        return JKO(problem, BackAndForthJKO(problem, opts["tol"], opts["max_iter"]), opts)
    opts = {
        "tau": tau,
        "solver": solver,
        "tol": _default(options.tol, 1e-9),
        "max_iter": _default(options.max_iter, 20000),
        "epsilon": _default(options.epsilon, min(grid.dx) ** 2),
    }
    _check_blur(problem, tau, opts["epsilon"], given=options.epsilon is not None)
    engine = EntropicJKO(problem, opts["epsilon"], opts["tol"], opts["max_iter"])
    return JKO(problem, engine, opts)


def _check_blur(problem, tau: float, epsilon: float, given: bool) -> None:
    """Refuse (default ε) or warn about (given ε) an entropic step whose added diffusion
    ε/(4τ) exceeds :data:`BLUR_FRACTION` of the problem's D, before the run starts."""
    internal = problem.energy.internal
    if not isinstance(internal, Entropy) or internal.D <= 0:
        return
    D, grid = internal.D, problem.grid
    fraction = epsilon / (4 * tau) / D
    if fraction <= BLUR_FRACTION:
        return
    if given:
        warnings.warn(
            f"entropic JKO: epsilon/(4 tau) = {epsilon / (4 * tau):.3g} adds {fraction:.0%} to "
            f"the diffusion D = {D:g}; lower epsilon or raise tau (the run records the fraction)",
            UserWarning, stacklevel=4,
        )
        return
    tau_needed = epsilon / (4 * BLUR_FRACTION * D)
    dx_needed = np.sqrt(4 * BLUR_FRACTION * D * tau)
    bfm = ", or solver='bfm' (no blur)" if grid.ndim == 2 else ""
    raise PdeflowError(
        f"entropic JKO at tau = {tau:.3g} on cells of {min(grid.dx):.3g}: its blur eps = dx^2 = "
        f"{epsilon:.3g} adds a diffusion eps/(4 tau) = {fraction:.0%} of D = {D:g}, more than "
        f"{BLUR_FRACTION:.0%}; take tau >= {tau_needed:.3g}, or cells <= {dx_needed:.3g}{bfm}, "
        "or pass epsilon= to accept the blur"
    )


def _default(value, default):
    """``value``, or ``default`` where the option was not given (None)."""
    return default if value is None else value


class JKO(StepperBase):
    """Stepper of the JKO method: steps of ``tau``, the last one shortened to land on t_target.

    Attributes
    ----------
    t, steps : float, int
    engine : LagrangianJKO (1D), BackAndForthJKO (2D) or EntropicJKO (2D, 3D)
    options : dict
        The resolved options (stored with the run).
    """

    method = "jko"
    max_steps_hint = "raise tau"

    def __init__(self, problem, engine, options: dict):
        self.grid = problem.grid
        self.energy = problem.energy.on(self.grid)
        self.engine = engine
        self.options = options
        self.tau = options["tau"]
        self.entropic = isinstance(engine, EntropicJKO)
        self.bfm = isinstance(engine, BackAndForthJKO)
        self.on_grid = self.entropic or self.bfm  # state: the density (2D); else the quantile map
        self.rho = engine.density()
        self.last_iterations, self.last_residual = 0, 0.0
        self.total_iterations, self.max_iterations, self.max_residual = 0, 0, 0.0

    def begin(self, t_target: float) -> None:
        self.engine.forget()  # the steps from a snapshot depend on its state alone (resume)

    def step(self, remaining: float) -> float:
        """One JKO (or BDF2) step of ``tau``, or of ``remaining`` where that lands."""
        tau = land(self.tau, remaining)
        iterations, residual = self.engine.step(tau, self.t)
        self.last_iterations, self.last_residual = iterations, residual
        self.total_iterations += iterations
        self.max_iterations = max(self.max_iterations, iterations)
        self.max_residual = max(self.max_residual, residual)
        return tau

    def end(self, t_target: float) -> None:
        self.rho = self.engine.density()

    # -- resume -------------------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        """The step and iteration counts, and in 1D the quantile map X (JSON-able)."""
        out = {"steps": self.steps, "total_iterations": self.total_iterations,
               "max_iterations": self.max_iterations, "max_residual": self.max_residual,
               "last": [self.last_iterations, self.last_residual]}
        if not self.on_grid:
            out.update(self.engine.checkpoint())
        return out

    def restore(self, t: float, fields: dict, checkpoint: dict | None = None) -> bool:
        """Continue from a stored snapshot: 2D from its density, 1D from the quantile map of its
        checkpoint (False, start again, when there is none: the density alone does not hold X)."""
        if self.on_grid:
            self.engine.restore(fields["density"])
        elif checkpoint is None or "quantiles" not in checkpoint:
            return False
        else:
            self.engine.restore(checkpoint)
        self.t, self.rho = float(t), self.engine.density()
        if checkpoint is not None and "steps" in checkpoint:
            self.steps = int(checkpoint["steps"])
            self.total_iterations = int(checkpoint["total_iterations"])
            self.max_iterations = int(checkpoint["max_iterations"])
            self.max_residual = float(checkpoint["max_residual"])
            self.last_iterations, self.last_residual = checkpoint["last"]
        return True

    # -- output -------------------------------------------------------------------------------------
    def fields(self) -> dict:
        return {"density": self.rho}

    def diagnostics(self) -> dict:
        out = self.energy.diagnostics(self.rho)
        if self.entropic:
            out["sinkhorn_iterations"] = self.last_iterations
            out["marginal_error"] = self.last_residual
        elif self.bfm:
            out["bfm_iterations"] = self.last_iterations
            out["dual_increment"] = self.last_residual
            out["bfm_residual"] = self.engine.last_residual
        else:
            out["newton_iterations"] = self.last_iterations
            out["newton_residual"] = self.last_residual
            out["lagrangian_energy"] = self.engine.energy(self.engine.X)
        return out

    def summary(self) -> dict:
        kind = "sinkhorn" if self.entropic else "bfm" if self.bfm else "newton"
        out = {
            "tau": float(self.tau),
            "tolerance": float(self.options["tol"]),
            f"{kind}_iterations": int(self.total_iterations),
            f"max_{kind}_iterations": int(self.max_iterations),
            "max_residual": float(self.max_residual),
        }
        if self.entropic:
            eps = self.engine.epsilon
            out.update({
                "solver": "entropic",
                "epsilon": eps,
                "blur": float(np.sqrt(eps)),
                "entropic_diffusion": eps / (4 * self.tau),
            })
            internal = self.energy.internal
            if isinstance(internal, Entropy) and internal.D > 0:
                fraction = eps / (4 * self.tau) / internal.D
                out["entropic_diffusion_fraction"] = fraction
                out["blur_exceeds_threshold"] = bool(fraction > BLUR_FRACTION)
        elif self.bfm:
            out["solver"] = "bfm"
            out["floor_stops"] = int(self.engine.floor_stops)  # steps ended at the noise floor
        else:
            out.update({
                "n_quantiles": int(self.options["n_quantiles"]),
                "spacing": self.options["spacing"],
            })
        return out


METHOD = Method(
    name="jko", options=JKOOptions, build=_build, requires=unsupported,
    summary="JKO minimizing movements: quantile-map Newton (1D, BDF2 option), back-and-forth "
            "(2D), entropic (2D, 3D)",
)

"""Figures of trajectories: a few snapshots, the relative mass drift and the free energy.

The plot modules draw what the others compute: this one the trajectories (and the names and the
canvas every figure shares), :mod:`pdeflow.plot_compare` a comparison, :mod:`pdeflow.plot_sweep`
a sweep's table, :mod:`pdeflow.plot_network` the mean-field limit.

Figures are drawn on matplotlib's Agg canvas (no pyplot, no global backend change), so they
work headless and in notebooks alike. ``import pdeflow`` does not import matplotlib; this
module does, when first used.

- 1D: the density at a few times as curves, the exact solution dashed when given;
- 2D: images ``imshow(ρ.T, origin="lower", extent=...)`` (ρ is indexed ``[i_x, i_y]``, so the
  transpose puts x horizontally and y vertically), the exact solution as dashed contours;
- 3D: the same images of the middle z-slice;
- 4D (a kinetic run's phase space (θ1, θ2, v1, v2)): images of ρ = ∫ f dv on the θ plane;
- finite-element meshes: ``tripcolor`` of the nodal density on the triangles.

Particle runs are deposited on the run's grid by ``Trajectory.density`` (cloud in cell).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from .domain import is_mesh
from .errors import PdeflowError
from .trajectory import Trajectory

N_SNAPSHOTS = 4


def plot_trajectory(
    traj: Trajectory, path: str | os.PathLike | None = None, exact: Callable | None = None,
    title: str | None = None,
):
    """A figure of ``traj``: snapshots, relative mass drift and energy against time.

    Parameters
    ----------
    traj : Trajectory
    path : path, optional
        Save the figure there (PNG) when given.
    exact : callable, optional
        ``exact(t)`` -> density on ``traj.grid`` (dashed curves in 1D, dashed contours in 2D/3D).
    title : str, optional
        Figure title (default: method and status).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(1, traj)
    _draw_run(fig, traj, exact, title or _title(traj.method, traj))
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def plot_file(h5path: str | os.PathLike, out_png: str | os.PathLike | None = None):
    """A figure of every run in a pdeflow HDF5 file, one row per run.

    The exact solution is drawn when the file stores a spec (``pdeflow run``) whose problem has one.
    """
    from .spec import exact_from_file
    from .storage import load

    runs = load(h5path)
    exact = exact_from_file(h5path)
    fig = _figure(len(runs), next(iter(runs.values())))
    subfigs = np.atleast_1d(fig.subfigures(len(runs), 1)) if len(runs) > 1 else [fig]
    for sub, (name, traj) in zip(subfigs, runs.items(), strict=True):
        _draw_run(sub, traj, exact, _title(name, traj))
    if out_png is not None:
        fig.savefig(out_png, dpi=100)
    return fig


def _figure(rows: int, traj: Trajectory):
    one_d = traj.grid is not None and traj.grid.ndim == 1
    return new_figure(13, (3.4 if one_d else 6.2) * rows)


def new_figure(width: float, height: float):
    """An empty matplotlib Figure (inches, constrained layout) on the Agg canvas: every figure of
    the plot modules starts here."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


EQUATIONS = {  # problem name -> how a figure title names the equation
    "heat": "heat equation ∂t ρ = DΔρ",
    "fokker_planck": "Fokker–Planck ∂t ρ = ∇·(ρ∇V) + DΔρ",
    "ornstein_uhlenbeck": "Ornstein–Uhlenbeck ∂t ρ = ∇·(γ(x − c)ρ) + DΔρ",
    "porous_medium": "porous medium ∂t ρ = DΔρ^m",
    "keller_segel": "Keller–Segel ∂t ρ = DΔρ − χ∇·(ρ∇c), −Δc = ρ",
    "aggregation_diffusion": "aggregation–diffusion ∂t ρ = ∇·(ρ∇δE/δρ)",
    "mean_field_network": "mean-field two-layer network ∂t ρ = ∇·(ρ∇Ψ)",
}
METHODS = {"fv": "finite volumes", "particles": "particles", "jko": "JKO", "fem": "finite elements"}


def equation_name(traj: Trajectory) -> str:
    """The equation of ``traj`` in words (from the problem stored with it), or "" when unknown."""
    problem = traj.meta.get("problem")
    name = problem.get("name", "") if isinstance(problem, dict) else ""
    return EQUATIONS.get(name, name.replace("_", " "))


def axis_names(traj: Trajectory) -> list[str]:
    """Names of the grid axes: x, y, z, the network's parameters (a, w, b) or the phase-space
    axes of a kinetic problem (x, v)."""
    problem = traj.meta.get("problem")
    params = problem.get("parameters", {}) if isinstance(problem, dict) else {}
    names = (params.get("axes") or params.get("parameters")) if isinstance(params, dict) else None
    if isinstance(names, list | tuple) and names:
        return [str(n) for n in names]
    return ["x", "y", "z"]


def _title(name: str, traj: Trajectory) -> str:
    status = "not finished" if traj.status == "running" else traj.status
    method = METHODS.get(traj.method, traj.method)
    label = method if name == traj.method else f"{name} ({method})"
    extra = ""
    if "blowup_time" in traj.meta:
        extra = f" at t = {float(traj.meta['blowup_time']):.4g}"
    span = f", t = {traj.times[0]:.3g} … {traj.times[-1]:.3g}" if len(traj) else ""
    equation = equation_name(traj)
    return f"{equation + ': ' if equation else ''}{label}, {status}{extra}{span} ({len(traj)} snapshots)"


def _draw_run(fig, traj: Trajectory, exact, title: str) -> None:
    if len(traj) == 0:
        raise PdeflowError(f"the {traj.method} run has no snapshots to plot")
    fig.suptitle(title, fontsize="medium")
    picks = np.unique(np.linspace(0, len(traj) - 1, min(N_SNAPSHOTS, len(traj))).round().astype(int))
    ndim = traj.grid.ndim if traj.grid is not None else None
    if ndim == 1:
        axes = fig.subplots(1, 3)
        _curves(axes[0], traj, picks, exact)
        mass_ax, energy_ax = axes[1], axes[2]
    else:  # snapshots above, diagnostics below: each row lays out its own colorbars and labels
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1.0])
        for ax, i in zip(np.atleast_1d(top.subplots(1, len(picks))), picks, strict=True):
            _image(ax, traj, int(i), exact)
        mass_ax, energy_ax = bottom.subplots(1, 2)
    _diagnostic(mass_ax, traj, "mass", relative=True)
    if "risk" in traj.diagnostics:  # the network: its risk, on a log scale
        _diagnostic(energy_ax, traj, "risk", log=True)
    else:
        _diagnostic(energy_ax, traj, "energy")


def _curves(ax, traj: Trajectory, picks, exact) -> None:
    from matplotlib import colormaps

    x = traj.grid.axes[0]
    colors = colormaps["viridis"](np.linspace(0.0, 0.9, len(picks)))
    for color, i in zip(colors, picks, strict=True):
        t = float(traj.times[i])
        ax.plot(x, traj.density(int(i)), color=color, label=f"t = {t:.3g}")
        if exact is not None:
            ax.plot(x, exact(t), color="black", linestyle="--", linewidth=0.9)
    if exact is not None:
        ax.plot([], [], color="black", linestyle="--", linewidth=0.9, label="exact")
    ax.set_xlabel(axis_names(traj)[0])
    ax.set_ylabel(f"density ρ(t, {axis_names(traj)[0]})")
    ax.set_title("density at a few times", fontsize="medium")
    ax.legend(fontsize="small")


def _image(ax, traj: Trajectory, i: int, exact) -> None:
    grid = traj.grid
    rho = traj.density(i)
    t = float(traj.times[i])
    label = f"t = {t:.3g}"
    if is_mesh(grid):  # nodal values, triangulated
        x, y = grid.nodes[:, 0], grid.nodes[:, 1]
        im = ax.tripcolor(x, y, grid.triangles, rho, shading="gouraud", cmap="magma")
        if exact is not None and np.ptp(exact(t)) > 0:
            ax.tricontour(x, y, grid.triangles, exact(t), levels=4, colors="white",
                          linestyles="dashed", linewidths=0.8)
        ax.set_aspect("equal")
        ax.figure.colorbar(im, ax=ax, shrink=0.8, label="density ρ")
        ax.set_title(f"{label}, max ρ = {rho.max():.3g}", fontsize="medium")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        return
    if grid.ndim == 3:
        mid = grid.shape[2] // 2
        rho = rho[:, :, mid]
        label += f", {axis_names(traj)[2]} = {grid.axes[2][mid]:.3g}"
    if grid.ndim == 4:  # phase space (θ1, θ2, v1, v2): ρ = ∫ f dv on the θ plane
        rho = _theta_marginal(rho, grid)
    (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
    im = ax.imshow(rho.T, origin="lower", extent=(x0, x1, y0, y1), cmap="magma", aspect="equal")
    if exact is not None:
        ref = exact(t)
        ref = ref[:, :, grid.shape[2] // 2] if grid.ndim == 3 else ref
        ref = _theta_marginal(ref, grid) if grid.ndim == 4 else ref
        if np.ptp(ref) > 0:
            ax.contour(grid.axes[0], grid.axes[1], ref.T, levels=4, colors="white",
                       linestyles="dashed", linewidths=0.8)
    names = axis_names(traj)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label=f"density ρ({names[0]}, {names[1]})")
    ax.set_title(f"{label}, max ρ = {rho.max():.3g}", fontsize="medium")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])


def _theta_marginal(f: np.ndarray, grid) -> np.ndarray:
    """ρ(θ1, θ2) = ∬ f dv1 dv2 of a density on a 4D phase-space grid."""
    return f.sum(axis=(2, 3)) * grid.dx[2] * grid.dx[3]


def _diagnostic(ax, traj: Trajectory, name: str, relative: bool = False, log: bool = False) -> None:
    values = traj.diagnostics.get(name)
    if values is None or len(values) == 0:
        ax.text(0.5, 0.5, f"no {name} recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    values = np.asarray(values, dtype=float)
    if relative:
        values = (values - values[0]) / abs(values[0]) if values[0] != 0 else values - values[0]
        ax.set_title(f"relative mass drift (max {np.max(np.abs(values)):.2g})", fontsize="medium")
        peak = float(np.max(np.abs(values)))
        exponent = int(np.floor(np.log10(peak))) if 0 < peak < 1e-2 else 0
        values = values / 10.0**exponent  # the scale in the label, not in an offset text
        ax.set_ylabel("(M(t) − M(0)) / M(0)" + (f"  [×1e{exponent}]" if exponent else ""))
    else:
        ax.set_ylabel(DIAGNOSTICS.get(name, name))
        ax.set_title(f"{name}: {values[0]:.5g} → {values[-1]:.5g}", fontsize="medium")
    ax.plot(traj.times[: len(values)], values, marker="o", markersize=3)
    if log and np.all(values > 0):
        ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.grid(alpha=0.3)
    formatter = ax.yaxis.get_major_formatter()
    if hasattr(formatter, "set_useOffset"):  # the values themselves, not an offset above the axis
        formatter.set_useOffset(False)


DIAGNOSTICS = {"energy": "free energy E[ρ]", "risk": r"risk $R = \frac{1}{2n}\sum_k (f(x_k) - y_k)^2$"}

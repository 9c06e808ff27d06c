"""Figures of trajectories: a few snapshots, the relative mass drift and the free energy.

Figures are drawn on matplotlib's Agg canvas (no pyplot, no global backend change), so they
work headless and in notebooks alike. ``import pdeflow`` does not import matplotlib; this
module does, when first used.

- 1D: the density at a few times as curves, the exact solution dashed when given;
- 2D: images ``imshow(ρ.T, origin="lower", extent=...)`` (ρ is indexed ``[i_x, i_y]``, so the
  transpose puts x horizontally and y vertically), the exact solution as dashed contours;
- 3D: the same images of the middle z-slice;
- finite-element meshes: ``tripcolor`` of the nodal density on the triangles.

Particle runs are deposited on the run's grid by ``Trajectory.density`` (cloud in cell).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    one_d = traj.grid is not None and traj.grid.ndim == 1
    fig = Figure(figsize=(13, (3.4 if one_d else 6.2) * rows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _title(name: str, traj: Trajectory) -> str:
    status = "not finished" if traj.status == "running" else traj.status
    label = name if name == traj.method else f"{name} ({traj.method})"
    extra = ""
    if "blowup_time" in traj.meta:
        extra = f" at t = {float(traj.meta['blowup_time']):.4g}"
    return f"{label}: {status}{extra}, {len(traj)} snapshots"


def _draw_run(fig, traj: Trajectory, exact, title: str) -> None:
    if len(traj) == 0:
        raise PdeflowError(f"the {traj.method} run has no snapshots to plot")
    fig.suptitle(title)
    picks = np.unique(np.linspace(0, len(traj) - 1, min(N_SNAPSHOTS, len(traj))).round().astype(int))
    ndim = traj.grid.ndim if traj.grid is not None else None
    if ndim == 1:
        axes = fig.subplots(1, 3)
        _curves(axes[0], traj, picks, exact)
        mass_ax, energy_ax = axes[1], axes[2]
    else:
        grid_spec = fig.add_gridspec(2, 2 * N_SNAPSHOTS)
        for k, i in enumerate(picks):
            ax = fig.add_subplot(grid_spec[0, 2 * k: 2 * k + 2])
            _image(ax, traj, int(i), exact)
        mass_ax = fig.add_subplot(grid_spec[1, :N_SNAPSHOTS])
        energy_ax = fig.add_subplot(grid_spec[1, N_SNAPSHOTS:])
    _diagnostic(mass_ax, traj, "mass", relative=True)
    _diagnostic(energy_ax, traj, "energy")


def _density(traj: Trajectory, i: int) -> np.ndarray:
    """Density on the grid at snapshot i (particle runs: ``traj.density``, a cloud-in-cell deposit,
    or a weighted histogram where :mod:`pdeflow.deposit` is missing)."""
    if "density" in traj.frames or traj.grid is None:
        return traj.density(i)
    try:
        return traj.density(i)
    except ImportError:
        pass
    grid = traj.grid
    x = np.asarray(traj.positions(i)).reshape(-1, grid.ndim)
    w = np.full(len(x), 1.0 / len(x)) if traj.weights is None else np.asarray(traj.weights)
    edges = [np.linspace(a, b, n + 1) for (a, b), n in zip(grid.bounds, grid.shape, strict=True)]
    counts, _ = np.histogramdd(x, bins=edges, weights=w)
    return counts / grid.cell_volume


def _curves(ax, traj: Trajectory, picks, exact) -> None:
    from matplotlib import colormaps

    x = traj.grid.axes[0]
    colors = colormaps["viridis"](np.linspace(0.0, 0.9, len(picks)))
    for color, i in zip(colors, picks, strict=True):
        t = float(traj.times[i])
        ax.plot(x, _density(traj, int(i)), color=color, label=f"t = {t:.3g}")
        if exact is not None:
            ax.plot(x, exact(t), color="black", linestyle="--", linewidth=0.9)
    if exact is not None:
        ax.plot([], [], color="black", linestyle="--", linewidth=0.9, label="exact")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")


def _image(ax, traj: Trajectory, i: int, exact) -> None:
    grid = traj.grid
    rho = _density(traj, i)
    t = float(traj.times[i])
    label = f"t = {t:.3g}"
    if hasattr(grid, "triangles"):  # a finite-element mesh: nodal values, triangulated
        x, y = grid.nodes[:, 0], grid.nodes[:, 1]
        im = ax.tripcolor(x, y, grid.triangles, rho, shading="gouraud", cmap="magma")
        if exact is not None and np.ptp(exact(t)) > 0:
            ax.tricontour(x, y, grid.triangles, exact(t), levels=4, colors="white",
                          linestyles="dashed", linewidths=0.8)
        ax.set_aspect("equal")
        ax.figure.colorbar(im, ax=ax, shrink=0.7)
        ax.set_title(f"{label}\nmax {rho.max():.3g}", fontsize="small")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        return
    if grid.ndim == 3:
        mid = grid.shape[2] // 2
        rho = rho[:, :, mid]
        label += f", z = {grid.axes[2][mid]:.3g}"
    (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
    im = ax.imshow(rho.T, origin="lower", extent=(x0, x1, y0, y1), cmap="magma", aspect="equal")
    if exact is not None:
        ref = exact(t)
        ref = ref[:, :, grid.shape[2] // 2] if grid.ndim == 3 else ref
        if np.ptp(ref) > 0:
            ax.contour(grid.axes[0], grid.axes[1], ref.T, levels=4, colors="white",
                       linestyles="dashed", linewidths=0.8)
    ax.figure.colorbar(im, ax=ax, shrink=0.7)
    ax.set_title(f"{label}\nmax {rho.max():.3g}", fontsize="small")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _diagnostic(ax, traj: Trajectory, name: str, relative: bool = False) -> None:
    values = traj.diagnostics.get(name)
    if values is None or len(values) == 0:
        ax.text(0.5, 0.5, f"no {name} recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    values = np.asarray(values, dtype=float)
    if relative:
        values = (values - values[0]) / abs(values[0]) if values[0] != 0 else values - values[0]
        ax.set_ylabel("(M(t) − M(0)) / M(0)")
        ax.set_title(f"mass drift (max {np.max(np.abs(values)):.2g})", fontsize="small")
    else:
        ax.set_ylabel(name)
        ax.set_title(f"{name}: {values[0]:.5g} → {values[-1]:.5g}", fontsize="small")
    ax.plot(traj.times[: len(values)], values, marker="o", markersize=3)
    ax.set_xlabel("t")
    ax.grid(alpha=0.3)

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
    ax.set_xlabel(axis_names(traj)[0])
    ax.set_ylabel(f"density ρ(t, {axis_names(traj)[0]})")
    ax.set_title("density at a few times", fontsize="medium")
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
        ax.figure.colorbar(im, ax=ax, shrink=0.8, label="density ρ")
        ax.set_title(f"{label}, max ρ = {rho.max():.3g}", fontsize="medium")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        return
    if grid.ndim == 3:
        mid = grid.shape[2] // 2
        rho = rho[:, :, mid]
        label += f", {axis_names(traj)[2]} = {grid.axes[2][mid]:.3g}"
    (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
    im = ax.imshow(rho.T, origin="lower", extent=(x0, x1, y0, y1), cmap="magma", aspect="equal")
    if exact is not None:
        ref = exact(t)
        ref = ref[:, :, grid.shape[2] // 2] if grid.ndim == 3 else ref
        if np.ptp(ref) > 0:
            ax.contour(grid.axes[0], grid.axes[1], ref.T, levels=4, colors="white",
                       linestyles="dashed", linewidths=0.8)
    names = axis_names(traj)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label=f"density ρ({names[0]}, {names[1]})")
    ax.set_title(f"{label}, max ρ = {rho.max():.3g}", fontsize="medium")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])


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


def plot_comparison(report, path: str | os.PathLike | None = None, n_times: int = 3):
    """The figure of a :class:`~pdeflow.compare.Comparison` (``report.plot``): the densities of
    every run at up to ``n_times`` times above; W2, L1 and the energy of every run against time
    below. Curves differ by colour, marker and line style, so that one on top of another shows."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    times = report.times
    picks = np.unique(np.linspace(0, len(times) - 1, min(n_times, len(times))).astype(int))
    fig = Figure(figsize=(13, 8.4), layout="constrained")
    FigureCanvasAgg(fig)
    equation = f"{report.equation}: " if getattr(report, "equation", "") else ""
    import textwrap

    fig.suptitle(f"{equation}{', '.join(report.runs)} compared, t = {times[0]:.3g} … {times[-1]:.3g}",
                 fontsize="medium")
    fig.supxlabel("\n".join(textwrap.wrap(report.method, 170)), fontsize="x-small")
    top, bottom = fig.subfigures(2, 1)
    grid, names = report.grid, report.axis_names
    styles = [dict(color=f"C{k}", marker=m, linestyle=ls, markerfacecolor="none")
              for k, (m, ls) in enumerate(zip("osD^v<>", ["-", "--", ":", "-.", "-", "--", ":"],
                                              strict=True))]
    for ax, ti in zip(np.atleast_1d(top.subplots(1, len(picks))), picks, strict=True):
        first = next(iter(report.densities.values()))[ti]
        levels = np.linspace(0.0, first.max(), 7)[1:]  # the same contour levels for every run
        for k, (label, frames) in enumerate(report.densities.items()):
            style = styles[k % len(styles)]
            if grid.ndim == 1:
                ax.plot(grid.axes[0], frames[ti], label=label, color=style["color"],
                        linestyle=style["linestyle"], lw=1.4,
                        drawstyle="steps-mid" if label.startswith("particles") else "default")
            else:  # contours of the (middle slice of the) density
                index = (slice(None), slice(None), *[n // 2 for n in grid.shape[2:]])
                ax.contour(*grid.axes[:2], frames[ti][index].T, levels=levels, linewidths=1.0,
                           colors=[style["color"]], linestyles=style["linestyle"])
                ax.plot([], [], color=style["color"], linestyle=style["linestyle"], label=label)
        ax.set_title(f"density, t = {times[ti]:.3g}", fontsize="medium")
        ax.set_xlabel(names[0])
        ax.set_ylabel(f"density ρ(t, {names[0]})" if grid.ndim == 1 else names[1])
        if grid.ndim > 1:
            ax.set_aspect("equal")
        ax.legend(fontsize="small")
    w2_ax, l1_ax, energy_ax = bottom.subplots(1, 3)
    for ax, key, ylabel in ((w2_ax, "w2", "W₂ distance"), (l1_ax, "l1", "L¹ distance ∫|ρₐ − ρ_b|")):
        for pi, name in enumerate(report.pair_names):
            values = report.metrics[key][:, pi]
            style = styles[pi % len(styles)]
            ax.plot(times, values, label=name, markersize=5, **style)
        positive = report.metrics[key][report.metrics[key] > 0]
        if positive.size and positive.max() > 30 * positive.min():  # over decades: log scale
            ax.set_yscale("log")
        else:
            ax.yaxis.get_major_formatter().set_useOffset(False)
        ax.set(xlabel="t", ylabel=ylabel)
        ax.set_title(f"{key.upper().replace('2', '₂').replace('1', '¹')} between the runs",
                     fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ri, run in enumerate(report.runs):
        energy_ax.plot(times, report.energies[:, ri], label=run, markersize=4, **styles[ri % len(styles)])
    energy_ax.set(xlabel="t", ylabel="free energy E[ρ]")
    energy_ax.set_title("energy of each run", fontsize="medium")
    energy_ax.yaxis.get_major_formatter().set_useOffset(False)
    energy_ax.grid(alpha=0.3)
    energy_ax.legend(fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


SUMMARY_LABELS = {  # a sweep summary: (panel title, y label)
    "final_time": ("final time (t_end, or the blow-up time)", "t"),
    "mass_drift": ("relative mass drift", "max |M(t) − M(0)| / M(0)"),
    "final_energy": ("free energy at the final time", "E[ρ]"),
    "final_second_moment": ("second moment at the final time", "∫|x|² ρ dx"),
    "blowup_threshold": ("max ρ that stops a run (blow-up threshold)", "ρ"),
    "wall_time": ("wall time of each run", "seconds"),
}
BLOWUP_TIMES = {"blowup_time": "threshold crossing", "blowup_time_max_density": "1/max ρ → 0",
                "blowup_time_second_moment": "M₂ → 0 (upper bound)"}


def plot_sweep(ds, path: str | os.PathLike | None = None):
    """A figure of a sweep's table (:func:`pdeflow.sweep`): the fraction of runs that blew up, the
    blow-up times (the grid-dependent threshold crossing and the two extrapolations of
    :mod:`pdeflow.blowup`), and every other summary against the first swept parameter, one line
    per value of the others."""
    import itertools
    import json
    import math

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    first = next(iter(json.loads(ds.attrs["parameters"])), "seed")
    along = "run" if ds.attrs["mode"] == "zip" else first
    x = ds[first].values
    numeric = np.issubdtype(x.dtype, np.number)
    xs = x if numeric else np.arange(len(x))
    floats = [v for v in ds.data_vars if ds[v].dtype.kind == "f" and ds[v].notnull().any()]
    blowups = [v for v in BLOWUP_TIMES if v in floats]
    panels = ["blown up"] + (["blow-up time"] if blowups else []) + [v for v in floats if v not in blowups]
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.6 * cols, 3.4 * rows + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    spec = json.loads(ds.attrs.get("spec", "{}"))
    equation = EQUATIONS.get(spec.get("equation", ""), spec.get("equation", ""))
    t_end = spec.get("run", {}).get("t_end")
    fig.suptitle(f"sweep of {equation or 'a spec'} over {', '.join(json.loads(ds.attrs['parameters']))}"
                 + (f", up to t = {t_end:g}" if t_end else ""), fontsize="medium")

    def curves(name):
        y = ds[name].transpose(along, ...).values.reshape(len(x), -1)
        others = [d for d in ds[name].dims if d != along]
        labels = [", ".join(f"{d} = {v}" for d, v in zip(others, combo, strict=True))
                  for combo in itertools.product(*(ds[d].values for d in others))]
        return y, labels

    for i, name in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        if name == "blown up":
            y = (ds.status == "blow-up").mean([d for d in ds.status.dims if d != along]).values
            ax.plot(xs, y, "o-", ms=4)
            ax.set(ylim=(-0.05, 1.05), ylabel="fraction of runs")
            ax.set_title("fraction of runs that blew up", fontsize="medium")
        elif name == "blow-up time":
            for k, (key, what) in enumerate(BLOWUP_TIMES.items()):
                if key in blowups:
                    y, labels = curves(key)
                    for j, column in enumerate(y.T):
                        suffix = f" ({labels[j]})" if len(labels) > 1 and labels[j] else ""
                        ax.plot(xs, column, marker="osD"[k], linestyle=["-", "--", ":"][k],
                                color=f"C{k}" if len(labels) == 1 else f"C{(3 * j + k) % 10}",
                                ms=5, markerfacecolor="none", label=what + suffix)
            ax.set(ylabel="t")
            ax.set_title("blow-up time", fontsize="medium")
            ax.legend(fontsize="x-small")
        else:
            y, labels = curves(name)
            title, ylabel = SUMMARY_LABELS.get(name, (name.replace("_", " "), name))
            peak = float(np.nanmax(np.abs(y))) if np.isfinite(y).any() else 0.0
            exponent = int(np.floor(np.log10(peak))) if 0 < peak < 1e-2 else 0
            if exponent:  # the scale in the label, not in a text over the title
                y, ylabel = y / 10.0**exponent, f"{ylabel}  [×1e{exponent}]"
            lines = ax.plot(xs, y, "o-", ms=4)
            if 1 < len(lines) <= 8:
                ax.legend(lines, labels, fontsize="x-small")
            ax.set(ylabel=ylabel)
            ax.set_title(title, fontsize="medium")
            ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.set_xlabel(first)
        if not numeric or len(x) <= 8:
            ax.set_xticks(xs, [f"{v:g}" if numeric else str(v) for v in x],
                          rotation=0 if numeric else 30)
        ax.grid(alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig

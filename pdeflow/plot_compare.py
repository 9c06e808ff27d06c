"""The figure of a comparison (:func:`pdeflow.compare`, ``Comparison.plot``): the runs'
densities overlaid at a few times, and W2, L1 and the energies against time."""

from __future__ import annotations

import os
import textwrap

import numpy as np

from .plot import new_figure


def plot_comparison(report, path: str | os.PathLike | None = None, n_times: int = 3):
    """The figure of a :class:`~pdeflow.compare.Comparison` (``report.plot``): the densities of
    every run at up to ``n_times`` times above; W2, L1 and the energy of every run against time
    below. Curves differ by colour, marker and line style, so that one on top of another shows."""
    times = report.times
    picks = np.unique(np.linspace(0, len(times) - 1, min(n_times, len(times))).astype(int))
    fig = new_figure(13, 8.4)
    equation = f"{report.equation}: " if getattr(report, "equation", "") else ""
    fig.suptitle(f"{equation}{', '.join(report.runs)} compared, t = {times[0]:.3g} … {times[-1]:.3g}",
                 fontsize="medium")
    fig.supxlabel("\n".join(textwrap.wrap(report.method, 170)), fontsize="x-small")
    top, bottom = fig.subfigures(2, 1)
    grid, names = report.grid, report.axis_names
    styles = [dict(color=f"C{k}", marker=m, linestyle=ls, markerfacecolor="none")
              for k, (m, ls) in enumerate(zip("osD^v<>", ["-", "--", ":", "-.", "-", "--", ":"],
                                              strict=True))]
    for ax, ti in zip(np.atleast_1d(top.subplots(1, len(picks))), picks, strict=True):
        first = _plane(next(iter(report.densities.values()))[ti], grid)
        levels = np.linspace(0.0, first.max(), 7)[1:]  # the same contour levels for every run
        for k, (label, frames) in enumerate(report.densities.items()):
            style = styles[k % len(styles)]
            if grid.ndim == 1:
                ax.plot(grid.axes[0], frames[ti], label=label, color=style["color"],
                        linestyle=style["linestyle"], lw=1.4,
                        drawstyle="steps-mid" if label.startswith("particles") else "default")
            else:  # contours of the density on the first two axes
                ax.contour(*grid.axes[:2], _plane(frames[ti], grid).T, levels=levels, linewidths=1.0,
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


def _plane(rho: np.ndarray, grid) -> np.ndarray:
    """What a panel draws of a density: itself in 1D and 2D, the middle z-slice in 3D, and on a
    4D phase space (θ1, θ2, v1, v2) the θ-marginal ρ = ∬ f dv1 dv2."""
    if grid.ndim == 4:
        return rho.sum(axis=(2, 3)) * grid.dx[2] * grid.dx[3]
    return rho[:, :, grid.shape[2] // 2] if grid.ndim == 3 else rho

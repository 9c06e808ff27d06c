"""The figure of a sweep's table (:func:`pdeflow.sweep`): blow-ups, blow-up times and every
summary against the first swept parameter."""

from __future__ import annotations

import itertools
import json
import math
import os

import numpy as np

from .plot import EQUATIONS, new_figure

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
    fig = new_figure(4.6 * cols, 3.4 * rows + 0.4)
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

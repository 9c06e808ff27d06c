"""The figure of :func:`pdeflow.network.mean_field_limit`: width-m gradient descent against the
mean-field PDE, W2 and risk gaps against m."""

from __future__ import annotations

import numpy as np

from .plot import new_figure


def plot_mean_field_limit(result: dict, path=None):
    """W2(ρ_m, ρ) and the risk gap against m (log-log, fitted slopes, the rates log m/√m and
    m^{−1/2}), and the risk curves. Returns the matplotlib Figure, saved when ``path`` is given."""
    m = result["widths"]
    fig = new_figure(13.5, 3.9)
    ax_w2, ax_gap, ax_risk = fig.subplots(1, 3)
    for ax, key, label in ((ax_w2, "w2", "W2(neurons, grid density), t = T"),
                           (ax_gap, "risk_gap", "max_t |R_m(t) − R(t)|")):
        ax.errorbar(m, result[key], yerr=result[f"{key}_std"], marker="o", capsize=3,
                    label=f"{label}; slope {result['slope_w2' if key == 'w2' else 'slope_risk']:.2f}")
        rate = np.log(m) / np.sqrt(m) if key == "w2" else 1.0 / np.sqrt(m)  # 2D Gaussian samples
        fit = np.exp(np.mean(np.log(result[key] / rate)))  # the rate's constant, fitted in log
        ax.plot(m, fit * rate, "k:", label="C log m / √m" if key == "w2" else "C m^(-1/2)")
        ax.set(xscale="log", yscale="log", xlabel="width m")
        ax.legend(fontsize="small")
    ax_w2.plot(m, result["w2_initial"], marker="s", ls="--",
               label=f"t = 0 (sampling); slope {result['slope_w2_initial']:.2f}")
    ax_w2.legend(fontsize="small")
    ax_w2.set_title("mean-field limit: neurons vs PDE")
    ax_gap.set_title("risk gap")
    times = result["times"]
    for a, width in enumerate(m):
        ax_risk.plot(times, result["risk"][a].mean(axis=0), label=f"m = {width}", lw=1.2)
    ax_risk.plot(times, result["risk_reference"], "k--", label="grid (PDE)")
    ax_risk.set(yscale="log", xlabel="t (learning rate × steps)", title="risk")
    ax_risk.legend(fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

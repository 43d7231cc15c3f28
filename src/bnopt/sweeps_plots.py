"""Figures of the lr-sweep section ([C] Fig. 3): loss at the end of epoch 1 against the learning rate."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from bnopt import plots, results, sweeps

SEP_LINESTYLES = ("-", "--", ":", "-.")  # one per lr_a of separate-lr BNGD


def _curve_style(method: str, k_sep: int) -> dict[str, object]:
    """Colour from `plots.METHOD_STYLE`; separate-lr curves told apart by line style, shared-lr BNGD by dots."""
    return {"color": plots.METHOD_STYLE[method]["color"],
            "linestyle": SEP_LINESTYLES[k_sep % len(SEP_LINESTYLES)] if method == "bngd_sep" else "-",
            **({"marker": "o", "markersize": 3.5} if method == "bngd" else {})}


def draw_panel(ax: plt.Axes, res: results.Result, name: str) -> None:
    """One panel: mean over seeds (line), min-max over seeds (band), chance level (dotted), diverged lrs as crosses."""
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_title(sweeps.PANEL_LABEL.get(name, name))
    if not sweeps.is_run(res):
        ax.text(0.5, 0.5, f"{sweeps.PANEL_LABEL.get(name, name)}:\n{sweeps.NOT_RUN}", ha="center", va="center",
                transform=ax.transAxes, fontsize=10, color="0.3")
        ax.set_xlim(1e-3, 1e3)
        ax.set_yticks([])
        return
    lrs, loss, diverged = res["lrs"], res["final_loss"], res["diverged"]
    ax.set_yscale("log")
    crosses = []
    k_sep = 0
    for c, (method, lr_a) in enumerate(zip(sweeps.curve_labels(res), res["curve_lr_a"])):
        style = _curve_style(method, k_sep)
        k_sep += method == "bngd_sep"
        ok = ~diverged[c].any(-1)
        mean = np.where(ok, loss[c].mean(-1), np.nan)
        ax.plot(lrs, mean, label=sweeps.curve_name(method, float(lr_a)), **style)
        ax.fill_between(lrs, np.where(ok, loss[c].min(-1), np.nan), np.where(ok, loss[c].max(-1), np.nan),
                        color=style["color"], alpha=0.15, linewidth=0)
        crosses.append((lrs[~ok], method, c))
    ax.axhline(sweeps.panel_chance(res), color="0.4", linestyle=":", linewidth=1, label="chance level")
    top = plots.diverged_level(ax)
    first = True
    for x, method, c in crosses:
        if len(x):
            plots.mark_diverged(ax, x, np.full(len(x), top * (1.25 ** c)), method,
                                label="diverged" if first else None)
            first = False
    ax.set_ylabel("loss at end of epoch 1")


def plot_sweeps(panels: dict[str, results.Result]) -> plt.Figure:
    """[C] Fig. 3: one panel per dataset, in the paper's order."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (name, res) in zip(axes[0], panels.items()):
        draw_panel(ax, res, name)
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if labels:  # none when no panel was run (every dataset absent)
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6))
    return fig

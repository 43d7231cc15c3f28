"""Figures of the DLN seed study (`dln_seeds`): every seed shown, under each loss convention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from bnopt import dln_seeds, ics, landscape, plots, results

Runs = Mapping[str, results.Result]
METHOD = {"standard": "standard", "bn": "bn", "none": "standard"}


def _jitter(n: int, seed: int = 0) -> np.ndarray:
    """Small fixed horizontal offsets so that seeds with equal values stay visible."""
    return np.random.default_rng(seed).uniform(-0.12, 0.12, n)


def _panel_label(ax: plt.Axes, text: str) -> None:
    """A short label in a panel's top-left corner."""
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", ha="left", fontsize=9,
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1})


def _strip(ax: plt.Axes, x: float, values: np.ndarray, method: str, hollow: np.ndarray | None = None) -> None:
    """One dot per seed at x (hollow where the seed was not testable) and a bar at their median."""
    st = plots.style(method)
    values = np.asarray(values, dtype=float)
    hollow = np.zeros(len(values), bool) if hollow is None else hollow
    xs = x + _jitter(len(values), int(x * 10))
    ax.scatter(xs[~hollow], values[~hollow], s=18, color=st["color"], zorder=3)
    ax.scatter(xs[hollow], values[hollow], s=18, facecolors="none", edgecolors=st["color"], zorder=3)
    if np.isfinite(values).any():
        ax.plot([x - 0.2, x + 0.2], [np.nanmedian(values)] * 2, color="k", lw=1.5, zorder=4)


def ics_seeds_figure(study: Runs, layers: Sequence[int], readings: Sequence[str]) -> plt.Figure:
    """S4 over seeds: each seed's median cos(G, G') per layer, standard against BN, per reading."""
    fig, axes = plt.subplots(1, len(readings), figsize=(4.2 * len(readings), 3.4), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], readings):
        _, cos = dln_seeds.s4_outcomes(study, c, layers)
        for i, k in enumerate(layers):
            for j, m in enumerate(("standard", "bn")):
                _strip(ax, 2 * i + j, cos[f"{m} #{k}"], m)
        ax.axhspan(-ics.UNCORRELATED, ics.UNCORRELATED, color="0.9", zorder=0, label="|cos| < 0.5")
        ax.set_xticks(range(2 * len(layers)), [f"#{k}\n{lab}" for k in layers for lab in ("standard", "BN")])
        ax.set_ylim(-1.05, 1.05)
        _panel_label(ax, dln_seeds.LABELS[c])
    axes[0, 0].set_ylabel("median cos(G, G') of a seed")
    return fig


def smoothness_seeds_figure(study: Runs, readings: Sequence[str]) -> plt.Figure:
    """S5–S7 over seeds: each seed's standard / BN ratio of the claim's median measure (log scale), per reading."""
    fig, axes = plt.subplots(1, len(readings), figsize=(4.2 * len(readings), 3.4), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], readings):
        for i, cid in enumerate(dln_seeds.SMOOTHNESS):
            outcomes, ratios = dln_seeds.smoothness_outcomes(study, c, cid)
            hollow = np.array([h is None for _, h in outcomes])
            _strip(ax, i, np.clip(ratios, 1e-6, 1e12), "bn", hollow)
        ax.axhline(landscape.SMOOTHER_FACTOR, color="k", lw=0.8, ls="--", label=f"{landscape.SMOOTHER_FACTOR:g}× (threshold)")
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        plots.log_scale(ax)
        ax.set_xticks(range(3), ["S5 loss band", "S6 gradient\nchange (early)", "S7 effective β"])
        _panel_label(ax, dln_seeds.LABELS[c])
    axes[0, 0].set_ylabel("standard / BN, one dot per seed")
    axes[0, -1].legend(loc="lower right", fontsize=8)
    return fig


def edge_figure(probed: Runs, ics_runs: Runs, div: results.Result, readings: Sequence[str]) -> plt.Figure:
    """Edge of stability per reading: lr·λ_max/2 over training, how often the gradient flips, and (per loss
    convention, float64) where the plain DLN diverges."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    styles = {c: ls for c, ls in zip(readings, ("-", "--", ":", "-."))}
    conventions = [r for r in readings if dln_seeds.engine_of(r) == "moments"]
    for c in readings:
        for norm in ("none", "bn"):
            eos = dln_seeds.edge_of_stability(probed, c, norm)
            for i, row in enumerate(eos["lr_lambda_half"]):
                label = f"{plots.METHOD_STYLE[METHOD[norm]]['label']}, {dln_seeds.short_label(c)}" if i == 0 else None
                axes[0].plot(eos["steps"], row, ls=styles[c], lw=0.8, alpha=0.7, **plots.style(METHOD[norm], label=label))
    axes[0].axhline(1.0, color="k", lw=0.8)
    axes[0].set(xlabel="step", ylabel="lr · λ_max / 2 (1 = edge of stability)", yscale="log")
    axes[0].legend(fontsize=7)
    flipped = [r for r in readings if dln_seeds.flip_share(ics_runs, r, "bn").size]  # readings with ICS runs
    for i, c in enumerate(flipped):
        for j, m in enumerate(("standard", "bn")):
            _strip(axes[1], 2 * i + j, dln_seeds.flip_share(ics_runs, c, m), m)
    axes[1].set_xticks(range(2 * len(flipped)),
                       [f"{lab}\n{dln_seeds.short_label(c)}" for c in flipped for lab in ("standard", "BN")], fontsize=7)
    axes[1].set(ylabel="share of step pairs with cos(G_t, G_t+1) < 0", ylim=(-0.05, 1.05))
    for i, c in enumerate(conventions):
        _strip(axes[2], i, dln_seeds.divergence_factors(div, c), "standard")
    axes[2].axhline(dln_seeds.PAPER_PROBE_FACTOR, color="k", lw=0.8, ls="--", label="30 × lr ([S] App. A.2.2)")
    axes[2].set_xticks(range(len(conventions)), [dln_seeds.LABELS[c] for c in conventions], fontsize=8)
    axes[2].set(ylabel="plain DLN diverges at lr × …", yscale="log")
    axes[2].legend(fontsize=8)
    return fig

"""Figures of the VGG runs over seeds (`vgg_seeds`): every seed shown beside its median."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from bnopt import ics, ics_plots, landscape, plots, results, vgg_seeds
from bnopt.dln_seeds_plots import _panel_label, _strip

Runs = Mapping[str, results.Result]


def accuracy_seeds_figure(runs: Runs, plan: Sequence[tuple[str, float]]) -> plt.Figure:
    """Final training accuracy of every seed per (method, lr) of the ICS page, with the gate and chance."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    labels = []
    for i, (method, lr) in enumerate(plan):
        found = vgg_seeds.seeds_of(runs, ics.run_key("vgg", method, lr))
        values = np.asarray([ics.final_train_accuracy(r.arrays) for r in found.values() if results.is_run(r)])
        net = "standard" if method in ics_plots.NOISE_LINESTYLE else method  # the noise without BN: standard colour
        _strip(ax, i, values, net)
        labels.append(f"{ics_plots.method_style(method)['label']}\nlr {lr:g} ({len(values)})")
    ax.axhline(vgg_seeds.TRAINS_ACCURACY, color="k", ls="--", lw=1, label=f"gate ({vgg_seeds.TRAINS_ACCURACY:.0%})")
    ax.axhline(ics.CHANCE, color="0.5", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(plan)), labels, fontsize=8)
    ax.set_ylabel("final training accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def smoothness_seeds_figure(runs: Runs) -> plt.Figure:
    """S5–S7 on the VGG: each seed's standard / BN ratio (hollow where the gate leaves the seed out)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    seeds = vgg_seeds.per_seed(runs, {"standard": "vgg-none", "bn": "vgg-bn"})
    for i, cid in enumerate(("S5", "S6", "S7")):
        ratios = np.asarray([landscape.vgg_ratio(r, cid)[0] for r in seeds.values()])
        gated = np.asarray([not vgg_seeds.trains(r["standard"].arrays) for r in seeds.values()], bool)
        _strip(ax, i, ratios, "standard", gated)
    ax.axhline(landscape.SMOOTHER_FACTOR, color="k", ls="--", lw=1)
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    plots.log_scale(ax)
    ax.set_xticks(range(3), ["S5 loss band", "S6 gradient change\n(first 10 %)", "S7 effective β"], fontsize=8)
    ax.set_ylabel("standard / BN, per seed")
    _panel_label(ax, f"VGG, {len(seeds)} seed(s)")
    return fig

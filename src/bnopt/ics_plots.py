"""Figures of the ICS page ([S] Fig. 1, 2, 3, 7, 8) drawn from stored results of `ics.run_all`.

Every function takes the `run_all` dict and returns a matplotlib Figure; nothing is computed here
beyond smoothing for display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from bnopt import ics, plots, results

Results = Mapping[str, results.Result]
LABEL = {"standard": "standard", "bn": "BN", "noisy_bn": "noisy BN", "standard_noise": "standard + noise",
         "standard_noise_scaled": "standard + scaled noise"}
NOISE_LINESTYLE = {"standard_noise": "-.", "standard_noise_scaled": ":"}  # the noise without BN: standard colour
LR_LINESTYLE = ("-", "--", ":")


def method_style(method: str, **overrides: object) -> dict[str, object]:
    """Colour and label of a method; the noise without BN is the standard colour, dash-dotted (scaled: dotted)."""
    noise = NOISE_LINESTYLE.get(method)
    base = {"label": LABEL[method], **({"linestyle": noise} if noise else {})}
    return plots.style("standard" if noise else method, **{**base, **overrides})


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over `window` points (shorter at the start), for noisy batch curves."""
    y = np.asarray(y, dtype=float)
    if window <= 1 or y.size == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, y.size + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _window(r: results.Result) -> int:
    """Smoothing window: about 1/30 of the run's planned steps."""
    return max(1, int(r["planned_steps"]) // 30)


def panel_label(ax: plt.Axes, text: str) -> None:
    """A short label in a panel's top-left corner (captions carry the description; no titles)."""
    ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=9,
            bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1})


def _mark_if_diverged(ax: plt.Axes, r: results.Result, method: str) -> None:
    """A cross at the divergence step, just above the data."""
    if bool(r["diverged"]):
        plots.mark_diverged(ax, [int(r["diverged_at"])], [plots.diverged_level(ax)], method,
                            label=f"{LABEL[method]} diverged")


def _not_run(res: Results, keys: Sequence[str], width: float) -> plt.Figure | None:
    """A 'not run' figure when any of the runs `keys` was not made (data absent), else None."""
    missing = [res[k] for k in keys if not results.is_run(res[k])]
    return plots.not_run_figure(results.not_run_reason(missing), width) if missing else None


def _made(res: Results, runs: Sequence[tuple[str, str, float]]) -> tuple[list[tuple[str, str, float]], str]:
    """The runs that were made, and a note naming the others and why ('' when all were made)."""
    made = [r for r in runs if results.is_run(res[ics.run_key(*r)])]
    missing = [r for r in runs if r not in made]
    if not missing:
        return made, ""
    reason = results.not_run_reason([res[ics.run_key(*r)] for r in missing])
    if not made:  # nothing to draw: the figure says why, as for a whole page without its data
        return made, reason
    return made, f"not run: {', '.join(f'{LABEL[m]} (lr {lr:g})' for _, m, lr in missing)}: {reason}"


def _note(fig: plt.Figure, note: str) -> None:
    """A line under the figure saying which of its runs were not made."""
    if note:
        fig.text(0.01, -0.02, plots._wrap(note, 140), ha="left", va="top", fontsize=8, color="0.3")


def training_curves(res: Results, runs: Sequence[tuple[str, str, float]], *, test: bool = True,
                    width: float = 9.0) -> plt.Figure:
    """Smoothed training batch accuracy and test accuracy against steps of (model, method, lr) runs."""
    runs, note = _made(res, runs)
    if not runs:
        return plots.not_run_figure(note, width)
    fig, axes = plt.subplots(1, 2 if test else 1, figsize=(width, 3.4), squeeze=False)
    lrs = list(dict.fromkeys(lr for _, _, lr in runs))  # first lr solid, second dashed, ...
    for model_id, method, lr in runs:
        r = res[ics.run_key(model_id, method, lr)]
        ls = LR_LINESTYLE[lrs.index(lr) % len(LR_LINESTYLE)] if len(lrs) > 1 else None
        label = LABEL[method] + (f", lr {lr:g}" if len(lrs) > 1 else "")
        kw = method_style(method, label=label, **({"linestyle": ls} if ls else {}))
        axes[0, 0].plot(r["steps"], smooth(r["accuracy"], _window(r)), **kw)
        if test:
            axes[0, 1].plot(r["eval_steps"], r["test_accuracy"], marker=".", **kw)
    for ax, what in zip(axes[0], ("training accuracy", "test accuracy")):
        ax.set(xlabel="step", ylabel=what)
        ax.axhline(ics.CHANCE, color="0.6", lw=0.8, ls=":")
    for model_id, method, lr in runs:
        _mark_if_diverged(axes[0, 0], res[ics.run_key(model_id, method, lr)], method)
    _legend_above(fig, axes[0, 0])
    _note(fig, note)
    return fig


def _bands(ax: plt.Axes, r: results.Result, layer: int, color: str) -> None:
    """Quantile bands (5–95 %, 15–85 %) and median of one unit's activation over recorded steps."""
    steps, q = r["act_steps"], r[f"act_layer{layer}_quantiles"]
    levels = list(np.round(r["act_quantile_levels"], 4))
    col = {lv: q[:, i] for i, lv in enumerate(levels)}
    ax.fill_between(steps, col[0.05], col[0.95], color=color, alpha=0.2, lw=0)
    ax.fill_between(steps, col[0.15], col[0.85], color=color, alpha=0.4, lw=0)
    ax.plot(steps, col[0.5], color=color, lw=1.2)


def activation_distributions(res: Results, runs: Sequence[tuple[str, str, float]], layers: Sequence[int],
                             width: float = 9.0) -> plt.Figure:
    """Grid: rows = layers, columns = runs; the distribution of one random unit over training.

    Each panel has its own vertical scale, as in [S] Fig. 1c: the question is how the shape moves.
    """
    runs, note = _made(res, runs)
    if not runs:
        return plots.not_run_figure(note, width)
    fig, axes = plt.subplots(len(layers), len(runs), figsize=(width, 2.0 * len(layers) + 0.6),
                             sharex=True, squeeze=False)
    for j, (model_id, method, lr) in enumerate(runs):
        r = res[ics.run_key(model_id, method, lr)]
        for i, layer in enumerate(layers):
            ax = axes[i, j]
            _bands(ax, r, layer, str(method_style(method)["color"]))
            if i == 0:
                panel_label(ax, LABEL[method])
            if j == 0:
                ax.set_ylabel(f"layer #{layer}")
            if i == len(layers) - 1:
                ax.set_xlabel("step")
    _note(fig, note)
    return fig


def moment_changes(res: Results, methods: Sequence[str], lr: float, layers: Sequence[int],
                   width: float = 9.0) -> plt.Figure:
    """[S] Fig. 7: |Δ mean| and |Δ variance| of units between successive steps (median over units)."""
    made, note = _made(res, [("vgg", m, lr) for m in methods])
    if not made:
        return plots.not_run_figure(note, width)
    methods = [m for _, m, _ in made]
    fig, axes = plt.subplots(2, len(layers), figsize=(width, 4.6), sharex=True, squeeze=False)
    for j, layer in enumerate(layers):
        for method in methods:
            r = res[ics.run_key("vgg", method, lr)]
            for i, moment in enumerate(("mean", "var")):
                change = np.asarray(r[f"act_layer{layer}_{moment}_change"], dtype=float)
                ok = np.isfinite(change).all(1)
                axes[i, j].plot(r["act_steps"][ok], np.median(change[ok], 1), **method_style(method))
        panel_label(axes[0, j], f"layer #{layer}")
        axes[1, j].set_xlabel("step")
    for i, moment in enumerate(("|Δ mean|", "|Δ variance|")):
        axes[i, 0].set_ylabel(f"{moment} per step")
        for ax in axes[i]:
            plots.log_scale(ax)
    _legend_above(fig, axes[0, 0])
    _note(fig, note)
    return fig


def ics_panels(res: Results, model_id: str, lrs: Sequence[float], layers: Sequence[int],
               width: float = 12.0) -> plt.Figure:
    """[S] Fig. 3: per lr (rows) training accuracy/loss, ‖G − G'‖₂ and cos(G, G') per layer."""
    keys = [ics.run_key(model_id, m, lr) for lr in lrs for m in ("standard", "bn")]
    if (fig := _not_run(res, keys, width)) is not None:
        return fig
    cols = 1 + 2 * len(layers)
    fig, axes = plt.subplots(len(lrs), cols, figsize=(width, 2.6 * len(lrs) + 0.4), squeeze=False)
    for i, lr in enumerate(lrs):
        for method in ("standard", "bn"):
            r = res[ics.run_key(model_id, method, lr)]
            kw = method_style(method)
            if model_id == "dln":
                axes[i, 0].plot(r["steps"], r["loss"], **kw)
                plots.log_scale(axes[i, 0])
            else:
                axes[i, 0].plot(r["steps"], smooth(r["accuracy"], _window(r)), **kw)
            for j, layer in enumerate(layers):
                col = list(r["ics_layers"]).index(layer)
                axes[i, 1 + j].plot(r["ics_steps"], r["ics_l2"][:, col], **kw)
                axes[i, 1 + len(layers) + j].plot(r["ics_steps"], r["ics_cos"][:, col], **kw)
            _mark_if_diverged(axes[i, 0], r, method)
        axes[i, 0].set_ylabel("training loss" if model_id == "dln" else "training accuracy")
        panel_label(axes[i, 0], f"lr {lr:g}")
        for j, layer in enumerate(layers):
            plots.log_scale(axes[i, 1 + j])
            axes[i, 1 + j].set_ylabel(f"‖G − G'‖₂, layer #{layer}")
            axes[i, 1 + len(layers) + j].set_ylabel(f"cos(G, G'), layer #{layer}")
            axes[i, 1 + len(layers) + j].set_ylim(-1.05, 1.05)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    _legend_above(fig, axes[0, 0])
    return fig


def _legend_above(fig: plt.Figure, ax: plt.Axes) -> None:
    """One legend for the whole figure, above the panels, from `ax`'s lines."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 4))

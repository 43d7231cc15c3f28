"""Figures of the landscape page ([S] Fig. 4, 9–14, the theorem checks and λ_max), from stored results.

Every function takes the dict of `landscape.run_all(profile)` (keys "vgg-bn", "dln-none", ...)
and returns a matplotlib Figure; nothing is computed here beyond the summaries of `landscape`.
Probes whose loss or gradient blew up (non-finite) are drawn as crosses at the top of the axis,
and a diverged run as a cross at the step where it diverged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from bnopt import landscape, plots, results

Runs = Mapping[str, results.Result]
MODEL_LABEL = {"vgg": "VGG", "dln": "DLN"}


def _split(runs: Runs) -> tuple[Runs, str]:
    """The runs that were made, and why the others were not ('' when every run was made)."""
    missing = [r for r in runs.values() if not results.is_run(r)]
    return {k: r for k, r in runs.items() if results.is_run(r)}, results.not_run_reason(missing)


def _norms(runs: Runs, model_id: str, norms: Sequence[str]) -> list[str]:
    """The norms in `norms` that `runs` holds for `model_id`."""
    return [n for n in norms if f"{model_id}-{n}" in runs]


def _note_missing(fig: Figure, runs: Runs, model_ids: Sequence[str], norms: Sequence[str]) -> None:
    """A line above the panels naming the nets of `norms` that `runs` lacks (not run at this profile)."""
    gone = [f"{MODEL_LABEL[m]} {plots.style(landscape.method_name(n))['label']}"
            for m in model_ids for n in norms if f"{m}-{n}" not in runs]
    if gone:
        fig.suptitle("not run at this profile: " + ", ".join(gone), fontsize=9, color="0.3", y=1.03)


def _band(ax: plt.Axes, steps: np.ndarray, lo: np.ndarray, hi: np.ndarray, method: str) -> None:
    """A shaded min–max band with its edges; non-finite maxima as crosses at the top."""
    st = plots.style(method)
    finite = np.isfinite(hi)
    ax.fill_between(steps, np.where(finite, lo, np.nan), np.where(finite, hi, np.nan), color=st["color"],
                    alpha=0.3, lw=0, label=st["label"])
    ax.plot(steps, np.where(finite, hi, np.nan), color=st["color"], lw=0.8)
    ax.plot(steps, np.where(np.isfinite(lo), lo, np.nan), color=st["color"], lw=0.8)
    if not finite.all():
        plots.mark_diverged(ax, steps[~finite], np.full((~finite).sum(), plots.diverged_level(ax)), method,
                            label=None)


def _mark_run_diverged(ax: plt.Axes, res: results.Result, method: str) -> None:
    """A cross at the step where the run diverged (if it did)."""
    if bool(res["diverged"]):
        plots.mark_diverged(ax, [int(res["diverged_at"])], [plots.diverged_level(ax)], method,
                            label=f"{plots.METHOD_STYLE[method]['label']} diverged")


def landscape_figure(runs: Runs, model_id: str, norms: Sequence[str] = ("none", "bn"), key: str = "probe") -> Figure:
    """[S] Fig. 4 / 9 (and 11/12 b–d): loss band, gradient-change band and effective β over training."""
    runs, why = _split(runs)
    if not _norms(runs, model_id, norms):
        return plots.not_run_figure(why or f"no {MODEL_LABEL[model_id]} runs at this profile", 11)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    for norm in _norms(runs, model_id, norms):
        res, method = runs[f"{model_id}-{norm}"], landscape.method_name(norm)
        steps = res["probe_steps"]
        _band(axes[0], steps, *landscape.loss_band(res.arrays, key), method)
        _band(axes[1], steps, *landscape.predictiveness_band(res.arrays, key), method)
        beta = landscape.effective_beta(res.arrays, key)
        axes[2].plot(steps, np.where(np.isfinite(beta), beta, np.nan), **plots.style(method))
        for ax in axes:
            _mark_run_diverged(ax, res, method)
    d = "g" if key == "probe" else "d"  # the probes' direction: the gradient g, or a random d
    axes[0].set_ylabel(f"loss at x − η{d}")
    axes[1].set_ylabel(rf"$\|\nabla L(x) - \nabla L(x - \eta {d})\|$")
    axes[2].set_ylabel(r"effective $\beta$-smoothness")
    for ax, title in zip(axes, ("loss band", "gradient-change band", "effective β")):
        ax.set_title(f"{MODEL_LABEL[model_id]}: {title}", fontsize=10)
    for ax in axes:
        ax.set_xlabel("training step")
    for ax in axes[1:]:
        plots.log_scale(ax)
    if model_id == "dln":
        plots.log_scale(axes[0])
    axes[0].legend()
    _note_missing(fig, runs, [model_id], norms)
    return fig


def predictiveness_vs_eta_figure(runs: Runs, early_fraction: float = 1 / 150) -> Figure:
    """[S] Fig. 10: gradient change against η at an early and the last probed step, VGG and DLN."""
    runs, _ = _split(runs)
    models_run = [m for m in ("vgg", "dln") if f"{m}-bn" in runs]
    fig, axes = plt.subplots(1, len(models_run), figsize=(5.2 * len(models_run), 3.4), squeeze=False)
    for ax, model_id in zip(axes[0], models_run):
        for norm in _norms(runs, model_id, ("none", "bn")):
            res, method = runs[f"{model_id}-{norm}"], landscape.method_name(norm)
            steps = res["probe_steps"]
            if steps.size == 0:
                continue
            early = int(np.argmin(np.abs(steps - early_fraction * int(res["planned_steps"]))))
            for idx, ls in ((early, "--"), (len(steps) - 1, "-")):
                ax.plot(res["probe_eta"][idx], res["probe_grad_change"][idx], ls=ls, marker="o", ms=3,
                        **plots.style(method, label=f"{plots.METHOD_STYLE[method]['label']}, step {steps[idx]}"))
        plots.log_scale(ax, "x")
        plots.log_scale(ax)
        ax.set_xlabel(r"step size $\eta$")
        ax.set_ylabel(r"$\|\nabla L(x) - \nabla L(x - \eta g)\|$")
        ax.text(0.02, 0.95, MODEL_LABEL[model_id], transform=ax.transAxes, va="top", weight="bold")
        ax.legend(fontsize=8)
    return fig


def random_direction_figure(runs: Runs) -> Figure:
    """Predictiveness and effective β along random directions (‖d‖ = ‖g‖), standard against BN."""
    runs, _ = _split(runs)
    models_run = [m for m in ("vgg", "dln") if f"{m}-bn" in runs and "probe_random_loss" in runs[f"{m}-bn"].arrays]
    if not models_run:
        return plots.not_run_figure("no net was probed along random directions at this profile", 9)
    fig, axes = plt.subplots(len(models_run), 2, figsize=(9, 3.0 * len(models_run)), squeeze=False)
    missing = [MODEL_LABEL[m] for m in ("vgg", "dln") if m not in models_run]
    if missing:
        fig.suptitle(f"{' and '.join(missing)}: not probed along random directions at this profile", fontsize=10)
    for row, model_id in zip(axes, models_run):
        for norm in ("none", "bn"):
            res, method = runs[f"{model_id}-{norm}"], landscape.method_name(norm)
            if "probe_random_loss" not in res.arrays:
                continue
            steps = res["probe_steps"]
            _band(row[0], steps, *landscape.predictiveness_band(res.arrays, "probe_random"), method)
            beta = landscape.effective_beta(res.arrays, "probe_random")
            row[1].plot(steps, np.where(np.isfinite(beta), beta, np.nan), **plots.style(method))
        row[0].set_ylabel(f"{MODEL_LABEL[model_id]}: " + r"$\|\nabla L(x) - \nabla L(x - \eta d)\|$")
        row[1].set_ylabel(r"effective $\beta$ (random $d$)")
        row[0].set_title(f"{MODEL_LABEL[model_id]}: gradient-change band", fontsize=10)
        row[1].set_title(f"{MODEL_LABEL[model_id]}: effective β", fontsize=10)
        for ax in row:
            plots.log_scale(ax)
            ax.set_xlabel("training step")
        row[0].legend()
    return fig


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over `window` points (for noisy minibatch losses)."""
    if window <= 1 or len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def training_figure(runs: Runs, norms: Sequence[str] = landscape.NORM_ORDER) -> Figure:
    """[S] Fig. 13 (and 11a): training loss of every norm, VGG and DLN; VGG test accuracy."""
    runs, _ = _split(runs)
    models_run = [m for m in ("vgg", "dln") if any(f"{m}-{n}" in runs for n in norms)]
    has_acc = "vgg" in models_run and any(runs[f"vgg-{n}"]["test_accuracy"].size for n in _norms(runs, "vgg", norms))
    ncols = len(models_run) + int(has_acc)
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.3), squeeze=False)
    axes = list(axes[0])
    for ax, model_id in zip(axes, models_run):
        for norm in _norms(runs, model_id, norms):
            res, method = runs[f"{model_id}-{norm}"], landscape.method_name(norm)
            window = min(10 if model_id == "vgg" else 1, len(res["loss"]))  # a run diverged early is shorter
            loss = _smooth(res["loss"], window)
            ax.plot(res["steps"][max(window - 1, 0):][:len(loss)], loss, **plots.style(method))
            _mark_run_diverged(ax, res, method)
        plots.log_scale(ax)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{MODEL_LABEL[model_id]} training loss" + (" (10-step mean)" if model_id == "vgg" else ""))
    if has_acc:
        ax = axes[-1]
        for norm in _norms(runs, "vgg", norms):
            res = runs[f"vgg-{norm}"]
            ax.plot(res["eval_steps"], res["test_accuracy"], marker="o", ms=3, **plots.style(landscape.method_name(norm)))
        ax.set_xlabel("training step")
        ax.set_ylabel("VGG test accuracy")
    for ax in axes[:len(models_run)]:  # each loss panel names its own nets
        ax.legend(fontsize=8)
    _note_missing(fig, runs, models_run, norms)
    return fig


def activations_figure(runs: Runs, norms: Sequence[str] = landscape.NORM_ORDER,
                       layers: Sequence[int] | None = None) -> Figure:
    """[S] Fig. 14: one random unit per VGG layer of `layers` (default: all recorded), its distribution over training, per norm."""
    runs, why = _split(runs)
    present = [n for n in _norms(runs, "vgg", norms) if "act_steps" in runs[f"vgg-{n}"].arrays]
    if not present:
        return plots.not_run_figure(why or "no VGG activation records at this profile", 9)
    recorded = list(np.atleast_1d(runs[f"vgg-{present[0]}"]["act_layers"]))
    layers = recorded if layers is None else [k for k in layers if k in recorded]
    fig, axes = plt.subplots(len(layers), len(present), figsize=(2.4 * len(present), 2.2 * len(layers)),
                             squeeze=False, sharex=True)
    for col, norm in enumerate(present):
        res, method = runs[f"vgg-{norm}"], landscape.method_name(norm)
        st = plots.style(method)
        for row, layer in enumerate(layers):
            ax = axes[row, col]
            q = res[f"act_layer{layer}_quantiles"]  # (records, levels): 5/15/50/85/95 %
            steps = res["act_steps"]
            ax.fill_between(steps, q[:, 0], q[:, -1], color=st["color"], alpha=0.25, lw=0)
            ax.fill_between(steps, q[:, 1], q[:, -2], color=st["color"], alpha=0.45, lw=0)
            ax.plot(steps, q[:, 2], color=st["color"], lw=1.2)
            if row == 0:  # which net: a label inside the first row (no axis titles in this book)
                ax.text(0.03, 0.95, st["label"], transform=ax.transAxes, va="top", weight="bold")
            if col == 0:
                ax.set_ylabel(f"layer #{layer}")
            if row == len(layers) - 1:
                ax.set_xlabel("step")
    _note_missing(fig, runs, ["vgg"], norms)
    return fig


def theorems_figure(runs: Runs) -> Figure:
    """Relative gap |lhs − rhs| / max over training for Thm 4.1 and 4.2; exact BN against as trained."""
    runs, _ = _split(runs)
    present = [k for k in ("vgg-bn", "dln-bn") if k in runs and "theorem_steps" in runs[k].arrays]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    markers = {"vgg-bn": "o", "dln-bn": "s"}
    for key in present:
        res = runs[key]
        steps = res["theorem_steps"]
        name = MODEL_LABEL[key.split("-")[0]]
        for kind, ls in (("exact", "-"), ("trained", "--")):
            for ax, (thm, gap) in zip(axes[:2], landscape.theorem_gaps(res.arrays, kind).items()):
                ax.plot(steps, np.maximum(gap.max(1), 1e-17), ls=ls, marker=markers[key], ms=4,
                        label=f"{name}, {'exact BN (float64, ε = 0)' if kind == 'exact' else 'as trained'}")
        lhs, rhs = res["thm_exact_lhs_41"].ravel(), res["thm_exact_rhs_41"].ravel()
        axes[2].loglog(rhs, lhs, markers[key], ms=3, alpha=0.6, label=f"{name}, Thm 4.1")
        lhs2, rhs2 = res["thm_exact_lhs_42"].ravel(), res["thm_exact_rhs_42"].ravel()
        axes[2].loglog(np.abs(rhs2), np.abs(lhs2), markers[key], ms=3, alpha=0.6, mfc="none",
                       label=f"{name}, Thm 4.2 (|·|)")
    lo, hi = axes[2].get_xlim()
    axes[2].plot([lo, hi], [lo, hi], color="k", lw=0.8, label="lhs = rhs")
    for ax, thm in zip(axes[:2], ("4.1", "4.2")):
        plots.log_scale(ax)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"Thm {thm}: relative gap")
    axes[0].legend(fontsize=7)
    axes[2].set_xlabel("right-hand side (exact BN)")
    axes[2].set_ylabel("left-hand side")
    axes[2].legend(fontsize=7)
    return fig


def sharpness_figure(runs: Runs) -> Figure:
    """λ_max of the training-loss Hessian (BN in training mode) beside the effective β, with 2/lr."""
    runs, _ = _split(runs)
    models_run = [m for m in ("vgg", "dln") if f"{m}-bn" in runs and runs[f"{m}-bn"]["sharpness_steps"].size]
    fig, axes = plt.subplots(1, len(models_run), figsize=(5.2 * len(models_run), 3.4), squeeze=False)
    for ax, model_id in zip(axes[0], models_run):
        lr = float(runs[f"{model_id}-bn"].meta["config"]["lr"])
        for norm in ("none", "bn"):
            res, method = runs[f"{model_id}-{norm}"], landscape.method_name(norm)
            label = plots.METHOD_STYLE[method]["label"]
            ax.plot(res["sharpness_steps"], res["sharpness"], marker="o", ms=4,
                    **plots.style(method, label=fr"{label}: $\lambda_{{max}}$"))
            beta = landscape.effective_beta(res.arrays)
            ax.plot(res["probe_steps"], np.where(np.isfinite(beta), beta, np.nan), ls=":", lw=1,
                    **plots.style(method, label=fr"{label}: effective $\beta$"))
        ax.axhline(2 / lr, color="k", lw=0.8, ls="--", label=r"$2/\mathrm{lr}$")
        plots.log_scale(ax)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{MODEL_LABEL[model_id]}: curvature")
        ax.legend(fontsize=7)
    return fig

"""Figures of the least-squares section (book/ols_theory.py): one function per figure, from stored results."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from . import ols
from .plots import METHOD_STYLE, mark_diverged, style

FIG1_COLOURS = ("#2ca02c", "#98df8a", "#1f77b4", "#d9d9d9")  # [C] Fig. 1 classes 0..3
FIG1_LABELS = ("ε̂ near ε_opt, loss < GD's", "ε̂ near ε_opt, loss ≥ GD's", "ε̂ far, loss < GD's",
               "ε̂ far, loss ≥ GD's")
TOP = 1e40  # GD losses above this are drawn as diverged (the run left every useful scale)


def _log_axes(ax: plt.Axes, xlabel: str, ylabel: str) -> None:
    """Log-log axes with lowercase labels."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def plot_loss_curves(curves) -> plt.Figure:
    """(a) loss against step: GD at ε_opt and beyond 2/λ_max, BNGD (ε_a = 1) for ε from 1e-5 to 1e16;
    (b) loss at the last step against ε for each ε_a, and GD's."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps, eps, ea = (np.asarray(curves[k]) for k in ("steps", "eps", "eps_a"))
    gd_loss, gd_f = np.asarray(curves["gd_loss"]), np.asarray(curves["gd_factors"])
    ax.plot(steps, gd_loss[0], **style("gd", label="GD at ε_opt", lw=2.5))
    for f in (1.01, 2.5):
        row = 1 + int(np.flatnonzero(np.isclose(gd_f, f))[0])
        ax.plot(steps, gd_loss[row], **style("gd", label=f"GD at {f:g}·2/λ_max", ls="--" if f < 2 else ":"))
        div = int(np.asarray(curves["gd_diverged_at"])[row])
        if div != ols.NOT_DIVERGED:
            mark_diverged(ax, [div], [gd_loss[row, div - 1]], "gd", label=None)
    one = np.asarray(curves["bn_loss"])[int(np.flatnonzero(ea == 1.0)[0])]
    picks = [int(np.argmin(np.abs(np.log10(eps) - p))) for p in (-5, -2, 0, 2, 4, 8, 16)]
    cmap = plt.get_cmap("Oranges")
    for j, i in enumerate(picks):
        ax.plot(steps, one[i], color=cmap(0.35 + 0.65 * j / (len(picks) - 1)), lw=1.2,
                label=f"BNGD ε = {eps[i]:.0e}")
    _log_axes(ax, "step k", "excess loss J − J*")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_ylim(1e-33, 1e10)
    ax.legend(fontsize=7, ncol=2)
    final = np.asarray(curves["bn_loss"])[:, :, -1]
    cm2 = plt.get_cmap("viridis")
    for i, e in enumerate(ea):
        y = final[i]
        bad = ~np.isfinite(y)
        bx.plot(eps[~bad], y[~bad], marker=".", color=cm2(i / max(1, len(ea) - 1)), label=f"BNGD ε_a = {e:g}")
        if bad.any():
            mark_diverged(bx, eps[bad], np.full(bad.sum(), 1e12), label=None)
    gd_final = np.asarray(curves["gd_grid_loss"])[:, -1]
    ok = gd_final < TOP
    bx.plot(eps[ok], gd_final[ok], **style("gd", label="GD", lw=2))
    mark_diverged(bx, eps[~ok], np.full((~ok).sum(), 1e8), "gd", label="diverged (GD at 1e8, BNGD at 1e12)")
    bx.axvline(float(curves["threshold"]), color="k", lw=0.8, ls=":")
    _log_axes(bx, "learning rate ε", f"loss at step {int(steps[-1])}")
    bx.legend(fontsize=7)
    return fig


def plot_effective_step(eff) -> plt.Figure:
    """ε̂ at the last step against ε for each a₀, with the ~ε and ~1/ε regimes and the ε_opt band."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    eps, a0s = np.asarray(eff["eps"]), np.asarray(eff["a0"])
    all_vals = np.asarray(eff["effective_step"])[..., -1]  # (w₀ kind, a₀, ε)
    vals = all_vals[0]
    eps_opt = float(eff["eps_opt"])
    ax.axhspan(ols.CLOSE_FACTOR * eps_opt, eps_opt / ols.CLOSE_FACTOR, color="0.85", label="0.8–1.25 ε_opt")
    ax.axhline(float(eff["threshold"]), color="k", lw=0.8, ls=":", label="2/λ_max")
    for i, a0 in enumerate(a0s):
        ax.plot(eps, vals[i], marker=".", **style("bngd", label=f"BNGD a₀ = {a0:g}",
                                                  alpha=1.0 - 0.3 * i, ls=("-", "--", ":")[i % 3]))
    ax.plot(eps, all_vals[1, 0], color="0.5", lw=1, label="BNGD a₀ = 1, Fig. 1's w₀ ∥ g")
    v0 = vals[0]
    ax.plot(eps[:8], v0[0] * eps[:8] / eps[0], color="k", lw=0.8, ls="--", label="∝ ε, ∝ 1/ε")
    ax.plot(eps[-8:], v0[-1] * eps[-1] / eps[-8:], color="k", lw=0.8, ls="--")
    _log_axes(ax, "learning rate ε", f"effective step ε̂ at k = {int(np.asarray(eff['steps'])[-1])}")
    ax.legend(fontsize=8)
    return fig


def plot_spectra(spectra) -> plt.Figure:
    """(a) eigenvalues of H and H* interlacing for one small example; (b) κ*/κ over random u."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.2, 1]})
    lam, star = np.asarray(spectra["show_eigenvalues"]), np.asarray(spectra["show_star_eigenvalues"])
    ax.scatter(lam, np.ones_like(lam), marker="|", s=400, color="k", label="λ_i(H)")
    ax.scatter(np.maximum(star, 0.3), np.zeros_like(star), marker="|", s=400, color="C3", label="λ_i(H*)")
    for x in lam:
        ax.axvline(x, color="0.8", lw=0.6, zorder=0)
    ax.annotate("λ₁(H*) = 0", (0.3, 0.0), xytext=(0.32, 0.35), fontsize=8, arrowprops={"arrowstyle": "->"})
    ax.set_xscale("log")
    ax.set_yticks([0, 1], ["H*", "H"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel("eigenvalue")
    ax.grid(False)
    for k, r in zip(np.asarray(spectra["kappas"]), np.asarray(spectra["kappa_ratio"])):
        bx.hist(r, bins=40, histtype="step", lw=1.5, label=f"κ = {k:g}")
    bx.axvline(1.0, color="k", lw=0.8, ls=":")
    bx.set_xlabel("κ*/κ")
    bx.set_ylabel("random u (count)")
    bx.legend()
    return fig


def plot_fig1(fig1_results: Sequence) -> plt.Figure:
    """[C] Fig. 1: the four-colour (ε_a, ε) grid for every a₀ (columns) and κ (rows)."""
    n_k, n_a = len(fig1_results), len(np.asarray(fig1_results[0]["a0"]))
    fig, axes = plt.subplots(n_k, n_a, figsize=(2.1 * n_a, 2.0 * n_k + 0.8), sharex=True, sharey=True,
                             squeeze=False)
    cmap = ListedColormap(FIG1_COLOURS)
    for r, res in enumerate(fig1_results):
        cls = ols.fig1_classes(res)
        lea, le = np.log10(np.asarray(res["eps_a"])), np.log10(np.asarray(res["eps"]))
        div = np.asarray(res["diverged_at"]) != ols.NOT_DIVERGED
        for c, a0 in enumerate(np.asarray(res["a0"])):
            ax = axes[r, c]
            ax.imshow(cls[c].T, origin="lower", cmap=cmap, vmin=-0.5, vmax=3.5, aspect="auto",
                      extent=(lea[0], lea[-1], le[0], le[-1]), interpolation="nearest")
            if div[c].any():
                ii, jj = np.nonzero(div[c])
                ax.plot(lea[ii], le[jj], "kx", ms=3)
            ax.axvline(0.0, color="w", lw=0.8, ls="--")  # ε_a = 1
            ax.axhline(np.log10(float(res["eps_opt"])), color="k", lw=0.5, ls=":")
            ax.grid(False)
            if r == 0:
                ax.set_title(f"a₀ = {a0:g}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"κ = {float(res['kappa']):g}\nlog10 ε")
            if r == n_k - 1:
                ax.set_xlabel("log10 ε_a")
    fig.legend(handles=[Patch(color=col, label=lab) for col, lab in zip(FIG1_COLOURS, FIG1_LABELS)],
               loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.06))
    return fig


def plot_appendix_b(res, tests_eps: float | None = None) -> plt.Figure:
    """[C] Fig. 5/6: G-mean and A-mean over tests of ε̂, ‖e‖²_H and ‖e‖ against ε (GD and MBNGD),
    and both means against the number of tests at one ε."""
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
    eps = np.asarray(res["eps"])
    mb_eff = np.asarray(res["mb_effective_step"])
    gd_loss = np.asarray(res["gd_residual_h2"])
    mb_loss = np.asarray(res["mb_residual_h2"])
    mb_err = np.asarray(res["mb_residual_norm"])
    for mean, ls in ((ols.geometric_mean, "-"), (ols.arithmetic_mean, "--")):
        tag = "G" if mean is ols.geometric_mean else "A"
        axes[0].plot(eps, mean(mb_eff), ls=ls, **style("mbngd", label=f"MBNGD {tag}-mean"))
        for ax, vals, gd in ((axes[1], mb_loss, gd_loss), (axes[2], mb_err, None)):
            ax.plot(eps, mean(vals), ls=ls, **style("mbngd", label=f"MBNGD {tag}-mean"))
            if gd is not None:
                y = mean(gd)
                ok = y < TOP
                ax.plot(eps[ok], y[ok], ls=ls, **style("gd", label=f"GD {tag}-mean"))
    axes[0].plot(eps, eps, **style("gd", label="GD (ε̂ = ε)"))
    axes[0].axhspan(ols.CLOSE_FACTOR * float(res["eps_opt"]), float(res["eps_opt"]) / ols.CLOSE_FACTOR,
                    color="0.85")
    gd_err = np.sqrt(gd_loss / np.asarray(res["eigenvalues"]).min())  # not used for a curve: bound only
    del gd_err
    _log_axes(axes[0], "learning rate ε", "effective step ε̂_k")
    _log_axes(axes[1], "learning rate ε", "loss ‖e_k‖²_H")
    _log_axes(axes[2], "learning rate ε", "error ‖e_k‖")
    axes[1].set_ylim(max(1e-35, np.nanmin(mb_loss[mb_loss > 0]) / 10), 1e3)
    for ax in axes[:3]:
        ax.axvline(float(res["threshold"]), color="k", lw=0.8, ls=":")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    j = int(np.argmin(np.abs(np.log10(eps) - np.log10(tests_eps or float(res["eps_opt"]) * 1e3))))
    n = np.arange(1, mb_loss.shape[1] + 1)
    with np.errstate(divide="ignore"):
        g = np.exp(np.cumsum(np.log(mb_loss[j])) / n)
    axes[3].plot(n, g, **style("mbngd", label="G-mean"))
    axes[3].plot(n, np.cumsum(mb_loss[j]) / n, ls="--", **style("mbngd", label="A-mean"))
    _log_axes(axes[3], "number of tests", f"mean loss at ε = {eps[j]:.0e}")
    axes[3].set_xscale("linear")
    axes[3].legend(fontsize=7)
    return fig


def plot_near_optimal(results: Sequence, key: str) -> plt.Figure:
    """[C] Fig. 7/8: MBNGD's G-mean final loss relative to optimal GD's against ε, one curve per d or cond."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    cmap = plt.get_cmap("viridis")
    for i, res in enumerate(results):
        eps = np.asarray(res["eps"])
        rel = ols.geometric_mean(np.asarray(res["mb_residual_h2_compare"])) / ols.geometric_mean(
            np.asarray(res["gd_opt_residual_h2_compare"]))
        width = ols.near_optimal_decades(res)
        val = float(res[key])
        ax.plot(eps, rel, marker=".", color=cmap(i / max(1, len(results) - 1)),
                label=f"{'d' if key == 'dim' else 'cond'} = {val:g} ({width:.1f} decades)")
    ax.axhline(ols.NEAR_OPTIMAL_FACTOR, color="k", lw=0.8, ls="--", label="near-optimal bound")
    _log_axes(ax, "learning rate ε", "MBNGD loss / optimal GD's (G-mean)")

    ax.set_ylim(top=1e12)
    ax.legend(fontsize=8)
    return fig


def plot_intro_demo(demo) -> plt.Figure:
    """Intro figure: GD and BNGD on a 2-D least-squares problem at ε beyond GD's threshold."""
    fig, ax = plt.subplots()
    steps = np.asarray(demo["steps"])
    ax.plot(steps, np.asarray(demo["gd_loss"]), **style("gd"))
    ax.plot(steps, np.asarray(demo["bngd_loss"]), **style("bngd"))
    ax.set_yscale("log")
    ax.set_xlabel("step k")
    ax.set_ylabel("excess loss J − J*")
    ax.legend(title=f"ε = {float(demo['eps']):.3g} > 2/λ_max = {float(demo['threshold']):.3g}")
    return fig


__all__ = ["plot_loss_curves", "plot_effective_step", "plot_spectra", "plot_fig1", "plot_appendix_b",
           "plot_near_optimal", "plot_intro_demo", "METHOD_STYLE"]

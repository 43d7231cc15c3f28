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
    top = 1e10  # the panel's upper limit: a diverging curve leaves through it
    for f in (1.01, 2.5):
        row = 1 + int(np.flatnonzero(np.isclose(gd_f, f))[0])
        y = gd_loss[row]
        ax.plot(steps, y, **style("gd", label=f"GD at {f:g}·2/λ_max", ls="--" if f < 2 else ":"))
        out = np.flatnonzero(~np.isfinite(y) | (y > top))
        div = int(np.asarray(curves["gd_diverged_at"])[row])
        if out.size:  # a cross on the top edge where the curve leaves the axes
            mark_diverged(ax, [steps[int(out[0])]], [top / 10], "gd", label=None)
        elif div != ols.NOT_DIVERGED:
            mark_diverged(ax, [div], [y[div - 1]], "gd", label=None)
    one = np.asarray(curves["bn_loss"])[int(np.flatnonzero(ea == 1.0)[0])]
    picks = [int(np.argmin(np.abs(np.log10(eps) - p))) for p in (-5, -2, 0, 2, 4, 8, 16)]
    cmap = plt.get_cmap("Oranges")
    for j, i in enumerate(picks):
        ax.plot(steps, one[i], color=cmap(0.35 + 0.65 * j / (len(picks) - 1)), lw=1.2,
                label=f"BNGD ε = {eps[i]:.0e}")
    _log_axes(ax, "step k", "excess loss J − J*")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_ylim(1e-33, top)
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
    """ε̂ at the last step against ε for each a₀, with the ~ε and ~1/ε regimes (left) and, zoomed to the
    0.8–1.25 ε_opt band (invisible on the full axis), ε̂/ε_opt (right)."""
    fig, (ax, zx) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    eps, a0s = np.asarray(eff["eps"]), np.asarray(eff["a0"])
    all_vals = np.asarray(eff["effective_step"])[..., -1]  # (w₀ kind, a₀, ε)
    vals = all_vals[0]
    eps_opt = float(eff["eps_opt"])
    ax.axhline(eps_opt, color="0.6", lw=1.2, label="ε_opt")
    ax.axhline(float(eff["threshold"]), color="k", lw=0.8, ls=":", label="2/λ_max")
    zx.axhspan(ols.CLOSE_FACTOR, 1 / ols.CLOSE_FACTOR, color="0.85", label="0.8–1.25 ε_opt (near optimal)")
    for i, a0 in enumerate(a0s):
        kw = style("bngd", label=f"BNGD a₀ = {a0:g}", alpha=1.0 - 0.3 * i, ls=("-", "--", ":")[i % 3])
        ax.plot(eps, vals[i], marker=".", **kw)
        zx.plot(eps, vals[i] / eps_opt, marker=".", **kw)
    ax.plot(eps, all_vals[1, 0], color="0.5", lw=1, label="BNGD a₀ = 1, [C] Fig. 1's w₀ ∥ g")
    v0 = vals[0]
    ax.plot(eps[:8], v0[0] * eps[:8] / eps[0], color="k", lw=0.8, ls="--", label="∝ ε, ∝ 1/ε")
    ax.plot(eps[-8:], v0[-1] * eps[-1] / eps[-8:], color="k", lw=0.8, ls="--")
    _log_axes(ax, "learning rate ε", f"effective step ε̂ at k = {int(np.asarray(eff['steps'])[-1])}")
    ax.set_title("ε̂ over the whole ε grid", fontsize=10)
    ax.legend(fontsize=7)
    _log_axes(zx, "learning rate ε", "ε̂ / ε_opt")
    zx.set_ylim(0.25, 4.0)
    zx.set_title("zoomed: ε̂ / ε_opt near 1", fontsize=10)
    zx.legend(fontsize=7)
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
    """[C] Fig. 7/8 under two readings, one curve per d or cond: (a) MBNGD's G-mean ε̂ at the last step over
    ε_opt (the headline reading); (b) its G-mean loss over optimal GD's at the comparison step k_c."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    cmap = plt.get_cmap("viridis")
    name = "d" if key == "dim" else "cond"
    for i, res in enumerate(results):
        eps, colour = np.asarray(res["eps"]), cmap(i / max(1, len(results) - 1))
        rel_eff = ols.geometric_mean(np.asarray(res["mb_effective_step"])) / float(res["eps_opt"])
        rel = ols.geometric_mean(np.asarray(res["mb_residual_h2_compare"])) / ols.geometric_mean(
            np.asarray(res["gd_opt_residual_h2_compare"]))
        val = float(res[key])
        ax.plot(eps, rel_eff, marker=".", color=colour,
                label=f"{name} = {val:g} ({ols.appb_interval(res, ols.C8_HEADLINE):.1f} decades)")
        bx.plot(eps, rel, marker=".", color=colour,
                label=f"{name} = {val:g}, k_c = {int(res['k_compare'])} ({ols.near_optimal_decades(res):.1f} dec.)")
    for y in (1 / ols.NEAR_OPTIMAL_FACTOR, ols.NEAR_OPTIMAL_FACTOR):
        ax.axhline(y, color="k", lw=0.8, ls="--")
    _log_axes(ax, "learning rate ε", "MBNGD ε̂ / ε_opt (G-mean, last step)")
    ax.legend(fontsize=8, title="within 10× of ε_opt", title_fontsize=8)
    bx.axhline(ols.NEAR_OPTIMAL_FACTOR, color="k", lw=0.8, ls="--")
    bx.axhline(1.0, color="k", lw=0.8, ls=":")
    _log_axes(bx, "learning rate ε", "MBNGD loss / optimal GD's at k_c (G-mean)")
    bx.set_ylim(top=1e12)
    bx.legend(fontsize=7, title="within 10× of GD's loss", title_fontsize=8)
    return fig


def plot_uniform_step(uniform, a0: float = 1.0) -> plt.Figure:
    """Prop. 3.5 read uniformly in k: (a) ε̂_k/ε against ε·k for the small ε, (b) ε̂_k·ε against k/ε for
    the large ε, one curve per ε (steps k ≥ 1; the k = 0 value is the same for every ε)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    steps = np.asarray(uniform["steps"])
    i = int(np.flatnonzero(np.isclose(np.asarray(uniform["a0"]), a0))[0])
    k = steps >= 1
    for ax, kind, label in ((axes[0], "small", "ε̂_k / ε"), (axes[1], "large", "ε̂_k · ε")):
        eps = np.asarray(uniform[f"eps_{kind}"])
        vals = np.asarray(uniform[f"effective_step_{kind}"])[i]
        cmap = plt.get_cmap("viridis")
        for j, e in enumerate(eps):
            y = vals[j] / e if kind == "small" else vals[j] * e
            x = e * steps if kind == "small" else steps / e
            ax.plot(x[k], y[k], color=cmap(j / max(1, eps.size - 1)), lw=1.2,
                    label=f"ε = {e:.0e}" if j in (0, eps.size // 2, eps.size - 1) else None)
        _log_axes(ax, "ε·k" if kind == "small" else "k/ε", f"{label} (a₀ = {a0:g})")
        ax.legend(fontsize=8)
    return fig


def plot_fig1_draws(draws: Sequence[Sequence]) -> plt.Figure:
    """C5 and C7 per draw of u: (a) near-optimal fraction against a₀, (b) the best loss ratio BNGD/GD per κ."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.6))
    for n, draw in enumerate(draws):
        a0, close, _, _ = ols.c7_fractions(draw)
        seed = int(np.asarray(draw[0]["seed"]))
        ax.plot(a0, close, marker="o", color=f"C{n % 10}", label=f"u seed {seed}")
        beats = ols.c5_beats(draw)
        ks = np.array(sorted(beats))
        bx.plot(ks * (1 + 0.04 * (n - len(draws) / 2)), [beats[k][1] for k in ks], "o", color=f"C{n % 10}",
                label=f"u seed {seed}")
    ax.set_xscale("log")
    ax.set_xlabel("a₀")
    ax.set_ylabel("near-optimal fraction (ε_a ≤ 1)")
    ax.legend(fontsize=8)
    bx.axhline(ols.BEAT_FACTOR, color="k", lw=0.8, ls="--", label="beats GD below this")
    _log_axes(bx, "κ", "best loss BNGD / optimal GD")
    bx.legend(fontsize=8)
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
           "plot_near_optimal", "plot_uniform_step", "plot_fig1_draws", "plot_intro_demo", "METHOD_STYLE"]

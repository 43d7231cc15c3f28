# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The scaling law
#
# BatchNorm divides each unit by its own batch standard deviation, so the function a normalised
# layer computes does not change when its weights are multiplied by a constant. {cite:t}`cai2019`
# turn this into a statement about whole runs of gradient descent (Prop. 3.2, Lemma A.8): on least
# squares, the configurations
#
# 1. $\{H, u, a_0, w_0, \varepsilon_a, \varepsilon\}$ and $\{H, u, a_0, r w_0, \varepsilon_a, r^2\varepsilon\}$
#    give $w'_k = r w_k$ and $a'_k = a_k$ for every $k$;
# 2. $\{\mu Q H Q^\top, (\gamma/\sqrt{\mu})\, Q u, \gamma a_0, \gamma Q w_0, \varepsilon_a, \varepsilon\}$
#    is equivalent to $\{H, u, a_0, w_0, \varepsilon_a, \varepsilon\}$ for any orthogonal $Q$ and
#    $\mu, \gamma > 0$: $w'_k = \gamma Q w_k$ and $a'_k = \gamma a_k$.
#
# Statement 2 is Lemma A.8's form with $Q$ on the side that makes it true; the paper prints
# $\mu Q^\top H Q$ next to $Q u$, and its main text scales $u$ by $\sqrt{\mu}$, which is equivalent
# only when $\gamma = \mu$ (the derivation is in `bnopt.scaling`). For $r < 0$ statement 1 also
# needs $a_0 \mapsto -a_0$.
#
# Part (1) needs nothing of least squares: it holds for any loss whenever every weight feeds a
# BatchNorm (Lemma A.9). In a real network the BatchNorm denominator is
# $\sqrt{\sigma^2 + \epsilon}$ with a small $\epsilon$, which bends the law for small weights; that
# is what [C] Fig. 2 shows. This page checks the law exactly on least squares and in
# network (2) with $\epsilon = 0$, and redraws [C] Fig. 2 with the paper's $\epsilon = 10^{-3}$.

# %% tags=["parameters"]
profile = "ci"

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np

from bnopt import book, plots, profiles, results, scaling_deep

plots.use_style()
settings = profiles.settings("scaling", profile)
res = scaling_deep.run_all(profile)
page_verdicts = scaling_deep.verdicts(res, profile)
book.show_summary(page_verdicts, profile)
ols_check, sweep, check = res["ols_exact"], res["deep_sweep"], res["deep_equivalence"]
deep_ran = results.is_run(sweep) and results.is_run(check)
from IPython.display import Markdown, display

display(Markdown(book.data_line(res, "deep_", "Network (2)")))

# %% tags=["remove-input"]
from bnopt import book

book.page_header("scaling", profile)

# %% [markdown]
# ## Least squares: the law holds to machine precision
#
# `bnopt.scaling` runs BNGD (eq. 9–10, float64) from a random configuration and from its
# equivalent twin, and measures at every iteration the relative difference between the twin's
# iterates and the mapped originals ($r w_k$; $\gamma Q w_k$ and $\gamma a_k$), for the values
# below ({numref}`fig-scaling-ols`). Dashed: two misreadings that must fail.

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from bnopt import ols, scaling

cfg = scaling_deep.ols_check_config(profile)
base = scaling.example_config(cfg.dim, cfg.kappa, cfg.seed)
gd_limit = ols.gd_stability_threshold(base.H)
listed = lambda xs: ", ".join(f"{x:g}" for x in xs)
display(Markdown(
    f"Dense random $H$ of dimension {cfg.dim}, condition number {cfg.kappa:g}; $u$, $w_0$ random unit "
    f"vectors; $a_0 = {base.a0:g}$, $\\varepsilon_a = {base.eps_a:g}$, $\\varepsilon = {base.eps:g}$ "
    f"({base.eps / gd_limit:.0f} times GD's limit $2/\\lambda_{{max}}$); {cfg.steps} iterations; "
    f"r ∈ {{{listed(cfg.rs)}}}, μ ∈ {{{listed(cfg.mus)}}}, γ ∈ {{{listed(cfg.gammas)}}}, "
    f"{cfg.rotations} random Q per (μ, γ)."))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "BNGD on least squares: relative difference between the iterates of an equivalent configuration and the mapped iterates of the original, over the iterations. Left: w₀ → r w₀, ε → r² ε (Prop. 3.2(2)). Right: H → μ QHQᵀ, u → (γ/√μ) Qu, a₀ → γ a₀, w₀ → γ Q w₀, for every μ, γ and three random Q (Prop. 3.2(1)). Grey: how far a one-ulp change of w₀ alone moves the run; the equivalent runs stay inside it (powers of two, r = 0.5 and −2, agree bit for bit and are drawn at 1e-17), the dashed misreadings do not.", "name": "fig-scaling-ols"}, "image": {"alt": "Figure: BNGD on least squares: relative difference between the iterates of an equivalent configuration and the mapped iterates of the original, over the iterations"}}
fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), sharey=True)
scaling_deep.plot_ols_check(axes, ols_check)

# %% [markdown]
# The differences are not all at $10^{-16}$: with $\varepsilon$ far beyond GD's limit, BNGD passes
# through a transient (around iteration 150 here) that amplifies any rounding error by up to $10^9$
# before contracting it again. A one-ulp change of $w_0$ alone does the same (grey), so "exact"
# here means "no further apart than rounding alone can move this run", and the verdict below
# measures it that way.
#
# ## Network (2): the exact law with $\epsilon = 0$
#
# Network (2) is Conv–MaxPool–Conv–MaxPool–FC–FC with BatchNorm after every layer, the output layer
# included, so every weight and bias is scale invariant. We train it in float64 from the Glorot
# weights $w_0$ with learning rate $\ell$, and from $r w_0$ with $r^2 \ell$ (the BatchNorm
# parameters $\gamma, \beta$ keep their own rate `lr_a` and are not scaled, as $\varepsilon_a$ in
# Prop. 3.2), and compare the minibatch losses step by step ({numref}`fig-scaling-deep-check`).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Network (2) on MNIST, float64: relative difference between the minibatch losses of the runs (r·w₀, r²·ℓ) and (w₀, ℓ), largest over the learning rates ℓ, at every SGD step. Solid: ε = 0, rounding level. Dashed: ε = 1e-3, where the law does not hold.", "name": "fig-scaling-deep-check"}, "image": {"alt": "Figure: Network (2) on MNIST, float64: relative difference between the minibatch losses of the runs (r·w₀, r²·ℓ) and (w₀, ℓ), largest over the learning rates ℓ, at every SGD step"}}
fig, ax = plt.subplots(figsize=(6.4, 4.0))
scaling_deep.plot_equivalence(ax, check)

# %% tags=["hide-input"]
eps = check["bn_eps"] if deep_ran else []
book.show_table([{"ε": f"{e:g}", "r": f"{r:g}",
                  "max relative loss difference": f"{np.nanmax(check['loss_diff'][i, j]):.1e}",
                  "relative weight difference ‖w'/r − w‖/‖w‖": f"{np.nanmax(check['weight_diff'][i, j]):.1e}"}
                 for i, e in enumerate(eps) for j, r in enumerate(check["rs"])] if deep_ran else [])

# %% [markdown]
# With $\epsilon = 0$ the two runs agree to about $10^{-13}$, the rounding of float64 grown over a
# few steps; when $r$ is a power of two they agree bit for bit (multiplying by $2^k$ commutes with
# rounding; see `tests/test_scaling_deep.py`). With $\epsilon = 10^{-3}$ they do not agree, and the
# difference is largest for small $r$.
#
# ## [C] Fig. 2: loss after one epoch against the learning rate
#
# After the Glorot initialisation every weight and bias (not $\gamma, \beta$) is multiplied by
# $\eta$, and network (2) trains for one epoch of SGD with minibatches of 100. For each $\eta$ the
# learning rates of the weights are $\mathrm{lr} = \eta^2 \ell$ on a common grid of $\ell$, so by the
# law the run $(\eta, \eta^2\ell)$ is the run $(1, \ell)$: plotted against $\ell = \mathrm{lr}/\eta^2$
# (right panels) the curves must coincide, while against lr itself (left panels) they are copies
# shifted by $\eta^2$. The paper gives neither its $\eta$ values nor its grid; ours are in the
# settings above, and `lr_a` is fixed at the profile's value.
# {numref}`fig-scaling-deep-paper-eps` is the sweep with the paper's $\epsilon = 10^{-3}$ and
# {numref}`fig-scaling-deep-zero-eps` the same sweep with $\epsilon = 0$.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "[C] Fig. 2 with the paper's ε = 1e-3: training loss after one epoch of network (2) on MNIST against the learning rate (left) and against lr/η² (right), one curve per η. Large η coincide; small η are shifted to larger learning rates.", "name": "fig-scaling-deep-paper-eps"}, "image": {"alt": "Figure: [C] Fig. 2 with the paper's ε = 1e-3: training loss after one epoch of network (2) on MNIST against the learning rate (left) and against lr/η² (right), one curve per η"}}
fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), sharey=True)
scaling_deep.plot_sweep(axes, sweep, int(np.argmax(sweep["bn_eps"])) if deep_ran else 0)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The same sweep with ε = 0: against lr/η² (right) every η gives the same curve, up to float32 rounding.", "name": "fig-scaling-deep-zero-eps"}, "image": {"alt": "Figure: The same sweep with ε = 0: against lr/η² (right) every η gives the same curve, up to float32 rounding"}}
fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), sharey=True)
scaling_deep.plot_sweep(axes, sweep, int(np.argmin(sweep["bn_eps"])) if deep_ran else 0)

# %% [markdown]
# ### Why small η shifts the curve
#
# The shift is exact in a different form: $\mathrm{BN}(\eta z; \epsilon) = \mathrm{BN}(z; \epsilon/\eta^2)$,
# so the run $\{\eta w_0, \eta^2\ell, \epsilon\}$ is the run $\{w_0, \ell, \epsilon/\eta^2\}$ scaled by
# $\eta$ (tested to float64 precision). A small $\eta$ is a large $\epsilon$. While
# $\sigma^2 \gg \epsilon$ BatchNorm still standardises and the law holds; once the pre-BN scale
# $\sigma$ falls to $\sqrt{\epsilon} \approx 0.03$ and below, BatchNorm only divides by
# $\approx\sqrt{\epsilon}$: each layer passes on a signal shrunk by $\sigma/\sqrt{\sigma^2+\epsilon}$,
# the output is nearly constant (loss near $\log 10$), and since the gradient of a weight is then
# of order $1/\sqrt{\epsilon}$ instead of $1/\sigma$, a step of size $\eta^2\ell$ moves the weights
# relatively less than the law assumes. The curve moves to larger $\ell$. The table gives this
# shrink factor of each BatchNorm layer at initialisation (median over units, on 1,000 images):
# layer #1 leaves the law first, the deeper layers follow because they receive its shrunk output.

# %% tags=["hide-input"]
book.show_table(scaling_deep.strength_rows(sweep))

# %% [markdown]
# ## Verdicts

# %% tags=["hide-input"]
book.show_verdicts(page_verdicts)

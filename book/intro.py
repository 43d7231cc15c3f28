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
# # Why does BatchNorm help optimisation?
#
# Batch normalisation {cite}`ioffe2015` was introduced to reduce *internal covariate shift*: the
# change of a layer's input distribution while the layers before it train. This book reruns, checks
# and extends two papers that question that story.
#
# - {cite:t}`santurkar2018` argue that BatchNorm does not reduce internal covariate shift, and that
#   it helps because it makes the loss landscape smoother: the loss and its gradient change less
#   along the gradient direction. They add noise after BatchNorm to make activation distributions
#   unstable on purpose, measure internal covariate shift through gradients, probe the loss along the
#   gradient, try $\ell_p$ normalisations, and prove smoothness bounds.
# - {cite:t}`cai2019` analyse gradient descent with BatchNorm (BNGD) on least squares exactly: it
#   converges for any step size of the weights, it sets its own effective step, it obeys a scaling
#   law, and it can beat optimally tuned gradient descent (GD). They then sweep learning rates on
#   deep nets.
#
# Every figure in this book is computed by the `bnopt` package when the book is built, at the
# *profile* named at the top of each page; every claim gets a verdict computed from those results.

# %% tags=["parameters"]
profile = "ci"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from bnopt import book, claims, intro, plots, profiles

book.page_header("intro", profile)
plots.use_style()
settings = profiles.settings("intro", profile)

# %% [markdown]
# ## A first look
#
# The smallest example of the second paper's main point: least squares in two dimensions with
# condition number $\kappa = 20$, gradient descent on $w$ against BNGD on $(a, w)$, both with the
# same step size $\varepsilon = 2.5/\lambda_{\max}$ for $w$, beyond GD's stability threshold
# $2/\lambda_{\max}$. {numref}`fig-intro-demo` is computed live by `bnopt.intro.demo`.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Loss of GD and BNGD on a 2-D least-squares problem ($\\kappa = 20$) with step size $\\varepsilon = 2.5/\\lambda_{\\max}$ for the weights, above GD's threshold $2/\\lambda_{\\max}$; BNGD uses $\\varepsilon_a = 1$, $a_0 = 1$. GD's loss grows geometrically; BNGD converges because its effective step adapts.", "name": "fig-intro-demo"}, "image": {"alt": "Figure: Loss of GD and BNGD on a 2-D least-squares problem (κ = 20) with step size ε = 2.5/λ_max for the weights, above GD's threshold 2/λ_max"}}
res = intro.demo(settings)
fig = intro.plot_demo(res)

# %% tags=["remove-input"]
display(Markdown(
    f"At this step size GD's loss grows from {res['gd_loss'][0]:.3g} to {res['gd_loss'][-1]:.3g} "
    f"after {int(res['steps'][-1])} iterations, while BNGD's falls from {res['bngd_loss'][0]:.3g} to "
    f"{res['bngd_loss'][-1]:.3g}: its effective step settles at {res['bngd_effective_step'][-1]:.3g}, "
    f"below the threshold {res['threshold']:.3g}."))

# %% [markdown]
# ## What this build found
#
# The [claims ledger](claims) lists every claim of both papers with a verdict computed from this
# build's results. In one line:

# %% tags=["remove-input"]
display(Markdown("**" + claims.summary(claims.ledger(profile), profile) + "** " + claims.scale_caveat(profile)))

# %% [markdown]
# ## How to read this book
#
# - *Reproducing this book* says how to rebuild it, at which scale, and how long each page took.
# - Each section page starts with the profile that produced it and what that profile shrinks
#   compared with the paper; a claim that the profile is too small to test is marked *not testable
#   at this scale* rather than judged.

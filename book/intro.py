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
# - {cite:t}`santurkar2018` argue that BatchNorm does not reduce internal covariate shift, and that it
#   helps because it makes the loss landscape smoother: the loss and its gradient change less along
#   the gradient direction.
# - {cite:t}`cai2019` analyse gradient descent with BatchNorm on least squares exactly: it converges
#   for any step size of the weights, it picks an effective step by itself, it obeys a scaling law,
#   and it can beat optimally tuned gradient descent; they then sweep learning rates on deep nets.

# %% tags=["parameters"]
profile = "ci"

# %%
from bnopt import book

book.page_header("intro", profile)

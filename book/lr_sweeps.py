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
# # Learning-rate sweeps on deep nets
#
# {cite:t}`cai2019` end their analysis of BatchNorm on least squares with a check on real networks
# (their §4.2, Fig. 3): how good is the loss after one epoch of SGD, as a function of the learning
# rate, for plain gradient descent (GD), for BatchNorm gradient descent with one learning rate for
# everything (BNGD), and for BNGD where the BatchNorm parameters γ, β get their own learning rate
# `lr_a`? Their least-squares theory says BNGD converges for *any* weight learning rate as long as
# `lr_a` ≤ 1 (Thm 3.3), and that its effective step is insensitive to the learning rate over a wide
# band (Prop. 3.5). This page reruns the sweep:
#
# - MNIST with [C]'s one-layer 784 × 10 net (softmax, mean-square loss), Fashion-MNIST with the
#   Conv-MaxPool-Conv-MaxPool-FC-FC net, CIFAR-10 with the Conv-MaxPool-Conv-MaxPool-FC-FC-FC net
#   (cross-entropy; sizes and wiring in `bnopt.models`, BN on *every* layer with
#   √(σ² + 10⁻³) in the denominator, Glorot initialisation, γ = 1, β = 0);
# - minibatch 100, one epoch, learning rates on a logarithmic grid ([C]'s script:
#   `logspace(-3, 3, 40)`), `lr_a` ∈ {1, 0.1, 0.01, 0.001} at paper scale, several seeds per point;
# - the measure is the training loss at the end of the epoch, computed on training images of the
#   epoch with BatchNorm using the statistics of each evaluation chunk (as `train.evaluate`).
#   A run whose loss becomes NaN/inf or exceeds 10⁶ times its first value is *diverged*: it is
#   stopped there, recorded with its step, and drawn as a cross, never dropped.

# %% tags=["parameters"]
profile = "ci"

# %% tags=["remove-input"]
from bnopt import book

book.page_header("sweeps", profile)

# %%
from bnopt import plots, profiles, sweeps, sweeps_plots

plots.use_style()
settings = profiles.settings("sweeps", profile)
panels = sweeps.run_all(profile)
{name: (res.dataset or sweeps.NOT_RUN) for name, res in panels.items()}

# %% [markdown]
# Each run is one seed (initial weights *and* minibatch order) at one learning rate. All runs of
# one method on one dataset train **together as one wide net** (`bnopt.wide`): runs that share a
# seed share their minibatches, so their first layers are one ordinary conv or matrix product with
# the runs' weights side by side; later convs are grouped (one group per run), fully connected
# layers one batched product, and one BatchNorm over all stacked channels is each run's own BN.
# One backward pass of the summed per-run losses gives every run's gradient. Every run equals the
# same run trained alone with `train.train` (tested to float tolerance); a diverged run is frozen
# and taken out of the batch at its divergence step, so its NaNs cannot reach the others. CIFAR-10
# here is the lossy JPEG copy of the dataset (`cifar10-jpeg`), the variant recorded with every
# result.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss at the end of epoch 1 against the learning rate of the weights (log axes), for GD, BNGD with one shared learning rate, and BNGD with a separate learning rate lr_a for the BatchNorm parameters ([C] Fig. 3). Left to right: MNIST with the one-layer net, Fashion-MNIST with the 2-conv net, CIFAR-10 with the 2-conv-3-FC net. Lines: mean over seeds; bands: minimum to maximum over seeds; crosses above the curves: learning rates at which at least one seed diverged (one row of crosses per method). A panel whose dataset is absent on the machine that built this page says so and shows no data.", "name": "fig-sweeps-loss"}}
fig = sweeps_plots.plot_sweeps(panels)

# %% [markdown]
# ## Stability and the near-best range
#
# For every curve the table gives the best learning rate, the **near-best range** (the contiguous
# learning rates whose mean loss is within 10% of the best) and the **stable range** (the widest
# contiguous range where no seed diverged and the mean loss ended below its initial value), both
# in decades of learning rate. The grid step bounds their resolution.

# %% tags=["remove-input"]
book.show_table(sweeps.width_table(panels))

# %% [markdown]
# ## Claims
#
# - **C10**: BNGD with a separate `lr_a` is stable over a far wider range than GD or shared-lr BNGD
#   ([C] Fig. 3). Decided per panel from the stable ranges: "far wider" means at least one decade
#   more than both others; not testable if the grid is coarser than half a decade or narrower than
#   three decades, or if GD and BNGD are stable over the whole grid.
# - **C11**: BatchNorm speeds up the deep nets more than the one-layer net ([C] §4.2). BN's
#   speed-up is GD's best end-of-epoch loss divided by BN's best (either variant); it must be at
#   least 1.25 times larger on each deep net than on the one-layer MNIST net. Not testable without
#   both kinds of panel or with epochs under 20 steps.

# %% tags=["remove-input"]
book.show_table([v.as_row() for v in sweeps.verdicts(panels, profile)])

# %% [markdown]
# At the `ci` profile the "epoch" is a few dozen steps on a subset, two seeds and two `lr_a`
# values: the verdicts above are those of that small sweep, with its numbers, and can differ at
# paper scale. A panel marked *not run* had no data on the machine that built the page
# (Fashion-MNIST on ours): put the official files in `$BNOPT_DATA_DIR/fashion-mnist/` and rerun.
#
# ## Running a paper-scale sweep elsewhere
#
# The paper's grid is 3 datasets × (2 + 4 `lr_a`) curves × 40 learning rates × 5 seeds = 3,600
# one-epoch trainings. The sweep is a list of independent jobs (`sweeps.sweep_jobs(settings)`:
# one method × `lr_a` × dataset × chunk of learning rates, all seeds), each stored as its own result,
# so an interrupted sweep restarts from the finished jobs. `sweeps.run_sweep(jobs, executor=...)`
# hands the unfinished ones to a `concurrent.futures`-style executor; nothing here schedules jobs
# itself. The default, `"local"`, is a pool of local worker processes, as many as the cores hold
# at the threads one job uses (`sweeps.local_workers`): one per core for the one-layer net, and
# this process alone for a convnet job, which already spreads over every core. This page ran that
# way. On a cluster, pass the cluster's executor:
#
# ```python
# from bnopt import profiles, sweeps
#
# settings = profiles.settings("sweeps", "paper")        # device="auto": a GPU when present
# jobs = sweeps.sweep_jobs(settings)
# sweeps.run_sweep(jobs, profile="paper", threads=4)     # local processes, 4 threads each (on a CPU)
# # on a cluster: executor=dask.distributed.Client(...).get_executor(),
# #   or executor=submitit.AutoExecutor(folder="slurm-logs") for Slurm,
# #   or executor=mpi4py.futures.MPIPoolExecutor() under MPI
# panels = sweeps.run_all("paper")                        # assembles the stored jobs
# ```
#
# The workers write into `$BNOPT_RESULTS_DIR`, which must be a folder they all see; a later
# `run_all` on any machine with that folder assembles the figure without training again.

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
# # Reproducing this book
#
# Every figure and every verdict in this book is computed when the book is built; nothing is
# pasted in. This page says how to rebuild it, at which scale, on which data, and how long each
# page took in the build you are reading.
#
# ## Two commands
#
# ```bash
# make book              # install what is needed, execute every notebook at PROFILE=ci, build the site
# make test              # install what is needed, run the test suite
# ```
#
# The site lands in `_build/html/index.html`; open it in a browser (or serve it with
# `python -m http.server -d _build/html`).
#
# ## Profiles
#
# Each notebook takes one papermill parameter, `profile`, mapped by `bnopt.profiles` to frozen
# settings for each section:
#
# - `ci` runs the whole book on two CPU cores in about half an hour (the table below gives this
#   build's time per page): narrow nets, data subsets, the standard and BN VGG at lr 0.1 only
#   (2,000 steps, 3 seeds). [C] Fig. 1 on least squares
#   and [S]'s DLN (10,000 full-batch steps, 10 seeds) run at the papers' own scale; App. B averages
#   over fewer random tests.
# - `workstation` runs every VGG net over 3 seeds at width 16, on all of CIFAR-10; the table below
#   gives the time a smoke run estimates for it on the machine that built this book.
# - `paper` uses the papers' settings; the deep-net sections want a GPU (`device` setting).
#
# Before a long run, a smoke run checks a profile in minutes: `make smoke PROFILE=paper` (or
# `python -m bnopt.build --profile paper --smoke`) runs every training loop of that profile for 5
# steps at its full widths, run counts and data sizes, on the GPU when there is one, executes every
# page on those results into `_build/smoke/paper/` (never into the book's results), and prints per
# page the measured cost per step and the estimated time of the full run on that machine: the
# plain step time × the full step count, plus each measurement's time × the number of times the full
# run makes it (an evaluation inside a loop covers its first 5 chunks of data, its time scaled up to
# the whole). The estimate leaves out what grows with the step count outside the training loops.
#
# Choose one with `make book PROFILE=paper`, or rerun a single page with
# `python -m bnopt.build --profile paper --only <page>`. The ledger (`claims`), the intro and this
# page summarise the others: after rerunning a section page, rerun them too, e.g.
# `python -m bnopt.build --profile ci --only ics claims intro reproducing`, or they show the
# previous results. Results are cached under `data/results/`, keyed by the settings and the
# package's source code, so a rebuild reruns only what changed.
#
# ## Data
#
# The loaders look for datasets in the folder given explicitly, else in `$BNOPT_DATA_DIR`, else in
# `data/`. Files are verified against known checksums before use. Where the official CIFAR-10 is
# absent, a lossy JPEG copy is used as its own named variant, and pages that use it say so.

# %% tags=["parameters"]
profile = "ci"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from bnopt import book, reproducing

# %% [markdown]
# ## What each profile shrinks

# %% tags=["hide-input"]
book.show_table(reproducing.profile_table())

# %% [markdown]
# ## Time per notebook
#
# Measured: the time each page took in this build. Estimated: what a smoke run made on the same
# machine before this build predicts for the full run of that profile (absent when no smoke run was
# made; CI smoke-runs `workstation`).

# %% tags=["hide-input"]
times, smokes = reproducing.build_times(), reproducing.smoke_runs()
if times or smokes:
    book.show_table(reproducing.time_table(times, smokes))
else:
    display(Markdown("This page was executed outside a book build, so no timings were recorded."))

# %% [markdown]
# ## Machine and libraries of this build

# %% tags=["hide-input"]
book.show_table([{"what": k, "value": v} for k, v in reproducing.machine().items()])

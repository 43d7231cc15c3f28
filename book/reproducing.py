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
#   (1,500 steps, 3 seeds). [C] Fig. 1 on least squares
#   and [S]'s DLN (10,000 full-batch steps, 10 seeds) run at the papers' own scale; App. B averages
#   over fewer random tests.
# - `workstation` runs every VGG net over 3 seeds at width 16; it has not been timed yet, and by
#   the `ci` costs its VGG runs alone take several hours on a CPU.
# - `paper` uses the papers' settings; the deep-net sections want a GPU (`device` setting).
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
# ## Time per notebook in this build

# %% tags=["hide-input"]
times = reproducing.build_times()
if times:
    book.show_table([{"page": k, **v} for k, v in times.items()])
else:
    display(Markdown("This page was executed outside a book build, so no timings were recorded."))

# %% [markdown]
# ## Machine and libraries of this build

# %% tags=["hide-input"]
book.show_table([{"what": k, "value": v} for k, v in reproducing.machine().items()])

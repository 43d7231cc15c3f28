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
# # Claims ledger
#
# Every claim of {cite:t}`santurkar2018` ([S]) and {cite:t}`cai2019` ([C]) that this book checks,
# with the verdict computed from the results the section pages stored in this build. Nothing here is
# run again and nothing is written by hand: `bnopt.claims.ledger` loads each section's stored results
# and calls that section's verdict functions, whose thresholds are in the code with the reason for
# each. A verdict is *reproduced*, *not reproduced*, or *not testable at this scale* (when the
# profile is too small, or the data is synthetic, for the claim to be judged). The `data` column
# names the dataset variant a verdict rests on.

# %% tags=["parameters"]
profile = "ci"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from bnopt import book, claims

book.page_header("claims", profile)
rows = claims.ledger(profile)
display(Markdown("**" + claims.summary(rows, profile) + "** " + claims.scale_caveat(profile)))

# %% tags=["remove-input"]
book.show_table(book.ledger_table(rows))

"""The intro page's live figure: GD against BNGD on a 2-D least-squares problem beyond GD's threshold."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import ols, plots
from .profiles import IntroSettings


def demo(cfg: IntroSettings) -> dict[str, np.ndarray | float]:
    """Loss curves of GD and BNGD at ε = 2.5/λ_max, where GD diverges."""
    return ols.intro_demo(kappa=cfg.kappa, steps=cfg.steps, seed=cfg.seed)


def plot_demo(res: dict[str, np.ndarray | float]) -> plt.Figure:
    """GD's loss explodes while BNGD's converges at the same weight step size."""
    fig, ax = plt.subplots()
    steps = np.asarray(res["steps"])
    gd, bn = np.asarray(res["gd_loss"]), np.asarray(res["bngd_loss"])
    finite = np.isfinite(gd)
    ax.semilogy(steps[finite], gd[finite], **plots.style("gd"))
    ax.semilogy(steps, bn, **plots.style("bngd"))
    if int(res["gd_diverged_at"]) >= 0:
        k = int(res["gd_diverged_at"])
        plots.mark_diverged(ax, [k], [plots.diverged_level(ax)], "gd", label=f"GD diverged (step {k})")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("loss")
    ax.legend()
    return fig

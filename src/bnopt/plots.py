"""One look for every figure: matplotlib style, one colour and label per method, divergence markers."""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

METHOD_STYLE: dict[str, dict[str, str]] = {
    # [S]: networks
    "standard": {"color": "#4c72b0", "label": "standard"},
    "bn": {"color": "#dd8452", "label": "BN"},
    "noisy_bn": {"color": "#55a868", "label": "noisy BN"},
    "l1": {"color": "#8172b3", "label": r"$\ell_1$"},
    "l2": {"color": "#937860", "label": r"$\ell_2$"},
    "linf": {"color": "#da8bc3", "label": r"$\ell_\infty$"},
    # [C]: gradient descent variants
    "gd": {"color": "#4c72b0", "label": "GD"},
    "bngd": {"color": "#dd8452", "label": "BNGD"},
    "bngd_sep": {"color": "#c44e52", "label": "BNGD, separate lr"},
    "mbngd": {"color": "#55a868", "label": "MBNGD"},
}
DIVERGED_MARKER: dict[str, Any] = {"marker": "x", "linestyle": "none", "markersize": 7, "mew": 1.5}

RC: dict[str, Any] = {
    "figure.figsize": (6.4, 3.6), "figure.dpi": 110, "savefig.dpi": 110,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "lines.linewidth": 1.6, "font.size": 10, "legend.frameon": False, "legend.fontsize": 9,
    "figure.constrained_layout.use": True,
}


def use_style() -> None:
    """Apply the book's matplotlib settings (call once per notebook)."""
    plt.rcParams.update(RC)


def style(method: str, **overrides: Any) -> dict[str, Any]:
    """Plot keyword arguments (colour, label) for a method, with overrides."""
    if method not in METHOD_STYLE:
        raise KeyError(f"unknown method {method!r}; styles exist for {', '.join(METHOD_STYLE)}")
    return {**METHOD_STYLE[method], **overrides}


def log_scale(ax: plt.Axes, axis: str = "y") -> None:
    """Log-scale an axis that shows positive data; one with none (a run cut short) stays linear."""
    lim = ax.dataLim
    lowest = lim.minposy if axis == "y" else lim.minposx
    if np.isfinite(lowest) and lowest > 0:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def mark_diverged(ax: plt.Axes, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                  method: str | None = None, label: str | None = "diverged") -> None:
    """Draw diverged runs as crosses at (x, y), e.g. at the top of the axis, never silently dropped."""
    x, y = np.asarray(x), np.asarray(y)
    if x.size == 0:
        return
    color = METHOD_STYLE[method]["color"] if method else "k"
    ax.plot(x, y, color=color, label=label, **DIVERGED_MARKER)


def diverged_level(ax: plt.Axes) -> float:
    """A y position just above the plotted data where diverged runs are drawn."""
    lo, hi = ax.get_ylim()
    return hi * 1.5 if ax.get_yscale() == "log" else hi + 0.05 * (hi - lo)


def not_run_figure(reason: str, width: float = 9.0) -> plt.Figure:
    """A figure that says its runs were not made and why (e.g. their dataset is absent)."""
    fig, ax = plt.subplots(figsize=(width, 1.4))
    ax.set_axis_off()
    short = reason if len(reason) <= 240 else reason[:240].rsplit(" ", 1)[0] + " …"
    ax.text(0.5, 0.5, "not run: " + _wrap(short, int(width * 12)), ha="center", va="center",
            transform=ax.transAxes, fontsize=10, color="0.3")
    return fig


def _wrap(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` characters (at spaces)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


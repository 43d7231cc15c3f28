"""Facts for the 'reproducing this book' page: profiles, per-notebook times, the machine."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from . import profiles
from .results import library_versions


PAGES = {"ols": "ols_theory", "scaling": "scaling_law", "sweeps": "lr_sweeps", "dln_seeds": "ics, landscape"}
"""The book page(s) of each settings section whose name differs (the names `--only` takes)."""


def profile_table() -> list[dict[str, str]]:
    """One row per (section, profile): the page(s) it belongs to and what that profile shrinks."""
    return [{"settings": s, "page (for --only)": PAGES.get(s, s), "profile": p, "shrinks": profiles.shrinkage(s, p)}
            for s in profiles.sections() for p in profiles.PROFILES]


def build_times(path: str | os.PathLike[str] | None = None) -> dict[str, dict[str, float | str]]:
    """Seconds each notebook took in the current build (empty when run outside a build)."""
    path = path or os.environ.get("BNOPT_BUILD_TIMES")
    if not path or not Path(path).is_file():
        return {}
    return json.loads(Path(path).read_text())


def machine() -> dict[str, str]:
    """The machine and libraries this page was executed with."""
    info = {"processor": platform.processor() or platform.machine(), "cpus": str(os.cpu_count())}
    try:
        import torch

        info["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    except ImportError:  # pragma: no cover - torch is a dependency
        info["accelerator"] = "unknown"
    return {**info, **library_versions()}

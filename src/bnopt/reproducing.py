"""Facts for the 'reproducing this book' page: profiles, per-notebook times, the machine."""

from __future__ import annotations

import json
import os
import platform
from contextlib import suppress
from pathlib import Path
from typing import Any

from . import paths, profiles
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


SMOKE_DIR_ENV = "BNOPT_SMOKE_DIR"  # where the build looks for smoke runs (`_build/smoke/` of the project)


def smoke_runs(folder: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """The smoke runs made on this machine ({profile: the run's smoke.json}), from `_build/smoke/<profile>/`."""
    root = Path(folder or os.environ.get(SMOKE_DIR_ENV) or paths.project_root() / "_build" / "smoke")
    found = {}
    for profile in profiles.PROFILES:
        file = root / profile / "smoke.json"
        if file.is_file():
            with suppress(ValueError, OSError):
                found[profile] = json.loads(file.read_text())
    return found


def time_table(times: dict[str, dict[str, Any]], smokes: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Per page: this build's measured time, and each smoke run's estimate of its full time (labelled)."""
    from .build import duration

    pages = list(times) + [r["page"] for s in smokes.values() for r in s["pages"] if r["page"] not in times]
    rows = []
    for page in dict.fromkeys(pages):
        row = {"page": page}
        if page in times:
            row[f"{times[page]['profile']}: measured"] = duration(float(times[page]["seconds"]))
        for profile, run in smokes.items():
            rec = next((r for r in run["pages"] if r["page"] == page), None)
            failed = page in run.get("failed", [])
            row[f"{profile}: estimated"] = ("failed in the smoke run" if failed else
                                            "not in the smoke run" if rec is None else duration(rec["estimate_s"]))
        rows.append(row)
    return rows


def machine() -> dict[str, str]:
    """The machine and libraries this page was executed with."""
    info = {"processor": platform.processor() or platform.machine(), "cpus": str(os.cpu_count())}
    try:
        import torch

        info["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    except ImportError:  # pragma: no cover - torch is a dependency
        info["accelerator"] = "unknown"
    return {**info, **library_versions()}

"""Where the project keeps data, caches and results, and how a reader overrides each place."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "BNOPT_DATA_DIR"
RESULTS_ENV = "BNOPT_RESULTS_DIR"
CACHE_ENV = "BNOPT_CACHE_DIR"


def project_root() -> Path:
    """The checkout holding `_config.yml` (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "_config.yml").exists() else Path.cwd()


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Input datasets: explicit argument > $BNOPT_DATA_DIR > `data/` of the project."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else project_root() / "data"


def cache_dir() -> Path:
    """Decoded-dataset caches: $BNOPT_CACHE_DIR > `data/cache/` of the project."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else project_root() / "data" / "cache"


def results_dir() -> Path:
    """Stored experiment results: $BNOPT_RESULTS_DIR > `data/results/` of the project."""
    env = os.environ.get(RESULTS_ENV)
    return Path(env) if env else project_root() / "data" / "results"

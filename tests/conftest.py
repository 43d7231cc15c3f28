"""Shared test fixtures: real datasets reached through $BNOPT_DATA_DIR, skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def real_data_dir() -> Path:
    """The folder of real datasets, or skip the test saying why."""
    env = os.environ.get("BNOPT_DATA_DIR")
    if not env or not Path(env).is_dir():
        pytest.skip("real datasets not available: set BNOPT_DATA_DIR to the data folder")
    return Path(env)


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's results and caches out of the project's data folder."""
    base = tmp_path_factory.mktemp("store")
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(base / "results"))
    monkeypatch.setenv("BNOPT_CACHE_DIR", str(base / "cache"))
    monkeypatch.delenv("BNOPT_SMOKE", raising=False)  # a real run unless a test asks for a smoke run


REAL_BUSY_CORES = None  # runtime.busy_cores itself, for the tests of it


@pytest.fixture(autouse=True)
def _idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thread counts as on an idle machine, so that no test depends on the load of the machine it runs on."""
    global REAL_BUSY_CORES
    from bnopt import runtime

    if REAL_BUSY_CORES is None:
        REAL_BUSY_CORES = runtime.busy_cores
    monkeypatch.setattr(runtime, "busy_cores", lambda sample_s=0.2: None)

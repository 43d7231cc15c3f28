"""`sweeps.run_sweep` on real distributed engines: a Dask LocalCluster (worker processes on the
loopback) and submitit's local executor give the local pool's results, and resume the same way.
Both come with the `cluster` extra; without it these tests skip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bnopt import data, profiles, results, sweeps


def _jobs(real_data_dir: Path) -> list[sweeps.SweepJob]:
    """Two tiny MNIST jobs (2 lrs × the ci seeds, 400 images)."""
    if not data.available("mnist", real_data_dir):
        pytest.skip(f"MNIST not found in {real_data_dir}")
    return [replace(j, lrs=j.lrs[5:7], train_samples=400, eval_samples=200)
            for j in sweeps.panel_jobs(profiles.settings("sweeps", "ci"), "mnist")[:2]]


def _same(a: list[results.Result], b: list[results.Result]) -> None:
    for x, y in zip(a, b, strict=True):
        for key in ("final_loss", "train_loss", "diverged_at"):
            np.testing.assert_array_equal(x[key], y[key])


def _check_engine(jobs: list[sweeps.SweepJob], executor: object, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Same numbers as in this process; a sweep stopped after its first job resumes from it."""
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(tmp_path / "here"))
    here = sweeps.run_sweep(jobs, None, profile="ci", threads=1)
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(tmp_path / "engine"))
    first = sweeps.run_sweep(jobs[:1], executor, profile="ci", threads=1)  # "interrupted" after one job
    stored = results.result_path(sweeps.JOB_RESULT, jobs[0]) / "meta.json"
    before = stored.stat().st_mtime_ns
    there = sweeps.run_sweep(jobs, executor, profile="ci", threads=1)
    assert stored.stat().st_mtime_ns == before  # the finished job was loaded, not rerun
    _same(here, there)
    _same(first, there[:1])


def test_dask_local_cluster_gives_the_local_results(real_data_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("distributed", reason="the cluster extra (dask.distributed) is not installed")
    jobs = _jobs(real_data_dir)
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(tmp_path / "engine"))  # the workers inherit the environment
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        _check_engine(jobs, client.get_executor(), tmp_path, monkeypatch)


def test_submitit_local_executor_gives_the_local_results(real_data_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    submitit = pytest.importorskip("submitit", reason="the cluster extra (submitit) is not installed")
    jobs = _jobs(real_data_dir)
    executor = submitit.LocalExecutor(folder=str(tmp_path / "submitit"))
    executor.update_parameters(timeout_min=10)
    _check_engine(jobs, executor, tmp_path, monkeypatch)

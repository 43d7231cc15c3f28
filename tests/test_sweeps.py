"""Sweeps: vectorised runs equal one-at-a-time training, divergence is per run, jobs resume, verdicts decide."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bnopt import book, claims, data, models, parallel, profiles, results, runtime, sweeps, train


def _toy(model_id: str, n: int = 300, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random images shaped for `model_id` and random labels."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *models.INPUT_SHAPE[model_id]), generator=g), torch.randint(0, 10, (n,), generator=g)


def _one_at_a_time(model_id: str, norm: str, run: tuple[float, float, int], xy, width, factor: float):
    """train.train then train.evaluate: the reference a vectorised run must equal."""
    lr, lr_a, seed = run
    net = models.build(model_id, norm, width=width, bn_eps=1e-3, seed=seed)
    log = train.train(net, xy, train.TrainConfig(lr=lr, lr_norm=lr_a, seed=seed, epochs=1, batch_size=100,
                                                 diverge_factor=factor), loss_fn=models.loss_fn(model_id))
    final = math.inf if log.diverged else train.evaluate(net, xy, models.loss_fn(model_id), 150)[0]
    return log, final


@pytest.mark.parametrize("model_id,norm,width", [("mnist_linear", "bn", None), ("mnist_linear", "none", None),
                                                 ("conv2", "bn", 2), ("cifar_conv2fc3", "bn", 2)])
def test_vectorised_runs_equal_one_at_a_time(model_id: str, norm: str, width: int | None) -> None:
    torch.set_num_threads(1)
    xy = _toy(model_id)
    convnet = model_id != "mnist_linear"
    factor = 1.5 if convnet else 1e6  # makes the lr = 300 conv run diverge mid-epoch (seed groups then unequal)
    runs = [(0.05, 0.05, 0), (0.5, 0.01, 1), (2.0, 2.0, 0), (300.0, 300.0, 1)]
    log = sweeps.train_many(model_id, norm, runs, xy, batch_size=100, width=width, bn_eps=1e-3,
                            diverge_factor=factor, eval_batch_size=150)
    for i, run in enumerate(runs):
        ref, final = _one_at_a_time(model_id, norm, run, xy, width, factor)
        assert log.diverged[i] == ref.diverged
        assert log.diverged_at[i] == (-1 if ref.diverged_at is None else ref.diverged_at)
        np.testing.assert_allclose(log.loss[i, :len(ref.loss)], ref.loss, rtol=2e-4, atol=1e-6)
        np.testing.assert_allclose(log.final_loss[i], final, rtol=2e-4)
    if convnet:
        assert log.diverged[3] and 0 < log.diverged_at[3] < 3 and not log.diverged[:3].any()


@pytest.mark.parametrize("model_id,width", [("mnist_linear", None), ("conv2", 2)])
def test_a_nan_run_does_not_poison_the_others(model_id: str, width: int | None) -> None:
    # In float64. The poisoned run makes the seed groups unequal until it is dropped, which takes
    # another first-conv kernel than the "alone" runs; in float32 that kernel's rounding differs by
    # instruction set (4.7e-5 after 3 steps at lr 1 with AVX-512 or AVX2, 6e-8 at SSE4.1). In float64
    # the same paths agree to ~1e-15 on each, so rtol 1e-9 holds on any CPU, while a NaN or a leak
    # of one run's gradient into another (an O(lr · gradient) change) still fails.
    torch.set_num_threads(1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        xy = _toy(model_id)
        good = [(0.1, 0.1, 0), (1.0, 0.01, 1)]
        alone = sweeps.train_many(model_id, "bn", good, xy, width=width, eval_batch_size=150)
        mixed = sweeps.train_many(model_id, "bn", [good[0], (math.inf, math.inf, 0), good[1]], xy, width=width,
                                  eval_batch_size=150)
    finally:
        torch.set_default_dtype(previous)
    assert mixed.diverged.tolist() == [False, True, False]
    assert mixed.diverged_at[1] == 1  # the infinite step at 0 makes the loss at step 1 NaN
    assert np.isinf(mixed.final_loss[1]) and np.isnan(mixed.loss[1, 2:]).all()
    assert np.isfinite(mixed.final_loss[[0, 2]]).all()
    np.testing.assert_allclose(mixed.final_loss[[0, 2]], alone.final_loss, rtol=1e-9)


def test_train_many_names_the_nets_it_trains() -> None:
    xy = _toy("mnist_linear", n=200)
    with pytest.raises(ValueError, match="train_many cannot train 'mnist_linear' with norm 'noisy_bn'"):
        sweeps.train_many("mnist_linear", "noisy_bn", [(0.1, 0.1, 0)], xy)
    with pytest.raises(ValueError, match="runs is empty"):
        sweeps.train_many("mnist_linear", "bn", [], xy)


def test_a_smoke_run_of_train_many_evaluates_its_first_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    xy = _toy("mnist_linear", n=200)
    runs = [(0.1, 0.1, 0), (0.5, 0.1, 1)]
    monkeypatch.setenv("BNOPT_SMOKE", "1")  # one step, one chunk of 50 of the 200 evaluation images
    capped = sweeps.train_many("mnist_linear", "bn", runs, xy, eval_batch_size=50)
    monkeypatch.delenv("BNOPT_SMOKE")
    first = sweeps.train_many("mnist_linear", "bn", runs, xy, eval_data=(xy[0][:50], xy[1][:50]), eval_batch_size=50)
    whole = sweeps.train_many("mnist_linear", "bn", runs, xy, eval_batch_size=50)
    np.testing.assert_allclose(capped.initial_loss, first.initial_loss, rtol=1e-12)
    assert capped.steps == 1 and not np.allclose(capped.initial_loss, whole.initial_loss)


def test_softmax_mse_loss_works_under_vmap() -> None:
    logits, y = torch.randn(3, 7, 10), torch.randint(0, 10, (3, 7))
    batched = torch.func.vmap(models.mse_on_softmax)(logits, y)
    expected = torch.stack([torch.nn.functional.mse_loss(torch.softmax(lg, 1),
                            torch.nn.functional.one_hot(t, 10).float()) for lg, t in zip(logits, y)])
    assert torch.allclose(batched, expected)


def test_jobs_cover_every_curve_and_chunk_the_lrs() -> None:
    s = replace(profiles.settings("sweeps", "ci"), lrs_per_job=5)
    jobs = sweeps.panel_jobs(s, "cifar10")
    assert len(jobs) == len(sweeps.curves(s)) * 3  # 13 lrs in chunks of 5
    assert sum(len(j.lrs) for j in jobs) == len(sweeps.curves(s)) * s.n_lrs
    assert {j.model_id for j in jobs} == {"cifar_conv2fc3"}
    assert [j.runs()[1] for j in jobs[:1]] == [(jobs[0].lrs[0], jobs[0].lrs[0], 1)]
    with pytest.raises(ValueError, match="lr_a"):
        replace(jobs[0], method="bngd_sep", lr_a=None)
    with pytest.raises(ValueError, match="unknown method 'sgd'"):
        replace(jobs[0], method="sgd")


def _fake_outputs(calls: list[str], fail_after: int | None = None):
    """A fast stand-in for job_outputs that counts calls and can fail like an interruption."""
    def fake(job: sweeps.SweepJob) -> dict:
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt("simulated interruption")
        calls.append(job.label())
        shape = (len(job.lrs), len(job.seeds))
        return {"final_loss": np.full(shape, len(calls), float), "final_accuracy": np.zeros(shape),
                "initial_loss": np.ones(shape), "diverged": np.zeros(shape, bool),
                "diverged_at": -np.ones(shape, int), "train_loss": np.zeros(shape + (3,)),
                "steps": 3, "wall_time": 0.0, "dataset": "synthetic"}
    return fake


def test_interrupted_sweep_restarts_from_finished_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = sweeps.panel_jobs(profiles.settings("sweeps", "ci"), "mnist")
    first: list[str] = []
    monkeypatch.setattr(sweeps, "job_outputs", _fake_outputs(first, fail_after=2))
    with pytest.raises(KeyboardInterrupt):
        sweeps.run_sweep(jobs, None, profile="ci", threads=1)
    assert len(first) == 2
    second: list[str] = []
    monkeypatch.setattr(sweeps, "job_outputs", _fake_outputs(second))
    done = sweeps.run_sweep(jobs, None, profile="ci", threads=1)
    assert second == [j.label() for j in jobs[2:]]  # only the unfinished jobs ran
    assert [float(r["final_loss"][0, 0]) for r in done[:2]] == [1.0, 2.0]  # reused, not rerun


def test_executor_gets_only_unfinished_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = sweeps.panel_jobs(profiles.settings("sweeps", "ci"), "mnist")
    calls: list[str] = []
    monkeypatch.setattr(sweeps, "job_outputs", _fake_outputs(calls))
    sweeps.run_sweep(jobs[:1], None, profile="ci", threads=1)

    class Counting(ThreadPoolExecutor):
        submitted = 0

        def submit(self, fn, *args, **kwargs):  # type: ignore[override]
            Counting.submitted += 1
            return super().submit(fn, *args, **kwargs)

    with Counting(max_workers=2) as pool:
        out = sweeps.run_sweep(jobs, executor=pool, profile="ci", threads=1)
    assert Counting.submitted == len(jobs) - 1 and len(out) == len(jobs)
    assert all(isinstance(r, results.Result) for r in out)


def test_jobs_run_on_local_processes_give_the_in_process_results(real_data_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    if not data.available("mnist", real_data_dir):
        pytest.skip(f"MNIST not found in {real_data_dir}")
    jobs = [replace(j, lrs=j.lrs[5:7], train_samples=400, eval_samples=200)
            for j in sweeps.panel_jobs(profiles.settings("sweeps", "ci"), "mnist")[:2]]
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(tmp_path / "here"))
    here = sweeps.run_sweep(jobs, None, profile="ci", threads=1)
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(tmp_path / "workers"))  # the workers inherit it
    monkeypatch.setattr(runtime, "available_cores", lambda: 2)  # room for two 1-thread workers anywhere
    monkeypatch.setattr(runtime, "busy_cores", lambda sample_s=0.2: 0.0)  # as on an idle machine
    started: list[int] = []
    real_pool = parallel.ProcessPoolExecutor

    def recording_pool(workers: int, **kwargs: object) -> object:
        started.append(workers)
        return real_pool(workers, **kwargs)
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", recording_pool)
    there = sweeps.run_sweep(jobs, profile="ci", threads=1)  # the default: local processes
    assert started == [2]
    for a, b in zip(here, there):
        for key in ("final_loss", "train_loss", "diverged_at"):
            np.testing.assert_array_equal(a[key], b[key])

    def no_training(job: sweeps.SweepJob) -> dict:
        raise AssertionError(f"{job.label()} trained again instead of loading the workers' result")
    monkeypatch.setattr(sweeps, "job_outputs", no_training)
    again = sweeps.run_sweep(jobs, profile="ci", threads=1)
    assert started == [2]  # everything stored: no pool started
    np.testing.assert_array_equal(again[1]["final_loss"], here[1]["final_loss"])


def test_an_interrupt_ends_the_local_workers_at_once() -> None:
    import multiprocessing
    import time
    pool = parallel.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(time.sleep, 60) for _ in range(5)]  # two running, the rest queued
        deadline = time.monotonic() + 60
        while sum(f.running() for f in futures) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        processes = list(pool._processes.values())
        start = time.monotonic()
        sweeps._end_workers(pool)
    finally:  # never leave sleeping workers behind, whatever failed above
        for proc in list((pool._processes or {}).values()):
            proc.kill()
    assert time.monotonic() - start < 15  # not the 60 s of a running job
    assert processes and all(p.exitcode is not None for p in processes)  # ended and reaped
    assert all(f.done() for f in futures)  # nothing left running or queued


def test_local_workers_fill_the_cores_at_the_threads_of_a_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(runtime, "available_cores", lambda: 8)
    monkeypatch.setattr(runtime, "busy_cores", lambda sample_s=0.2: 0.0)  # as on an idle machine
    settings = profiles.settings("sweeps", "ci")
    linear = [replace(j, device="cpu") for j in sweeps.panel_jobs(settings, "mnist")]
    conv = [replace(j, device="cpu") for j in sweeps.panel_jobs(settings, "cifar10")]
    assert sweeps.local_workers(linear) == (min(8, len(linear)), 1)  # one-layer net: 1 thread a job
    assert sweeps.local_workers(conv) == (1, 8)  # a convnet job uses every core: this process
    assert sweeps.local_workers(conv, threads=2) == (min(4, len(conv)), 2)
    assert sweeps.local_workers(linear[:1]) == (1, 1)  # never more workers than jobs
    assert sweeps.local_workers([]) == (1, None)
    with pytest.raises(ValueError, match="threads=0"):
        sweeps.local_workers(linear, threads=0)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            sweeps.local_workers([replace(linear[0], device="cuda")])


def test_default_executor_runs_in_this_process_when_one_worker_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = sweeps.panel_jobs(profiles.settings("sweeps", "ci"), "mnist")
    monkeypatch.setattr(runtime, "available_cores", lambda: 1)
    monkeypatch.setattr(runtime, "busy_cores", lambda sample_s=0.2: 0.0)  # as on an idle machine
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", None)  # any pool would fail
    calls: list[str] = []
    monkeypatch.setattr(sweeps, "job_outputs", _fake_outputs(calls))  # only seen in this process
    out = sweeps.run_sweep(jobs, profile="ci", threads=1)
    assert calls == [j.label() for j in jobs] and len(out) == len(jobs)
    with pytest.raises(ValueError, match="executor='processes'"):
        sweeps.run_sweep(jobs, "processes", profile="ci")


def test_load_only_never_hands_out_a_missing_job(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = sweeps.panel_jobs(profiles.settings("sweeps", "ci"), "mnist")
    monkeypatch.setattr(runtime, "available_cores", lambda: 8)
    monkeypatch.setattr(runtime, "busy_cores", lambda sample_s=0.2: 0.0)  # as on an idle machine
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", None)  # a pool would fail differently
    with results.load_only(), pytest.raises(results.ResultMissing):
        sweeps.run_sweep(jobs, profile="ci", threads=1)


def test_missing_dataset_gives_a_not_run_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str, n: int | None) -> None:
        raise data.DataNotFoundError(f"{name}: missing files")
    monkeypatch.setattr(sweeps, "training_data", absent)
    res = sweeps.run_panel(profiles.settings("sweeps", "ci"), "fashion-mnist", "ci")
    assert not sweeps.is_run(res) and str(res["status"]) == results.NOT_RUN
    assert "missing files" in str(res["reason"])


# --- verdicts on synthetic panels ----------------------------------------------------------------

LRS = np.logspace(-3, 3, 13)
KEYS = ("gd", "bngd", "sep1", "sep2")  # the curves of a synthetic panel: GD, shared lr, lr_a = 1 and 0.01


def _per_seed(value: float | tuple[float, float]) -> np.ndarray:
    """A value for each of the 2 seeds."""
    return np.broadcast_to(np.asarray(value, float), (2,))


PerSeed = float | tuple[float, float]  # one value for both seeds, or one per seed


def _panel(stable_to: dict[str, PerSeed], rate: dict[str, PerSeed] | None = None, steps: int = 60, model_id: str = "mnist_linear", lrs: np.ndarray = LRS) -> results.Result:
    """A synthetic panel of 2 seeds: each curve ends at half the chance-level loss up to its lr, diverges above.

    Its minibatch loss decays as chance × exp(−rate · t / steps), so BN's speed-up over GD is
    about rate_BN / rate_GD; GD's rate 1 leaves chance, 0.05 does not.
    """
    rate = rate or dict.fromkeys(KEYS, 1.0)
    chance = sweeps.chance_loss(model_id)
    diverged = np.stack([lrs[:, None] > _per_seed(stable_to[k])[None, :] for k in KEYS])  # (curves, lrs, seeds)
    t = np.arange(steps)
    curve = np.stack([chance * np.exp(-_per_seed(rate[k])[:, None] * t / steps) for k in KEYS])  # (curves, seeds, t)
    train_loss = np.where(diverged[..., None], np.nan, curve[:, None, :, :])
    arrays = {"lrs": lrs, "curve_method": np.asarray(["gd", "bngd", "bngd_sep", "bngd_sep"]),
              "curve_lr_a": np.asarray([np.nan, np.nan, 1.0, 0.01]), "diverged": diverged,
              "final_loss": np.where(diverged, np.inf, 0.5 * chance), "initial_loss": np.full(diverged.shape, chance),
              "train_loss": train_loss, "steps": np.asarray(steps), "status": np.asarray("ok"),
              "model_id": np.asarray(model_id)}
    return results.Result(arrays, {"data": "synthetic"}, Path("."))


WIDE = {"gd": 1.5, "bngd": 1.5, "sep1": 1.5, "sep2": 150.0}  # stable to lr 1, 1, 1, 100: two decades ahead
NARROW = {**WIDE, "sep2": 5.0}  # stable to 3.16: half a decade ahead
SPLIT = {**WIDE, "sep2": (150.0, 5.0)}  # seed 0 wide, seed 1 narrow


def test_c10_gives_every_verdict() -> None:
    yes = sweeps.verdict_c10({"mnist": _panel(WIDE)}, "ci")
    assert yes.verdict == claims.REPRODUCED and yes.numbers["mnist lead in decades (seed median)"] == pytest.approx(2.0)
    assert sweeps.verdict_c10({"mnist": _panel(NARROW)}, "ci").verdict == claims.NOT_REPRODUCED
    mixed = sweeps.verdict_c10({"mnist": _panel(SPLIT)}, "ci")
    assert mixed.verdict == claims.MIXED and mixed.seeds == ((0, True), (1, False))
    both = sweeps.verdict_c10({"mnist": _panel(WIDE), "cifar10": _panel(NARROW, model_id="cifar_conv2fc3")}, "ci")
    assert both.verdict == claims.NOT_REPRODUCED  # the claim must hold on every panel run
    coarse = _panel(WIDE, lrs=np.logspace(-3, 3, 7))  # one-decade steps: too coarse
    assert sweeps.verdict_c10({"mnist": coarse}, "ci").verdict == claims.NOT_TESTABLE
    missing = sweeps.not_run_result("fashion-mnist", "ci", "absent")
    assert sweeps.verdict_c10({"fashion-mnist": missing}, "ci").verdict == claims.NOT_TESTABLE


def test_c10_is_not_testable_where_the_grid_censors_a_limit() -> None:
    filled = sweeps.verdict_c10({"mnist": _panel({**WIDE, "bngd": math.inf})}, "ci")  # shared lr fills the grid
    assert filled.verdict == claims.NOT_TESTABLE and "censored" in filled.detail
    close = sweeps.verdict_c10({"mnist": _panel({**WIDE, "gd": 400.0, "sep2": math.inf})}, "ci")
    assert close.verdict == claims.NOT_TESTABLE  # separate lr at the top, only half a decade ahead so far
    ahead = sweeps.verdict_c10({"mnist": _panel({**WIDE, "sep2": math.inf})}, "ci")
    assert ahead.verdict == claims.REPRODUCED  # censored, but already 3 decades ahead


def test_stable_is_below_chance_for_every_method() -> None:
    res = _panel(WIDE, model_id="cifar_conv2fc3")
    res.arrays["initial_loss"][1:] = 2.7  # BN nets start above chance (output BN: unit-variance logits)
    res.arrays["final_loss"][1:, 6] = 2.5  # at lr 1: below their own start, above ln 10
    stable = sweeps.stable(res)
    assert stable[0, 6] and not stable[1:, 6].any()
    assert sweeps.stable_range(res)[0]["hi"] == pytest.approx(1.0) and not sweeps.stable_range(res)[0]["censored"]


def test_c11_gives_every_verdict() -> None:
    same = dict.fromkeys(KEYS, 1.0)
    faster = {"gd": 1.0, "bngd": 2.0, "sep1": 2.0, "sep2": 2.0}

    def c11(deep_rate: dict, deep_steps: int = 100, panels: tuple[str, ...] = ("mnist", "cifar10")) -> claims.Verdict:
        """C11 on a one-layer panel where BN is as fast as GD and a CIFAR-10 panel with `deep_rate`."""
        made = {"mnist": _panel(WIDE, same, steps=600),
                "cifar10": _panel(WIDE, deep_rate, steps=deep_steps, model_id="cifar_conv2fc3")}
        return sweeps.verdict_c11({d: made[d] for d in panels}, "ci")

    yes = c11(faster)
    assert yes.verdict == claims.REPRODUCED
    assert yes.numbers["cifar10 BN speed-up (seed median)"] == pytest.approx(2.0, rel=0.1)
    assert yes.numbers["mnist one-layer BN speed-up (seed median)"] == pytest.approx(1.0)
    assert c11(same).verdict == claims.NOT_REPRODUCED
    mixed = c11({**faster, "bngd": (2.0, 1.0), "sep1": (2.0, 1.0), "sep2": (2.0, 1.0)})
    assert mixed.verdict == claims.MIXED and mixed.seeds == ((0, True), (1, False))
    at_chance = c11({**faster, "gd": 0.05})  # GD's loss still > 0.9 × ln 10 at the epoch's end
    assert at_chance.verdict == claims.NOT_TESTABLE and "has not left chance" in at_chance.detail
    short = c11(faster, deep_steps=sweeps.MIN_STEPS - 1)
    assert short.verdict == claims.NOT_TESTABLE and "steps <" in short.detail
    assert c11(faster, panels=("cifar10",)).verdict == claims.NOT_TESTABLE


def test_c11_speedup_is_an_upper_bound_where_bn_never_reaches_gds_loss() -> None:
    slower = {"gd": 1.0, "bngd": 0.2, "sep1": 0.2, "sep2": 0.2}
    out = sweeps.steps_to_reach(_panel(WIDE, slower, steps=100))
    assert out[0]["bn_steps"] is None and out[0]["speedup"] == pytest.approx(out[0]["gd_steps"] / 100)


def test_lr_grid_extends_a_panel_at_the_same_step() -> None:
    s = profiles.settings("sweeps", "ci")
    mnist, cifar = sweeps.lr_grid(s, "mnist"), sweeps.lr_grid(s, "cifar10")
    assert len(cifar) == s.n_lrs and cifar[-1] == pytest.approx(1e3)
    assert mnist[-1] == pytest.approx(1e6) and np.diff(np.log10(mnist)).max() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="only extends the grid"):
        sweeps.lr_grid(replace(s, lr_log10_tops=(("mnist", 1.0),)), "mnist")


def test_verdict_table_shows_what_the_paper_reports() -> None:
    rows = book.verdict_rows(sweeps.verdicts({"mnist": _panel(WIDE)}, "ci"))
    assert [r["claim"][:9] for r in rows] == ["**C10** B", "**C11** B"]
    assert all(r["paper reports"].startswith("[C] §4.2, Fig. 3") for r in rows)


def test_near_best_width_is_the_contiguous_range_within_ten_percent() -> None:
    res = _panel(WIDE)
    loss = res.arrays["final_loss"]
    loss[0] = 1.0
    loss[0, 4:7] = [[0.105, 0.105], [0.1, 0.1], [0.109, 0.109]]  # lrs 0.1, 0.316, 1
    w = sweeps.near_best_width(res)[0]
    assert (w["best_lr"], w["lo"], w["hi"]) == pytest.approx((LRS[5], LRS[4], LRS[6]))
    assert w["decades"] == pytest.approx(1.0)
    assert sweeps.near_best_width(res)[1]["best_loss"] == pytest.approx(0.045)


def test_end_of_epoch_loss_is_measured_on_a_random_mix_of_a_class_sorted_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CIFAR-10 JPEG copy is sorted by class: its first images are one class, and BN's chunk statistics too."""
    x, y = torch.rand(1000, 1, 28, 28), torch.arange(10).repeat_interleave(100)  # sorted by label
    monkeypatch.setattr(sweeps, "training_data", lambda name, n: data.Dataset(x, y, "mnist", "train"))
    seen = {}

    def spy(*args, eval_data=None, **kwargs):
        seen["labels"] = eval_data[1]
        raise RuntimeError("stop here")

    monkeypatch.setattr(sweeps, "train_many", spy)
    job = sweeps.panel_jobs(replace(profiles.settings("sweeps", "ci"), eval_samples=100), "mnist")[0]
    with pytest.raises(RuntimeError, match="stop here"):
        sweeps.job_outputs(job)
    assert len(seen["labels"]) == 100 and len(torch.unique(seen["labels"])) == 10


def test_the_figure_draws_when_no_panel_was_run() -> None:
    import matplotlib.pyplot as plt

    from bnopt import sweeps_plots

    panels = {d: sweeps.not_run_result(d, "ci", "absent") for d in ("mnist", "fashion-mnist", "cifar10")}
    fig = sweeps_plots.plot_sweeps(panels)
    assert len(fig.axes) == 3 and all(sweeps.NOT_RUN in ax.texts[0].get_text() for ax in fig.axes)
    plt.close(fig)
    assert sweeps.width_table(panels) == []
    assert {v.verdict for v in sweeps.verdicts(panels, "ci")} == {claims.NOT_TESTABLE}

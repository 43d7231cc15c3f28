"""Smoke runs: the step cap, the timing of steps, hooks and evaluations, and the full-run estimate."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch

from bnopt import build, models, results, smoke, train


class Every:
    """A hook acting every `every` steps that takes `cost` seconds when it acts."""

    def __init__(self, every: int, cost: float = 0.0) -> None:
        self.every, self.cost, self.calls = every, cost, []

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def before_step(self, state) -> None:
        if self.due(state.step):
            self.calls.append(state.step)
            time.sleep(self.cost)


def test_outside_a_smoke_run_nothing_changes():
    hook = Every(3)
    clock = smoke.Clock("x", 100, [hook])
    assert smoke.steps() is None and smoke.cap(1234) == 1234
    assert clock.hooks == [hook]
    assert not clock.active


def test_the_cap_and_bad_values(monkeypatch):
    monkeypatch.setenv(smoke.SMOKE_ENV, "4")
    assert smoke.steps() == 4 and smoke.cap(1000) == 4 and smoke.cap(2) == 2
    for bad in ("0", "-3", "five"):
        monkeypatch.setenv(smoke.SMOKE_ENV, bad)
        with pytest.raises(ValueError, match="BNOPT_SMOKE.*positive step count"):
            smoke.steps()


def test_capped_bounds_keep_the_step_cap_of_chunks_and_say_their_share(monkeypatch):
    assert smoke.capped_bounds([0, 10, 20, 44]) == ([0, 10, 20, 44], 1.0)
    monkeypatch.setenv(smoke.SMOKE_ENV, "2")
    assert smoke.capped_bounds([0, 10, 20, 44]) == ([0, 10, 20], pytest.approx(20 / 44))
    assert smoke.capped_bounds([0, 30]) == ([0, 30], 1.0)


def test_due_count_follows_the_schedule():
    assert smoke.due_count(Every(10), 0, 100) == 10
    assert smoke.due_count(Every(10), 0, 101) == 11
    assert smoke.due_count(object(), 0, 37) == 37  # no `due`: acts at every step
    assert smoke.evals_in(100, 30) == 4 and smoke.evals_in(90, 30) == 3 and smoke.evals_in(7, None) == 1


def test_timed_hooks_keep_exactly_the_methods_of_the_hook(monkeypatch):
    monkeypatch.setenv(smoke.SMOKE_ENV, "3")

    class AfterOnly:
        def after_step(self, state) -> None: ...

    timed = smoke.Clock("x", 10, [Every(2), AfterOnly()]).hooks
    assert hasattr(timed[0], "due") and hasattr(timed[0], "before_step") and not hasattr(timed[0], "after_step")
    assert not hasattr(timed[1], "due") and not hasattr(timed[1], "before_step") and hasattr(timed[1], "after_step")


def test_estimate_scales_steps_hooks_and_evaluations_by_their_full_counts(monkeypatch):
    monkeypatch.setenv(smoke.SMOKE_ENV, "4")
    slow = Every(100)  # in 4 smoke steps it acts once (step 0); in 1,000 steps 10 times
    clock = smoke.Clock("x", 1000, [slow], evals_full=5)
    clock.spent[0][0] = 2.0  # seconds its one smoke call took
    clock.eval_s, clock.eval_real, clock.evals = 3.0, 3.0, 1
    # 4 steps took 5.4 s: 2 s in the hook, 3 s in the evaluation, 0.1 s per plain step
    assert clock.estimate(4, 5.4) == pytest.approx(0.1 * 1000 + 2.0 * 10 + 3.0 * 5)


def test_a_smoke_training_stops_early_and_reports_its_estimate(monkeypatch, tmp_path):
    log_file = tmp_path / "progress.jsonl"
    monkeypatch.setenv(smoke.SMOKE_ENV, "3")
    monkeypatch.setenv(results.PROGRESS_ENV, str(log_file))
    hook = Every(5, cost=0.01)
    model = models.build("dln", "none", seed=0)
    x, y = torch.randn(50, 10), torch.randn(50, 10)
    log = train.train(model, (x, y), train.TrainConfig(lr=1e-4, steps=200), hooks=[hook],
                      loss_fn=models.loss_fn("dln"))
    assert log.steps_run == 3 and hook.calls == [0]
    event = json.loads(log_file.read_text().splitlines()[-1])
    assert event["event"] == "smoke" and event["full_steps"] == 200 and event["steps"] == 3
    # the hook's one call is counted 40 times in the full run
    assert event["estimate_s"] >= 40 * 0.01


def test_the_moments_engine_obeys_the_cap(monkeypatch):
    monkeypatch.setenv(smoke.SMOKE_ENV, "2")
    model = models.build("dln", "bn", seed=0)
    x, y = torch.randn(40, 10), torch.randn(40, 10)
    log = train.train(model, (x, y), train.TrainConfig(lr=1e-6, steps=50, engine="moments"),
                      loss_fn=models.loss_fn("dln"))
    assert log.steps_run == 2 and len(log.loss) == 2


def test_smoke_results_have_their_own_keys(monkeypatch):
    real = results.result_key("exp", {"a": 1})
    monkeypatch.setenv(smoke.SMOKE_ENV, "5")
    five = results.result_key("exp", {"a": 1})
    monkeypatch.setenv(smoke.SMOKE_ENV, "6")
    assert len({real, five, results.result_key("exp", {"a": 1})}) == 3
    monkeypatch.delenv(smoke.SMOKE_ENV)
    assert results.result_key("exp", {"a": 1}) == real


def test_page_estimate_adds_the_loops_remaining_time_shared_by_their_processes():
    events = [{"name": "vgg", "pid": p, "steps": 5, "full_steps": 1000, "seconds": 1.0, "estimate_s": 101.0}
              for p in (1, 2, 1, 2)]
    rec = build.smoke_summary("ics", 10.0, events, workers=2)
    assert rec["processes"] == 2 and rec["estimate_s"] == pytest.approx(10.0 + 4 * 100.0 / 2)
    assert rec["kinds"]["vgg"]["loops"] == 4
    one = build.smoke_summary("ics", 10.0, events, workers=1)
    assert one["estimate_s"] == pytest.approx(10.0 + 400.0)
    none = build.smoke_summary("intro", 3.0, [], workers=2)
    assert none["estimate_s"] == 3.0 and none["processes"] == 1
    table = build.smoke_table([rec, none], "paper", 5)
    assert "ics" in table and "no training loop" in table and "full run (estimated)" in table
    assert "4 × vgg: 0.2 s per smoke step, 1,000 steps each" in table


def test_durations_read_well():
    assert build.duration(42) == "42 s" and build.duration(1020) == "17 min"
    assert build.duration(3.2 * 3600) == "3.2 h" and build.duration(3 * 86400) == "3.0 days"
    assert not math.isnan(build.smoke_summary("p", 1.0, [], 1)["estimate_s"])


def test_the_command_line_checks_the_step_count():
    with pytest.raises(SystemExit):
        build.parse_args(["--smoke", "0"], ["ics"])
    assert build.parse_args(["--smoke"], ["ics"]).smoke == build.SMOKE_STEPS
    assert build.parse_args(["--smoke", "7"], ["ics"]).smoke == 7
    assert build.parse_args([], ["ics"]).smoke is None


def test_the_first_step_s_warm_up_is_paid_once_not_per_step(monkeypatch):
    monkeypatch.setenv(smoke.SMOKE_ENV, "5")
    clock = smoke.Clock("x", 1000)
    t0 = clock.start
    # step 1 took 2.0 s (a kernel compiled), steps 2-5 took 0.1 s each
    clock.ticks += [(t0 + 2.0, 1, 0.0), (t0 + 2.1, 2, 0.0), (t0 + 2.2, 3, 0.0), (t0 + 2.3, 4, 0.0)]
    rate, warm = clock.plain_cost(5, 2.4)
    assert rate == pytest.approx(0.1) and warm == pytest.approx(1.9)
    assert clock.estimate(5, 2.4) == pytest.approx(1.9 + 0.1 * 1000)
    # a chunked loop (the moments engine): step 0 alone, then 4 steps in one kernel call
    chunked = smoke.Clock("x", 1000)
    chunked.ticks += [(chunked.start + 1.0, 1, 0.0)]
    assert chunked.plain_cost(5, 1.4)[0] == pytest.approx(0.1)


def test_the_reproducing_page_reads_the_smoke_runs_and_labels_estimates(tmp_path):
    from bnopt import reproducing

    run = {"profile": "workstation", "steps": 5, "pages": [
        build.smoke_summary("ics", 300.0, [{"name": "vgg", "pid": 1, "steps": 5, "full_steps": 2000,
                                             "seconds": 10.0, "estimate_s": 4000.0}], 1)], "failed": ["landscape"]}
    (tmp_path / "workstation").mkdir()
    (tmp_path / "workstation" / "smoke.json").write_text(json.dumps(run))
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "smoke.json").write_text("{not json")  # a damaged file is left out
    smokes = reproducing.smoke_runs(tmp_path)
    assert list(smokes) == ["workstation"]
    rows = reproducing.time_table({"ics": {"seconds": 985.0, "profile": "ci"},
                                   "landscape": {"seconds": 232.0, "profile": "ci"}}, smokes)
    assert rows[0] == {"page": "ics", "ci: measured": "16 min", "workstation: estimated": "72 min"}
    assert rows[1]["workstation: estimated"] == "failed in the smoke run"
    assert reproducing.time_table({}, {}) == []


def test_a_log_axis_without_positive_data_stays_linear_and_draws():
    """A curve cut short (a smoke run, a run that diverged at once) may hold only zeros or NaN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bnopt import plots

    fig, (a, b, c) = plt.subplots(1, 3)
    a.plot([0, 1], [0.0, 0.0])
    b.plot([0, 1], [float("nan")] * 2)
    c.plot([0, 1], [0.0, 2.0])
    for ax in (a, b, c):
        plots.log_scale(ax)
    fig.canvas.draw()  # a log axis with no positive value raises here
    assert (a.get_yscale(), b.get_yscale(), c.get_yscale()) == ("linear", "linear", "log")
    plt.close(fig)


def test_the_paper_profile_s_largest_training_jobs_take_a_step():
    """`paper` cannot be smoke-run on a small CPU (its VGG alone evaluates 50,000 images per run), so its
    largest training shapes take one step here, on the device `auto` picks: the biggest lr-sweep job (every
    lr and seed of the CIFAR-10 panel stacked into one wide net, at the paper's width) and the paper VGG.
    Data are random tensors of the datasets' shapes; the loaders are tested elsewhere. The sweep job steps on
    a batch of 10 images, not its 100: its 200 stacked runs at full width are what is checked, and a CPU
    takes about a minute for the full batch."""
    from bnopt import profiles, sweeps

    s = profiles.settings("sweeps", "paper")
    assert s.device == "auto"
    job = max(sweeps.sweep_jobs(s), key=lambda j: len(j.runs()) * (j.dataset == "cifar10"))
    assert job.dataset == "cifar10" and len(job.runs()) == s.n_lrs * s.seeds
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 3, 32, 32, generator=gen), torch.randint(0, 10, (200,), generator=gen)
    assert job.batch_size >= 10
    log = sweeps.train_many(job.model_id, job.norm, job.runs(), (x[:10], y[:10]),
                            batch_size=10, width=job.width, bn_eps=job.bn_eps,
                            eval_data=(x[:20], y[:20]), device=job.device)
    assert log.loss.shape == (len(job.runs()), 1) and np.isfinite(log.initial_loss).all()

    ics = profiles.settings("ics", "paper")
    model = models.build("vgg", "bn", width=ics.vgg_width, seed=0)
    out = train.train(model, (x[:ics.batch_size], y[:ics.batch_size]),
                      train.TrainConfig(lr=ics.vgg_lrs[0], steps=1, batch_size=ics.batch_size, device="auto"),
                      loss_fn=models.loss_fn("vgg"))
    assert out.steps_run == 1 and np.isfinite(out.loss).all()


def test_a_long_loop_of_a_build_reports_its_steps(monkeypatch, tmp_path, capsys):
    log_file = tmp_path / "progress.jsonl"
    monkeypatch.setenv(results.PROGRESS_ENV, str(log_file))
    monkeypatch.setattr(smoke, "STEPS_REPORT_S", 0.0)  # report at every step
    clock = smoke.Clock("SGD", 4)
    for t in range(4):
        clock.tick(t + 1)
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(e["event"], e["done"], e["total"]) for e in events] == [("steps", 1, 4), ("steps", 2, 4), ("steps", 3, 4)]
    line = build.Progress("ics", tmp_path / "p.jsonl").line(events[1])
    assert line.startswith(f"SGD {build.bar(2, 4)} steps, about ") and "left" in line
    monkeypatch.delenv(results.PROGRESS_ENV)
    quiet = smoke.Clock("SGD", 4)  # no build reading the events: nothing is written
    quiet.tick(1)
    assert len(log_file.read_text().splitlines()) == 3


def test_a_capped_evaluation_is_the_mean_over_its_first_chunks():
    model = models.build("dln", "none", seed=0)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 10, generator=gen), torch.randn(50, 10, generator=gen)
    loss_fn = models.loss_fn("dln")
    full = train.evaluate(model, (x, y), loss_fn, batch_size=10)[0]
    assert train.evaluate(model, (x, y), loss_fn, batch_size=10, max_chunks=99)[0] == full
    two = train.evaluate(model, (x, y), loss_fn, batch_size=10, max_chunks=2)[0]
    assert two == pytest.approx(train.evaluate(model, (x[:20], y[:20]), loss_fn, batch_size=10)[0])
    assert two != pytest.approx(full)
    with pytest.raises(ValueError, match="max_chunks=0.*positive"):
        train.evaluate(model, (x, y), loss_fn, batch_size=10, max_chunks=0)


def test_a_capped_evaluation_counts_as_the_whole_in_the_estimate(monkeypatch):
    monkeypatch.setenv(smoke.SMOKE_ENV, "2")
    clock = smoke.Clock("x", 10, evals_full=1)
    assert clock.evaluation(lambda: time.sleep(0.05) or 7, share=0.25) == 7
    assert clock.eval_s == pytest.approx(4 * clock.eval_real) and clock.eval_real >= 0.05
    assert clock._measuring_s() == clock.eval_real  # the plain steps lose only the time really spent
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="share"):
            clock.evaluation(lambda: None, share=bad)


def test_a_smoke_run_evaluates_the_step_cap_of_chunks_and_scales_its_time(monkeypatch):
    seen: list[object] = []
    real = train.evaluate

    def spy(*args):
        seen.append(args[4])  # max_chunks
        return real(*args)

    monkeypatch.setattr(train, "evaluate", spy)
    clock = smoke.Clock("x", 10, evals_full=1)
    monkeypatch.setattr(clock, "evaluation", lambda fn, share=1.0: seen.append(share) or fn())
    model = models.build("dln", "none", seed=0)
    x, y = torch.randn(44, 10), torch.randn(44, 10)  # chunks of 10: bounds 0, 10, 20, 30, 44 (tail merged)
    monkeypatch.setenv(smoke.SMOKE_ENV, "2")
    train.timed_evaluation(clock, model, (x, y), models.loss_fn("dln"), 10)
    assert seen == [pytest.approx(20 / 44), 2]
    monkeypatch.delenv(smoke.SMOKE_ENV)
    seen.clear()
    train.timed_evaluation(clock, model, (x, y), models.loss_fn("dln"), 10)
    assert seen == [1.0, 4]

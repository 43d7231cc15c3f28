"""The VGG runs shared by the ICS and landscape pages, over seeds: keys, views, the gate, one training."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bnopt import claims, data, ics, profiles, results, vgg_seeds


def _acc(acc: float, steps: int = 100) -> results.Result:
    """A fake run with constant training accuracy."""
    arrays = {"steps": np.arange(steps), "accuracy": np.full(steps, acc), "planned_steps": np.array(steps),
              "diverged": np.array(False)}
    return results.Result(arrays, {"data": "synthetic"}, Path("."))


def test_views_give_each_page_its_keys_and_share_the_runs() -> None:
    specs = vgg_seeds.specs("paper")
    fake = {k: _acc(0.5) for k in specs}
    ics_view, land_view = vgg_seeds.view(fake, "ics", "paper"), vgg_seeds.view(fake, "landscape", "paper")
    assert {"vgg-bn-lr0.1", "vgg-bn-lr0.1-s2", "vgg-noisy_bn-lr0.1", "vgg-bn-lr0.5-s1"} <= set(ics_view)
    assert not any("l1" in k for k in ics_view)
    assert set(land_view) == {f"vgg-{n}{s}" for n in ("none", "bn", "l1", "l2", "linf", "linf_matched")
                              for s in ("", "-s1", "-s2")}
    assert land_view["vgg-bn-s1"] is ics_view["vgg-bn-lr0.1-s1"] is fake["bn-lr0.1-s1"]  # one training, two pages
    assert specs["bn-lr0.1-s0"].probe_every and specs["bn-lr0.1-s0"].ics_layers  # both pages' hooks on it
    assert not specs["noisy_bn-lr0.1-s0"].probe_every and not specs["bn-lr0.5-s0"].ics_layers


def test_a_net_the_profile_does_not_train_is_not_run_under_its_page_key() -> None:
    ci = vgg_seeds.specs("ci")
    view = vgg_seeds.view({k: _acc(0.5) for k in ci}, "ics", "ci")
    assert results.is_run(view["vgg-bn-lr0.1-s2"])
    for key in ("vgg-noisy_bn-lr0.1", "vgg-bn-lr0.5", "vgg-standard_noise-lr0.1"):
        assert not results.is_run(view[key]) and "not run at profile ci" in results.not_run_reason([view[key]])
    assert "vgg-bn-lr0.5-s1" not in view


def test_seeds_of_and_per_seed_keep_only_common_seeds() -> None:
    res = {"vgg-bn": _acc(0.5), "vgg-bn-s1": _acc(0.5), "vgg-bn-s2": _acc(0.5), "vgg-none": _acc(0.5),
           "vgg-none-s2": _acc(0.5), "vgg-bn-sx": _acc(0.5), "vgg-bnx-s1": _acc(0.5)}
    assert list(vgg_seeds.seeds_of(res, "vgg-bn")) == [0, 1, 2]
    assert list(vgg_seeds.per_seed(res, {"a": "vgg-bn", "b": "vgg-none"})) == [0, 2]
    assert vgg_seeds.per_seed(res, {"a": "vgg-l1"}) == {}


@pytest.mark.parametrize("acc, trains", [(0.39, False), (0.40, True), (0.9, True)])
def test_gate_at_forty_percent(acc: float, trains: bool) -> None:
    assert vgg_seeds.trains(_acc(acc).arrays) is trains


def test_vgg_verdict_every_way() -> None:
    """The gate leaves seeds out; claims.seed_verdict decides over the rest (>= MIN_SEEDS)."""
    def seeds(*accs: float) -> dict[int, dict[str, results.Result]]:
        return {s: {"standard": _acc(a)} for s, a in enumerate(accs)}

    def judge(s: dict[int, dict[str, results.Result]], holds: list[bool]) -> claims.Verdict:
        it = iter(holds)
        return vgg_seeds.vgg_verdict("X", s, "standard", lambda r: next(it), numbers={}, detail="")

    assert judge(seeds(0.5, 0.5, 0.5), [True] * 3).verdict == claims.REPRODUCED
    assert judge(seeds(0.5, 0.5, 0.5), [False] * 3).verdict == claims.NOT_REPRODUCED
    assert judge(seeds(0.5, 0.5, 0.5), [True, False, True]).verdict == claims.MIXED
    gated = judge(seeds(0.5, 0.2, 0.5), [True, True])
    assert gated.verdict == claims.NOT_TESTABLE and "not testable in seed(s) 1" in gated.detail
    assert judge(seeds(0.5, 0.5, 0.2, 0.5), [True, True, True]).verdict == claims.REPRODUCED


def test_one_training_carries_both_pages_hooks_and_they_do_not_change_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny VGG on random images: every page's arrays are there, and the hooks leave training as it was."""
    gen = torch.Generator().manual_seed(0)

    def task(train_size: int | None, test_size: int | None, seed: int, standardise: bool
             ) -> tuple[data.Dataset, data.Dataset]:
        make = lambda n: data.Dataset(torch.randn(n, 3, 32, 32, generator=gen),  # noqa: E731
                                      torch.randint(0, 10, (n,), generator=gen), "synthetic", "train")
        return make(256), make(64)

    monkeypatch.setattr(data, "cifar10_task", task)
    spec = replace(vgg_seeds.specs("ci")["bn-lr0.1-s0"], width=1, steps=12, eval_every=6, ics_every=4,
                   act_every=4, probe_every=4, probe_every_early=2, sharpness_every=6, lanczos_iters=3,
                   theorem_every=6, theorem_units=1)
    out = vgg_seeds.run(spec)
    for name in ("ics_cos", "probe_loss", "sharpness", "thm_exact_lhs_41", "act_layer3_quantiles",
                 "clean_train_accuracy", "clean_test_accuracy", "test_accuracy"):
        assert name in out, name
    gen.manual_seed(0)
    bare = vgg_seeds.run(replace(spec, ics_layers=(), probe_every=0, sharpness_every=0, theorem_every=0))
    np.testing.assert_array_equal(out["loss"], bare["loss"])
    assert ics.final_train_accuracy(out) == ics.final_train_accuracy(bare)


def test_ci_judges_the_core_runs_over_three_seeds() -> None:
    s = profiles.settings("ics", "ci")
    assert s.vgg_seeds >= vgg_seeds.MIN_SEEDS and s.vgg_other_seeds == 0
    assert all(profiles.settings("ics", p).vgg_other_seeds >= vgg_seeds.MIN_SEEDS for p in ("workstation", "paper"))


def test_the_seed_figure_draws_every_net_of_the_paper_profile() -> None:
    """Every (method, lr) the paper and workstation profiles train has a colour (the noise without BN too)."""
    import matplotlib

    matplotlib.use("Agg")
    from bnopt import vgg_seeds_plots

    view = vgg_seeds.view({k: _acc(0.5) for k in vgg_seeds.specs("paper")}, "ics", "paper")
    plan = [(m, lr) for m, lr, n in vgg_seeds.plan("paper") if n and m in ics.METHODS]
    assert ("standard_noise", 0.1) in plan
    fig = vgg_seeds_plots.accuracy_seeds_figure(view, plan)
    assert len(fig.axes[0].get_xticklabels()) == len(plan)

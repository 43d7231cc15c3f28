"""DLN seed study: the loss conventions are the same runs, the hooks measure what they say, and the
S4–S7 verdicts over seeds go every way they can (reproduced, not reproduced, mixed, not testable)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bnopt import claims, data, dln_seeds, ics, landscape, models, train


def _res(arrays: dict, lr: float = 1e-6) -> "dln_seeds.results.Result":
    return dln_seeds.results.Result(arrays, {"data": "synthetic", "config": {"lr": lr}}, Path("."))


# --- conventions and hooks ------------------------------------------------------------------------


def test_half_sum_loss_at_lr_is_the_summed_loss_at_half_the_lr() -> None:
    """The reason a convention is run as the summed loss at lr × CONVENTIONS[c]."""
    x, y = data.dln_task(50, 4, seed=1)
    half = models.build("dln", "bn", width=4, depth=4, seed=2)
    summed = models.build("dln", "bn", width=4, depth=4, seed=2)
    lr = 1e-3
    train.train(half, (x, y), train.TrainConfig(lr=lr, steps=5, progress=False),
                loss_fn=lambda out, t: 0.5 * models.loss_fn("dln")(out, t))
    train.train(summed, (x, y), train.TrainConfig(lr=lr * dln_seeds.CONVENTIONS["half_sum"], steps=5,
                                                  progress=False), loss_fn=models.loss_fn("dln"))
    for a, b in zip(half.parameters(), summed.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="unknown loss convention 'mean'"):
        dln_seeds.lr_of(dln_seeds.profiles.settings("dln_seeds", "ci"), "mean")


def test_readings_are_the_conventions_then_their_float32_runs() -> None:
    ci = dln_seeds.profiles.settings("dln_seeds", "ci")
    assert dln_seeds.readings(ci) == ("half_sum", "sum", "half_sum_float32")
    assert dln_seeds.convention_of("half_sum_float32") == "half_sum"
    assert (dln_seeds.engine_of("sum"), dln_seeds.engine_of("half_sum_float32")) == ("moments", "autograd")
    assert dln_seeds.lr_of(ci, "half_sum_float32") == dln_seeds.lr_of(ci, "half_sum") == 0.5e-6
    assert dln_seeds.short_label("half_sum_float32") == "½·sum f32" and dln_seeds.short_label("sum") == "sum"
    with pytest.raises(ValueError, match="unknown loss convention 'mean' .reading 'mean_float32'"):
        dln_seeds.engine_of("mean_float32")
    with pytest.raises(ValueError, match="names conventions, not readings"):
        dln_seeds.readings(dln_seeds.replace(ci, float32_conventions=("sum_float32",)))


def test_the_float32_reading_trains_the_same_seed_per_sample_in_float32() -> None:
    """Same lr, data and initial weights as its float64 reading; engine autograd, every other setting equal."""
    ics_specs, land = dln_seeds.ics_specs("workstation"), dln_seeds.landscape_specs("ci")
    for specs, method in ((ics_specs, "bn"), (land, "none")):
        f32, f64 = specs[f"half_sum_float32-s3-{method}"], specs[f"half_sum-s3-{method}"]
        assert f32.engine == "autograd" and f64.engine in ("moments", "auto")
        assert dln_seeds.replace(f32, engine=f64.engine) == f64
    assert len(ics_specs) == 3 * 10 * 2 and len(land) == 3 * 10 * 2
    ci = dln_seeds.profiles.settings("dln_seeds", "ci")  # ci: float32 for the probed runs only (budget)
    assert len(dln_seeds.ics_specs("ci")) == 2 * 10 * 2 and dln_seeds.ics_readings(ci) == ("half_sum", "sum")
    spec = dln_seeds.ICSRun("bn", 1e-4, 4, 64, 4, (2,), 2, 2, seed=1, engine="autograd")
    out = dln_seeds.run_ics(spec)
    x, y = data.dln_task(64, models.DEFAULT_WIDTH["dln"], 1)
    net = models.build("dln", "bn", depth=4, seed=1)
    assert next(net.parameters()).dtype == torch.float32
    log = train.train(net, (x, y), train.TrainConfig(lr=1e-4, steps=4, seed=1, progress=False, engine="autograd"),
                      loss_fn=models.loss_fn("dln"))
    np.testing.assert_array_equal(out["loss"], log.loss)  # the float32 run is the plain autograd run
    f64 = dln_seeds.run_ics(dln_seeds.replace(spec, engine="moments"))
    np.testing.assert_allclose(f64["loss"], log.loss, rtol=1e-4)  # same dynamics, other rounding
    assert out["ics_cos"].shape == (2, 1) and np.isfinite(out["ics_cos"]).all()


class _State:
    def __init__(self, step: int, g: torch.Tensor) -> None:
        self.step, self.grads = step, {"w": g}


def test_gradient_flips_measure_cos_between_consecutive_steps() -> None:
    hook = dln_seeds.GradientFlips(every=3)
    g = torch.tensor([1.0, 2.0])
    for step, grad in enumerate([g, -g, g, g, 2 * g, 5 * g, g]):
        hook.after_step(_State(step, grad))
    out = hook.arrays()
    assert out["flip_steps"].tolist() == [0, 3, 6][:2] and np.allclose(out["flip_cos"], [-1.0, 1.0])
    with pytest.raises(ValueError, match="every=1"):
        dln_seeds.GradientFlips(every=1)


def test_divergence_search_finds_the_first_diverging_factor() -> None:
    cfg = dln_seeds.DivergenceSearch(lr=1e-4, factors=(1, 1e3, 1e6), steps=50, samples=100, depth=3, seeds=2)
    out = dln_seeds.run_divergence(cfg)
    f = out["first_diverging_factor"]
    assert f.shape == (2,) and np.all(np.isin(f, [1e3, 1e6]))  # lr 1e-4 trains, 1e2 or 1e-1 blows up
    none = dln_seeds.run_divergence(dln_seeds.DivergenceSearch(1e-6, (1.0,), 20, 100, 3, 1))
    assert np.isinf(none["first_diverging_factor"]).all()


def test_headline_convention_is_the_one_nearest_30_lr() -> None:
    near_sum = _res({"first_diverging_factor": np.array([28.0, 35.0, 31.0])})
    near_half = _res({"first_diverging_factor": np.array([7.0, 5.0, 5.0])})  # half_sum: 14, 10, 10
    assert dln_seeds.headline_convention(near_sum) == "sum"
    assert dln_seeds.headline_convention(near_half) == "half_sum"
    assert np.allclose(dln_seeds.divergence_factors(near_half, "half_sum"), [14, 10, 10])


# --- verdicts over seeds on synthetic studies ------------------------------------------------------


def _ics_run(cos: float, n: int = 20) -> dln_seeds.results.Result:
    return _res({"ics_steps": np.arange(n), "ics_layers": np.array([9, 17]), "ics_cos": np.full((n, 2), cos),
                 "flip_cos": np.array([-1.0, 1.0])})


def _ics_study(bn_cos: list[float], std_cos: float = 0.9, conventions=("half_sum", "sum", "half_sum_float32"),
               n: int = 20) -> dict:
    runs = {}
    for c in conventions:
        for seed, cb in enumerate(bn_cos):
            runs[f"{c}-s{seed}-standard"], runs[f"{c}-s{seed}-bn"] = _ics_run(std_cos, n), _ics_run(cb, n)
    return runs


def _page(study: dict, div: float = 5.0) -> dict:
    page = {dln_seeds.PREFIX + k: r for k, r in study.items()}
    page[dln_seeds.PREFIX + "divergence"] = _res({"first_diverging_factor": np.full(3, div)})
    return page


@pytest.mark.parametrize("bn_cos, word", [
    ([0.1] * 10, claims.REPRODUCED),  # every seed: BN's G' uncorrelated with G
    ([0.95] * 10, claims.NOT_REPRODUCED),  # BN raises the cosine: it reduces ICS
    ([-0.8] * 10, claims.NOT_REPRODUCED),  # anti-correlated is not "nearly uncorrelated"
    ([0.1] * 6 + [-0.8] * 4, claims.MIXED),  # seeds split 6 / 4
])
def test_s4_over_seeds_every_way(bn_cos: list[float], word: str) -> None:
    v = ics.verdict_s4(_page(_ics_study(bn_cos)), "ci")
    assert v.verdict == word, v
    assert len(v.seeds) == 10 and v.readings[0][0].startswith("½·sum") and "headline" in v.readings[0][0]


def test_s4_not_testable_with_too_few_seeds_or_measurements() -> None:
    assert ics.verdict_s4(_page(_ics_study([0.1] * 5)), "ci").verdict == claims.NOT_TESTABLE
    assert ics.verdict_s4(_page(_ics_study([0.1] * 10, n=5)), "ci").verdict == claims.NOT_TESTABLE
    assert ics.verdict_s4({}, "ci").verdict == claims.NOT_TESTABLE


def test_s4_headline_follows_the_convention_the_divergence_supports() -> None:
    study = {**_ics_study([0.1] * 10, conventions=("half_sum",)), **_ics_study([0.95] * 10, conventions=("sum",))}
    assert ics.verdict_s4(_page(study, div=5.0), "ci").verdict == claims.REPRODUCED  # ½·sum nearer 30 × lr
    v = ics.verdict_s4(_page(study, div=30.0), "ci")  # now the sum is
    assert v.verdict == claims.NOT_REPRODUCED and v.readings[0][0] == "sum over samples (headline)"
    assert v.readings[1] == ("½·sum (TensorFlow l2_loss)", "reproduced, "
                                                                    "holds in 10 of 10 seeds (seeds 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)")


def test_s4_carries_the_float32_reading_beside_the_float64_headline() -> None:
    study = {**_ics_study([0.1] * 10, conventions=("half_sum", "sum")),
             **_ics_study([0.95] * 10, conventions=("half_sum_float32",))}
    v = ics.verdict_s4(_page(study, div=5.0), "workstation")
    assert v.verdict == claims.REPRODUCED  # the headline is float64 ½·sum
    assert v.readings[2][0] == "½·sum (TensorFlow l2_loss), float32 per sample"
    assert v.readings[2][1].startswith(claims.NOT_REPRODUCED)
    missing = ics.verdict_s4(_page(_ics_study([0.1] * 10, conventions=("half_sum", "sum")), div=5.0), "workstation")
    assert missing.verdict == claims.REPRODUCED and missing.readings[2][1].startswith(claims.NOT_TESTABLE)
    assert len(ics.verdict_s4(_page(study, div=5.0), "ci").readings) == 2  # ci runs no float32 ICS runs


def _probed(scale: float, trained: bool = True, probes: int = 40, steps: int = 400) -> dln_seeds.results.Result:
    rng = np.random.default_rng(0)
    base = rng.uniform(1, 2, (probes, 4))
    return _res({"probe_steps": np.arange(probes) * (steps // probes), "planned_steps": np.array(steps),
                 "probe_loss": 2 + scale * base, "probe_grad_change": scale * base,
                 "probe_eta": np.tile([0.1, 0.2, 0.3, 0.4], (probes, 1)), "probe_dnorm": np.ones(probes),
                 "loss": np.concatenate([[10.0 if trained else 1.0], np.ones(steps - 1)]),
                 "diverged": np.array(False), "sharpness_steps": np.array([0, 100]), "sharpness": np.array([1e6, 2e6]),
                 "steps": np.arange(steps), "accuracy": np.full(steps, 0.6)})


def _probed_study(std_scales: list[float], trained: bool = True) -> dict:
    runs = {}
    for c in ("half_sum", "sum", "half_sum_float32"):
        for seed, sc in enumerate(std_scales):
            runs[f"{c}-s{seed}-none"], runs[f"{c}-s{seed}-bn"] = _probed(sc, trained), _probed(1.0)
    return runs


@pytest.mark.parametrize("claim", ["S5", "S6", "S7"])
@pytest.mark.parametrize("scales, word", [([10.0] * 10, claims.REPRODUCED), ([1.0] * 10, claims.NOT_REPRODUCED),
                                          ([10.0] * 5 + [1.0] * 5, claims.MIXED)])
def test_smoothness_over_seeds_every_way(claim: str, scales: list[float], word: str) -> None:
    v = landscape.CLAIMS[claim][0](_page(_probed_study(scales)), "ci")
    assert v.verdict == word, v
    assert "VGG: not testable at this scale (not run" in v.detail


@pytest.mark.parametrize("claim", ["S5", "S6", "S7"])
def test_smoothness_not_testable_when_the_standard_dln_did_not_train(claim: str) -> None:
    v = landscape.CLAIMS[claim][0](_page(_probed_study([10.0] * 10, trained=False)), "ci")
    assert v.verdict == claims.NOT_TESTABLE and "0 tested seed(s), 10 needed" in v.detail


def test_a_rougher_bn_vgg_keeps_smoothness_from_reproduced() -> None:
    page = _page(_probed_study([10.0] * 10))
    for suffix in ("", "-s1", "-s2"):  # three VGG seeds
        page["vgg-none" + suffix], page["vgg-bn" + suffix] = _probed(1.0), _probed(10.0)
    assert landscape.verdict_s7(page, "ci").verdict == claims.MIXED  # DLN holds, VGG does not
    for suffix in ("", "-s1", "-s2"):
        page["vgg-none" + suffix] = _probed(100.0)
    assert landscape.verdict_s7(page, "ci").verdict == claims.REPRODUCED


def test_edge_of_stability_reads_lr_lambda_over_two() -> None:
    study = _probed_study([10.0] * 3)
    eos = dln_seeds.edge_of_stability(study, "sum", "bn")
    assert eos["lr_lambda_half"].shape == (3, 2) and np.allclose(eos["lr_lambda_half"][0], [0.5, 1.0])
    assert dln_seeds.late_half(eos).tolist() == [1.0, 1.0, 1.0]  # step 100 of 0..100
    assert dln_seeds.flip_share(_ics_study([0.1] * 2), "sum", "bn").tolist() == [0.5, 0.5]
    assert math.isclose(dln_seeds.flip_share(_ics_study([0.1]), "half_sum", "standard")[0], 0.5)


def test_the_seed_figures_draw_one_panel_per_reading() -> None:
    import matplotlib
    matplotlib.use("Agg")
    from bnopt import dln_seeds_plots

    names = dln_seeds.readings(dln_seeds.profiles.settings("dln_seeds", "ci"))
    probed, ics_runs = _probed_study([10.0] * 3), _ics_study([0.1] * 3)
    div = _res({"first_diverging_factor": np.full(3, 5.0)})
    assert len(dln_seeds_plots.ics_seeds_figure(ics_runs, (9, 17), names).axes) == 3
    assert len(dln_seeds_plots.smoothness_seeds_figure(probed, names).axes) == 3
    edge = dln_seeds_plots.edge_figure(probed, ics_runs, div, names)
    assert len(edge.axes[1].get_xticks()) == 6 and len(edge.axes[2].get_xticks()) == 2  # divergence: float64 only
    no_f32 = dln_seeds_plots.edge_figure(probed, _ics_study([0.1] * 3, conventions=("half_sum", "sum")), div, names)
    assert len(no_f32.axes[1].get_xticks()) == 4  # the flips panel: only readings with ICS runs

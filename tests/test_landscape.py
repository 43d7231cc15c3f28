"""Landscape probes: exact values on a quadratic, no side effects on training, verdicts both ways."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bnopt import claims, data, landscape, landscape_plots, models, norms, profiles, results, train
from test_dln_seeds import _page, _probed_study

ETAS = np.array([0.01, 0.05, 0.2])


def _least_squares() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A linear net with mean-square loss: Hessian H = 2 XᵀX / n over (w, b), known exactly."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 1)).double(), torch.randn(30, 4).double(), torch.randn(30, 1).double()


@pytest.mark.parametrize("vectorised", [False, True])
def test_probe_on_a_quadratic_matches_closed_form(vectorised: bool) -> None:
    net, x, y = _least_squares()
    xb = torch.cat([x, torch.ones(30, 1, dtype=x.dtype)], 1)
    h = 2 * xb.T @ xb / 30
    w = torch.cat([net[0].weight.detach().reshape(-1), net[0].bias.detach()])
    g = h @ w - 2 * xb.T @ y.reshape(-1) / 30
    p = landscape.probe_landscape(net, x, y, nn.functional.mse_loss, ETAS, vectorised=vectorised)
    # ∇L(x) − ∇L(x − ηg) = η H g exactly, so the effective β is ‖Hg‖/‖g‖ at every η
    np.testing.assert_allclose(p.grad_change, ETAS * float((h @ g).norm()), rtol=1e-10)
    assert p.beta == pytest.approx(float((h @ g).norm() / g.norm()), rel=1e-10)
    assert p.direction_norm == pytest.approx(float(g.norm()), rel=1e-12)
    loss = [float(((xb @ (w - e * g) - y.reshape(-1)) ** 2).mean()) for e in ETAS]
    np.testing.assert_allclose(p.loss, loss, rtol=1e-10)


def _naive_probe(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, etas) -> tuple[list, list]:
    """Reference: a deep copy of the model per step size."""
    base = copy.deepcopy(model)
    g = torch.autograd.grad(loss_fn(base(x), y), list(base.parameters()))
    losses, changes = [], []
    for eta in etas:
        m = copy.deepcopy(model)
        with torch.no_grad():
            for p, gi in zip(m.parameters(), g):
                p -= eta * gi
        loss = loss_fn(m(x), y)
        ge = torch.autograd.grad(loss, list(m.parameters()))
        losses.append(loss.item())
        changes.append(float(torch.sqrt(sum(((a - b).double() ** 2).sum() for a, b in zip(ge, g)))))
    return losses, changes


@pytest.mark.parametrize("model_id, norm", [("dln", "l1"), ("vgg", "bn")])
def test_loop_and_vmap_agree_with_naive_probe(model_id: str, norm: str) -> None:
    kw = {"depth": 5} if model_id == "dln" else {"width": 2}
    net = models.build(model_id, norm, seed=1, **kw)
    if model_id == "dln":
        x, y = torch.randn(64, 10), torch.randn(64, 10)
    else:
        x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    lf = models.loss_fn(model_id)
    losses, changes = _naive_probe(net, x, y, lf, ETAS)
    for vectorised in (False, True):
        p = landscape.probe_landscape(net, x, y, lf, ETAS, vectorised=vectorised)
        np.testing.assert_allclose(p.loss, losses, rtol=1e-4)
        np.testing.assert_allclose(p.grad_change, changes, rtol=1e-3)


def _state(model: nn.Module) -> dict:
    return {"params": [p.detach().clone() for p in model.parameters()],
            "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
            "buffers": [b.clone() for b in model.buffers()], "rng": torch.get_rng_state(),
            "noise": [layer.generator(torch.device("cpu")).get_state() for layer in norms.noise_layers(model)],
            "modes": [m.training for m in model.modules()]}


def _same(a: dict, b: dict) -> bool:
    eq = lambda u, v: (u is None and v is None) or (u is not None and v is not None and torch.equal(u, v))  # noqa: E731
    return (all(eq(u, v) for u, v in zip(a["params"], b["params"])) and all(eq(u, v) for u, v in zip(a["grads"], b["grads"]))
            and all(torch.equal(u, v) for u, v in zip(a["buffers"], b["buffers"])) and torch.equal(a["rng"], b["rng"])
            and all(torch.equal(u, v) for u, v in zip(a["noise"], b["noise"])) and a["modes"] == b["modes"])


@pytest.mark.parametrize("direction", landscape.DIRECTIONS)
def test_probe_leaves_weights_running_stats_and_rng_exactly(direction: str) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 6), norms.BatchNorm(6, track_running_stats=True), nn.ReLU(),
                        nn.Linear(6, 6), norms.NoisyBatchNorm(6, seed=3), nn.Linear(6, 2))
    x, y = torch.randn(20, 5), torch.randint(0, 2, (20,))
    net.eval()  # a mode the probe must switch (to training) and switch back
    nn.functional.cross_entropy(net(x), y).backward()  # leave stale gradients that must survive
    assert not landscape.is_pure(net)
    before = _state(net)
    p = landscape.probe_landscape(net, x, y, nn.functional.cross_entropy, ETAS, direction)
    assert _same(before, _state(net))
    assert np.all(np.isfinite(p.loss))
    with pytest.raises(ValueError, match="vectorised=True"):
        landscape.probe_landscape(net, x, y, nn.functional.cross_entropy, ETAS, vectorised=True)


def test_probe_sees_running_stats_move_but_restores_them() -> None:
    net = nn.Sequential(nn.Linear(3, 4), norms.BatchNorm(4, track_running_stats=True), nn.Linear(4, 1))
    x, y = torch.randn(10, 3) + 5, torch.randn(10, 1)
    mean = net[1].running_mean.clone()
    landscape.probe_landscape(net, x, y, nn.functional.mse_loss, ETAS)
    assert torch.equal(mean, net[1].running_mean)
    net(x)  # a plain training forward does move them (the check above is not vacuous)
    assert not torch.equal(mean, net[1].running_mean)


def test_a_probe_costs_at_most_n_plus_one_passes() -> None:
    net = models.build("dln", "bn", depth=3, seed=0)
    calls = []
    net.register_forward_pre_hook(lambda *_: calls.append(1))
    x, y = torch.randn(32, 10), torch.randn(32, 10)
    for vectorised, most in ((False, len(ETAS) + 1), (True, 2)):
        calls.clear()
        landscape.probe_landscape(net, x, y, models.loss_fn("dln"), ETAS, vectorised=vectorised)
        assert len(calls) <= most


def test_random_direction_norm_and_determinism() -> None:
    like = [torch.zeros(3, 4), torch.zeros(5)]
    d1, d2 = landscape.random_direction(like, 2.5, 7), landscape.random_direction(like, 2.5, 7)
    assert landscape._total_norm(d1) == pytest.approx(2.5)
    assert all(torch.equal(a, b) for a, b in zip(d1, d2))
    assert not torch.equal(d1[0], landscape.random_direction(like, 2.5, 8)[0])


def test_bad_arguments_name_the_fix() -> None:
    net, x, y = _least_squares()
    with pytest.raises(ValueError, match="'sideways'"):
        landscape.probe_landscape(net, x, y, nn.functional.mse_loss, ETAS, "sideways")
    with pytest.raises(ValueError, match="positive step sizes"):
        landscape.probe_landscape(net, x, y, nn.functional.mse_loss, [0.1, -1.0])
    with pytest.raises(ValueError, match="empty"):
        landscape.eta_grid(0.1, 4, 0.5, 3)


def test_probes_do_not_change_training() -> None:
    """The same run with and without every hook gives bit-identical losses (noisy BN: RNG too)."""
    x, y = data.dln_task(64, 10, 0)
    cfg = train.TrainConfig(lr=1e-4, steps=12, batch_size=16, progress=False)
    logs, hooks = [], []
    for with_hooks in (False, True):
        net = models.build("dln", "noisy_bn", depth=4, seed=0)
        hk = [landscape.LandscapeProbe(3, [0.5, 2.0], landscape.DIRECTIONS),
              landscape.SharpnessProbe(4, 3)] if with_hooks else []
        logs.append(train.train(net, (x, y), cfg, hooks=hk, loss_fn=models.loss_fn("dln")))
        hooks = hk
    np.testing.assert_array_equal(logs[0].loss, logs[1].loss)
    arrays = hooks[0].arrays()
    np.testing.assert_array_equal(arrays["probe_steps"], [0, 3, 6, 9])
    assert arrays["probe_loss"].shape == (4, 2) and arrays["probe_random_grad_change"].shape == (4, 2)
    np.testing.assert_array_equal(hooks[1].arrays()["sharpness_steps"], [0, 4, 8])


def test_summaries_on_known_arrays() -> None:
    r = {"probe_loss": np.array([[1.0, 3.0, 2.0], [1.0, np.nan, 0.5]]),
         "probe_grad_change": np.array([[1.0, 2.0, 6.0], [0.1, 0.2, 0.3]]),
         "probe_eta": np.array([[1.0, 2.0, 3.0]] * 2), "probe_dnorm": np.array([1.0, 0.1])}
    lo, hi = landscape.loss_band(r)
    np.testing.assert_array_equal(lo, [1.0, 0.5])
    np.testing.assert_array_equal(hi, [3.0, np.inf])  # a blown-up probe counts as infinitely bad
    np.testing.assert_allclose(landscape.effective_beta(r), [2.0, 1.0])


# --- verdicts on synthetic results ---------------------------------------------------------------


def _fake(scale: float, steps: int = 200, probes: int = 40, final_loss: float = 1.0, shift: float = 0.1,
          gap: float = 1e-14, trained: bool = True) -> results.Result:
    """A stored-looking result whose probe quantities are `scale` times a common base (trained: 60 % accuracy)."""
    rng = np.random.default_rng(0)
    base = rng.uniform(1, 2, (probes, 4))
    eta = np.tile([0.1, 0.2, 0.3, 0.4], (probes, 1))
    lhs = rng.uniform(1, 2, (3, 5))
    arrays = {"probe_steps": np.arange(probes) * (steps // probes), "planned_steps": np.array(steps),
              "probe_loss": 2 + scale * base, "probe_grad_change": scale * base, "probe_eta": eta,
              "probe_dnorm": np.ones(probes),
              "loss": np.concatenate([[10.0 * final_loss if trained else final_loss], np.full(steps - 1, final_loss)]), "diverged": np.array(False),
              "steps_run": np.array(steps), "act_steps": np.array([0, 100]), "act_layers": np.array([3]),
              "act_layer3_mean": np.array([0.0, shift]), "act_layer3_std": np.array([1.0, 1.0]),
              "theorem_steps": np.array([0, 50, 100]), "steps": np.arange(steps),
              "accuracy": np.full(steps, 0.6 if trained else 0.1)}
    for kind in ("exact", "trained"):
        for thm in ("41", "42"):
            arrays[f"thm_{kind}_lhs_{thm}"] = lhs
            arrays[f"thm_{kind}_rhs_{thm}"] = lhs * (1 + (gap if kind == "exact" else 1e-5))
    return results.Result(arrays, {"data": "synthetic"}, Path("."))


VGG_SEEDS = (0, 1, 2)


def _seeded(key: str, seed: int) -> str:
    """The page key of a VGG run's seed (seed 0 carries no suffix)."""
    return key if seed == 0 else f"{key}-s{seed}"


def _runs(standard: float, bn: float, **kw: float) -> dict[str, results.Result]:
    """Every DLN net once and every VGG net for VGG_SEEDS."""
    out = {f"dln-{n}": _fake(standard if n == "none" else bn, **kw) for n in landscape.NORM_ORDER}
    out.update({_seeded(f"vgg-{n}", s): _fake(standard if n == "none" else bn, **kw)
                for n in landscape.NORM_ORDER for s in VGG_SEEDS})
    return out


def _set_vgg(runs: dict[str, results.Result], key: str, run: results.Result, seeds: tuple[int, ...] = VGG_SEEDS) -> None:
    """Put `run` as VGG run `key` of `seeds`."""
    for s in seeds:
        runs[_seeded(key, s)] = run


@pytest.mark.parametrize("claim", ["S5", "S6", "S7"])
def test_smoothness_verdicts_every_way(claim: str) -> None:
    """VGG over its seeds beside the DLN over seeds; the DLN alone goes every way in test_dln_seeds."""
    fn = landscape.CLAIMS[claim][0]
    good = fn({**_runs(10.0, 1.0), **_page(_probed_study([10.0] * 10))}, "ci")
    assert good.verdict == claims.REPRODUCED and good.numbers["VGG: ratio, seed 0"] == pytest.approx(10.0, rel=0.2)
    assert good.numbers["DLN: median ratio over seeds"] == pytest.approx(10.0, rel=0.2)
    assert fn({**_runs(1.0, 1.0), **_page(_probed_study([1.0] * 10))}, "ci").verdict == claims.NOT_REPRODUCED
    few = fn({**_runs(10.0, 1.0, probes=2), **_page(_probed_study([10.0] * 10, trained=False))}, "ci")
    assert few.verdict == claims.NOT_TESTABLE and "VGG: not testable" in few.detail
    split = {**_runs(10.0, 1.0), **_page(_probed_study([10.0] * 10))}
    _set_vgg(split, "vgg-none", _fake(1.0), (1,))  # one VGG seed of three: no smoother with BN
    v = fn(split, "ci")
    assert v.verdict == claims.MIXED and "VGG: mixed, holds in 2 of 3 seeds" in v.detail
    rough = {**_runs(1.0, 1.0), **_page(_probed_study([10.0] * 10))}  # the VGG fails, the DLN holds
    assert fn(rough, "ci").verdict == claims.MIXED


@pytest.mark.parametrize("claim", ["S5", "S6", "S7"])
def test_a_standard_net_that_did_not_train_is_not_judged(claim: str) -> None:
    fn = landscape.CLAIMS[claim][0]
    runs = {**_runs(10.0, 1.0), **_page(_probed_study([10.0] * 10))}
    _set_vgg(runs, "vgg-none", _fake(10.0, trained=False))  # below the gate in every seed
    v = fn(runs, "ci")
    assert v.verdict == claims.REPRODUCED and "VGG: not testable" in v.detail and "0 tested seed(s)" in v.detail
    _set_vgg(runs, "vgg-none", _fake(10.0), (0, 1))  # two seeds above the gate: still fewer than three
    assert "VGG: not testable" in fn(runs, "ci").detail


def test_s8_every_way() -> None:
    runs = _runs(10.0, 1.0)
    runs["dln-l1"] = _fake(1.0, final_loss=0.5)
    assert landscape.verdict_s8(runs, "ci").verdict == claims.REPRODUCED
    runs["dln-l1"] = _fake(1.0, final_loss=1.5)  # l1 no better than BN on the DLN; the VGG holds
    v = landscape.verdict_s8(runs, "ci")
    assert v.verdict == claims.MIXED and "l1 training loss" in v.detail
    _set_vgg(runs, "vgg-l2", _fake(20.0))  # 20x rougher than BN in every seed: both halves fail
    assert landscape.verdict_s8(runs, "ci").verdict == claims.NOT_REPRODUCED
    assert landscape.verdict_s8(_runs(10.0, 1.0, steps=50, probes=10), "ci").verdict == claims.NOT_TESTABLE


def test_s9_every_way() -> None:
    runs: dict[str, results.Result] = {}
    _set_vgg(runs, "vgg-none", _fake(1.0, shift=0.1))
    for p in ("l1", "l2", "linf"):
        _set_vgg(runs, f"vgg-{p}", _fake(1.0, shift=0.5))
    assert landscape.verdict_s9(runs, "ci").verdict == claims.REPRODUCED
    _set_vgg(runs, "vgg-l2", _fake(1.0, shift=0.05), (2,))
    assert landscape.verdict_s9(runs, "ci").verdict == claims.MIXED
    _set_vgg(runs, "vgg-l2", _fake(1.0, shift=0.05))
    assert landscape.verdict_s9(runs, "ci").verdict == claims.NOT_REPRODUCED
    _set_vgg(runs, "vgg-none", _fake(1.0, shift=0.01, trained=False))
    assert landscape.verdict_s9(runs, "ci").verdict == claims.NOT_TESTABLE
    assert landscape.verdict_s9({"vgg-none": runs["vgg-none"]}, "ci").verdict == claims.NOT_TESTABLE


def test_s10_both_ways() -> None:
    assert landscape.verdict_s10({"dln-bn": _fake(1.0)}, "ci").verdict == claims.REPRODUCED
    assert landscape.verdict_s10({"dln-bn": _fake(1.0, gap=1e-3)}, "ci").verdict == claims.NOT_REPRODUCED
    assert landscape.verdict_s10({}, "ci").verdict == claims.NOT_TESTABLE


def test_profiles_and_run_specs() -> None:
    from bnopt import vgg_seeds

    for profile in profiles.PROFILES:
        assert set(landscape.run_specs(profile)) == {f"dln-{n}" for n in landscape.NORM_ORDER} | {landscape.MATCHED}
        specs = vgg_seeds.specs(profile)
        page = {k for k, spec in specs.items()
                if vgg_seeds._page_key(spec.method, spec.lr, spec.seed, "landscape", 0.1) is not None}
        assert {"standard-lr0.1-s0", "bn-lr0.1-s0", "bn-lr0.1-s2"} <= page
        assert ("l1-lr0.1-s0" in page) == (profile != "ci")  # ci trains the standard and BN nets only
        assert ("linf_matched-lr0.1-s2" in page) == (profile != "ci")
        assert all(specs[k].probe_every > 0 for k in page)
        view = vgg_seeds.view({k: None for k in specs}, "landscape", profile)
        assert {"vgg-none", "vgg-bn", "vgg-l1", "vgg-l2", "vgg-linf"} <= set(view)
    paper, vgg = profiles.settings("landscape", "paper"), profiles.settings("ics", "paper")
    assert (vgg.vgg_lrs[0], vgg.vgg_steps, vgg.batch_size, paper.dln_lr, paper.dln_steps) == (0.1, 15000, 128, 1e-6, 10000)
    assert paper.vgg_eta == (0.5, 4.0) and paper.dln_eta == (0.01, 30.0)


def test_a_diverging_run_is_recorded_and_drawn() -> None:
    import matplotlib
    matplotlib.use("Agg")
    from bnopt import landscape_plots

    spec = landscape.RunSpec("dln", "none", None, 1e-3, 30, None, 100, 0, None, 5, 0, 0.01, 30.0, 3, False,
                             10, 3, 0, 1, 1, 0, (), 0)
    out = landscape.run_experiment(spec)
    assert bool(out["diverged"]) and out["diverged_at"] < 30 and out["planned_steps"] == 30
    assert out["probe_steps"].max() <= out["diverged_at"]
    res = {"dln-none": results.Result({k: np.asarray(v) for k, v in out.items()},
                                      {"config": {"lr": 1e-3}, "data": "synthetic"}, Path("."))}
    fig = landscape_plots.landscape_figure(res, "dln")
    assert any(line.get_marker() == "x" for ax in fig.axes for line in ax.lines)  # drawn as diverged


def test_vmap_only_where_it_pays() -> None:
    assert landscape.vmap_pays(models.build("dln", "bn", depth=3))
    assert not landscape.vmap_pays(models.build("vgg", "bn", width=2))  # conv: the loop is faster on CPU
    assert not landscape.vmap_pays(nn.Sequential(nn.Linear(2, 2), norms.BatchNorm(2, track_running_stats=True)))


def test_loss_rises_counts_increases_and_the_largest_factor() -> None:
    """Rises are counted step by step; a monotone run has none (factor 1)."""
    assert landscape.loss_rises({"loss": np.array([4.0, 2.0, 3.0, 1.0, 2.5])}) == (2, 4, 2.5)
    assert landscape.loss_rises({"loss": np.array([3.0, 2.0, 1.0])}) == (0, 2, 1.0)


def test_early_progress_reads_the_end_of_the_first_tenth() -> None:
    """Loss 10 → 0 linearly over 200 steps: the first 20 steps end at steps 18–19, mean 9.075 / 10."""
    res = {"loss": np.linspace(10.0, 0.0, 201)[:200], "planned_steps": np.array(200)}
    assert landscape.early_progress(res) == pytest.approx((9.1 + 9.05) / 2 / 10.0)
    flat = {"loss": np.full(50, 2.3), "planned_steps": np.array(50)}
    assert landscape.early_progress(flat) == pytest.approx(1.0)
    assert np.isnan(landscape.early_progress({"loss": np.zeros(10), "planned_steps": np.array(10)}))


def _without_vgg(standard: float = 10.0, bn: float = 1.0) -> dict[str, results.Result]:
    """`_runs` with every VGG run "not run" (CIFAR-10 absent)."""
    why = "data not found: cifar10 needs cifar-10/cifar-10-binary.tar.gz in /nowhere"
    return {k: results.not_run(f"landscape-{k}", why, "ci") if k.startswith("vgg") else r
            for k, r in _runs(standard, bn).items()}


def test_absent_cifar10_leaves_dln_verdicts_and_makes_vgg_only_ones_not_run() -> None:
    runs = {**_without_vgg(), **_page(_probed_study([10.0] * 10))}
    runs["dln-l1"] = _fake(1.0, final_loss=0.5)
    found = {v.claim_id: v for v in landscape.verdicts(runs, "ci")}
    for cid in ("S5", "S6", "S7"):
        assert found[cid].verdict == claims.REPRODUCED and "VGG: not testable" in found[cid].detail
        assert "not run: the VGG runs were not made (data not found)" in found[cid].detail
    assert found["S8"].verdict == claims.REPRODUCED and "VGG: not testable" in found["S8"].detail
    assert found["S9"].verdict == claims.NOT_TESTABLE and found["S9"].detail.startswith("not run: data not found")
    assert found["S10"].verdict == claims.REPRODUCED


def test_absent_cifar10_vgg_figures_say_not_run_and_the_others_draw_the_dln() -> None:
    import matplotlib.pyplot as plt

    runs = _without_vgg()
    for fig in (landscape_plots.landscape_figure(runs, "vgg"), landscape_plots.activations_figure(runs)):
        assert any(t.get_text().startswith("not run: data not found") for ax in fig.axes for t in ax.texts)
        plt.close(fig)
    fig = landscape_plots.landscape_figure(runs, "dln")
    assert len(fig.axes) == 3 and all(ax.lines for ax in fig.axes)
    plt.close(fig)


def test_training_figure_draws_a_run_that_diverged_in_its_first_steps() -> None:
    """A VGG loss curve shorter than the 10-step mean (a run that diverged at step 4) is drawn, not a crash."""
    import matplotlib

    matplotlib.use("Agg")

    def run(n: int, diverged: bool) -> results.Result:
        arrays = {"steps": np.arange(n), "loss": np.linspace(2.3, 1.0, n), "diverged": np.array(diverged),
                  "diverged_at": np.array(n - 1 if diverged else -1), "eval_steps": np.array([n]),
                  "test_accuracy": np.array([0.2])}
        return results.Result(arrays, {"data": "synthetic"}, Path("."))

    fig = landscape_plots.training_figure({"vgg-none": run(5, True), "vgg-bn": run(300, False)}, ("none", "bn"))
    line = fig.axes[0].get_lines()[0]
    assert len(line.get_xdata()) == len(line.get_ydata()) > 0


def test_s8_reading_with_gamma_matched() -> None:
    """The γ-matched l∞ DLN run replaces l∞ in the DLN half; the headline stays γ = 1."""
    runs = _runs(10.0, 1.0)
    runs["dln-l1"] = _fake(1.0, final_loss=0.5)
    runs["dln-linf"] = _fake(1.0, final_loss=50.0)  # at γ = 1 the l∞ net trains far worse than BN
    assert not landscape.verdict_s8(runs, "ci").readings  # no matched run: no reading
    runs[landscape.MATCHED] = _fake(1.0, final_loss=1.1)
    v = landscape.verdict_s8(runs, "ci")
    assert v.verdict == claims.MIXED and "dln linf: training loss" in v.detail  # DLN fails, VGG holds
    (head, head_verdict), (matched, matched_verdict) = v.readings
    assert "headline" in head and head_verdict == claims.MIXED
    assert "matched" in matched and matched_verdict.startswith(claims.REPRODUCED)
    runs[landscape.MATCHED] = _fake(1.0, final_loss=60.0)  # no matched VGG nets: the DLN half alone
    assert landscape.verdict_s8(runs, "ci").readings[1][1].startswith(claims.NOT_REPRODUCED)
    assert landscape.MATCHED in landscape.run_specs("ci") and landscape.run_specs("ci")[landscape.MATCHED].match_scale


def test_match_output_scale_gives_every_lp_layer_bn_s_output_std() -> None:
    model = models.build("dln", "linf", seed=0)
    x = torch.randn(1000, 10, generator=torch.Generator().manual_seed(1))
    layers = [m for m in model.modules() if isinstance(m, norms.LpNorm)]
    outputs: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda mod, inp, out: outputs.append(out)) for m in layers]
    with torch.no_grad():
        model(x)
    unmatched = torch.stack([o.std(0, unbiased=False).mean() for o in outputs])
    assert 0.2 < float(unmatched[0]) < 0.45  # x / max|x| of 1,000 Gaussian values: about a third
    norms.match_output_scale(model.eval(), x)
    assert not model.training  # the mode is restored
    outputs.clear()
    with torch.no_grad():
        model.train()(x)
    for out in outputs:
        assert torch.allclose(out.std(0, unbiased=False), torch.ones(out.shape[1]), atol=1e-4)
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in layers)
    with pytest.raises(ValueError, match="no l_p normalisation layer"):
        norms.match_output_scale(models.build("dln", "bn", seed=0), x)
    for h in handles:
        h.remove()


def test_s8_matched_reading_uses_the_matched_vgg_nets_too() -> None:
    runs = _runs(10.0, 1.0)
    runs["dln-l1"] = _fake(1.0, final_loss=0.5)
    _set_vgg(runs, "vgg-linf", _fake(20.0))  # the γ = 1 VGG l∞ nets are 20x rougher than BN: VGG half fails
    runs[landscape.MATCHED] = _fake(1.0)
    assert landscape.verdict_s8(runs, "ci").verdict == claims.MIXED  # DLN holds, VGG fails
    _set_vgg(runs, "vgg-linf_matched", _fake(1.0))  # the matched VGG l∞ nets are as smooth as BN
    v = landscape.verdict_s8(runs, "ci")
    assert v.verdict == claims.MIXED and v.readings[1][1].startswith(claims.REPRODUCED)
    _set_vgg(runs, "vgg-linf_matched", _fake(20.0))
    assert landscape.verdict_s8(runs, "ci").readings[1][1].startswith(claims.MIXED)


def test_lp_figures_name_the_nets_this_profile_did_not_run() -> None:
    """At ci only the standard and BN VGG nets run: the l_p figures say which nets are missing, and
    every loss panel of the training figure names its own nets."""
    import matplotlib.pyplot as plt

    def vgg(scale: float) -> results.Result:
        run = _fake(scale)
        return results.Result({**run.arrays, "eval_steps": np.array([100, 200]), "test_accuracy": np.array([0.3, 0.5])},
                              run.meta, run.path)

    runs = {f"dln-{n}": _fake(1.0) for n in landscape.NORM_ORDER}
    runs.update({"vgg-none": vgg(2.0), "vgg-bn": vgg(1.0)})
    for fig in (landscape_plots.training_figure(runs), landscape_plots.landscape_figure(runs, "vgg", landscape.NORM_ORDER)):
        note = fig._suptitle.get_text()
        assert note.startswith("not run at this profile: VGG $\\ell_1$") and "VGG $\\ell_\\infty$" in note
        assert "DLN" not in note and "standard" not in note and "BN" not in note
        plt.close(fig)
    fig = landscape_plots.training_figure(runs)
    labels = [{t.get_text() for t in ax.get_legend().get_texts()} for ax in fig.axes[:2]]
    assert labels[0] == {"standard", "BN"} and {"$\\ell_1$", "$\\ell_2$", "$\\ell_\\infty$"} <= labels[1]
    plt.close(fig)
    runs.update({f"vgg-{n}": vgg(1.0) for n in landscape.NORM_ORDER})
    for fig in (landscape_plots.training_figure(runs), landscape_plots.landscape_figure(runs, "dln", landscape.NORM_ORDER),
                landscape_plots.landscape_figure(runs, "vgg")):
        assert fig._suptitle is None  # every net ran: no note
        plt.close(fig)

"""ICS ([S] §2): Definition 2.1 against a hand computation, no effect on training, verdicts both ways."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from bnopt import claims, data, ics, ics_plots, models, profiles, recording, results, train
from test_dln_seeds import _ics_study, _page


# --- Definition 2.1 -------------------------------------------------------------------------------


def _hand_ics(ws: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float, steps: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch GD on f = W3 W2 W1 x, loss Σ‖f − y‖², with Definition 2.1 computed explicitly.

    Returns (l2, cos) of shape (steps, 3): G' of layer i from the closed-form gradient after
    replacing W_1..W_{i−1} by their GD-updated values.
    """
    def grads(w1: np.ndarray, w2: np.ndarray, w3: np.ndarray) -> list[np.ndarray]:
        h1 = x @ w1.T
        h2 = h1 @ w2.T
        r = 2 * (h2 @ w3.T - y)  # ∂L/∂f
        return [(r @ w3 @ w2).T @ x, (r @ w3).T @ h1, r.T @ h2]

    l2, cos = np.zeros((steps, 3)), np.zeros((steps, 3))
    ws = [w.astype(np.float64) for w in ws]
    for t in range(steps):
        g = grads(*ws)
        new = [w - lr * gw for w, gw in zip(ws, g)]
        for i in range(3):
            mixed = new[:i] + ws[i:]  # layers before i updated, layer i and later not
            gp = grads(*mixed)[i]
            l2[t, i] = np.linalg.norm(g[i] - gp)
            cos[t, i] = np.sum(g[i] * gp) / (np.linalg.norm(g[i]) * np.linalg.norm(gp))
        ws = new
    return l2, cos


def test_definition_2_1_matches_hand_computation_on_three_layer_linear_net() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(20, 4), torch.randn(20, 4)
    model = models.build("dln", "none", width=4, depth=3, seed=1)
    ws = [layer.weight.detach().numpy().copy() for layer in models.weight_layers(model)]
    lr, steps = 0.01, 4
    hook = ics.ICSMeasurement(layers=(1, 2, 3), every=1)
    train.train(model, (x, y), train.TrainConfig(lr=lr, steps=steps, progress=False), hooks=[hook],
                loss_fn=models.loss_fn("dln"))
    got = hook.arrays()
    l2, cos = _hand_ics(ws, x.double().numpy(), y.double().numpy(), lr, steps)
    assert got["ics_steps"].tolist() == list(range(steps))
    assert np.all(got["ics_l2"][:, 0] == 0) and np.allclose(got["ics_cos"][:, 0], 1)  # nothing before #1
    assert np.all(l2[:, 1:] > 1e-3 * np.linalg.norm(l2))  # the check is not vacuous
    np.testing.assert_allclose(got["ics_l2"], l2, rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(got["ics_cos"], cos, rtol=1e-4)


def test_recomputed_g_has_the_precision_of_g_prime_on_the_moments_engine() -> None:
    """G from the float64 moments engine against G' from float32 autograd would leave an error floor:
    with `recompute_g` both are float32 autograd, and layer #1 (nothing before it) gives G' = G exactly."""
    x, y = data.dln_task(200, 10, seed=3)
    measured = {}
    for recompute in (False, True):
        model = models.build("dln", "bn", depth=6, seed=3)
        hook = ics.ICSMeasurement(layers=(1, 4), every=1, recompute_g=recompute)
        train.train(model, (x, y), train.TrainConfig(lr=1e-5, steps=3, progress=False, engine="moments"),
                    hooks=[hook], loss_fn=models.loss_fn("dln"))
        measured[recompute] = hook.arrays()
    assert np.all(measured[True]["ics_l2"][:, 0] == 0)  # same precision, same point: identical
    assert np.all(measured[False]["ics_l2"][:, 0] > 0)  # the float64 / float32 mismatch
    np.testing.assert_allclose(measured[True]["ics_cos"][:, 1], measured[False]["ics_cos"][:, 1], rtol=1e-3)


def test_ics_gradient_change_closed_form() -> None:
    l2, cos = ics.ics_gradient_change(torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0]))
    assert l2 == pytest.approx(5.0) and cos == pytest.approx(0.0)
    assert math.isnan(ics.ics_gradient_change(torch.zeros(2), torch.ones(2))[1])


def _tiny_vgg_run(method: str, hooks: list, steps: int = 3) -> torch.nn.Module:
    """A width-2 VGG (noise per `method`) trained a few SGD steps on random images."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, 3, 32, 32, generator=gen), torch.randint(0, 10, (32,), generator=gen)
    spec = ics.RunSpec("vgg", method, 0.1, steps, 2, 8, None, None, None, (), 1, (), 1)
    model = ics.build_model(spec)
    made = [h(model) if callable(h) else h for h in hooks]
    train.train(model, (x, y), train.TrainConfig(lr=0.1, steps=steps, batch_size=8, progress=False),
                hooks=made, loss_fn=models.loss_fn("vgg"))
    return model


@pytest.mark.parametrize("method", ["noisy_bn", "standard_noise", "bn"])
def test_measurement_leaves_training_unchanged(method: str) -> None:
    plain = _tiny_vgg_run(method, [])
    hooks = [ics.ICSMeasurement(layers=(2, 5, 10, 13), every=2),
             lambda m: recording.ActivationRecorder(m, (2, 9, 13), every=1)]
    measured = _tiny_vgg_run(method, hooks)
    for (name, a), b in zip(plain.named_parameters(), measured.parameters()):
        assert torch.equal(a, b), f"{name} differs after training with the ICS measurement"


def test_noise_is_rewound_so_first_layer_sees_no_shift() -> None:
    hook = ics.ICSMeasurement(layers=(1,), every=1)
    _tiny_vgg_run("noisy_bn", [hook], steps=2)
    assert np.all(hook.arrays()["ics_l2"] == 0)  # G' of layer #1 is G itself, noise included


def test_bad_settings_name_the_value() -> None:
    with pytest.raises(ValueError, match="every=0"):
        ics.ICSMeasurement(layers=(1,), every=0)
    with pytest.raises(ValueError, match="layers=\\(0,\\)"):
        ics.ICSMeasurement(layers=(0,))
    with pytest.raises(ValueError, match="do not exist"):
        _tiny_vgg_run("bn", [ics.ICSMeasurement(layers=(14,))], steps=1)
    with pytest.raises(ValueError, match="unknown method 'noisy'"):
        ics.build_model(ics.RunSpec("vgg", "noisy", 0.1, 1, 2, 8, None, None, None, (), 1, (), 1))


def test_run_experiment_dln_outputs() -> None:
    spec = ics.RunSpec("dln", "bn", 1e-3, 6, None, None, 50, 0, None, (2, 3), 2, (1, 3), 2, depth=4)
    out = ics.run_experiment(spec)
    assert out["dataset"] == "synthetic" and out["ics_cos"].shape == (3, 2)
    assert out["act_layer3_quantiles"].shape[0] == 3 and out["act_layers"].tolist() == [1, 3]


def test_run_specs_and_claim_keys() -> None:
    from bnopt import vgg_seeds

    assert set(ics.run_specs("ci")) == {"dln-standard-lr1e-06", "dln-bn-lr1e-06", "dln-standard-lr1e-07",
                                        "dln-bn-lr1e-07"}
    specs = vgg_seeds.specs("paper")
    assert {k.rsplit("-s", 1)[0] for k in specs} == {
        "standard-lr0.1", "bn-lr0.1", "standard-lr0.5", "bn-lr0.5", "noisy_bn-lr0.1", "standard_noise-lr0.1",
        "standard-lr0.01", "bn-lr0.01", "l1-lr0.1", "l2-lr0.1", "linf-lr0.1", "standard_noise_scaled-lr0.1",
        "linf_matched-lr0.1"}
    assert all(f"{base}-s{s}" in specs for base in ("bn-lr0.5", "l1-lr0.1") for s in range(3))
    assert specs["bn-lr0.1-s0"].ics_layers == (5, 10) and specs["bn-lr0.5-s0"].ics_layers == ()
    ci = vgg_seeds.specs("ci")  # ci: three seeds of the standard and BN nets at lr 0.1, nothing else
    assert set(ci) == {f"{m}-lr0.1-s{s}" for m in ("standard", "bn") for s in range(3)}
    for cid, (_, keys) in ics.CLAIMS.items():
        assert keys == ics._s_keys("paper")[cid]
    for profile in profiles.PROFILES:  # every key a verdict reads is in the page's view (run or "not run")
        page = set(vgg_seeds.view({k: None for k in vgg_seeds.specs(profile)}, "ics", profile))
        assert all(set(ics._s_keys(profile)[cid]) <= page for cid in ics.CLAIMS)


# --- verdicts on synthetic results ----------------------------------------------------------------


def _run(acc: float = 0.5, test: float = 0.5, *, steps: int = 300, diverged: bool = False,
         shift: float = 0.01, cos: float = 0.9, test_size: int | None = 2000, clean: float | None = None
         ) -> results.Result:
    """A fake stored run with constant accuracy, moment change and cosine (`clean`: noise-free accuracy)."""
    n = steps
    arrays = {"steps": np.arange(n), "accuracy": np.full(n, acc), "loss": np.full(n, 1.0),
              "planned_steps": np.array(steps), "diverged": np.array(diverged),
              "test_accuracy": np.array([test]), "eval_steps": np.array([n - 1]), "ics_steps": np.arange(0, n, 10),
              "ics_layers": np.array([5, 9, 10, 17]), "ics_cos": np.full((n // 10, 4), cos),
              "ics_l2": np.full((n // 10, 4), 1.0), "clean_train_accuracy": np.array(acc if clean is None else clean),
              "clean_test_accuracy": np.array(test)}
    for k in (2, 3, 9, 11, 13):
        arrays[f"act_layer{k}_mean_change"] = np.full((n // 10, 8), shift)
        arrays[f"act_layer{k}_std"] = np.full(4, 0.5)
    meta = {"config": {"test_size": test_size}, "data": "synthetic"}
    return results.Result(arrays, meta, Path("."))


VGG_SEEDS = (0, 1, 2)


def _set_vgg(res: dict[str, results.Result], key: str, run: results.Result, seeds: tuple[int, ...] = VGG_SEEDS) -> None:
    """Put `run` as VGG run `key` of `seeds` (seed 0 under `key`, seed s under `key`-s<s>)."""
    for s in seeds:
        res[key if s == 0 else f"{key}-s{s}"] = run


def _all() -> dict[str, results.Result]:
    """Synthetic results for every run key (VGG for three seeds): a well-trained page where every claim holds."""
    base = {k: _run() for k in ics.run_specs("ci")}
    vgg = {"vgg-standard-lr0.1": _run(0.5, 0.5), "vgg-bn-lr0.1": _run(0.7, 0.6),
           "vgg-standard-lr0.5": _run(0.3), "vgg-bn-lr0.5": _run(0.6),
           "vgg-noisy_bn-lr0.1": _run(0.68, shift=0.1), "vgg-standard_noise-lr0.1": _run(0.1),
           "vgg-standard-lr0.01": _run(cos=0.9), "vgg-bn-lr0.01": _run(cos=0.8)}
    for k, r in vgg.items():
        _set_vgg(base, k, r)
    base.update({"dln-standard-lr1e-06": _run(cos=0.99), "dln-bn-lr1e-06": _run(cos=0.1),
                 "dln-standard-lr1e-07": _run(cos=0.99), "dln-bn-lr1e-07": _run(cos=0.2)})
    base.update(_page(_ics_study([0.1] * 10)))  # the DLN seed study, where S4's DLN half holds
    return base


@pytest.mark.parametrize("cid", ["S1", "S2", "S3", "S4"])
def test_verdicts_reproduced_on_a_page_where_claims_hold(cid: str) -> None:
    v = ics.CLAIMS[cid][0](_all(), "ci")
    assert v.verdict == claims.REPRODUCED, v
    assert v.claim_id == cid and v.profile == "ci" and v.numbers


FAILING = [
    ("S1", {"vgg-bn-lr0.5": _run(0.31), "vgg-bn-lr0.1": _run(0.7, 0.4)}),  # BN barely ahead / lower test acc
    ("S2", {"vgg-noisy_bn-lr0.1": _run(0.5, shift=0.1)}),  # noisy BN far behind BN
    ("S2", {"vgg-noisy_bn-lr0.1": _run(0.7, shift=0.015)}),  # noise hardly moves the distributions
    ("S3", {"vgg-standard_noise-lr0.1": _run(0.4)}),  # the noisy net trains anyway
]  # S4 goes every way in test_dln_seeds (its DLN half over seeds) and below (its VGG half)


@pytest.mark.parametrize("cid, runs", FAILING)
def test_verdicts_not_reproduced_when_every_seed_says_so(cid: str, runs: dict[str, results.Result]) -> None:
    res = _all()
    for key, run in runs.items():
        _set_vgg(res, key, run)
    assert ics.CLAIMS[cid][0](res, "ci").verdict == claims.NOT_REPRODUCED


@pytest.mark.parametrize("cid, runs", FAILING)
def test_verdicts_mixed_when_one_seed_of_three_fails(cid: str, runs: dict[str, results.Result]) -> None:
    res = _all()
    for key, run in runs.items():
        _set_vgg(res, key, run, (1,))
    v = ics.CLAIMS[cid][0](res, "ci")
    assert v.verdict == claims.MIXED and ("holds in 2 of 3 seeds" in v.split or "mixed, holds in 2 of 3" in v.detail)


@pytest.mark.parametrize("key, run", [("vgg-bn-lr0.5", _run(0.31)), ("vgg-bn-lr0.1", _run(0.7, 0.4))])
def test_s1_is_mixed_when_its_learning_rates_disagree(key: str, run: results.Result) -> None:
    res = _all()
    _set_vgg(res, key, run)
    v = ics.verdict_s1(res, "ci")
    assert v.verdict == claims.MIXED and f"lr {key.split('lr')[-1]}: not reproduced" in v.detail


def test_s2_readings_noise_free_and_test_accuracy() -> None:
    """Noisy BN close to BN on its noisy training batches, far behind on clean images: the readings split."""
    res = _all()
    _set_vgg(res, "vgg-noisy_bn-lr0.1", _run(0.68, 0.3, shift=0.1, clean=0.3))
    v = ics.verdict_s2(res, "ci")
    assert v.verdict == claims.REPRODUCED  # the headline: training batches, as [S] Fig. 2
    assert [r[1].split(",")[0] for r in v.readings] == [claims.REPRODUCED, claims.NOT_REPRODUCED,
                                                        claims.NOT_REPRODUCED]


def test_s3_reading_with_the_noise_scaled_to_each_unit() -> None:
    """The absolute noise stops the plain net, the scaled one does not: the headline holds, the reading not."""
    res = _all()
    _set_vgg(res, "vgg-standard_noise_scaled-lr0.1", _run(0.45))
    v = ics.verdict_s3(res, "ci")
    assert v.verdict == claims.REPRODUCED and "headline" in v.readings[0][0]
    assert v.readings[1][1].startswith(claims.NOT_REPRODUCED) and "scaled" in v.readings[1][0]
    _set_vgg(res, "vgg-standard_noise_scaled-lr0.1", _run(0.1))
    assert ics.verdict_s3(res, "ci").readings[1][1].startswith(claims.REPRODUCED)
    _set_vgg(res, "vgg-standard_noise_scaled-lr0.1", _run(0.45), (1,))
    assert ics.verdict_s3(res, "ci").readings[1][1].startswith(claims.MIXED)


def test_the_gate_makes_a_seed_whose_standard_net_did_not_train_not_testable() -> None:
    res = _all()
    _set_vgg(res, "vgg-standard-lr0.1", _run(0.35, 0.35), (2,))  # below the 40 % bar in one seed
    for cid in ("S1", "S2", "S3"):
        v = ics.CLAIMS[cid][0](res, "ci")
        assert v.verdict == claims.NOT_TESTABLE and "not testable in seed(s) 2" in v.detail, v
    _set_vgg(res, "vgg-standard-lr0.1", _run(0.35, 0.35))
    assert ics.verdict_s3(res, "ci").verdict == claims.NOT_TESTABLE


def test_s4_is_mixed_where_bn_reduces_ics_in_the_vgg_and_not_reproduced_where_the_dln_agrees() -> None:
    res = _all()
    _set_vgg(res, "vgg-bn-lr0.1", _run(0.7, 0.6, cos=0.99))  # BN makes G' closer to G: it reduces ICS there
    v = ics.verdict_s4(res, "ci")
    assert v.verdict == claims.MIXED and "VGG: not reproduced" in v.detail  # the DLN seeds still hold
    res.update(_page(_ics_study([0.95] * 10)))
    assert ics.verdict_s4(res, "ci").verdict == claims.NOT_REPRODUCED


def test_diverged_noisy_net_counts_as_not_training() -> None:
    res = _all()
    _set_vgg(res, "vgg-standard_noise-lr0.1", _run(0.5, diverged=True))
    assert ics.verdict_s3(res, "ci").verdict == claims.REPRODUCED


@pytest.mark.parametrize("cid, runs", [
    ("S1", {"vgg-bn-lr0.1": _run(0.7, 0.6, steps=50), "vgg-bn-lr0.5": _run(0.7, 0.6, steps=50)}),  # too few steps
    ("S1", {"vgg-standard-lr0.1": _run(0.5, 0.5, test_size=200),
            "vgg-standard-lr0.5": _run(0.3, 0.3, test_size=200)}),  # too few test images
    ("S3", {"vgg-standard-lr0.1": _run(0.15)}),  # the noise-free control has not trained yet
])
def test_verdicts_not_testable_below_minimum_scale(cid: str, runs: dict[str, results.Result]) -> None:
    res = _all()
    for key, run in runs.items():
        _set_vgg(res, key, run)
    assert ics.CLAIMS[cid][0](res, "ci").verdict == claims.NOT_TESTABLE
    if "vgg-bn-lr0.1" in runs:  # one learning rate too short to judge: the other decides, and the detail says so
        _set_vgg(res, "vgg-bn-lr0.5", _run(0.6))
        _set_vgg(res, "vgg-standard-lr0.5", _run(0.3))
        v = ics.verdict_s1(res, "ci")
        assert v.verdict == claims.REPRODUCED and "lr 0.1: not testable" in v.detail


def test_at_ci_the_nets_it_does_not_run_make_their_claims_not_testable_and_s1_rests_on_lr_01() -> None:
    from bnopt import vgg_seeds

    res = _all()
    skipped = {k: r for k, r in vgg_seeds.view({k: _run() for k in vgg_seeds.specs("ci")}, "ics", "ci").items()
               if not results.is_run(r)}  # the "not run" entries of the nets ci does not train
    assert skipped
    for k, r in skipped.items():
        for s in VGG_SEEDS:
            res.pop(k if s == 0 else f"{k}-s{s}", None)
        res[k] = r
    found = {v.claim_id: v for v in ics.verdicts(res, "ci")}
    assert found["S1"].verdict == claims.REPRODUCED and "lr 0.5: not testable" in found["S1"].detail
    for cid in ("S2", "S3"):
        assert found[cid].verdict == claims.NOT_TESTABLE and "not run at profile ci" in found[cid].detail


def test_s4_rests_on_the_dln_where_the_vgg_has_too_few_measurements() -> None:
    res = _all()
    _set_vgg(res, "vgg-bn-lr0.1", _run(0.7, 0.6, cos=0.1, steps=50))  # 5 ICS measurements only
    v = ics.verdict_s4(res, "ci")
    assert v.verdict == claims.REPRODUCED and "VGG: not testable" in v.detail


# --- a missing dataset: "not run", never a failed build --------------------------------------------


def _without_vgg() -> dict[str, results.Result]:
    """`_all()` with every VGG run "not run" (CIFAR-10 absent)."""
    why = "data not found: cifar10 needs cifar-10/cifar-10-binary.tar.gz in /nowhere"
    return {k: results.not_run(f"ics-{k}", why, "ci") if k.startswith("vgg") else r for k, r in _all().items()}


def test_absent_cifar10_makes_vgg_verdicts_not_run_and_s4_rests_on_the_dln() -> None:
    found = {v.claim_id: v for v in ics.verdicts(_without_vgg(), "ci")}
    for cid in ("S1", "S2", "S3"):
        assert found[cid].verdict == claims.NOT_TESTABLE and found[cid].detail.startswith("not run: data not found")
    assert found["S4"].verdict == claims.REPRODUCED and "VGG runs were not made (data not found)" in found["S4"].detail
    assert not any(k.startswith("VGG") for k in found["S4"].numbers)


def test_absent_cifar10_figures_say_not_run() -> None:
    import matplotlib.pyplot as plt

    res, s = _without_vgg(), profiles.settings("ics", "ci")
    figs = [ics_plots.training_curves(res, [("vgg", "bn", 0.1)]),
            ics_plots.activation_distributions(res, [("vgg", "bn", 0.1)], (3,)),
            ics_plots.moment_changes(res, ("standard",), 0.1, (2,)),
            ics_plots.ics_panels(res, "vgg", s.vgg_ics_lrs, s.vgg_ics_layers)]
    for fig in figs:
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(t.startswith("not run: data not found") for t in texts)
        plt.close(fig)


def test_run_all_gives_not_run_vgg_results_when_cifar10_is_absent(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real store and loader: an empty data folder, and the DLN runs replaced by a stub."""
    monkeypatch.setenv("BNOPT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(tmp_path / "results"))
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(urllib.request, "urlopen", _unreachable)
    real = ics.run_experiment
    monkeypatch.setattr(ics, "run_experiment",
                        lambda spec: {"dataset": "synthetic"} if spec.model_id == "dln" else real(spec))
    from bnopt import dln_seeds

    monkeypatch.setattr(dln_seeds, "ics_runs", lambda profile: {})
    monkeypatch.setattr(dln_seeds, "divergence", lambda profile: results.not_run("d", "stub", profile))
    runs = ics.run_all("ci")
    vgg = [r for k, r in runs.items() if k.startswith("vgg")]
    assert vgg and not any(results.is_run(r) for r in vgg)
    assert all(results.is_run(r) for k, r in runs.items() if k.startswith("dln"))
    assert "cifar-10-binary.tar.gz" in results.not_run_reason(vgg)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == []  # nothing written there
    with results.load_only():  # the ledger's view: still "not run", not a missing result
        assert not results.is_run(ics.run_all("ci")["vgg-bn-lr0.1"])


def _unreachable(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("network unreachable")


def test_a_figure_draws_the_runs_made_and_names_the_others() -> None:
    import matplotlib.pyplot as plt

    res = _all()
    res["vgg-bn-lr0.5"] = results.not_run("vgg-bn-lr0.5-s0", "not run at profile ci, for the test", "ci")
    fig = ics_plots.training_curves(res, [("vgg", m, lr) for lr in (0.1, 0.5) for m in ("standard", "bn")])
    assert len(fig.axes[0].lines) >= 3  # the three runs made are drawn
    assert any(t.get_text().startswith("not run: ") and "lr 0.5" in t.get_text() for t in fig.texts)
    plt.close(fig)

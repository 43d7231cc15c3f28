"""Lemma A.9 on a tiny network (2): (r·w, r²·lr) is the same run when eps = 0, and bends when eps > 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bnopt import claims, models, profiles, results, scaling_deep as sd

WIDTH = 2  # network (2) with 2 and 4 conv channels, FC 196 → 64 → 10: milliseconds per step


@pytest.fixture(scope="module")
def tiny_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """200 random 28×28 images with random labels, float64."""
    gen = torch.Generator().manual_seed(1)
    return torch.rand(200, 1, 28, 28, generator=gen, dtype=torch.float64), torch.randint(0, 10, (200,), generator=gen)


def run(batch: tuple[torch.Tensor, torch.Tensor], eta: float, lr: float, eps: float, steps: int = 4) -> sd.ScaledRun:
    """A float64 run of the tiny net from the η-scaled init."""
    torch.set_num_threads(1)
    return sd.train_scaled("conv2", batch, eta=eta, lr=lr, lr_norm=0.1, bn_eps=eps, width=WIDTH, seed=0,
                           batch_size=50, steps=steps, dtype=torch.float64)


def rel(a: sd.ScaledRun, b: sd.ScaledRun, r: float) -> tuple[float, float]:
    """Largest relative loss difference and relative weight difference of run a (scaled by r) to b."""
    loss = float(np.max(sd.relative_difference(a.log.loss, b.log.loss)))
    return loss, float((a.weights / r - b.weights).norm() / b.weights.norm())


def test_scale_weights_touches_weights_and_biases_only() -> None:
    model = models.build("conv2", "bn", width=WIDTH, seed=0)
    for p in models.weight_parameters(model):  # non-zero biases, so their scaling shows
        torch.nn.init.normal_(p)
    before = [p.clone() for p in model.parameters()]
    sd.scale_weights_(model, 3.0)
    norm_ids = {id(p) for p in models.norm_parameters(model)}
    for p, old in zip(model.parameters(), before):
        assert torch.equal(p, old if id(p) in norm_ids else 3.0 * old)
    with pytest.raises(ValueError, match="eta=-1"):
        sd.scale_weights_(model, -1.0)


@pytest.mark.parametrize("model_id, norm", [("conv2", "none"), ("dln", "bn")])
def test_scaling_needs_bn_after_every_layer(model_id: str, norm: str) -> None:
    model = models.build(model_id, norm, width=WIDTH if model_id == "conv2" else 3, seed=0, **(
        {"depth": 3} if model_id == "dln" else {}))
    with pytest.raises(ValueError, match="no BatchNorm after them"):
        sd.check_scale_invariant(model)


@pytest.mark.parametrize("r", [10.0, 0.1, 0.01])
def test_exact_law_with_eps_zero(tiny_batch, r: float) -> None:
    base, scaled = run(tiny_batch, 1.0, 0.5, 0.0), run(tiny_batch, r, r**2 * 0.5, 0.0)
    loss, weights = rel(scaled, base, r)
    assert loss < 1e-11 and weights < 1e-11  # float64 rounding only
    assert base.log.loss[-1] < base.log.loss[0] - 1e-3  # the runs did move


def test_power_of_two_scaling_is_bit_exact(tiny_batch) -> None:
    # multiplying by 2^k commutes with rounding, so every float of the two runs agrees exactly
    base, scaled = run(tiny_batch, 1.0, 0.5, 0.0), run(tiny_batch, 4.0, 16 * 0.5, 0.0)
    assert np.array_equal(base.log.loss, scaled.log.loss)
    assert torch.equal(scaled.weights / 4.0, base.weights)


def test_law_fails_if_lr_is_not_rescaled(tiny_batch) -> None:
    base, wrong = run(tiny_batch, 1.0, 0.5, 0.0), run(tiny_batch, 10.0, 0.5, 0.0)
    assert rel(wrong, base, 10.0)[0] > 1e-3


def test_eps_term_bends_the_law_for_small_scales_only(tiny_batch) -> None:
    eps, lr = 1e-3, 0.5
    small = rel(run(tiny_batch, 0.01, 0.01**2 * lr, eps), run(tiny_batch, 0.1, 0.1**2 * lr, eps), 0.1)
    large = rel(run(tiny_batch, 1000.0, 1000.0**2 * lr, eps), run(tiny_batch, 100.0, 100.0**2 * lr, eps), 10.0)
    assert small[0] > 1e-2  # η ≤ 0.1: pre-BN scales near √eps, the eps-term matters
    assert large[0] < 1e-6 and large[1] < 1e-6  # η ≥ 100: eps/σ² ~ 1e-7, the law holds nearly exactly


def test_eta_scaling_is_exactly_an_eps_change(tiny_batch) -> None:
    # BN(η z; eps) = BN(z; eps/η²): the run {η w, η² lr, eps} is the run {w, lr, eps/η²} scaled by η
    eta, eps = 0.05, 1e-3
    scaled = run(tiny_batch, eta, eta**2 * 0.5, eps)
    moved = run(tiny_batch, 1.0, 0.5, sd.equivalent_eps(eps, eta))
    loss, weights = rel(scaled, moved, eta)
    assert loss < 1e-11 and weights < 1e-11


def test_normalisation_strength(tiny_batch) -> None:
    x = tiny_batch[0]
    full = sd.normalisation_strength(sd.scaled_model("conv2", 1.0, width=WIDTH, bn_eps=0.0, seed=0,
                                                     dtype=torch.float64), x)
    weak = sd.normalisation_strength(sd.scaled_model("conv2", 1e-3, width=WIDTH, bn_eps=1e-3, seed=0,
                                                     dtype=torch.float64), x)
    assert full.shape == (4,) and np.allclose(full, 1.0)
    assert weak[0] < 0.05  # η = 1e-3: first-layer σ ~ 1e-4 ≪ √eps ≈ 0.03


def test_relative_difference() -> None:
    out = sd.relative_difference(np.array([1.0, 2.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.0, 0.0]))
    assert out.tolist() == [0.0, 1.0, 0.0, np.inf]


def test_configs_follow_the_profile() -> None:
    s = profiles.settings("scaling", "ci")
    sweep, check = sd.sweep_config("ci"), sd.equivalence_config("ci")
    assert sweep.bn_eps == (s.bn_eps, 0.0) and check.bn_eps == (0.0, s.bn_eps)
    assert len(sweep.lrs) == s.lr_grid[2] and sweep.lrs[0] == pytest.approx(10 ** s.lr_grid[0])
    assert profiles.settings("scaling", "paper").bn_eps == 1e-3 and profiles.settings("scaling", "paper").batch_size == 100


def test_lr_sweep_on_mnist(real_data_dir: Path) -> None:
    cfg = sd.SweepConfig("conv2", WIDTH, 300, 100, 1, (0.1, 10.0), (0.1, 1.0), 0.1, (1e-3, 0.0), 0, 1, "cpu")
    out = sd.lr_sweep(cfg)
    assert out["loss"].shape == (2, 2, 2) and out["dataset"] == "mnist"
    assert np.allclose(out["raw_lr"], [[1e-3, 1e-2], [10.0, 100.0]])
    # eps = 0: the same curve up to float32 rounding, which large steps amplify to ~1e-4
    assert np.allclose(out["loss"][1, 0], out["loss"][1, 1], rtol=2e-3)
    assert out["normalisation_strength"].shape == (2, 4)


# --- verdicts ---------------------------------------------------------------------------------

def _result(**arrays: object) -> results.Result:
    """A synthetic Result."""
    return results.Result({k: np.asarray(v) for k, v in arrays.items()}, {"data": "mnist"}, Path("."))


def _sweep(small_shift: float, large_gap: float, etas=(0.01, 0.1, 1.0, 10.0), n_lr: int = 5,
           zero_gap: float = 0.0) -> results.Result:
    """Sweep results whose η ≥ 1 curves differ by large_gap and the smallest η by small_shift (eps > 0),
    and whose smallest-η curve differs by zero_gap at eps = 0."""
    base = np.linspace(1.0, 0.5, n_lr)
    paper = np.stack([base * (1 + (small_shift if e == min(etas) else large_gap if e < max(etas) else 0.0))
                      for e in etas])
    zero = np.stack([base * (1 + (zero_gap if e == min(etas) else 0.0)) for e in etas])
    return _result(loss=np.stack([paper, zero]), bn_eps=[1e-3, 0.0], etas=list(etas),
                   lrs=np.logspace(-2, 2, n_lr))


def _check(exact: float) -> results.Result:
    """Equivalence results with eps = 0 differences `exact`, eps = 1e-3 differences 0.1."""
    diff = np.stack([np.full((4, 2, 5), exact), np.full((4, 2, 5), 0.1)])
    return _result(loss_diff=diff, weight_diff=diff[..., 0], bn_eps=[0.0, 1e-3])


def test_verdict_c9_reproduced() -> None:
    v = sd.verdict_c9(_sweep(0.5, 0.01), _check(1e-13), "ci")
    assert v.verdict == claims.REPRODUCED and v.numbers["gap_smallest_eta"] == pytest.approx(0.5)


@pytest.mark.parametrize("shift, gap, exact", [(0.05, 0.01, 1e-13),  # no shift for small η
                                               (0.5, 0.2, 1e-13),  # large-η curves apart
                                               (0.5, 0.01, 1e-3)])  # eps = 0 runs not equal
def test_verdict_c9_not_reproduced(shift: float, gap: float, exact: float) -> None:
    assert sd.verdict_c9(_sweep(shift, gap), _check(exact), "ci").verdict == claims.NOT_REPRODUCED


def test_verdict_c9_not_reproduced_if_eps_zero_curves_differ() -> None:
    assert sd.verdict_c9(_sweep(0.5, 0.01, zero_gap=0.1), _check(1e-13), "ci").verdict == claims.NOT_REPRODUCED


def test_verdict_c9_not_testable_with_too_few_etas() -> None:
    v = sd.verdict_c9(_sweep(0.5, 0.01, etas=(1.0, 10.0)), _check(1e-13), "ci")
    assert v.verdict == claims.NOT_TESTABLE


def test_curve_gap_counts_one_sided_divergence() -> None:
    loss = np.array([[1.0, 2.0, np.nan, np.nan], [1.0, 2.2, 1.0, np.nan]])
    assert sd.curve_gap(loss, 0, 1) == pytest.approx(np.median([0.0, 0.2 / 2.2, np.inf]))


def test_ols_exact_check_small() -> None:
    cfg = sd.OLSCheckConfig(dim=4, kappa=10.0, steps=120, rs=(0.5, 3.0), mus=(2.0,), gammas=(0.3,),
                            rotations=2, seed=0)
    out = sd.ols_exact_check(cfg)
    assert out["weight_scaling_rel_diff"].shape == (2, 121)
    assert out["rotation_scaling_rel_diff"].shape == (1, 1, 2, 121)
    assert np.all(out["weight_scaling_rel_diff"][0] == 0.0)  # r = 0.5: bit-exact
    v = sd.verdict_c3(_result(**{k: v for k, v in out.items() if k != "dataset"}), "ci")
    assert v.verdict == claims.REPRODUCED, v.detail
    assert v.numbers["misreading_negative_r"] > 1e-3 and v.numbers["misreading_sqrt_mu_u"] > 1e-3


def _ols(diff: float, envelope: float, steps: int = 1000) -> results.Result:
    """Synthetic OLS check results: every mapped difference `diff`, rounding envelope `envelope`."""
    k = steps + 1
    return _result(weight_scaling_rel_diff=np.full((3, k), diff), rotation_scaling_rel_diff=np.full((2, 2, 1, k), diff),
                   rounding_envelope=np.full(k, envelope), negative_r_without_flip_rel_diff=np.ones(k),
                   sqrt_mu_u_rel_diff=np.ones(k), iteration=np.arange(k))


def test_verdict_c3_both_ways() -> None:
    assert sd.verdict_c3(_ols(1e-14, 1e-16), "ci").verdict == claims.REPRODUCED
    assert sd.verdict_c3(_ols(2e-7, 1e-7), "ci").verdict == claims.REPRODUCED  # amplified rounding only
    assert sd.verdict_c3(_ols(1e-3, 1e-7), "ci").verdict == claims.NOT_REPRODUCED
    assert sd.verdict_c3(_ols(np.nan, 1e-16), "ci").verdict == claims.NOT_REPRODUCED
    assert sd.verdict_c3(_ols(1e-14, 1e-16, steps=10), "ci").verdict == claims.NOT_TESTABLE


def test_absent_mnist_makes_the_deep_experiments_not_run_and_c9_not_testable(tmp_path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    monkeypatch.setenv("BNOPT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(tmp_path / "results"))
    with results.load_only():  # nothing is computed: the ledger's view of a machine without MNIST
        missing = {k: results.load_or_not_run(f"scaling-{k}", lambda c: {}, {"k": k}, profile="ci", dataset="mnist")
                   for k in ("deep_sweep", "deep_equivalence")}
    assert not any(results.is_run(r) for r in missing.values())
    found = {v.claim_id: v for v in sd.verdicts({"ols_exact": results.not_run("x", "stub", "ci"),
                                                           **missing}, "ci")}
    assert found["C9"].verdict == claims.NOT_TESTABLE and found["C9"].detail.startswith("not run: data not found: mnist")
    fig, axes = plt.subplots(1, 2)
    sd.plot_sweep(axes, missing["deep_sweep"], 0)
    assert axes[0].texts and axes[0].texts[0].get_text().startswith("not run: data not found: mnist")
    assert sd.strength_rows(missing["deep_sweep"]) == []
    plt.close(fig)

"""[S] Thm 4.1 and 4.2 on live nets: equality for exact BN (float64, ε = 0), small ε-gap as trained."""

from __future__ import annotations

import pytest
import torch

from bnopt import models, theory


def _sides(model_id: str, layer: int, exact: bool, **kw: int) -> theory.TheoremSides:
    torch.manual_seed(0)
    net = models.build(model_id, "bn", seed=0, **kw)
    if model_id == "dln":
        x, y = torch.randn(64, 10), torch.randn(64, 10)
    else:
        x, y = torch.rand(8, 3, 32, 32), torch.randint(0, 10, (8,))
    return theory.theorem_sides(net, layer, x, y, models.loss_fn(model_id), units_42=3, exact=exact)


@pytest.mark.parametrize("model_id, layer, kw", [("dln", 3, {"depth": 6}), ("vgg", 3, {"width": 2})])
def test_theorems_hold_with_equality_for_exact_bn(model_id: str, layer: int, kw: dict) -> None:
    s = _sides(model_id, layer, True, **kw)
    assert theory.relative_gap(s.lhs_41, s.rhs_41).max() < 1e-10
    assert theory.relative_gap(s.lhs_42, s.rhs_42).max() < 1e-8
    assert len(s.lhs_41) == (10 if model_id == "dln" else 2 * kw["width"]) and len(s.lhs_42) == 3


def test_trained_bn_has_an_epsilon_gap_but_stays_close() -> None:
    s = _sides("dln", 3, False, depth=6)
    gap = theory.relative_gap(s.lhs_41, s.rhs_41).max()
    assert gap < 1e-3  # float32 and ε = 1e-5 against unit-scale variances


def test_a_wrong_formula_is_caught() -> None:
    # a right-hand side off by 1% must show as a gap far above the tolerance (the check can fail)
    s = _sides("dln", 3, True, depth=6)
    assert theory.relative_gap(s.lhs_41, 1.01 * s.rhs_41).max() > 1e-3


def test_non_bn_layer_is_refused() -> None:
    net = models.build("dln", "none", depth=3)
    with pytest.raises(ValueError, match="not BatchNorm"):
        theory.theorem_sides(net, 1, torch.randn(8, 10), torch.randn(8, 10), models.loss_fn("dln"))


def test_live_model_is_unchanged() -> None:
    net = models.build("dln", "bn", depth=4, seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    theory.theorem_sides(net, 2, torch.randn(16, 10), torch.randn(16, 10), models.loss_fn("dln"), exact=False)
    theory.theorem_sides(net, 2, torch.randn(16, 10), torch.randn(16, 10), models.loss_fn("dln"), exact=True)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert all(n.eps == 1e-5 for n in models.norm_layers(net))


@pytest.mark.parametrize("model_id, layer, kw", [("dln", 3, {"depth": 6}), ("vgg", 3, {"width": 2})])
def test_the_terms_beyond_the_identity_fit_together(model_id: str, layer: int, kw: dict) -> None:
    """‖∇_y L̂‖² = (γ/σ)² ‖ĝ‖² (1 − removed) for exact BN; the removed share lies in [0, 1]."""
    s = _sides(model_id, layer, True, **kw)
    assert ((s.removed_41 >= 0) & (s.removed_41 <= 1 + 1e-12)).all()
    torch.testing.assert_close(torch.as_tensor(s.lhs_41),
                               torch.as_tensor(s.gain_41**2 * s.ghat_sq_41 * (1 - s.removed_41)), rtol=1e-9, atol=0)
    assert s.ghat_yhat_42.shape == (3,)


def test_bn_gradient_effect_reads_the_records() -> None:
    import numpy as np

    from bnopt import landscape

    s = _sides("dln", 3, True, depth=6)
    res = {"thm_exact_lhs_41": s.lhs_41[None], "thm_exact_ghat_sq_41": s.ghat_sq_41[None],
           "thm_exact_removed_41": s.removed_41[None], "thm_exact_gain_41": s.gain_41[None],
           "thm_exact_ghat_yhat_42": np.array([[1.0, -1.0, 2.0]])}
    out = landscape.bn_gradient_effect(res)
    assert out["share of 4.2 checks with ⟨ĝ,ŷ⟩ > 0"] == pytest.approx(2 / 3)
    assert out["smallest γ/σ"] == pytest.approx(s.gain_41.min())
    assert out["median ‖∇_y L̂‖²/‖ĝ‖²"] == pytest.approx(np.median(s.lhs_41 / s.ghat_sq_41))
    assert landscape.bn_gradient_effect({}) == {}

"""[C] Prop. 3.2 on least squares: equivalent configurations give the same run up to (T, t), exactly."""

from __future__ import annotations

import numpy as np
import pytest

from bnopt import scaling

STEPS = 200
MACHINE = 1e-12  # relative difference allowed: round-off accumulated over the steps


@pytest.fixture
def cfg() -> scaling.Config:
    return scaling.example_config(d=8, seed=3)


@pytest.mark.parametrize("r", [1e-4, 0.3, 1.0, 7.0, 1e5])
def test_weight_scaling_is_exact(cfg: scaling.Config, r: float) -> None:
    assert scaling.weight_scaling_difference(cfg, r, STEPS).max() < MACHINE


def test_negative_r_needs_a_flipped(cfg: scaling.Config) -> None:
    assert scaling.weight_scaling_difference(cfg, -3.0, STEPS).max() < MACHINE
    assert scaling.weight_scaling_difference(cfg, -3.0, STEPS, flip_a=False).max() > 1e-3


@pytest.mark.parametrize("mu", [0.05, 1.0, 30.0])
@pytest.mark.parametrize("gamma", [0.2, 1.0, 9.0])
def test_rotation_scaling_is_exact(cfg: scaling.Config, mu: float, gamma: float) -> None:
    q = scaling.random_orthogonal(8, np.random.default_rng(int(mu * 100 + gamma)))
    assert scaling.rotation_scaling_difference(cfg, mu, gamma, q, STEPS).max() < MACHINE


def test_main_text_u_scale_is_not_equivalent_unless_gamma_equals_mu(cfg: scaling.Config) -> None:
    q = scaling.random_orthogonal(8, np.random.default_rng(0))
    assert scaling.rotation_scaling_difference(cfg, 4.0, 0.5, q, STEPS, u_scale="sqrt(mu)").max() > 1e-3
    assert scaling.rotation_scaling_difference(cfg, 4.0, 4.0, q, STEPS, u_scale="sqrt(mu)").max() < MACHINE


def test_wrong_side_rotation_is_detected(cfg: scaling.Config) -> None:
    """The check can fail: rotating H by Qᵀ·Q while mapping vectors by Q breaks equivalence."""
    q = scaling.random_orthogonal(8, np.random.default_rng(1))
    wrong = scaling.Config(q.T @ cfg.H @ q, q @ cfg.u, cfg.a0, q @ cfg.w0, cfg.eps_a, cfg.eps)
    a, w = scaling.trajectory(cfg, 50)
    a2, w2 = scaling.trajectory(wrong, 50)
    assert scaling.relative_difference(a, w, a2, w2, q, 1.0).max() > 1e-3


def test_exact_scaling_check_summary() -> None:
    res = scaling.exact_scaling_check(rs=(0.5, -2.0), mus=(2.0,), gammas=(3.0,), n_rotations=1, steps=50, d=5)
    assert res["weight_scaling_max_rel_diff"].max() < MACHINE
    assert res["rotation_scaling_max_rel_diff"].max() < MACHINE
    assert res["negative_r_without_flip_max_rel_diff"] > 1e-3 and res["sqrt_mu_u_max_rel_diff"] > 1e-3


def test_bad_mu_is_named(cfg: scaling.Config) -> None:
    with pytest.raises(ValueError, match="mu = -1"):
        scaling.rotated_scaled(cfg, -1.0, 1.0, np.eye(8))

"""Hessian-vector products and top eigenvalues against closed forms (quadratics with known spectra)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bnopt import hessian, models, train


def _diag_operator(eigs: np.ndarray):
    """v ↦ Q diag(eigs) Qᵀ v for a fixed random rotation Q (float64)."""
    q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=torch.Generator().manual_seed(1),
                                       dtype=torch.float64))
    mat = q @ torch.diag(torch.as_tensor(eigs)) @ q.T
    return lambda v: mat @ v.to(torch.float64)


def test_lanczos_finds_top_eigenvalue_of_known_spectrum() -> None:
    eigs = np.linspace(0.1, 3.0, 200)
    eigs[-1] = 10.0
    ritz = hessian.lanczos(_diag_operator(eigs), 200, 30, seed=0)
    assert ritz[-1] == pytest.approx(10.0, rel=1e-10)
    assert ritz[-1] <= 10.0 * (1 + 1e-12)  # Ritz values lie inside the spectrum


def test_lanczos_exact_after_dim_steps() -> None:
    eigs = np.array([-2.0, 0.5, 1.0, 4.0, 7.0])
    ritz = hessian.lanczos(_diag_operator(eigs), 5, 50, seed=3)
    np.testing.assert_allclose(ritz, eigs, rtol=1e-10, atol=1e-10)


def test_power_iteration_matches() -> None:
    eigs = np.concatenate([np.linspace(0, 1, 50), [5.0]])
    assert hessian.power_iteration(_diag_operator(eigs), 51, 500, tol=1e-12) == pytest.approx(5.0, rel=1e-6)


def test_lanczos_leaves_global_rng_alone() -> None:
    state = torch.get_rng_state()
    hessian.lanczos(_diag_operator(np.arange(1.0, 6.0)), 5, 3)
    assert torch.equal(state, torch.get_rng_state())


def test_loss_hvp_matches_autograd_hessian() -> None:
    torch.manual_seed(0)
    w = torch.randn(6, dtype=torch.float64, requires_grad=True)
    x = torch.randn(10, 6, dtype=torch.float64)
    f = lambda w: torch.tanh(x @ w).square().sum() + (w**4).sum()  # noqa: E731
    full = torch.autograd.functional.hessian(f, w)
    v = torch.randn(6, dtype=torch.float64)
    np.testing.assert_allclose(hessian.loss_hvp(f(w), [w])(v).numpy(), (full @ v).numpy(), rtol=1e-10)


def test_top_eigenvalue_of_least_squares_net() -> None:
    # L(w) = mean (x·w − y)²: Hessian 2 XᵀX / n over (w, b) with the bias column of ones.
    torch.manual_seed(0)
    x, y = torch.randn(50, 4), torch.randn(50, 1)
    net = nn.Sequential(nn.Linear(4, 1))
    xb = torch.cat([x, torch.ones(50, 1)], 1).double()
    expected = float(torch.linalg.eigvalsh(2 * xb.T @ xb / 50)[-1])
    before = [p.detach().clone() for p in net.parameters()]
    lam = hessian.top_hessian_eigenvalue(net, x, y, nn.functional.mse_loss, iters=5)
    assert lam == pytest.approx(expected, rel=1e-5)
    assert hessian.top_hessian_eigenvalue(net, x, y, nn.functional.mse_loss, 200, method="power") == \
        pytest.approx(expected, rel=1e-4)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_top_eigenvalue_uses_training_mode_and_restores_mode() -> None:
    net = models.build("dln", "bn", depth=3, seed=0)
    net.eval()
    x, y = torch.randn(32, 10), torch.randn(32, 10)
    hessian.top_hessian_eigenvalue(net, x, y, models.loss_fn("dln"), iters=3)
    assert not net.training
    with train.preserved_state(net):
        net.train()
        lam_train = hessian.top_hessian_eigenvalue(net, x, y, models.loss_fn("dln"), iters=10)
    assert np.isfinite(lam_train) and lam_train > 0


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="'qr'"):
        hessian.top_hessian_eigenvalue(nn.Sequential(nn.Linear(2, 1)), torch.randn(3, 2), torch.randn(3, 1),
                                       nn.functional.mse_loss, method="qr")

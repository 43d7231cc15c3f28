"""Normalisation layers: BN against [S] Fact C.1, noisy BN's noise moments, l_p normalisation."""

from __future__ import annotations

import math

import pytest
import torch

from bnopt import norms

torch.set_num_threads(1)


def _bn64(units: int, eps: float = 0.0) -> norms.BatchNorm:
    """A float64 BatchNorm with non-trivial γ, β."""
    bn = norms.BatchNorm(units, eps).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.normal_()
    return bn


@pytest.mark.parametrize("shape", [(16, 3), (4, 3, 5, 2)])
def test_bn_gradient_equals_fact_c1(shape):
    """∂f/∂A through BN equals [S] Fact C.1's closed form (conv: batch × H × W is the sample)."""
    g = torch.Generator().manual_seed(0)
    a = (torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 1).requires_grad_()
    bn = _bn64(shape[1])
    c = bn(a)
    probe = torch.randn(shape, generator=g, dtype=torch.float64)
    f = (torch.sin(c) * probe).sum()  # any smooth f(C)
    (dfda,) = torch.autograd.grad(f, a)
    dfdc = torch.cos(c.detach()) * probe
    for j in range(shape[1]):
        aj = a.detach().select(1, j).reshape(-1)
        sigma = aj.var(correction=0).sqrt()
        b = (aj - aj.mean()) / sigma
        expected = norms.bn_input_gradient(dfdc.select(1, j).reshape(-1), b, bn.weight[j].detach(), sigma)
        torch.testing.assert_close(dfda.select(1, j).reshape(-1), expected, rtol=1e-10, atol=1e-12)


def test_bn_standardises_each_unit_and_uses_eps():
    """eps=0: mean 0, variance 1 per unit; eps=1e-3 divides by √(σ² + 1e-3)."""
    x = torch.randn(64, 5, dtype=torch.float64) * 4 + 2
    y = norms.BatchNorm(5, 0.0).double()(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(y.var(0, correction=0), torch.ones(5, dtype=torch.float64))
    y3 = norms.BatchNorm(5, 1e-3).double()(x)
    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + 1e-3)
    torch.testing.assert_close(y3, expected)
    assert norms.BatchNorm(5).eps == 1e-5


def test_bn_forward_equals_written_out_formula():
    """The fused forward equals γ · normalise(x) + β (4-D input)."""
    bn = _bn64(3, 1e-3)
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(bn(x), norms.per_unit(bn.weight, x) * bn.normalise(x) + norms.per_unit(bn.bias, x))


def test_noise_moments_per_unit_and_step():
    """Algorithm 1: per unit and step σ ~ U(1, 1.25), μ ~ U(−0.5, 0.5); s ~ N(σ, 0.1), m ~ U(μ ± 0.1)."""
    units, n = 400, 2000
    layer = norms.NoiseInjection(units, seed=3)
    s, m = layer.draw(torch.zeros(n, units, dtype=torch.float64))
    sp = norms.NoiseSpec()
    sigma_hat, s_sd = s.mean(0), s.std(0)
    se = sp.r_sigma / math.sqrt(n)  # standard error of a unit's σ estimate
    assert ((sigma_hat > 1 - 6 * se) & (sigma_hat < sp.n_sigma + 6 * se)).all()
    # σ_j across units is U(1, 1.25): mean 1.125 ± 6 standard errors, sd 0.25/√12
    assert abs(sigma_hat.mean() - 1.125) < 6 * (0.25 / math.sqrt(12)) / math.sqrt(units)
    assert abs(sigma_hat.std() - 0.25 / math.sqrt(12)) < 0.015
    # per-sample spread of s is r_σ = 0.1 (sd of a sample sd ≈ 0.1/√(2n))
    assert (abs(s_sd - sp.r_sigma) < 6 * sp.r_sigma / math.sqrt(2 * n)).all()
    # m: each unit's values lie in an interval of width 2 r_μ centred in (−0.5, 0.5), uniform sd 0.1/√3
    lo, hi = m.min(0).values, m.max(0).values
    assert (hi - lo <= 2 * sp.r_mu).all() and (hi - lo > 1.9 * sp.r_mu).all()
    centre = (hi + lo) / 2
    assert (centre.abs() < sp.n_mu + 0.01).all() and centre.std() > 0.2  # U(−0.5,0.5): sd 0.29
    assert (abs(m.std(0) - sp.r_mu / math.sqrt(3)) < 0.006).all()
    # the next step draws a new distribution for each unit
    s2, _ = layer.draw(torch.zeros(n, units, dtype=torch.float64))
    assert (s2.mean(0) - sigma_hat).abs().mean() > 0.03


def test_noise_on_conv_shares_unit_parameters_over_batch_height_width():
    """For convolutions one (μ, σ) per channel covers batch × height × width."""
    layer = norms.NoiseInjection(6, seed=0)
    x = torch.randn(50, 6, 8, 8, dtype=torch.float64)
    y = layer(x)
    s, m = layer.last_noise
    torch.testing.assert_close(y, s * x + m)
    per_channel = s.transpose(0, 1).reshape(6, -1)
    assert (abs(per_channel.std(1) - 0.1) < 0.01).all()
    assert per_channel.mean(1).std() > 0.02  # channels differ
    layer.eval()
    assert torch.equal(layer(x), x)


def test_noise_is_reproducible_from_seed_and_rewindable():
    """Same seed, same noise; restoring the generator state redraws the same noise."""
    x = torch.randn(10, 4)
    a, b = norms.NoiseInjection(4, seed=7), norms.NoiseInjection(4, seed=7)
    assert torch.equal(a(x), b(x))
    state = a.get_rng_state()
    first = a(x)
    a.set_rng_state(state)
    assert torch.equal(a(x), first)
    assert not torch.equal(norms.NoiseInjection(4, seed=8)(x), b(x))


def test_noisy_bn_is_bn_then_noise():
    """NoisyBatchNorm = BatchNorm output times s plus m."""
    layer = norms.NoisyBatchNorm(3, 1e-5, seed=1).double()
    x = torch.randn(20, 3, dtype=torch.float64)
    y = layer(x)
    s, m = layer.noise.last_noise
    torch.testing.assert_close(y, s * norms.BatchNorm.forward(layer, x) + m)


@pytest.mark.parametrize("p", [1, 2, math.inf])
@pytest.mark.parametrize("shape", [(32, 4), (8, 4, 3, 3)])
def test_lp_normalisation(p, shape):
    """Output = (y − μ)/d with d the average l_p norm of the *unshifted* y, so ‖y/d‖_p,avg = 1."""
    y = torch.randn(shape, dtype=torch.float64) * 2 + 1.5  # non-zero mean: the reading matters
    layer = norms.LpNorm(shape[1], p, eps=0.0).double()
    out = layer(y)
    cols = y.transpose(0, 1).reshape(shape[1], -1)
    d = {1: cols.abs().mean(1), 2: cols.square().mean(1).sqrt(), math.inf: cols.abs().amax(1)}[p]
    torch.testing.assert_close(out, (y - norms.per_unit(cols.mean(1), y)) / norms.per_unit(d, y))
    torch.testing.assert_close(norms.lp_average_norm(y / norms.per_unit(d, y), p),
                               torch.ones(shape[1], dtype=torch.float64))
    torch.testing.assert_close(out.transpose(0, 1).reshape(shape[1], -1).mean(1),
                               torch.zeros(shape[1], dtype=torch.float64), atol=1e-12, rtol=0)
    if p == 2:  # differs from BN because the mean is not removed before taking the norm
        assert not torch.allclose(out, norms.BatchNorm(shape[1], 0.0).double()(y))


def test_make_norm_family_and_errors():
    """Each name builds its layer; unknown names are refused with the valid list."""
    assert norms.make_norm("none", 4) is None
    assert type(norms.make_norm("bn", 4, eps=1e-3)) is norms.BatchNorm
    assert norms.make_norm("bn", 4, eps=1e-3).eps == 1e-3
    assert isinstance(norms.make_norm("noisy_bn", 4), norms.NoisyBatchNorm)
    assert isinstance(norms.make_norm("bn", 4, noise=True), norms.NoisyBatchNorm)
    assert isinstance(norms.make_norm("none", 4, noise=True), norms.NoiseInjection)
    assert norms.make_norm("linf", 4).p == math.inf
    with pytest.raises(ValueError, match="unknown norm 'batchnorm'.*'bn'"):
        norms.make_norm("batchnorm", 4)
    with pytest.raises(ValueError, match="eps=-1"):
        norms.BatchNorm(3, -1)


def test_scaled_noise_measures_its_additive_part_in_each_unit_s_spread():
    """noise="scaled": the same draws as [S]'s noise, with m times the unit's batch std; s unchanged."""
    x = torch.randn(50, 3, 4, 4, dtype=torch.float64) * torch.tensor([0.01, 1.0, 30.0], dtype=torch.float64).reshape(1, 3, 1, 1)
    plain = norms.make_norm("none", 3, seed=5, noise=True).double()
    scaled = norms.make_norm("none", 3, seed=5, noise="scaled").double()
    y_plain, y_scaled = plain(x), scaled(x)
    s, m = plain.last_noise
    std = x.std(dim=(0, 2, 3), unbiased=False).reshape(1, 3, 1, 1)
    torch.testing.assert_close(y_plain, s * x + m)
    torch.testing.assert_close(y_scaled, s * x + m * std)
    with pytest.raises(ValueError, match="noise='loud'"):
        norms.make_norm("none", 3, noise="loud")

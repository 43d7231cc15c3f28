"""Activation recording: the right unit's distribution, at the right steps, and moment changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bnopt import models, recording, train

torch.set_num_threads(1)


def _data(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(10, (n,), generator=g)


def _train(model, rec, lr: float = 0.0, steps: int = 5, batch_size: int | None = None) -> None:
    config = train.TrainConfig(lr=lr, steps=steps, batch_size=batch_size, progress=False)
    train.train(model, _data(), config, [rec], loss_fn=models.loss_fn("conv2"))


def test_records_the_fixed_units_distribution_over_batch_height_width():
    """lr = 0, full batch: every record equals the unit's values computed directly (N × H × W of them)."""
    model = models.build("conv2", "bn", width=2, seed=0)
    rec = recording.ActivationRecorder(model, layers=[2, 3], every=2, max_samples=10_000, seed=1)
    _train(model, rec)
    arrays = rec.arrays()
    assert arrays["steps"].tolist() == [0, 2, 4]
    x, _ = _data()
    block = models.blocks(model)[1]
    with torch.no_grad():
        pre = block.norm(block.layer(models.blocks(model)[0](x)))  # input of layer #2's ReLU
    unit = int(arrays["layer2_unit"])
    values = pre[:, unit].reshape(-1).double()
    assert arrays["layer2_samples"].shape == (3, 16 * 14 * 14)
    np.testing.assert_allclose(np.sort(arrays["layer2_samples"][1]), np.sort(values.numpy()), rtol=1e-6)
    np.testing.assert_allclose(arrays["layer2_quantiles"][0],
                               torch.quantile(values, torch.tensor([.05, .15, .5, .85, .95], dtype=torch.float64)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(arrays["layer2_mean"], float(values.mean()), atol=1e-6)
    np.testing.assert_allclose(arrays["layer2_std"], 1.0, rtol=1e-3)  # BN output, γ = 1
    assert arrays["layer3_quantiles"].shape == (3, 5) and arrays["layer3_mean_change"].shape == (3, 64)
    # lr = 0 and full batch: nothing moves between steps (NaN at step 0: no previous step)
    assert np.isnan(arrays["layer2_mean_change"][0]).all()
    assert np.all(arrays["layer2_mean_change"][1:] == 0) and np.all(arrays["layer2_var_change"][1:] == 0)


def test_moment_changes_follow_the_noise():
    """Noisy BN: unit moments move between steps; the change equals |moments(t) − moments(t−1)|."""
    model = models.build("conv2", "noisy_bn", width=2, seed=0)
    taps: list[torch.Tensor] = []
    model[1].norm.register_forward_hook(lambda m, i, o: taps.append(o.detach()))
    rec = recording.ActivationRecorder(model, layers=[2], every=3)
    _train(model, rec, steps=4)
    arrays = rec.arrays()
    assert arrays["steps"].tolist() == [0, 3]
    means = [recording.unit_moments(t)[0] for t in taps]
    np.testing.assert_allclose(arrays["layer2_mean_change"][1], (means[3] - means[2]).abs().numpy(), rtol=1e-6)
    assert np.all(arrays["layer2_mean_change"][1] > 1e-3)


def test_unit_is_fixed_and_post_activation_is_nonnegative():
    """The sampled unit comes from the seed; post-activation records follow the ReLU."""
    model = models.build("conv2", "bn", width=4, seed=0)
    units = {int(recording.ActivationRecorder(model, [2], seed=s).arrays()["layer2_unit"]) for s in range(8)}
    assert len(units) > 1 and units <= set(range(8))
    rec = recording.ActivationRecorder(model, [1], where="post_activation", max_samples=50)
    _train(model, rec, lr=0.1, steps=2, batch_size=8)
    assert (rec.arrays()["layer1_samples"] >= 0).all()
    assert rec.arrays()["layer1_quantiles"][0, 0] == 0  # ReLU zeros
    rec.close()
    assert all(not b.act._forward_hooks for b in models.blocks(model) if b.act is not None)


def test_bad_layers_are_refused():
    """Layer numbers outside #1..#k name the valid range."""
    model = models.build("conv2", width=2)
    with pytest.raises(ValueError, match=r"#1..#4"):
        recording.ActivationRecorder(model, layers=[5])
    with pytest.raises(ValueError, match="where="):
        recording.tap_module(models.blocks(model)[0], "after")

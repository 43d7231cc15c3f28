"""The wide net: its outputs, per-run gradients and evaluation equal those of the separate nets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bnopt import models, train, wide

# input groups (one shared batch each) and the group of each run: unequal, equal, a single group
LAYOUTS = [([3, 2], [0, 0, 0, 1, 1]), ([2, 2], [0, 0, 1, 1]), ([3], [0, 0, 0])]


def _nets(model_id: str, norm: str, runs: int, width: int | None) -> list[torch.nn.Module]:
    """`runs` float64 nets with seeds 0, 1, ... (as `sweeps.train_many` builds them)."""
    return [models.build(model_id, norm, width=width, bn_eps=1e-3, seed=s).double() for s in range(runs)]


def _batches(model_id: str, groups: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random float64 images (groups, n, ...) and labels (groups, n)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((groups, n, *models.INPUT_SHAPE[model_id]), generator=g, dtype=torch.float64)
    return x, torch.randint(0, 10, (groups, n), generator=g)


@pytest.mark.parametrize("sizes,group", LAYOUTS)
@pytest.mark.parametrize("norm", ["none", "bn"])
@pytest.mark.parametrize("model_id,width", [("mnist_linear", None), ("conv2", 2), ("cifar_conv2fc3", 2),
                                            ("vgg", 1)])
def test_wide_net_equals_the_separate_nets(model_id: str, width: int | None, norm: str, sizes: list[int],
                                           group: list[int]) -> None:
    nets = _nets(model_id, norm, len(group), width)
    layers, params = wide.parse(nets[0]), wide.stack(nets)
    x, y = _batches(model_id, len(sizes), 12)
    loss_fn = models.loss_fn(model_id)
    out = wide.forward(layers, params, x, sizes)
    losses, grads = wide.loss_and_grads(layers, params, x, y[group], sizes, loss_fn)
    for r, net in enumerate(nets):
        ref_out = net(x[group[r]])
        ref_loss = loss_fn(ref_out, y[group[r]])
        ref_grads = torch.autograd.grad(ref_loss, list(net.parameters()))
        np.testing.assert_allclose(out[r].t().detach(), ref_out.detach(), rtol=1e-10, atol=1e-12)
        assert losses[r].item() == pytest.approx(ref_loss.item(), rel=1e-12)
        for (name, _), g_ref in zip(net.named_parameters(), ref_grads):
            np.testing.assert_allclose(grads[name][r], g_ref, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("model_id,width", [("mnist_linear", None), ("conv2", 2), ("cifar_conv2fc3", 2)])
def test_evaluate_equals_train_evaluate(model_id: str, width: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    nets = _nets(model_id, "bn", 3, width)
    layers, params = wide.parse(nets[0]), wide.stack(nets)
    x, y = _batches(model_id, 1, 170, seed=1)
    bounds = train.eval_bounds(170, 80)  # [0, 80, 170]: the short tail is merged, as in train.evaluate
    monkeypatch.setattr(wide, "EVAL_ELEMENTS", 1)  # one run per chunk: exercises the run chunking
    loss, acc = wide.evaluate(layers, params, x[0], y[0], bounds, models.loss_fn(model_id))
    for r, net in enumerate(nets):
        ref_loss, ref_acc = train.evaluate(net, (x[0], y[0]), models.loss_fn(model_id), 80)
        assert loss[r].item() == pytest.approx(ref_loss, rel=1e-10)
        assert acc[r].item() == pytest.approx(ref_acc, abs=1e-6)  # train.evaluate counts in float32


def test_activation_size_is_the_largest_layer_output() -> None:
    net = models.build("conv2", "bn", width=2)
    assert wide.activation_size(wide.parse(net), wide.stack([net]), (1, 28, 28)) == 2 * 28 * 28
    net = models.build("mnist_linear", "bn")
    assert wide.activation_size(wide.parse(net), wide.stack([net]), (1, 28, 28)) == 10


def test_unsupported_nets_and_losses_are_named() -> None:
    with pytest.raises(wide.Unsupported, match="BatchNorm without running statistics"):
        wide.parse(models.build("conv2", "noisy_bn", width=2))
    with pytest.raises(wide.Unsupported, match="no nn.Flatten before it"):
        wide.parse(models.build("dln", "bn", depth=3))
    with pytest.raises(wide.Unsupported, match="l2_loss"):
        wide.check_loss(models.l2_loss)
    assert isinstance(wide.Unsupported("x"), ValueError)


def test_keep_freed_memory_is_set_once() -> None:
    first = wide.keep_freed_memory()
    assert isinstance(first, bool) and wide.keep_freed_memory() is first

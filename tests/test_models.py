"""Models: parameter counts, wiring (every layer reaches the loss), init, parameter groups, vmap."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bnopt import models, norms

torch.set_num_threads(1)

TINY_WIDTH = {"vgg": 2, "dln": 10, "mnist_linear": None, "conv2": 2, "cifar_conv2fc3": 3}


def _batch(model_id: str, n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random input batch and targets for `model_id`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *models.INPUT_SHAPE[model_id]), generator=g)
    y = torch.randn(n, 10, generator=g) if model_id == "dln" else torch.randint(10, (n,), generator=g)
    return x, y


# Pinned: (plain, with BN). By hand, conv2 plain at w = 32: conv 1·32·25+32 = 832,
# conv 32·64·25+64 = 51,264, FC 3136·1024+1024 = 3,212,288, FC 1024·10+10 = 10,250.
PARAMS = {"vgg": (9_935_434, 9_943_370), "dln": (2_500, 2_980), "mnist_linear": (7_850, 7_870),
          "conv2": (3_274_634, 3_276_894), "cifar_conv2fc3": (1_756_426, 1_757_854)}
LAYERS = {"vgg": (13, 12), "dln": (25, 24), "mnist_linear": (1, 1), "conv2": (4, 4), "cifar_conv2fc3": (5, 5)}


@pytest.mark.parametrize("model_id", models.MODEL_IDS)
def test_parameter_and_layer_counts_at_paper_size(model_id):
    """Pinned parameter counts; weight layers and normalised layers per net."""
    for norm, count in zip(("none", "bn"), PARAMS[model_id]):
        model = models.build(model_id, norm)
        assert models.parameter_count(model) == count
        assert len(models.weight_layers(model)) == LAYERS[model_id][0]
        assert len(models.norm_layers(model)) == (0 if norm == "none" else LAYERS[model_id][1])
    assert 832 + 51_264 + 3_212_288 + 10_250 == PARAMS["conv2"][0]


def test_width_shrinks_vgg():
    """VGG width 8: convs 8..64 channels, head 64 → 64 → 64 → 10."""
    model = models.build("vgg", width=8)
    convs = [m for m in models.weight_layers(model) if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 32, 32, 64, 64, 64, 64]
    assert models.weight_layers(model)[-1].in_features == 64
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def unreached_modules(model: nn.Module, model_id: str) -> list[str]:
    """Conv/linear and normalisation modules whose output does not reach the loss exactly once.

    Each module's output is perturbed elementwise in turn (random, so BN cannot absorb it);
    the loss must change and the hook must fire once.
    """
    x, y = _batch(model_id)
    loss_fn = models.loss_fn(model_id)

    def loss_with(module: nn.Module | None) -> tuple[float, int]:
        fired = []

        def perturb(_m, _inp, out):
            fired.append(1)
            g = torch.Generator().manual_seed(5)
            return out + 0.5 * torch.randn(out.shape, generator=g) * (out.std() + 1)

        handle = module.register_forward_hook(perturb) if module is not None else None
        for layer in norms.noise_layers(model):  # same noise in every pass
            layer.set_rng_state({})
        with torch.no_grad():
            loss = float(loss_fn(model(x), y))
        if handle:
            handle.remove()
        return loss, len(fired)

    base, _ = loss_with(None)
    bad = []
    for k, module in enumerate(models.weight_layers(model) + models.norm_layers(model)):
        loss, fired = loss_with(module)
        if fired != 1 or abs(loss - base) <= 1e-6 * (1 + abs(base)):
            bad.append(f"{k}: {module}")
    return bad


@pytest.mark.parametrize("norm", ["none", "bn", "noisy_bn", "l1", "linf"])
@pytest.mark.parametrize("model_id", models.MODEL_IDS)
def test_every_weight_and_norm_layer_reaches_the_loss(model_id, norm):
    """Perturbing any conv/linear or normalisation output changes the loss; each runs once."""
    model = models.build(model_id, norm, width=TINY_WIDTH[model_id], seed=1)
    assert unreached_modules(model, model_id) == []


def test_wiring_check_catches_a_bypassed_block():
    """A block computed but not used (the public [C] script's bug) is reported."""
    model = models.build("dln", "bn", depth=6)
    block = models.blocks(model)[3]
    block.forward = lambda x: (models.Block.forward(block, x), x)[1]  # computes, then bypasses
    assert [s.split(":")[0] for s in unreached_modules(model, "dln")] == ["3", "9"]  # layer #4, its BN


@pytest.mark.parametrize("model_id", ["conv2", "cifar_conv2fc3", "dln"])
def test_every_parameter_gets_a_gradient(model_id):
    """Backward reaches every weight, bias, γ and β of the BN net."""
    model = models.build(model_id, "bn", width=TINY_WIDTH[model_id])
    x, y = _batch(model_id)
    models.loss_fn(model_id)(model(x), y).backward()
    for name, p in model.named_parameters():
        if name.endswith("layer.bias") and model_id != "dln":
            continue  # a bias right before BN has zero gradient by construction
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_glorot_init_and_identity_bn():
    """Weights U(±√(6/(fan_in+fan_out))), biases 0, γ = 1, β = 0; same seed, same weights for all norms."""
    model = models.build("cifar_conv2fc3", "bn", width=8, seed=4)
    for layer in models.weight_layers(model):
        w = layer.weight.detach()
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.9 * bound
        assert abs(float(w.var()) - bound**2 / 3) < 0.25 * bound**2 / 3
        assert torch.count_nonzero(layer.bias) == 0
    for layer in models.norm_layers(model):
        assert torch.all(layer.weight == 1) and torch.all(layer.bias == 0)
    plain = models.build("cifar_conv2fc3", "none", width=8, seed=4)
    for a, b in zip(models.weight_layers(model), models.weight_layers(plain)):
        assert torch.equal(a.weight, b.weight)
    other = models.build("cifar_conv2fc3", "none", width=8, seed=5)
    assert not torch.equal(models.weight_layers(other)[0].weight, models.weight_layers(plain)[0].weight)


def test_bn_eps_and_norm_placement():
    """bn_eps reaches every BN layer; [C] nets normalise the output layer, [S] nets do not."""
    model = models.build("conv2", "bn", width=2, bn_eps=1e-3)
    assert all(layer.eps == 1e-3 for layer in models.norm_layers(model))
    assert models.blocks(model)[-1].norm is not None
    assert models.blocks(models.build("vgg", "bn", width=2))[-1].norm is None
    assert models.blocks(models.build("dln", "bn"))[-1].norm is None
    noise_only = models.build("conv2", "none", width=2, noise=True)
    assert all(isinstance(m, norms.NoiseInjection) for m in models.norm_layers(noise_only))


def test_parameter_groups_split_norm_parameters():
    """norm_parameters are exactly the γ, β; with weight_parameters they partition the parameters."""
    model = models.build("conv2", "bn", width=2)
    norm_ps, weight_ps = models.norm_parameters(model), models.weight_parameters(model)
    assert sum(p.numel() for p in norm_ps) == 2 * (2 + 4 + 64 + 10)
    assert len(norm_ps) + len(weight_ps) == len(list(model.parameters()))
    assert {id(p) for p in norm_ps}.isdisjoint(id(p) for p in weight_ps)
    assert models.is_norm_parameter(model, "0.norm.weight")
    assert not models.is_norm_parameter(model, "0.layer.weight")


def test_losses_are_the_papers():
    """mnist_linear: mean (softmax − one-hot)²; dln: summed squared error; convnets: cross-entropy."""
    logits, y = torch.randn(4, 10), torch.tensor([1, 0, 9, 3])
    p = torch.softmax(logits, 1)
    onehot = torch.eye(10)[y]
    torch.testing.assert_close(models.loss_fn("mnist_linear")(logits, y), ((p - onehot) ** 2).mean())
    torch.testing.assert_close(models.loss_fn("conv2")(logits, y), -torch.log(p[range(4), y]).mean())
    a, b = torch.randn(5, 10), torch.randn(5, 10)
    torch.testing.assert_close(models.loss_fn("dln")(a, b), ((a - b) ** 2).sum())


def test_linear_layout_trick_is_plain_linear():
    """models.Linear equals nn.Linear's maths, with and without bias, and its gradients."""
    layer = models.Linear(7, 3)
    x = torch.randn(11, 7, requires_grad=True)
    y = layer(x)
    torch.testing.assert_close(y, nn.functional.linear(x, layer.weight, layer.bias))
    y.square().sum().backward()
    torch.testing.assert_close(x.grad, (2 * y @ layer.weight).detach())


def test_unknown_id_norm_and_width_errors():
    """Errors name the bad value and list the valid ones."""
    with pytest.raises(ValueError, match="unknown model id 'resnet'.*'vgg'"):
        models.build("resnet")
    with pytest.raises(ValueError, match="unknown norm 'layernorm'.*'noisy_bn'"):
        models.build("vgg", "layernorm")
    with pytest.raises(ValueError, match="width=0"):
        models.build("conv2", width=0)
    with pytest.raises(ValueError, match="depth"):
        models.build("conv2", depth=3)
    assert len(models.weight_layers(models.build("dln", depth=4))) == 4


def test_functional_call_vmap_over_stacked_bn_nets():
    """vmap(functional_call) over 2 stacked conv2-with-BN copies equals two separate calls."""
    nets = [models.build("conv2", "bn", width=2, bn_eps=1e-3, seed=s).double() for s in (0, 1)]
    x = _batch("conv2", n=8)[0].double()
    params = {k: torch.stack([dict(n.named_parameters())[k].detach() for n in nets])
              for k, _ in nets[0].named_parameters()}

    def run(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.func.functional_call(nets[0], p, (x,))

    stacked = torch.func.vmap(run)(params)
    for i, net in enumerate(nets):
        torch.testing.assert_close(stacked[i], net(x), rtol=1e-10, atol=1e-12)

"""The papers' networks, built from a registry of ids, each with any normalisation of `norms`.

    model = models.build("conv2", "bn", bn_eps=1e-3, seed=0)
    loss = models.loss_fn("conv2")(model(x), y)

Ids ("layer #k" = the k-th conv/linear layer from the input, as in [S]'s figures):

- "vgg": [S]'s VGG-like CIFAR-10 net (App. A.1 says only "VGG-like", with at least 13 weight
  layers since Fig. 2 shows layer #13). We use VGG-13's convolution stack (Simonyan & Zisserman
  config B) with a CIFAR head: 3×3 convs of widths w, w | 2w, 2w | 4w, 4w | 8w, 8w | 8w, 8w,
  a 2×2 max-pool after each pair (32 → 1 pixel), then FC 8w → 8w → 8w → 10: 10 conv + 3 FC = 13
  weight layers, ReLU after every hidden layer. `width` = w, 64 at paper scale (9.9 M parameters).
  Normalisation (when on) after every hidden layer, before the ReLU; the output layer is plain.
- "dln": [S]'s 25-layer deep linear network, 25 bias-free 10×10 linear layers, l2 loss.
  Normalisation (when on) after each of the first 24 layers; the output layer (#25) is plain, so
  the net can fit A x at any scale. `width` = 10 (matrix size), `depth` = 25 via `**kw`.
- "mnist_linear": [C]'s one-layer 784 × 10 net, softmax + mean-square loss. Normalisation (when
  on) on its one layer, before the softmax ([C]: "BN on all layers").
- "conv2": [C]'s MNIST / Fashion-MNIST Conv-MaxPool-Conv-MaxPool-FC-FC, ReLU, cross-entropy.
  [C] gives no sizes; we use TensorFlow's MNIST tutorial net: 5×5 "same" convs of w and 2w
  channels, 2×2 max-pools, FC 7·7·2w → 32w → 10; w = 32 (3.27 M parameters).
- "cifar_conv2fc3": [C]'s CIFAR-10 Conv-MaxPool-Conv-MaxPool-FC-FC-FC. Again unstated; we use
  TensorFlow's CIFAR-10 tutorial net: 5×5 "same" convs of w and w channels, 2×2 max-pools,
  FC 8·8·w → 6w → 3w → 10; w = 64 (1.76 M parameters).
  In both [C] convnets normalisation is on *all* layers, the output layer included, as [C] says;
  this also makes every weight scale-invariant, which [C]'s scaling law needs.

All conv/linear weights are Glorot-uniform initialised and biases zero (both papers); γ = 1,
β = 0 (the identity map at initialisation, as [C] asks). A net is an `nn.Sequential` of
`Block`s (weight layer → normalisation → nonlinearity → pooling), with one `nn.Flatten`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bnopt import norms
from bnopt.norms import NORMS, check_norm

MODEL_IDS: tuple[str, ...] = ("vgg", "dln", "mnist_linear", "conv2", "cifar_conv2fc3")
DEFAULT_WIDTH: dict[str, int] = {"vgg": 64, "dln": 10, "mnist_linear": 10, "conv2": 32,
                                 "cifar_conv2fc3": 64}
INPUT_SHAPE: dict[str, tuple[int, ...]] = {"vgg": (3, 32, 32), "dln": (10,),
                                           "mnist_linear": (1, 28, 28), "conv2": (1, 28, 28),
                                           "cifar_conv2fc3": (3, 32, 32)}
__all__ = ["MODEL_IDS", "NORMS", "Block", "build", "loss_fn", "weight_layers", "norm_layers",
           "norm_parameters", "weight_parameters", "is_norm_parameter", "blocks"]


class Block(nn.Module):
    """One weight layer with what follows it: layer → norm → activation → pool (each optional).

    Activation recording taps the output of `norm` (or of `layer` when there is no norm).
    """

    def __init__(self, layer: nn.Module, norm: nn.Module | None = None, act: nn.Module | None = None,
                 pool: nn.Module | None = None) -> None:
        super().__init__()
        self.layer, self.norm, self.act, self.pool = layer, norm, act, pool

    def forward(self, x: Tensor) -> Tensor:
        """Apply the weight layer, then normalisation, nonlinearity and pooling where present."""
        x = self.layer(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        if self.pool is not None:
            x = self.pool(x)
        return x


class Linear(nn.Linear):
    """nn.Linear computed as (W·xᵀ)ᵀ for 2-D input: the same maths, returned as a transposed view.

    On CPU, MKL multiplies a tall (N × 10) batch by a 10 × 10 matrix several times slower than
    the (10 × 10)·(10 × N) product; chained layers then stay in the fast layout without copies.
    This makes the DLN's full-batch step about 3× faster (benchmarks/bench_train.py).
    """

    def forward(self, x: Tensor) -> Tensor:
        """y = x Wᵀ + b."""
        if x.dim() != 2:
            return super().forward(x)
        y = torch.mm(self.weight, x.t()).t()
        return y if self.bias is None else y + self.bias


class _Builder:
    """Makes blocks for one net, numbering normalisation layers so noise seeds differ per layer."""

    def __init__(self, norm: str, bn_eps: float | None, seed: int, noise: bool | str) -> None:
        self.norm, self.bn_eps, self.seed, self.noise = check_norm(norm), bn_eps, seed, noise
        self.count = 0

    def block(self, layer: nn.Module, units: int, *, normed: bool = True, relu: bool = False,
              pool: bool = False) -> Block:
        """A Block around `layer` with this net's normalisation (if `normed`)."""
        self.count += 1
        norm = (norms.make_norm(self.norm, units, eps=self.bn_eps, noise=self.noise,
                                seed=1_000_003 * self.seed + self.count) if normed else None)
        return Block(layer, norm, nn.ReLU() if relu else None, nn.MaxPool2d(2) if pool else None)


def _vgg(b: _Builder, w: int) -> list[nn.Module]:
    """VGG-13 conv stack (10 convs, 5 pools) and a 3-layer FC head for 32×32×3 inputs."""
    widths = [w, w, 2 * w, 2 * w, 4 * w, 4 * w, 8 * w, 8 * w, 8 * w, 8 * w]
    mods: list[nn.Module] = []
    c_in = 3
    for i, c in enumerate(widths):
        mods.append(b.block(nn.Conv2d(c_in, c, 3, padding=1), c, relu=True, pool=i % 2 == 1))
        c_in = c
    mods.append(nn.Flatten())
    mods.append(b.block(nn.Linear(8 * w, 8 * w), 8 * w, relu=True))
    mods.append(b.block(nn.Linear(8 * w, 8 * w), 8 * w, relu=True))
    mods.append(b.block(nn.Linear(8 * w, 10), 10, normed=False))
    return mods


def _dln(b: _Builder, w: int, depth: int = 25) -> list[nn.Module]:
    """`depth` bias-free w×w linear layers; all but the output layer normalised."""
    return [b.block(Linear(w, w, bias=False), w, normed=i < depth - 1) for i in range(depth)]


def _mnist_linear(b: _Builder, w: int) -> list[nn.Module]:
    """Flatten, then one 784 × 10 layer (normalised when a norm is chosen)."""
    if w != 10:
        raise ValueError(f"width={w} for 'mnist_linear'; its one layer is 784 x 10, leave width=None")
    return [nn.Flatten(), b.block(nn.Linear(784, 10), 10)]


def _conv2(b: _Builder, w: int) -> list[nn.Module]:
    """[C]'s Conv-MaxPool-Conv-MaxPool-FC-FC for 28×28×1 inputs, all layers normalised."""
    return [b.block(nn.Conv2d(1, w, 5, padding=2), w, relu=True, pool=True),
            b.block(nn.Conv2d(w, 2 * w, 5, padding=2), 2 * w, relu=True, pool=True),
            nn.Flatten(),
            b.block(nn.Linear(7 * 7 * 2 * w, 32 * w), 32 * w, relu=True),
            b.block(nn.Linear(32 * w, 10), 10)]


def _cifar_conv2fc3(b: _Builder, w: int) -> list[nn.Module]:
    """[C]'s Conv-MaxPool-Conv-MaxPool-FC-FC-FC for 32×32×3 inputs, all layers normalised."""
    return [b.block(nn.Conv2d(3, w, 5, padding=2), w, relu=True, pool=True),
            b.block(nn.Conv2d(w, w, 5, padding=2), w, relu=True, pool=True),
            nn.Flatten(),
            b.block(nn.Linear(8 * 8 * w, 6 * w), 6 * w, relu=True),
            b.block(nn.Linear(6 * w, 3 * w), 3 * w, relu=True),
            b.block(nn.Linear(3 * w, 10), 10)]


_ARCHS: dict[str, Callable[..., list[nn.Module]]] = {
    "vgg": _vgg, "dln": _dln, "mnist_linear": _mnist_linear, "conv2": _conv2,
    "cifar_conv2fc3": _cifar_conv2fc3}


def check_model_id(model_id: str) -> str:
    """Return `model_id` if known, else raise an error listing the valid ones."""
    if model_id not in MODEL_IDS:
        raise ValueError(f"unknown model id {model_id!r}; choose one of {', '.join(map(repr, MODEL_IDS))}")
    return model_id


def glorot_init_(model: nn.Module, generator: torch.Generator) -> None:
    """Glorot-uniform weights and zero biases for every conv/linear layer (both papers)."""
    for layer in weight_layers(model):
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            if layer.bias is not None:
                layer.bias.zero_()


def build(model_id: str, norm: str = "none", *, width: int | None = None, bn_eps: float | None = None,
          seed: int = 0, noise: bool | str = False, **kw: int) -> nn.Sequential:
    """The net `model_id` with normalisation `norm`, Glorot-initialised from `seed`.

    model_id: one of MODEL_IDS. norm: one of NORMS ("none", "bn", "noisy_bn", "l1", "l2", "linf").
    width: the net's width setting (see the module docstring; None = paper size).
    bn_eps: denominator constant of the normalisation layers (None = 1e-5; [C] uses 1e-3).
    seed: initial weights and the noise generators of noisy layers.
    noise: add [S] Algorithm 1's noise after each normalisation point even without BN
    (norm="none", noise=True is [S] §2.1's "same noise without BN" control; noise="scaled" the book's
    variant with the additive noise in units of each unit's spread).
    kw: "dln" only: depth (default 25).
    The same seed gives the same conv/linear weights whatever the norm.
    """
    check_model_id(model_id)
    w = DEFAULT_WIDTH[model_id] if width is None else int(width)
    if w < 1:
        raise ValueError(f"width={width} must be a positive integer (None = paper size)")
    if (kw and model_id != "dln") or set(kw) - {"depth"}:
        raise ValueError(f"unexpected settings {sorted(kw)} for {model_id!r}; only 'dln' takes depth=")
    model = nn.Sequential(*_ARCHS[model_id](_Builder(norm, bn_eps, seed, noise), w, **kw))
    glorot_init_(model, torch.Generator().manual_seed(seed))
    return model


def blocks(model: nn.Module) -> list[Block]:
    """The Blocks of `model` in input-to-output order (block k holds layer #k)."""
    return [m for m in model.modules() if isinstance(m, Block)]


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The conv/linear layers in paper order: index 0 is layer #1, the first from the input."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def norm_layers(model: nn.Module) -> list[nn.Module]:
    """The normalisation module of each normalised block, in order (BN, noisy BN, l_p, noise)."""
    return [b.norm for b in blocks(model) if b.norm is not None]


def _named_norm_params(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """(name, parameter) for the γ, β of every normalisation layer."""
    for mod_name, mod in model.named_modules():
        if isinstance(mod, norms.NormLayer):
            for p_name, p in mod.named_parameters(recurse=False):
                yield f"{mod_name}.{p_name}", p


def norm_parameter_names(model: nn.Module) -> set[str]:
    """Names (as in `model.named_parameters()`) of the normalisation parameters γ, β."""
    return {name for name, _ in _named_norm_params(model)}


def is_norm_parameter(model: nn.Module, name: str) -> bool:
    """Whether parameter `name` of `model` is a normalisation γ or β ([C]'s lr_a applies)."""
    return name in norm_parameter_names(model)


def norm_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The normalisation parameters γ, β (trained with [C]'s separate learning rate lr_a)."""
    return [p for _, p in _named_norm_params(model)]


def weight_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every other parameter: conv/linear weights and biases (trained with lr)."""
    ids = {id(p) for p in norm_parameters(model)}
    return [p for p in model.parameters() if id(p) not in ids]


def mse_on_softmax(logits: Tensor, y: Tensor) -> Tensor:
    """[C]'s "softmax mean-square loss": mean over batch and classes of (softmax − one-hot)².

    The one-hot is built by comparison (not `F.one_hot`, which checks its range with `.item()`), so
    the loss also works under `torch.func.vmap`.
    """
    one_hot = (y.unsqueeze(1) == torch.arange(logits.shape[1], device=y.device)).to(logits.dtype)
    return (torch.softmax(logits, dim=1) - one_hot).square().mean()


def l2_loss(pred: Tensor, target: Tensor) -> Tensor:
    """[S]'s DLN loss ‖W_1…W_k x − A x‖²: squared error summed over units and samples.

    The sum (not mean) over the 1,000 samples is what makes [S]'s lr = 1e-6 a sensible step.
    """
    return (pred - target).square().sum()


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Softmax cross-entropy, mean over the batch."""
    return F.cross_entropy(logits, y)


_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "vgg": cross_entropy, "dln": l2_loss, "mnist_linear": mse_on_softmax,
    "conv2": cross_entropy, "cifar_conv2fc3": cross_entropy}


def loss_fn(model_id: str) -> Callable[[Tensor, Tensor], Tensor]:
    """The paper's loss for `model_id`: (output, target) -> scalar."""
    return _LOSSES[check_model_id(model_id)]


def is_classifier(model_id: str) -> bool:
    """Whether `model_id` predicts class labels (accuracy is meaningful)."""
    return check_model_id(model_id) != "dln"


def parameter_count(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters())

"""Many runs of one net as one wide net: every run's forward and backward in a few large ops.

    layers = wide.parse(models.build("conv2", "bn", width=2, bn_eps=1e-3))
    params = wide.stack([models.build("conv2", "bn", width=2, bn_eps=1e-3, seed=s) for s in seeds])
    losses, grads = wide.loss_and_grads(layers, params, x, y, sizes, models.loss_fn("conv2"))

The trick. R runs of a net that share an architecture are R independent nets; side by side they
form one net R times as wide whose layers never mix runs:

- runs with the same seed see the same minibatch (`train.train` draws batches from the seed), so
  their first layers are ONE ordinary conv / matrix product on that shared batch with the runs'
  weights concatenated (R·C output channels); `x` holds one batch per such input group;
- later conv layers are grouped convolutions (groups = R): group r reads only run r's channels;
- fully connected layers are one batched matrix product (`torch.bmm`) over runs;
- BatchNorm normalises each channel (unit) over the batch (and H, W) on its own, so one
  `torch.batch_norm` over the R·C stacked channels is exactly BN of every run; ReLU and max-pool
  act per channel, so they need nothing special.

Why it is exact. Every output of run r is computed from run r's parameters and inputs only, by
the same operations as in `models.build`'s net (summation order aside). The loss of run r depends
only on run r's parameters, so the gradient of the SUM of the per-run losses with respect to run
r's parameters is run r's own gradient: one backward pass gives every run's gradient. Tested
against autograd of the separate nets in float64 (agreement to ~1e-14). A run whose values blow
up cannot touch the others: no op multiplies one run's values by another's (no block-diagonal
tricks, whose zeros would turn another run's inf into NaN).

Layouts (chosen by measurement on CPU, `benchmarks/bench_sweeps.py`): conv activations are
(batch, R·C, H, W) in channels-last memory, run r's channels at r·C … r·C + C − 1 (oneDNN's
grouped convs, BatchNorm and max-pool are several times faster channels-last); fully connected
activations are (R, units, batch), which BN sees as (1, R·units, batch) without a copy. Each block
pools before its ReLU (the same values and gradients, see `forward`) on a quarter of the data.

Parameters are stacked per run, (R, *shape) under the names of `net.named_parameters()`, so
dropping a run is indexing dimension 0 and a per-run learning rate is a broadcast multiply.
Supported: nets of `models.Block`s made of Conv2d / Linear, `norms.BatchNorm` without running
statistics (or no norm), ReLU and non-overlapping max-pooling, with one `nn.Flatten` between the
conv and the fully connected parts ([C]'s "mnist_linear", "conv2", "cifar_conv2fc3", also "vgg"),
and the losses `models.cross_entropy` and `models.mse_on_softmax`. Anything else raises
`Unsupported` (a ValueError) naming what is not supported.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bnopt import models, norms

LossFn = Callable[[Tensor, Tensor], Tensor]
EVAL_ELEMENTS = 2**26  # largest activation of one evaluation chunk of runs (bounds memory; not a result setting)
KEEP_FREED_BYTES = 2**30  # glibc trim / mmap thresholds set by `keep_freed_memory`


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of handing it back to the OS (once per process).

    The wide net's activations are tens of MB. glibc serves blocks that large with fresh mmap'd
    pages and returns freed memory at the top of its heap to the OS, so every step page-faults its
    working set back in. Raising M_TRIM_THRESHOLD and M_MMAP_THRESHOLD to 1 GiB keeps that memory
    for the next step; the process then keeps its peak heap. Measured (1 thread, `ci` job of 26
    runs): conv-net jobs 20-25% faster, their evaluation twice as fast. Returns whether it was set
    (False off Linux/glibc, where the allocator is left alone).
    """
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library's symbols
    if mallopt is None:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_trim_threshold, KEEP_FREED_BYTES)) and bool(mallopt(m_mmap_threshold, KEEP_FREED_BYTES))


class Unsupported(ValueError):
    """The net or loss has a layer the wide net does not implement."""


@dataclass(frozen=True)
class Layer:
    """One Block of the net as the wide net computes it (names are `named_parameters` prefixes)."""

    weight: str  # parameter name of the conv/linear weight, e.g. "0.layer.weight"
    bias: str | None  # ... of its bias (None: no bias)
    conv: bool  # Conv2d (True) or Linear (False)
    padding: tuple[int, int]
    stride: tuple[int, int]
    norm: str | None  # parameter prefix of the BatchNorm (γ = norm + ".weight"), None: no norm
    eps: float
    relu: bool
    pool: int  # max-pool kernel = stride (0: no pooling)


def _conv_layer(m: nn.Conv2d) -> tuple[tuple[int, int], tuple[int, int]]:
    """(padding, stride) of a plain conv, or Unsupported."""
    if m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise Unsupported(f"conv {m} has groups, dilation, string padding or a padding mode; "
                          "the wide net handles plain Conv2d(..., padding=int) only")
    return tuple(m.padding), tuple(m.stride)  # type: ignore[return-value]


def _pool(m: nn.Module | None) -> int:
    """Kernel of a non-overlapping max-pool (0 for none), or Unsupported."""
    if m is None:
        return 0
    if (not isinstance(m, nn.MaxPool2d) or not isinstance(m.kernel_size, int) or m.stride != m.kernel_size
            or m.padding != 0 or m.dilation != 1 or m.ceil_mode):
        raise Unsupported(f"pooling {m}: the wide net handles MaxPool2d(k) (stride k, no padding) only")
    return m.kernel_size


def parse(net: nn.Module) -> list[Layer]:
    """The Layers of a `models.build` net (an nn.Sequential of Blocks and one Flatten)."""
    if not isinstance(net, nn.Sequential):
        raise Unsupported(f"{type(net).__name__} is not an nn.Sequential of models.Block")
    layers: list[Layer] = []
    flat = False
    for name, m in net.named_children():
        if isinstance(m, nn.Flatten):
            flat = True
            continue
        if not isinstance(m, models.Block):
            raise Unsupported(f"module {name} ({type(m).__name__}) is not a models.Block or nn.Flatten")
        if m.norm is not None and (type(m.norm) is not norms.BatchNorm or m.norm.track_running_stats):
            raise Unsupported(f"normalisation {m.norm!r}: the wide net handles BatchNorm without running "
                              "statistics (norm 'bn') or none (norm 'none') only")
        if m.act is not None and not isinstance(m.act, nn.ReLU):
            raise Unsupported(f"activation {m.act!r}: the wide net handles ReLU only")
        if isinstance(m.layer, nn.Conv2d) and not flat:
            padding, stride = _conv_layer(m.layer)
        elif isinstance(m.layer, nn.Linear) and flat:
            padding, stride = (0, 0), (1, 1)
        else:
            where = "after the nn.Flatten" if flat else "with no nn.Flatten before it"
            raise Unsupported(f"layer {name} ({type(m.layer).__name__}) {where}: the wide net handles "
                              "Conv2d layers, then an nn.Flatten, then Linear layers")
        layers.append(Layer(weight=f"{name}.layer.weight",
                            bias=None if m.layer.bias is None else f"{name}.layer.bias",
                            conv=isinstance(m.layer, nn.Conv2d), padding=padding, stride=stride,
                            norm=None if m.norm is None else f"{name}.norm", eps=0.0 if m.norm is None else m.norm.eps,
                            relu=m.act is not None, pool=_pool(m.pool)))
    if not layers:
        raise Unsupported("the net has no conv or linear layer")
    return layers


def stack(nets: Sequence[nn.Module]) -> dict[str, Tensor]:
    """Parameters of `nets` stacked per run: name -> (runs, *shape), detached copies."""
    names = [n for n, _ in nets[0].named_parameters()]
    per_net = [dict(net.named_parameters()) for net in nets]
    return {n: torch.stack([p[n].detach() for p in per_net]).clone() for n in names}


def _norm(h: Tensor, params: dict[str, Tensor], layer: Layer) -> Tensor:
    """Per-channel batch normalisation of the stacked channels (dimension 1) of `h`."""
    if layer.norm is None:
        return h
    gamma, beta = params[layer.norm + ".weight"].reshape(-1), params[layer.norm + ".bias"].reshape(-1)
    return torch.batch_norm(h, gamma, beta, None, None, True, 0.0, layer.eps, torch.backends.cudnn.enabled)


def _first_conv(x: Tensor, w: Tensor, b: Tensor | None, sizes: Sequence[int], layer: Layer) -> Tensor:
    """The first conv of every run, output channels-last: ordinary convs on each group's shared batch.

    One input channel and equal groups (MNIST): the groups' batches become the input channels of
    ONE conv with groups = input groups (a 1-channel conv would return channels-first; this is also
    the fastest measured). Otherwise (CIFAR, or unequal groups) one conv per group, concatenated:
    with 3 input channels that is faster than the grouped conv (measured).
    """
    bias = None if b is None else b.reshape(-1)
    if x.shape[2] == 1 and len(set(sizes)) == 1:
        xs = x.transpose(0, 1).flatten(1, 2).contiguous(memory_format=torch.channels_last)
        y = F.conv2d(xs, w.flatten(0, 1), bias, layer.stride, layer.padding, groups=len(sizes))
        return y.contiguous(memory_format=torch.channels_last)
    outs, r0, per_run = [], 0, w.shape[1]
    for g, n in enumerate(sizes):
        xg = x[g].contiguous(memory_format=torch.channels_last)
        y = F.conv2d(xg, w[r0:r0 + n].flatten(0, 1), None if bias is None else bias[r0 * per_run:(r0 + n) * per_run],
                     layer.stride, layer.padding)
        outs.append(y.contiguous(memory_format=torch.channels_last))
        r0 += n
    return outs[0] if len(outs) == 1 else torch.cat(outs, 1)


def _first_linear(x: Tensor, w: Tensor, b: Tensor | None, sizes: Sequence[int]) -> Tensor:
    """The first linear layer of every run, (runs, units, batch): one product per input group."""
    flat = x.flatten(2)  # (groups, batch, features)
    if len(set(sizes)) == 1:
        wg = w.view(len(sizes), -1, w.shape[-1])
        y = torch.bmm(wg, flat.transpose(1, 2)) if b is None else torch.baddbmm(
            b.view(len(sizes), -1, 1), wg, flat.transpose(1, 2))
        return y.view(w.shape[0], w.shape[1], -1)
    outs, r0 = [], 0
    for g, n in enumerate(sizes):
        y = torch.mm(w[r0:r0 + n].flatten(0, 1), flat[g].t()).view(n, w.shape[1], -1)
        outs.append(y if b is None else y + b[r0:r0 + n].unsqueeze(-1))
        r0 += n
    return torch.cat(outs, 0)


class _ChannelsLastGrad(torch.autograd.Function):
    """Identity that hands its gradient back channels-last (else max-pool's backward converts its input)."""

    @staticmethod
    def forward(ctx: object, x: Tensor) -> Tensor:  # noqa: D102
        return x.view_as(x)

    @staticmethod
    def backward(ctx: object, g: Tensor) -> Tensor:  # noqa: D102
        return g.contiguous(memory_format=torch.channels_last)


def _flatten(h: Tensor, runs: int) -> Tensor:
    """(batch, runs·C, H, W) -> (runs, C·H·W, batch): each run's features in nn.Flatten's order."""
    return _ChannelsLastGrad.apply(h).reshape(h.shape[0], runs, -1).permute(1, 2, 0)


def forward(layers: Sequence[Layer], params: dict[str, Tensor], x: Tensor, sizes: Sequence[int]) -> Tensor:
    """Outputs (runs, classes, batch) of every run; x (groups, batch, ...) is the batch of each input group.

    Runs are ordered by input group: the first sizes[0] runs see x[0], the next sizes[1] see x[1], ...
    Each block computes layer → norm → max-pool → ReLU where `models.Block` does layer → norm →
    ReLU → max-pool: the same values (ReLU is monotone, so it commutes with max) and the same
    gradients (a window whose max is > 0 sends its gradient to the same first argmax; one whose max
    is <= 0 gets none either way), on a quarter of the data.
    """
    runs = sum(sizes)
    h = x
    for i, layer in enumerate(layers):
        w, b = params[layer.weight], None if layer.bias is None else params[layer.bias]
        if layer.conv:
            if i == 0:
                h = _first_conv(x, w, b, sizes, layer)
            else:
                h = F.conv2d(h, w.flatten(0, 1), None if b is None else b.reshape(-1),
                             layer.stride, layer.padding, groups=runs)
            h = _norm(h, params, layer)
        else:
            if i == 0:
                h = _first_linear(x, w, b, sizes)
            else:
                if h.dim() == 4:
                    h = _flatten(h, runs)
                h = torch.bmm(w, h) if b is None else torch.baddbmm(b.unsqueeze(-1), w, h)
            h = _norm(h.view(1, -1, h.shape[-1]), params, layer).view(runs, -1, h.shape[-1])
        if layer.pool:
            h = F.max_pool2d(h, layer.pool)
        if layer.relu:
            h = torch.relu_(h) if layer.pool or layer.norm else torch.relu(h)  # in place where h is fresh
    return _flatten(h, runs) if h.dim() == 4 else h


def check_loss(loss_fn: LossFn) -> LossFn:
    """Return `loss_fn` if the wide net has its per-run form, else raise Unsupported."""
    if loss_fn not in (models.cross_entropy, models.mse_on_softmax):
        raise Unsupported(f"loss {getattr(loss_fn, '__name__', loss_fn)!r}: the wide net knows "
                          "models.cross_entropy and models.mse_on_softmax only")
    return loss_fn


def run_losses(out: Tensor, y: Tensor, loss_fn: LossFn) -> Tensor:
    """Per-run loss (runs,) of outputs (runs, classes, batch) against labels (runs, batch)."""
    if check_loss(loss_fn) is models.cross_entropy:
        return F.cross_entropy(out, y, reduction="none").mean(1)
    one_hot = (y.unsqueeze(1) == torch.arange(out.shape[1], device=y.device).view(1, -1, 1)).to(out.dtype)
    return (torch.softmax(out, 1) - one_hot).square().mean((1, 2))


def loss_and_grads(layers: Sequence[Layer], params: dict[str, Tensor], x: Tensor, y: Tensor,
                   sizes: Sequence[int], loss_fn: LossFn) -> tuple[Tensor, dict[str, Tensor]]:
    """Per-run losses (runs,) and gradients {name: (runs, ...)}: one backward of their sum."""
    leaves = {k: v.detach().requires_grad_() for k, v in params.items()}
    with torch.enable_grad():
        losses = run_losses(forward(layers, leaves, x, sizes), y, loss_fn)
        grads = torch.autograd.grad(losses.sum(), list(leaves.values()))
    return losses.detach(), dict(zip(leaves, grads))


def activation_size(layers: Sequence[Layer], params: dict[str, Tensor], sample_shape: Sequence[int]) -> int:
    """Elements of the largest activation of one run on one sample (sizes evaluation chunks)."""
    hw, largest = list(sample_shape[1:]), 1
    for layer in layers:
        w = params[layer.weight]
        if layer.conv:
            hw = [(s + 2 * p - k) // st + 1 for s, p, k, st in zip(hw, layer.padding, w.shape[-2:], layer.stride)]
            largest = max(largest, w.shape[1] * math.prod(hw))
            hw = [s // layer.pool for s in hw] if layer.pool else hw
        else:
            largest = max(largest, w.shape[1])
    return largest


@torch.no_grad()
def evaluate(layers: Sequence[Layer], params: dict[str, Tensor], x: Tensor, y: Tensor,
             bounds: Sequence[int], loss_fn: LossFn) -> tuple[Tensor, Tensor]:
    """Mean loss and accuracy (float64, (runs,)) of every run on the shared data (x, y).

    The data is cut at `bounds` (`train.eval_bounds`, or its first chunks: the mean is over
    x[:bounds[-1]]); BN uses each chunk's statistics, as `train.evaluate` does. Runs are taken in
    groups small enough to bound memory (EVAL_ELEMENTS).
    """
    runs = next(iter(params.values())).shape[0]
    largest_chunk = max(b - a for a, b in zip(bounds[:-1], bounds[1:]))
    per_run = activation_size(layers, params, x.shape[1:]) * largest_chunk
    per_chunk = max(1, EVAL_ELEMENTS // per_run)
    loss = torch.zeros(runs, dtype=torch.float64, device=x.device)
    acc = torch.zeros(runs, dtype=torch.float64, device=x.device)
    for r0 in range(0, runs, per_chunk):
        chunk = {k: v[r0:r0 + per_chunk] for k, v in params.items()}
        n = next(iter(chunk.values())).shape[0]
        for a, b in zip(bounds[:-1], bounds[1:]):
            out = forward(layers, chunk, x[a:b].unsqueeze(0), [n])
            yb = y[a:b].expand(n, -1)
            loss[r0:r0 + n] += run_losses(out, yb, loss_fn).double() * (b - a)
            hit = out.transpose(1, 2).contiguous().argmax(2) == yb  # argmax along contiguous memory: faster
            acc[r0:r0 + n] += hit.double().mean(1) * (b - a)
    return loss / bounds[-1], acc / bounds[-1]

"""Runs trained together (`sweeps.train_many`, one wide net) against the same runs one at a time (`train.train`).

One job of the `ci` sweep: 13 learning rates × 2 seeds = 26 runs of BNGD (separate lr_a = 0.01),
the loss on 1,000 images at initialisation, one epoch of minibatch 100, then the loss on those
images again (what `train_many` returns); on the one-layer MNIST net, the 2-conv
net and the CIFAR-10 2-conv-3-FC net at their `ci` widths. Synthetic images of the right shape
(speed does not depend on pixel values). Each net: the best of `--repeats` timings of each side.
Target: >= 5x for mnist_linear and conv2. For conv2 it also prints where the wide step's time goes:
its second conv (a grouped conv, 2 -> 4 channels per run at `ci` width) against the same conv run by
run, and the ratio the wide net would reach were that conv free.

    PYTHONPATH=src python benchmarks/bench_sweeps.py [--threads 2] [--samples 2000] [--repeats 2]
        [--nets mnist_linear conv2 cifar_conv2fc3]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from bnopt import models, profiles, runtime, sweeps, train, wide

NETS = ("mnist_linear", "conv2", "cifar_conv2fc3")
TARGET = {"mnist_linear": 5.0, "conv2": 5.0}  # cifar_conv2fc3: no target, reported


def sequential(model_id: str, runs: list[tuple[float, float, int]], xy, width: int | None) -> float:
    """Seconds for what train_many returns, one run at a time with train.train / train.evaluate.

    That is the loss at initialisation (once per seed: runs of a seed start from the same net), then
    every run's training and its loss at the end.
    """
    start = time.perf_counter()
    for seed in sorted({s for _, _, s in runs}):
        net = models.build(model_id, "bn", width=width, bn_eps=1e-3, seed=seed)
        train.evaluate(net, (xy[0][:1000], xy[1][:1000]), models.loss_fn(model_id))
    for lr, lr_a, seed in runs:
        net = models.build(model_id, "bn", width=width, bn_eps=1e-3, seed=seed)
        train.train(net, xy, train.TrainConfig(lr=lr, lr_norm=lr_a, seed=seed, epochs=1, batch_size=100,
                                               progress=False), loss_fn=models.loss_fn(model_id))
        train.evaluate(net, (xy[0][:1000], xy[1][:1000]), models.loss_fn(model_id))
    return time.perf_counter() - start


def vectorised(model_id: str, runs: list[tuple[float, float, int]], xy, width: int | None) -> float:
    """Seconds to train and evaluate all runs together with sweeps.train_many."""
    start = time.perf_counter()
    sweeps.train_many(model_id, "bn", runs, xy, width=width, bn_eps=1e-3, eval_data=(xy[0][:1000], xy[1][:1000]))
    return time.perf_counter() - start


def _best_ms(fn, repeats: int) -> float:
    """Best of `repeats` means of 10 calls of fn, in milliseconds (after 3 warm-up calls)."""
    for _ in range(3):
        fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            fn()
        best = min(best, (time.perf_counter() - start) / 10)
    return 1e3 * best


def second_conv_ms(model_id: str, n_runs: int, width: int | None, xy, repeats: int) -> tuple[float, float, float]:
    """Milliseconds of one wide training step, and of its second conv (forward + backward) grouped and run by run.

    The second conv's input is what the first block makes of a minibatch of 100 (run by run:
    one ordinary conv per run on its own channels, as the sequential side does).
    """
    net = models.build(model_id, "bn", width=width, bn_eps=1e-3, seed=0)
    conv = [m for m in net.modules() if isinstance(m, nn.Conv2d)][1]
    seen: list[torch.Tensor] = []
    handle = conv.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    with torch.no_grad():
        net(xy[0][:100])
    handle.remove()
    h1 = seen[0]  # (100, C_in, H, W) of one run
    w1 = conv.weight.detach()
    cl = torch.channels_last
    h = h1.repeat(1, n_runs, 1, 1).contiguous(memory_format=cl).requires_grad_()
    w = w1.repeat(n_runs, 1, 1, 1).requires_grad_()
    g = torch.randn_like(F.conv2d(h, w, None, conv.stride, conv.padding, groups=n_runs))
    grouped = _best_ms(lambda: torch.autograd.grad(
        F.conv2d(h, w, None, conv.stride, conv.padding, groups=n_runs), (h, w), g), repeats)
    hs = [h1.clone().requires_grad_() for _ in range(n_runs)]
    ws = [w1.clone().requires_grad_() for _ in range(n_runs)]
    gs = [part.contiguous() for part in g.chunk(n_runs, 1)]
    one_by_one = _best_ms(lambda: [torch.autograd.grad(F.conv2d(a, b, None, conv.stride, conv.padding), (a, b), c)
                                   for a, b, c in zip(hs, ws, gs)], repeats)
    layers, init, _ = sweeps.wide_net(model_id, "bn", [0, 1], width=width, bn_eps=1e-3)
    half = n_runs // 2
    group = torch.tensor([0] * half + [1] * (n_runs - half))
    params = {k: v[group].contiguous() for k, v in init.items()}
    x = torch.stack([xy[0][:100], xy[0][100:200]])
    y = xy[1][:100].repeat(n_runs, 1)
    step = _best_ms(lambda: wide.loss_and_grads(layers, params, x, y, [half, n_runs - half],
                                                models.loss_fn(model_id)), repeats)
    return step, grouped, one_by_one


def main() -> None:
    """Print the speed ratio for each net."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2000, help="images in the epoch (steps = samples / 100)")
    parser.add_argument("--repeats", type=int, default=2, help="timings per side and net; the best is shown")
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    args, _ = parser.parse_known_args()  # run_all.py passes its own arguments through
    runtime.configure_threads(args.threads)
    settings = profiles.settings("sweeps", "ci")
    lrs = sweeps.lr_grid(settings)
    runs = [(lr, 0.01, s) for lr in lrs for s in range(settings.seeds)]
    widths = dict(settings.widths)
    print(f"{len(runs)} runs, {args.samples // 100} steps each, {torch.get_num_threads()} threads, "
          f"best of {args.repeats}")
    print(f"{'net':<16}{'width':>6}{'sequential s':>14}{'vectorised s':>14}{'ratio':>8}  target")
    for model_id in args.nets:
        g = torch.Generator().manual_seed(0)
        xy = (torch.rand((args.samples, *models.INPUT_SHAPE[model_id]), generator=g),
              torch.randint(0, 10, (args.samples,), generator=g))
        vectorised(model_id, runs[:2], (xy[0][:200], xy[1][:200]), widths[model_id])  # warm-up
        timings = [(vectorised(model_id, runs, xy, widths[model_id]), sequential(model_id, runs, xy, widths[model_id]))
                   for _ in range(args.repeats)]  # alternating, so a drifting machine slows both sides alike
        t_vec, t_seq = (min(t) for t in zip(*timings))
        ratio = t_seq / t_vec
        target = TARGET.get(model_id)
        verdict = "-" if target is None else f">= {target:g}x {'ok' if ratio >= target else 'below target'}"
        print(f"{model_id:<16}{str(widths[model_id]):>6}{t_seq:>14.2f}{t_vec:>14.2f}{ratio:>7.1f}x  {verdict}",
              flush=True)
        if model_id == "conv2":
            step, grouped, one_by_one = second_conv_ms(model_id, len(runs), widths[model_id], xy, args.repeats)
            print(f"  where the wide step goes: {step:.1f} ms per step; its second conv (forward + backward) "
                  f"{grouped:.1f} ms grouped, {one_by_one:.1f} ms run by run ({one_by_one / grouped:.1f}x); "
                  f"were the wide net's second conv free, the ratio would be about {ratio * step / (step - grouped):.1f}x",
                  flush=True)


if __name__ == "__main__":
    main()

"""Speed of `bnopt.train` against a plain nn.Module + torch.optim.SGD loop, and thread counts.

    PYTHONPATH=src python benchmarks/bench_train.py [--widths 8 16 32] [--quick]

Prints three tables: (1) steps/s of the DLN, conv2 and VGG at 1 and 2 threads (the measurement
behind `runtime.recommended_threads`); (2) the DLN (25 × 10×10, 1,000 samples, full batch)
in steps/s: `train.train` with the moments engine (`bnopt.dln`, what the book uses for the DLN)
and with the autograd engine, against a plain loop, target >= 1,000/s; (3) VGG training
throughput in images/s at each width, ours vs plain. Timings are the best of a few repeats.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from bnopt import data, models, runtime, train


def best_rate(fn: Callable[[], int], repeats: int = 3) -> float:
    """Best of `repeats` calls of fn (which returns the work done) in units per second."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        work = fn()
        rates.append(work / (time.perf_counter() - start))
    return max(rates)


def plain_dln(norm: str) -> nn.Module:
    """The DLN written the usual way: nn.Linear (+ nn.BatchNorm1d) layers in an nn.Sequential."""
    layers: list[nn.Module] = []
    for i in range(25):
        layers.append(nn.Linear(10, 10, bias=False))
        if norm == "bn" and i < 24:
            layers.append(nn.BatchNorm1d(10))
    return nn.Sequential(*layers)


def plain_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, lr: float, steps: int,
               batch_size: int | None = None) -> int:
    """The reference: zero_grad, forward, loss, backward, optimizer.step, loss.item(); returns steps."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    n = len(x)
    for t in range(steps):
        if batch_size is None:
            xb, yb = x, y
        else:
            k = (t * batch_size) % (n - batch_size + 1)
            xb, yb = x[k:k + batch_size], y[k:k + batch_size]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        loss.item()
    return steps


def ours(model: nn.Module, data, loss_fn, lr: float, steps: int, batch_size: int | None = None,
         engine: str = "autograd") -> int:
    """bnopt.train for `steps` steps; returns steps."""
    config = train.TrainConfig(lr=lr, steps=steps, batch_size=batch_size, progress=False, diverge_factor=None,
                               engine=engine)
    return train.train(model, data, config, loss_fn=loss_fn).steps_run


def image_data(model_id: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random images of the net's input shape with labels."""
    g = torch.Generator().manual_seed(0)
    return torch.rand((n, *models.INPUT_SHAPE[model_id]), generator=g), torch.randint(10, (n,), generator=g)


def thread_table(quick: bool) -> None:
    """Steps/s at 1 and 2 threads for a tiny net and two convnets."""
    print(f"threads: steps/s of bnopt.train (best of {1 if quick else 3})")
    print(f"{'net':<28}{'1 thread':>12}{'2 threads':>12}")
    x, y = data.dln_task()
    cases = [("dln, full batch 1000", lambda: (models.build("dln"), (x, y), None, 1e-6, 50 if quick else 1000)),
             ("conv2 w=8, batch 100", lambda: (models.build("conv2", "bn", width=8), image_data("conv2", 500), 100, 0.1, 10)),
             ("vgg w=8, batch 128", lambda: (models.build("vgg", "bn", width=8), image_data("vgg", 512), 128, 0.1, 4))]
    for name, make in cases:
        rates = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            model, batch, bs, lr, steps = make()
            mid = name.split()[0].rstrip(",")
            rates.append(best_rate(lambda: ours(model, batch, models.loss_fn(mid), lr, steps, bs), 1 if quick else 3))
        print(f"{name:<28}{rates[0]:>12.0f}{rates[1]:>12.0f}")


def dln_table(quick: bool) -> None:
    """DLN steps/s, both engines vs plain, with and without BN, at the recommended thread count."""
    torch.set_num_threads(runtime.recommended_threads("dln"))
    steps = 200 if quick else 2000
    x, y = data.dln_task()
    loss_fn = models.loss_fn("dln")
    ours(models.build("dln", "bn"), (x, y), loss_fn, 1e-6, 2, engine="moments")  # compile (cached on disk)
    print(f"\nDLN 25 x 10x10, 1000 samples, full batch, {torch.get_num_threads()} thread(s): steps/s, target >= 1000")
    print(f"{'norm':<8}{'moments':>10}{'autograd':>10}{'plain':>10}{'moments/plain':>15}   10k steps take")
    for norm in ("none", "bn"):
        reps = 1 if quick else 3
        m = best_rate(lambda: ours(models.build("dln", norm), (x, y), loss_fn, 1e-6, 10 * steps, engine="moments"), reps)
        a = best_rate(lambda: ours(models.build("dln", norm), (x, y), loss_fn, 1e-6, steps), reps)
        b = best_rate(lambda: plain_loop(plain_dln(norm), x, y, loss_fn, 1e-6, steps), reps)
        print(f"{norm:<8}{m:>10.0f}{a:>10.0f}{b:>10.0f}{m / b:>15.1f}   {10_000 / m:.1f} s"
              f"  {'ok' if m >= 1000 else 'below target'}")


def vgg_table(widths: list[int], quick: bool) -> None:
    """VGG (BN) training images/s at each width, ours vs plain, all cores."""
    torch.set_num_threads(runtime.recommended_threads("vgg"))
    print(f"\nVGG with BN, batch 128, {torch.get_num_threads()} thread(s): training images/s")
    print(f"{'width':<8}{'bnopt':>10}{'plain':>10}{'ratio':>8}")
    loss_fn = models.loss_fn("vgg")
    for w in widths:
        steps = 2 if quick or w >= 32 else 4
        x, y = image_data("vgg", 128 * steps)
        a = best_rate(lambda: 128 * ours(models.build("vgg", "bn", width=w), (x, y), loss_fn, 0.1, steps, 128), 2)
        b = best_rate(lambda: 128 * plain_loop(models.build("vgg", "bn", width=w), x, y, loss_fn, 0.1, steps, 128), 2)
        print(f"{w:<8}{a:>10.0f}{b:>10.0f}{a / b:>8.2f}")


def main() -> None:
    """Run the three tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--no-threads", action="store_true", help="skip the thread table")
    args = parser.parse_args()
    if not args.no_threads:
        thread_table(args.quick)
    dln_table(args.quick)
    vgg_table(args.widths, args.quick)


if __name__ == "__main__":
    main()

"""Speed of one landscape probe (`bnopt.landscape.probe_landscape`) against a naive probe.

    PYTHONPATH=src python benchmarks/bench_landscape.py [--etas 6] [--quick]

The naive probe deep-copies the model for every step size η, moves the copy to x − ηg and runs
forward + backward on it (plus one pass for g): n + 1 passes and n deep copies. Ours moves the
live weights in place and restores them once (the "loop" path, n + 1 passes, no copies), or runs
the n points as one pass vectorised over η with `torch.func.vmap` (nets without buffers or noise).
Prints ms per probe (best of a few repeats: the machine is shared) and the speed-up over naive,
for the DLN (25 × 10×10, 1,000 samples) and the VGG (width 8, batch 128), with and without BN.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from bnopt import data, landscape, models, runtime


def naive_probe(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, etas: np.ndarray) -> list[float]:
    """The plain way: a deep copy of the model per step size; returns the gradient changes."""
    base = copy.deepcopy(model)
    g = torch.autograd.grad(loss_fn(base(x), y), list(base.parameters()))
    changes = []
    for eta in etas:
        moved = copy.deepcopy(model)
        with torch.no_grad():
            for p, gi in zip(moved.parameters(), g):
                p -= float(eta) * gi
        loss = loss_fn(moved(x), y)
        moved.zero_grad()
        loss.backward()
        changes.append(float(torch.sqrt(sum(((p.grad - gi) ** 2).sum() for p, gi in zip(moved.parameters(), g)))))
    return changes


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of `repeats` calls, in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def case(model_id: str, norm: str, n_etas: int, repeats: int) -> dict[str, float]:
    """Timings of naive, loop and vmap probes for one net."""
    runtime.configure_threads(model_id=model_id)
    if model_id == "dln":
        net, (x, y), lr = models.build("dln", norm, seed=0), data.dln_task(1000, 10, 0), 1e-6
        etas = landscape.eta_grid(lr, 0.01, 30, n_etas)
    else:
        net = models.build("vgg", norm, width=8, seed=0)
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(128, 3, 32, 32, generator=g), torch.randint(10, (128,), generator=g)
        etas = landscape.eta_grid(0.1, 0.5, 4, n_etas)
    lf = models.loss_fn(model_id)
    out = {"naive": best_ms(lambda: naive_probe(net, x, y, lf, etas), repeats),
           "loop": best_ms(lambda: landscape.probe_landscape(net, x, y, lf, etas, vectorised=False), repeats),
           "vmap": best_ms(lambda: landscape.probe_landscape(net, x, y, lf, etas, vectorised=True), repeats)}
    ours = landscape.probe_landscape(net, x, y, lf, etas, vectorised=False).grad_change
    np.testing.assert_allclose(ours, naive_probe(net, x, y, lf, etas), rtol=1e-3)  # same numbers
    return out


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etas", type=int, default=6, help="step sizes per probe")
    parser.add_argument("--quick", action="store_true", help="DLN only, 2 repeats")
    args = parser.parse_args()
    cases = [("dln", "none"), ("dln", "bn")] + ([] if args.quick else [("vgg", "none"), ("vgg", "bn")])
    repeats = 2 if args.quick else 3
    print(f"one probe at n = {args.etas} step sizes (naive, loop: n + 1 passes; vmap: 1 + 1 vectorised)")
    print(f"{'net':<12}{'naive ms':>10}{'loop ms':>10}{'vmap ms':>10}{'naive/loop':>12}{'naive/vmap':>12}")
    for model_id, norm in cases:
        t = case(model_id, norm, args.etas, repeats)
        print(f"{model_id + '-' + landscape.method_name(norm):<12}{t['naive']:>10.1f}{t['loop']:>10.1f}"
              f"{t['vmap']:>10.1f}{t['naive'] / t['loop']:>12.2f}{t['naive'] / t['vmap']:>12.2f}", flush=True)


if __name__ == "__main__":
    main()

"""Cost of the ICS measurement (Definition 2.1) against a plain training step.

    PYTHONPATH=src python benchmarks/bench_ics.py [--quick]

For the VGG net (width 8, batch 128) and the 25-layer DLN (1,000 samples, full batch), with and
without BN, prints the CPU time of a plain `train.train` step and of a step that also measures
ICS for two layers (`ICSMeasurement(layers, every=1)`), and their ratio. The expected ratio is
about 1 + (number of layers) × (cost of a forward-backward pass to layer i) / (cost of a step):
one extra pass per measured layer. One thread; CPU time (process time), best of three repeats,
so that other work on a shared machine distorts it less than wall time.
"""

from __future__ import annotations

import argparse
import time

import torch

from bnopt import data, ics, models, train


def cpu_ms_per_step(model_id: str, norm: str, hooks: list, steps: int, width: int | None) -> float:
    """Best-of-3 CPU milliseconds per training step of a fresh net with `hooks` (made per repeat)."""
    if model_id == "dln":
        xy, batch, lr = data.dln_task(1000, 10, 0), None, 1e-6
    else:
        g = torch.Generator().manual_seed(0)
        xy = (torch.rand(1024, 3, 32, 32, generator=g), torch.randint(0, 10, (1024,), generator=g))
        batch, lr = 128, 0.1
    best = float("inf")
    for _ in range(3):
        model = models.build(model_id, norm, width=width, seed=0)
        config = train.TrainConfig(lr=lr, steps=steps, batch_size=batch, progress=False)
        made = [h() for h in hooks]
        start = time.process_time()
        train.train(model, xy, config, hooks=made, loss_fn=models.loss_fn(model_id))
        best = min(best, (time.process_time() - start) / steps * 1e3)
    return best


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [("vgg", 8, (5, 10), 5 if args.quick else 15), ("dln", None, (9, 17), 50 if args.quick else 200)]
    print(f"{'net':6} {'norm':5} {'plain ms/step':>14} {'+ICS ms/step':>13} {'ratio':>6} {'per layer':>9}")
    for model_id, width, layers, steps in cases:
        for norm in ("none", "bn"):
            plain = cpu_ms_per_step(model_id, norm, [], steps, width)
            measured = cpu_ms_per_step(model_id, norm, [lambda: ics.ICSMeasurement(layers, every=1)],
                                       steps, width)
            ratio = measured / plain
            print(f"{model_id:6} {norm:5} {plain:14.2f} {measured:13.2f} {ratio:6.2f} "
                  f"{(ratio - 1) / len(layers):9.2f}")
    print("ratio = step with ICS measured at every step / plain step; per layer = (ratio − 1) / layers.\n"
          "Measuring every k steps costs (ratio − 1) / k extra per step on average.")


if __name__ == "__main__":
    main()

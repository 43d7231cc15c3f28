"""Speed on a busy machine: each workload idle and beside one competing busy process, as ratios.

    PYTHONPATH=src python benchmarks/bench_load.py [--seconds 8]

Workloads: one VGG SGD step (width 8, BN, batch 128), a conv2 sweep job (`sweeps.train_many`,
network (2) at width 4 with BN, 4 lrs × 2 seeds, batch 100) and the 25-layer DLN (moments
engine, full batch). Each runs in a fresh process (thread settings take effect before torch starts)
for each thread setting: the book's rule (`runtime.configure_threads`, which counts the cores other
processes keep busy when the run starts), the count the rule picks on an idle machine always, one
thread always, and the idle count with OMP_WAIT_POLICY=PASSIVE. The benchmark starts the competing process (a Python
busy loop) itself and stops it after. Reported: units/s idle, units/s loaded, and loaded / idle.
With one busy competitor a process's fair share of 2 cores is half the machine, so on 2 cores a
ratio near 0.5 (or above, for a one-thread workload that keeps a core to itself) is graceful, and
one far below it is the collapse of threads that spin waiting for a taken core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def _vgg(seconds: float) -> float:
    """VGG SGD steps per second."""
    import torch

    from bnopt import models, train
    x, y = torch.randn(1024, 3, 32, 32), torch.randint(0, 10, (1024,))
    net = models.build("vgg", "bn", width=8, seed=0)
    return _rate(lambda n: train.train(net, (x, y), train.TrainConfig(lr=0.1, steps=n, batch_size=128,
                                                                      progress=False),
                                       loss_fn=models.loss_fn("vgg")), seconds, 10)


def _conv2(seconds: float) -> float:
    """Sweep-job SGD steps per second (all 8 runs of the job take one step together)."""
    import torch

    from bnopt import sweeps
    x, y = torch.randn(2000, 1, 28, 28), torch.randint(0, 10, (2000,))
    runs = [(lr, lr, s) for lr in (0.01, 0.1, 1.0, 10.0) for s in (0, 1)]  # (lr, lr of γ and β, seed)

    def work(n: int) -> None:
        sweeps.train_many("conv2", "bn", runs, (x[:n * 100], y[:n * 100]), epochs=1, batch_size=100, width=4,
                          bn_eps=1e-3, diverge_factor=1e6, eval_data=(x[:200], y[:200]), eval_batch_size=200,
                          device="cpu")
    return _rate(work, seconds, 5, cap=20)


def _dln(seconds: float) -> float:
    """DLN full-batch GD steps per second (moments engine)."""
    from bnopt import data, models, train
    x, y = data.dln_task(1000, 10, 0)
    net = models.build("dln", "bn", seed=0)
    return _rate(lambda n: train.train(net, (x, y), train.TrainConfig(lr=1e-7, steps=n, progress=False,
                                                                      engine="moments"),
                                       loss_fn=models.loss_fn("dln")), seconds, 200)


def _rate(fn, seconds: float, start: int, cap: int | None = None) -> float:
    """Units per second of fn(n), growing n until one call lasts about `seconds`; best of the last two."""
    n, rates = start, []
    while True:
        t = time.perf_counter()
        fn(n)
        dt = time.perf_counter() - t
        rates.append(n / dt)
        if dt >= seconds / 2 or (cap is not None and n >= cap):
            if len(rates) >= 2:
                return max(rates[-2:])
        n = n * 2 if cap is None else min(cap, n * 2)


WORKLOADS = {"vgg": (_vgg, "steps/s"), "conv2 sweep job": (_conv2, "steps/s"), "dln": (_dln, "steps/s")}
MODEL = {"vgg": "vgg", "conv2 sweep job": "conv2", "dln": "dln"}


def worker(name: str, threads: int, seconds: float) -> None:
    """In a fresh process: set the threads (0: the book's rule, `runtime.configure_threads`, which looks
    at the load when the run starts), time one workload, print its rate as JSON."""
    import torch

    from bnopt import runtime
    if threads:
        torch.set_num_threads(threads)
    else:
        runtime.configure_threads(model_id=MODEL[name])
    print(json.dumps({"rate": WORKLOADS[name][0](seconds), "threads": torch.get_num_threads()}))


def measure(name: str, threads: int, passive: bool, seconds: float) -> float:
    """Run `worker` in a fresh process (OMP_WAIT_POLICY=PASSIVE if asked); its rate."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("OMP_WAIT_POLICY", None)
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, __file__, "--worker", name, "--threads", str(threads),
                          "--seconds", str(seconds)], env=env, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--worker")
    ap.add_argument("--threads", type=int, default=1)
    args, _ = ap.parse_known_args()  # run_all.py passes its own arguments through
    if args.worker:
        worker(args.worker, args.threads, args.seconds)
        return
    sys.path.insert(0, str(SRC))
    from bnopt import runtime
    print(f"{'workload':<16} {'threads':<18} {'idle':>9} {'loaded':>9} {'loaded/idle':>12}")
    for name in WORKLOADS:
        picked = 1 if MODEL[name] in runtime.SMALL_MODELS else runtime.available_cores()  # the idle choice
        settings = [(0, False, "the book's rule"), (picked, False, f"{picked} always"),
                    (picked, True, f"{picked}, passive wait")]
        if picked != 1:
            settings.insert(2, (1, False, "1 always"))
        for threads, passive, label in settings:
            idle = measure(name, threads, passive, args.seconds)
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                time.sleep(0.5)
                loaded = measure(name, threads, passive, args.seconds)
            finally:
                busy.kill()
                busy.wait()
            print(f"{name:<16} {label:<18} {idle:9.1f} {loaded:9.1f} {loaded / idle:12.2f}", flush=True)


if __name__ == "__main__":
    main()

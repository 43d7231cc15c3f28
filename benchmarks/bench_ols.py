"""Speed of the OLS iterations (numba kernel, torch chunks) against a plain loop ([C] Fig. 1 grid).

One κ of [C] Fig. 1 is 5 × 41 × 43 = 8,815 BNGD configurations × 2,000 steps at d = 100. The plain
loop (`ols.run_plain`, one configuration at a time in numpy) is timed on a sample of configurations
and scaled to the full grid; the torch path (chunks of rows as tensors) and the fused numba kernel
(the default for diagonal H) run the whole grid. Wall and CPU seconds are both printed: on a machine
shared with other jobs the wall time says more about the neighbours than about the code.

    PYTHONPATH=src python benchmarks/bench_ols.py [--kappa 100] [--plain-sample 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bnopt import ols, profiles


def fig1_inputs(kappa: float) -> tuple[ols.Problem, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Problem, w₀ (n, d), ε, ε_a, a₀ arrays and step count of one κ of [C] Fig. 1."""
    s = profiles.settings("ols", "paper")
    cfg = ols.fig1_config(s, kappa)
    p = ols.fig1_problem(cfg.kappa, cfg.dim, cfg.seed)
    a0, ea, eps = (x.ravel() for x in np.meshgrid(np.array(cfg.a0), ols.grid(cfg.eps_a, cfg.eps_a_scale),
                                                   ols.grid(cfg.eps), indexing="ij"))
    w0 = np.broadcast_to(ols.fig1_start(p.h, p.u), (a0.size, p.dim))
    return p, w0, eps, ea, a0, cfg.steps


def timed(fn, *args, **kwargs) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    """Print the table: torch (threads × chunk), numba (threads) and plain loop, seconds per κ and speed-up."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kappa", type=float, default=100.0)
    ap.add_argument("--plain-sample", type=int, default=40)
    args, _ = ap.parse_known_args()  # run_all.py passes its own arguments through
    p, w0, eps, ea, a0, steps = fig1_inputs(args.kappa)
    # the numba kernels compile on their first call (or load from __pycache__): keep that out of the table
    jit_wall, _ = timed(ols.run, "bngd", p, w0[:2], eps[:2], 2, a0=a0[:2], eps_a=ea[:2], engine="numba")
    print(f"numba first call (compile, or load from the cache): {jit_wall:.2f} s")
    n = len(eps)
    pick = np.random.default_rng(0).choice(n, args.plain_sample, replace=False)
    wall_p, cpu_p = timed(ols.run_plain, "bngd", p, a0[pick], w0[pick], ea[pick], eps[pick], steps)
    plain_wall, plain_cpu = wall_p * n / len(pick), cpu_p * n / len(pick)
    print(f"[C] Fig. 1, κ = {args.kappa:g}: {n} configurations × {steps} steps, d = {p.dim}")
    print(f"{'implementation':34s} {'wall s/κ':>9s} {'cpu s/κ':>9s} {'speed-up (wall)':>16s}")
    print(f"{'plain loop (scaled from ' + str(len(pick)) + ')':34s} {plain_wall:9.1f} {plain_cpu:9.1f} {1:16.0f}")
    for threads, chunk in ((1, 1024), (2, 512), (2, 1024), (2, 2048)):
        wall, cpu = timed(ols.run, "bngd", p, w0, eps, steps, a0=a0, eps_a=ea, record_at=[steps],
                          threads=threads, chunk=chunk, engine="torch")
        label = f"torch, {threads} thread(s), chunk {chunk}"
        print(f"{label:34s} {wall:9.2f} {cpu:9.2f} {plain_wall / wall:16.0f}")
    for threads in (1, 2):
        wall, cpu = timed(ols.run, "bngd", p, w0, eps, steps, a0=a0, eps_a=ea, record_at=[steps],
                          threads=threads, engine="numba")
        label = f"numba, {threads} thread(s)"
        print(f"{label:34s} {wall:9.2f} {cpu:9.2f} {plain_wall / wall:16.0f}")


if __name__ == "__main__":
    main()

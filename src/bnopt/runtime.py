"""Runtime helpers: thread counts chosen by measurement, seeding, and device resolution.

Thread counts. Tiny nets spend their time in per-op overhead, which extra threads only add to;
convolutions split across cores, but only if the cores are free: OpenMP threads that wait on a
busy core spin, and on an oversubscribed machine a 2-thread step is several times slower than a
1-thread one. Measured on the 2-core CI machine while it was shared (load average about 9) with
`benchmarks/bench_train.py`, steps/s of `train.train`:

    net                          1 thread   2 threads
    DLN 25×10×10, full batch        196          4
    conv2 (w = 8, BN), batch 100     11          2
    VGG (w = 8, BN), batch 128        3          1

Hence `recommended_threads`: 1 for the linear nets; for convnets half the cores (1 on the 2-core
CI machine, 8 on a 16-core workstation), leaving room for the others sharing the machine.
$BNOPT_THREADS overrides it (e.g. BNOPT_THREADS=2 on an idle 2-core machine).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

THREADS_ENV = "BNOPT_THREADS"
SMALL_MODELS: frozenset[str] = frozenset({"dln", "mnist_linear"})  # overhead-bound: 1 thread


def available_cores() -> int:
    """CPU cores this process may use (respects affinity masks and containers' cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def recommended_threads(model_id: str | None = None) -> int:
    """Threads for training `model_id` on CPU: $BNOPT_THREADS, else the measured rule (docstring)."""
    if os.environ.get(THREADS_ENV):
        return int(os.environ[THREADS_ENV])
    return 1 if model_id in SMALL_MODELS else max(1, available_cores() // 2)


def configure_threads(threads: int | None = None, *, model_id: str | None = None) -> int:
    """Set torch's intra-op threads (None: `recommended_threads(model_id)`); returns the count set."""
    n = recommended_threads(model_id) if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads={threads} must be >= 1 (or None for the measured recommendation)")
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """A torch.device for "cpu", "cuda", "cuda:1", "mps" or "auto" (cuda if present, else cpu).

    Raises RuntimeError naming the fix when an accelerator is requested but absent.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:0' or 'auto'") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {str(device)!r} requested but CUDA is not available (torch {torch.__version__}, "
                f"cuda build: {torch.version.cuda}); use device='cpu' or 'auto', or install a CUDA build of torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {str(device)!r} requested but only {torch.cuda.device_count()} "
                               f"CUDA device(s) exist; use 'cuda:0'..'cuda:{torch.cuda.device_count() - 1}'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device {str(device)!r} requested but MPS is not available; use device='cpu'")
    return dev

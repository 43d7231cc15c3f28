"""Runtime helpers: thread counts chosen by measurement, seeding, and device resolution.

Thread counts. Tiny nets spend their time in per-op overhead, which extra threads barely help;
convolutions split well across free cores. Measured on the 2-core CI machine with
`benchmarks/bench_train.py --quick`, steps/s of `train.train`, idle machine:

    net                          1 thread   2 threads
    DLN 25×10×10, full batch        251        279
    conv2 (w = 8, BN), batch 100     22         51
    VGG (w = 8, BN), batch 128        6         11

and the same machine shared with other jobs (load average about 9), where OpenMP threads that wait
on busy cores spin and collapse throughput:

    DLN                             196          4
    conv2                            11          2
    VGG                               3          1

Hence `recommended_threads`: 1 for the linear nets (little to gain, much to lose when shared); for
convnets the available cores that other processes are not keeping busy right now (`busy_cores`,
sampled from /proc/stat when the run starts), at least one: all of them on an idle machine, one
beside a busy competitor on 2 cores, where one thread keeps its speed (a VGG step: 9.5 steps/s
beside the competitor, 8.1–9.6 idle) and two threads collapse (2.7, against 13.8–15.3 idle).
Independent runs go to one-thread worker processes (`parallel.run_many`), one per free core
(`free_cores`), which is both faster idle and graceful under load. A competitor that starts after a run has begun is not seen. On a
shared machine set $BNOPT_THREADS (e.g. BNOPT_THREADS=1), which overrides the rule; it must be a
whole number >= 1 (empty means unset).
"""

from __future__ import annotations

import os
import random
import time

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


def positive_env(name: str, what: str, fix: str) -> int | None:
    """$name as a whole number >= 1 (None when unset or empty); a bad value raises naming it, `what` it is and `fix`."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{name}={value!r} is not {what}: {fix}")
    return n


def env_threads() -> int | None:
    """$BNOPT_THREADS as a count (None when unset or empty); a bad value raises naming the variable."""
    return positive_env(THREADS_ENV, "a thread count", f"set it to a whole number >= 1 (e.g. {THREADS_ENV}=1 "
                        "on a shared machine), or unset it for the measured rule")


def _cpu_times() -> tuple[int, int]:
    """(all, idle) jiffies of the machine's CPUs from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return sum(values), values[3] + values[4]  # idle + iowait


def busy_cores(sample_s: float = 0.2) -> float | None:
    """How many of the machine's cores other processes keep busy now (over `sample_s`); None where unknown."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(sample_s)
        total1, idle1 = _cpu_times()
    except (OSError, ValueError, IndexError):  # not Linux, or an unreadable /proc
        return None
    if total1 <= total0:
        return None
    return (1.0 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)


def free_cores() -> int:
    """Available cores that other processes are not keeping busy now (`busy_cores`), at least one."""
    cores, busy = available_cores(), busy_cores()
    return cores if busy is None else max(1, min(cores, round(cores - busy)))


def recommended_threads(model_id: str | None = None) -> int:
    """Threads for training `model_id` on CPU: $BNOPT_THREADS, else the measured rule (docstring)."""
    n = env_threads()
    if n is not None:
        return n
    if model_id in SMALL_MODELS:
        return 1
    return free_cores()


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

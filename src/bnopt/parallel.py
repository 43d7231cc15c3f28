"""Local worker processes for independent runs: a pool whose workers end with their parent, and `run_many`.

`local_pool` starts spawned workers (safe with torch's threads, the same on every OS) that end
when the process that started them dies, even when it is killed, so a killed notebook leaves no
orphaned workers training on. `run_many` loads or runs a set of independent stored results on
such workers, one per free core (`runtime.free_cores`: the available cores that other processes
do not keep busy when the pool starts), each worker on `free // workers` threads: on 2 cores two
one-thread VGG trainings run 1.2x faster together than one after another on two threads (11.3 +
11.3 against 18.4 steps/s, width 8, measured with the machine otherwise idle), and a process
that owns its one core does not collapse when another one spins. Beside one busy process (in
another session, as a second terminal's job is) only one core is free, and one worker uses it
better than two taking turns on it: one-thread VGG workers (width 8, batch 128) made 11.2 steps/s
alone there against 5.05 + 5.20 = 10.25 for two (idle: 10.0 for one, 11.2 + 10.3 = 21.5 for two).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Mapping

from . import results, runtime

PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal this process receives when its parent dies
PARENT_POLL_S = 1.0  # how often a worker checks, where prctl is missing, that its parent lives


def _watch_parent(parent: int) -> None:
    """Exit this process at once when its parent process `parent` is gone (it was re-parented)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _end_with_parent(parent: int, threads: int | None = None) -> None:
    """Worker initializer: end this worker when process `parent`, which started it, dies.

    On Linux the kernel sends SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG; strictly, when
    the parent's thread that started the worker ends: the caller, which waits for the pool).
    Everywhere, a daemon thread checks the parent every PARENT_POLL_S seconds as a fallback.
    `threads` (unless $BNOPT_THREADS is set) becomes the worker's $BNOPT_THREADS.
    """
    if threads is not None and runtime.env_threads() is None:
        os.environ[runtime.THREADS_ENV] = str(threads)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the thread below still watches
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()


def local_pool(workers: int, threads: int | None = None) -> ProcessPoolExecutor:
    """`workers` local processes (spawned) that end when this process dies, each on `threads` threads."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_end_with_parent, initargs=(os.getpid(), threads))


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued jobs and end the workers now (an interrupt); finished jobs are already stored.

    A result is written to a temporary folder and renamed into place, so a killed worker leaves no
    half-written result; its job reruns next time. (Python 3.14 has `terminate_workers`; before, the
    pool's processes are reached through its `_processes`.)
    """
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)  # the pool, now broken, reaps its workers and fails the rest


def _named(name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """`fn(*args)` in a worker, as part of experiment `name` (so its progress events carry that name)."""
    with results.computing(name):
        return fn(*args)


def map_local(fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]:
    """`[fn(*args) for args in calls]`, spread over local one-core workers when there are several cores.

    `fn` must be a module-level function (the workers are spawned). Ctrl-C ends the workers at once.
    """
    free = runtime.free_cores()
    workers = min(len(calls), free)
    if workers <= 1:
        return [fn(*args) for args in calls]
    pool = local_pool(workers, max(1, free // workers))
    try:
        return [f.result() for f in [pool.submit(_named, results.running(), fn, args) for args in calls]]
    except KeyboardInterrupt:
        _end_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_many(name: str, fn: Callable[[Any], dict[str, Any]], specs: Mapping[str, Any], profile: str, *,
             dataset: str | None = None, force: bool = False) -> dict[str, results.Result]:
    """Load or run every spec as its own stored result `name`; the missing ones on local workers.

    With `dataset`, a run whose data is absent is a `results.not_run` result (`results.load_or_not_run`).
    Under `results.load_only()` nothing runs (a missing result raises, or is "not run" without its data).
    """
    def one(key: str) -> results.Result:
        return results.load_or_not_run(name, fn, specs[key], profile=profile, dataset=dataset, force=force)

    done = {k: None if force else results.load(name, spec) for k, spec in specs.items()}
    todo = [k for k, r in done.items() if r is None]
    results.report("plan", name, total=len(specs), todo=len(todo))
    free = runtime.free_cores() if todo else 1
    workers = min(len(todo), free)
    from . import data  # absent data is looked for (and downloaded) here, once, not by every worker

    present = dataset is None or data.available(dataset)
    if todo and workers > 1 and present and not results.loading_only():
        pool = local_pool(workers, max(1, free // workers))
        try:
            futures = {k: pool.submit(results.load_or_not_run, name, fn, specs[k], profile=profile,
                                      dataset=dataset, force=force) for k in todo}
            done.update({k: f.result() for k, f in futures.items()})
        except KeyboardInterrupt:
            _end_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return {k: r if r is not None else one(k) for k, r in done.items()}

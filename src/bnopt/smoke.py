"""Training loops' clock: smoke runs (a few steps, and what the full run would cost) and step progress.

`python -m bnopt.build --profile paper --smoke` sets $BNOPT_SMOKE to the number of steps each loop
may make (`cap`); shapes, widths, run counts and data sizes stay the profile's. Each loop times its
plain steps, each measurement hook and each evaluation apart (`Clock`), and reports, as a "smoke"
progress event, the time its full run would take on this machine: the plain step time (after the
first step, which carries the warm-up) × the full step count, plus each hook's time per call × the
number of calls its schedule makes in the full run, plus the evaluation time × the number of
full-run evaluations. An evaluation inside a loop is capped too, at the same number of chunks
(`train.timed_evaluation`), and its time scaled up by the data it left out. Results of a smoke run carry the cap in
their key (`results.result_key`), so they can never be read as real results.

In a real build the same clock reports, about every STEPS_REPORT_S seconds, how many steps a long
loop has made ("steps" events), which the build shows as a progress bar in the terminal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import results, runtime

SMOKE_ENV = "BNOPT_SMOKE"
STEPS_REPORT_S = 30.0  # a loop of a real run reports its steps done (a "steps" event) at most this often


def steps() -> int | None:
    """The step cap of a smoke run ($BNOPT_SMOKE), or None outside one; a bad value is an error."""
    return runtime.positive_env(SMOKE_ENV, "a positive step count", "set it to e.g. 5 (steps per training "
                                "loop in a smoke run) or unset it for a real run")


def cap(full: int) -> int:
    """The steps a loop of `full` steps makes: `full`, or at most `steps()` in a smoke run."""
    limit = steps()
    return full if limit is None else min(full, limit)


def capped_bounds(bounds: Sequence[int]) -> tuple[list[int], float]:
    """An evaluation's chunk bounds (from 0) cut to at most `steps()` chunks in a smoke run, and the share of the data kept."""
    kept = list(bounds)[:cap(len(bounds) - 1) + 1]
    return kept, kept[-1] / bounds[-1]


def due_count(hook: Any, first: int, last: int) -> int:
    """Steps in [first, last) at which `hook` acts (its `due`; a hook without one acts at every step)."""
    due = getattr(hook, "due", None)
    return last - first if due is None else sum(1 for s in range(first, last) if due(s))


class _Timed:
    """A hook that adds the seconds spent in the wrapped hook's calls to its clock entry."""

    def __init__(self, hook: Any, spent: list[float]) -> None:
        self._spent = spent
        for name in ("before_step", "after_step"):
            if hasattr(hook, name):
                setattr(self, name, self._timed(getattr(hook, name)))
        for name in ("due", "wants_forward"):
            if hasattr(hook, name):
                setattr(self, name, getattr(hook, name))

    def _timed(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(state: Any) -> None:
            start = time.perf_counter()
            try:
                fn(state)
            finally:
                self._spent[0] += time.perf_counter() - start
        return call


class Clock:
    """Times one training loop of a smoke run and reports the estimate of its full run.

    Outside a smoke run `hooks` are returned unchanged and only step progress is reported.
    """

    def __init__(self, kind: str, full_steps: int, hooks: Sequence[Any] = (), evals_full: int = 0) -> None:
        self.kind = f"{results.running()}: {kind}" if results.running() else kind
        self.full, self.evals_full = full_steps, evals_full
        self.active = steps() is not None
        self.spent = [[0.0] for _ in hooks]
        self.hooks_in = list(hooks)
        self.hooks = [_Timed(h, s) for h, s in zip(hooks, self.spent)] if self.active else list(hooks)
        self.eval_s, self.eval_real, self.evals = 0.0, 0.0, 0  # estimated full / measured eval seconds
        self.start = time.perf_counter()
        self.ticks: list[tuple[float, int, float]] = [(self.start, 0, 0.0)]  # (time, steps done, measuring s)
        self.reports = bool(os.environ.get(results.PROGRESS_ENV)) and not self.active
        self.last_report = self.start

    def _measuring_s(self) -> float:
        """Seconds spent so far in hooks and evaluations."""
        return sum(s[0] for s in self.spent) + self.eval_real

    def tick(self, steps_done: int) -> None:
        """Mark that `steps_done` steps are made (call after each step, or each chunk of steps).

        In a smoke run it records the time; in a build (progress events on) a loop running for longer
        than STEPS_REPORT_S reports its steps done about that often, for the terminal's progress bar.
        """
        if self.active:
            self.ticks.append((time.perf_counter(), steps_done, self._measuring_s()))
        elif self.reports and steps_done < self.full:
            now = time.perf_counter()
            if now - self.last_report >= STEPS_REPORT_S:
                self.last_report = now
                results.report("steps", self.kind, done=steps_done, total=self.full, seconds=round(now - self.start, 1))

    def plain_cost(self, steps_run: int, seconds: float) -> tuple[float, float]:
        """(seconds per plain step, one-off seconds of the first step beyond that) from the ticks.

        The first stretch of steps carries a process's warm-up (the first passes allocate, kernels
        load); the rate is taken from the stretches after it when there are any.
        """
        ticks = self.ticks + [(self.start + seconds, steps_run, self._measuring_s())]
        stretches = [(t1 - t0 - (m1 - m0), s1 - s0) for (t0, s0, m0), (t1, s1, m1) in zip(ticks, ticks[1:]) if s1 > s0]
        if not stretches:
            return 0.0, 0.0
        later = stretches[1:]
        if not later:
            return max(stretches[0][0], 0.0) / stretches[0][1], 0.0
        rate = max(sum(p for p, _ in later), 0.0) / sum(n for _, n in later)
        return rate, max(stretches[0][0] - rate * stretches[0][1], 0.0)

    def evaluation(self, fn: Callable[[], Any], share: float = 1.0) -> Any:
        """Run an evaluation, timing it apart from the steps; `share`: the part of the full one it makes.

        A smoke run evaluates only the first chunks (`train.timed_evaluation`); its time over `share`
        is what the full evaluation would take.
        """
        if not 0 < share <= 1:
            raise ValueError(f"share={share}: the part of the full evaluation made must be in (0, 1]")
        start = time.perf_counter()
        try:
            return fn()
        finally:
            spent = time.perf_counter() - start
            self.eval_real += spent
            self.eval_s += spent / share
            self.evals += 1

    def estimate(self, steps_run: int, seconds: float) -> float:
        """Seconds the full run would take, from this loop's `steps_run` steps taking `seconds`."""
        rate, warm_up = self.plain_cost(steps_run, seconds)
        total = warm_up + rate * self.full
        for hook, spent in zip(self.hooks_in, self.spent):
            smoke_calls = due_count(hook, 0, max(steps_run, 1))
            total += spent[0] / max(smoke_calls, 1) * due_count(hook, 0, self.full)
        if self.evals:
            total += self.eval_s / self.evals * self.evals_full
        return total

    def finish(self, steps_run: int) -> None:
        """Report this loop's smoke timing and full-run estimate (a "smoke" progress event)."""
        if not self.active:
            return
        seconds = time.perf_counter() - self.start
        results.report("smoke", self.kind, full_steps=self.full, steps=steps_run, seconds=seconds,
                       estimate_s=self.estimate(steps_run, seconds))


def evals_in(full_steps: int, every: int | None) -> int:
    """Evaluations a loop of `full_steps` makes when it evaluates every `every` steps and after the last."""
    every = every or full_steps
    return full_steps // every + (1 if full_steps % every else 0)

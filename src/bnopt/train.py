"""The training loop: plain SGD with measurement hooks, divergence detection and exact reproducibility.

    log = train.train(model, (x, y), train.TrainConfig(lr=0.1, steps=500, batch_size=128),
                      hooks=[recorder], loss_fn=models.loss_fn("vgg"), test=(x_test, y_test))

One step t, in order:
 1. take batch t (full batch, or the next slice of this epoch's seeded permutation);
 2. `hook.before_step(state)`: weights are W^t; `state.loss`/`state.grads` are None;
 3. forward, backward on the batch: loss L(W^t), gradients g^t (also in each `p.grad`);
 4. if the loss is NaN/inf or above the bound: record `diverged_at = t` and stop (no update);
 5. SGD update W^{t+1} = W^t − lr·g^t (γ, β of normalisation layers use `lr_norm`, [C]'s lr_a);
 6. `hook.after_step(state)`: weights are W^{t+1}; `state.loss`, `state.grads` are those of step t.
Hooks may run extra forward/backward passes (ICS, landscape probes) but must leave the model as
they found it: wrap the work in `with preserved_state(model):`, which restores parameters,
gradients, buffers, train/eval mode and every random generator (torch's and the noise layers').
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from bnopt import models, norms, runtime, smoke

Batch = tuple[Tensor, Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]
ENGINES: tuple[str, ...] = ("autograd", "moments", "auto")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one SGD run; give exactly one of `steps` and `epochs`."""

    lr: float  # step size of conv/linear weights and biases
    steps: int | None = None  # number of SGD steps ...
    epochs: int | None = None  # ... or of passes over the data (N // batch_size steps each)
    batch_size: int | None = None  # None = full batch (gradient descent)
    lr_norm: float | None = None  # step size of normalisation γ, β ([C]'s lr_a); None = lr
    seed: int = 0  # minibatch order (the model's seed is set in models.build)
    device: str = "cpu"  # "cpu", "cuda", "cuda:0", "auto"
    diverge_factor: float | None = 1e6  # diverged if loss > factor × initial loss (None: off)
    diverge_bound: float | None = None  # diverged if loss > this absolute bound (None: off)
    progress: bool | None = None  # progress bar; None = shown once a run has taken over 10 s
    log_every: int = 1  # record training loss/accuracy every this many steps
    eval_every: int | None = None  # test loss/accuracy every this many steps (needs test data)
    eval_batch_size: int = 1000  # evaluation chunk; BN uses these chunks' statistics
    engine: str = "autograd"  # "autograd"; "moments": the exact full-batch DLN engine of `bnopt.dln`;
    # "auto": "moments" where it applies (the DLN with norm none/bn, full batch, l2 loss), else "autograd"

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(f"give exactly one of steps={self.steps} and epochs={self.epochs}")
        for name in ("steps", "epochs", "batch_size", "log_every", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} must be a positive integer (or None)")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose one of {', '.join(map(repr, ENGINES))}")
        if not self.lr >= 0 or (self.lr_norm is not None and not self.lr_norm >= 0):
            raise ValueError(f"learning rates must be >= 0; got lr={self.lr}, lr_norm={self.lr_norm}")

    @property
    def norm_lr(self) -> float:
        """The step size of γ, β: lr_norm, or lr when it is None."""
        return self.lr if self.lr_norm is None else self.lr_norm


@dataclass
class StepState:
    """What a hook sees at one step (see the module docstring for when each field is set)."""

    step: int
    x: Tensor
    y: Tensor
    model: nn.Module
    config: TrainConfig
    loss_fn: LossFn
    lr: float
    lr_norm: float
    loss: float | None = None
    loss_tensor: Tensor | None = None  # the graph-free loss value of this step
    output: Tensor | None = None  # the model's output on the batch (detached; see Hook.wants_forward)
    grads: dict[str, Tensor] | None = None  # parameter name -> gradient at W^t


class Hook(Protocol):
    """Measurement code plugged into `train`; any method may be absent.

    `wants_forward(step)`, asked after `before_step`, says whether the hook needs this step's
    training forward pass (module forward hooks, `state.output`). The autograd engine always makes
    that pass; the moments engine (`bnopt.dln`) makes a gradient-free one only when some hook
    without `wants_forward`, or whose `wants_forward` returns True, is present. `due(step)` says
    whether the hook acts at `step` at all: the moments engine runs the steps at which no hook is
    due in its fused kernel (the same updates) and calls no hook there; a hook without `due` is
    called at every step.
    """

    def before_step(self, state: StepState) -> None: ...

    def wants_forward(self, step: int) -> bool: ...

    def after_step(self, state: StepState) -> None: ...

    def due(self, step: int) -> bool: ...


class SelfContainedHook:
    """Base of hooks that make their own passes and never need the training forward pass."""

    def wants_forward(self, step: int) -> bool:
        """Never: the moments engine may skip the training forward pass for this hook."""
        return False


@dataclass
class TrainLog:
    """What a run recorded; arrays stop at the divergence step when a run diverged."""

    steps: np.ndarray  # step indices of `loss` / `accuracy` (every log_every steps)
    loss: np.ndarray  # training loss on the step's batch, before the update
    accuracy: np.ndarray  # training accuracy on the step's batch (NaN for regression)
    eval_steps: np.ndarray  # steps at which the test set was evaluated (after the update)
    test_loss: np.ndarray
    test_accuracy: np.ndarray
    diverged: bool
    diverged_at: int | None  # the step whose loss was non-finite or over the bound
    steps_run: int  # updates actually made
    wall_time: float  # seconds
    extra: dict[str, Any] = field(default_factory=dict)

    def final_loss(self) -> float:
        """Last recorded training loss, inf if the run diverged."""
        return math.inf if self.diverged or len(self.loss) == 0 else float(self.loss[-1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The log as a flat dict of numpy arrays (for `results.load_or_run`)."""
        return {"steps": self.steps, "loss": self.loss, "accuracy": self.accuracy,
                "eval_steps": self.eval_steps, "test_loss": self.test_loss,
                "test_accuracy": self.test_accuracy, "diverged": np.array(self.diverged),
                "diverged_at": np.array(-1 if self.diverged_at is None else self.diverged_at),
                "steps_run": np.array(self.steps_run), "wall_time": np.array(self.wall_time)}


# --- state that hooks must restore ------------------------------------------------------------


class Snapshot:
    """A copy of a model's parameters, gradients, buffers, mode and random generators."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        with torch.no_grad():
            self.params = [p.detach().clone() for p in model.parameters()]
            self.grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
            self.buffers = [b.detach().clone() for b in model.buffers()]
        self.modes = [m.training for m in model.modules()]
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.noise_rng = [layer.get_rng_state() for layer in norms.noise_layers(model)]

    def restore_rng(self) -> None:
        """Rewind every random generator, so the next forward draws the same noise again."""
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        for layer, state in zip(norms.noise_layers(self.model), self.noise_rng):
            layer.set_rng_state(state)

    def restore(self) -> None:
        """Put everything back exactly as it was when the snapshot was taken."""
        with torch.no_grad():
            for p, saved, g in zip(self.model.parameters(), self.params, self.grads):
                p.copy_(saved)
                p.grad = None if g is None else g.clone()
            for b, saved in zip(self.model.buffers(), self.buffers):
                b.copy_(saved)
        for m, mode in zip(self.model.modules(), self.modes):
            m.training = mode
        self.restore_rng()


@contextlib.contextmanager
def preserved_state(model: nn.Module) -> Iterator[Snapshot]:
    """Context manager for hooks: on exit the model and all generators are exactly as on entry."""
    snap = Snapshot(model)
    try:
        yield snap
    finally:
        snap.restore()


# --- batches -----------------------------------------------------------------------------------


def steps_per_epoch(n: int, batch_size: int | None) -> int:
    """SGD steps in one pass over n samples (the last partial batch is dropped)."""
    if batch_size is None:
        return 1
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the {n} training samples; "
                         f"use batch_size <= {n} or None (full batch)")
    return n // batch_size


def full_steps(config: TrainConfig, n: int) -> int:
    """Number of SGD steps the run is set to make on n samples."""
    per_epoch = steps_per_epoch(n, config.batch_size)
    return config.steps if config.steps is not None else config.epochs * per_epoch


def total_steps(config: TrainConfig, n: int) -> int:
    """Number of SGD steps the run makes on n samples (a few in a smoke run: `smoke.cap`)."""
    return smoke.cap(full_steps(config, n))


def batch_indices(n: int, config: TrainConfig, device: torch.device) -> Iterator[Tensor | None]:
    """Indices of each step's batch: a fresh seeded permutation per epoch; None for full batch."""
    if config.batch_size is None:
        while True:
            yield None
    gen = torch.Generator().manual_seed(config.seed)
    per_epoch = steps_per_epoch(n, config.batch_size)
    while True:
        perm = torch.randperm(n, generator=gen).to(device)
        for k in range(per_epoch):
            yield perm[k * config.batch_size:(k + 1) * config.batch_size]


# --- the loop ------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on stderr, shown when asked or once a run has taken over 10 s."""

    def __init__(self, total: int, mode: bool | None) -> None:
        self.total, self.mode, self.start, self.last = total, mode, time.perf_counter(), 0.0

    def update(self, step: int, loss: float) -> None:
        """Redraw at most twice a second."""
        if self.mode is False:
            return
        now = time.perf_counter()
        if (self.mode is None and now - self.start < 10) or now - self.last < 0.5:
            return
        self.last = now
        done = (step + 1) / self.total
        bar = "#" * int(30 * done)
        rate = (step + 1) / (now - self.start)
        sys.stderr.write(f"\r[{bar:<30}] {step + 1}/{self.total} loss {loss:.4g} {rate:.0f} steps/s")
        sys.stderr.flush()

    def close(self) -> None:
        """End the line if anything was drawn."""
        if self.last:
            sys.stderr.write("\n")


def is_diverged(loss: float, initial: float, config: TrainConfig) -> bool:
    """NaN/inf, above the absolute bound, or above diverge_factor × the initial loss."""
    if not math.isfinite(loss):
        return True
    if config.diverge_bound is not None and loss > config.diverge_bound:
        return True
    return config.diverge_factor is not None and loss > config.diverge_factor * max(abs(initial), 1e-12)


def _accuracy(output: Tensor, y: Tensor) -> Tensor:
    """Fraction of argmax predictions equal to integer labels (NaN for real-valued targets)."""
    if y.dtype.is_floating_point or output.dim() != 2:
        return torch.tensor(math.nan)
    return (output.argmax(1) == y).float().mean()


def eval_bounds(n: int, batch_size: int) -> list[int]:
    """Chunk bounds used by `evaluate`: chunks of batch_size, a tail under half a chunk merged."""
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < batch_size // 2:
        del bounds[-2]
    return bounds


@torch.no_grad()
def evaluate(model: nn.Module, data: Batch, loss_fn: LossFn, batch_size: int = 1000,
             max_chunks: int | None = None) -> tuple[float, float]:
    """Mean loss and accuracy on `data` in eval mode (no noise), in chunks of `batch_size`.

    Normalisation layers use each chunk's own batch statistics (see `norms`); the last chunk is
    merged into the previous one if it is smaller than half a chunk. With `max_chunks`, only the
    first that many chunks are evaluated (a smoke run's capped evaluation, `timed_evaluation`).
    """
    x, y = data
    if max_chunks is not None and max_chunks < 1:
        raise ValueError(f"max_chunks={max_chunks}: give a positive number of chunks, or None for all")
    was_training = model.training
    model.eval()
    try:
        bounds = eval_bounds(len(x), batch_size)[:None if max_chunks is None else max_chunks + 1]
        total_loss, correct = 0.0, 0.0
        for a, b in zip(bounds[:-1], bounds[1:]):
            out = model(x[a:b])
            total_loss += float(loss_fn(out, y[a:b])) * (b - a)
            correct += float(_accuracy(out, y[a:b])) * (b - a)
    finally:
        model.train(was_training)
    return total_loss / bounds[-1], correct / bounds[-1]


def timed_evaluation(clock: smoke.Clock, model: nn.Module, data: Batch, loss_fn: LossFn,
                     batch_size: int) -> tuple[float, float]:
    """`evaluate` inside a training loop, timed by `clock`; a smoke run evaluates at most its step cap of chunks."""
    kept, share = smoke.capped_bounds(eval_bounds(len(data[0]), batch_size))
    return clock.evaluation(lambda: evaluate(model, data, loss_fn, batch_size, len(kept) - 1), share)


def _param_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(weights and biases, normalisation γ/β) of `model`."""
    return models.weight_parameters(model), models.norm_parameters(model)


@torch.no_grad()
def sgd_update(params: Sequence[nn.Parameter], lr: float) -> None:
    """In-place SGD p ← p − lr·p.grad for every parameter that has a gradient."""
    live = [p for p in params if p.grad is not None]
    if live and lr != 0:
        torch._foreach_add_(live, [p.grad for p in live], alpha=-lr)


def train(model: nn.Module, data: Batch, config: TrainConfig, hooks: Sequence[Any] = (),
          loss_fn: LossFn = models.cross_entropy, test: Batch | None = None) -> TrainLog:
    """Train `model` in place by SGD on `data` = (x, y); returns the TrainLog of the run.

    hooks: objects with `before_step(state)` and/or `after_step(state)` (see `StepState`).
    loss_fn: (output, target) -> scalar; use `models.loss_fn(model_id)` for the papers' losses.
    test: optional (x, y) evaluated every `config.eval_every` steps and after the last step
    (only after the last step when eval_every is None).
    Never raises on divergence: the log says `diverged` and `diverged_at`.
    config.engine "moments" trains [S]'s DLN (full batch, l2 loss) exactly from the data's
    moments, many times faster (`bnopt.dln`); it raises ValueError for any other run. "auto"
    uses it where it applies and autograd elsewhere.
    """
    if config.engine != "autograd":
        from bnopt import dln  # imports this module

        if config.engine == "moments" or dln.unsupported(model, loss_fn, config) is None:
            return dln.train_moments(model, data, config, hooks, loss_fn, test)
    device = runtime.resolve_device(config.device)
    model.to(device).train()
    x_all, y_all = data[0].to(device), data[1].to(device)
    test = None if test is None else (test[0].to(device), test[1].to(device))
    n_steps = total_steps(config, len(x_all))
    full = full_steps(config, len(x_all))
    clock = smoke.Clock("GD" if config.batch_size is None else "SGD", full, hooks, smoke.evals_in(full, config.eval_every) if test is not None else 0)
    hooks = clock.hooks
    before = [h.before_step for h in hooks if hasattr(h, "before_step")]
    after = [h.after_step for h in hooks if hasattr(h, "after_step")]
    weights, norm_params = _param_groups(model)
    names = [name for name, _ in model.named_parameters()]
    params = list(model.parameters())
    losses, accs, log_steps = [], [], []
    eval_steps, test_losses, test_accs = [], [], []
    initial, diverged_at, steps_run = math.nan, None, 0
    bar = ProgressBar(n_steps, config.progress)
    start = time.perf_counter()
    batches = batch_indices(len(x_all), config, device)
    classify = not y_all.dtype.is_floating_point
    for t in range(n_steps):
        idx = next(batches)
        x, y = (x_all, y_all) if idx is None else (x_all[idx], y_all[idx])
        state = StepState(t, x, y, model, config, loss_fn, config.lr, config.norm_lr)
        for fn in before:
            fn(state)
        for p in params:
            p.grad = None
        output = model(x)
        loss = loss_fn(output, y)
        loss.backward()
        value = loss.item()
        if t == 0:
            initial = value
        diverged = is_diverged(value, initial, config)
        if t % config.log_every == 0 or diverged:
            log_steps.append(t)
            losses.append(value)
            accs.append(_accuracy(output.detach(), y) if classify else math.nan)
        if diverged:
            diverged_at = t
            break
        sgd_update(weights, config.lr)
        sgd_update(norm_params, config.norm_lr)
        steps_run += 1
        if after:
            state.loss, state.loss_tensor, state.output = value, loss.detach(), output.detach()
            state.grads = {nm: p.grad for nm, p in zip(names, params) if p.grad is not None}
            for fn in after:
                fn(state)
        if test is not None and ((t + 1) % (config.eval_every or n_steps) == 0 or t + 1 == n_steps):
            test_loss, test_acc = timed_evaluation(clock, model, test, loss_fn, config.eval_batch_size)
            eval_steps.append(t + 1)
            test_losses.append(test_loss)
            test_accs.append(test_acc)
        bar.update(t, value)
        clock.tick(t + 1)
    bar.close()
    clock.finish(steps_run)
    return TrainLog(
        steps=np.asarray(log_steps, dtype=np.int64),
        loss=np.asarray(losses, dtype=np.float64),
        accuracy=np.asarray([float(a) for a in accs], dtype=np.float64),
        eval_steps=np.asarray(eval_steps, dtype=np.int64),
        test_loss=np.asarray(test_losses, dtype=np.float64),
        test_accuracy=np.asarray(test_accs, dtype=np.float64),
        diverged=diverged_at is not None, diverged_at=diverged_at, steps_run=steps_run,
        wall_time=time.perf_counter() - start)

"""Exact full-batch training of [S]'s deep linear network (DLN) from the data's moments.

    log = train.train(models.build("dln", "bn"), data.dln_task(),
                      train.TrainConfig(lr=1e-6, steps=10_000, engine="moments"), loss_fn=models.l2_loss)

Why it is exact. With full-batch BatchNorm every activation of the DLN is an affine function of
the input: after layer k, z_i = A_k (x_i − μ_x) + b_k for every sample i, where, from A_0 = I and
b_0 = μ_x,

- a weight layer W maps (A, b) to (W A, W b);
- a BatchNorm layer maps (A, b) to (diag(γ ⊙ s) A, β), s_j = (v_j + eps)^(−1/2), where
  v_j = (A Σ Aᵀ)_jj is unit j's biased batch variance (its batch mean is b_j, because the
  x_i − μ_x average to zero) and Σ is the input covariance.

So the summed squared loss Σ_i ‖z_L,i − y_i‖² depends on the data only through its means and
covariances:

    L = N [tr(E Σ Eᵀ) + r_0 + ‖b_L − μ_y‖²],   E = A_L − B*,

with B* the least-squares map (Σ B*ᵀ = Cov(x, y)) and r_0 the least-squares residual per sample,
both computed once. One gradient step then costs a few 10×10 products per layer instead of
1,000-sample passes; its gradient is the exact backward pass of these formulas (tested against
autograd of the per-sample model in float64). Everything runs in float64 in numba kernels.

`train.train` uses this engine when `TrainConfig(engine="moments")`; it accepts the DLN with
norm "none" or "bn" (not noisy or l_p), full batch, [S]'s l2 loss. Hooks still work: the
parameters (and gradients) are written into the nn.Module before each hook call, and a gradient-free
forward pass on the batch stands in for the training pass (forward hooks, such as
`recording.ActivationRecorder`, see it), so measurement code sees the model as with autograd.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch
from torch import Tensor, nn

from bnopt import models, norms, smoke, train

CHUNK = 500  # fused steps between progress-bar updates (no effect on results)


# --- kernels -------------------------------------------------------------------------------------
# Matrix products are written as loops: the matrices are 10 x 10, and numba's `@` needs scipy.


@numba.njit(cache=True)
def _mm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out = a @ b (pass a transposed view for a.T @ b or a @ b.T)."""
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            acc = 0.0
            for m in range(a.shape[1]):
                acc += a[i, m] * b[m, j]
            out[i, j] = acc


@numba.njit(cache=True)
def _mv(a: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """out = a @ v."""
    for i in range(a.shape[0]):
        acc = 0.0
        for m in range(a.shape[1]):
            acc += a[i, m] * v[m]
        out[i] = acc


@numba.njit(cache=True)
def _mtv(a: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """out = a.T @ v."""
    out[:] = 0.0
    for m in range(a.shape[0]):
        for i in range(a.shape[1]):
            out[i] += a[m, i] * v[m]


@numba.njit(cache=True)
def _loss_and_grads(w: np.ndarray, gamma: np.ndarray, beta: np.ndarray, normed: np.ndarray,
                    eps: np.ndarray, sigma: np.ndarray, bstar: np.ndarray, mu_x: np.ndarray,
                    mu_y: np.ndarray, r0: float, n: float, gw: np.ndarray, ggamma: np.ndarray,
                    gbeta: np.ndarray) -> float:
    """Loss of the full batch; fills gw, ggamma, gbeta with its gradients (float64 throughout)."""
    depth, d, _ = w.shape
    a = np.zeros((depth + 1, d, d))
    b = np.zeros((depth + 1, d))
    ah = np.zeros((depth, d, d))
    p = np.zeros((depth, d, d))
    s = np.zeros((depth, d))
    for j in range(d):
        a[0, j, j] = 1.0
        b[0, j] = mu_x[j]
    for k in range(depth):  # forward: (A, b) through every layer
        _mm(w[k], a[k], ah[k])
        if normed[k]:
            _mm(ah[k], sigma, p[k])
            for j in range(d):
                v = 0.0
                for m in range(d):
                    v += p[k, j, m] * ah[k, j, m]
                s[k, j] = 1.0 / math.sqrt(v + eps[k])
                for m in range(d):
                    a[k + 1, j, m] = gamma[k, j] * s[k, j] * ah[k, j, m]
                b[k + 1, j] = beta[k, j]
        else:
            a[k + 1] = ah[k]
            _mv(w[k], b[k], b[k + 1])
    e = a[depth] - bstar
    es = np.zeros((d, d))
    _mm(e, sigma, es)
    db = b[depth] - mu_y
    loss = n * (np.sum(es * e) + r0 + np.sum(db * db))
    ga = 2.0 * n * es  # dL/dA_L (Σ is symmetric)
    gb = 2.0 * n * db  # dL/db_L
    dah = np.zeros((d, d))
    dbh = np.zeros(d)
    ga_next = np.zeros((d, d))
    gb_next = np.zeros(d)
    for k in range(depth - 1, -1, -1):  # backward
        if normed[k]:
            for j in range(d):
                c = 0.0
                for m in range(d):
                    c += ga[j, m] * ah[k, j, m]
                ggamma[k, j] = s[k, j] * c
                gbeta[k, j] = gb[j]
                g_s = gamma[k, j] * s[k, j]
                g_s3 = g_s * s[k, j] * s[k, j] * c
                for m in range(d):
                    dah[j, m] = g_s * ga[j, m] - g_s3 * p[k, j, m]
                dbh[j] = 0.0
        else:
            dah[:, :] = ga
            dbh[:] = gb
            ggamma[k, :] = 0.0
            gbeta[k, :] = 0.0
        _mm(dah, a[k].T, gw[k])
        for i in range(d):
            for j in range(d):
                gw[k, i, j] += dbh[i] * b[k, j]
        _mm(w[k].T, dah, ga_next)
        _mtv(w[k], dbh, gb_next)
        ga[:, :] = ga_next
        gb[:] = gb_next
    return loss


@numba.njit(cache=True)
def _diverged(loss: float, initial: float, factor: float, bound: float) -> bool:
    """`train.is_diverged` with NaN meaning 'off' for factor and bound."""
    if not math.isfinite(loss):
        return True
    if not math.isnan(bound) and loss > bound:
        return True
    return not math.isnan(factor) and loss > factor * max(abs(initial), 1e-12)


@numba.njit(cache=True)
def _run(w: np.ndarray, gamma: np.ndarray, beta: np.ndarray, normed: np.ndarray, eps: np.ndarray,
         sigma: np.ndarray, bstar: np.ndarray, mu_x: np.ndarray, mu_y: np.ndarray, r0: float, n: float,
         lr: float, lr_norm: float, t0: int, steps: int, initial: float, factor: float, bound: float,
         losses: np.ndarray) -> tuple[int, int, float]:
    """Steps t0 … t0+steps−1 of gradient descent in place; returns (updates, diverged step or −1, initial)."""
    gw = np.zeros_like(w)
    ggamma = np.zeros_like(gamma)
    gbeta = np.zeros_like(beta)
    for i in range(steps):
        loss = _loss_and_grads(w, gamma, beta, normed, eps, sigma, bstar, mu_x, mu_y, r0, n, gw, ggamma, gbeta)
        losses[i] = loss
        if t0 + i == 0:
            initial = loss
        if _diverged(loss, initial, factor, bound):
            return i, t0 + i, initial
        w -= lr * gw
        gamma -= lr_norm * ggamma
        beta -= lr_norm * gbeta
    return steps, -1, initial


# --- data moments and the model's parameters ------------------------------------------------------


@dataclass(frozen=True)
class Moments:
    """What the loss needs from the data (x, y): N, means, input covariance, B*, residual r_0."""

    n: float
    mu_x: np.ndarray
    mu_y: np.ndarray
    sigma: np.ndarray  # (1/N) Σ (x − μ_x)(x − μ_x)ᵀ
    bstar: np.ndarray  # least-squares map: y − μ_y ≈ B* (x − μ_x)
    r0: float  # (1/N) Σ ‖(y − μ_y) − B* (x − μ_x)‖²


def moments(x: Tensor, y: Tensor) -> Moments:
    """The data's moments in float64 (B* by least squares, so a singular Σ is fine)."""
    xd, yd = x.detach().double().cpu().numpy(), y.detach().double().cpu().numpy()
    if xd.ndim != 2 or yd.ndim != 2 or len(xd) != len(yd):
        raise ValueError(f"the DLN engine needs x (N, d) and y (N, d_out); got {xd.shape} and {yd.shape}")
    mu_x, mu_y = xd.mean(0), yd.mean(0)
    xc, yc = xd - mu_x, yd - mu_y
    bt = np.linalg.lstsq(xc, yc, rcond=None)[0]
    resid = yc - xc @ bt
    return Moments(float(len(xd)), mu_x, mu_y, xc.T @ xc / len(xd), np.ascontiguousarray(bt.T),
                   float(np.sum(resid * resid) / len(xd)))


@dataclass
class Params:
    """The DLN's parameters as float64 arrays: W (L, d, d); γ, β (L, d), zero where not normed."""

    w: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    normed: np.ndarray  # (L,) bool
    eps: np.ndarray  # (L,) BatchNorm eps (unused where not normed)


def unsupported(model: nn.Module, loss_fn: Any, config: train.TrainConfig) -> str | None:
    """Why the moments engine cannot train this run (None if it can)."""
    if loss_fn is not models.l2_loss:
        return "it computes [S]'s DLN loss only (loss_fn=models.l2_loss)"
    if config.batch_size is not None:
        return f"it is full batch only (batch_size=None); got batch_size={config.batch_size}"
    mods = list(model.children())
    if not mods or not all(isinstance(m, models.Block) for m in mods):
        return "the model is not a stack of Blocks (use models.build('dln', ...))"
    shape = None
    for blk in mods:
        layer = blk.layer
        if not isinstance(layer, nn.Linear) or layer.bias is not None or blk.act is not None or blk.pool is not None:
            return "every block must be a bias-free linear layer without activation (the DLN)"
        if shape is None:
            shape = tuple(layer.weight.shape)
        if tuple(layer.weight.shape) != shape or shape[0] != shape[1]:
            return "every layer must be the same square d x d matrix (the DLN)"
        if blk.norm is not None and (type(blk.norm) is not norms.BatchNorm or blk.norm.track_running_stats):
            return f"norm {type(blk.norm).__name__} is not plain BatchNorm (use norm 'none' or 'bn')"
    return None


def read_params(model: nn.Module) -> Params:
    """The model's weights and BatchNorm γ, β, eps as float64 arrays."""
    blks = list(model.children())
    d = blks[0].layer.weight.shape[0]
    out = Params(np.zeros((len(blks), d, d)), np.zeros((len(blks), d)), np.zeros((len(blks), d)),
                 np.zeros(len(blks), dtype=np.bool_), np.zeros(len(blks)))
    for k, blk in enumerate(blks):
        out.w[k] = blk.layer.weight.detach().double().cpu().numpy()
        if blk.norm is not None:
            out.normed[k], out.eps[k] = True, blk.norm.eps
            out.gamma[k] = blk.norm.weight.detach().double().cpu().numpy()
            out.beta[k] = blk.norm.bias.detach().double().cpu().numpy()
    return out


def _slots(model: nn.Module) -> list[tuple[str, nn.Parameter, str, int]]:
    """(name, parameter, 'w' | 'gamma' | 'beta', layer index) of every parameter of the DLN."""
    where = {id(blk.layer.weight): ("w", k) for k, blk in enumerate(model.children())}
    for k, blk in enumerate(model.children()):
        if blk.norm is not None:
            where[id(blk.norm.weight)], where[id(blk.norm.bias)] = ("gamma", k), ("beta", k)
    return [(name, p, *where[id(p)]) for name, p in model.named_parameters()]


class ParamWriter:
    """Copies the float64 arrays {'w', 'gamma', 'beta'} (updated in place) into the model's parameters."""

    def __init__(self, slots: Sequence[tuple[str, nn.Parameter, str, int]], arrays: dict[str, np.ndarray]) -> None:
        self.params = [p for _, p, _, _ in slots]
        self.sources = [torch.from_numpy(arrays[kind])[k] for _, _, kind, k in slots]  # views, no copies

    @torch.no_grad()
    def __call__(self) -> None:
        """Write the current values (in the parameters' dtype and device)."""
        if all(p.device.type == "cpu" for p in self.params):
            torch._foreach_copy_(self.params, self.sources)
        else:
            for p, src in zip(self.params, self.sources):
                p.copy_(src)


def loss_and_grads(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, dict[str, np.ndarray]]:
    """Full-batch l2 loss of the DLN and its gradients {'w', 'gamma', 'beta'} (float64)."""
    why = unsupported(model, models.l2_loss, train.TrainConfig(lr=0.0, steps=1))
    if why:
        raise ValueError(f"the moments engine cannot evaluate this model: {why}")
    pr, mo = read_params(model), moments(x, y)
    grads = {"w": np.zeros_like(pr.w), "gamma": np.zeros_like(pr.gamma), "beta": np.zeros_like(pr.beta)}
    loss = _loss_and_grads(pr.w, pr.gamma, pr.beta, pr.normed, pr.eps, mo.sigma, mo.bstar, mo.mu_x, mo.mu_y,
                           mo.r0, mo.n, grads["w"], grads["gamma"], grads["beta"])
    return float(loss), grads


# --- the training loop ---------------------------------------------------------------------------


def _nan_if_none(v: float | None) -> float:
    """None -> NaN (the kernels' 'off')."""
    return math.nan if v is None else float(v)


def train_moments(model: nn.Module, data: train.Batch, config: train.TrainConfig, hooks: Sequence[Any] = (),
                  loss_fn: train.LossFn = models.l2_loss, test: train.Batch | None = None) -> train.TrainLog:
    """`train.train` for the DLN by the moments engine; same log, same divergence rules."""
    why = unsupported(model, loss_fn, config)
    if why:
        raise ValueError(f"engine='moments' cannot train this run: {why}; use engine='autograd'")
    device = next(model.parameters()).device
    x_all, y_all = data[0].to(device), data[1].to(device)
    test = None if test is None else (test[0].to(device), test[1].to(device))
    model.train()
    start = time.perf_counter()
    mo, pr = moments(x_all, y_all), read_params(model)
    arrays = {"w": pr.w, "gamma": pr.gamma, "beta": pr.beta}
    slots = _slots(model)
    write_params = ParamWriter(slots, arrays)
    n_steps = train.total_steps(config, len(x_all))
    full = train.full_steps(config, len(x_all))
    factor, bound = _nan_if_none(config.diverge_factor), _nan_if_none(config.diverge_bound)
    lr_norm = config.norm_lr
    losses = np.full(n_steps, math.nan)
    initial, diverged_at, t = math.nan, -1, 0
    evals: list[tuple[int, float, float]] = []
    bar = train.ProgressBar(n_steps, config.progress)
    kernel_args = (pr.w, pr.gamma, pr.beta, pr.normed, pr.eps, mo.sigma, mo.bstar, mo.mu_x, mo.mu_y, mo.r0, mo.n)
    eval_every = config.eval_every or n_steps
    if smoke.steps() is not None:  # compile the kernels first: a smoke run times the steps, not the compiler
        _run(*(np.copy(a) if isinstance(a, np.ndarray) else a for a in kernel_args), config.lr, lr_norm, 0, 1,
             math.nan, factor, bound, np.empty(1))
    clock = smoke.Clock("DLN (moments engine)", full, hooks,
                        smoke.evals_in(full, config.eval_every) if test is not None else 0)
    hooks = clock.hooks
    while t < n_steps and diverged_at < 0:
        due = next_due(hooks, t, n_steps)
        if due == t:
            done, diverged_at, initial = _hooked_step(model, slots, arrays, write_params, kernel_args,
                                                      (x_all, y_all), config, hooks, loss_fn, t, initial, losses)
        else:
            span = min(due - t, CHUNK, eval_every - t % eval_every)
            done, diverged_at, initial = _run(*kernel_args, config.lr, lr_norm, t, span, initial, factor, bound,
                                              losses[t:])
        t += done
        if diverged_at < 0 and test is not None and (t % eval_every == 0 or t == n_steps):
            write_params()
            evals.append((t, *train.timed_evaluation(clock, model, test, loss_fn, config.eval_batch_size)))
        bar.update(t - 1, float(losses[max(t - 1, 0)]))
        clock.tick(t)
    bar.close()
    clock.finish(t)
    write_params()
    for p in model.parameters():
        p.grad = None
    last = n_steps - 1 if diverged_at < 0 else diverged_at
    logged = [s for s in range(0, last + 1) if s % config.log_every == 0 or s == diverged_at]
    return train.TrainLog(
        steps=np.asarray(logged, dtype=np.int64), loss=losses[logged], accuracy=np.full(len(logged), math.nan),
        eval_steps=np.asarray([e[0] for e in evals], dtype=np.int64),
        test_loss=np.asarray([e[1] for e in evals], dtype=np.float64),
        test_accuracy=np.asarray([e[2] for e in evals], dtype=np.float64),
        diverged=diverged_at >= 0, diverged_at=None if diverged_at < 0 else diverged_at,
        steps_run=t, wall_time=time.perf_counter() - start, extra={"engine": "moments"})


def next_due(hooks: Sequence[Any], t: int, n_steps: int) -> int:
    """The first step >= t at which some hook acts (n_steps if none); a hook without `due` acts at every step."""
    if not hooks:
        return n_steps
    if any(not hasattr(h, "due") for h in hooks):
        return t
    return next((s for s in range(t, n_steps) if any(h.due(s) for h in hooks)), n_steps)


def _hooked_step(model: nn.Module, slots: list[tuple[str, nn.Parameter, str, int]], arrays: dict[str, np.ndarray],
                 write_params: ParamWriter, kernel_args: tuple, batch: train.Batch, config: train.TrainConfig,
                 hooks: Sequence[Any], loss_fn: train.LossFn, t: int, initial: float,
                 losses: np.ndarray) -> tuple[int, int, float]:
    """One step with hooks called as in `train.train`; returns (updates, diverged step or −1, initial)."""
    x, y = batch
    write_params()
    state = train.StepState(t, x, y, model, config, loss_fn, config.lr, config.norm_lr)
    for h in hooks:
        if hasattr(h, "before_step"):
            h.before_step(state)
    output = None
    if any(getattr(h, "wants_forward", lambda _: True)(t) for h in hooks):
        with torch.no_grad():  # the training forward pass (forward hooks such as the activation recorder see it)
            output = model(x).detach()
    grads = {k: np.zeros_like(v) for k, v in arrays.items()}
    loss = float(_loss_and_grads(*kernel_args, grads["w"], grads["gamma"], grads["beta"]))
    losses[t] = loss
    initial = loss if t == 0 else initial
    if train.is_diverged(loss, initial, config):
        return 0, t, initial
    after = [h.after_step for h in hooks if hasattr(h, "after_step")]
    arrays["w"] -= config.lr * grads["w"]
    arrays["gamma"] -= config.norm_lr * grads["gamma"]
    arrays["beta"] -= config.norm_lr * grads["beta"]
    if after:
        write_params()
        state.grads = {}
        for name, p, kind, k in slots:
            p.grad = torch.from_numpy(grads[kind][k]).to(p.dtype).to(p.device)
            state.grads[name] = p.grad
        state.loss, state.loss_tensor, state.output = loss, torch.tensor(loss), output
        for fn in after:
            fn(state)
    return 1, -1, initial

"""Engines that iterate GD, BNGD and MBNGD of [C] over many configurations (rows) at once.

All in float64 on the CPU: for diagonal H a fused numba kernel, parallel over rows (one pass over d
per step); for a dense H torch, chunked to fit the cache and spread over threads. `run_plain` is the
obvious per-configuration loop they are tested (and benchmarked) against. A run diverges at the
first step where `σ²`, `a` or a recorded value is not finite, `σ² > DIVERGENCE_BOUND` or
`|a| > A_BOUND`: the step is recorded, the configuration stops updating and its later records are NaN.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np
import torch
from numba import njit, prange

from .ols_model import Problem, bn_loss, bngd_step, gd_loss, gd_step, h_norm2, hmul, mbngd_step

METHODS: tuple[str, ...] = ("gd", "bngd", "mbngd")
DIVERGENCE_BOUND = 1e200  # σ² above this counts as divergence: far from overflow (1.8e308), far above the
# σ² ~ 1e34 a huge ε (1e16) legitimately produces
A_BOUND = 1e50  # |a| above this counts as divergence: for ε_a < 2, |a_k| ≤ |a₀| + 2‖u‖_H/(1 − |1 − ε_a|)
# (Lemma A.10), at most ~1e12 on the grids here; ε_a > 2 makes a grow like |1 − ε_a|^k
NOT_DIVERGED = -1  # value of `diverged_at` for a run that never diverged
FREEZE_CHECK_EVERY = 16  # steps between checks for runs sitting on a floating-point fixed point
ENGINES: tuple[str, ...] = ("auto", "numba", "torch")


def run_plain(method: str, problem: Problem, a0: np.ndarray, w0: np.ndarray, eps_a: np.ndarray,
              eps: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-configuration loop: final a (n,), final w (n, d) and final excess loss (n,)."""
    _check_method(method)
    n = len(eps)
    a_out, w_out, loss = np.zeros(n), np.zeros((n, problem.dim)), np.zeros(n)
    diag = problem.diagonal
    for i in range(n):
        H = problem.h[i] if (diag and problem.h.ndim == 2) else problem.h
        u = problem.u[i] if problem.u.ndim == 2 else problem.u
        g = hmul(H, u, diag)
        a, w = float(a0[i]), np.array(w0[i], dtype=np.float64)
        for _ in range(steps):
            if method == "gd":
                w = gd_step(w, H, g, eps[i], diag)
            elif method == "bngd":
                a, w = bngd_step(a, w, H, g, eps_a[i], eps[i], diag)
            else:
                w = mbngd_step(w, H, g, eps[i], diag)
        if method == "mbngd":
            a = float(w @ g) / math.sqrt(h_norm2(w, H, diag))
        a_out[i], w_out[i] = a, w
        loss[i] = gd_loss(w, H, u, diag) if method == "gd" else bn_loss(a, w, H, u, diag)
    return a_out, w_out, loss


# ----------------------------------------------------------------------------------------------
# Vectorised runs
# ----------------------------------------------------------------------------------------------
@dataclass
class Run:
    """Records of n runs at the steps `record_at` (arrays (n, len(record_at))) and their final state."""

    method: str
    record_at: np.ndarray  # steps at which the records were taken
    loss: np.ndarray  # excess loss J − J*
    effective_step: np.ndarray  # ε̂_k (ε for GD)
    residual_h2: np.ndarray  # ‖e_k‖²_H
    residual_norm: np.ndarray  # ‖e_k‖
    a: np.ndarray  # final a (n,); wᵀg/σ for MBNGD, NaN for GD
    w: np.ndarray  # final w (n, d)
    diverged_at: np.ndarray  # first step that diverged, NOT_DIVERGED if none

    @property
    def diverged(self) -> np.ndarray:
        """Boolean mask of runs that diverged."""
        return self.diverged_at != NOT_DIVERGED

    def at(self, step: int) -> int:
        """Column of `step` in the records."""
        where = np.flatnonzero(self.record_at == step)
        if where.size == 0:
            raise KeyError(f"step {step} was not recorded; recorded steps: {self.record_at.tolist()[:10]}...")
        return int(where[0])


def _check_method(method: str) -> None:
    """Raise for an unknown method name."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _as_rows(x: float | np.ndarray, n: int) -> np.ndarray:
    """A scalar or (n,) array as a float64 array of shape (n,)."""
    out = np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))
    return np.ascontiguousarray(out)


def run(method: str, problem: Problem, w0: np.ndarray, eps: float | np.ndarray, steps: int, *,
        a0: float | np.ndarray = 1.0, eps_a: float | np.ndarray = 1.0,
        record_at: Sequence[int] | np.ndarray | None = None, threads: int = 2, chunk: int = 512,
        engine: str = "auto") -> Run:
    """Run `method` ("gd", "bngd" or "mbngd") for n configurations (rows of w0) for `steps` steps.

    `engine`: "numba" (diagonal H only; `chunk` unused), "torch", or "auto" (numba for diagonal H)."""
    _check_method(method)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "numba" and not problem.diagonal:
        raise ValueError("the numba engine needs a diagonal H; use engine='torch' for a dense H")
    w0 = np.atleast_2d(np.asarray(w0, dtype=np.float64))
    n, d = w0.shape
    if d != problem.dim:
        raise ValueError(f"w0 has dimension {d} but the problem has dimension {problem.dim}")
    record = np.unique(np.asarray([steps] if record_at is None else record_at, dtype=np.int64))
    if record.size and (record[0] < 0 or record[-1] > steps):
        raise ValueError(f"record_at must lie in [0, steps={steps}], got {record[0]}..{record[-1]}")
    out = Run(method, record, *(np.full((n, record.size), np.nan) for _ in range(4)),
              np.full(n, np.nan), np.full((n, d), np.nan), np.full(n, NOT_DIVERGED, dtype=np.int64))
    cfg = {"a": _as_rows(a0, n), "eps": _as_rows(eps, n), "eps_a": _as_rows(eps_a, n), "w": w0}
    if problem.diagonal and engine != "torch":
        _run_numba(method, problem, cfg, steps, record, out, threads)
    else:
        _run_torch(method, problem, cfg, steps, record, out, threads, chunk)
    return out


def _run_torch(method: str, problem: Problem, cfg: dict[str, np.ndarray], steps: int, record: np.ndarray,
               out: Run, threads: int, chunk: int) -> None:
    """The torch path: chunks of rows iterated as tensors, the chunks spread over `threads` threads."""
    n = len(cfg["eps"])
    slices = [slice(i, min(i + chunk, n)) for i in range(0, n, chunk)]
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from chunks on threads, not from inside tiny ops
    try:
        if threads <= 1 or len(slices) == 1:
            for sl in slices:
                _run_chunk(method, problem, cfg, sl, steps, record, out)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda sl: _run_chunk(method, problem, cfg, sl, steps, record, out), slices))
    finally:
        torch.set_num_threads(old_threads)


def _t(x: np.ndarray) -> torch.Tensor:
    """A float64 torch tensor (a copy) of a numpy array."""
    return torch.tensor(np.ascontiguousarray(x), dtype=torch.float64)


class _Chunk:
    """Working state of a block of runs: tensors of the rows still iterating."""

    def __init__(self, problem: Problem, cfg: dict[str, np.ndarray], sl: slice) -> None:
        self.rows = np.arange(sl.start, sl.stop)
        self.a, self.w = _t(cfg["a"][sl]), _t(cfg["w"][sl])
        self.eps, self.eps_a = _t(cfg["eps"][sl]), _t(cfg["eps_a"][sl])
        self.diag = problem.diagonal
        self.h_rows = problem.diagonal and problem.h.ndim == 2
        self.h = _t(problem.h[sl] if self.h_rows else problem.h)
        self.u = _t(problem.u[sl] if problem.u.ndim == 2 else problem.u)
        self.g = self.apply_h(self.u)

    def apply_h(self, x: torch.Tensor) -> torch.Tensor:
        """`H x` row-wise."""
        return x * self.h if self.diag else x @ self.h

    def keep(self, mask: torch.Tensor) -> None:
        """Drop the rows where `mask` is False."""
        self.rows = self.rows[mask.numpy()]
        self.a, self.w, self.eps, self.eps_a = self.a[mask], self.w[mask], self.eps[mask], self.eps_a[mask]
        if self.h_rows:
            self.h = self.h[mask]
        if self.u.ndim == 2:
            self.u, self.g = self.u[mask], self.g[mask]


def _run_chunk(method: str, problem: Problem, cfg: dict[str, np.ndarray], sl: slice, steps: int,
               record: np.ndarray, out: Run) -> None:
    """Iterate the rows `sl` of a run, writing records, final state and divergence into `out`."""
    c = _Chunk(problem, cfg, sl)
    col = {int(k): j for j, k in enumerate(record)}
    hw = torch.empty_like(c.w)
    prev = None
    for k in range(steps + 1):
        if c.diag:
            torch.mul(c.w, c.h, out=hw)
        else:
            torch.matmul(c.w, c.h, out=hw)
        wg = torch.mv(hw, c.u) if c.u.ndim == 1 else torch.linalg.vecdot(hw, c.u)
        s2 = torch.linalg.vecdot(c.w, hw)
        sigma = s2.sqrt()
        if method == "mbngd":
            c.a = wg / sigma
        # one cheap test per step; the row-wise work only runs when something is off or recorded
        size = float(torch.maximum(s2 / DIVERGENCE_BOUND, c.a.abs() / A_BOUND).max())  # |wᵀg| ≤ ‖w‖‖g‖
        drop = None
        if not size <= 1.0 or k in col or prev is not None:
            bad = ~((s2 <= DIVERGENCE_BOUND) & (c.a.abs() <= A_BOUND) & torch.isfinite(wg))
            if k in col:
                vals = _metrics(method, c, wg, s2, sigma)
                bad |= ~torch.isfinite(vals[0])
                _write(out, c.rows, [col[k]], vals)
            drop = bad
            if prev is not None:  # rows whose last step left the state bit for bit unchanged stay there
                fixed = (c.w == prev[0]).all(dim=1) & (c.a == prev[1]) & ~bad
                if bool(fixed.any()):
                    later = [j for j, r in enumerate(record) if r > k]
                    _write(out, c.rows, later, _metrics(method, c, wg, s2, sigma), fixed)
                    _finish(out, c, fixed, k, diverged=False)
                    drop = bad | fixed
        if drop is not None and bool(drop.any()):
            _finish(out, c, bad, k, diverged=True)
            keep = ~drop
            c.keep(keep)
            hw, wg, s2, sigma = hw[keep], wg[keep], s2[keep], sigma[keep]
            if c.rows.size == 0:
                return
        if k == steps:
            break
        prev = (c.w.clone(), c.a.clone()) if k % FREEZE_CHECK_EVERY == 0 else None
        if method == "gd":
            c.w.addcmul_(hw, c.eps[:, None], value=-1.0)
            _add_outer(c.w, c.eps, c.g)
            continue
        alpha = c.eps * c.a / sigma  # coefficient of g
        beta = alpha * wg / s2  # coefficient of Hw: the effective step ε̂_k
        if method == "bngd":
            c.a = torch.lerp(c.a, wg / sigma, c.eps_a)  # a + ε_a (wᵀg/σ − a)
        c.w.addcmul_(hw, beta[:, None], value=-1.0)
        _add_outer(c.w, alpha, c.g)
    _finish(out, c, torch.ones(c.rows.size, dtype=torch.bool), steps, diverged=False)


def _add_outer(w: torch.Tensor, coef: torch.Tensor, g: torch.Tensor) -> None:
    """`w += coef ⊗ g` (g shared (d,) or per row (m, d))."""
    if g.ndim == 1:
        w.addr_(coef, g)
    else:
        w.addcmul_(g, coef[:, None])


def _metrics(method: str, c: _Chunk, wg: torch.Tensor, s2: torch.Tensor,
             sigma: torch.Tensor) -> list[torch.Tensor]:
    """Excess loss, effective step, ‖e‖²_H and ‖e‖ of every row of the chunk."""
    if method == "gd":
        e, eff = c.u - c.w, c.eps.clone()
    else:
        e, eff = c.u - (wg / s2)[:, None] * c.w, c.eps * c.a * wg / (s2 * sigma)
    eh2 = torch.linalg.vecdot(e, c.apply_h(e))
    loss = 0.5 * eh2 if method != "bngd" else 0.5 * (eh2 + (c.a - wg / sigma) ** 2)
    return [loss, eff, eh2, torch.linalg.vector_norm(e, dim=1)]


_FIELDS = ("loss", "effective_step", "residual_h2", "residual_norm")


def _write(out: Run, rows: np.ndarray, cols: list[int], vals: list[torch.Tensor],
           mask: torch.Tensor | None = None) -> None:
    """Write `vals` (one per record field) into columns `cols` of `rows` (optionally masked)."""
    if not cols:
        return
    m = slice(None) if mask is None else mask.numpy()
    for name, v in zip(_FIELDS, vals):
        getattr(out, name)[np.ix_(rows[m], cols)] = v.numpy()[m][:, None]


def _finish(out: Run, c: _Chunk, mask: torch.Tensor, k: int, diverged: bool) -> None:
    """Store the final state of the masked rows at step k; diverged rows get NaN records from k on."""
    m = mask.numpy()
    if not m.any():
        return
    rows = c.rows[m]
    if diverged:
        out.diverged_at[rows] = k
        later = np.flatnonzero(out.record_at >= k)
        for name in _FIELDS:
            getattr(out, name)[np.ix_(rows, later)] = np.nan
        return
    out.a[rows] = np.nan if out.method == "gd" else c.a.numpy()[m]
    out.w[rows] = c.w.numpy()[m]


# ----------------------------------------------------------------------------------------------
# Diagonal H: one fused numba kernel per configuration
# ----------------------------------------------------------------------------------------------
# Why numba: for diagonal H each torch step makes ~8 passes over the (chunk, d) state (Hw, wᵀg, σ²,
# the divergence test, two updates of w, ...), each a separate kernel call on a small tensor. The
# kernel below runs one configuration at a time and makes ONE pass over d per step: the update of w
# and the sums wᵀHw, (Hw)ᵀu of the next step are fused, and the bookkeeping (records, divergence,
# freezing) is scalar work per step. float64, no fastmath and IEEE division (error_model="numpy":
# x/0 is inf or NaN, as in torch) keep it within ~1e-12 of the torch path and `run_plain` (only the
# order of the sums differs). The first call compiles (~7 s); `cache=True` keeps the machine code
# in __pycache__ for later processes.
_GD, _BNGD, _MBNGD = 0, 1, 2
_METHOD_CODE = {"gd": _GD, "bngd": _BNGD, "mbngd": _MBNGD}
_NUMBA_CHUNK = 8  # configurations per dynamically scheduled block (runs stop at different steps)


@njit(cache=True, fastmath=False, error_model="numpy")
def _nb_lerp(a: float, b: float, t: float) -> float:
    """`a + t (b − a)` evaluated like torch.lerp (exact at t = 1)."""
    if abs(t) < 0.5:
        return a + t * (b - a)
    return b - (b - a) * (1.0 - t)


@njit(cache=True, fastmath=False, error_model="numpy")
def _nb_metrics(method: int, a: float, eps: float, w: np.ndarray, h: np.ndarray, u: np.ndarray,
                wg: float, s2: float, sigma: float) -> tuple[float, float, float, float]:
    """Excess loss, effective step, ‖e‖²_H and ‖e‖ of one configuration (as `_metrics`)."""
    c = wg / s2
    eh2 = 0.0
    e2 = 0.0
    for j in range(w.size):
        e = u[j] - w[j] if method == _GD else u[j] - c * w[j]
        eh2 += e * (e * h[j])
        e2 += e * e
    eff = eps if method == _GD else eps * a * wg / (s2 * sigma)
    loss = 0.5 * (eh2 + (a - wg / sigma) ** 2) if method == _BNGD else 0.5 * eh2
    return loss, eff, eh2, np.sqrt(e2)


@njit(cache=True, fastmath=False, error_model="numpy")
def _nb_write(recs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], i: int, lo: int, hi: int,
              vals: tuple[float, float, float, float]) -> None:
    """Write `vals` into columns lo..hi−1 of row i of the four record arrays."""
    for j in range(lo, hi):
        recs[0][i, j], recs[1][i, j], recs[2][i, j], recs[3][i, j] = vals


@njit(cache=True, fastmath=False, error_model="numpy")
def _nb_sums(w: np.ndarray, hw: np.ndarray, h: np.ndarray, u: np.ndarray) -> tuple[float, float]:
    """Fill `hw` with Hw; return σ² = wᵀHw and wᵀg = (Hw)ᵀu."""
    s2 = 0.0
    wg = 0.0
    for j in range(w.size):
        hw[j] = w[j] * h[j]
        s2 += w[j] * hw[j]
        wg += hw[j] * u[j]
    return s2, wg


@njit(cache=True, fastmath=False, error_model="numpy")
def _nb_update(w: np.ndarray, hw: np.ndarray, g: np.ndarray, h: np.ndarray, u: np.ndarray, alpha: float,
               beta: float) -> tuple[float, float, bool]:
    """One pass over d: `w ← (w − β Hw) + α g`, the new Hw, σ², wᵀg, and whether w stayed bit for bit."""
    s2 = 0.0
    wg = 0.0
    unchanged = True
    for j in range(w.size):
        x = (w[j] - hw[j] * beta) + alpha * g[j]
        if x != w[j]:
            unchanged = False
        w[j] = x
        hw[j] = x * h[j]
        s2 += x * hw[j]
        wg += hw[j] * u[j]
    return s2, wg, unchanged


@njit(cache=True, fastmath=False, error_model="numpy")
def _nb_row(method: int, i: int, h: np.ndarray, u: np.ndarray, a0: np.ndarray, eps_v: np.ndarray,
            eps_a_v: np.ndarray, w0: np.ndarray, steps: int, record: np.ndarray,
            recs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], a_out: np.ndarray,
            w_out: np.ndarray, div_at: np.ndarray) -> None:
    """Iterate configuration i, writing its records, final state and divergence step (as `_run_chunk`)."""
    hr = h[min(i, h.shape[0] - 1)]  # one row of H's eigenvalues and of u per run, or one shared
    ur = u[min(i, u.shape[0] - 1)]
    d, n_rec = hr.size, record.size
    eps, eps_a, a = eps_v[i], eps_a_v[i], a0[i]
    w = w0[i].copy()
    g = ur * hr
    hw = np.empty(d)
    s2, wg = _nb_sums(w, hw, hr, ur)
    col = 0  # next record column
    check = False  # whether this step tests for a floating-point fixed point
    unchanged = False  # whether the last step left w bit for bit unchanged
    prev_a = a
    for k in range(steps + 1):
        sigma = np.sqrt(s2)
        if method == _MBNGD:
            a = wg / sigma
        bad = not (s2 <= DIVERGENCE_BOUND and abs(a) <= A_BOUND and np.isfinite(wg))
        if col < n_rec and record[col] == k:
            vals = _nb_metrics(method, a, eps, w, hr, ur, wg, s2, sigma)
            bad = bad or not np.isfinite(vals[0])
            _nb_write(recs, i, col, col + 1, vals)
            col += 1
        if bad:  # diverged: the records from step k on are NaN, the final state stays NaN
            div_at[i] = k
            first = col - 1 if col > 0 and record[col - 1] == k else col
            _nb_write(recs, i, first, n_rec, (np.nan, np.nan, np.nan, np.nan))
            return
        if check and unchanged and a == prev_a:  # frozen: the later records repeat this step's
            _nb_write(recs, i, col, n_rec, _nb_metrics(method, a, eps, w, hr, ur, wg, s2, sigma))
            break
        if k == steps:
            break
        check = k % FREEZE_CHECK_EVERY == 0
        prev_a = a
        if method == _GD:
            alpha, beta = eps, eps
        else:
            alpha = eps * a / sigma  # coefficient of g
            beta = alpha * wg / s2  # coefficient of Hw: the effective step ε̂_k
            if method == _BNGD:
                a = _nb_lerp(a, wg / sigma, eps_a)
        s2, wg, unchanged = _nb_update(w, hw, g, hr, ur, alpha, beta)
    a_out[i] = np.nan if method == _GD else a
    w_out[i] = w


@njit(parallel=True, cache=True, fastmath=False, error_model="numpy")
def _nb_run(method: int, h: np.ndarray, u: np.ndarray, a0: np.ndarray, eps: np.ndarray, eps_a: np.ndarray,
            w0: np.ndarray, steps: int, record: np.ndarray,
            recs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], a_out: np.ndarray,
            w_out: np.ndarray, div_at: np.ndarray) -> None:
    """All configurations, in parallel over rows."""
    for i in prange(w0.shape[0]):
        _nb_row(method, np.int64(i), h, u, a0, eps, eps_a, w0, steps, record, recs, a_out, w_out, div_at)


def _run_numba(method: str, problem: Problem, cfg: dict[str, np.ndarray], steps: int, record: np.ndarray,
               out: Run, threads: int) -> None:
    """The numba path (diagonal H): `_nb_run` on `threads` threads, numba's settings restored after."""
    h = np.ascontiguousarray(np.atleast_2d(problem.h), dtype=np.float64)
    u = np.ascontiguousarray(np.atleast_2d(problem.u), dtype=np.float64)
    w0 = np.ascontiguousarray(cfg["w"])
    recs = (out.loss, out.effective_step, out.residual_h2, out.residual_norm)
    old_threads = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    old_chunk = numba.set_parallel_chunksize(_NUMBA_CHUNK)
    try:
        _nb_run(_METHOD_CODE[method], h, u, cfg["a"], cfg["eps"], cfg["eps_a"], w0, steps, record, recs,
                out.a, out.w, out.diverged_at)
    finally:
        numba.set_parallel_chunksize(old_chunk)
        numba.set_num_threads(old_threads)

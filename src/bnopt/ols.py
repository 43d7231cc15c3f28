"""Least squares with and without BatchNorm: GD, BNGD and MBNGD of [C] (Cai, Li, Shen 2019), §2–3, App. A–B.

Notation follows [C]: `H = E[xxᵀ]`, `g = E[xy] = H u`, `u = H⁻¹ g` the minimiser, `σ = √(wᵀHw)`.

- GD (eq. 3):     `w ← w − ε (H w − g)`.
- BNGD (eq. 9–10): `a ← a + ε_a (wᵀg/σ − a)`, `w ← w + ε (a/σ)(g − (wᵀg/σ²) H w)` (both from the old values).
- MBNGD (eq. 81):  BNGD with `a` replaced by `wᵀg/σ` at every step.

Derived quantities: effective step `ε̂_k = ε (a_k/σ_k)(w_kᵀg/σ_k²)` (eq. 11), residual
`e_k = u − (w_kᵀg/σ_k²) w_k` (eq. 35; for GD `u − w_k`), excess loss `J − J* = ½‖u − (a/σ) w‖²_H
= ½(‖e‖²_H + (a − wᵀg/σ)²)` (eq. 16, 70), `H* = H − H u uᵀ H / (uᵀ H u)` (eq. 14) and its
pseudo-condition number `κ*`.

The iterations run over many configurations (rows) at once in float64 on the CPU: for diagonal H a
fused numba kernel, parallel over rows (one pass over d per step); for a dense H torch, chunked to fit
the cache and spread over threads. `run_plain` is the obvious per-configuration loop they
are tested (and benchmarked) against. A run diverges at the first step where `σ²`, `a` or a
recorded value is not finite, `σ² > DIVERGENCE_BOUND` or `|a| > A_BOUND`: the step is recorded, the
configuration stops updating and its later records are NaN.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numba
import numpy as np
import torch
from numba import njit, prange

from .claims import NOT_REPRODUCED, REPRODUCED, Verdict

METHODS: tuple[str, ...] = ("gd", "bngd", "mbngd")
DIVERGENCE_BOUND = 1e200  # σ² above this counts as divergence: far from overflow (1.8e308), far above the
# σ² ~ 1e34 a huge ε (1e16) legitimately produces
A_BOUND = 1e50  # |a| above this counts as divergence: for ε_a < 2, |a_k| ≤ |a₀| + 2‖u‖_H/(1 − |1 − ε_a|)
# (Lemma A.10), at most ~1e12 on the grids here; ε_a > 2 makes a grow like |1 − ε_a|^k
NOT_DIVERGED = -1  # value of `diverged_at` for a run that never diverged
FREEZE_CHECK_EVERY = 16  # steps between checks for runs sitting on a floating-point fixed point
ENGINES: tuple[str, ...] = ("auto", "numba", "torch")


# ----------------------------------------------------------------------------------------------
# Problems
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """An OLS problem: H (its eigenvalues if `diagonal`, shape (d,) or per run (n, d); else the (d, d)
    matrix) and the minimiser u ((d,) shared or (n, d) per run)."""

    h: np.ndarray
    u: np.ndarray
    diagonal: bool = True

    @property
    def dim(self) -> int:
        """Dimension d."""
        return int(self.u.shape[-1])

    @property
    def g(self) -> np.ndarray:
        """`g = H u`."""
        return hmul(self.h, self.u, self.diagonal)


def hmul(h: np.ndarray, w: np.ndarray, diagonal: bool = True) -> np.ndarray:
    """`H w` for eigenvalues `h` (diagonal H) or the matrix `h` (rows of w are vectors)."""
    return w * h if diagonal else w @ h


def diagonal_problem(eigs: np.ndarray, u: np.ndarray) -> Problem:
    """A problem with `H = diag(eigs)` (eigs (d,) or one row per run)."""
    eigs, u = np.asarray(eigs, dtype=np.float64), np.asarray(u, dtype=np.float64)
    if np.any(eigs <= 0):
        raise ValueError("H must be positive definite: every eigenvalue in `eigs` must be > 0")
    return Problem(eigs, u, True)


def matrix_problem(H: np.ndarray, u: np.ndarray) -> Problem:
    """A problem with a full symmetric positive-definite H."""
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or not np.allclose(H, H.T):
        raise ValueError(f"H must be a symmetric square matrix, got shape {H.shape}")
    return Problem(H, np.asarray(u, dtype=np.float64), False)


def logspace_eigenvalues(cond: float, d: int) -> np.ndarray:
    """`logspace(0, log10 cond, d)`: H's diagonal in [C] Fig. 1 and Fig. 5."""
    return np.logspace(0.0, math.log10(cond), d)


def linspace_eigenvalues(cond: float, d: int) -> np.ndarray:
    """`linspace(1, cond, d)`: H's diagonal in [C] Fig. 6–8."""
    return np.linspace(1.0, cond, d)


def random_unit_vectors(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """`n` vectors uniform on the unit sphere of R^d, shape (n, d)."""
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_spd(d: int, cond: float, rng: np.random.Generator) -> np.ndarray:
    """A random symmetric positive-definite matrix with condition number `cond` (random eigenvectors)."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = np.logspace(0.0, math.log10(cond), d)
    return (q * lam) @ q.T


# ----------------------------------------------------------------------------------------------
# Closed forms: GD, H*, κ*, ρ*
# ----------------------------------------------------------------------------------------------
def eigenvalues(h: np.ndarray) -> np.ndarray:
    """Eigenvalues of H in increasing order (from its diagonal or the matrix)."""
    h = np.asarray(h, dtype=np.float64)
    return np.sort(h) if h.ndim == 1 else np.linalg.eigvalsh(h)


def condition_number(h: np.ndarray) -> float:
    """κ = λ_max / λ_min."""
    lam = eigenvalues(h)
    return float(lam[-1] / lam[0])


def gd_stability_threshold(h: np.ndarray) -> float:
    """`2/λ_max`: GD converges iff 0 < ε < this ([C] §2.1)."""
    return float(2.0 / eigenvalues(h)[-1])


def optimal_gd_step(h: np.ndarray) -> float:
    """`ε_opt = 2/(λ_max + λ_min)`."""
    lam = eigenvalues(h)
    return float(2.0 / (lam[-1] + lam[0]))


def rate_from_condition(kappa: float | np.ndarray) -> float | np.ndarray:
    """`(κ − 1)/(κ + 1)`: the optimal contraction rate for condition number κ."""
    return (kappa - 1.0) / (kappa + 1.0)


def optimal_gd_rate(h: np.ndarray) -> float:
    """Rate of GD at ε_opt, `(κ−1)/(κ+1)` ([C] eq. 5)."""
    return float(rate_from_condition(condition_number(h)))


def spectral_radius(eps: float | np.ndarray, lam: np.ndarray) -> np.ndarray:
    """`ρ(I − εH) = max_i |1 − ε λ_i|` for each ε."""
    eps = np.asarray(eps, dtype=np.float64)
    return np.max(np.abs(1.0 - eps[..., None] * np.asarray(lam)), axis=-1)


def h_star(H: np.ndarray, u: np.ndarray) -> np.ndarray:
    """`H* = H − H u uᵀ H / (uᵀ H u)` ([C] eq. 14); `H` a matrix or its diagonal."""
    H = np.diag(H) if np.ndim(H) == 1 else np.asarray(H, dtype=np.float64)
    hu = H @ u
    return H - np.outer(hu, hu) / (u @ hu)


def pseudo_condition_number_diagonal(eigs: np.ndarray, u: np.ndarray, iters: int = 200) -> np.ndarray:
    """κ* for diagonal H and each row of u, without an eigensolver: H* = diag(λ) − v vᵀ/c (v = λ∘u,
    c = uᵀHu) has eigenvalue 0 and one root of `1 − Σ v_i²/(c (λ_i − μ))` in each (λ_{i−1}, λ_i);
    λ*_2 and λ*_max are found by bisection in the first and last interval (distinct sorted λ)."""
    lam = np.sort(eigs)
    v2 = (eigs * u) ** 2
    c = (u ** 2) @ eigs

    def root(lo: float, hi: float) -> np.ndarray:
        a, b = np.full(len(u), lo), np.full(len(u), hi)
        for _ in range(iters):
            mid = 0.5 * (a + b)
            f = 1.0 - (v2 / (eigs - mid[:, None])).sum(1) / c
            a, b = np.where(f > 0, mid, a), np.where(f > 0, b, mid)  # f decreases between poles
            if np.all(b - a <= 4 * np.finfo(float).eps * b):
                break
        return 0.5 * (a + b)

    return root(lam[-2], lam[-1]) / root(lam[0], lam[1])


def h_star_eigenvalues(H: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Eigenvalues of H* in increasing order (the first is 0, eigenvector u)."""
    return np.linalg.eigvalsh(h_star(H, u))


def pseudo_condition_number(star_eigenvalues: np.ndarray, rel_tol: float = 1e-10) -> float:
    """`κ* = λ*_max / λ*_min`, λ*_min the smallest eigenvalue above `rel_tol · λ*_max` (Def. A.3)."""
    lam = np.sort(np.asarray(star_eigenvalues))
    nonzero = lam[lam > rel_tol * lam[-1]]
    return float(nonzero[-1] / nonzero[0])


def pseudo_spectral_radius(eps: float | np.ndarray, star_eigenvalues: np.ndarray) -> np.ndarray:
    """`ρ*(I − εH*) = max_{i≥2} |1 − ε λ_i(H*)|` (Def. A.4), dropping the zero eigenvalue."""
    return spectral_radius(eps, np.sort(star_eigenvalues)[1:])


def interlacing_violation(H: np.ndarray, u: np.ndarray) -> float:
    """Largest violation of `λ_i(H*) ≤ λ_i(H) ≤ λ_{i+1}(H*)` (Lemma A.1), relative to λ_max (≤ 0 if it holds)."""
    lam, star = eigenvalues(H), h_star_eigenvalues(H, u)
    gaps = np.concatenate([star - lam, lam[:-1] - star[1:], [abs(star[0])]])
    return float(gaps.max() / lam[-1])


# ----------------------------------------------------------------------------------------------
# One configuration at a time (plain numpy): the reference the vectorised runs are tested against
# ----------------------------------------------------------------------------------------------
def gd_step(w: np.ndarray, H: np.ndarray, g: np.ndarray, eps: float, diagonal: bool = True) -> np.ndarray:
    """One GD step `w − ε(Hw − g)`."""
    return w - eps * (hmul(H, w, diagonal) - g)


def bngd_step(a: float, w: np.ndarray, H: np.ndarray, g: np.ndarray, eps_a: float, eps: float,
              diagonal: bool = True) -> tuple[float, np.ndarray]:
    """One BNGD step (eq. 9–10), both updates from the old (a, w)."""
    hw = hmul(H, w, diagonal)
    s2 = float(w @ hw)
    sigma, wg = math.sqrt(s2), float(w @ g)
    return a + eps_a * (wg / sigma - a), w + eps * (a / sigma) * (g - (wg / s2) * hw)


def mbngd_step(w: np.ndarray, H: np.ndarray, g: np.ndarray, eps: float, diagonal: bool = True) -> np.ndarray:
    """One MBNGD step (eq. 81): BNGD's w update with `a = wᵀg/σ`."""
    hw = hmul(H, w, diagonal)
    s2 = float(w @ hw)
    wg = float(w @ g)
    return w + eps * (wg / s2) * (g - (wg / s2) * hw)


def effective_step(a: float, w: np.ndarray, H: np.ndarray, g: np.ndarray, eps: float,
                   diagonal: bool = True) -> float:
    """`ε̂ = ε (a/σ)(wᵀg/σ²)` (eq. 11)."""
    s2 = float(w @ hmul(H, w, diagonal))
    return eps * a * float(w @ g) / s2 ** 1.5


def residual(w: np.ndarray, H: np.ndarray, u: np.ndarray, diagonal: bool = True) -> np.ndarray:
    """`e = u − (wᵀg/σ²) w` (eq. 35): u minus its H-projection on w."""
    hw = hmul(H, w, diagonal)
    return u - (float(hw @ u) / float(w @ hw)) * w


def h_norm2(x: np.ndarray, H: np.ndarray, diagonal: bool = True) -> float:
    """`‖x‖²_H = xᵀHx`."""
    return float(x @ hmul(H, x, diagonal))


def bn_loss(a: float, w: np.ndarray, H: np.ndarray, u: np.ndarray, diagonal: bool = True) -> float:
    """Excess BN loss `J(a, w) − J* = ½‖u − (a/σ) w‖²_H` (eq. 16)."""
    sigma = math.sqrt(h_norm2(w, H, diagonal))
    return 0.5 * h_norm2(u - (a / sigma) * w, H, diagonal)


def gd_loss(w: np.ndarray, H: np.ndarray, u: np.ndarray, diagonal: bool = True) -> float:
    """Excess OLS loss `J₀(w) − J₀(u) = ½‖u − w‖²_H`."""
    return 0.5 * h_norm2(u - w, H, diagonal)


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


# ----------------------------------------------------------------------------------------------
# Experiments: frozen configs built from the section's settings, functions config -> arrays
# ----------------------------------------------------------------------------------------------
def grid(spec: tuple[float, float, int], scale: float = 1.0) -> np.ndarray:
    """`scale · logspace(lo, hi, n)` from a (lo, hi, n) tuple."""
    lo, hi, n = spec
    return scale * np.logspace(lo, hi, int(n))


def _threads() -> int:
    """Threads for the vectorised runs: the cores this process may use, at most 4."""
    from .runtime import available_cores
    return max(1, min(4, available_cores()))


def fig1_start(eigs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """[C] Fig. 1's initial weights `w₀ = H u / ‖H u‖`."""
    hu = eigs * u
    return hu / np.linalg.norm(hu)


@dataclass(frozen=True)
class Fig1Config:
    """One panel row of [C] Fig. 1: BNGD over (a₀, ε_a, ε) against GD at ε_opt, for one κ."""

    kappa: float
    dim: int
    steps: int
    eps_a_scale: float
    eps_a: tuple[float, float, int]
    eps: tuple[float, float, int]
    a0: tuple[float, ...]
    loss_floor: float
    seed: int


def fig1_config(s, kappa: float) -> Fig1Config:
    """The Fig. 1 config for condition number κ from the section's settings."""
    return Fig1Config(float(kappa), s.fig1_dim, s.fig1_steps, s.fig1_eps_a_scale, s.fig1_eps_a, s.fig1_eps,
                      tuple(s.fig1_a0), s.loss_floor, s.seed)


def fig1_problem(kappa: float, dim: int, seed: int) -> Problem:
    """`H = diag(logspace(0, log10 κ, d))`, u uniform on the unit sphere (seeded)."""
    u = random_unit_vectors(1, dim, np.random.default_rng(seed))[0]
    return diagonal_problem(logspace_eigenvalues(kappa, dim), u)


def compare_step(gd_loss_curve: np.ndarray, floor: float) -> int:
    """Step at which losses are compared: the last one, or earlier where optimal GD's loss first
    falls below `floor` times its start (after that both sit on float64 round-off)."""
    below = np.flatnonzero(gd_loss_curve <= floor * gd_loss_curve[0])
    return int(below[0]) if below.size else len(gd_loss_curve) - 1


def run_fig1_grid(cfg: Fig1Config) -> dict[str, np.ndarray | float | str]:
    """[C] Fig. 1 for one κ: BNGD's loss and effective step on the (a₀, ε_a, ε) grid, GD at ε_opt."""
    p = fig1_problem(cfg.kappa, cfg.dim, cfg.seed)
    w0 = fig1_start(p.h, p.u)
    eps_opt = optimal_gd_step(p.h)
    gd = run("gd", p, w0, eps_opt, cfg.steps, record_at=np.arange(cfg.steps + 1))
    k_c = compare_step(gd.loss[0], cfg.loss_floor)
    a0s, eps_as, epss = np.array(cfg.a0), grid(cfg.eps_a, cfg.eps_a_scale), grid(cfg.eps)
    A0, EA, E = (x.ravel() for x in np.meshgrid(a0s, eps_as, epss, indexing="ij"))
    bn = run("bngd", p, np.broadcast_to(w0, (A0.size, p.dim)), E, cfg.steps, a0=A0, eps_a=EA,
             record_at=[0, k_c, cfg.steps // 2, cfg.steps], threads=_threads(), chunk=2048)
    shape = (a0s.size, eps_as.size, epss.size)
    star = h_star_eigenvalues(p.h, p.u)
    half, final = bn.loss[:, bn.at(cfg.steps // 2)], bn.loss[:, -1]
    unsettled = np.flatnonzero(~bn.diverged & ~_settled(bn.loss[:, 0], half, final))
    ext = EXTEND_FACTOR * cfg.steps
    more = run("bngd", p, np.broadcast_to(w0, (unsettled.size, p.dim)), E[unsettled], ext, a0=A0[unsettled],
               eps_a=EA[unsettled], record_at=[0, ext // 2, ext]) if unsettled.size else None
    return {"extended_index": unsettled, "extended_steps": ext,
            "extended_loss_half": more.loss[:, 1] if more else np.zeros(0),
            "extended_loss_final": more.loss[:, 2] if more else np.zeros(0),
            "extended_diverged_at": more.diverged_at if more else np.zeros(0, dtype=np.int64),
            "a0": a0s, "eps_a": eps_as, "eps": epss, "eps_opt": eps_opt, "kappa": cfg.kappa,
            "kappa_star": pseudo_condition_number(star), "gd_rate": optimal_gd_rate(p.h),
            "gd_loss": gd.loss[0], "k_compare": k_c, "gd_loss_compare": gd.loss[0, k_c],
            "bn_loss_start": bn.loss[:, 0].reshape(shape), "bn_loss_compare": bn.loss[:, bn.at(k_c)].reshape(shape),
            "bn_loss_half": bn.loss[:, bn.at(cfg.steps // 2)].reshape(shape),
            "bn_loss_final": bn.loss[:, -1].reshape(shape),
            "effective_step_final": bn.effective_step[:, -1].reshape(shape),
            "diverged_at": bn.diverged_at.reshape(shape), "dataset": "synthetic"}


EXTEND_FACTOR = 10  # runs not yet settled after Fig. 1's 2,000 steps are rerun for 10× as many
SETTLE_TOL = 1e-9  # "settling" allows the loss to rise by round-off (relative) over the second half


def _settled(start: np.ndarray, half: np.ndarray, final: np.ndarray) -> np.ndarray:
    """Finite and the loss at the last step no higher than halfway (up to round-off)."""
    floor = 1e-28 * start  # float64 round-off of a loss near its minimum
    return np.isfinite(final) & (final <= half * (1 + SETTLE_TOL) + floor)


# Fig. 1's colour classes, in [C]'s legend order
CLOSE_AND_BELOW, CLOSE_NOT_BELOW, FAR_AND_BELOW, FAR_NOT_BELOW = 0, 1, 2, 3
CLOSE_FACTOR = 0.8  # [C] Fig. 1: "close to optimal" is 0.8 ε_opt < ε̂_k < ε_opt / 0.8


def fig1_classes(res) -> np.ndarray:
    """Colour class per cell: (ε̂ at the last step close to ε_opt) × (BNGD loss below optimal GD's
    at the comparison step). Diverged cells are 'far, not below'."""
    eff, eps_opt = np.asarray(res["effective_step_final"]), float(res["eps_opt"])
    close = (eff > CLOSE_FACTOR * eps_opt) & (eff < eps_opt / CLOSE_FACTOR)
    below = np.asarray(res["bn_loss_compare"]) < float(res["gd_loss_compare"])
    ok = np.asarray(res["diverged_at"]) == NOT_DIVERGED
    close, below = close & ok, below & ok
    return np.where(close, np.where(below, CLOSE_AND_BELOW, CLOSE_NOT_BELOW),
                    np.where(below, FAR_AND_BELOW, FAR_NOT_BELOW))


@dataclass(frozen=True)
class CurvesConfig:
    """Loss curves and final losses of GD and BNGD over ε at one κ, for several ε_a (Thm 3.3)."""

    kappa: float
    dim: int
    steps: int
    eps: tuple[float, float, int]
    eps_a: tuple[float, ...]
    gd_factors: tuple[float, ...]
    a0: float
    seed: int


def curves_config(s) -> CurvesConfig:
    """The loss-curve config from the section's settings."""
    return CurvesConfig(s.curves_kappa, s.fig1_dim, s.fig1_steps, s.fig1_eps, tuple(s.curves_eps_a),
                        tuple(s.gd_factors), 1.0, s.seed)


def run_curves(cfg: CurvesConfig) -> dict[str, np.ndarray | float | str]:
    """BNGD over the ε grid for each ε_a (every step recorded) and GD at ε_opt and at multiples of 2/λ_max."""
    p = fig1_problem(cfg.kappa, cfg.dim, cfg.seed)
    w0 = fig1_start(p.h, p.u)
    epss, eas = grid(cfg.eps), np.array(cfg.eps_a)
    EA, E = (x.ravel() for x in np.meshgrid(eas, epss, indexing="ij"))
    steps = np.arange(cfg.steps + 1)
    bn = run("bngd", p, np.broadcast_to(w0, (E.size, p.dim)), E, cfg.steps, a0=cfg.a0, eps_a=EA,
             record_at=steps, threads=_threads(), chunk=64)
    thr, eps_opt = gd_stability_threshold(p.h), optimal_gd_step(p.h)
    gd_eps = np.concatenate([[eps_opt], thr * np.array(cfg.gd_factors)])
    gd = run("gd", p, np.broadcast_to(w0, (gd_eps.size, p.dim)), gd_eps, cfg.steps, record_at=steps)
    gd_grid = np.stack([gd_loss_closed_form(p.h, p.u - w0, epss, int(k))[:, 0] for k in steps], axis=1)
    return {"eps": epss, "eps_a": eas, "eps_opt": eps_opt, "threshold": thr, "steps": steps,
            "gd_grid_loss": gd_grid, "kappa": cfg.kappa,
            "bn_loss": bn.loss.reshape(eas.size, epss.size, -1),
            "bn_effective_step": bn.effective_step.reshape(eas.size, epss.size, -1),
            "bn_diverged_at": bn.diverged_at.reshape(eas.size, epss.size),
            "gd_eps": gd_eps, "gd_factors": np.array(cfg.gd_factors), "gd_loss": gd.loss,
            "gd_diverged_at": gd.diverged_at, "gd_spectral_radius": spectral_radius(gd_eps, p.h),
            "dataset": "synthetic"}


@dataclass(frozen=True)
class EffectiveStepConfig:
    """ε̂_k against ε on a fine grid (Prop. 3.5), for several a₀ at ε_a = 1."""

    kappa: float
    dim: int
    steps: int
    eps: tuple[float, float, int]
    a0: tuple[float, ...]
    eps_a: float
    seed: int


def effective_step_config(s) -> EffectiveStepConfig:
    """The ε̂ config from the section's settings."""
    return EffectiveStepConfig(s.curves_kappa, s.fig1_dim, s.fig1_steps, s.eff_eps, tuple(s.eff_a0), 1.0, s.seed)


def generic_start(eigs: np.ndarray, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random unit w₀ meeting Prop. 3.5's conditions strictly: w₀ᵀg > 0 and
    ‖g‖² > (w₀ᵀg/σ₀²) gᵀHw₀ (Fig. 1's w₀ ∥ g meets the second one only with equality)."""
    g = eigs * u
    while True:
        w = random_unit_vectors(1, len(u), rng)[0]
        w = w if w @ g > 0 else -w
        if g @ g > 1.01 * (w @ g) / (w @ (eigs * w)) * (g @ (eigs * w)):
            return w


def run_effective_step(cfg: EffectiveStepConfig) -> dict[str, np.ndarray | float | str]:
    """ε̂_k at log-spaced k for every (a₀, ε), from a generic w₀ (Prop. 3.5's setting) and from
    Fig. 1's w₀ = Hu/‖Hu‖."""
    p = fig1_problem(cfg.kappa, cfg.dim, cfg.seed)
    starts = np.stack([generic_start(p.h, p.u, np.random.default_rng(cfg.seed + 1)), fig1_start(p.h, p.u)])
    epss, a0s = grid(cfg.eps), np.array(cfg.a0)
    S, A0, E = (x.ravel() for x in np.meshgrid(np.arange(2), a0s, epss, indexing="ij"))
    rec = np.unique(np.concatenate([[0], np.logspace(0, np.log10(cfg.steps), 13).round()])).astype(int)
    r = run("bngd", p, starts[S], E, cfg.steps, a0=A0, eps_a=cfg.eps_a, record_at=rec,
            threads=_threads(), chunk=128)
    shape = (2, a0s.size, epss.size, -1)
    return {"eps": epss, "a0": a0s, "steps": rec, "eps_opt": optimal_gd_step(p.h),
            "threshold": gd_stability_threshold(p.h), "w0_kind": np.array(["generic", "fig1"]),
            "effective_step": r.effective_step.reshape(shape), "loss": r.loss.reshape(shape),
            "diverged_at": r.diverged_at.reshape(shape[:-1]), "dataset": "synthetic"}


@dataclass(frozen=True)
class SpectraConfig:
    """H* against H: interlacing (Lemma A.1) and κ* ≤ κ (Cor. A.5) over random u and random H."""

    kappas: tuple[float, ...]
    dim: int
    draws: int
    show_dim: int
    seed: int


def spectra_config(s) -> SpectraConfig:
    """The spectra config from the section's settings."""
    return SpectraConfig(tuple(s.fig1_kappas), s.fig1_dim, s.spectra_draws, 8, s.seed)


def run_spectra(cfg: SpectraConfig) -> dict[str, np.ndarray | str]:
    """κ*/κ over random u for each κ (H of Fig. 1), interlacing violations over random dense H,
    and one small example's eigenvalues to draw."""
    rng = np.random.default_rng(cfg.seed)
    ratio = np.empty((len(cfg.kappas), cfg.draws))
    for i, kappa in enumerate(cfg.kappas):
        eigs = logspace_eigenvalues(kappa, cfg.dim)
        ratio[i] = pseudo_condition_number_diagonal(eigs, random_unit_vectors(cfg.draws, cfg.dim, rng)) / kappa
    n_dense = max(10, cfg.draws // 10)
    violation = np.empty(n_dense)
    dense_kappa = np.empty(n_dense)
    for j in range(n_dense):
        d = int(rng.integers(2, 30))
        H = random_spd(d, 10 ** rng.uniform(0.5, 4), rng)
        u = random_unit_vectors(1, d, rng)[0]
        violation[j] = interlacing_violation(H, u)
        dense_kappa[j] = pseudo_condition_number(h_star_eigenvalues(H, u)) / condition_number(H)
    eigs = logspace_eigenvalues(100.0, cfg.show_dim)
    u = random_unit_vectors(1, cfg.show_dim, rng)[0]
    return {"kappas": np.array(cfg.kappas), "kappa_ratio": ratio, "dense_violation": violation,
            "dense_kappa_ratio": dense_kappa, "show_eigenvalues": eigs,
            "show_star_eigenvalues": h_star_eigenvalues(eigs, u), "dataset": "synthetic"}


@dataclass(frozen=True)
class AppBConfig:
    """[C] App. B: GD and MBNGD over an ε grid for random (u, w₀) on the unit sphere."""

    spacing: str  # "logspace" (Fig. 5) or "linspace" (Fig. 6–8) eigenvalues from 1 to cond
    cond: float
    dim: int
    tests: int
    steps: int
    eps: tuple[float, float, int]
    seed: int


def appb_configs(s) -> dict[str, list[AppBConfig]]:
    """Configs of [C] Fig. 5, 6, 7 (one per d) and 8 (one per condition number)."""
    def cfg(spacing: str, cond: float, dim: int, tests: int) -> AppBConfig:
        return AppBConfig(spacing, float(cond), int(dim), int(tests), s.appb_steps, s.appb_eps, s.seed)
    return {"fig5": [cfg("logspace", s.fig5_cond, s.fig5_dim, s.fig5_tests)],
            "fig6": [cfg("linspace", s.fig6_cond, s.fig6_dim, s.fig6_tests)],
            "fig7": [cfg("linspace", s.fig6_cond, d, s.fig78_tests) for d in s.fig7_dims],
            "fig8": [cfg("linspace", c, s.fig6_dim, s.fig78_tests) for c in s.fig8_conds]}


def gd_loss_closed_form(eigs: np.ndarray, e0: np.ndarray, eps: np.ndarray, k: int) -> np.ndarray:
    """GD's excess loss after k steps for diagonal H, `½ Σ_i λ_i (1 − ε λ_i)^{2k} e0_i²` with
    `e0 = u − w₀` (rows), summed in logs: +inf (never NaN) where it overflows; shape (len(eps), len(e0))."""
    e0 = np.atleast_2d(e0)
    log_base = np.log(0.5 * eigs * e0 ** 2)[None]  # (1, tests, d)
    if k > 0:
        with np.errstate(divide="ignore"):
            log_base = log_base + 2 * k * np.log(np.abs(1.0 - np.multiply.outer(eps, eigs)))[:, None, :]
    else:
        log_base = np.broadcast_to(log_base, (len(eps),) + log_base.shape[1:])
    top = log_base.max(axis=-1, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(over="ignore"):
        return np.exp(safe[..., 0]) * np.exp(log_base - safe).sum(axis=-1)


def run_appendix_b(cfg: AppBConfig) -> dict[str, np.ndarray | float | str]:
    """MBNGD's final ε̂, ‖e‖²_H and ‖e‖ for every (ε, test), and GD's in closed form."""
    eigs = (logspace_eigenvalues if cfg.spacing == "logspace" else linspace_eigenvalues)(cfg.cond, cfg.dim)
    rng = np.random.default_rng(cfg.seed)
    u, w0 = random_unit_vectors(cfg.tests, cfg.dim, rng), random_unit_vectors(cfg.tests, cfg.dim, rng)
    epss = grid(cfg.eps)
    E = np.repeat(epss, cfg.tests)
    p = diagonal_problem(eigs, np.tile(u, (epss.size, 1)))
    rec = np.unique(np.concatenate([[0], np.logspace(0, np.log10(cfg.steps), 40).round()])).astype(int)
    r = run("mbngd", p, np.tile(w0, (epss.size, 1)), E, cfg.steps, record_at=rec,
            threads=_threads(), chunk=max(64, 100_000 // cfg.dim))
    shape = (epss.size, cfg.tests)
    e0 = u - w0
    eps_opt = optimal_gd_step(eigs)
    gd_opt = np.stack([2 * gd_loss_closed_form(eigs, e0, np.array([eps_opt]), int(k))[0] for k in rec])
    k_c = int(rec[compare_step(geometric_mean(gd_opt), APPB_FLOOR)])  # before round-off (see compare_step)
    at = r.at(k_c)
    return {"eps": epss, "eps_opt": eps_opt, "threshold": gd_stability_threshold(eigs),
            "eigenvalues": eigs, "dim": cfg.dim, "cond": cfg.cond, "steps": rec, "k_compare": k_c,
            "mb_effective_step": r.effective_step[:, -1].reshape(shape),
            "mb_residual_h2": r.residual_h2[:, -1].reshape(shape),
            "mb_residual_norm": r.residual_norm[:, -1].reshape(shape),
            "mb_residual_h2_compare": r.residual_h2[:, at].reshape(shape),
            "mb_diverged_at": r.diverged_at.reshape(shape),
            "gd_residual_h2": 2 * gd_loss_closed_form(eigs, e0, epss, cfg.steps),
            "gd_residual_h2_compare": 2 * gd_loss_closed_form(eigs, e0, epss, k_c),
            "gd_opt_residual_h2": gd_opt[-1], "gd_opt_residual_h2_compare": gd_opt[at],
            "dataset": "synthetic"}


APPB_FLOOR = 1e-20  # App. B losses are compared before optimal GD's G-mean falls below this (relative)


def geometric_mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """G-mean `exp(E ln x)` over `axis`, ignoring NaN (diverged) entries; 0 where any entry is 0."""
    with np.errstate(divide="ignore"):
        return np.exp(np.nanmean(np.log(x), axis=axis))


def arithmetic_mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """A-mean over `axis`, ignoring NaN (diverged) entries."""
    return np.nanmean(x, axis=axis)


NEAR_OPTIMAL_FACTOR = 10.0  # book's choice: "near-optimal" ε = G-mean loss within 10× of optimal GD's


def near_optimal_decades(res, factor: float = NEAR_OPTIMAL_FACTOR, method: str = "mbngd") -> float:
    """Width in decades of the ε grid where the G-mean ‖e‖²_H of `method` ("mbngd" or "gd") is at most
    `factor` times optimally tuned GD's, at the comparison step (App. B's "interval of 'optimal' step
    size"; compared before round-off, see `compare_step`)."""
    eps = np.asarray(res["eps"])
    key = "mb_residual_h2_compare" if method == "mbngd" else "gd_residual_h2_compare"
    vals = geometric_mean(np.asarray(res[key]))
    ref = geometric_mean(np.asarray(res["gd_opt_residual_h2_compare"]))
    return _decades(eps, vals <= factor * ref)


def intro_demo(kappa: float = 20.0, steps: int = 60, seed: int = 0, eps_factor: float = 2.5) -> dict[str, np.ndarray | float]:
    """2-D least squares for the intro: loss curves of GD and BNGD (ε_a = 1, a₀ = 1) at
    ε = eps_factor / λ_max, beyond GD's stability threshold 2/λ_max."""
    rng = np.random.default_rng(seed)
    p = diagonal_problem(np.array([1.0, kappa]), random_unit_vectors(1, 2, rng)[0])
    w0 = random_unit_vectors(1, 2, rng)
    eps = eps_factor / kappa
    rec = np.arange(steps + 1)
    gd = run("gd", p, w0, eps, steps, record_at=rec, threads=1)
    bn = run("bngd", p, w0, eps, steps, a0=1.0, eps_a=1.0, record_at=rec, threads=1)
    return {"steps": rec, "eps": eps, "threshold": 2.0 / kappa, "gd_loss": gd.loss[0], "bngd_loss": bn.loss[0],
            "gd_diverged_at": int(gd.diverged_at[0]), "bngd_effective_step": bn.effective_step[0]}


# ----------------------------------------------------------------------------------------------
# Claim verdicts (SPEC §3: C1, C2, C4–C8) and the slides' table, computed from the results above
# ----------------------------------------------------------------------------------------------
def _verdict(claim: str, ok: bool, numbers: dict[str, float], detail: str, profile: str) -> Verdict:
    """A Verdict on synthetic data: reproduced if `ok`, else not reproduced."""
    return Verdict(claim, REPRODUCED if ok else NOT_REPRODUCED, {k: float(v) for k, v in numbers.items()},
                   detail, "synthetic", profile)


def measured_rate(loss: np.ndarray, floor: float = 1e-20) -> float:
    """Linear rate ρ read off a loss curve (loss ~ ρ^{2k}) over the second half of its steps
    above `floor` times its start (round-off ends the useful part)."""
    loss = np.asarray(loss)
    k2 = compare_step(loss, floor)
    k1 = k2 // 2
    if k2 - k1 < 1 or not (loss[k1] > 0 and loss[k2] > 0):
        return float("nan")
    return float((loss[k2] / loss[k1]) ** (1.0 / (2 * (k2 - k1))))


def gd_threshold_table(curves) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GD runs at multiples f of 2/λ_max: factors, loss ratio final/start (inf if diverged), diverged."""
    f = np.asarray(curves["gd_factors"])
    loss = np.asarray(curves["gd_loss"])[1:]
    div = np.asarray(curves["gd_diverged_at"])[1:] != NOT_DIVERGED
    ratio = np.where(div, np.inf, loss[:, -1] / loss[:, 0])
    return f, ratio, div


def verdict_c1(curves, profile: str) -> Verdict:
    """C1: GD converges iff ε < 2/λ_max: every run below the threshold lowers the loss, every run above raises it."""
    f, ratio, div = gd_threshold_table(curves)
    converged = ratio < 1.0  # loss lower after the run than at its start
    ok = bool(np.all(converged[f < 1]) and np.all(~converged[f > 1]))
    numbers = {"largest converging ε·λ_max/2": f[converged].max() if converged.any() else np.nan,
               "smallest non-converging ε·λ_max/2": f[~converged].min() if (~converged).any() else np.nan,
               "loss ratio at 0.999×threshold": _at(f, ratio, 0.999),
               "loss ratio at 1.001×threshold": _at(f, ratio, 1.001),
               "GD rate at ε_opt, measured": measured_rate(np.asarray(curves["gd_loss"])[0]),
               "(κ−1)/(κ+1)": rate_from_condition(float(curves["kappa"]))}
    detail = (f"κ = {float(curves['kappa']):g}, {len(np.asarray(curves['steps'])) - 1} steps; "
              f"{int(div.sum())} runs overflowed (caught as divergence at their step)")
    return _verdict("C1", ok, numbers, detail, profile)


def _at(x: np.ndarray, y: np.ndarray, value: float) -> float:
    """y where x equals value (NaN if absent)."""
    hit = np.flatnonzero(np.isclose(x, value))
    return float(y[hit[0]]) if hit.size else float("nan")


def settling(res) -> tuple[np.ndarray, np.ndarray]:
    """Per Fig. 1 cell: (diverged, settling), settling = finite with the loss at the last step no higher
    than halfway (up to round-off), judged on the extended run for cells not settled at 2,000 steps."""
    div = np.asarray(res["diverged_at"]) != NOT_DIVERGED
    settle = _settled(np.asarray(res["bn_loss_start"]), np.asarray(res["bn_loss_half"]),
                      np.asarray(res["bn_loss_final"])) & ~div
    idx = np.asarray(res["extended_index"])
    if idx.size:
        flat_div, flat_settle = div.ravel().copy(), settle.ravel().copy()
        ext_div = np.asarray(res["extended_diverged_at"]) != NOT_DIVERGED
        flat_div[idx] |= ext_div
        flat_settle[idx] = ~ext_div & _settled(np.asarray(res["bn_loss_start"]).ravel()[idx],
                                                np.asarray(res["extended_loss_half"]),
                                                np.asarray(res["extended_loss_final"]))
        div, settle = flat_div.reshape(div.shape), flat_settle.reshape(settle.shape)
    return div, settle


def verdict_c2(fig1_results: Sequence, curves, profile: str) -> Verdict:
    """C2 (Thm 3.3): with ε_a ≤ 1 BNGD stays finite and settles for every ε in 1e-5..1e16."""
    n = n_div = n_unsettled = n_lowered = n_big = n_big_bad = n_ext = 0
    for res in fig1_results:
        ext_small = np.asarray(res["eps_a"]).ravel()[np.unravel_index(np.asarray(res["extended_index"]),
                                                                       np.asarray(res["diverged_at"]).shape)[1]]
        n_ext += int((ext_small <= 1.0).sum())
        small = np.asarray(res["eps_a"]) <= 1.0
        div, settle = settling(res)
        lowered = np.asarray(res["bn_loss_final"]) < np.asarray(res["bn_loss_start"])
        n += div[:, small].size
        n_div += int(div[:, small].sum())
        n_unsettled += int((~div & ~settle)[:, small].sum())
        n_lowered += int(lowered[:, small].sum())
        n_big += div[:, ~small].size
        n_big_bad += int((~settle)[:, ~small].sum())
    ea = np.asarray(curves["eps_a"])
    cdiv = np.asarray(curves["bn_diverged_at"]) != NOT_DIVERGED
    numbers = {"runs with ε_a ≤ 1": n, "diverged": n_div,
               "not settled at 2,000 steps, rerun 10× longer": n_ext, "not settling": n_unsettled,
               "loss below its start": n_lowered,
               "runs with 1 < ε_a < 2": n_big, "of which diverged or not settling": n_big_bad}
    for e in ea[ea > 1]:
        numbers[f"diverged at ε_a = {e:g} (of {cdiv.shape[1]} ε)"] = int(cdiv[ea == e].sum())
    detail = ("Fig. 1 grids (all κ, a₀, ε in 1e-5..1e16), 2,000 steps. Convergence is asymptotic, so it is "
              "read as: finite, and the loss at the last step no higher than halfway; runs still in a "
              "transient at 2,000 steps (a small a₀ growing until ε̂ overshoots) are rerun for 20,000. "
              "At huge ε the first step throws w far out and the loss then falls very slowly, so it can "
              "still be above its start")
    return _verdict("C2", n_div == 0 and n_unsettled == 0, numbers, detail, profile)


def verdict_c4(spectra, profile: str) -> Verdict:
    """C4 (Lemma A.1, Cor. A.5): κ* ≤ κ and interlacing for every random (H, u) drawn."""
    ratio = np.asarray(spectra["kappa_ratio"])
    viol = np.asarray(spectra["dense_violation"])
    dense = np.asarray(spectra["dense_kappa_ratio"])
    tol = 1e-12  # round-off allowance, relative to λ_max
    ok = bool(ratio.max() <= 1 + tol and dense.max() <= 1 + tol and viol.max() <= tol)
    numbers = {"max κ*/κ (diagonal H, random u)": ratio.max(), "mean κ*/κ": ratio.mean(),
               "max κ*/κ (random dense H)": dense.max(), "max interlacing violation / λ_max": viol.max()}
    for k, r in zip(np.asarray(spectra["kappas"]), ratio):
        numbers[f"mean κ*/κ at κ = {k:g}"] = r.mean()
    detail = f"{ratio.size} random u on Fig. 1's H (d = 100) and {viol.size} random dense H (d = 2..29)"
    return _verdict("C4", ok, numbers, detail, profile)


BEAT_FACTOR = 0.5  # C5: BNGD "beats" GD when its loss is below half of optimal GD's (beyond round-off)


def verdict_c5(fig1_results: Sequence, profile: str) -> Verdict:
    """C5: some BNGD configurations (ε_a ≤ 1) end with a loss below optimally tuned GD's."""
    numbers: dict[str, float] = {}
    total = 0
    for res in fig1_results:
        small = np.asarray(res["eps_a"]) <= 1.0
        ok = np.asarray(res["diverged_at"]) == NOT_DIVERGED
        ratio = np.asarray(res["bn_loss_compare"]) / float(res["gd_loss_compare"])
        beat = (ratio < BEAT_FACTOR) & ok
        k = float(res["kappa"])
        total += int(beat[:, small].sum())
        numbers[f"cells beating GD at κ = {k:g}"] = int(beat[:, small].sum())
        numbers[f"best loss ratio BNGD/GD at κ = {k:g}"] = np.nanmin(np.where(ok, ratio, np.nan)[:, small])
        numbers[f"κ*/κ at κ = {k:g}"] = float(res["kappa_star"]) / k
    detail = (f"loss at the comparison step (where optimal GD reaches its floor, ≤ 2,000); 'beats' means "
              f"below {BEAT_FACTOR}× optimal GD's loss")
    return _verdict("C5", total > 0, numbers, detail, profile)


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x (finite positive points only)."""
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    return float(np.polyfit(np.log10(x[ok]), np.log10(y[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")


SLOPE_TOL = 0.1  # C6: measured log-log slopes must be within 0.1 of +1 and −1
EDGE_DECADES = 1.0  # C6: slopes are fitted over the lowest and the highest decade of ε (Prop. 3.5 is
# asymptotic: ε ≪ 1 and ε ≫ 1; three decades would reach ε ≈ ε_opt at the low end)
BAND_FACTOR = 2.0  # C6: the insensitive band is where ε̂ stays within a factor 2 of its peak
BAND_MIN_DECADES = 2.0  # C6: ...and it must span at least 2 decades (GD's ε̂ = ε: log10 4 ≈ 0.6)


def _decades(eps: np.ndarray, mask: np.ndarray) -> float:
    """Decades of a log-spaced ε grid covered by the grid points in `mask` (rounded off to 1e-9)."""
    return round(float(np.sum(mask) * np.log10(eps[1] / eps[0])), 9)


def insensitive_band(eps: np.ndarray, eff: np.ndarray, factor: float = BAND_FACTOR) -> float:
    """Decades of the ε grid where ε̂ is within `factor` of its peak."""
    return _decades(eps, eff >= np.nanmax(eff) / factor)


SMALL_HORIZON = 0.1  # C6: "ε small" at step k means ε·k·λ_max ≤ 0.1 (w has barely moved by then)


def verdict_c6(eff_res, profile: str) -> Verdict:
    """C6 (Prop. 3.5): ε̂ ~ ε for small ε and ~ 1/ε for large ε, with an insensitive band between,
    judged from a generic w₀ meeting the proposition's conditions; Fig. 1's w₀ is reported alongside."""
    eps, steps = np.asarray(eff_res["eps"]), np.asarray(eff_res["steps"])
    eff = np.asarray(eff_res["effective_step"])  # (w₀ kind, a₀, ε, k)
    low = eps <= eps[0] * 10 ** EDGE_DECADES * 1.0001
    high = eps >= eps[-1] / 10 ** EDGE_DECADES / 1.0001
    lam_max = 2.0 / float(eff_res["threshold"])
    k_small = int(np.flatnonzero(eps[low].max() * steps * lam_max <= SMALL_HORIZON)[-1])
    numbers: dict[str, float] = {"k for the small-ε slope": float(steps[k_small])}
    ok = True
    for a0, row in zip(np.asarray(eff_res["a0"]), eff[0]):
        s_lo = loglog_slope(eps[low], row[low, k_small])
        s_hi = loglog_slope(eps[high], row[high, -1])
        band = insensitive_band(eps, row[:, -1])
        ok &= abs(s_lo - 1) <= SLOPE_TOL and abs(s_hi + 1) <= SLOPE_TOL and band >= BAND_MIN_DECADES
        numbers |= {f"slope small ε (a₀={a0:g})": s_lo, f"slope large ε (a₀={a0:g})": s_hi,
                    f"band decades (a₀={a0:g})": band}
    numbers["slope small ε at the last step (a₀=1)"] = loglog_slope(eps[low], eff[0, 0, low, -1])
    numbers["slope large ε, Fig. 1's w₀ ∥ g (a₀=1)"] = loglog_slope(eps[high], eff[1, 0, high, -1])
    detail = (f"ε_a = 1, generic w₀; slopes over the outer {EDGE_DECADES:g} decade: large ε at the last step, "
              f"small ε at the last step k with ε·k·λ_max ≤ {SMALL_HORIZON:g} (by step 2,000 even ε = 1e-4 "
              "has moved w, so the ratio ε̂/ε, bounded as the proposition says, is not yet constant); band: "
              f"ε̂ at the last step within {BAND_FACTOR:g}× of its peak, needs ≥ {BAND_MIN_DECADES:g} decades. "
              "With Fig. 1's w₀ ∥ g the first step leaves wᵀg unchanged, a then falls like 1/ε and ε̂ like "
              "1/ε³: that start meets Prop. 3.5's condition only with equality")
    return _verdict("C6", bool(ok), numbers, detail, profile)


SMALL_EPS_A = 2e-4  # C7: "small ε_a" columns are ε_a ≤ 2e-4; "large" are 0.1 ≤ ε_a ≤ 1


def verdict_c7(fig1_results: Sequence, profile: str) -> Verdict:
    """C7 (§4.1): smaller a₀ gives more near-optimal cells; small ε_a gives fewer good cells."""
    a0 = np.asarray(fig1_results[0]["a0"])
    close = np.zeros(a0.size)
    good_small = good_large = n_small = n_large = 0
    for res in fig1_results:
        cls = fig1_classes(res)
        ea = np.asarray(res["eps_a"])
        sel = ea <= 1.0
        close += np.isin(cls, (CLOSE_AND_BELOW, CLOSE_NOT_BELOW))[:, sel].mean(axis=(1, 2)) / len(fig1_results)
        good = np.isin(cls, (CLOSE_AND_BELOW, FAR_AND_BELOW))  # loss below optimal GD's
        small, large = ea <= SMALL_EPS_A, (ea >= 0.1) & sel
        good_small += int(good[:, small].sum())
        n_small += good[:, small].size
        good_large += int(good[:, large].sum())
        n_large += good[:, large].size
    order = np.argsort(-a0)  # from large a₀ to small
    widens = bool(close[order][-1] > close[order][0] and np.all(np.diff(close[order]) >= -0.01))
    weakens = good_small / n_small < good_large / n_large
    numbers = {f"near-optimal fraction a₀={a:g}": c for a, c in zip(a0, close)}
    numbers |= {f"below-GD fraction ε_a ≤ {SMALL_EPS_A:g}": good_small / n_small,
                "below-GD fraction 0.1 ≤ ε_a ≤ 1": good_large / n_large}
    detail = ("near-optimal: 0.8 ε_opt < ε̂ < ε_opt/0.8 (ε_a ≤ 1, mean over κ); 'weakens': fewer cells with "
              "loss below optimal GD's for small ε_a; 'widens' allows dips of 0.01 between neighbouring a₀")
    return _verdict("C7", widens and weakens, numbers, detail, profile)


def verdict_c8(fig7_results: Sequence, fig8_results: Sequence, profile: str) -> Verdict:
    """C8 (App. B): larger d widens MBNGD's near-optimal ε interval; the condition number matters little."""
    dims = np.array([float(r["dim"]) for r in fig7_results])
    w_d = np.array([near_optimal_decades(r) for r in fig7_results])[np.argsort(dims)]
    conds = np.array([float(r["cond"]) for r in fig8_results])
    w_c = np.array([near_optimal_decades(r) for r in fig8_results])[np.argsort(conds)]
    d_effect = w_d[-1] - w_d[0]
    # widths must grow from the smallest to the largest d by ≥ 1 decade (dips of one grid step allowed),
    # and the spread over condition numbers must be at most half the growth over d
    step = np.log10(np.asarray(fig7_results[0]["eps"])[1] / np.asarray(fig7_results[0]["eps"])[0])
    grows = d_effect >= 1.0 and bool(np.all(np.diff(w_d) >= -step - 1e-9))
    small_cond = np.ptp(w_c) <= 0.5 * d_effect
    numbers = {f"decades at d = {d:g}": w for d, w in zip(np.sort(dims), w_d)}
    numbers |= {f"decades at cond = {c:g}": w for c, w in zip(np.sort(conds), w_c)}
    for name, results, keys in (("d", fig7_results, dims), ("cond", fig8_results, conds)):
        for key, r in sorted(zip(keys, results), key=lambda x: x[0]):
            numbers[f"ε̂ band decades at {name} = {key:g}"] = insensitive_band(
                np.asarray(r["eps"]), geometric_mean(np.asarray(r["mb_effective_step"])))
    detail = (f"near-optimal: MBNGD's G-mean ‖e‖²_H within {NEAR_OPTIMAL_FACTOR:g}× of optimal GD's (before "
              f"round-off); needs ≥ 1 decade of growth from the smallest to the largest d and a spread over "
              f"cond at most half of it. Also shown: the band where MBNGD's G-mean ε̂ is within "
              f"{BAND_FACTOR:g}× of its peak (App. B ties the interval to ε̂); "
              f"{int(np.asarray(fig7_results[0]['mb_residual_h2']).shape[1])} tests per point")
    return _verdict("C8", grows and bool(small_cond), numbers, detail, profile)


def slides_table(curves, fig1_results: Sequence, fig7_results: Sequence) -> list[dict[str, str]]:
    """The slides' GD-vs-BNGD summary table, each cell rebuilt from measured numbers."""
    f, ratio, _ = gd_threshold_table(curves)
    conv = ratio < 1
    n = n_ok = 0
    for res in fig1_results:
        small = np.asarray(res["eps_a"]) <= 1.0
        fine = settling(res)[1]
        n += fine[:, small].size
        n_ok += int(fine[:, small].sum())
    gd_rate = measured_rate(np.asarray(curves["gd_loss"])[0])
    ea = np.asarray(curves["eps_a"])
    bn_rates = [measured_rate(c) for c in np.asarray(curves["bn_loss"])[np.flatnonzero(ea == 1.0)[0]]]
    k_c = compare_step(np.asarray(curves["gd_loss"])[0], 1e-20)
    eps = np.asarray(curves["eps"])
    step = np.log10(eps[1] / eps[0])
    best_gd = np.asarray(curves["gd_loss"])[0, k_c]
    gd_band = np.sum(np.asarray(curves["gd_grid_loss"])[:, k_c] <= 10 * best_gd) * step
    bn_band = np.sum(np.asarray(curves["bn_loss"])[ea == 1.0][0][:, k_c] <= 10 * best_gd) * step
    dims = [int(r["dim"]) for r in fig7_results]
    w_mb = [near_optimal_decades(r) for r in fig7_results]
    w_gd = [near_optimal_decades(r, method="gd") for r in fig7_results]
    return [
        {"property": "convergence", "GD": f"only for small ε: loss lowered up to {f[conv].max():g}×(2/λ_max), "
                                          f"raised from {f[~conv].min():g}×(2/λ_max)",
         "BNGD": f"any ε with ε_a ≤ 1: {n_ok} of {n} runs (ε = 1e-5..1e16) finite and settling"},
        {"property": "convergence rate", "GD": f"linear, ρ = {gd_rate:.4f} at ε_opt",
         "BNGD": f"linear, best ρ = {np.nanmin(bn_rates):.4f} over ε (ε_a = 1)"},
        {"property": "robustness to learning rates",
         "GD": f"{gd_band:.1f} decades of ε within 10× of the best loss",
         "BNGD": f"{bn_band:.1f} decades of ε within 10× of optimal GD's loss"},
        {"property": "robustness to dimensions",
         "GD": "near-optimal decades over d = " + ", ".join(f"{d}: {w:.1f}" for d, w in zip(dims, w_gd)),
         "BNGD": "MBNGD near-optimal decades over d = " + ", ".join(f"{d}: {w:.1f}" for d, w in zip(dims, w_mb))},
    ]




def run_all(profile: str) -> dict[str, Any]:
    """Run or load every experiment of the OLS page at `profile` (the page and the ledger share it)."""
    from . import profiles, results

    s = profiles.settings("ols", profile)
    return {
        "fig1": [results.load_or_run("ols-fig1", run_fig1_grid, fig1_config(s, k), profile=profile)
                 for k in s.fig1_kappas],
        "curves": results.load_or_run("ols-curves", run_curves, curves_config(s), profile=profile),
        "effective_step": results.load_or_run("ols-effective-step", run_effective_step,
                                              effective_step_config(s), profile=profile),
        "spectra": results.load_or_run("ols-spectra", run_spectra, spectra_config(s), profile=profile),
        "appb": {fig: [results.load_or_run("ols-appendix-b", run_appendix_b, c, profile=profile) for c in cfgs]
                 for fig, cfgs in appb_configs(s).items()},
    }


def verdicts(res: dict[str, Any], profile: str) -> list[Verdict]:
    """Verdicts of C1, C2, C4–C8 from `run_all`'s results."""
    fig1, curves = res["fig1"], res["curves"]
    return [verdict_c1(curves, profile), verdict_c2(fig1, curves, profile),
            verdict_c4(res["spectra"], profile), verdict_c5(fig1, profile),
            verdict_c6(res["effective_step"], profile), verdict_c7(fig1, profile),
            verdict_c8(res["appb"]["fig7"], res["appb"]["fig8"], profile)]

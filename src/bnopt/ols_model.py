"""The least-squares model of [C] (Cai, Li, Shen 2019), §2–3: problems, closed forms, single steps.

Notation follows [C]: `H = E[xxᵀ]`, `g = E[xy] = H u`, `u = H⁻¹ g` the minimiser, `σ = √(wᵀHw)`.

- GD (eq. 3):     `w ← w − ε (H w − g)`.
- BNGD (eq. 9–10): `a ← a + ε_a (wᵀg/σ − a)`, `w ← w + ε (a/σ)(g − (wᵀg/σ²) H w)` (both from the old values).
- MBNGD (eq. 81):  BNGD with `a` replaced by `wᵀg/σ` at every step.

Derived quantities: effective step `ε̂_k = ε (a_k/σ_k)(w_kᵀg/σ_k²)` (eq. 11), residual
`e_k = u − (w_kᵀg/σ_k²) w_k` (eq. 35; for GD `u − w_k`), excess loss `J − J* = ½‖u − (a/σ) w‖²_H
= ½(‖e‖²_H + (a − wᵀg/σ)²)` (eq. 16, 70), `H* = H − H u uᵀ H / (uᵀ H u)` (eq. 14) and its
pseudo-condition number `κ*`. The iterations over many configurations are in `ols_engines`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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

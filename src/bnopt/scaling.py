"""The scaling law of BNGD on least squares, checked exactly ([C] Prop. 3.2 = Lemma A.8).

A configuration is `{H, u, a₀, w₀, ε_a, ε}`; two are *equivalent* (Def. 3.1) when their iterates satisfy
`w'_k = T w_k`, `a'_k = t a_k` for all k. Working through eq. (9)–(10) with `H' = μ Q H Qᵀ`,
`u' = s Q u`, `w'₀ = c Q w₀` (Q orthogonal, μ > 0) gives `σ' = |c|√μ σ`, `w'ᵀg'/σ' = sign(c)√μ s · wᵀg/σ`,
hence equivalence with `T = c Q`, `t = sign(c)√μ s` exactly when `a'₀ = t a₀`, `ε'_a = ε_a` and
`ε' = c² ε / (μ s²)`. The two statements of [C] are the cases

1. `c = γ > 0`, `s = γ/√μ`: `{μ QHQᵀ, (γ/√μ) Q u, γ a₀, γ Q w₀, ε_a, ε}` with `T = γQ`, `t = γ`
   (Lemma A.8's form; [C] writes `μ QᵀHQ` with `Qu`, which needs Q on the other side, and its main
   text's `√μ Q u` is equivalent only when γ = μ; for γ < 0 the a's map by |γ|, so a₀ must go to |γ| a₀);
2. `μ = 1`, `Q = I`, `s = 1`, `c = r`: `{H, u, a₀, r w₀, ε_a, r² ε}` with `T = r`, `t = sign(r)`, so
   `a'_k = a_k` for r > 0, while r < 0 also needs `a₀ ↦ −a₀`.

The functions below run both configurations step by step and return the relative difference of the
mapped iterates over the steps; the tests hold it at machine precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import ols


@dataclass(frozen=True)
class Config:
    """A BNGD configuration `{H, u, a₀, w₀, ε_a, ε}` (H a full symmetric matrix)."""

    H: np.ndarray
    u: np.ndarray
    a0: float
    w0: np.ndarray
    eps_a: float
    eps: float


def trajectory(cfg: Config, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """BNGD iterates `a_k` (steps+1,) and `w_k` (steps+1, d) by the plain loop of eq. (9)–(10)."""
    g = cfg.H @ cfg.u
    a, w = np.empty(steps + 1), np.empty((steps + 1, len(cfg.w0)))
    a[0], w[0] = cfg.a0, cfg.w0
    for k in range(steps):
        a[k + 1], w[k + 1] = ols.bngd_step(a[k], w[k], cfg.H, g, cfg.eps_a, cfg.eps, diagonal=False)
    return a, w


def weight_scaled(cfg: Config, r: float, flip_a: bool = True) -> Config:
    """Prop. 3.2(2): `{H, u, a₀, r w₀, ε_a, r² ε}`; for r < 0, a₀ ↦ −a₀ unless `flip_a` is False."""
    sign = -1.0 if (r < 0 and flip_a) else 1.0
    return Config(cfg.H, cfg.u, sign * cfg.a0, r * cfg.w0, cfg.eps_a, r * r * cfg.eps)


def rotated_scaled(cfg: Config, mu: float, gamma: float, Q: np.ndarray, u_scale: str = "gamma/sqrt(mu)") -> Config:
    """Prop. 3.2(1): `{μ QHQᵀ, s Q u, γ a₀, γ Q w₀, ε_a, ε}` with `s = γ/√μ` (Lemma A.8), or
    `s = √μ` as printed in [C]'s main text (`u_scale="sqrt(mu)"`, for showing that it fails)."""
    if mu <= 0:
        raise ValueError(f"mu = {mu} must be > 0 (H' = μ QHQᵀ has to stay positive definite)")
    scales = {"gamma/sqrt(mu)": gamma / math.sqrt(mu), "sqrt(mu)": math.sqrt(mu)}
    if u_scale not in scales:
        raise ValueError(f"unknown u_scale {u_scale!r}; choose one of {', '.join(scales)}")
    H = mu * Q @ cfg.H @ Q.T
    return Config(0.5 * (H + H.T), scales[u_scale] * Q @ cfg.u, gamma * cfg.a0, gamma * Q @ cfg.w0,
                  cfg.eps_a, cfg.eps)


def relative_difference(a: np.ndarray, w: np.ndarray, a2: np.ndarray, w2: np.ndarray,
                        T: np.ndarray, t: float) -> np.ndarray:
    """Per step, `max(‖w'_k − T w_k‖/‖T w_k‖, |a'_k − t a_k|/max(|t a_k|, |t| ‖…‖ scale))`."""
    mapped_w, mapped_a = w @ T.T, t * a
    dw = np.linalg.norm(w2 - mapped_w, axis=1) / np.linalg.norm(mapped_w, axis=1)
    scale_a = np.maximum(np.abs(mapped_a), np.abs(mapped_a).max() * 1e-3)
    return np.maximum(dw, np.abs(a2 - mapped_a) / scale_a)


def weight_scaling_difference(cfg: Config, r: float, steps: int, flip_a: bool = True) -> np.ndarray:
    """Relative difference over steps between `cfg` mapped by w ↦ r w and the run of `weight_scaled`."""
    a, w = trajectory(cfg, steps)
    a2, w2 = trajectory(weight_scaled(cfg, r, flip_a), steps)
    return relative_difference(a, w, a2, w2, r * np.eye(len(cfg.w0)), math.copysign(1.0, r))


def rotation_scaling_difference(cfg: Config, mu: float, gamma: float, Q: np.ndarray, steps: int,
                                u_scale: str = "gamma/sqrt(mu)") -> np.ndarray:
    """Relative difference over steps between `cfg` mapped by (T, t) = (γQ, γ) and `rotated_scaled`'s run."""
    a, w = trajectory(cfg, steps)
    a2, w2 = trajectory(rotated_scaled(cfg, mu, gamma, Q, u_scale), steps)
    return relative_difference(a, w, a2, w2, gamma * Q, gamma)


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def example_config(d: int = 10, kappa: float = 100.0, seed: int = 0) -> Config:
    """A random OLS configuration: dense H with condition number κ, u and w₀ on the unit sphere,
    a₀ = 1, ε_a = 0.8 and ε = 0.5 (well beyond GD's 2/λ_max = 0.02)."""
    rng = np.random.default_rng(seed)
    H = ols.random_spd(d, kappa, rng)
    u, w0 = ols.random_unit_vectors(2, d, rng)
    return Config(H, u, 1.0, w0, 0.8, 0.5)


def exact_scaling_check(rs: tuple[float, ...] = (1e-3, 0.5, 3.0, 1e4, -2.0),
                        mus: tuple[float, ...] = (0.01, 1.0, 50.0),
                        gammas: tuple[float, ...] = (0.1, 1.0, 20.0), n_rotations: int = 3,
                        steps: int = 300, d: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Max relative difference over steps for every r (Prop. 3.2(2)) and every (μ, γ, Q) (Prop. 3.2(1)),
    plus the two misreadings (r < 0 without a₀ ↦ −a₀; u scaled by √μ) for contrast."""
    cfg = example_config(d, seed=seed)
    rng = np.random.default_rng(seed + 1)
    qs = [random_orthogonal(d, rng) for _ in range(n_rotations)]
    weight = np.array([weight_scaling_difference(cfg, r, steps).max() for r in rs])
    rot = np.array([[[rotation_scaling_difference(cfg, m, gm, q, steps).max() for q in qs] for gm in gammas]
                    for m in mus])
    neg = weight_scaling_difference(cfg, -2.0, steps, flip_a=False).max()
    main_text = rotation_scaling_difference(cfg, 4.0, 0.5, qs[0], steps, u_scale="sqrt(mu)").max()
    return {"r": np.array(rs), "weight_scaling_max_rel_diff": weight, "mu": np.array(mus),
            "gamma": np.array(gammas), "rotation_scaling_max_rel_diff": rot,
            "negative_r_without_flip_max_rel_diff": neg, "sqrt_mu_u_max_rel_diff": main_text,
            "steps": steps, "dataset": "synthetic"}

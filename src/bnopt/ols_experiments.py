"""The experiments of the least-squares page: frozen configs built from the section's settings and
functions config -> arrays ([C] Fig. 1, loss curves, ε̂, spectra of H*, App. B), and `run_all`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .ols_engines import NOT_DIVERGED, run
from .ols_model import (Problem, condition_number, diagonal_problem, gd_loss_closed_form, gd_stability_threshold,
                        h_star_eigenvalues, interlacing_violation, linspace_eigenvalues, logspace_eigenvalues,
                        optimal_gd_rate, optimal_gd_step, pseudo_condition_number,
                        pseudo_condition_number_diagonal, random_spd, random_unit_vectors, spectral_radius)


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


def fig1_draw_config(s, kappa: float, draw: int) -> Fig1Config:
    """Fig. 1's setting on the coarser draw grid for the `draw`-th u (seed `s.seed + draw`)."""
    return Fig1Config(float(kappa), s.fig1_dim, s.fig1_steps, s.fig1_eps_a_scale, s.draw_eps_a, s.draw_eps,
                      tuple(s.fig1_a0), s.loss_floor, s.seed + int(draw))


def run_fig1_draw(cfg: Fig1Config) -> dict[str, np.ndarray | float | str]:
    """Fig. 1's cells for one draw of u, as much as C5 and C7 read: the loss at the comparison step,
    the final ε̂ and divergence (no reruns of unsettled cells: C2 is judged on the figure's grid)."""
    p = fig1_problem(cfg.kappa, cfg.dim, cfg.seed)
    w0 = fig1_start(p.h, p.u)
    eps_opt = optimal_gd_step(p.h)
    gd = run("gd", p, w0, eps_opt, cfg.steps, record_at=np.arange(cfg.steps + 1))
    k_c = compare_step(gd.loss[0], cfg.loss_floor)
    a0s, eps_as, epss = np.array(cfg.a0), grid(cfg.eps_a, cfg.eps_a_scale), grid(cfg.eps)
    A0, EA, E = (x.ravel() for x in np.meshgrid(a0s, eps_as, epss, indexing="ij"))
    bn = run("bngd", p, np.broadcast_to(w0, (A0.size, p.dim)), E, cfg.steps, a0=A0, eps_a=EA,
             record_at=[0, k_c, cfg.steps], threads=_threads(), chunk=2048)
    shape = (a0s.size, eps_as.size, epss.size)
    return {"a0": a0s, "eps_a": eps_as, "eps": epss, "eps_opt": eps_opt, "kappa": cfg.kappa, "seed": cfg.seed,
            "kappa_star": pseudo_condition_number(h_star_eigenvalues(p.h, p.u)), "k_compare": k_c,
            "gd_loss_compare": gd.loss[0, k_c], "bn_loss_compare": bn.loss[:, bn.at(k_c)].reshape(shape),
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
class UniformStepConfig:
    """ε̂_k at every recorded k ≤ `steps` for small and for large ε (Prop. 3.5 read uniformly in k)."""

    kappa: float
    dim: int
    steps: int
    eps_small: tuple[float, float, int]
    eps_large: tuple[float, float, int]
    a0: tuple[float, ...]
    eps_a: float
    seed: int


def uniform_step_config(s) -> UniformStepConfig:
    """The uniform-in-k ε̂ config from the section's settings (same problem and w₀ as the ε̂ figure)."""
    return UniformStepConfig(s.curves_kappa, s.fig1_dim, s.uniform_steps, s.uniform_eps_small,
                             s.uniform_eps_large, tuple(s.eff_a0), 1.0, s.seed)


def run_uniform_step(cfg: UniformStepConfig) -> dict[str, np.ndarray | float | str]:
    """ε̂_k at log-spaced k ≤ `steps` for every (a₀, ε) of the small and the large ε grids, from the
    generic w₀ of `run_effective_step`."""
    p = fig1_problem(cfg.kappa, cfg.dim, cfg.seed)
    w0 = generic_start(p.h, p.u, np.random.default_rng(cfg.seed + 1))
    small, large, a0s = grid(cfg.eps_small), grid(cfg.eps_large), np.array(cfg.a0)
    A0, E = (x.ravel() for x in np.meshgrid(a0s, np.concatenate([small, large]), indexing="ij"))
    rec = np.unique(np.concatenate([[0], np.logspace(0, np.log10(cfg.steps), 61).round()])).astype(int)
    r = run("bngd", p, np.broadcast_to(w0, (E.size, p.dim)), E, cfg.steps, a0=A0, eps_a=cfg.eps_a,
            record_at=rec, threads=_threads(), chunk=16)
    eff = r.effective_step.reshape(a0s.size, small.size + large.size, -1)
    return {"eps_small": small, "eps_large": large, "a0": a0s, "steps": rec,
            "lambda_max": float(np.max(p.h)), "eps_opt": optimal_gd_step(p.h),
            "effective_step_small": eff[:, :small.size], "effective_step_large": eff[:, small.size:],
            "diverged_at": r.diverged_at.reshape(a0s.size, -1), "dataset": "synthetic"}


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
    k_h = int(rec[rec <= k_c // 2].max())  # rates are read over [k_h, k_c], the later half of the horizon
    half = r.at(k_h)
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
            "k_half": k_h, "mb_residual_h2_half": r.residual_h2[:, half].reshape(shape),
            "gd_opt_residual_h2_half": gd_opt[half],
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


def _decades(eps: np.ndarray, mask: np.ndarray) -> float:
    """Decades of a log-spaced ε grid covered by the grid points in `mask` (rounded off to 1e-9)."""
    return round(float(np.sum(mask) * np.log10(eps[1] / eps[0])), 9)


def run_all(profile: str) -> dict[str, Any]:
    """Run or load every experiment of the OLS page at `profile` (the page and the ledger share it)."""
    from . import profiles, results

    s = profiles.settings("ols", profile)
    return {
        "fig1": [results.load_or_run("ols-fig1", run_fig1_grid, fig1_config(s, k), profile=profile)
                 for k in s.fig1_kappas],
        "curves": results.load_or_run("ols-curves", run_curves, curves_config(s), profile=profile),
        "fig1_draws": [[results.load_or_run("ols-fig1-draw", run_fig1_draw, fig1_draw_config(s, k, i),
                                            profile=profile) for k in s.fig1_kappas] for i in range(s.fig1_draws)],
        "effective_step": results.load_or_run("ols-effective-step", run_effective_step,
                                              effective_step_config(s), profile=profile),
        "uniform_step": results.load_or_run("ols-uniform-step", run_uniform_step, uniform_step_config(s),
                                            profile=profile),
        "spectra": results.load_or_run("ols-spectra", run_spectra, spectra_config(s), profile=profile),
        "appb": {fig: [results.load_or_run("ols-appendix-b", run_appendix_b, c, profile=profile) for c in cfgs]
                 for fig, cfgs in appb_configs(s).items()},
    }

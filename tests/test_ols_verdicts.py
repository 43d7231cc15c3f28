"""Every [C] verdict of the least-squares page returns each verdict it can, on synthetic results."""

from __future__ import annotations

import numpy as np
import pytest

from bnopt import book, ols
from bnopt.claims import MIXED, NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED


# --- C1: GD converges iff ε < 2/λ_max ---------------------------------------------------------------
def _curves(wrong_side: bool = False) -> dict:
    """GD loss curves at ε_opt and at multiples f of 2/λ_max: decaying for f < 1, growing for f > 1."""
    f = np.array([0.5, 0.99, 1.01, 2.0])
    k = np.arange(101)
    rho = np.where(f < 1, 0.9, 1.1)
    if wrong_side:
        rho[2] = 0.95  # a run beyond the threshold that converges
    loss = np.vstack([0.97 ** (2 * k)] + [r ** (2 * k) for r in rho])
    return {"gd_factors": f, "gd_loss": loss, "gd_diverged_at": np.full(5, ols.NOT_DIVERGED),
            "kappa": 100.0, "steps": k}


def test_c1_reproduced_and_not() -> None:
    assert ols.verdict_c1(_curves(), "ci").verdict == REPRODUCED
    assert ols.verdict_c1(_curves(wrong_side=True), "ci").verdict == NOT_REPRODUCED


# --- C2: BNGD converges for every ε when ε_a ≤ 1 ----------------------------------------------------
def _fig1_settling(diverge: bool = False) -> tuple[list[dict], dict]:
    """One Fig. 1 grid whose cells all settle (optionally one ε_a ≤ 1 cell diverged), and its curves."""
    shape = (2, 3, 4)  # (a₀, ε_a, ε)
    start = np.ones(shape)
    div = np.full(shape, ols.NOT_DIVERGED)
    final = np.full(shape, 1e-6)
    if diverge:
        div[0, 1, 2], final[0, 1, 2] = 17, np.nan
    res = {"eps_a": np.array([1e-3, 0.5, 1.5]), "diverged_at": div, "bn_loss_start": start,
           "bn_loss_half": np.full(shape, 1e-3), "bn_loss_final": final,
           "extended_index": np.zeros(0, dtype=int), "extended_loss_half": np.zeros(0),
           "extended_loss_final": np.zeros(0), "extended_diverged_at": np.zeros(0, dtype=int)}
    curves = {"eps_a": np.array([1.0, 2.1]), "bn_diverged_at": np.array([[ols.NOT_DIVERGED] * 4, [5] * 4])}
    return [res], curves


def test_c2_reproduced_and_not() -> None:
    assert ols.verdict_c2(*_fig1_settling(), "ci").verdict == REPRODUCED
    assert ols.verdict_c2(*_fig1_settling(diverge=True), "ci").verdict == NOT_REPRODUCED


# --- C4: κ* ≤ κ and interlacing ---------------------------------------------------------------------
def _spectra(ratio: float) -> dict:
    """κ*/κ draws all at `ratio`, interlacing exact."""
    return {"kappas": np.array([10.0, 100.0]), "kappa_ratio": np.full((2, 5), ratio),
            "dense_violation": np.full(4, -0.1), "dense_kappa_ratio": np.full(4, 0.9)}


def test_c4_reproduced_and_not() -> None:
    assert ols.verdict_c4(_spectra(0.98), "ci").verdict == REPRODUCED
    assert ols.verdict_c4(_spectra(1.05), "ci").verdict == NOT_REPRODUCED


# --- C5, C7: over draws of u ------------------------------------------------------------------------
def _draw(seed: int, holds: bool, testable: bool = True) -> list[dict]:
    """One draw (a single κ): if `holds`, some large-ε_a cells beat GD, small-ε_a ones never do, and the
    near-optimal fraction grows as a₀ shrinks; otherwise no cell beats GD and the fraction falls."""
    a0, eps_a, eps = np.array([10.0, 1.0, 1e-2]), np.array([1e-4, 0.5, 1.0]), np.logspace(-2, 2, 4)
    shape = (a0.size, eps_a.size, eps.size)
    loss = np.full(shape, 2.0)  # GD's loss is 1
    eff = np.full(shape, 1e-3)  # far from ε_opt = 1
    for i in range(a0.size):  # a₀ = 10, 1, 0.01 get 1, 2, 3 near-optimal ε (or 3, 2, 1)
        eff[i, 1:, : (i + 1 if holds else 3 - i)] = 1.0
    if holds:
        loss[:, 1:, 0] = 0.1
    if not testable:
        eff[:] = 1e-3
    res = {"a0": a0, "eps_a": eps_a, "eps": eps, "eps_opt": 1.0, "kappa": 100.0, "kappa_star": 95.0,
           "seed": seed, "gd_loss_compare": 1.0, "bn_loss_compare": loss, "effective_step_final": eff,
           "diverged_at": np.full(shape, ols.NOT_DIVERGED)}
    return [res]


@pytest.mark.parametrize("verdict_fn", [ols.verdict_c5, ols.verdict_c7])
@pytest.mark.parametrize("pattern, expected", [
    ((True,) * 5, REPRODUCED), ((False,) * 5, NOT_REPRODUCED), ((True, True, True, False, False), MIXED),
    ((True, True), NOT_TESTABLE),  # fewer draws than MIN_DRAWS
])
def test_c5_c7_over_draws(verdict_fn, pattern: tuple[bool, ...], expected: str) -> None:
    v = verdict_fn([_draw(seed, h) for seed, h in enumerate(pattern)], "ci")
    assert v.verdict == expected
    assert [h for _, h in v.seeds] == list(pattern)


def test_c7_draw_without_near_optimal_cells_is_not_testable() -> None:
    v = ols.verdict_c7([_draw(seed, True, testable=False) for seed in range(4)], "ci")
    assert v.verdict == NOT_TESTABLE and all(h is None for _, h in v.seeds)


# --- C6: Prop. 3.5 uniformly in k, and the band -----------------------------------------------------
def _c6_results(power_small: float = 1.0, band_decades: float = 4.0) -> tuple[dict, dict]:
    """ε̂ results with ε̂ ∝ ε^power_small for small ε (times a function of ε·k), ∝ 1/ε for large ε (of k/ε),
    and ε̂ at the last step equal to ε_opt = 1 over `band_decades` decades."""
    eps = np.logspace(-5, 16, 85)
    last = np.minimum(np.minimum(eps, 1.0), 10 ** band_decades / eps)
    eff = np.broadcast_to(last[None, None, :, None], (2, 1, eps.size, 3)).copy()
    steps = np.unique(np.concatenate([[0], np.logspace(0, 5, 31).round()])).astype(int)
    small, large = np.logspace(-5, -3, 9), np.logspace(14, 16, 9)

    def f(t: np.ndarray) -> np.ndarray:
        return 0.5 + 0.5 * (1 - np.exp(-t))

    eff_small = small[:, None] ** power_small * f(small[:, None] * steps)
    eff_large = f(steps / large[:, None]) / large[:, None]
    eff_large[:, 0] = 0.5 * large  # ε̂₀ = ε · a₀w₀ᵀg/σ₀³: set by the start, not bounded by 1/ε
    eff_res = {"eps": eps, "eps_opt": 1.0, "a0": np.array([1.0]), "effective_step": eff,
               "threshold": 2.0, "steps": np.array([0, 10, 2000])}
    uniform = {"eps_small": small, "eps_large": large, "a0": np.array([1.0]), "steps": steps,
               "effective_step_small": eff_small[None], "effective_step_large": eff_large[None]}
    return eff_res, uniform


def test_c6_reproduced() -> None:
    v = ols.verdict_c6(*_c6_results(), "ci")
    assert v.verdict == REPRODUCED
    assert v.numbers["widening small ε (a₀=1)"] == pytest.approx(1.0, abs=1e-6)


def test_c6_not_reproduced_when_the_bound_depends_on_eps() -> None:
    v = ols.verdict_c6(*_c6_results(power_small=1.5), "ci")  # ε̂/ε ∝ √ε: widening 10 over 2 decades
    assert v.verdict == NOT_REPRODUCED
    assert v.numbers["widening small ε (a₀=1)"] == pytest.approx(10.0, rel=1e-6)


def test_c6_not_reproduced_when_the_headline_band_is_narrow() -> None:
    eff_res, uniform = _c6_results(band_decades=1.0)
    v = ols.verdict_c6(eff_res, uniform, "ci")
    assert v.verdict == NOT_REPRODUCED
    assert v.readings == (("[C] Fig. 1 band (headline)", NOT_REPRODUCED), ("within 2× of the peak", NOT_REPRODUCED))
    rows = ols.c6_band_readings(eff_res)
    assert [r["reading"].split(" (")[0] for r in rows] == list(ols.BAND_READINGS)


def test_band_reading_names_bad_value() -> None:
    with pytest.raises(ValueError, match="unknown band reading 'loss'"):
        ols.band_decades(np.logspace(0, 1, 3), np.ones(3), 1.0, "loss")


# --- C8: App. B's interval over d and cond ----------------------------------------------------------
def _appb(width: float, dim: float, cond: float) -> dict:
    """App. B result whose MBNGD G-mean ε̂ equals ε_opt over `width` decades of ε (tiny elsewhere)."""
    eps = np.logspace(-5, 16, 43)
    inside = (eps >= 1e-3 / 1.0001) & (eps < 1e-3 * 10 ** width / 1.0001)  # width / 0.5 grid points
    tests = 4
    eff = np.where(inside, 1e-3, 1e-12)[:, None] * np.ones(tests)
    loss = np.where(inside, 1e-10, 1.0)[:, None] * np.ones(tests)
    return {"eps": eps, "eps_opt": 1e-3, "threshold": 2e-3, "dim": dim, "cond": cond, "k_compare": 100,
            "k_half": 50, "mb_effective_step": eff, "mb_residual_h2": loss, "mb_residual_h2_compare": loss,
            "mb_residual_h2_half": np.sqrt(loss), "gd_opt_residual_h2_compare": np.full(tests, 1e-10),
            "gd_opt_residual_h2_half": np.full(tests, 1e-5), "gd_residual_h2_compare": loss}


@pytest.mark.parametrize("widths_d, widths_c, expected", [
    ((1.0, 2.0, 3.0), (2.5, 2.5, 3.0), REPRODUCED),  # grows by 2 decades, spread 0.5 ≤ 1
    ((2.0, 2.0, 2.0), (2.0, 2.0, 2.0), NOT_REPRODUCED),  # no growth with d
    ((1.0, 2.0, 3.0), (0.5, 2.0, 3.5), NOT_REPRODUCED),  # grows, but cond matters as much
])
def test_c8(widths_d: tuple, widths_c: tuple, expected: str) -> None:
    fig7 = [_appb(w, d, 2000.0) for w, d in zip(widths_d, (5.0, 20.0, 100.0))]
    fig8 = [_appb(w, 100.0, c) for w, c in zip(widths_c, (10.0, 100.0, 1000.0))]
    v = ols.verdict_c8(fig7, fig8, "ci")
    assert v.verdict == expected
    assert v.numbers["decades at d = 5"] == pytest.approx(widths_d[0])
    rows = ols.c8_readings(fig7, fig8)
    assert len(rows) == len(ols.C8_READINGS) and rows[0]["reading"].endswith("(headline)")
    assert (rows[0]["C8 holds"] == "yes") == (expected == REPRODUCED)
    assert v.readings[0] == (ols.C8_HEADLINE + " (headline)", expected) and len(v.readings) == len(ols.C8_READINGS)


def test_appb_reading_names_bad_value() -> None:
    with pytest.raises(ValueError, match="unknown App. B reading 'speed'"):
        ols.appb_interval(_appb(1.0, 5.0, 10.0), "speed")


def test_verdict_table_shows_paper_beside_measurement() -> None:
    rows = book.verdict_rows([ols.verdict_c4(_spectra(0.98), "ci")])
    assert rows[0]["paper reports"].startswith("[C] Lemma A.1") and "max κ*/κ" in rows[0]["this build measured"]
